"""The CLI as a user (and an attacker) meets it: files are never lost, errors are one line,
signals and full disks leave nothing half-written, flags behave as documented."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledgerlab.analysis.cli import app, default_run_folder
from ledgerlab.scenarios.library import load_scenario, shipped
from ledgerlab.scenarios.reference import json_schema, markdown_reference
from ledgerlab.sim.output import MARKER

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--epochs", "2", "--set", "population.providers=5", "--set", "population.consumers=5"]
runner = CliRunner()


def _cli(*args: str, cwd: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI in a child process (its own signal handling, exit status)."""
    code = "from ledgerlab.analysis.cli import main; main()"
    return subprocess.run(  # type: ignore[call-overload]
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, **kw
    )


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".partial", ".old")))


def test_version_flag() -> None:
    from ledgerlab import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"ledgerlab {__version__}\n"


def test_shipped_scenario_runs_by_name_from_any_folder(tmp_path: Path) -> None:
    result = _cli("run", "baseline", *TINY, "--out", "X", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "X\n" and result.stderr == ""  # --quiet: only the folder
    assert (tmp_path / "X" / "summary.json").exists()


def test_json_prints_only_the_summary_on_stdout(tmp_path: Path) -> None:
    result = _cli("run", "baseline", *TINY, "--out", "J", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["epochs"] == 2 and summary["run_folder"] == "J"
    assert "%" not in result.stderr  # no progress bar when stderr is not a terminal


def test_default_folder_is_unique_per_resolved_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for seed in ("1", "2", "1"):
        result = runner.invoke(app, ["run", "baseline", *TINY, "--seed", seed, "-q"])
        assert result.exit_code == 0, result.output
    folders = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert len(folders) == 2 and all(f.startswith("baseline-") for f in folders)
    a = load_scenario("baseline")
    assert default_run_folder(a) != default_run_folder(a.model_copy(update={"seed": 7}))


def test_out_home_and_working_folder_are_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    (home / "thesis.tex").write_text("three years")
    (home / "notes" / "data.csv").write_text("1,2,3")
    env = {**os.environ, "HOME": str(home)}
    for out in ("~", str(home), ".", ".."):
        result = _cli("run", "baseline", *TINY, "--out", out, cwd=home, env=env)
        assert result.returncode == 1, (out, result.stderr)
        assert re.fullmatch(r"error: [^\n]+\n", result.stderr), result.stderr
        assert (home / "thesis.tex").read_text() == "three years"
        assert (home / "notes" / "data.csv").read_text() == "1,2,3"
        assert sorted(p.name for p in home.iterdir()) == ["notes", "thesis.tex"]


def test_a_full_disk_is_a_one_line_error_and_leaves_nothing(tmp_path: Path) -> None:
    # A real write failure: the file-size limit makes every large write fail (EFBIG), as a
    # full disk would (ENOSPC); both are OSErrors from pyarrow deep inside the writer.
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))\n"
        "from ledgerlab.analysis.cli import main\n"
        "main()\n"
    )
    args = ["run", "baseline", *TINY, "--out", "full"]
    result = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr
    assert re.fullmatch(r"error: cannot write output folder full: .*File too large", errors[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("sig", "said"),
    [(signal.SIGTERM, "terminated (SIGTERM)"), (signal.SIGINT, "interrupted")],
)
def test_a_signal_while_writing_leaves_nothing(tmp_path: Path, sig: int, said: str) -> None:
    code = (
        "import time, pathlib\n"
        "import ledgerlab.sim.output as o\n"
        "real = o.write_run_files\n"
        "def slow(result, folder, extra=None):\n"
        "    real(result, folder, extra)\n"
        "    pathlib.Path('writing').write_text('1')\n"
        "    time.sleep(60)\n"
        "o.write_run_files = slow\n"
        "from ledgerlab.analysis.cli import main\n"
        "main()\n"
    )
    args = ["run", "baseline", *TINY, "--out", "run"]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (tmp_path / "writing").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig
    assert err.splitlines()[-1] == f"error: {said}; no partial output was left"
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["writing"]


def test_concurrent_writers_end_with_one_complete_run(tmp_path: Path) -> None:
    args = ["run", "baseline", *TINY, "--out", "same", "-q"]
    code = "from ledgerlab.analysis.cli import main; main()"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, *args],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outcomes = [(p.wait(timeout=300), p.communicate()[1]) for p in procs]
    for status, err in outcomes:
        assert status == 0 or re.fullmatch(r"error: another ledgerlab command wrote [^\n]+\n", err)
    assert any(status == 0 for status, _ in outcomes)
    files = {p.name for p in (tmp_path / "same").iterdir()}
    assert {"summary.json", "timeseries.parquet", "agents.parquet", MARKER} <= files
    assert _leftovers(tmp_path) == []


def test_scenarios_copy_writes_an_editable_file_and_never_overwrites(tmp_path: Path) -> None:
    result = runner.invoke(app, ["scenarios", "--copy", "label_flip", str(tmp_path)])
    assert result.exit_code == 0, result.output
    copied = tmp_path / "label_flip.yaml"
    assert copied.read_text() == shipped()["label_flip"].read_text()
    copied.write_text("# my edits\nname: mine\n")
    again = runner.invoke(app, ["scenarios", "--copy", "label_flip", str(tmp_path)])
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert copied.read_text() == "# my edits\nname: mine\n"
    unknown = runner.invoke(app, ["scenarios", "--copy", "nope", str(tmp_path)])
    assert unknown.exit_code == 1 and "baseline" in unknown.stderr


def test_schema_prints_the_json_schema() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema == json_schema()
    assert {"population", "tokenomics", "defenses", "seed"} <= set(schema["properties"])


def test_docs_scenarios_md_is_generated_from_the_schema() -> None:
    committed = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    if committed != markdown_reference():
        pytest.fail("docs/scenarios.md is stale: regenerate it with `make docs`")
