"""Global sensitivity of a sweep's output metric: Morris screening and Sobol' indices (SALib).

``ledgerlab sensitivity OUT --metric NAME`` (and :func:`analyse` in Python) answers "which
of the swept parameters moves this metric, and how much?" for a finished sweep whose
``sample:`` section used a sensitivity design (see :mod:`ledgerlab.scenarios.sweep`):

* ``method: morris`` → **Morris elementary effects** (screening, cheap: ``n·(D+1)``
  points). Per parameter: ``mu_star`` μ* (mean absolute elementary effect: how strongly the
  parameter moves the metric), ``mu_star_conf`` (half-width of its 95 % bootstrap interval
  over trajectories), ``mu`` (mean signed effect: its direction) and ``sigma`` σ (spread of
  the effects: non-linearity or interactions). Effects are in the **metric's units per
  full range** of the parameter (per full range of its logarithm for a ``log: true`` range):
  each step of a trajectory moves one parameter by Δ = L/(2(L−1)) of its range on an
  L-level grid, and the metric's change is divided by Δ.
* ``method: saltelli`` → **Sobol' variance-based indices** (``N·(2D+2)`` points). Per
  parameter: ``S1`` (first order: the share of the metric's variance the parameter
  explains alone), ``ST`` (total order: its share including all its interactions), each
  with ``*_conf``, the half-width of its 95 % bootstrap interval. Indices are fractions of
  the variance (0..1; estimates may stray slightly outside with few points). ``S2``
  (second order, pairs) is in :func:`analyse`'s ``attrs["second_order"]`` when the design
  has it. ``ST − S1`` large means the parameter acts through interactions.

How a sweep becomes one design per group:

* **Replicates are averaged**: the metric is averaged over the replicates of each point
  before the analysis (the indices describe the expected metric; replicate noise that
  does not average out shows up as wider intervals and, for Morris, as σ).
* **Every point is needed.** Saltelli and Morris designs are structured (Saltelli's cross
  matrices, Morris' one-at-a-time trajectories): a missing point breaks them. A point whose
  runs all failed (or are still pending), or whose metric is NaN, is an error naming how
  many are missing; ``ledgerlab sweep FILE --out OUT --resume`` reruns failed runs.
* **Groups.** The sample rows vary fastest among a sweep's points, so every grid/zip row
  and every variant holds one complete design: each such group is analysed on its own
  (column ``group`` names its grid/zip values, column ``variant`` the variant).
* The design (method, parameters, bounds, seed) is read from the sweep folder: the
  ``design`` record of ``sweep.json`` when present, else rebuilt from ``sweep.yaml``, the
  base scenario (``base.resolved.yaml``) and the master seed, and checked against the
  parameter values the runs recorded.

SALib is the optional extra ``sensitivity``; without it :func:`analyse` raises
:class:`SalibMissingError` saying ``pip install 'ledgerlab[sensitivity]'``. The pure
functions :func:`morris_indices` and :func:`sobol_indices` take a SALib problem, the
inputs and outputs of any model (e.g. the Ishigami function in the tests).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ledgerlab.analysis.results import Results
    from ledgerlab.scenarios.sweep import SampleDesign

__all__ = [
    "CONF_LEVEL",
    "INSTALL_HINT",
    "METHODS",
    "OUTPUT_DIR",
    "OUTPUT_FILES",
    "SalibMissingError",
    "SensitivityError",
    "analyse",
    "available_metrics",
    "format_table",
    "load_design",
    "morris_indices",
    "plot",
    "sobol_indices",
    "write",
]

METHODS = ("morris", "sobol")
"""Analyses offered: Morris screening (design ``morris``), Sobol' indices (``saltelli``)."""

_DESIGN_FOR = {"morris": "morris", "sobol": "saltelli"}
"""The ``sample.method`` each analysis needs."""

CONF_LEVEL = 0.95
"""Confidence level of the bootstrap intervals (fraction)."""

INSTALL_HINT = "pip install 'ledgerlab[sensitivity]'"
"""How to install SALib."""

OUTPUT_DIR = "sensitivity"
"""Default output folder inside the sweep folder."""

OUTPUT_FILES = ("sensitivity.csv", "sensitivity.png")
"""Files :func:`write` always writes (``sensitivity_s2.csv`` too for second-order indices)."""

ID_COLUMNS = ("run_id", "variant", "point", "replicate", "seed")


class SensitivityError(ValueError):
    """A sensitivity analysis cannot be done as asked; the message says what to fix."""


class SalibMissingError(SensitivityError):
    """SALib (the extra ``sensitivity``) is not installed."""


def _salib(module: str) -> Any:
    """``SALib.<module>``, or :class:`SalibMissingError` with the install command."""
    try:
        return importlib.import_module(f"SALib.{module}")
    except ImportError:
        raise SalibMissingError(
            f"sensitivity analysis needs SALib, which is not installed: {INSTALL_HINT}"
        ) from None


def require_salib() -> None:
    """Raise :class:`SalibMissingError` unless SALib's Morris and Sobol' analyses import."""
    _salib("analyze.morris")
    _salib("analyze.sobol")


# ------------------------------------------------------------------ pure index functions


def _problem_names(problem: Mapping[str, Any]) -> list[str]:
    names = problem.get("names")
    if names is None:
        raise SensitivityError("problem: needs 'names' (one per parameter)")
    return [str(n) for n in names]


def _bootstrap_seed(seed: int) -> int:
    """A non-zero integer seed for SALib's bootstrap derived from ``seed`` (SALib's Sobol'
    analysis ignores a seed of 0 and then draws from numpy's global state)."""
    return int(np.random.SeedSequence(int(seed)).generate_state(1)[0]) | 1


def _vector(values: Any, where: str) -> np.ndarray:
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(y)):
        bad = int(np.sum(~np.isfinite(y)))
        raise SensitivityError(f"{where}: {bad} of {y.size} outputs are NaN or infinite")
    return y


def sobol_indices(
    problem: Mapping[str, Any],
    Y: Any,
    *,
    calc_second_order: bool = True,
    num_resamples: int = 1000,
    conf_level: float = CONF_LEVEL,
    seed: int = 0,
) -> pd.DataFrame:
    """Sobol' indices of outputs ``Y`` of a Saltelli design (``SALib.sample.sobol``).

    Returns one row per parameter (problem order): ``parameter``, ``S1``, ``S1_conf``,
    ``ST``, ``ST_conf`` (fractions of the output variance; ``*_conf`` the half-width of the
    ``conf_level`` bootstrap interval). With ``calc_second_order`` the frame's
    ``attrs["second_order"]`` holds one record (``parameter``, ``other``, ``S2``,
    ``S2_conf``) per pair: ``pd.DataFrame(table.attrs["second_order"])``.
    The bootstrap is seeded (``seed``), so the intervals are reproducible.
    """
    names = _problem_names(problem)
    d = len(names)
    y = _vector(Y, "sobol_indices")
    per = 2 * d + 2 if calc_second_order else d + 2
    if y.size % per or y.size < 2 * per:
        raise SensitivityError(
            f"sobol_indices: {y.size} outputs do not fill a Saltelli design of {d} parameters "
            f"({per} rows per base sample, at least 2 base samples"
            f"{', with second order' if calc_second_order else ''})"
        )
    if np.ptp(y) == 0:
        raise SensitivityError(
            f"the output is the same ({y[0]:g}) at every point: it has no variance to "
            "attribute to the parameters"
        )
    analyze = _salib("analyze.sobol")
    si = analyze.analyze(
        dict(problem),
        y,
        calc_second_order=calc_second_order,
        num_resamples=num_resamples,
        conf_level=conf_level,
        seed=_bootstrap_seed(seed),
    )
    table = pd.DataFrame(
        {
            "parameter": names,
            "S1": np.asarray(si["S1"], dtype=float),
            "S1_conf": np.asarray(si["S1_conf"], dtype=float),
            "ST": np.asarray(si["ST"], dtype=float),
            "ST_conf": np.asarray(si["ST_conf"], dtype=float),
        }
    )
    if calc_second_order:
        rows = [
            {
                "parameter": names[i],
                "other": names[j],
                "S2": float(si["S2"][i, j]),
                "S2_conf": float(si["S2_conf"][i, j]),
            }
            for i in range(d)
            for j in range(i + 1, d)
        ]
        table.attrs["second_order"] = rows
    return table


def morris_indices(
    problem: Mapping[str, Any],
    X: Any,
    Y: Any,
    *,
    num_levels: int = 4,
    num_resamples: int = 1000,
    conf_level: float = CONF_LEVEL,
    seed: int = 0,
) -> pd.DataFrame:
    """Morris elementary-effect statistics of outputs ``Y`` at the trajectories ``X``
    (``SALib.sample.morris``, ``num_levels`` as sampled).

    ``X`` only tells which parameter moved at each step and in which direction: SALib
    divides each output change by the grid step Δ = L/(2(L−1)) of a unit range, so the
    effects are in the output's units **per full range** of each parameter, whatever the
    bounds. Returns one row per parameter (problem order): ``parameter``, ``mu_star``,
    ``mu_star_conf`` (half-width of the ``conf_level`` bootstrap interval), ``mu``,
    ``sigma``.
    """
    names = _problem_names(problem)
    d = len(names)
    x = np.asarray(X, dtype=np.float64)
    y = _vector(Y, "morris_indices")
    if x.ndim != 2 or x.shape[1] != d or x.shape[0] != y.size:
        raise SensitivityError(
            f"morris_indices: X has shape {x.shape}, Y has {y.size} values; expected X of "
            f"shape ({y.size}, {d})"
        )
    if y.size % (d + 1) or y.size < 2 * (d + 1):
        raise SensitivityError(
            f"morris_indices: {y.size} outputs do not fill trajectories of {d + 1} points "
            "(at least 2 trajectories)"
        )
    analyze = _salib("analyze.morris")
    si = analyze.analyze(
        dict(problem),
        x,
        y,
        num_resamples=num_resamples,
        conf_level=conf_level,
        num_levels=num_levels,
        seed=_bootstrap_seed(seed),
    )
    return pd.DataFrame(
        {
            "parameter": names,
            "mu_star": np.asarray(si["mu_star"], dtype=float),
            "mu_star_conf": np.asarray(si["mu_star_conf"], dtype=float),
            "mu": np.asarray(si["mu"], dtype=float),
            "sigma": np.asarray(si["sigma"], dtype=float),
        }
    )


# ---------------------------------------------------------------------- sweep folders


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SensitivityError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise SensitivityError(f"{path} is not a sweep record")
    return data


def _check_folder(folder: Path) -> None:
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise SensitivityError(
            f"sensitivity: {folder} {what}; give the folder `ledgerlab sweep` wrote"
        )
    if not (folder / "sweep.json").is_file():
        raise SensitivityError(
            f"sensitivity: {folder} is not a sweep folder (no sweep.json); run the sweep "
            "first: ledgerlab sweep FILE --out FOLDER"
        )


def load_design(folder: str | os.PathLike[str]) -> SampleDesign:
    """The sample design of a sweep folder (see the module docstring for where it comes
    from). Raises :class:`SensitivityError` if the sweep has no ``sample:`` section."""
    from ledgerlab.scenarios import ScenarioError, load
    from ledgerlab.scenarios.sweep import SampleDesign, design_from_text

    root = Path(folder)
    _check_folder(root)
    identity = _read_json(root / "sweep.json")
    record = identity.get("design")
    if isinstance(record, Mapping):
        try:
            return SampleDesign.from_record(record)
        except ImportError:
            require_salib()
            raise
    text_file, base_file = root / "sweep.yaml", root / "base.resolved.yaml"
    try:
        text = text_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SensitivityError(f"cannot read {text_file}: {exc.strerror or exc}") from None
    seed = identity.get("master_seed")
    if not isinstance(seed, int):
        raise SensitivityError(f"{root / 'sweep.json'} does not record the master seed")
    try:
        base = load(base_file)
        design = design_from_text(text, base, seed, source=str(text_file))
    except ScenarioError as error:
        raise SensitivityError(
            f"cannot rebuild the sample design of {root}: {error.problems[0]}"
        ) from None
    if design is None and text.lstrip().startswith("# built in Python"):
        raise SensitivityError(
            f"{root} holds a sweep built in Python, whose folder does not record its sample "
            "design; pass it: analyse(folder, metric, design=sweep.design)"
        )
    if design is None:
        raise SensitivityError(
            f"{root} is a sweep without a sample: section; Morris and Sobol' indices need a "
            "sweep whose sample: uses method: morris or method: saltelli"
        )
    return design


def available_metrics(summary: pd.DataFrame, parameters: Sequence[str] = ()) -> list[str]:
    """Numeric summary columns that can be analysed (not ids, not swept parameters)."""
    skip = set(ID_COLUMNS) | set(parameters) | {"epochs"}
    return [
        c
        for c in summary.columns
        if c not in skip
        and pd.api.types.is_numeric_dtype(summary[c])
        and not pd.api.types.is_bool_dtype(summary[c])
    ]


def _summary_columns(folder: Path) -> dict[str, bool] | None:
    """Column name → numeric? of a sweep's summaries (the compacted file, else a finished
    run's), or None before any run finished."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    candidates = [folder / "summary.parquet"]
    runs = folder / "runs"
    if runs.is_dir():
        candidates += sorted(runs.glob("*/summary.parquet"))[:1]
    for file in candidates:
        if file.is_file():
            try:
                schema = pq.read_schema(file)
            except (OSError, pa.ArrowInvalid):
                continue
            return {
                f.name: pa.types.is_integer(f.type) or pa.types.is_floating(f.type) for f in schema
            }
    return None


def _load_folder(folder: Path, metric: str) -> Results:
    from ledgerlab.analysis.results import load

    identity = _read_json(folder / "sweep.json")
    parameters = [str(p) for p in identity.get("parameters", [])]
    columns = _summary_columns(folder)
    if columns is None:
        raise SensitivityError(
            f"sensitivity: {folder} holds no finished run yet; run or resume the sweep first"
        )
    if metric not in columns:
        skip = set(ID_COLUMNS) | set(parameters) | {"epochs"}
        raise _unknown_metric(metric, [c for c, num in columns.items() if num and c not in skip])
    return load(folder, columns=[metric])


def _unknown_metric(metric: str, metrics: Sequence[str]) -> SensitivityError:
    import difflib

    close = difflib.get_close_matches(metric, list(metrics), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return SensitivityError(
        f"sensitivity: no summary metric {metric!r}{hint}; available: {', '.join(metrics)}"
    )


# ----------------------------------------------------------------------------- analyse


def _method_for(design: SampleDesign, method: str | None) -> str:
    wanted = {"saltelli": "sobol"}.get(method or "", method)
    if wanted is not None and wanted not in METHODS:
        raise SensitivityError(
            f"sensitivity: unknown method {method!r}; choose morris or sobol (or leave it out "
            "to use the sweep's design)"
        )
    own = {"saltelli": "sobol", "morris": "morris"}.get(design.method)
    if own is None:
        raise SensitivityError(
            f"sensitivity: this sweep's sample used method {design.method}, which supports "
            "neither analysis; Morris indices need `method: morris` and Sobol' indices "
            "`method: saltelli` in the sweep file's sample: section (then run it again)"
        )
    if wanted is not None and wanted != own:
        raise SensitivityError(
            f"sensitivity: {wanted} indices need a sweep sampled with method: "
            f"{_DESIGN_FOR[wanted]}, but this one used method: {design.method}; analyse it "
            f"with --method {own}, or run a {_DESIGN_FOR[wanted]} sweep"
        )
    return own


def _frame(source: Any) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(summary, manifest or None) of Results or a plain summary frame."""
    if isinstance(source, pd.DataFrame):
        return source, None
    summary = getattr(source, "summary", None)
    if not isinstance(summary, pd.DataFrame):
        raise SensitivityError(
            f"sensitivity: expected a sweep folder, Results or a summary DataFrame, got "
            f"{type(source).__name__}"
        )
    manifest = getattr(source, "manifest", None)
    return summary, manifest if isinstance(manifest, pd.DataFrame) else None


def _sweep_folder_of(results: Any) -> Path | None:
    paths = getattr(results, "paths", None) or {}
    for path in paths.values():
        folder = Path(path).parent.parent
        if (folder / "sweep.json").is_file():
            return folder
    return None


def _missing_message(
    metric: str,
    variant: str,
    missing: list[int],
    total: int,
    manifest: pd.DataFrame | None,
) -> str:
    shown = ", ".join(f"p{p}" for p in missing[:8]) + (", ..." if len(missing) > 8 else "")
    why = ""
    if manifest is not None and "status" in manifest.columns and "point" in manifest.columns:
        rows = manifest[(manifest["variant"] == variant) & manifest["point"].isin(missing)]
        counts = rows["status"].value_counts()
        parts = [f"{int(counts[s]):,} {s}" for s in ("failed", "pending") if s in counts]
        if parts:
            why = f"; their runs: {', '.join(parts)}"
    return (
        f"sensitivity: {len(missing):,} of {total:,} points of variant {variant} have no "
        f"finished run with a finite {metric} ({shown}){why}. Morris and Sobol' indices "
        "need every point of the design: rerun failed runs with `ledgerlab sweep FILE --out "
        "OUT --resume`, or choose a metric every run records"
    )


def _group_label(point: Mapping[str, Any]) -> str:
    """``path=value, ...`` of a group's grid/zip values ("" without any)."""
    parts = []
    for key, value in point.items():
        shown = f"{value:.6g}" if isinstance(value, float) else str(value)
        parts.append(f"{key}={shown}")
    return ", ".join(parts)


def analyse(
    source: str | os.PathLike[str] | Results | pd.DataFrame,
    metric: str,
    method: str | None = None,
    *,
    design: SampleDesign | None = None,
    num_resamples: int = 1000,
    conf_level: float = CONF_LEVEL,
    seed: int = 0,
) -> pd.DataFrame:
    """Morris or Sobol' indices of summary ``metric`` over a sweep's sample design.

    Args:
        source: A sweep folder, its :class:`~ledgerlab.analysis.results.Results`, or a
            summary frame with ``variant``, ``point`` and ``replicate`` columns (then pass
            ``design``).
        metric: A summary column, e.g. ``price_usd``,
            ``circulating_inflation_annualised_mean``, ``honest_provider_net_usd``.
        method: ``morris`` or ``sobol`` (``saltelli`` is read as ``sobol``); None: the one
            the sweep's design supports.
        design: The sweep's :class:`~ledgerlab.scenarios.sweep.SampleDesign` (default:
            read from the folder).
        num_resamples, conf_level, seed: The bootstrap of the intervals (seeded).

    Returns one row per (variant, group, parameter), sorted by importance within a group
    (ST, else μ*): ``variant``, ``group``, ``parameter``, ``low``, ``high``, ``log``, the
    indices (Morris: ``mu_star``, ``mu_star_conf``, ``mu``, ``sigma``; Sobol':
    ``S1``, ``S1_conf``, ``ST``, ``ST_conf``), then ``metric``, ``method``, ``points``
    (design rows), ``replicates`` (mean runs per point). ``attrs`` holds ``metric``,
    ``method``, ``conf_level``, ``design`` and, for Sobol' with second order,
    ``second_order`` (records: variant, group, parameter, other, ``S2``, ``S2_conf``).
    """
    require_salib()
    summary, manifest, design, swept = _inputs(source, metric, design)
    _check_summary(summary, metric, [*design.names, *swept])
    kind = _method_for(design, method)
    means = _point_means(summary, metric)
    n_points = _points_in(summary, manifest, design.rows)
    others = [c for c in swept if c in summary.columns and c not in design.names]
    bootstrap = {"num_resamples": num_resamples, "conf_level": conf_level, "seed": seed}
    frames: list[pd.DataFrame] = []
    second: list[pd.DataFrame] = []
    for variant in _variants_of(summary, manifest):
        y_all, reps = _variant_means(means, variant, n_points, metric, manifest)
        _check_values(summary, variant, design, n_points)
        groups = _group_tables(
            summary,
            variant,
            y_all,
            reps,
            design=design,
            kind=kind,
            metric=metric,
            others=others,
            bootstrap=bootstrap,
        )
        for table, pairs in groups:
            frames.append(table)
            if pairs is not None:
                second.append(pairs)
    return _combine(frames, second, kind=kind, metric=metric, conf_level=conf_level, design=design)


def _inputs(
    source: str | os.PathLike[str] | Results | pd.DataFrame,
    metric: str,
    design: SampleDesign | None,
) -> tuple[pd.DataFrame, pd.DataFrame | None, SampleDesign, list[str]]:
    """(summary, manifest or None, design, swept parameters) of what :func:`analyse` was
    given: a sweep folder is read (its ``metric`` only); Results or a frame are used as
    they are, with the design read from their sweep folder unless it is passed."""
    folder: Path | None
    if isinstance(source, str | os.PathLike):
        folder = Path(source)
        _check_folder(folder)
        design = design or load_design(folder)
        summary, manifest = _frame(_load_folder(folder, metric))
    else:
        summary, manifest = _frame(source)
        folder = _sweep_folder_of(source)
        if design is None:
            if folder is None:
                raise SensitivityError(
                    "sensitivity: pass design= (the sweep's Sweep.design) with a summary "
                    "frame, or give the sweep folder"
                )
            design = load_design(folder)
    if folder is not None:
        swept = [str(p) for p in _read_json(folder / "sweep.json").get("parameters", [])]
    else:  # a plain frame: swept parameters are the dotted field paths among its columns
        swept = [c for c in summary.columns if "." in str(c)]
    return summary, manifest, design, swept


def _check_summary(summary: pd.DataFrame, metric: str, parameters: Sequence[str]) -> None:
    """The summary must hold a numeric ``metric`` and the ``variant`` and ``point`` columns
    (an unknown metric is named with the ones it could be, ``parameters`` left out)."""
    if not isinstance(metric, str) or metric not in summary.columns:
        raise _unknown_metric(str(metric), available_metrics(summary, parameters))
    if not pd.api.types.is_numeric_dtype(summary[metric]):
        raise SensitivityError(f"sensitivity: {metric} is not numeric")
    for column in ("variant", "point"):
        if column not in summary.columns:
            raise SensitivityError(f"sensitivity: the summary has no {column!r} column")


def _point_means(summary: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean (``mean``) and count (``size``) of the finite ``metric`` values per (variant,
    point): replicates are averaged, failed or NaN runs left out."""
    values = summary[["variant", "point", metric]].copy()
    values[metric] = values[metric].astype(float)
    finite = values[np.isfinite(values[metric])]
    return finite.groupby(["variant", "point"], sort=False)[metric].agg(["mean", "size"])


def _variants_of(summary: pd.DataFrame, manifest: pd.DataFrame | None) -> list[str]:
    """The sweep's variants in order (the manifest's, which lists failed runs too, else the
    summary's)."""
    if manifest is not None and "variant" in manifest.columns:
        return list(pd.unique(manifest["variant"].astype(str)))
    return list(pd.unique(summary["variant"].astype(str)))


def _variant_means(
    means: pd.DataFrame,
    variant: str,
    n_points: int,
    metric: str,
    manifest: pd.DataFrame | None,
) -> tuple[np.ndarray, np.ndarray]:
    """(mean metric, replicates) at points 0..n_points−1 of ``variant``; an error naming
    the missing points if any point has no finite value."""
    got = means.loc[variant] if variant in means.index.get_level_values(0) else None
    have = set() if got is None else {int(p) for p in got.index}
    missing = [p for p in range(n_points) if p not in have]
    if missing:
        raise SensitivityError(_missing_message(metric, variant, missing, n_points, manifest))
    assert got is not None
    y_all = got["mean"].reindex(range(n_points)).to_numpy(dtype=float)
    reps = got["size"].reindex(range(n_points)).to_numpy(dtype=float)
    return y_all, reps


def _indices(
    kind: str,
    design: SampleDesign,
    problem: Mapping[str, Any],
    y: np.ndarray,
    bootstrap: Mapping[str, Any],
) -> tuple[pd.DataFrame, str]:
    """The indices of one design's outputs ``y`` and the column that ranks the parameters
    (``ST`` for Sobol', ``mu_star`` for Morris)."""
    if kind == "sobol":
        table = sobol_indices(
            problem, y, calc_second_order=bool(design.calc_second_order), **bootstrap
        )
        return table, "ST"
    table = morris_indices(
        problem, design.unit, y, num_levels=int(design.num_levels or 4), **bootstrap
    )
    return table, "mu_star"


def _group_tables(
    summary: pd.DataFrame,
    variant: str,
    y_all: np.ndarray,
    reps: np.ndarray,
    *,
    design: SampleDesign,
    kind: str,
    metric: str,
    others: Sequence[str],
    bootstrap: Mapping[str, Any],
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame | None]]:
    """For each group (one complete design) of ``variant``: its indices, most important
    parameter first, and its second-order pairs (None without)."""
    rows = design.rows
    problem = design.problem()
    for g in range(len(y_all) // rows):
        part = slice(g * rows, (g + 1) * rows)
        label = _group_label(_first_point(summary, variant, g * rows, others))
        where = f"{metric} in variant {variant}" + (f" ({label})" if label else "")
        try:
            table, order = _indices(kind, design, problem, y_all[part], bootstrap)
        except SensitivityError as error:
            raise SensitivityError(f"sensitivity of {where}: {error}") from None
        pairs = table.attrs.pop("second_order", None)
        table = table.assign(
            variant=variant,
            group=label,
            low=list(design.lows),
            high=list(design.highs),
            log=list(design.log),
        )
        table = table.sort_values(order, ascending=False, kind="stable")
        table = table.assign(
            metric=metric, method=kind, points=rows, replicates=float(np.mean(reps[part]))
        )
        yield table, pd.DataFrame(pairs).assign(variant=variant, group=label) if pairs else None


def _combine(
    frames: list[pd.DataFrame],
    second: list[pd.DataFrame],
    *,
    kind: str,
    metric: str,
    conf_level: float,
    design: SampleDesign,
) -> pd.DataFrame:
    """The groups' tables as one frame in :func:`analyse`'s column order, with its
    ``attrs`` (and the second-order pairs, if any)."""
    out = pd.concat(frames, ignore_index=True)
    index_columns = (
        ["S1", "S1_conf", "ST", "ST_conf"]
        if kind == "sobol"
        else ["mu_star", "mu_star_conf", "mu", "sigma"]
    )
    out = out[
        [
            "variant",
            "group",
            "parameter",
            "low",
            "high",
            "log",
            *index_columns,
            "metric",
            "method",
            "points",
            "replicates",
        ]
    ]
    out.attrs.update(metric=metric, method=kind, conf_level=conf_level, design=design)
    if second:
        pairs_frame = pd.concat(second, ignore_index=True)
        out.attrs["second_order"] = pairs_frame[
            ["variant", "group", "parameter", "other", "S2", "S2_conf"]
        ].to_dict("records")
    return out


def _points_in(summary: pd.DataFrame, manifest: pd.DataFrame | None, rows: int) -> int:
    """Points per variant in the sweep (from the manifest, else the summary), checked to be
    whole designs."""
    frame = manifest if manifest is not None and "point" in manifest.columns else summary
    n_points = int(frame["point"].max()) + 1 if len(frame) else 0
    if n_points == 0 or n_points % rows:
        raise SensitivityError(
            f"sensitivity: the sweep has {n_points:,} points per variant, not a whole number "
            f"of designs of {rows:,} rows; is this the sweep the design belongs to?"
        )
    return n_points


def _first_point(
    summary: pd.DataFrame, variant: str, point: int, columns: Sequence[str]
) -> dict[str, Any]:
    """The values of ``columns`` at one point of a variant."""
    rows = summary[(summary["variant"] == variant) & (summary["point"] == point)]
    if rows.empty:
        return {}
    row = rows.iloc[0]
    return {c: row[c] for c in columns}


def _check_values(summary: pd.DataFrame, variant: str, design: SampleDesign, n_points: int) -> None:
    """The parameter values the runs recorded must be the design's (else the design was
    rebuilt wrongly, or the folder holds another sweep)."""
    present = [n for n in design.names if n in summary.columns]
    if not present:
        return
    expected = pd.DataFrame(design.values())
    rows = summary[summary["variant"] == variant].drop_duplicates("point")
    index = rows["point"].to_numpy(dtype=int) % design.rows
    for name in present:
        got = rows[name].to_numpy(dtype=float)
        want = expected[name].to_numpy(dtype=float)[index]
        if not np.allclose(got, want, rtol=1e-9, atol=0.0):
            raise SensitivityError(
                f"sensitivity: the values of {name} in the runs are not the ones the sweep's "
                "sample design gives; the folder does not hold the sweep its sweep.yaml "
                "describes"
            )


# ------------------------------------------------------------------------ text & plots


def metric_unit(metric: str) -> str:
    """The unit of a metric from its name's suffix (``_usd`` → USD, ...)."""
    for suffix, unit in (
        ("_usd", "USD"),
        ("_tokens", "tokens"),
        ("_share", "fraction"),
        ("_ratio", "fraction"),
        ("_pct", "%"),
        ("_epochs", "epochs"),
    ):
        if metric.endswith(suffix):
            return unit
    if "inflation" in metric:
        return "fraction per year" if "annualised" in metric else "fraction per epoch"
    if metric in ("accuracy", "spearman", "kendall_tau", "gini_rewards", "attack_success"):
        return "unitless"
    return "metric units"


def _fmt(value: float) -> str:
    """3-4 significant digits; thousands and up with k/M/B/T suffixes."""
    if not math.isfinite(value):
        return "nan"
    size = abs(value)
    for threshold, scale, suffix in (
        (1e12, 1e12, "T"),
        (1e9, 1e9, "B"),
        (1e6, 1e6, "M"),
        (1e4, 1e3, "k"),
    ):
        if size >= threshold:
            return f"{value / scale:.3g}{suffix}"
    if value != 0 and size < 1e-3:
        return f"{value:.3g}"
    return f"{value:,.4g}" if size >= 1 else f"{value:.3f}"


def _tick(value: float, _pos: Any = None) -> str:
    return "0" if value == 0 else _fmt(value)


def _short(name: str, width: int) -> str:
    """``name`` in ``width`` characters: leading dotted sections dropped first (``…``)."""
    if len(name) <= width:
        return name
    parts = name.split(".")
    while len(parts) > 1:
        parts = parts[1:]
        shown = "…" + ".".join(parts)
        if len(shown) <= width:
            return shown
    return "…" + name[-(width - 1) :]


def format_table(table: pd.DataFrame, width: int = 100) -> str:
    """The indices as an aligned text table (at most ``width`` characters a line), one
    block per variant and group, most important parameter first."""
    if table.empty:
        return "(no indices)"
    metric = str(table["metric"].iloc[0])
    kind = str(table["method"].iloc[0])
    unit = metric_unit(metric)
    level = float(table.attrs.get("conf_level", CONF_LEVEL))
    pct = f"{100 * level:.0f} %"
    reps = float(table["replicates"].mean())
    if kind == "sobol":
        intro = (
            f"Sobol' indices of {metric}: S1 first order (alone), ST total (with "
            f"interactions), as shares of its variance (0-1); ± = half-width of the {pct} "
            "bootstrap interval."
        )
        headers = ["S1", f"±{pct}", "ST", f"±{pct}"]
        cols = ["S1", "S1_conf", "ST", "ST_conf"]
    else:
        intro = (
            f"Morris effects on {metric} in {unit} per full range of each parameter (of its "
            f"log for (log) ranges): μ* mean |effect|, μ mean effect, σ their spread; ± = "
            f"half-width of the {pct} bootstrap interval of μ*."
        )
        headers = ["μ*", f"±{pct}", "μ", "σ"]
        cols = ["mu_star", "mu_star_conf", "mu", "sigma"]
    intro += (
        f" {int(table['points'].iloc[0]):,} design points per group; the metric is averaged "
        f"over the {reps:.3g} replicate(s) of each point."
    )
    lines = textwrap.wrap(intro, width=width)
    cell = 10
    name_width = max(20, width - len(cols) * (cell + 1))
    longest = max(
        len(p) + (6 if log else 0) for p, log in zip(table["parameter"], table["log"], strict=True)
    )
    name_width = min(name_width, max(longest, len("parameter")))
    for (variant, group), block in table.groupby(["variant", "group"], sort=False):
        lines.append("")
        title = f"variant {variant}" + (f", {group}" if group else "")
        lines.append(textwrap.shorten(title, width=width, placeholder=" …"))
        head = f"{'parameter':<{name_width}}" + "".join(f" {h:>{cell}}" for h in headers)
        lines.append(head)
        for _, row in block.iterrows():
            label = str(row["parameter"]) + (" (log)" if bool(row["log"]) else "")
            label = _short(label, name_width)
            cells = "".join(f" {_fmt(float(row[c])):>{cell}}" for c in cols)
            lines.append(f"{label:<{name_width}}{cells}")
    return "\n".join(lines)


def _wrap_label(name: str, low: float, high: float, log: bool, width: int = 30) -> str:
    parts = name.split(".")
    lines: list[str] = []
    current = ""
    for part in parts:
        piece = part if not current else f".{part}"
        if current and len(current) + len(piece) > width:
            lines.append(current)
            current = part if not lines else f".{part}"
            continue
        current += piece
    lines.append(current)
    rng = f"{low:g}–{high:g}" + (", log" if log else "")
    return "\n".join([*lines, f"[{rng}]"])


def plot(table: pd.DataFrame) -> Figure:
    """Horizontal bars of the indices with their interval as error bars, one panel per
    variant and group, most important parameter on top.

    Sobol': ``ST`` (total) and ``S1`` (first order) side by side, share of the metric's
    variance in %. Morris: ``μ*`` with its interval, and ``σ`` as a marker on the same
    axis (the metric's units per full range of the parameter).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if table.empty:
        raise SensitivityError("sensitivity plot: no indices to draw")
    metric = str(table["metric"].iloc[0])
    kind = str(table["method"].iloc[0])
    level = float(table.attrs.get("conf_level", CONF_LEVEL))
    groups = list(table.groupby(["variant", "group"], sort=False))
    d = len(groups[0][1])
    heights = [0.55 * d + 1.2 for _ in groups]
    label_lines = max(label.count("\n") + 1 for label in _range_labels(table))
    heights = [h * max(1.0, label_lines / 2.5) for h in heights]
    fig = Figure(figsize=(9.0, min(sum(heights) + 1.0, 40.0)), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(groups), 1, squeeze=False, height_ratios=heights)[:, 0]
    pct = f"{100 * level:.0f} %"
    for ax, ((variant, group), block) in zip(axes, groups, strict=True):
        block = block.iloc[::-1]  # most important at the top
        y = np.arange(len(block))
        labels = _range_labels(block)
        if kind == "sobol":
            _sobol_bars(ax, block, y, metric, pct)
        else:
            _morris_bars(ax, block, y, metric, pct)
        _finish_panel(ax, y, labels, f"variant {variant}" + (f" · {group}" if group else ""))
    what = "Sobol' indices" if kind == "sobol" else "Morris screening"
    reps = float(table["replicates"].mean())
    fig.suptitle(
        f"{what} of {metric} ({int(table['points'].iloc[0]):,} points per design, "
        f"mean of {reps:.3g} replicate(s) per point)",
        fontsize=11,
    )
    return fig


def _range_labels(table: pd.DataFrame) -> list[str]:
    """The y-axis label of each row: its parameter wrapped at dots, then its range."""
    return [
        _wrap_label(str(r.parameter), float(r.low), float(r.high), bool(r.log))
        for r in table.itertuples()
    ]


def _sobol_bars(ax: Any, block: pd.DataFrame, y: np.ndarray, metric: str, pct: str) -> None:
    """``ST`` and ``S1`` (in %) as paired bars with their intervals, ST labelled."""
    h = 0.38
    st = 100 * block["ST"].to_numpy(float)
    s1 = 100 * block["S1"].to_numpy(float)
    st_conf = 100 * block["ST_conf"].to_numpy(float)
    s1_conf = 100 * block["S1_conf"].to_numpy(float)
    for offset, values, conf, colour, label in (
        (h / 2, st, st_conf, "tab:blue", "ST: total (incl. interactions)"),
        (-h / 2, s1, s1_conf, "tab:orange", "S1: first order (alone)"),
    ):
        ax.barh(
            y + offset, values, h, xerr=conf, color=colour, ecolor="0.2", capsize=3, label=label
        )
    lows = np.concatenate([st - st_conf, s1 - s1_conf])
    highs = np.concatenate([st + st_conf, s1 + s1_conf])
    left = min(0.0, float(np.nanmin(lows)) * 1.05)
    right = max(float(np.nanmax(highs)) * 1.2, 5.0)
    ax.set_xlim(left, right)
    for yi, v, c in zip(y + h / 2, st, st_conf, strict=True):
        ax.annotate(
            f"{v:.0f} ± {c:.0f} %",
            xy=(max(v + c, 0.0), yi),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=8,
            va="center",
        )
    ax.set_xlabel(f"Sobol' index: share of the variance of {metric} (%), bars ± {pct} interval")


def _morris_bars(ax: Any, block: pd.DataFrame, y: np.ndarray, metric: str, pct: str) -> None:
    """``μ*`` as bars with their intervals (labelled) and ``σ`` as diamonds on the same axis."""
    mu_star = block["mu_star"].to_numpy(float)
    conf = block["mu_star_conf"].to_numpy(float)
    sigma = block["sigma"].to_numpy(float)
    ax.barh(
        y,
        mu_star,
        0.6,
        xerr=conf,
        color="tab:blue",
        ecolor="0.2",
        capsize=3,
        label=f"μ*: mean |effect| ± {pct} interval",
    )
    ax.plot(
        sigma,
        y,
        linestyle="none",
        marker="D",
        markerfacecolor="white",
        markeredgecolor="tab:red",
        markersize=6,
        clip_on=False,
        zorder=3,
        label="σ: spread of effects (non-linearity, interactions)",
    )
    top = float(np.nanmax(np.concatenate([mu_star + conf, sigma])))
    ax.set_xlim(0.0, top * 1.3 if top > 0 else 1.0)
    for yi, m, c in zip(y, mu_star, conf, strict=True):
        ax.annotate(
            f"{_fmt(m)} ± {_fmt(c)}",
            xy=(m + c, yi),
            xytext=(4, 6),
            textcoords="offset points",
            fontsize=8,
            va="bottom",
        )
    unit = metric_unit(metric)
    ax.set_xlabel(f"effect on {metric} ({unit} per full range of the parameter)")


def _finish_panel(ax: Any, y: np.ndarray, labels: list[str], title: str) -> None:
    """Parameter labels, a zero line, a grid, the panel's title and its legend."""
    from matplotlib.ticker import FuncFormatter

    ax.set_yticks(y, labels, fontsize=9)
    ax.xaxis.set_major_formatter(FuncFormatter(_tick))
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_title(textwrap.shorten(title, width=110, placeholder=" …"), fontsize=9, loc="left")
    ax.legend(loc="lower right", fontsize=8)


def write(
    table: pd.DataFrame, out_dir: str | os.PathLike[str], *, sweep_folder: Path | None = None
) -> Path:
    """Write ``sensitivity.csv`` and ``sensitivity.png`` (and ``sensitivity_s2.csv`` with
    second-order indices) into ``out_dir``, all or nothing.

    ``out_dir`` may be new, empty or an earlier ledgerlab folder (never a user's). When it is
    inside ``sweep_folder`` it is first registered in the sweep folder's marker, so a later
    ``ledgerlab sweep --resume`` or re-run treats it as ledgerlab's own.
    """
    from ledgerlab.sim.output import atomic_dir, check_target, read_marker, register_entries

    target = Path(out_dir)
    state = check_target(target)
    figure = plot(table)
    if sweep_folder is not None:
        parent = Path(os.path.abspath(target)).parent
        if parent == Path(os.path.abspath(sweep_folder)) and read_marker(parent) is not None:
            register_entries(parent, [target.name])
    with atomic_dir(target, kind="sensitivity", state=state) as tmp:
        table.to_csv(tmp / "sensitivity.csv", index=False)
        second = table.attrs.get("second_order")
        if second:
            pd.DataFrame(second).to_csv(tmp / "sensitivity_s2.csv", index=False)
        figure.savefig(tmp / "sensitivity.png", format="png")
    return target
