"""Mechanism comparisons with intervals: paired differences from a named reference variant.

``compare(FILE, replicates=10)`` (``ledgerlab compare FILE``) runs a sweep file through
the sweep runner (``ledgerlab.sim.sweep``) and, per variant and metric, reports

* ``mean`` (and ``sd``) of the metric over the variant's replicates;
* ``diff``: the mean **paired** difference from the reference variant, variant − reference,
  over replicates. Replicate ``r`` has the same seed in every variant (common random
  numbers), so each difference compares two worlds that differ only by the mechanism;
* ``ci_low`` … ``ci_high``: its 95 % percentile bootstrap interval (``resamples``
  resamples of the replicates' differences, from a seeded numpy Generator, so the table
  is reproducible);
* ``verdict``: ``no detectable difference`` when the interval contains 0, else
  ``higher``/``lower`` (with ``better``/``worse`` for metrics that have a direction).

The reference is a variant named by ``reference`` (default: the sweep file's
``reference:``, else the variant called ``none``; otherwise it must be named). It appears in the table as its own rows (``reference``
verdict) and in every row's ``reference`` column — never implied by row order.

Missing values. A metric can be NaN (``adversary_capture`` is NaN when the adversaries'
value share is under 1 %), and a failed run has no value at all. ``mean`` uses the
replicates where the metric is finite (``n_values`` of them); ``diff`` and its interval
use the replicates where both the variant and the reference are finite (``n_pairs``);
``dropped`` counts the replicates left out of the pairs. With fewer than 2 pairs there
is no interval (``verdict`` says so).

Sweeps with a grid or sample compare variants within each point: the table gains the
``point`` and parameter columns. The chart (one panel per metric: each variant's paired
difference as a dot with its interval, a line at 0) and the tables are written into the
sweep folder: ``comparison.csv``, ``comparison.png``, ``summary_by_variant.csv`` (mean of
every numeric KPI per variant and point).
"""

from __future__ import annotations

import math
import os
import textwrap
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ledgerlab.analysis.results import Results
    from ledgerlab.scenarios.sweep import Sweep
    from ledgerlab.scenarios.variants import VariantSet

__all__ = [
    "DEFAULT_METRICS",
    "DEFAULT_REPLICATES",
    "METRICS",
    "OUTPUT_FILES",
    "ComparisonError",
    "Metric",
    "compare",
    "compare_results",
    "format_table",
    "plot_comparison",
]

DEFAULT_REPLICATES = 10
"""Replicates per variant when neither the call nor the file says (runs)."""

DEFAULT_RESAMPLES = 4_000
"""Bootstrap resamples per interval."""

BOOTSTRAP_SEED = 20_240_611
"""Seed of the bootstrap's Generator (with the row index: reproducible intervals)."""

OUTPUT_FILES = ("comparison.csv", "comparison.png", "summary_by_variant.csv")
"""What a comparison writes into its sweep folder."""

TABLE_COLUMNS = (
    "metric",
    "variant",
    "reference",
    "n_values",
    "mean",
    "sd",
    "n_pairs",
    "dropped",
    "diff",
    "ci_low",
    "ci_high",
    "verdict",
)
"""The comparison table's columns after the point columns (for grids and samples)."""


class ComparisonError(ValueError):
    """A comparison cannot be made (unknown metric or reference, one variant only)."""


@dataclass(frozen=True)
class Metric:
    """How a summary KPI is shown: label, unit after scaling, scale, better direction."""

    name: str
    label: str
    unit: str
    scale: float = 1.0
    better: str | None = None  # "higher", "lower" or None

    def difference_unit(self) -> str:
        return "percentage points" if self.unit == "%" else self.unit


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("adversary_reward_share", "adversary reward share", "%", 100.0, "lower"),
        Metric("excess_share", "excess share (reward − fair share)", "%", 100.0, "lower"),
        Metric("total_overpayment_usd", "overpayment to adversaries", "USD", 1.0, "lower"),
        Metric("accuracy_lost_to_attack", "accuracy lost vs honest-only twin", "%", 100.0, "lower"),
        Metric("spearman_honest", "Spearman ρ among honest providers", "ρ", 1.0, "higher"),
        Metric("honest_provider_net_usd", "honest providers' net income", "USD", 1.0, "higher"),
        Metric("accuracy", "clean accuracy", "%", 100.0, "higher"),
        Metric(
            "adversary_capture", "adversary capture (reward ÷ value share)", "ratio", 1.0, "lower"
        ),
        Metric("attack_success", "backdoor attack success", "%", 100.0, "lower"),
        Metric("spearman", "Spearman ρ (reward vs value)", "ρ", 1.0, "higher"),
        Metric("proportionality_gap", "proportionality gap", "0..1", 1.0, "lower"),
        Metric("price_usd", "token price", "USD", 1.0, None),
        Metric("total_points_rejected", "points rejected", "points", 1.0, None),
        Metric("total_defense_tx", "defence transactions", "tx", 1.0, None),
    )
}
"""Known metrics; any other numeric summary column works too (its unit read from its
name's suffix)."""

DEFAULT_METRICS = (
    "excess_share",
    "total_overpayment_usd",
    "honest_provider_net_usd",
    "accuracy_lost_to_attack",
    "accuracy",
)
"""Metrics compared when none are named."""

_SUFFIX_UNITS = {
    "_usd": "USD",
    "_tokens": "tokens",
    "_epochs": "epochs",
    "_share": "fraction",
    "_rate": "fraction",
    "_tx": "tx",
}


def metric_info(name: str) -> Metric:
    """The display info of a metric (a known one, or a unit from the name's suffix)."""
    if name in METRICS:
        return METRICS[name]
    if name.startswith("active_"):
        return Metric(name, name.replace("_", " "), "individuals")
    for suffix, unit in _SUFFIX_UNITS.items():
        if name.endswith(suffix):
            return Metric(name, name.replace("_", " "), unit)
    return Metric(name, name.replace("_", " "), f"units of {name}")


# ------------------------------------------------------------------------- statistics


def bootstrap_interval(
    differences: np.ndarray, rng: np.random.Generator, resamples: int = DEFAULT_RESAMPLES
) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the mean of ``differences`` (vectorised)."""
    d = np.asarray(differences, dtype=np.float64)
    n = d.size
    if n < 2:
        return math.nan, math.nan
    index = rng.integers(0, n, size=(resamples, n))
    means = d[index].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


FEW_PAIRS = 5
"""Below this many paired replicates the table warns that its intervals are indicative."""


def _verdict(metric: Metric, diff: float, low: float, high: float, n_pairs: int) -> str:
    if n_pairs == 0:
        return "n/a: no replicate where both have a value"
    if n_pairs < 2 or not (math.isfinite(low) and math.isfinite(high)):
        return "n/a: an interval needs at least 2 paired replicates"
    if low <= 0.0 <= high:
        return "no detectable difference"
    direction = "higher" if diff > 0 else "lower"
    if metric.better is None:
        return direction
    return f"{direction} ({'better' if direction == metric.better else 'worse'})"


# ---------------------------------------------------------------------------- table


def _parameters(results: Results) -> list[str]:
    from ledgerlab.sim.sweep import ID_COLUMNS

    fields = {
        *ID_COLUMNS,
        "status",
        "seconds",
        "error",
        "traceback",
        "host",
        "pid",
        "started",
        "finished",
        "path",
    }
    return [c for c in results.manifest.columns if c not in fields]


def compare_results(
    results: Results,
    *,
    reference: str | None = None,
    metrics: Sequence[str] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> pd.DataFrame:
    """The comparison table of a loaded sweep (``ledgerlab.load(OUT)``): one row per
    point, metric and variant (see the module docstring). ``table.attrs`` holds the
    reference, the metrics and the replicates."""
    summary = results.summary
    if summary.empty or "variant" not in summary.columns:
        raise ComparisonError(
            "compare: no finished run of a sweep to compare (every run failed or is pending; "
            "see the sweep's manifest.json)"
        )
    variants = list(pd.unique(results.manifest["variant"]))
    if len(variants) < 2:
        raise ComparisonError(
            f"compare: the sweep has one variant ({variants[0]}); a comparison needs at least "
            "two (add variants: to the sweep file)"
        )
    reference = _reference(reference, variants)
    names = list(metrics) if metrics else [m for m in DEFAULT_METRICS if m in summary.columns]
    numeric = [c for c in summary.columns if pd.api.types.is_numeric_dtype(summary[c])]
    unknown = [m for m in names if m not in summary.columns]
    if unknown:
        raise ComparisonError(
            f"compare: no metric {', '.join(map(repr, unknown))} in the run summaries; "
            f"numeric summary columns: {', '.join(sorted(numeric))}"
        )
    not_numeric = [m for m in names if m not in numeric]
    if not_numeric:
        raise ComparisonError(
            f"compare: {', '.join(map(repr, not_numeric))} is not numeric; choose among "
            f"{', '.join(sorted(numeric))}"
        )
    parameters = _parameters(results)
    expected = results.manifest.groupby(["variant", "point"]).size().to_dict()
    rows: list[dict[str, Any]] = []
    points = sorted(pd.unique(summary["point"])) if "point" in summary.columns else [0]
    several = len(points) > 1
    for point in points:
        at = summary[summary["point"] == point] if "point" in summary.columns else summary
        ref = at[at["variant"] == reference].set_index("replicate")
        point_cols: dict[str, Any] = {}
        if several:
            point_cols["point"] = int(point)
            first = at.iloc[0]
            for name in parameters:
                point_cols[name] = first.get(name)
        for name in names:
            info = metric_info(name)
            ref_values = pd.to_numeric(ref[name], errors="coerce")
            for variant in variants:
                rows_v = at[at["variant"] == variant].set_index("replicate")
                values = pd.to_numeric(rows_v[name], errors="coerce")
                finite = values[np.isfinite(values)]
                joined = pd.concat([values.rename("v"), ref_values.rename("r")], axis=1)
                pairs = joined[np.isfinite(joined["v"]) & np.isfinite(joined["r"])]
                diffs = (pairs["v"] - pairs["r"]).to_numpy(dtype=np.float64)
                n_pairs = int(diffs.size)
                planned = int(expected.get((variant, point), len(values)))
                row = {
                    **point_cols,
                    "metric": name,
                    "variant": variant,
                    "reference": reference,
                    "n_values": int(finite.size),
                    "mean": float(finite.mean()) if finite.size else math.nan,
                    "sd": float(finite.std(ddof=1)) if finite.size > 1 else math.nan,
                    "n_pairs": n_pairs,
                    "dropped": max(planned - n_pairs, 0),
                }
                if variant == reference:
                    row.update(diff=0.0, ci_low=math.nan, ci_high=math.nan, verdict="reference")
                else:
                    rng = np.random.default_rng([seed, len(rows)])
                    low, high = bootstrap_interval(diffs, rng, resamples)
                    diff = float(diffs.mean()) if n_pairs else math.nan
                    row.update(
                        diff=diff,
                        ci_low=low,
                        ci_high=high,
                        verdict=_verdict(info, diff, low, high, n_pairs),
                    )
                rows.append(row)
    table = pd.DataFrame(rows)
    table.attrs.update(
        reference=reference,
        metrics=names,
        replicates=int(results.manifest["replicate"].max()) + 1,
        resamples=resamples,
    )
    return table


def _reference(reference: str | None, variants: list[str]) -> str:
    if reference is None:
        if "none" in variants:
            return "none"
        raise ComparisonError(
            "compare: name the reference variant the others are compared with (--reference "
            f"NAME; variants: {', '.join(variants)}); without one, the variant called "
            "'none' is the reference"
        )
    if reference not in variants:
        raise ComparisonError(
            f"compare: no variant {reference!r} to use as the reference; variants: "
            f"{', '.join(variants)}"
        )
    return reference


def summary_by_variant(results: Results) -> pd.DataFrame:
    """Mean of every numeric KPI per variant (and point), with the number of runs."""
    from ledgerlab.sim.sweep import ID_COLUMNS

    summary = results.summary
    keys = ["variant", *(["point"] if "point" in summary.columns else [])]
    skip = set(ID_COLUMNS) | set(_parameters(results))
    numeric = [
        c for c in summary.columns if c not in skip and pd.api.types.is_numeric_dtype(summary[c])
    ]
    order = {name: i for i, name in enumerate(pd.unique(results.manifest["variant"]))}
    grouped = summary.groupby(keys, sort=False)
    table = grouped[numeric].mean()
    table.insert(0, "runs", grouped.size())
    table = table.reset_index()
    table["_rank"] = table["variant"].map(order)
    sort_keys = ["_rank", *keys[1:]]
    return table.sort_values(sort_keys).drop(columns="_rank").reset_index(drop=True)


# ---------------------------------------------------------------------------- text


def _decimals(values: Sequence[float]) -> int:
    """Decimals that show about 3 significant digits of the largest finite value."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]
    if not finite:
        return 2
    return int(min(4, max(0, 2 - math.floor(math.log10(max(finite))))))


def _number(value: float, decimals: int, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if round(value, decimals) == 0:
        value = 0.0  # no "-0.00"
    return f"{value:+,.{decimals}f}" if signed else f"{value:,.{decimals}f}"


def format_table(table: pd.DataFrame) -> str:
    """The comparison as aligned text, one block per metric (and point), values in the
    metric's display unit (shares in %, their differences in percentage points)."""
    reference = table.attrs.get("reference", table["reference"].iloc[0] if len(table) else "")
    replicates = table.attrs.get("replicates")
    lines = [
        f"reference: {reference}; mean over replicates ({replicates} per variant), paired "
        f"difference from {reference} (same seeds) with its 95 % bootstrap interval"
    ]
    point_cols = [c for c in table.columns if c not in TABLE_COLUMNS]
    group_keys = [*point_cols, "metric"] if point_cols else ["metric"]
    for keys, block in table.groupby(group_keys, sort=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        name = keys[-1]
        info = metric_info(name)
        better = f"; {info.better} is better" if info.better else ""
        where = ""
        if point_cols:
            where = " at " + ", ".join(
                f"{k}={v}" for k, v in zip(point_cols, keys[:-1], strict=True)
            )
        lines.append("")
        lines.append(f"{info.label} ({info.unit}{better}){where}")
        cells = [("variant", "mean", f"diff ({info.difference_unit()})", "95 % interval", "n", "")]
        level = _decimals([v * info.scale for v in block["mean"]])
        spread = _decimals([v * info.scale for v in block["diff"]])
        places = max(level, min(spread, level + 2))
        for _, row in block.iterrows():
            if row["verdict"] == "reference":
                diff, ci, verdict = "", "", "reference"
            else:
                diff = _number(row["diff"] * info.scale, places, signed=True)
                ci = (
                    f"[{_number(row['ci_low'] * info.scale, places, True)}, "
                    f"{_number(row['ci_high'] * info.scale, places, True)}]"
                    if math.isfinite(row["ci_low"])
                    else "n/a"
                )
                verdict = row["verdict"]
            n = f"{row['n_pairs']}" if row["verdict"] != "reference" else f"{row['n_values']}"
            mean = _number(row["mean"] * info.scale, level)
            cells.append((str(row["variant"]), mean, diff, ci, n, verdict))
        widths = [max(len(c[i]) for c in cells) for i in range(5)]
        for cell in cells:
            text = (
                f"  {cell[0]:<{widths[0]}}  {cell[1]:>{widths[1]}}  {cell[2]:>{widths[2]}}  "
                f"{cell[3]:^{widths[3]}}  {cell[4]:>{widths[4]}}  {cell[5]}"
            )
            lines.append(text.rstrip())
    lines.append("")
    lines.append(
        "n: replicates paired with the reference (reference rows: replicates with a value); "
        "n/a: no value (e.g. capture when adversaries hold under 1 % of the value)"
    )
    pairs = table.loc[table["verdict"] != "reference", "n_pairs"]
    fewest = int(pairs.min()) if len(pairs) else 0
    if 0 < fewest < FEW_PAIRS:
        lines.append(
            f"caution: {fewest} paired replicates; a bootstrap interval over so few spans "
            f"little more than the pairs themselves: read the verdicts as indicative and use "
            f"--replicates {DEFAULT_REPLICATES} before deciding anything"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- chart


def plot_comparison(table: pd.DataFrame) -> Figure:
    """One panel per metric: each variant's paired difference from the reference as a dot
    with its 95 % interval, a vertical line at 0, units on the axis. Dots whose interval
    excludes 0 are filled (green when better, red when worse, blue without a direction);
    hollow grey dots are no detectable difference."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    reference = table.attrs.get("reference", table["reference"].iloc[0])
    metrics = list(pd.unique(table["metric"]))
    point_cols = [c for c in table.columns if c not in TABLE_COLUMNS]
    rows = table[table["verdict"] != "reference"].copy()
    if point_cols:
        rows["label"] = rows["variant"] + " @ p" + rows["point"].astype(str)
    else:
        rows["label"] = rows["variant"]
    labels = list(pd.unique(rows["label"]))
    ncols = 2 if len(metrics) > 1 else 1
    nrows = math.ceil(len(metrics) / ncols)
    height = max(2.2, 0.32 * len(labels) + 1.4)
    fig = Figure(figsize=(6.4 * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)  # never switches the user's backend (a notebook stays inline)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, name in enumerate(metrics):
        ax = axes[k // ncols][k % ncols]
        info = metric_info(name)
        block = rows[rows["metric"] == name].set_index("label").reindex(labels)
        y = np.arange(len(labels))[::-1]
        for yi, (_, row) in zip(y, block.iterrows(), strict=True):
            _draw_difference(ax, yi, row, info.scale)
        ax.axvline(0.0, color="black", lw=0.9)
        ax.set_yticks(y, labels)
        ax.set_ylim(-0.7, len(labels) - 0.3)
        ax.margins(x=0.08)
        better = f"; {info.better} is better" if info.better else ""
        ref_rows = table[(table["metric"] == name) & (table["verdict"] == "reference")]
        level = ""
        if len(ref_rows) == 1 and math.isfinite(ref_rows["mean"].iloc[0]):
            value = ref_rows["mean"].iloc[0] * info.scale
            level = f" ({reference}: {_number(value, _decimals([value]))} {info.unit})"
        ax.set_title(textwrap.fill(f"{info.label}{level}{better}", 62), fontsize=10)
        ax.set_xlabel(f"difference from {reference} ({info.difference_unit()})")
        ax.grid(axis="x", color="0.9")
    for k in range(len(metrics), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    replicates = table.attrs.get("replicates")
    legend = (
        f"Paired difference from '{reference}' over {replicates} replicates: dot = mean "
        "difference, bar = 95 % bootstrap interval; green = better, red = worse, blue = "
        "higher/lower, hollow = no detectable difference, x = too few pairs for an interval"
    )
    fig.suptitle(textwrap.fill(legend, 70 * ncols), fontsize=9)
    return fig


def _draw_difference(ax: Any, yi: float, row: pd.Series, scale: float) -> None:
    """One variant's paired difference: a dot and its interval bar, coloured by verdict;
    without an interval (fewer than 2 pairs) a grey cross labelled so, never a hollow dot
    that would read as "no detectable difference"."""
    diff = row["diff"] * scale if math.isfinite(row["diff"]) else math.nan
    low, high = row["ci_low"] * scale, row["ci_high"] * scale
    if not math.isfinite(diff):
        ax.annotate("n/a", (0, yi), ha="center", va="center", fontsize=8, color="0.4")
        return
    if not (math.isfinite(low) and math.isfinite(high)):
        ax.plot(diff, yi, "x", color="0.4", ms=7, mew=1.6, zorder=3)
        ax.annotate("  no interval", (diff, yi), va="center", fontsize=8, color="0.4")
        return
    ax.plot([low, high], [yi, yi], color="0.35", lw=1.6, solid_capstyle="butt")
    ax.plot([low, low], [yi - 0.15, yi + 0.15], color="0.35", lw=1.2)
    ax.plot([high, high], [yi - 0.15, yi + 0.15], color="0.35", lw=1.2)
    verdict = str(row["verdict"])
    if "better" in verdict:
        color = "tab:green"
    elif "worse" in verdict:
        color = "tab:red"
    elif verdict in ("higher", "lower"):
        color = "tab:blue"
    else:
        ax.plot(diff, yi, "o", mfc="white", mec="0.35", mew=1.4, ms=6, zorder=3)
        return
    ax.plot(diff, yi, "o", color=color, ms=6, zorder=3)


# ---------------------------------------------------------------------------- runner


def _as_sweep(source: Any) -> Sweep:
    from ledgerlab.scenarios.sweep import Sweep, load_sweep
    from ledgerlab.scenarios.variants import VariantSet

    if isinstance(source, Sweep):
        return source
    if isinstance(source, VariantSet):
        return _from_variant_set(source)
    return load_sweep(source)


def _from_variant_set(vs: VariantSet) -> Sweep:
    from ledgerlab.scenarios.sweep import Sweep

    return Sweep(
        source=str(vs.source),
        name=Path(vs.source).stem or vs.base.name,
        text="",
        base=vs.base,
        variants=dict(vs.variants),
        overrides={name: {} for name in vs.variants},
        parameters=(),
        points=({},),
        replicates=1,
        seed=vs.base.seed,
        has_variants=True,
    )


def _file_reference(results: Results) -> str | None:
    """The ``reference:`` of the sweep a loaded sweep came from, if any."""
    import json

    folders = list(results.paths.values())
    if not folders:
        return None
    try:
        identity = json.loads((folders[0].parent.parent / "sweep.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return identity.get("reference")


def prepare_sweep(
    source: Any, *, replicates: int | None = None, epochs: int | None = None
) -> Sweep:
    """The sweep a comparison runs: ``replicates`` (else the file's, else
    :data:`DEFAULT_REPLICATES`) and an ``epochs`` override."""
    sweep = _as_sweep(source)
    if replicates is None:
        replicates = sweep.replicates if sweep.replicates_given else DEFAULT_REPLICATES
    sweep = sweep.with_replicates(replicates)
    if epochs is not None:
        sweep = sweep.with_overrides({"epochs": epochs}, source="--epochs")
    return sweep


def compare(
    source: Any,
    *,
    replicates: int | None = None,
    reference: str | None = None,
    metrics: Sequence[str] | None = None,
    out: str | Path | None = None,
    epochs: int | None = None,
    workers: int | None = None,
    dask: bool = False,
    cluster: str | None = None,
    client: Any = None,
    resume: bool = False,
    force: bool = False,
    progress: bool | None = None,
    resamples: int = DEFAULT_RESAMPLES,
) -> pd.DataFrame:
    """Run a comparison and return its table (see the module docstring).

    Args:
        source: A sweep or variant file (path or shipped name), a :class:`Sweep`, a
            ``VariantSet``, a sweep folder already run, or loaded sweep ``Results``
            (the last two are only tabulated).
        replicates: Seeds per variant (default: the file's ``replicates:``, else 10).
        reference: The variant the others are compared with (default: the file's
            ``reference:``, else ``none``).
        metrics: Summary KPIs to compare (default :data:`DEFAULT_METRICS`).
        out: The sweep folder (default ``results/<name>-<digest>``); the tables and the
            chart are written into it.
        epochs, workers, dask, cluster, client, resume, force, progress: as for
            :func:`ledgerlab.sim.sweep.run_sweep` (``epochs`` overrides the horizon).
        resamples: Bootstrap resamples per interval.

    ``table.attrs`` holds ``reference``, ``metrics``, ``replicates``, ``out`` and the
    sweep ``report`` (failed runs are counted there).
    """
    from ledgerlab.analysis.results import Results, load
    from ledgerlab.sim.output import read_marker
    from ledgerlab.sim.sweep import default_folder, run_sweep

    report = None
    if isinstance(source, Results):
        results, folder = source, None
        reference = reference or _file_reference(results)
    elif isinstance(source, str | Path) and Path(source).is_dir():
        marker = read_marker(Path(source))
        if marker is None or marker.get("kind") != "sweep":
            raise ComparisonError(
                f"compare: {source} is a folder but not a sweep folder; give a sweep file "
                "or a folder written by ledgerlab sweep / compare"
            )
        folder = Path(source)
        results = load(folder)
        reference = reference or _file_reference(results)
    else:
        sweep = prepare_sweep(source, replicates=replicates, epochs=epochs)
        if len(sweep.variants) < 2:
            raise ComparisonError(
                f"compare: {sweep.source} has one variant; a comparison needs at least two "
                "(add variants: to the sweep file)"
            )
        reference = reference or sweep.reference
        _reference(reference, list(sweep.variants))  # a bad name fails before any run
        folder = Path(out) if out is not None else default_folder(sweep)
        report = run_sweep(
            sweep,
            folder,
            workers=workers,
            dask=dask,
            cluster=cluster,
            client=client,
            resume=resume,
            force=force,
            progress=progress,
        )
        results = load(folder)
    table = compare_results(results, reference=reference, metrics=metrics, resamples=resamples)
    if folder is not None:
        write_outputs(table, results, folder)
    table.attrs.update(out=folder, report=report)
    return table


def write_outputs(table: pd.DataFrame, results: Results, folder: Path) -> list[Path]:
    """Write ``comparison.csv``, ``comparison.png`` and ``summary_by_variant.csv`` into
    the sweep folder (each through a temporary file renamed into place)."""

    def replace(name: str, write: Any) -> Path:
        target = folder / name
        tmp = folder / f".{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            write(tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return target

    written = [
        replace("comparison.csv", lambda p: table.to_csv(p, index=False)),
        replace(
            "summary_by_variant.csv",
            lambda p: summary_by_variant(results).to_csv(p, index=False),
        ),
    ]
    figure = plot_comparison(table)
    written.append(replace("comparison.png", lambda p: figure.savefig(p, dpi=130, format="png")))
    return written
