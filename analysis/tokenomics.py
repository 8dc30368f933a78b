"""Month-by-month token supply projection: vesting unlocks + emission → circulating supply.

This is the main job of ``ledgerlab tokenomics`` (and ``make demo``): before any agent is
simulated, a tokenomics designer wants to see how the circulating supply grows, when the
unlock cliffs hit and what inflation holders face. :func:`project` builds the table from a
vesting preset (:mod:`economics.vesting`) and an optional emission schedule
(:mod:`economics.emission`), :func:`plot` draws it and :func:`write` saves table and chart
atomically.

**Definitions** (one row per month ``m = 0, 1, ...``; month 0 is the launch month, whose
unlocks include the TGE share):

* ``unlocked_tokens`` — tokens unlocked by vesting during month ``m``;
* ``emitted_tokens`` — tokens newly issued by the emission schedule during month ``m``
  (assumed to enter circulation at once, e.g. as rewards);
* ``circulating_tokens`` — circulating supply at the end of month ``m``: everything unlocked
  plus everything emitted over months ``[0, m]``;
* ``total_supply_tokens`` — tokens in existence at the end of month ``m``: the pre-minted
  allocation (all of it exists from launch, locked or not) plus cumulative emission;
* ``inflation_monthly`` — growth of the circulating supply over month ``m``:
  ``circulating[m] / circulating[m-1] - 1`` (NaN for month 0, which has no prior supply);
* ``inflation_annualised`` — that monthly growth compounded over a year:
  ``(1 + inflation_monthly) ** 12 - 1``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ledgerlab.economics import vesting
from ledgerlab.economics.emission import EmissionSchedule

__all__ = [
    "COLUMNS",
    "MAX_MONTHS",
    "OUTPUT_FILES",
    "PRESETS",
    "TokenomicsError",
    "format_table",
    "plot",
    "project",
    "write",
]

PRESETS: dict[str, Callable[..., vesting.VestingSchedule]] = vesting.PRESETS
"""Allocation presets by name (:data:`economics.vesting.PRESETS`), used in monthly epochs."""

COLUMNS = (
    "month",
    "unlocked_tokens",
    "emitted_tokens",
    "circulating_tokens",
    "total_supply_tokens",
    "inflation_monthly",
    "inflation_annualised",
)
"""Columns of the frame returned by :func:`project`, in order."""

MAX_MONTHS = 1200
"""Longest projection accepted (100 years), months."""

OUTPUT_FILES = ("tokenomics.csv", "tokenomics.parquet", "tokenomics.png")
"""The files :func:`write` puts in its output folder."""


class TokenomicsError(ValueError):
    """A projection or output request was invalid; the message says what to fix."""


def project(
    preset: str = "openledger",
    months: int = 60,
    emission: EmissionSchedule | None = None,
) -> pd.DataFrame:
    """Project supply month by month for ``months`` months (see the module docstring).

    ``preset`` names an allocation in :data:`PRESETS`; ``emission`` is an optional schedule
    in monthly epochs (``None``: no issuance beyond the fixed allocation, as for OPEN).
    Returns a frame with the :data:`COLUMNS`, one row per month.
    """
    factory = PRESETS.get(preset) if isinstance(preset, str) else None
    if factory is None:
        raise TokenomicsError(
            f"tokenomics projection: unknown preset {preset!r}; choose one of {sorted(PRESETS)}"
        )
    if isinstance(months, bool) or not isinstance(months, int | np.integer):
        raise TokenomicsError(
            f"tokenomics projection: months must be a whole number, got {months!r}"
        )
    if not 1 <= months <= MAX_MONTHS:
        raise TokenomicsError(
            f"tokenomics projection: months must be between 1 and {MAX_MONTHS}, got {months}"
        )
    if emission is not None and not isinstance(emission, EmissionSchedule):
        raise TokenomicsError(
            "tokenomics projection: emission must be an economics.emission schedule or "
            f"None, got {type(emission).__name__}"
        )
    schedule = factory(epoch="month")
    month = np.arange(int(months), dtype=np.int64)
    unlocked = np.asarray(schedule.unlocks(month), dtype=np.float64)
    unlocked_cum = np.asarray(schedule.unlocked(month + 1), dtype=np.float64)
    if emission is None:
        emitted = np.zeros(month.shape, dtype=np.float64)
        emitted_cum = np.zeros(month.shape, dtype=np.float64)
    else:
        emitted = np.asarray(emission.emitted(month), dtype=np.float64)
        emitted_cum = np.asarray(emission.cumulative(month + 1), dtype=np.float64)
    circulating = unlocked_cum + emitted_cum
    total = schedule.total_tokens + emitted_cum
    previous = np.concatenate([[np.nan], circulating[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        monthly = np.where(previous > 0, circulating / previous - 1.0, np.nan)
    annualised = np.power(1.0 + monthly, 12.0) - 1.0
    return pd.DataFrame(
        {
            "month": month,
            "unlocked_tokens": unlocked,
            "emitted_tokens": emitted,
            "circulating_tokens": circulating,
            "total_supply_tokens": total,
            "inflation_monthly": monthly,
            "inflation_annualised": annualised,
        },
        columns=list(COLUMNS),
    )


def _check_frame(frame: pd.DataFrame, where: str) -> None:
    """Raise :class:`TokenomicsError` unless ``frame`` looks like :func:`project` output."""
    if not isinstance(frame, pd.DataFrame):
        raise TokenomicsError(f"{where}: expected a DataFrame from project(), got {frame!r}")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise TokenomicsError(f"{where}: frame lacks columns {missing}; pass project() output")
    if frame.empty:
        raise TokenomicsError(f"{where}: frame has no rows; project at least one month")


def format_table(frame: pd.DataFrame) -> str:
    """A compact text table of a projection: millions of tokens and percentages."""
    _check_frame(frame, "tokenomics table")
    total = frame["total_supply_tokens"].to_numpy()
    view = pd.DataFrame(
        {
            "month": frame["month"].to_numpy(),
            "unlocked_M": frame["unlocked_tokens"].to_numpy() / 1e6,
            "emitted_M": frame["emitted_tokens"].to_numpy() / 1e6,
            "circulating_M": frame["circulating_tokens"].to_numpy() / 1e6,
            "circ_%_supply": 100.0 * frame["circulating_tokens"].to_numpy() / total,
            "infl_month_%": 100.0 * frame["inflation_monthly"].to_numpy(),
            "infl_annual_%": 100.0 * frame["inflation_annualised"].to_numpy(),
        }
    )
    return view.to_string(
        index=False,
        float_format=lambda x: f"{x:,.2f}",
        na_rep="-",
    )


def plot(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a PNG chart of a projection to ``path`` and return the path.

    Top panel: circulating and total supply (millions of tokens). Bottom panel: monthly
    vesting unlocks and emissions as stacked bars. Uses the Agg canvas directly, so no
    display and no global pyplot state are involved.
    """
    _check_frame(frame, "tokenomics plot")
    month = frame["month"].to_numpy()
    circ = frame["circulating_tokens"].to_numpy() / 1e6
    total = frame["total_supply_tokens"].to_numpy() / 1e6
    unlocked = frame["unlocked_tokens"].to_numpy() / 1e6
    emitted = frame["emitted_tokens"].to_numpy() / 1e6

    fig = Figure(figsize=(10, 7), dpi=110)
    FigureCanvasAgg(fig)
    # Fixed margins instead of a layout engine: one draw instead of two.
    fig.subplots_adjust(left=0.1, right=0.98, top=0.95, bottom=0.08, hspace=0.22)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    millions = FuncFormatter(lambda v, _pos: f"{v:,.0f}M")

    marker = "o" if len(month) <= 24 else None  # short projections: show the points
    top.plot(
        month,
        total,
        color="0.5",
        linestyle="--",
        linewidth=1.5,
        marker=marker,
        label="total supply",
    )
    top.plot(
        month, circ, color="tab:blue", linewidth=2.5, marker=marker, label="circulating supply"
    )
    top.fill_between(month, 0, circ, color="tab:blue", alpha=0.12)
    top.set_ylim(0, max(float(np.nanmax(total)), float(np.nanmax(circ))) * 1.08)
    top.yaxis.set_major_formatter(millions)
    top.set_ylabel("tokens (end of month)")
    final_share = 100.0 * circ[-1] / total[-1] if total[-1] > 0 else math.nan
    top.set_title(
        f"Token supply projection: {circ[-1]:,.0f}M circulating "
        f"({final_share:.0f} % of supply) at month {month[-1]}"
    )
    top.grid(True, alpha=0.3)
    top.legend(loc="lower right")

    no_emission = not np.any(emitted > 0)
    emission_label = "emission (none: fixed supply)" if no_emission else "emission"
    # Step patches (one artist per series) draw the monthly bars much faster than bar().
    edges = np.concatenate([month - 0.5, [month[-1] + 0.5]])
    bottom.stairs(unlocked, edges, fill=True, color="tab:orange", label="vesting unlocks")
    bottom.stairs(
        unlocked + emitted,
        edges,
        baseline=unlocked,
        fill=True,
        color="tab:green",
        label=emission_label,
    )
    stacked = unlocked + emitted
    # Thin white separators (one LineCollection) so each month reads as its own bar.
    bottom.vlines(
        edges,
        0.0,
        np.maximum(np.r_[0.0, stacked], np.r_[stacked, 0.0]),
        colors="white",
        linewidth=0.8,
    )
    bottom.set_ylim(0, float(np.max(stacked)) * 1.05 or 1.0)
    first = stacked[0]
    bottom.annotate(
        f" {first:,.0f}M in month 0",
        xy=(month[0], first),
        xytext=(6, -12),
        textcoords="offset points",
        fontsize=9,
    )
    bottom.yaxis.set_major_formatter(millions)
    bottom.set_ylabel("tokens per month")
    bottom.set_xlabel("month after launch (0 = launch month, incl. TGE unlocks)")
    bottom.set_title("New tokens entering circulation each month")
    bottom.grid(True, axis="y", alpha=0.3)
    bottom.legend(loc="upper right")
    bottom.set_xlim(-0.8, max(int(month[-1]), 3) + 0.8)
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))

    out = Path(path)
    fig.savefig(out, format="png")
    return out


def write(frame: pd.DataFrame, out_dir: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write ``tokenomics.csv``, ``tokenomics.parquet`` and ``tokenomics.png`` into
    ``out_dir``, all or nothing, and return ``out_dir``.

    ``out_dir`` may be new, empty, or a folder ledgerlab wrote earlier; anything else is
    refused and left untouched (see :func:`ledgerlab.sim.output.atomic_dir`).
    """
    from ledgerlab.sim.output import atomic_dir

    _check_frame(frame, "tokenomics write")
    with atomic_dir(out_dir, force=force, kind="tokenomics") as tmp:
        frame.to_csv(tmp / "tokenomics.csv", index=False)
        frame.to_parquet(tmp / "tokenomics.parquet", index=False)
        plot(frame, tmp / "tokenomics.png")
    return Path(out_dir)
