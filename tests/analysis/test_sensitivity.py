"""Tests for analysis.sensitivity (Morris and Sobol' indices with SALib) and
``ledgerlab sensitivity``: the Ishigami function's known indices, the sweep plumbing
(replicates averaged, groups, missing points), errors, and one tiny end-to-end sweep."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ledgerlab.analysis import sensitivity as sa
from ledgerlab.analysis.cli import app
from ledgerlab.scenarios import ScenarioError
from ledgerlab.scenarios.sweep import SampleDesign, loads_sweep
from ledgerlab.sim.output import MARKER, read_marker

pytest.importorskip("SALib")
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample

runner = CliRunner()

# Ishigami (a = 7, b = 0.1) on [-π, π]³: analytic first-order and total indices.
A, B = 7.0, 0.1
S1_TRUE = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ST_TRUE = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}


def ishigami(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) + A * np.sin(x[:, 1]) ** 2 + B * x[:, 2] ** 4 * np.sin(x[:, 0])


UNIT = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[0.0, 1.0]] * 3}


def _to_pi(unit: np.ndarray) -> np.ndarray:
    return -np.pi + 2.0 * np.pi * unit


# ------------------------------------------------------------------ pure index functions


def test_sobol_indices_of_the_ishigami_function() -> None:
    unit = sobol_sample.sample(UNIT, 1024, seed=np.random.default_rng(1))
    assert unit.shape == (1024 * 8, 3)  # N·(2D+2)
    table = sa.sobol_indices(UNIT, ishigami(_to_pi(unit)))
    assert list(table.columns) == ["parameter", "S1", "S1_conf", "ST", "ST_conf"]
    for row in table.itertuples():
        # each analytic value lies in the 95 % interval, and the estimate is close
        assert abs(row.S1 - S1_TRUE[row.parameter]) <= max(row.S1_conf, 0.01), row
        assert abs(row.ST - ST_TRUE[row.parameter]) <= max(row.ST_conf, 0.01), row
        assert abs(row.S1 - S1_TRUE[row.parameter]) < 0.05
        assert abs(row.ST - ST_TRUE[row.parameter]) < 0.05
        assert 0 < row.S1_conf < 0.1 and 0 < row.ST_conf < 0.1
    pairs = pd.DataFrame(table.attrs["second_order"])
    s13 = pairs[(pairs["parameter"] == "x1") & (pairs["other"] == "x3")].iloc[0]
    assert abs(s13["S2"] - (ST_TRUE["x1"] - S1_TRUE["x1"])) <= s13["S2_conf"]  # x1·x3 only
    again = sa.sobol_indices(UNIT, ishigami(_to_pi(unit)))
    pd.testing.assert_frame_equal(again, table)  # seeded bootstrap: reproducible intervals


def test_morris_ranks_x1_and_x2_above_x3() -> None:
    unit = morris_sample.sample(UNIT, 500, num_levels=4, seed=np.random.default_rng(0))
    assert unit.shape == (500 * 4, 3)  # n·(D+1)
    table = sa.morris_indices(UNIT, unit, ishigami(_to_pi(unit))).set_index("parameter")
    mu_star, conf = table["mu_star"], table["mu_star_conf"]
    for x in ("x1", "x2"):
        assert mu_star[x] - conf[x] > mu_star["x3"] + conf["x3"]
    # x2 on 4 levels: every step changes 7·sin² by 7·0.75 over a step of 2/3 of the range
    assert mu_star["x2"] == pytest.approx(7.875)
    # x1 always pushes the same way (μ = μ*); x3 acts only through its interaction with
    # x1: effects of both signs (|μ| ≪ μ*) and a large spread
    assert table.loc["x1", "mu"] == pytest.approx(mu_star["x1"])
    assert abs(table.loc["x3", "mu"]) < 0.2 * mu_star["x3"]
    assert table.loc["x3", "sigma"] > mu_star["x3"]


def test_pure_functions_reject_malformed_inputs() -> None:
    with pytest.raises(sa.SensitivityError, match="do not fill a Saltelli design"):
        sa.sobol_indices(UNIT, np.ones(30))
    with pytest.raises(sa.SensitivityError, match=r"same .* at every point"):
        sa.sobol_indices(UNIT, np.ones(32))
    with pytest.raises(sa.SensitivityError, match="NaN or infinite"):
        sa.sobol_indices(UNIT, np.r_[np.nan, np.arange(31.0)])
    with pytest.raises(sa.SensitivityError, match="expected X of shape"):
        sa.morris_indices(UNIT, np.zeros((8, 2)), np.arange(8.0))


# ---------------------------------------------------------------- a sweep's design

ISHIGAMI_SWEEP = """\
base: {name: ishigami, epochs: 2}
grid:
  population.providers: [10, 20]
sample:
  method: saltelli
  n: 64
  ranges:
    tokenomics.sell_policies.investors.fraction_per_epoch: {low: 0, high: 1}
    tokenomics.sell_policies.team.fraction_per_epoch: {low: 0, high: 1}
    tokenomics.sell_policies.providers.fraction_per_epoch: {low: 0, high: 1}
variants:
  a: {}
  b: {}
replicates: 2
seed: 5
"""
PATHS = [
    "tokenomics.sell_policies.investors.fraction_per_epoch",
    "tokenomics.sell_policies.team.fraction_per_epoch",
    "tokenomics.sell_policies.providers.fraction_per_epoch",
]


def _summary(sweep, scale_by_group: bool = True) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """A fake sweep summary: Ishigami of the sampled values (mapped to [-π, π]), plus
    ±0.5 noise that cancels over the two replicates; group 2 scaled by 3."""
    rows = []
    for spec in sweep.specs():
        x = _to_pi(np.array([[spec.params[p] for p in PATHS]]))
        scale = 3.0 if scale_by_group and spec.params["population.providers"] == 20 else 1.0
        y = float(ishigami(x)[0]) * scale
        y += 0.5 if spec.replicate == 0 else -0.5
        rows.append(
            {
                "run_id": spec.run_id,
                "variant": spec.variant,
                "point": spec.point,
                "replicate": spec.replicate,
                "seed": spec.seed,
                **spec.params,
                "y_usd": y,
                "label": "x",
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def ishigami_sweep():  # type: ignore[no-untyped-def]
    return loads_sweep(ISHIGAMI_SWEEP, source="ishigami.yaml")


def test_analyse_averages_replicates_and_splits_groups_and_variants(ishigami_sweep) -> None:  # type: ignore[no-untyped-def]
    sweep = ishigami_sweep
    design = sweep.design
    assert design.rows == 64 * 8 and sweep.n_points == 2 * design.rows
    summary = _summary(sweep)
    table = sa.analyse(summary, "y_usd", design=design)
    assert table.attrs["method"] == "sobol"
    assert list(table["variant"].unique()) == ["a", "b"]
    groups = list(table["group"].unique())
    assert groups == ["population.providers=10", "population.providers=20"]
    assert len(table) == 2 * 2 * 3
    assert (table["replicates"] == 2.0).all() and (table["points"] == 512).all()
    # the noise cancels: the indices are those of the noise-free design
    exact = sa.sobol_indices(design.problem(), ishigami(_to_pi(np.asarray(design.unit))))
    block = table[(table["variant"] == "a") & (table["group"] == groups[0])]
    merged = block.merge(exact, on="parameter", suffixes=("", "_exact"))
    np.testing.assert_allclose(merged["S1"], merged["S1_exact"], atol=1e-9)
    np.testing.assert_allclose(merged["ST_conf"], merged["ST_conf_exact"], atol=1e-9)
    # scaling a group's metric does not change its variance shares
    other = table[(table["variant"] == "a") & (table["group"] == groups[1])]
    np.testing.assert_allclose(other["ST"].to_numpy(), block["ST"].to_numpy(), atol=1e-9)
    # sorted by importance within each group (ST); x3 (providers) explains least
    assert block["parameter"].iloc[-1] == PATHS[2]
    assert (np.diff(block["ST"].to_numpy()) <= 0).all()
    second = pd.DataFrame(table.attrs["second_order"])
    assert set(second.columns) == {"variant", "group", "parameter", "other", "S2", "S2_conf"}
    assert len(second) == 2 * 2 * 3
    both = pd.concat([table, table])  # attrs hold plain data: frames still combine
    assert len(both) == 2 * len(table)


def test_missing_points_are_an_error_naming_how_many(ishigami_sweep) -> None:  # type: ignore[no-untyped-def]
    summary = _summary(ishigami_sweep)
    # point 7 loses both replicates; point 9 keeps one (still usable)
    gone = summary[(summary["variant"] == "b") & (summary["point"] == 7)]
    partial = summary[
        (summary["variant"] == "b") & (summary["point"] == 9) & (summary["replicate"] == 1)
    ]
    kept = summary.drop(index=[*gone.index, *partial.index])
    with pytest.raises(sa.SensitivityError, match=r"1 of 1,024 points of variant b .*\(p7\)"):
        sa.analyse(kept, "y_usd", design=ishigami_sweep.design)
    nan = summary.copy()
    nan.loc[gone.index, "y_usd"] = np.nan
    with pytest.raises(sa.SensitivityError, match="finite y_usd"):
        sa.analyse(nan, "y_usd", design=ishigami_sweep.design)


def test_wrong_method_or_metric_is_explained(ishigami_sweep) -> None:  # type: ignore[no-untyped-def]
    summary = _summary(ishigami_sweep)
    design = ishigami_sweep.design
    with pytest.raises(sa.SensitivityError, match="morris indices need a sweep sampled with"):
        sa.analyse(summary, "y_usd", "morris", design=design)
    with pytest.raises(sa.SensitivityError, match=r"no summary metric 'y'.*available: y_usd$"):
        sa.analyse(summary, "y", design=design)
    lhs = loads_sweep(ISHIGAMI_SWEEP.replace("method: saltelli", "method: lhs"))
    with pytest.raises(sa.SensitivityError, match="used method lhs, which supports neither"):
        sa.analyse(summary, "y_usd", design=lhs.design)
    with pytest.raises(sa.SensitivityError, match="pass design="):
        sa.analyse(summary, "y_usd")


def test_morris_design_of_a_sweep(ishigami_sweep) -> None:  # type: ignore[no-untyped-def]
    sweep = loads_sweep(
        ISHIGAMI_SWEEP.replace("method: saltelli\n  n: 64", "method: morris\n  n: 40")
    )
    design = sweep.design
    assert design.rows == 40 * 4 and design.num_levels == 4
    table = sa.analyse(_summary(sweep), "y_usd", design=design)
    assert table.attrs["method"] == "morris"
    first = table[(table["variant"] == "a") & (table["group"] == "population.providers=10")]
    assert list(first.columns[6:10]) == ["mu_star", "mu_star_conf", "mu", "sigma"]
    assert (np.diff(first["mu_star"].to_numpy()) <= 0).all()  # most important first
    # the noise cancels over replicates: the effects are those of the noise-free design
    exact = sa.morris_indices(
        design.problem(), design.unit, ishigami(_to_pi(np.asarray(design.unit)))
    )
    merged = first.merge(exact, on="parameter", suffixes=("", "_exact"))
    np.testing.assert_allclose(merged["mu_star"], merged["mu_star_exact"], atol=1e-9)
    text = sa.format_table(table)
    assert "μ*" in text and "USD per full range" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    fig = sa.plot(table)
    assert len(fig.axes) == 4  # 2 variants × 2 groups


def test_format_table_plot_and_write_of_sobol(ishigami_sweep, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    table = sa.analyse(_summary(ishigami_sweep), "y_usd", design=ishigami_sweep.design)
    out = sa.write(table, tmp_path / "s")
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([*sa.OUTPUT_FILES, "sensitivity_s2.csv", MARKER])
    assert read_marker(out)["kind"] == "sensitivity"
    assert len(pd.read_csv(out / "sensitivity_s2.csv")) == 2 * 2 * 3
    text = sa.format_table(table)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert any(line.startswith("variant a, population.providers=10") for line in lines)
    header = next(line for line in lines if line.startswith("parameter"))
    assert header.split()[1:] == ["S1", "±95", "%", "ST", "±95", "%"]
    fig = sa.plot(table)
    ax = fig.axes[0]
    assert "share of the variance of y_usd (%)" in ax.get_xlabel()
    assert ax.get_xlim()[0] <= 0.0
    top = ax.get_yticklabels()[-1].get_text().replace("\n", "")  # most important on top
    assert top.startswith(table["parameter"].iloc[0])


# ---------------------------------------------------------------------- without SALib


def _hide_salib(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "SALib" or name.startswith("SALib."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "SALib", None)


def test_without_salib_one_line_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _hide_salib(monkeypatch)
    with pytest.raises(sa.SalibMissingError, match=r"pip install 'ledgerlab\[sensitivity\]'"):
        sa.morris_indices(UNIT, np.zeros((8, 3)), np.arange(8.0))
    result = runner.invoke(app, ["sensitivity", str(tmp_path), "--metric", "price_usd"])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "error: sensitivity analysis needs SALib, which is not installed: "
        "pip install 'ledgerlab[sensitivity]'"
    ]
    # a sweep file that asks for a SALib design says the same, at its line
    with pytest.raises(ScenarioError) as info:
        loads_sweep(ISHIGAMI_SWEEP, source="s.yaml")
    (problem,) = info.value.problems
    assert str(problem).startswith("s.yaml:5:11: sample.method")
    assert "pip install 'ledgerlab[sensitivity]'" in str(problem)


# ------------------------------------------------------------------------- end to end

TINY = """\
base:
  name: tiny
  epochs: 2
  population: {providers: 8, consumers: 4}
sample:
  method: morris
  n: 2
  ranges:
    market.order_flow.mean_usd_per_epoch: {low: 1000, high: 100000, log: true}
    population.consumer_inferences_per_epoch: {low: 5, high: 80, log: true}
seed: 3
"""


def test_cli_end_to_end_on_a_tiny_sweep(tmp_path: Path) -> None:
    from ledgerlab.sim.sweep import run_sweep

    file = tmp_path / "tiny.yaml"
    file.write_text(TINY)
    sweep = loads_sweep(TINY, source=str(file), base_dir=tmp_path, name="tiny")
    out = tmp_path / "out"
    report = run_sweep(sweep, out, workers=1)
    assert report.ok == sweep.n_runs == 6

    assert sa.load_design(out).record() == sweep.design.record()
    result = runner.invoke(app, ["sensitivity", str(out), "--metric", "total_fees_tokens"])
    assert result.exit_code == 0, result.output
    assert "Morris effects on total_fees_tokens in tokens per full range" in result.stdout
    table_lines = [x for x in result.stdout.splitlines() if not x.startswith("wrote ")]
    assert max(len(line) for line in table_lines) <= 100
    written = out / "sensitivity"
    assert sorted(p.name for p in written.iterdir()) == sorted([*sa.OUTPUT_FILES, MARKER])
    csv = pd.read_csv(written / "sensitivity.csv")
    assert set(csv["parameter"]) == set(sweep.design.names)
    assert "sensitivity" in read_marker(out)["entries"]  # not foreign to a later re-run

    bad = runner.invoke(app, ["sensitivity", str(out), "--metric", "price"])
    assert bad.exit_code == 1
    assert "did you mean 'price_usd'" in bad.stderr and "available: price_usd" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1

    # a re-run (resume) of the sweep keeps the analysis, a fresh run replaces the folder
    run_sweep(sweep, out, workers=1, resume=True)
    assert (written / "sensitivity.png").is_file()
    run_sweep(sweep, out, workers=1)
    assert not written.exists()

    # elsewhere with --out; a user's folder is refused
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    refused = runner.invoke(
        app, ["sensitivity", str(out), "--metric", "total_fees_tokens", "--out", str(mine)]
    )
    assert refused.exit_code == 1 and "not written by ledgerlab" in refused.stderr
    assert (mine / "notes.txt").read_text() == "keep"


def test_cli_usage_and_folder_errors(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["sensitivity", str(tmp_path)])
    assert missing.exit_code == 2 and "--metric" in missing.stderr
    method = runner.invoke(app, ["sensitivity", str(tmp_path), "--metric", "x", "--method", "fast"])
    assert method.exit_code == 2 and "'fast' is not one of" in method.stderr
    nothing = runner.invoke(app, ["sensitivity", str(tmp_path / "nope"), "--metric", "x"])
    assert nothing.exit_code == 1
    assert "does not exist" in nothing.stderr
    not_sweep = runner.invoke(app, ["sensitivity", str(tmp_path), "--metric", "x"])
    assert not_sweep.exit_code == 1 and "is not a sweep folder" in not_sweep.stderr


def test_design_records_round_trip(ishigami_sweep) -> None:  # type: ignore[no-untyped-def]
    design = ishigami_sweep.design
    again = SampleDesign.from_record(design.record())
    np.testing.assert_array_equal(again.unit, design.unit)
    assert again.values() == design.values()
