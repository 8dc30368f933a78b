"""Tests for analysis.tokenomics (projection, chart, atomic write) and the ledgerlab CLI
(``ledgerlab tokenomics``, error reporting, exit codes)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ledgerlab.analysis import cli
from ledgerlab.analysis import tokenomics as tk
from ledgerlab.analysis.cli import app, is_user_error, main
from ledgerlab.economics.emission import Constant, EmissionError
from ledgerlab.economics.vesting import VestingError
from ledgerlab.sim.output import MARKER, OutputError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
runner = CliRunner()

# ---------------------------------------------------------------------------------------
# project()
# ---------------------------------------------------------------------------------------


def test_projection_of_the_openledger_preset() -> None:
    frame = tk.project("openledger", months=60)
    assert list(frame.columns) == list(tk.COLUMNS)
    assert len(frame) == 60
    np.testing.assert_array_equal(frame["month"], np.arange(60))
    circ = frame["circulating_tokens"].to_numpy()
    # Month 0: 215.5M at TGE + 1/48 of the remaining 451.6M community tokens.
    assert circ[0] == pytest.approx(215_500_000 + 451_600_000 / 48, rel=1e-12)
    # Months 1-11: community only; month 12 adds the first team/investor tranche.
    np.testing.assert_allclose(frame["unlocked_tokens"][1:12], 451_600_000 / 48, rtol=1e-9)
    assert frame["unlocked_tokens"][12] == pytest.approx(
        451_600_000 / 48 + 332_900_000 / 36, rel=1e-9
    )
    assert circ[47] == 1_000_000_000.0  # fully unlocked by the end of month 47
    assert np.all(frame["unlocked_tokens"][48:] == 0.0)
    assert frame["unlocked_tokens"].sum() == pytest.approx(1_000_000_000.0, rel=1e-12)
    assert np.all(frame["total_supply_tokens"] == 1_000_000_000.0)
    assert np.all(frame["emitted_tokens"] == 0.0)


def test_inflation_definitions() -> None:
    frame = tk.project(months=24)
    circ = frame["circulating_tokens"].to_numpy()
    monthly = frame["inflation_monthly"].to_numpy()
    assert np.isnan(monthly[0]) and np.isnan(frame["inflation_annualised"][0])
    np.testing.assert_allclose(monthly[1:], circ[1:] / circ[:-1] - 1.0, rtol=1e-12)
    np.testing.assert_allclose(
        frame["inflation_annualised"][1:], (1.0 + monthly[1:]) ** 12 - 1.0, rtol=1e-12
    )
    assert monthly[1] == pytest.approx(0.041832, abs=1e-6)
    assert monthly[12] > monthly[11]  # the cliff shows up as a jump in inflation


def test_projection_with_an_emission_schedule() -> None:
    frame = tk.project(months=60, emission=Constant(rate=1_000_000.0))
    np.testing.assert_array_equal(frame["emitted_tokens"], 1_000_000.0)
    total = frame["total_supply_tokens"].to_numpy()
    np.testing.assert_allclose(total, 1e9 + 1e6 * np.arange(1, 61))
    assert frame["circulating_tokens"][59] == pytest.approx(1e9 + 60e6)
    # After full unlock, inflation is the emission alone.
    assert frame["inflation_monthly"][50] == pytest.approx(1e6 / (1e9 + 50e6))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"preset": "solana"}, r"unknown preset 'solana'; choose one of \['openledger'\]"),
        ({"months": 0}, r"months must be between 1 and 1200, got 0"),
        ({"months": 5_000}, r"months must be between 1 and 1200"),
        ({"months": 2.5}, r"months must be a whole number"),
        ({"months": True}, r"months must be a whole number"),
        ({"emission": "halving"}, r"emission must be an economics.emission schedule"),
    ],
)
def test_project_rejects_bad_requests(kwargs: dict, match: str) -> None:
    with pytest.raises(tk.TokenomicsError, match=match):
        tk.project(**kwargs)


# ---------------------------------------------------------------------------------------
# plot() and write()
# ---------------------------------------------------------------------------------------


def test_plot_writes_a_png(tmp_path: Path) -> None:
    path = tk.plot(tk.project(months=12), tmp_path / "chart.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert path.stat().st_size > 10_000


def test_write_produces_the_three_files(tmp_path: Path) -> None:
    frame = tk.project(months=60)
    out = tk.write(frame, tmp_path / "nested" / "tokenomics")
    assert sorted(p.name for p in out.iterdir()) == sorted([*tk.OUTPUT_FILES, MARKER])
    pd.testing.assert_frame_equal(pd.read_parquet(out / "tokenomics.parquet"), frame)
    pd.testing.assert_frame_equal(pd.read_csv(out / "tokenomics.csv"), frame, check_exact=False)
    assert (out / "tokenomics.png").read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in out.parent.iterdir()) == ["tokenomics"]  # no temp left


def test_write_replaces_a_previous_result(tmp_path: Path) -> None:
    out = tmp_path / "tokenomics"
    tk.write(tk.project(months=12), out)
    tk.write(tk.project(months=30), out)
    assert len(pd.read_parquet(out / "tokenomics.parquet")) == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tokenomics"]


def test_write_failure_leaves_no_partial_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_plot(frame: pd.DataFrame, path: Path) -> Path:
        raise RuntimeError("disk full while drawing")

    monkeypatch.setattr(tk, "plot", broken_plot)
    with pytest.raises(RuntimeError, match="disk full"):
        tk.write(tk.project(months=12), tmp_path / "fresh")
    assert list(tmp_path.iterdir()) == []

    monkeypatch.undo()
    previous = tk.write(tk.project(months=12), tmp_path / "kept")
    before = {p.name: p.read_bytes() for p in previous.iterdir()}
    monkeypatch.setattr(tk, "plot", broken_plot)
    with pytest.raises(RuntimeError):
        tk.write(tk.project(months=30), previous)
    assert {p.name: p.read_bytes() for p in previous.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]


def test_write_refuses_to_replace_a_folder_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match=r"not empty .*notes\.txt.* not written by ledgerlab"):
        tk.write(tk.project(months=6), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(OutputError, match="is not a folder"):
        tk.write(tk.project(months=6), a_file)


def test_format_table_is_compact_and_in_millions() -> None:
    text = tk.format_table(tk.project(months=13))
    lines = text.splitlines()
    assert len(lines) == 14  # header + 13 months
    assert lines[0].split()[:4] == ["month", "unlocked_M", "emitted_M", "circulating_M"]
    assert lines[1].split()[:4] == ["0", "224.91", "0.00", "224.91"]
    assert lines[13].split()[:4] == ["12", "18.66", "0.00", "347.06"]
    with pytest.raises(tk.TokenomicsError, match="lacks columns"):
        tk.format_table(pd.DataFrame({"month": [0]}))


# ---------------------------------------------------------------------------------------
# the CLI
# ---------------------------------------------------------------------------------------


def test_cli_help_lists_the_tokenomics_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "tokenomics" in result.stdout
    bare = runner.invoke(app, [])
    assert bare.exit_code == 0
    assert "tokenomics" in bare.stdout
    sub = runner.invoke(app, ["tokenomics", "--help"])
    assert sub.exit_code == 0
    assert "--months" in sub.stdout and "--preset" in sub.stdout and "--out" in sub.stdout


def test_cli_tokenomics_prints_the_table_and_writes_the_files(tmp_path: Path) -> None:
    out = tmp_path / "tok"
    result = runner.invoke(app, ["tokenomics", "--months", "24", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()]
    by_month = {r[0]: r for r in rows if r and r[0].isdigit()}
    assert len(by_month) == 24
    assert by_month["0"][1:4] == ["224.91", "0.00", "224.91"]
    assert by_month["12"][1:4] == ["18.66", "0.00", "347.06"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*tk.OUTPUT_FILES, MARKER])
    assert len(pd.read_parquet(out / "tokenomics.parquet")) == 24
    assert f"wrote {out / 'tokenomics.csv'}" in result.stdout


def test_cli_default_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["tokenomics"])
    assert result.exit_code == 0, result.output
    written = tmp_path / "results" / "tokenomics"
    assert len(pd.read_csv(written / "tokenomics.csv")) == 60


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["tokenomics", "--months", "0"], "--months"),
        (["tokenomics", "--months", "-3"], "--months"),
        (["tokenomics", "--months", str(tk.MAX_MONTHS + 1)], f"{tk.MAX_MONTHS}"),
        (["tokenomics", "--months", "many"], "--months"),
        (["tokenomics", "--preset", "solana"], "'solana' is not one of 'openledger'"),
        (["tokenomics", "--frobnicate"], "No such option: --frobnicate"),
        (["tokenomics", "--months"], "requires an argument"),
        (["frobnicate"], "No such command 'frobnicate'"),
    ],
)
def test_cli_usage_errors_are_one_line_with_exit_code_2(
    args: list[str], fragment: str, tmp_path: Path
) -> None:
    if args[0] == "tokenomics":  # never let a wrongly accepted call write into the repo
        args = ["tokenomics", "--out", str(tmp_path / "o"), *args[1:]]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_cli_user_error_is_one_line_with_exit_code_1(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    result = runner.invoke(app, ["tokenomics", "--months", "6", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: output folder {tmp_path} exists, is not empty")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_main_entry_point_reports_errors_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(sys, "argv", ["ledgerlab", "tokenomics", "--months", "0"])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ledgerlab tokenomics: Invalid value for '--months'")
    assert len(err.strip().splitlines()) == 1

    out = tmp_path / "ok"
    monkeypatch.setattr(
        sys, "argv", ["ledgerlab", "tokenomics", "--months", "3", "--out", str(out)]
    )
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 0
    assert (out / "tokenomics.png").exists()


def test_only_ledgerlab_value_errors_count_as_user_errors() -> None:
    assert is_user_error(tk.TokenomicsError("x"))
    assert is_user_error(EmissionError("x"))
    assert is_user_error(VestingError("x"))
    assert not is_user_error(ValueError("x"))
    assert not is_user_error(np.exceptions.AxisError("x"))
    assert not is_user_error(RuntimeError("x"))
    assert cli.PROJECT_PACKAGE == "ledgerlab"


def test_unexpected_errors_keep_their_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def bug(*args: object, **kwargs: object) -> pd.DataFrame:
        raise ValueError("a plain bug")

    monkeypatch.setattr(tk, "project", bug)
    result = runner.invoke(app, ["tokenomics", "--months", "3"])
    assert result.exit_code == 1
    assert isinstance(result.exception, ValueError)
    assert str(result.exception) == "a plain bug"
