"""Tests for ``ledgerlab run``, ``ledgerlab validate`` and ``ledgerlab scenarios``: a tiny
real run end to end, atomic output, and clean failures (exit 1, a file:line:col message,
no traceback, nothing written) for bad scenarios and bad options."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import ledgerlab.analysis.dashboard as dashboard_module
from ledgerlab.analysis.cli import _leading_comment, app
from ledgerlab.analysis.results import kpi_table, load
from ledgerlab.scenarios import load as load_scenario
from ledgerlab.sim.output import MARKER

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
RUN_FILES = {
    "timeseries.parquet",
    "agents.parquet",
    "summary.json",
    "scenario.resolved.yaml",
    "dashboard.png",
}
BASELINE = str(files("ledgerlab.scenarios") / "baseline.yaml")
TINY = ["--set", "population.providers=10", "--set", "population.consumers=10"]
runner = CliRunner()


def _clean_failure(result, where: Path) -> None:  # type: ignore[no-untyped-def]
    """Exit 1, an ``error:`` line, no traceback, and nothing at all written in ``where``."""
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert list(where.iterdir()) == []


def test_run_writes_the_run_folder_and_prints_the_kpis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app, ["run", BASELINE, "--epochs", "3", "--seed", "9", "--no-progress", *TINY]
    )
    assert result.exit_code == 0, result.output
    [folder] = Path("results").iterdir()  # default: results/<name>-<hash>; no temp leftovers
    assert re.fullmatch(r"baseline-[0-9a-f]{8}", folder.name)
    assert {p.name for p in folder.iterdir()} == {*RUN_FILES, MARKER}
    png = (folder / "dashboard.png").read_bytes()
    assert png[:8] == PNG_MAGIC and len(png) > 20_000
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["epochs"] == 3 and summary["seed"] == 9 and summary["run_id"] == "baseline"
    resolved = load_scenario(folder / "scenario.resolved.yaml")
    assert (resolved.epochs, resolved.seed, resolved.population.providers) == (3, 9, 10)
    assert resolved.population.consumers == 10
    # stdout: the KPI table of the written summary, then where it went
    assert result.stdout == kpi_table(summary) + f"\nwrote {folder}\n"
    assert "running " in result.stderr
    # the folder loads back as tidy frames
    res = load(folder)
    assert res.run_ids == ["baseline"]
    assert len(res.timeseries) == 3
    assert list(res.timeseries["epoch"]) == [0, 1, 2]
    assert set(res.agents["run_id"]) == {"baseline"}
    frame = pd.read_parquet(folder / "timeseries.parquet")
    assert {"run_id", "seed", "price_usd", "spearman"} <= set(frame.columns)


def test_a_failure_while_writing_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(dashboard_module, "plot_dashboard", broken)
    out = tmp_path / "out" / "run"
    options = ["--epochs", "3", "--out", str(out), "--progress", *TINY]
    result = runner.invoke(app, ["run", BASELINE, *options])
    assert re.search(r"\d/3 \[.*epoch/s", result.stderr)  # the progress bar, asked for
    assert isinstance(result.exception, RuntimeError)  # a bug keeps its traceback...
    assert not out.exists()  # ...but no half-written run folder is left behind
    assert list((tmp_path / "out").iterdir()) == []


def test_bad_scenario_key_fails_with_its_position(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("name: tiny\npopulation:\n  provders: 10\n")
    result = runner.invoke(app, ["run", "bad.yaml", "--epochs", "3", "--no-progress"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr == (
        "error: bad.yaml:3:3: population.provders: unknown key 'provders'; "
        "did you mean 'providers'?\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]  # no results/


def test_every_problem_gets_its_own_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: tiny\npopulation:\n  provders: 10\n  consumers: -1\n")
    for command in (["run", str(bad), "--out", str(tmp_path / "o")], ["validate", str(bad)]):
        result = runner.invoke(app, command)
        assert result.exit_code == 1
        lines = result.stderr.splitlines()
        assert len(lines) == 2
        assert re.match(rf"error: {re.escape(str(bad))}:3:3: population\.provders: ", lines[0])
        assert re.match(rf"error: {re.escape(str(bad))}:4:14: population\.consumers: ", lines[1])
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--set", "population.nope=3"], r"error: --set: population\.nope: unknown field 'nope'"),
        (["--set", "population.providers=-5"], r"error: --set: population\.providers: must be"),
    ],
)
def test_bad_options_fail_cleanly(tmp_path: Path, options: list[str], message: str) -> None:
    out = tmp_path / "o"
    result = runner.invoke(app, ["run", BASELINE, "--out", str(out), "--no-progress", *options])
    assert re.match(message, result.stderr), result.stderr
    _clean_failure(result, tmp_path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--set", "population.providers"], r"--set.*expected PATH=VALUE"),
        (["--epochs", "0"], r"'--epochs': Input should be greater than or equal to 1"),
        (["--seed", "-1"], r"'--seed': Input should be greater than or equal to 0"),
        (["--bogus"], r"No such option: --bogus"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, options: list[str], message: str) -> None:
    result = runner.invoke(app, ["run", BASELINE, "--out", str(tmp_path / "o"), *options])
    assert result.exit_code == 2, result.output
    assert re.match(r"error: ledgerlab run: ", result.stderr)
    assert re.search(message, result.stderr), result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_missing_file_fails_cleanly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")])
    assert "nope.yaml: no such file" in result.stderr
    _clean_failure(result, tmp_path)


def test_validate_prints_ok_with_the_scenario_outline() -> None:
    scenario = load_scenario(BASELINE)
    result = runner.invoke(app, ["validate", BASELINE])
    assert result.exit_code == 0, result.output
    defences = ", ".join(d.kind for d in scenario.defenses) or "none"
    assert result.stdout == (
        f"ok: {BASELINE} ({scenario.name}, {scenario.epochs} epochs, "
        f"engine {scenario.attribution.engine}, defences {defences})\n"
    )


def test_scenarios_lists_every_shipped_file_with_its_question() -> None:
    result = runner.invoke(app, ["scenarios"])
    assert result.exit_code == 0, result.output
    shipped = sorted(
        p.name[:-5] for p in files("ledgerlab.scenarios").iterdir() if p.name.endswith(".yaml")
    )
    assert {"baseline", "label_flip", "sybil_farming"} <= set(shipped)
    listed = [line for line in result.stdout.splitlines() if line.split(" ")[0] in shipped]
    assert [line.split(" ")[0] for line in listed] == shipped  # one line each, sorted
    assert "ledgerlab run baseline" in result.stdout  # the hint works from any folder
    for name, line in zip(shipped, listed, strict=True):
        text = (files("ledgerlab.scenarios") / f"{name}.yaml").read_text()
        first = text.splitlines()[0]
        assert first.startswith("#"), f"{name} must start with its question"
        words = first.lstrip("#").replace("Question:", "").split()
        assert " ".join(words) in line  # the question's first line is on the file's line
        shown = line.split(" ", 1)[1].strip().removeprefix("[sweep] ")
        assert shown == _leading_comment(text)


def test_leading_comment_block() -> None:
    text = "\n# Question: does it\n#   work across\n#\n# lines?\nname: x\n# later comment\n"
    assert _leading_comment(text) == "does it work across lines?"
    assert _leading_comment("name: x\n# not leading\n") == ""
    assert _leading_comment("# why?\n\n# second block\nname: x\n") == "why?"
