"""Loading written runs back as tidy pandas frames, and the headline KPI table.

A run folder (written by ``ledgerlab run`` / ``sim.run.run(out=...)`` through
``sim.output.write_run``) holds ``timeseries.parquet`` (one row per epoch),
``agents.parquet`` (agent snapshots) and ``summary.json`` (final KPIs). A sweep folder
written by ``ledgerlab sweep`` / ``ledgerlab compare`` (``ledgerlab.sim.sweep``) holds a
manifest and a compacted, partitioned dataset; any other folder may hold run folders at
any depth. :func:`load` reads each into one :class:`Results` whose frames all carry a
``run_id`` column, so runs can be filtered, grouped and compared in a notebook without
knowing where each file lives::

    res = ledgerlab.load("results/engine_shootout-1a2b3c4d",
                         filters=[("variant", "in", ["retrieval", "knn_shapley"])],
                         columns=["epoch", "price_usd"])

:func:`kpi_table` turns one run's summary (``RunResult.summary``, ``summary.json`` or a
row of ``Results.summary``) into the short aligned text table ``ledgerlab run`` prints.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["RUN_FILES", "KpiRow", "Results", "ResultsError", "kpi_table", "load"]

Filters = Any
"""``pyarrow.dataset`` filters: an ``Expression`` (``pyarrow.dataset.field("variant") ==
"dedup"``) or DNF tuples (``[("variant", "=", "dedup"), ("population.providers", ">",
50)]``, a list of such lists for OR), as ``pyarrow.parquet.filters_to_expression`` reads them."""

RUN_FILES = ("timeseries.parquet", "agents.parquet", "summary.json")
"""Files every run folder must hold (``summary.json`` is what marks a folder as a run)."""


class ResultsError(ValueError):
    """Results cannot be loaded (no runs, missing or unreadable files); says what to fix."""


@dataclass(frozen=True)
class Results:
    """Every run found under one folder, as tidy frames keyed by ``run_id``.

    Attributes:
        timeseries: One row per run and epoch; ``run_id`` first, then the run's
            timeseries columns (``seed``, ``epoch`` and the KPIs of
            ``sim.model.KPI_NAMES``; units in the column names).
        agents: Agent snapshots of every run (one row per individual per snapshot
            epoch), with ``run_id``.
        summary: One row per run: ``run_id``, then the final KPIs of ``summary.json``
            (nested mappings flattened to dotted column names, lists as tuples).
        paths: Folder of each run, by ``run_id``.
        manifest: One row per run: ``run_id``, ``seed``, ``status`` (``ok``, ``failed``,
            ``pending``), and for a sweep ``variant``, ``point``, ``replicate``, the swept
            parameters, ``seconds``, ``error`` and ``traceback``.

    For a sweep folder, ``timeseries`` and ``summary`` also carry ``variant``, ``point``,
    ``replicate`` and every swept parameter (its dotted path) as columns, and hold the
    finished runs only; ``agents`` is empty unless ``load(..., agents=True)``.
    """

    timeseries: pd.DataFrame
    agents: pd.DataFrame
    summary: pd.DataFrame
    paths: dict[str, Path] = field(default_factory=dict)
    manifest: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def run_ids(self) -> list[str]:
        """The run ids, in load order (sorted by folder path)."""
        return list(self.paths)

    def run_summary(self, run_id: str) -> dict[str, Any]:
        """The summary of one run as a dict (NaN for KPIs it did not record)."""
        rows = self.summary[self.summary["run_id"] == run_id]
        if rows.empty:
            raise ResultsError(
                f"run_summary: no run with run_id {run_id!r}; known runs: "
                f"{', '.join(self.run_ids) or 'none'}"
            )
        return rows.iloc[0].to_dict()


# ------------------------------------------------------------------------------ loading


def _run_folders(root: Path) -> list[Path]:
    """Folders under ``root`` (itself included) holding a ``summary.json``, sorted.

    Hidden folders (names starting with ``.``, e.g. the ``.name.XXXX.partial`` temporary
    folders of an unfinished atomic write) are skipped at any depth.
    """
    if (root / "summary.json").is_file():
        return [root]
    found = []
    for summary in root.rglob("summary.json"):
        relative = summary.parent.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        found.append(summary.parent)
    return sorted(found)


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings to dotted keys; lists to tuples (hashable, so groupby works);
    JSON ``null`` to NaN (``summary.json`` stores NaN KPIs as null)."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, prefix=f"{name}."))
        elif isinstance(value, list):
            flat[name] = tuple(value)
        elif value is None:
            flat[name] = math.nan
        else:
            flat[name] = value
    return flat


def _read_parquet(file: Path) -> pd.DataFrame:
    """One parquet table, with a ResultsError naming the file if it cannot be read."""
    if not file.is_file():
        raise ResultsError(
            f"load: {file} is missing; the run folder is incomplete — re-run it "
            "(ledgerlab run writes every file or none)"
        )
    try:
        return pd.read_parquet(file)
    except (OSError, ValueError) as exc:
        raise ResultsError(f"load: cannot read {file}: {exc}; re-run this run") from exc


def _read_summary(file: Path) -> dict[str, Any]:
    """``summary.json`` as a dict, with a ResultsError naming the file if it is invalid."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"load: cannot read {file}: {exc}; re-run this run") from exc
    if not isinstance(data, dict):
        raise ResultsError(
            f"load: {file} must hold a JSON object of KPIs, got {type(data).__name__}"
        )
    return data


def _with_run_id(frame: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """``frame`` with its ``run_id`` column set to ``run_id`` and placed first."""
    frame = frame.drop(columns="run_id", errors="ignore")
    frame.insert(0, "run_id", run_id)
    return frame


def load(
    path: str | Path,
    *,
    filters: Filters = None,
    columns: list[str] | None = None,
    agents: bool = False,
) -> Results:
    """Load a run folder, a sweep folder, or every run folder under a folder, as tidy frames.

    Args:
        path: A run folder (it holds ``summary.json``, ``timeseries.parquet`` and
            ``agents.parquet``), a sweep folder (``ledgerlab sweep``/``compare``; read from
            its compacted dataset, or from its run folders while it runs or after it was
            interrupted), or any folder containing run folders at any depth.
        filters: Rows to keep, as ``pyarrow.dataset`` filters (see :data:`Filters`),
            e.g. ``[("variant", "=", "dedup")]`` or on a swept parameter. On a sweep they
            are pushed down to the files: only the variants' folders and the row groups
            that can match are read. A filter naming a column one table lacks (``epoch``
            for the summary) keeps that table's rows of the runs the other kept.
        columns: Columns to read (each table keeps those it has); ``run_id``, ``seed``,
            and for a sweep ``variant``, ``point``, ``replicate`` and the swept
            parameters are always kept. A name no table has is an error.
        agents: For a sweep, also read every loaded run's agent snapshots (they are not
            compacted and can be large); a run folder always loads its agents.

    Each run's ``run_id`` is the one stored in its ``summary.json`` (else its folder
    name). When two folders carry the same run id (e.g. the same scenario run twice
    into different folders), those runs are renamed to their folder path relative to
    ``path`` so every ``run_id`` names exactly one run.

    Raises:
        ResultsError: ``path`` does not exist or holds no run, or a run folder is
            incomplete or unreadable.
    """
    root = Path(path)
    if not root.exists():
        raise ResultsError(f"load: {root} does not exist; give a run or sweep folder")
    if not root.is_dir():
        raise ResultsError(
            f"load: {root} is a file; give the run folder that contains it (or a sweep folder)"
        )
    if _is_sweep_folder(root):
        return _load_sweep(root, filters, columns, agents)
    results = _load_runs(root)
    if filters is None and columns is None:
        return results
    return _select(results, filters, columns)


def _load_runs(root: Path) -> Results:
    """Every run folder under ``root`` (itself included)."""
    folders = _run_folders(root)
    if not folders:
        raise ResultsError(
            f"load: no run found under {root} (no summary.json); give a folder written by "
            "`ledgerlab run` or a sweep"
        )
    summaries = [_read_summary(folder / "summary.json") for folder in folders]
    stored = [
        str(s.get("run_id") or folder.name) for s, folder in zip(summaries, folders, strict=True)
    ]
    counts = pd.Series(stored).value_counts()
    run_ids = [
        rid if counts[rid] == 1 else (folder.relative_to(root).as_posix() or folder.name)
        for rid, folder in zip(stored, folders, strict=True)
    ]
    if len(set(run_ids)) != len(run_ids):
        raise ResultsError(
            f"load: run ids under {root} clash with run folder paths ({', '.join(run_ids)}); "
            "load the runs one folder at a time or give them distinct run ids"
        )

    series, agents, rows = [], [], []
    for folder, rid, summary in zip(folders, run_ids, summaries, strict=True):
        series.append(_with_run_id(_read_parquet(folder / "timeseries.parquet"), rid))
        agents.append(_with_run_id(_read_parquet(folder / "agents.parquet"), rid))
        rows.append({**_flatten(summary), "run_id": rid})

    summary_frame = pd.DataFrame(rows)
    summary_frame = summary_frame[["run_id", *(c for c in summary_frame.columns if c != "run_id")]]
    manifest = pd.DataFrame(
        {
            "run_id": run_ids,
            "seed": [s.get("seed") for s in summaries],
            "status": "ok",
            "path": [str(f) for f in folders],
        }
    )
    return Results(
        timeseries=pd.concat(series, ignore_index=True),
        agents=pd.concat(agents, ignore_index=True),
        summary=summary_frame,
        paths=dict(zip(run_ids, folders, strict=True)),
        manifest=manifest,
    )


# ----------------------------------------------------------------------------- sweeps


def _is_sweep_folder(root: Path) -> bool:
    from ledgerlab.sim.output import read_marker

    marker = read_marker(root)
    return (
        marker is not None
        and marker.get("kind") == "sweep"
        and (root / "manifest.parquet").is_file()
    )


def _expression(filters: Filters) -> Any:
    """Filters as a ``pyarrow.dataset.Expression`` (None: no filter)."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    if filters is None or isinstance(filters, ds.Expression):
        return filters
    try:
        return pq.filters_to_expression(filters)
    except (TypeError, ValueError, IndexError) as exc:
        raise ResultsError(
            f"load: filters {filters!r} are not pyarrow filters ({exc}); write e.g. "
            '[("variant", "=", "dedup")] or pyarrow.dataset.field("variant") == "dedup"'
        ) from None


def _read_dataset(
    dataset: Any, keep: list[str], columns: list[str] | None, expression: Any
) -> tuple[pd.DataFrame, bool]:
    """Read a dataset's rows (filtered) and columns; False when the filter names a column
    the dataset lacks (then it is read unfiltered, for the caller to restrict)."""
    import pyarrow as pa

    names = dataset.schema.names
    wanted = [c for c in keep if c in names]
    if columns is not None:
        wanted += [c for c in columns if c in names and c not in wanted]
    else:
        wanted += [c for c in names if c not in wanted]
    try:
        table = dataset.to_table(columns=wanted, filter=expression)
        applied = True
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, KeyError):
        if expression is None:
            raise
        table = dataset.to_table(columns=wanted)
        applied = False
    frame = table.to_pandas()
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = frame[name].astype(str)
    return frame, applied


def _load_sweep(root: Path, filters: Filters, columns: list[str] | None, agents: bool) -> Results:
    """A sweep folder: the compacted dataset if the sweep finished, else its run folders."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    from ledgerlab.sim.sweep import ID_COLUMNS, read_manifest

    try:
        identity = json.loads((root / "sweep.json").read_text(encoding="utf-8"))
        manifest = read_manifest(root)
    except (OSError, ValueError, pa.ArrowInvalid) as exc:
        raise ResultsError(f"load: cannot read the sweep manifest of {root}: {exc}") from exc
    parameters = [str(p) for p in identity.get("parameters", [])]
    keep = [*ID_COLUMNS, *parameters]
    expression = _expression(filters)
    finished = manifest[manifest["status"] == "ok"]
    runs = root / "runs"
    if (root / "summary.parquet").is_file() and (root / "timeseries").is_dir():
        by_variant = ds.partitioning(pa.schema([("variant", pa.string())]), flavor="hive")
        ts_set = ds.dataset(root / "timeseries", format="parquet", partitioning=by_variant)
        sum_set = ds.dataset(root / "summary.parquet", format="parquet")
    else:  # running or interrupted: read the finished runs' own files
        ts_set = _files_dataset([runs / r / "timeseries.parquet" for r in finished["run_id"]])
        sum_set = _files_dataset([runs / r / "summary.parquet" for r in finished["run_id"]])
    if columns is not None:
        have = set(ts_set.schema.names) | set(sum_set.schema.names) | set(keep)
        unknown = [c for c in columns if c not in have]
        if unknown:
            raise ResultsError(
                f"load: no column {', '.join(map(repr, unknown))} in {root}; the timeseries has "
                f"{', '.join(ts_set.schema.names[:12])}, ..."
            )
    timeseries, ts_applied = _read_dataset(ts_set, [*keep, "epoch"], columns, expression)
    summary, sum_applied = _read_dataset(sum_set, keep, columns, expression)
    if not ts_applied and not sum_applied:
        raise ResultsError(f"load: the filters {expression} name columns no table of {root} has")
    if not sum_applied:
        summary = summary[summary["run_id"].isin(set(timeseries["run_id"]))]
    if not ts_applied:
        timeseries = timeseries[timeseries["run_id"].isin(set(summary["run_id"]))]
    order = {name: i for i, name in enumerate(pd.unique(manifest["variant"]))}
    timeseries = _sorted_runs(timeseries, order, ["epoch"])
    summary = _sorted_runs(summary, order, [])
    kept = set(summary["run_id"]) | set(timeseries["run_id"])
    ok = manifest["status"] == "ok"
    manifest = manifest[~ok | manifest["run_id"].isin(kept)]
    if expression is not None:
        filtered, applied = _filter_frame(manifest, expression)
        manifest = filtered if applied else manifest[manifest["run_id"].isin(kept)]
    agent_frames = []
    if agents:
        for rid in summary["run_id"]:
            frame = _read_parquet(runs / rid / "agents.parquet")
            agent_frames.append(_with_run_id(frame, rid))
    return Results(
        timeseries=timeseries,
        agents=pd.concat(agent_frames, ignore_index=True) if agent_frames else pd.DataFrame(),
        summary=summary,
        paths={rid: runs / rid for rid in summary["run_id"]},
        manifest=manifest.reset_index(drop=True),
    )


def _files_dataset(files: list[Path]) -> Any:
    """One dataset over run files whose columns may differ a little (unified schema)."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    if not files:
        return ds.dataset(pa.table({c: pa.array([], pa.string()) for c in ("run_id", "variant")}))
    schemas: list[pa.Schema] = []
    for file in files:
        schema = pq.read_schema(file)
        if not any(schema.equals(s) for s in schemas):
            schemas.append(schema)
    unified = pa.unify_schemas(schemas, promote_options="permissive")
    return ds.dataset([str(f) for f in files], schema=unified, format="parquet")


def _sorted_runs(frame: pd.DataFrame, order: Mapping[str, int], extra: list[str]) -> pd.DataFrame:
    """Rows by variant (file order), point, replicate (then ``extra``), index reset."""
    if frame.empty or "variant" not in frame.columns:
        return frame.reset_index(drop=True)
    keys = [c for c in ("point", "replicate", *extra) if c in frame.columns]
    rank = frame["variant"].map(order).fillna(len(order))
    frame = frame.assign(_variant_rank=rank).sort_values(["_variant_rank", *keys], kind="stable")
    return frame.drop(columns="_variant_rank").reset_index(drop=True)


def _filter_frame(frame: pd.DataFrame, expression: Any) -> tuple[pd.DataFrame, bool]:
    """``frame`` filtered by a pyarrow expression, and True; ``frame`` and False when the
    expression names a column the frame lacks."""
    import pyarrow as pa

    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        return table.filter(expression).to_pandas(), True
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, KeyError):
        return frame, False


def _select(results: Results, filters: Filters, columns: list[str] | None) -> Results:
    """Filters and columns applied to run folders loaded in memory."""
    expression = _expression(filters)
    keep = ["run_id", "seed"]
    have = set(results.timeseries.columns) | set(results.summary.columns)
    if columns is not None:
        unknown = [c for c in columns if c not in have]
        if unknown:
            raise ResultsError(f"load: no column {', '.join(map(repr, unknown))} in these runs")

    def pick(frame: pd.DataFrame, extra: list[str]) -> pd.DataFrame:
        if columns is None:
            return frame
        names = [c for c in [*keep, *extra] if c in frame.columns]
        names += [c for c in columns if c in frame.columns and c not in names]
        return frame[names]

    ts, summary = results.timeseries, results.summary
    if expression is not None:
        ts, ts_applied = _filter_frame(ts, expression)
        summary, sum_applied = _filter_frame(summary, expression)
        if not ts_applied and not sum_applied:
            raise ResultsError(f"load: the filters {expression} name columns these runs lack")
        if not ts_applied:
            ts = ts[ts["run_id"].isin(set(summary["run_id"]))]
        if not sum_applied:
            summary = summary[summary["run_id"].isin(set(ts["run_id"]))]
    kept = set(summary["run_id"])
    return Results(
        timeseries=pick(ts, ["epoch"]).reset_index(drop=True),
        agents=results.agents[results.agents["run_id"].isin(kept)].reset_index(drop=True),
        summary=pick(summary, []).reset_index(drop=True),
        paths={k: v for k, v in results.paths.items() if k in kept},
        manifest=results.manifest[results.manifest["run_id"].isin(kept)].reset_index(drop=True),
    )


# ---------------------------------------------------------------------------- KPI table


@dataclass(frozen=True)
class KpiRow:
    """One line of :func:`kpi_table`: a label, how to format the value, its unit, and why
    it may have no value."""

    label: str
    """What is measured (plain words)."""
    key: str
    """The summary key read."""
    unit: str
    """Unit shown after the value."""
    fmt: Callable[[float], str]
    """Formats a finite value."""
    missing: str = "undefined"
    """Why the value can be NaN, shown in its place."""


def _number(summary: Mapping[str, Any], key: str) -> float:
    """``summary[key]`` as a float; NaN when missing, None/null, NaN or not a number."""
    value = summary.get(key)
    if isinstance(value, bool) or value is None:
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _pct(value: float) -> str:
    """A fraction shown in per cent with two decimals."""
    return f"{value * 100:.2f}"


def _pp(value: float) -> str:
    """A difference of fractions in percentage points, signed."""
    return f"{value * 100:+.2f}"


def _count(value: float) -> str:
    """A count or token amount with thousands separators, no decimals."""
    return f"{value:,.0f}"


def _usd(value: float) -> str:
    """A signed USD amount with thousands separators."""
    return f"{value:,.0f}"


def _ratio(value: float) -> str:
    return f"{value:.3f}"


_ROWS = (
    KpiRow("token price", "price_usd", "USD", lambda v: f"{v:.4g}"),
    KpiRow("market cap", "market_cap_usd", "USD", _count),
    KpiRow("circulating supply", "circulating_tokens", "tokens (tracker: all unlocked)", _count),
    KpiRow("market float", "market_float_tokens", "tokens (excl. protocol accounts)", _count),
    KpiRow(
        "circulating supply growth",
        "circulating_growth_annualised",
        "%/year since launch",
        _pct,
        "run shorter than a month, or no supply at launch",
    ),
    KpiRow(
        "market float growth",
        "market_float_growth_annualised",
        "%/year since launch",
        _pct,
        "run shorter than a month, or no supply at launch",
    ),
    KpiRow("organic fee share", "organic_fee_share", "% of fees", _pct, "no fees paid"),
    KpiRow("clean accuracy", "accuracy", "% of held-out queries", _pct, "no trained model"),
    KpiRow(
        "accuracy lost to the attack",
        "accuracy_lost_to_attack",
        "percentage points vs the honest-only twin",
        _pp,
        "no honest-only twin",
    ),
    KpiRow(
        "backdoor attack success",
        "attack_success",
        "% of triggered queries",
        _pct,
        "no backdoor attackers",
    ),
    KpiRow("adversary reward share", "adversary_reward_share", "% of rewards", _pct, "no rewards"),
    KpiRow("adversary fair share", "adversary_fair_share", "% of fair rewards", _pct, "no rewards"),
    KpiRow(
        "excess share", "excess_share", "percentage points beyond fair share", _pp, "no rewards"
    ),
    KpiRow("overpayment to adversaries", "total_overpayment_usd", "USD", _usd),
    KpiRow("honest providers' net income", "honest_provider_net_usd", "USD", _usd),
    KpiRow(
        "Spearman rho, honest providers",
        "spearman_honest",
        "-1..1 (reward vs fair reward)",
        _ratio,
        "fewer than 2 honest contributors",
    ),
    KpiRow(
        "adversary capture",
        "adversary_capture",
        "x fair share",
        _ratio,
        "adversaries' fair share under 1 %",
    ),
    KpiRow(
        "active adversaries",
        "active_adversary_identities",
        "identities",
        _count,
    ),
)
"""The headline KPIs of :func:`kpi_table`, in order (a row whose key the summary lacks
altogether is left out: e.g. runs written before a KPI existed)."""


def kpi_table(summary: Mapping[str, Any]) -> str:
    """A short aligned text table of a run's headline KPIs, with units.

    Args:
        summary: A run summary: ``RunResult.summary``, the contents of ``summary.json``
            or ``Results.run_summary(run_id)``. A KPI with no value shows ``—`` and the
            reason (e.g. attack success without backdoor attackers); a KPI the summary does
            not hold at all is left out.

    Returns:
        A header line (scenario, seed, epochs, attribution engine, defences) followed by
        one ``label  value  unit`` line per KPI, value column right-aligned; no trailing
        newline.
    """
    rows = [row for row in _ROWS if row.key in summary]
    if _without_adversaries(summary):  # one line instead of a block of zeros and dashes
        rows = [row for row in rows if row.key not in _ADVERSARY_KEYS]
    lines = [(row.label, *_cell(summary, row)) for row in rows]
    if _without_adversaries(summary):
        lines.append(("adversaries", "—", "(none in this scenario)"))
    if not lines:
        return _header(summary)
    width_label = max(len(label) for label, _, _ in lines)
    width_value = max(len(value) for _, value, _ in lines)
    body = [
        f"{label:<{width_label}}  {value:>{width_value}}  {unit}".rstrip()
        for label, value, unit in lines
    ]
    return "\n".join([_header(summary), *body])


_ADVERSARY_KEYS = frozenset(
    {
        "accuracy_lost_to_attack",
        "attack_success",
        "adversary_reward_share",
        "adversary_fair_share",
        "excess_share",
        "total_overpayment_usd",
        "adversary_capture",
        "active_adversary_identities",
    }
)
"""Rows that only mean something in a world with adversaries."""


def _without_adversaries(summary: Mapping[str, Any]) -> bool:
    """Whether the summary says the run never had an adversary (none active at the end and
    none ever paid)."""
    active = _number(summary, "active_adversary_identities")
    paid = _number(summary, "adversary_reward_share")
    return active == 0 and (math.isnan(paid) or paid == 0)


def _cell(summary: Mapping[str, Any], row: KpiRow) -> tuple[str, str]:
    """The formatted value and unit of one row: ``—`` and the reason when not finite."""
    number = _number(summary, row.key)
    text = "" if math.isnan(number) else row.fmt(number)
    if not text or "inf" in text or "nan" in text:  # a value can overflow its unit (x 100)
        reason = _capture_reason(summary) if row.key == "adversary_capture" else row.missing
        return "—", f"({reason})"
    unit = row.unit
    if row.key == "active_adversary_identities":
        operators = _number(summary, "active_adversary_operators")
        if not math.isnan(operators):
            unit = f"identities ({operators:,.0f} operators)"
    return text, unit


def _capture_reason(summary: Mapping[str, Any]) -> str:
    """Why adversary capture has no value in this summary."""
    fair = _number(summary, "adversary_fair_share")
    paid = _number(summary, "adversary_reward_share")
    if _number(summary, "active_adversary_identities") == 0 and (math.isnan(paid) or paid == 0):
        return "no adversaries"
    if not math.isnan(fair) and fair < 0.01:
        return "adversaries' fair share under 1 %: use excess share"
    return "no adversaries or no fair rewards"


def _shown(value: Any) -> str:
    """A header value as text; "" for missing/NaN; whole floats (40.0 from a frame row
    with gaps) without their ``.0``."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _header(summary: Mapping[str, Any]) -> str:
    """``name: seed S, N epochs, engine E, defences D`` from what the summary holds."""
    name = _shown(summary.get("scenario")) or _shown(summary.get("run_id")) or "run"
    parts = []
    seed, epochs, engine = (_shown(summary.get(k)) for k in ("seed", "epochs", "engine"))
    if seed:
        parts.append(f"seed {seed}")
    if epochs:
        parts.append(f"{epochs} epochs")
    if engine:
        parts.append(f"engine {engine}")
    defences = summary.get("defenses")
    if isinstance(defences, str):
        parts.append(f"defences {defences or 'none'}")
    elif isinstance(defences, list | tuple):
        parts.append(f"defences {', '.join(map(str, defences)) or 'none'}")
    header = f"{name}: " + ", ".join(parts) if parts else str(name)
    return " ".join(header.split())  # one line whatever the values hold
