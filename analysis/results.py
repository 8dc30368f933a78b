"""Loading written runs back as tidy pandas frames, and the headline KPI table.

A run folder (written by ``ledgerlab run`` / ``sim.run.run(out=...)`` through
``sim.output.write_run``) holds ``timeseries.parquet`` (one row per epoch),
``agents.parquet`` (agent snapshots) and ``summary.json`` (final KPIs). A sweep folder
holds many run folders, at any depth. :func:`load` reads either into one
:class:`Results` whose frames all carry a ``run_id`` column, so runs can be filtered,
grouped and compared in a notebook without knowing where each file lives.

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
    """

    timeseries: pd.DataFrame
    agents: pd.DataFrame
    summary: pd.DataFrame
    paths: dict[str, Path] = field(default_factory=dict)

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


def load(path: str | Path) -> Results:
    """Load one run folder, or every run folder under a sweep folder, as tidy frames.

    Args:
        path: A run folder (it holds ``summary.json``, ``timeseries.parquet`` and
            ``agents.parquet``) or any folder containing run folders at any depth.

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
    return Results(
        timeseries=pd.concat(series, ignore_index=True),
        agents=pd.concat(agents, ignore_index=True),
        summary=summary_frame,
        paths=dict(zip(run_ids, folders, strict=True)),
    )


# ---------------------------------------------------------------------------- KPI table


@dataclass(frozen=True)
class KpiRow:
    """One line of :func:`kpi_table`: a label, how to format the value, and its unit."""

    label: str
    """What is measured (plain words)."""
    key: str
    """The summary key read (or a derived quantity computed by ``value``)."""
    unit: str
    """Unit shown after the value."""
    fmt: Callable[[float], str]
    """Formats a finite value (NaN and missing show as ``n/a``)."""


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


def _count(value: float) -> str:
    """A count or token amount with thousands separators, no decimals."""
    return f"{value:,.0f}"


_ROWS = (
    KpiRow("token price", "price_usd", "USD", lambda v: f"{v:.4g}"),
    KpiRow("market cap", "market_cap_usd", "USD", _count),
    KpiRow("circulating supply", "circulating_tokens", "tokens", _count),
    KpiRow("circulating inflation", "circulating_inflation_annualised_mean", "%/year (mean)", _pct),
    KpiRow("clean accuracy", "accuracy", "% of held-out queries", _pct),
    KpiRow("  honest-only accuracy", "accuracy_honest_only", "% (counterfactual)", _pct),
    KpiRow("  accuracy lost vs honest-only", "accuracy_lost", "percentage points", _pct),
    KpiRow("backdoor attack success", "attack_success", "% of triggered queries", _pct),
    KpiRow("Spearman rho (reward vs value)", "spearman", "-1..1, 1 = fair", lambda v: f"{v:.3f}"),
    KpiRow("adversary capture", "adversary_capture", "x, 1 = fair share", lambda v: f"{v:.3f}"),
    KpiRow("proportionality gap", "proportionality_gap", "0..1, 0 = fair", lambda v: f"{v:.3f}"),
    KpiRow("adversary reward share", "adversary_reward_share", "% of rewards", _pct),
    KpiRow("active adversaries", "active_adversaries", "individuals", _count),
)
"""The headline KPIs of :func:`kpi_table`, in order."""

_ADVERSARY_ROLES = ("farmers", "wash", "poisoners")
"""Roles counted as adversaries in the ``active adversaries`` row."""


def _derived(summary: Mapping[str, Any]) -> dict[str, float]:
    """Quantities the table shows that the summary holds only in parts."""
    accuracy = _number(summary, "accuracy")
    honest = _number(summary, "accuracy_honest_only")
    active = [_number(summary, f"active_{role}") for role in _ADVERSARY_ROLES]
    return {
        "accuracy_lost": honest - accuracy,
        "active_adversaries": math.fsum(active) if not any(map(math.isnan, active)) else math.nan,
    }


def kpi_table(summary: Mapping[str, Any]) -> str:
    """A short aligned text table of a run's headline KPIs, with units.

    Args:
        summary: A run summary: ``RunResult.summary``, the contents of ``summary.json``
            or ``Results.run_summary(run_id)``. Missing, null and NaN KPIs (e.g. attack
            success without backdoor attackers) show as ``n/a``.

    Returns:
        A header line (scenario, seed, epochs, attribution engine, defences) followed by
        one ``label  value  unit`` line per KPI, value column right-aligned; no trailing
        newline.
    """
    values = {**summary, **_derived(summary)}
    lines = [(row.label, _cell(values, row), row.unit) for row in _ROWS]
    active = [_number(summary, f"active_{role}") for role in _ADVERSARY_ROLES]
    if not any(map(math.isnan, active)):
        parts = ", ".join(f"{r} {v:,.0f}" for r, v in zip(_ADVERSARY_ROLES, active, strict=True))
        label, value, unit = lines[-1]
        lines[-1] = (label, value, f"{unit} ({parts})")
    width_label = max(len(label) for label, _, _ in lines)
    width_value = max(len(value) for _, value, _ in lines)
    body = [
        f"{label:<{width_label}}  {value:>{width_value}}  {unit}".rstrip()
        for label, value, unit in lines
    ]
    return "\n".join([_header(summary), *body])


def _cell(values: Mapping[str, Any], row: KpiRow) -> str:
    """The formatted value of one row, ``n/a`` when not finite."""
    number = _number(values, row.key)
    return "n/a" if math.isnan(number) else row.fmt(number)


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
