"""Tests for analysis.tokenomics (projection of a preset or of a scenario's own allocation,
supply views, chart, atomic write) and the ledgerlab CLI (``ledgerlab tokenomics``, error
reporting, exit codes)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ledgerlab.analysis import cli
from ledgerlab.analysis import tokenomics as tk
from ledgerlab.analysis.cli import app, is_user_error, main
from ledgerlab.economics.emission import EmissionError, make_schedule
from ledgerlab.economics.vesting import VestingError
from ledgerlab.sim.output import MARKER, OutputError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
runner = CliRunner()

# ---------------------------------------------------------------------------------------
# project()
# ---------------------------------------------------------------------------------------


BUCKETS = ["community_ecosystem", "investors", "team", "liquidity"]


def test_projection_of_the_openledger_preset() -> None:
    frame = tk.project("openledger", months=60)
    assert list(frame.columns) == [*tk.COLUMNS, *(f"unlocked_{b}_tokens" for b in BUCKETS)]
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
    for view in ("circulating", "float"):
        stock = frame[f"{view}_tokens"].to_numpy()
        monthly = frame[f"{view}_inflation_monthly_pct"].to_numpy() / 100
        yearly = frame[f"{view}_inflation_annualised_pct"].to_numpy() / 100
        assert np.isnan(monthly[0]) and np.isnan(yearly[0])
        np.testing.assert_allclose(monthly[1:], stock[1:] / stock[:-1] - 1.0, rtol=1e-12)
        np.testing.assert_allclose(yearly[1:], (1.0 + monthly[1:]) ** 12 - 1.0, rtol=1e-12)
        assert monthly[12] > monthly[11]  # the cliff shows up as a jump in inflation
    assert frame["circulating_inflation_monthly_pct"][1] == pytest.approx(4.1832, abs=1e-4)


def test_supply_views_of_the_preset() -> None:
    frame = tk.project(months=60)
    circ, floating = frame["circulating_tokens"], frame["float_tokens"]
    # the community pool is paid out as it unlocks; the 50M liquidity stays in the AMM
    np.testing.assert_allclose(floating, circ - 50e6, rtol=1e-12)
    np.testing.assert_allclose(frame["liquidity_tokens"], 50e6)
    assert (frame["reward_pool_tokens"] == 0).all()
    np.testing.assert_allclose(
        frame["rewards_paid_tokens"],
        frame["unlocked_community_ecosystem_tokens"]
        .diff()
        .fillna(frame["unlocked_community_ecosystem_tokens"][0]),
        rtol=1e-9,
    )
    assert frame["float_tokens"][0] == pytest.approx(165.5e6 + 451.6e6 / 48)
    per_bucket = frame[[f"unlocked_{b}_tokens" for b in BUCKETS]].sum(axis=1)
    np.testing.assert_allclose(per_bucket, circ, rtol=1e-12)
    np.testing.assert_allclose(frame["locked_tokens"], 1e9 - circ, atol=1e-3)
    np.testing.assert_allclose(frame["circulating_share_pct"], circ / 1e7, rtol=1e-12)
    assert [b["cliff_month"] for b in frame.attrs["buckets"]] == [0.0, 12.0, 12.0, 0.0]


def test_projection_with_an_emission_schedule() -> None:
    emission = make_schedule("constant", tokens_per_epoch=1_000_000.0)
    frame = tk.project(months=60, emission=emission)
    np.testing.assert_array_equal(frame["emitted_tokens"], 1_000_000.0)
    total = frame["total_supply_tokens"].to_numpy()
    np.testing.assert_allclose(total, 1e9 + 1e6 * np.arange(1, 61))
    assert frame["circulating_tokens"][59] == pytest.approx(1e9 + 60e6)
    np.testing.assert_allclose(frame["float_tokens"], frame["circulating_tokens"] - 50e6)
    # After full unlock, inflation is the emission alone.
    assert frame["circulating_inflation_monthly_pct"][50] == pytest.approx(100 * 1e6 / (1e9 + 50e6))


def test_a_burn_leaves_the_float_and_the_supply() -> None:
    frame = tk.project(months=60, burn_tokens_per_month=2e6)
    np.testing.assert_allclose(frame["burned_tokens"], 2e6)
    plain = tk.project(months=60)
    for column in ("circulating_tokens", "float_tokens", "total_supply_tokens"):
        np.testing.assert_allclose(
            frame[column], plain[column] - 2e6 * np.arange(1, 61), rtol=1e-12
        )
    # never more than the float holds
    huge = tk.project(months=3, burn_tokens_per_month=1e12)
    assert (huge["float_tokens"] == 0).all()
    np.testing.assert_allclose(huge["burned_tokens"].cumsum(), plain["float_tokens"][:3])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"preset": "solana"}, r"unknown preset 'solana'; choose one of \['openledger'\]"),
        ({"months": 0}, r"months must be between 1 and 1200, got 0"),
        ({"months": 5_000}, r"months must be between 1 and 1200"),
        ({"months": 2.5}, r"months must be a whole number"),
        ({"months": True}, r"months must be a whole number"),
        ({"emission": "halving"}, r"emission must be an economics.emission schedule"),
        ({"burn_tokens_per_month": -1.0}, r"burn_tokens_per_month must be a finite number >= 0"),
        ({"burn_tokens_per_month": float("nan")}, r"burn_tokens_per_month must be a finite"),
    ],
)
def test_project_rejects_bad_requests(kwargs: dict, match: str) -> None:
    with pytest.raises(tk.TokenomicsError, match=match):
        tk.project(**kwargs)


# ---------------------------------------------------------------------------------------
# project_scenario(): a scenario's own allocation
# ---------------------------------------------------------------------------------------


def _scenario(text: str):  # type: ignore[no-untyped-def]
    from ledgerlab.scenarios import loads

    return loads(textwrap.dedent(text), source="s.yaml")


def test_the_default_allocation_in_days_matches_the_preset_in_months() -> None:
    frame = tk.project_scenario("baseline", months=60)
    preset = tk.project(months=60)
    # the same buckets sampled at the same instants: identical unlocks
    np.testing.assert_allclose(frame["circulating_tokens"], preset["circulating_tokens"])
    assert list(frame.columns[len(tk.COLUMNS) :]) == [
        "unlocked_community_tokens",
        "unlocked_investors_tokens",
        "unlocked_team_tokens",
        "unlocked_liquidity_tokens",
    ]
    # but its reward pool pays 500 tokens a day (pool_drip), not as it unlocks
    np.testing.assert_allclose(frame["rewards_paid_tokens"], 500 * 30.4375, rtol=1e-12)
    holders = frame["unlocked_investors_tokens"] + frame["unlocked_team_tokens"]
    paid = 500 * 30.4375 * np.arange(1, 61)
    np.testing.assert_allclose(frame["float_tokens"], holders + paid, rtol=1e-12)
    np.testing.assert_allclose(
        frame["reward_pool_tokens"], frame["unlocked_community_tokens"] - paid, rtol=1e-12
    )
    np.testing.assert_allclose(
        frame["circulating_tokens"],
        frame["float_tokens"] + frame["reward_pool_tokens"] + frame["liquidity_tokens"],
        rtol=1e-12,
    )
    assert frame["float_tokens"][11] < 1e6 < frame["float_tokens"][12]  # the cliff
    assert frame.attrs["name"] == "baseline"
    assert "pool_drip: 500 tokens per day" in frame.attrs["notes"][0]


def test_a_drip_larger_than_the_pool_pays_what_is_unlocked() -> None:
    scenario = _scenario(
        """
        name: small_pool
        tokenomics:
          vesting:
            - {name: pool, share: 0.1, linear_epochs: 3043.75, recipient: reward_pool,
               holders: 0}
            - {name: rest, share: 0.85, tge_fraction: 1.0, holders: 3}
            - {name: amm, share: 0.05, tge_fraction: 1.0, recipient: liquidity, holders: 0}
          emission: {kind: pool_drip, pool_bucket: pool, tokens_per_epoch: 1.0e6}
          sell_policies: []
        """
    )
    frame = tk.project_scenario(scenario, months=120)
    pool = frame["unlocked_pool_tokens"]
    # (paid per daily epoch, sampled at month ends: within a day of the unlocks)
    np.testing.assert_allclose(frame["rewards_paid_tokens"].cumsum(), pool, rtol=1e-4)
    assert frame["reward_pool_tokens"].max() < 1e-3 * pool.max()
    np.testing.assert_allclose(frame["float_tokens"], frame["circulating_tokens"] - 5e7, rtol=1e-4)
    assert pool[99] == pytest.approx(1e8)  # 100 months of linear unlock


def test_a_minting_schedule_in_weekly_epochs_with_cliffs() -> None:
    scenario = _scenario(
        """
        name: weekly
        epoch_days: 7
        tokenomics:
          total_supply_tokens: 1.0e8
          vesting:
            - {name: eco, share: 0.5, recipient: reward_pool, holders: 0, tge_fraction: 0.2,
               linear_epochs: 104}
            - {name: seed, share: 0.3, cliff_epochs: 26, linear_epochs: 52, holders: 4}
            - {name: advisors, share: 0.1, cliff_epochs: 52, holders: 2}
            - {name: amm, share: 0.1, tge_fraction: 1.0, recipient: liquidity, holders: 0}
          emission: {kind: constant, tokens_per_epoch: 7000}
          sell_policies: []
        """
    )
    frame = tk.project_scenario(scenario, months=36)
    # 7,000 tokens a week minted and paid out as rewards: 30,437.5 a month
    np.testing.assert_allclose(frame["emitted_tokens"], 30_437.5, rtol=1e-9)
    assert (frame["rewards_paid_tokens"] == 0).all()  # the pool's own tokens stay put
    np.testing.assert_allclose(frame["reward_pool_tokens"], frame["unlocked_eco_tokens"])
    minted = 30_437.5 * np.arange(1, 37)
    holders = frame["unlocked_seed_tokens"] + frame["unlocked_advisors_tokens"]
    np.testing.assert_allclose(frame["float_tokens"], holders + minted, rtol=1e-9)
    np.testing.assert_allclose(frame["total_supply_tokens"], 1e8 + minted, rtol=1e-12)
    # cliffs in months: 26 weeks = 5.98 months, 52 weeks = 11.96 (all at once)
    cliffs = {b["name"]: b["cliff_month"] for b in frame.attrs["buckets"]}
    assert cliffs["seed"] == pytest.approx(26 * 7 / 30.4375)
    assert frame["unlocked_seed_tokens"][4] == 0 < frame["unlocked_seed_tokens"][5]
    advisors = frame["unlocked_advisors_tokens"]
    assert advisors[10] == 0 and advisors[11] == pytest.approx(1e7)


def test_project_scenario_by_name_and_errors(tmp_path: Path) -> None:
    from ledgerlab.scenarios import ScenarioError

    assert len(tk.project_scenario("unlock_cliff", months=3)) == 3
    with pytest.raises(ScenarioError, match="no shipped scenario"):
        tk.project_scenario(tmp_path / "missing.yaml")
    with pytest.raises(tk.TokenomicsError, match="months must be between 1 and 1200"):
        tk.project_scenario("baseline", months=0)


# ---------------------------------------------------------------------------------------
# plot() and write()
# ---------------------------------------------------------------------------------------


def test_figure_stacks_allocations_marks_cliffs_and_starts_inflation_at_zero() -> None:
    frame = tk.project_scenario("unlock_cliff", months=60)
    fig = tk.figure(frame)
    top, bottom = fig.axes[:2]
    labels = [t.get_text() for t in top.get_legend().get_texts()]
    assert labels[:4] == ["community\n(reward pool)", "investors", "team", "liquidity\n(AMM)"]
    assert any("market float" in label for label in labels)
    assert any("tracker circulating" in label for label in labels)
    assert top.get_ylim()[0] == 0 and bottom.get_ylim()[0] == 0
    ticks = [t for t in bottom.get_xticks() if -0.5 <= t <= 59.5]
    assert ticks == [0, 12, 24, 36, 48]
    cliff_texts = [t.get_text() for t in top.texts]
    assert any("cliff ends: investors, team" in t and "month 12" in t for t in cliff_texts)
    # the float's growth from a near-zero base is off the axis and said so; the tracker
    # circulating curve keeps at least 40 % of the height
    circ_max = np.nanmax(frame["circulating_inflation_annualised_pct"])
    assert circ_max >= 0.4 * bottom.get_ylim()[1]
    assert any("float above the axis" in t.get_text() for t in bottom.texts)
    assert "Annualised inflation" in bottom.get_title(loc="left")
    assert "%" in bottom.get_ylabel() and "tokens" in top.get_ylabel()


def test_figure_without_outliers_shows_every_value() -> None:
    frame = tk.project(months=60)
    bottom = tk.figure(frame).axes[1]
    peak = np.nanmax(frame["float_inflation_annualised_pct"])
    assert bottom.get_ylim()[1] >= peak
    assert not any("above the axis" in t.get_text() for t in bottom.texts)


def test_plot_writes_a_png(tmp_path: Path) -> None:
    path = tk.plot(tk.project(months=12), tmp_path / "chart.png")
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert path.stat().st_size > 10_000


def test_write_produces_the_four_files(tmp_path: Path) -> None:
    frame = tk.project(months=60)
    out = tk.write(frame, tmp_path / "nested" / "tokenomics")
    assert sorted(p.name for p in out.iterdir()) == sorted([*tk.OUTPUT_FILES, MARKER])
    described = pd.read_csv(out / "tokenomics_columns.csv")
    assert described["column"].tolist() == list(frame.columns)
    assert all(d.endswith(")") or d.endswith(").") for d in described["description"])
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


def test_cli_projects_a_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text(
        "name: mine\ntokenomics:\n  emission: {kind: constant, tokens_per_epoch: 1000}\n"
    )
    result = runner.invoke(
        app, ["tokenomics", "mine.yaml", "--months", "13", "--burn-tokens-per-month", "5000"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("mine: 1,000M genesis tokens, 13 months")
    assert "constant emission minted" in result.stdout and "burn: 5,000" in result.stdout
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith(" month"))
    assert header.split() == [
        "month",
        "unlocked_M",
        "emitted_M",
        "circulating_M",
        "float_M",
        "circ_%_supply",
        "circ_infl_%/yr",
        "float_infl_%/yr",
    ]
    assert max(len(line) for line in lines if not line.startswith(("mine:", "wrote"))) <= 100
    written = tmp_path / "results" / "tokenomics-mine"
    frame = pd.read_csv(written / "tokenomics.csv")
    assert len(frame) == 13
    np.testing.assert_allclose(frame["burned_tokens"], 5000)
    np.testing.assert_allclose(frame["emitted_tokens"], 30_437.5)

    shipped = runner.invoke(app, ["tokenomics", "unlock_cliff", "--out", str(tmp_path / "u")])
    assert shipped.exit_code == 0, shipped.output
    assert (tmp_path / "u" / "tokenomics.png").is_file()


@pytest.mark.parametrize(
    ("args", "status", "fragment"),
    [
        (["unlock_cliff", "--preset", "openledger"], 2, "give a SCENARIO (unlock_cliff) or"),
        (["no_such_world"], 1, "no shipped scenario of that name"),
        (["tokenomics_sensitivity"], 1, "is a sweep file"),
        (["--burn-tokens-per-month", "-1"], 2, "--burn-tokens-per-month"),
    ],
)
def test_cli_scenario_errors(tmp_path: Path, args: list[str], status: int, fragment: str) -> None:
    result = runner.invoke(app, ["tokenomics", "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == status, result.output
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and fragment in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


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
