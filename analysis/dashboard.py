"""The run dashboard: one PNG that answers, panel by panel, what a simulated economy did.

``ledgerlab run`` writes ``dashboard.png`` into every run folder. The panels are the
one-run panels of :mod:`ledgerlab.analysis.plots` (each answers one question: is supply
inflating, where did circulating supply come from, what moved the price, who was paid,
were adversaries overpaid, did rewards follow value, what did the attack cost, what did
the defences refuse, who is in the economy); panels that do not apply to a run — no
adversaries, no defences — are left out rather than drawn empty. The title names the
scenario, the attribution engine, the defences and the seed; the x axis is calendar time.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from ledgerlab.analysis.plots import PANELS, PlotError, applicable_panels, run_view
from ledgerlab.analysis.style import new_figure

__all__ = ["DashboardError", "dashboard_figure", "plot_dashboard"]

COLUMNS = 2
"""Panels per row."""

PANEL_SIZE_INCHES = (7.6, 4.3)
"""Width and height of one panel (inches; at 110 dpi about 840 × 470 pixels)."""


class DashboardError(ValueError):
    """The dashboard cannot be drawn; the message says what to pass instead."""


def dashboard_figure(results: Any, title: str | None = None, run_id: str | None = None) -> Figure:
    """The dashboard of one run: every applicable panel of :data:`plots.PANELS`.

    Args:
        results: A RunResult, a Results holding one run (or ``run_id`` of a sweep), or one
            run's timeseries frame (then only the panels its columns allow).
        title: Figure title (default: scenario, engine, defences, seed).
        run_id: The run to draw when ``results`` holds several.
    """
    try:
        view = run_view(results, run_id)
    except PlotError as exc:
        raise DashboardError(f"dashboard: {exc}") from None
    names = applicable_panels(view)
    if not names:
        raise DashboardError("dashboard: these results hold no column any panel can show")
    rows = math.ceil(len(names) / COLUMNS)
    width, height = PANEL_SIZE_INCHES
    total_in = height * rows + 1.0
    fig = new_figure(width * COLUMNS, total_in)
    # fixed inches, not fractions, at the top: the title never meets the first panels'
    # titles however many rows the dashboard has
    grid = fig.add_gridspec(rows, COLUMNS, hspace=0.42, wspace=0.22,
                            left=0.06, right=0.98, top=1 - 1.0 / total_in,
                            bottom=0.55 / (height * rows))  # fmt: skip
    for i, name in enumerate(names):
        panel = PANELS[name]
        ax = panel.draw_in(fig, grid[i // COLUMNS, i % COLUMNS], view)
        ax.set_title(f"{chr(ord('a') + i)}. {panel.question}", loc="left", fontsize=11,
                     fontweight="bold")  # fmt: skip
    epochs = len(view)
    heading = title or view.title or "run"
    fig.suptitle(f"{heading} — {epochs:,} rows ({view.axis.unit} on the x axis)", fontsize=13,
                 y=1 - 0.2 / total_in, va="top")  # fmt: skip
    return fig


def plot_dashboard(
    results: Any, path: str | Path, title: str | None = None, run_id: str | None = None
) -> Path:
    """Draw the dashboard (:func:`dashboard_figure`) and save it (PNG unless the suffix
    names another format matplotlib writes). Returns the path."""
    out = Path(path)
    if not out.parent.is_dir():
        raise DashboardError(f"dashboard: cannot write {out}: folder {out.parent} does not exist")
    fig = dashboard_figure(results, title, run_id)
    try:
        fig.savefig(out, format=out.suffix.lstrip(".").lower() or "png")
    except (OSError, ValueError) as exc:
        raise DashboardError(f"dashboard: cannot write {out}: {exc}") from exc
    return out
