"""Tests for analysis.compare and ``ledgerlab compare``: paired differences from a named
reference with bootstrap intervals, NaN handling, the chart, and the command end to end
on a tiny world (through the sweep runner)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from typer.testing import CliRunner

from ledgerlab.analysis.cli import app, is_user_error
from ledgerlab.analysis.compare import (
    DEFAULT_METRICS,
    ComparisonError,
    bootstrap_interval,
    compare,
    compare_results,
    format_table,
    plot_comparison,
)
from ledgerlab.analysis.results import Results, load

runner = CliRunner()

TINY = """\
# Question: does dedup change anything in a tiny world?
base:
  name: tiny
  seed: 5
  epochs: 4
  population:
    providers: 8
    consumers: 6
    builders: 1
    validators: 2
    farmers: {duplicate: 2, near_duplicate: 1}
    poisoners: {label_flip: 1}
  datanets:
    - {seed_points: 40, validation_points: 60}
  attribution: {test_points: 40, ground_truth: {every_epochs: 2}}
variants:
  none: {defenses: []}
  dedup: {defenses: [{kind: dedup}]}
  same: {}
"""


def _results(values: dict[str, list[float]], metric: str = "accuracy") -> Results:
    """A loaded sweep in memory: one point, replicates 0..n-1, ``metric`` per variant."""
    rows = []
    for variant, series in values.items():
        for r, v in enumerate(series):
            rows.append(
                {
                    "run_id": f"{variant}-p0-r{r}",
                    "variant": variant,
                    "point": 0,
                    "replicate": r,
                    "seed": 100 + r,
                    metric: v,
                }
            )
    summary = pd.DataFrame(rows)
    manifest = summary[["run_id", "variant", "point", "replicate", "seed"]].assign(status="ok")
    return Results(
        timeseries=pd.DataFrame(), agents=pd.DataFrame(), summary=summary, manifest=manifest
    )


# ------------------------------------------------------------------------ statistics


def test_bootstrap_interval_is_seeded_and_sane() -> None:
    d = np.array([0.1, 0.3, -0.2, 0.4, 0.0, 0.25])
    a = bootstrap_interval(d, np.random.default_rng(1))
    b = bootstrap_interval(d, np.random.default_rng(1))
    assert a == b and a[0] < d.mean() < a[1]
    assert bootstrap_interval(np.full(5, 2.0), np.random.default_rng(0)) == (2.0, 2.0)
    assert all(math.isnan(x) for x in bootstrap_interval(np.array([1.0]), np.random.default_rng(0)))


def test_paired_differences_with_intervals_and_verdicts() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(0.5, 0.1, 10)  # large spread between replicates...
    res = _results(
        {
            "none": list(base),
            "better": list(base + 0.02),  # ...but a small, consistent paired gain
            "noise": list(base + rng.normal(0, 0.05, 10)),
        }
    )
    table = compare_results(res, metrics=["accuracy"])
    assert table.attrs["reference"] == "none" and set(table["reference"]) == {"none"}
    rows = table.set_index("variant")
    assert rows.loc["none", "verdict"] == "reference"
    assert rows.loc["better", "diff"] == pytest.approx(0.02)
    assert rows.loc["better", "ci_low"] == pytest.approx(0.02)  # paired: no noise left
    assert rows.loc["better", "verdict"] == "higher (better)"
    assert rows.loc["noise", "ci_low"] < 0 < rows.loc["noise", "ci_high"]
    assert rows.loc["noise", "verdict"] == "no detectable difference"
    assert rows.loc["better", "mean"] == pytest.approx(base.mean() + 0.02)
    assert (rows["n_pairs"] == 10).all() and (rows["dropped"] == 0).all()
    again = compare_results(res, metrics=["accuracy"])
    pd.testing.assert_frame_equal(table, again)  # reproducible intervals


def test_nan_values_are_left_out_of_means_and_pairs() -> None:
    nan = math.nan
    res = _results(
        {
            "none": [1.0, 2.0, nan, 4.0],
            "a": [1.5, nan, 3.5, 4.5],
            "b": [nan, nan, nan, 9.0],
        },
        metric="adversary_capture",
    )
    rows = compare_results(res, metrics=["adversary_capture"]).set_index("variant")
    assert rows.loc["none", "n_values"] == 3 and rows.loc["none", "mean"] == pytest.approx(7 / 3)
    assert rows.loc["a", "n_pairs"] == 2 and rows.loc["a", "dropped"] == 2
    assert rows.loc["a", "diff"] == pytest.approx(0.5)
    assert rows.loc["b", "n_pairs"] == 1 and rows.loc["b", "diff"] == pytest.approx(5.0)
    assert math.isnan(rows.loc["b", "ci_low"])
    assert rows.loc["b", "verdict"] == "n/a: an interval needs at least 2 paired replicates"


def test_reference_is_named_never_the_first_row() -> None:
    res = _results({"a": [1.0, 2.0], "b": [1.0, 3.0]})
    with pytest.raises(ComparisonError, match="name the reference variant") as info:
        compare_results(res, metrics=["accuracy"])
    assert is_user_error(info.value)
    table = compare_results(res, reference="b", metrics=["accuracy"])
    assert table.set_index("variant").loc["b", "verdict"] == "reference"
    assert table.set_index("variant").loc["a", "diff"] == pytest.approx(-0.5)
    with pytest.raises(ComparisonError, match="no variant 'c'"):
        compare_results(res, reference="c", metrics=["accuracy"])


def test_unknown_metric_lists_the_available_ones() -> None:
    res = _results({"none": [1.0, 2.0], "a": [1.0, 3.0]})
    with pytest.raises(ComparisonError, match=r"no metric 'acuracy'.*accuracy"):
        compare_results(res, metrics=["acuracy"])
    with pytest.raises(ComparisonError, match="one variant"):
        compare_results(_results({"none": [1.0, 2.0]}))


def test_text_table_and_chart() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(0.4, 0.1, 6)
    res = _results({"none": list(base), "a": list(base - 0.05), "b": list(base)})
    res.summary["honest_provider_net_usd"] = rng.normal(100, 5, 18)
    table = compare_results(res, metrics=["accuracy", "honest_provider_net_usd"])
    text = format_table(table)
    assert text.startswith("reference: none;")
    assert "clean accuracy (%; higher is better)" in text
    assert "diff (percentage points)" in text and "-5.0" in text
    assert "no detectable difference" in text and "lower (worse)" in text
    figure = plot_comparison(table)
    assert isinstance(figure, Figure)
    axes = [ax for ax in figure.axes if ax.get_visible()]
    assert len(axes) == 2
    assert axes[0].get_xlabel() == "difference from none (percentage points)"
    assert axes[1].get_xlabel() == "difference from none (USD)"
    labels = {t.get_text(): t.get_position()[1] for t in axes[0].get_yticklabels()}
    assert labels["a"] > labels["b"]  # variants top to bottom in file order


# ------------------------------------------------------------------------- end to end


def test_compare_runs_replicates_through_the_sweep_runner(tmp_path: Path) -> None:
    file = tmp_path / "tiny.yaml"
    file.write_text(TINY)
    out = tmp_path / "out"
    table = compare(file, replicates=3, out=out, workers=1, progress=False)
    assert set(table["variant"]) == {"none", "dedup", "same"}
    assert list(pd.unique(table["metric"])) == list(DEFAULT_METRICS)
    same = table[table["variant"] == "same"]
    assert (same["diff"].dropna() == 0).all()  # same seeds, same world: zero difference
    assert set(same["verdict"]) <= {
        "no detectable difference",
        "n/a: no replicate where both have a value",
    }
    assert table.attrs["report"].ok == 9
    for name in ("comparison.csv", "comparison.png", "summary_by_variant.csv"):
        assert (out / name).is_file()
    csv = pd.read_csv(out / "comparison.csv")
    assert list(csv.columns) == list(table.columns) and len(csv) == len(table)
    by_variant = pd.read_csv(out / "summary_by_variant.csv")
    assert list(by_variant["variant"]) == ["none", "dedup", "same"]
    assert (by_variant["runs"] == 3).all()
    # a sweep folder already run is tabulated again without running
    again = compare(out)
    pd.testing.assert_frame_equal(again.drop(columns=[]), table)
    assert load(out).summary["replicate"].nunique() == 3


def test_old_variant_sets_still_work(tmp_path: Path) -> None:
    from ledgerlab.scenarios.variants import loads_variants

    (tmp_path / "world.yaml").write_text(
        TINY.split("variants:")[0].replace("base:\n", "").replace("\n  ", "\n")
    )
    vs = loads_variants(
        "base: world.yaml\nvariants:\n  none: {}\n  dedup: {defenses: [{kind: dedup}]}\n",
        base_dir=tmp_path,
    )
    table = compare(vs, replicates=2, out=tmp_path / "out", workers=1, progress=False)
    assert set(table["variant"]) == {"none", "dedup"} and table.attrs["replicates"] == 2


def test_cli_compare_prints_the_table_and_writes_the_files(tmp_path: Path) -> None:
    file = tmp_path / "tiny.yaml"
    file.write_text(TINY)
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "compare",
            str(file),
            "--replicates",
            "2",
            "--reference",
            "dedup",
            "--metric",
            "accuracy",
            "--out",
            str(out),
            "--workers",
            "1",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("reference: dedup;")
    assert "clean accuracy (%; higher is better)" in result.stdout
    assert "adversary reward share" not in result.stdout  # only the metric asked for
    assert f"wrote {out}" in result.stdout
    assert "3 variants × 1 point × 2 replicates = 6 runs" in result.stderr
    # a typo in --metric after the runs: the runs are kept and can be tabulated again
    bad = runner.invoke(app, ["compare", str(out), "--metric", "acuracy"])
    assert bad.exit_code == 1 and bad.stderr.startswith("error: compare: no metric 'acuracy'")


def test_cli_compare_refuses_an_unknown_reference_before_running(tmp_path: Path) -> None:
    file = tmp_path / "tiny.yaml"
    file.write_text(TINY)
    result = runner.invoke(
        app, ["compare", str(file), "--reference", "nope", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert "error: compare: no variant 'nope'" in result.stderr
    assert not (tmp_path / "o").exists()


def test_few_pairs_are_flagged_in_the_table_and_the_chart() -> None:
    few = compare_results(_results({"none": [0.5, 0.6, 0.55], "dedup": [0.7, 0.8, 0.9]}))
    assert "caution: 3 paired replicates" in format_table(few)
    many = {"none": [0.5, 0.6, 0.55, 0.5, 0.6], "dedup": [0.7, 0.8, 0.9, 0.7, 0.8]}
    assert "caution" not in format_table(compare_results(_results(many)))
    one = compare_results(_results({"none": [0.5], "dedup": [0.7]}))
    fig = plot_comparison(one)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("no interval" in t for t in texts)  # not a hollow "no difference" dot
