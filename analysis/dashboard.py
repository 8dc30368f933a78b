"""The run dashboard: one PNG that shows what a simulated economy did, epoch by epoch.

``ledgerlab run`` writes ``dashboard.png`` into every run folder so that a tokenomics
designer can see a run at a glance without opening a notebook. :func:`plot_dashboard`
draws six panels from a run's ``timeseries`` frame (one row per epoch, the columns of
``sim.model.KPI_NAMES``):

a. supply & inflation — circulating, locked and burned tokens; annualised circulating
   inflation on a twin axis (per cent per year);
b. price — token price (USD) and market capitalisation (USD, twin axis);
c. rewards by role — tokens paid per epoch to providers, farmers, wash consumers and
   poisoners, stacked;
d. fairness over time — Spearman rho between cumulative reward and ground-truth value,
   proportionality gap and adversary capture (twin axis). These are measured only on
   ground-truth epochs (NaN elsewhere), so each measured point is drawn with a marker;
e. model quality — clean accuracy, the honest-only counterfactual accuracy and the
   backdoor attack success (per cent);
f. active population by role (individuals).

:func:`dashboard_figure` returns the figure itself (for notebooks and tests);
:func:`plot_dashboard` saves it. The figure is drawn on a bare
:class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot, no display, no global
state), so it works headless and in worker processes.
Missing columns and columns without a single finite value are skipped and named in a
note inside their panel; a panel with nothing to show says so instead of failing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, FuncFormatter, MaxNLocator

__all__ = ["PANELS", "DashboardError", "dashboard_figure", "plot_dashboard"]

PANELS: dict[str, tuple[str, ...]] = {
    "supply": (
        "circulating_tokens",
        "locked_tokens",
        "burned_tokens",
        "circulating_inflation_annualised",
    ),
    "price": ("price_usd", "market_cap_usd"),
    "rewards": (
        "reward_providers_tokens",
        "reward_farmers_tokens",
        "reward_wash_tokens",
        "reward_poisoners_tokens",
    ),
    "fairness": ("spearman", "proportionality_gap", "adversary_capture"),
    "quality": ("accuracy", "accuracy_honest_only", "attack_success"),
    "population": ("active_providers", "active_farmers", "active_wash", "active_poisoners"),
}
"""The timeseries columns each panel reads, by panel."""

_FIGSIZE_INCHES = (15.0, 15.0)
"""Figure size (inches); with :data:`_DPI` a 1,650 × 1,650 pixel image."""

_DPI = 110
"""Resolution of the saved image (dots per inch)."""

_SPIKE_RATIO = 5.0
"""Inflation axis: clip when the maximum exceeds this many times the 95th percentile
(ratio); a one-epoch unlock spike would otherwise flatten the rest of the line."""

_ROLE_COLOURS = {
    "providers": "#2e7d32",
    "farmers": "#ef6c00",
    "wash": "#8e24aa",
    "poisoners": "#c62828",
}
"""One colour per role, shared by the rewards and population panels."""


class DashboardError(ValueError):
    """The dashboard cannot be drawn from the given frame; the message says what to fix."""


# ----------------------------------------------------------------------------- helpers


def _human(value: float, _pos: object = None, *, digits: int = 3) -> str:
    """Compact number for tick labels and legends: 1.2k, 3.4M, 5.6B (no unit), with
    ``digits`` significant digits."""
    if not math.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.{digits}g}{suffix}"
    return f"{value:.{max(digits, 4) if magnitude >= 1 else digits}g}"


class _HumanFormatter(Formatter):
    """Tick labels in :func:`_human` style, with as many digits as it takes for the
    labels of one axis to differ (a narrow range such as 114.2M..114.6M needs four)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        """One label, three significant digits."""
        return _human(x)

    def format_ticks(self, values: Sequence[float]) -> list[str]:
        """All labels of an axis, with the fewest digits (3 to 9) that keeps them distinct."""
        labels = [_human(v) for v in values]
        for digits in range(3, 10):
            labels = [_human(v, digits=digits) for v in values]
            if len(set(labels)) == len(labels):
                break
        return labels


def _percent(value: float, _pos: object = None) -> str:
    """Tick label for a fraction shown in per cent."""
    return f"{value * 100:.4g}%"


class _Panel:
    """Collects which requested columns a panel could not show, to note them in it."""

    def __init__(self, ax: Axes, frame: pd.DataFrame, title: str) -> None:
        self.ax = ax
        self.frame = frame
        self.missing: list[str] = []
        self.empty: list[str] = []
        self.drawn = 0
        ax.set_title(title, loc="left", fontsize=11, fontweight="bold")
        ax.grid(True, alpha=0.3)

    def values(self, column: str) -> np.ndarray | None:
        """The column as float64, or None (and noted) when missing or without finite data."""
        if column not in self.frame.columns:
            self.missing.append(column)
            return None
        values = pd.to_numeric(self.frame[column], errors="coerce").to_numpy(dtype=np.float64)
        if not np.isfinite(values).any():
            self.empty.append(column)
            return None
        return values

    def finish(self, x_label: str) -> None:
        """Write the note for skipped columns, or the no-data message, and label the x axis."""
        self.ax.set_xlabel(x_label)
        self.ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        lines = []
        if self.missing:
            lines.append("not recorded: " + ", ".join(self.missing))
        if self.empty:
            lines.append("no values: " + ", ".join(self.empty))
        if self.drawn == 0:
            self.ax.text(
                0.5,
                0.5,
                "no data to show\n" + "\n".join(lines),
                transform=self.ax.transAxes,
                ha="center",
                va="center",
                fontsize=10,
                color="0.35",
            )
            self.ax.set_yticks([])
        elif lines:
            self.ax.text(
                0.01,
                0.01,
                "\n".join(lines),
                transform=self.ax.transAxes,
                ha="left",
                va="bottom",
                fontsize=7.5,
                color="0.35",
                bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8, "lw": 0},
            )


def _line(
    ax: Axes,
    x: np.ndarray,
    y: np.ndarray,
    label: str,
    *,
    colour: str | None = None,
    style: str = "-",
    markers: bool | None = None,
) -> None:
    """Draw the finite points of ``y`` against ``x``; markers when the series is sparse.

    Sparse means fewer than half the epochs carry a value (metrics measured on their own
    cadence) or fewer than 40 points, so isolated measurements stay visible.
    """
    ok = np.isfinite(y) & np.isfinite(x)
    n = int(ok.sum())
    if markers is None:
        markers = n < 40 or n < 0.5 * y.size
    ax.plot(
        x[ok],
        y[ok],
        style,
        color=colour,
        label=label,
        lw=1.6,
        marker="o" if markers else None,
        ms=4 if markers else None,
    )


def _last(y: np.ndarray) -> float:
    """The last finite value of ``y`` (NaN if none)."""
    finite = y[np.isfinite(y)]
    return float(finite[-1]) if finite.size else float("nan")


def _legend(axes: Sequence[Axes]) -> None:
    """One legend for a panel and its twin axis, below the panel so it never hides data."""
    handles: list[object] = []
    labels: list[str] = []
    for ax in axes:
        h, lab = ax.get_legend_handles_labels()
        handles += h
        labels += lab
    if handles:
        axes[0].legend(
            handles,
            labels,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.13),
            ncol=2,
            fontsize=8.5,
            frameon=False,
        )


# ------------------------------------------------------------------------------ panels


def _supply(panel: _Panel, x: np.ndarray) -> None:
    """(a) circulating / locked / burned tokens, annualised inflation on a twin axis."""
    ax = panel.ax
    styles = {
        "circulating_tokens": ("circulating", "#1565c0"),
        "locked_tokens": ("locked", "#6d4c41"),
        "burned_tokens": ("burned (cumulative)", "#d84315"),
    }
    for column, (name, colour) in styles.items():
        y = panel.values(column)
        if y is not None:
            _line(ax, x, y, f"{name}: {_human(_last(y))}", colour=colour, markers=False)
            panel.drawn += 1
    ax.set_ylabel("tokens")
    ax.yaxis.set_major_formatter(_HumanFormatter())
    axes = [ax]
    infl = panel.values("circulating_inflation_annualised")
    if infl is not None:
        twin = ax.twinx()
        _line(
            twin,
            x,
            infl,
            f"inflation, annualised (mean {np.nanmean(infl) * 100:.3g}%/yr)",
            colour="0.25",
            style="--",
            markers=False,
        )
        finite = infl[np.isfinite(infl)]
        top, p95 = float(finite.max()), float(np.percentile(finite, 95))
        if p95 > 0 and top > _SPIKE_RATIO * p95:
            low = min(0.0, float(finite.min()))
            twin.set_ylim(low, 2.0 * p95)
            twin.text(
                0.99,
                0.99,
                f"inflation spikes up to {top * 100:.4g}%/yr clipped",
                transform=twin.transAxes,
                ha="right",
                va="top",
                fontsize=7.5,
                color="0.25",
            )
        twin.set_ylabel("circulating inflation (%/year)")
        twin.yaxis.set_major_formatter(FuncFormatter(_percent))
        axes.append(twin)
        panel.drawn += 1
    _legend(axes)


def _price(panel: _Panel, x: np.ndarray) -> None:
    """(b) token price (USD), market cap (USD) on a twin axis."""
    ax = panel.ax
    axes = [ax]
    price = panel.values("price_usd")
    if price is not None:
        _line(ax, x, price, f"price: {_last(price):.4g} USD", colour="#1565c0", markers=False)
        ax.set_ylabel("price (USD per token)")
        panel.drawn += 1
    cap = panel.values("market_cap_usd")
    if cap is not None:
        twin = ax.twinx()
        _line(
            twin,
            x,
            cap,
            f"market cap: {_human(_last(cap))} USD",
            colour="#2e7d32",
            style="--",
            markers=False,
        )
        twin.set_ylabel("market cap (USD)")
        twin.yaxis.set_major_formatter(_HumanFormatter())
        axes.append(twin)
        panel.drawn += 1
    _legend(axes)


def _rewards(panel: _Panel, x: np.ndarray) -> None:
    """(c) reward tokens per epoch by role: stacked areas (lines if any value is negative)."""
    ax = panel.ax
    names: list[str] = []
    series: list[np.ndarray] = []
    colours: list[str] = []
    # Rows may cover several epochs (collect.metrics_every_epochs): flows are their sums.
    span = np.diff(np.concatenate([[x[0] - 1.0], x])) if x.size else x
    span = np.where(span > 0, span, 1.0)
    for column in PANELS["rewards"]:
        y = panel.values(column)
        if y is None:
            continue
        role = column.removeprefix("reward_").removesuffix("_tokens")
        names.append(f"{role}: {_human(float(np.nansum(y)))} total")
        y = y / span
        series.append(y)
        colours.append(_ROLE_COLOURS.get(role, "0.5"))
    if series:
        stack = np.vstack(series)
        if (stack[np.isfinite(stack)] >= 0).all():
            ax.stackplot(x, np.nan_to_num(stack, nan=0.0), labels=names, colors=colours, alpha=0.8)
        else:
            for name, y, colour in zip(names, series, colours, strict=True):
                _line(ax, x, y, name, colour=colour)
        panel.drawn += len(series)
        ax.set_ylabel("reward (tokens per epoch)")
        ax.yaxis.set_major_formatter(_HumanFormatter())
    _legend([ax])


def _fairness(panel: _Panel, x: np.ndarray) -> None:
    """(d) Spearman rho and proportionality gap (left), adversary capture (twin axis)."""
    ax = panel.ax
    axes = [ax]
    for column, name, colour in (
        ("spearman", "Spearman rho (reward vs value)", "#1565c0"),
        ("proportionality_gap", "proportionality gap", "#ef6c00"),
    ):
        y = panel.values(column)
        if y is not None:
            _line(ax, x, y, f"{name}: {_last(y):.3g}", colour=colour, markers=True)
            panel.drawn += 1
    if panel.drawn:
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_ylabel("rho (-1..1), gap (0..1)")
    capture = panel.values("adversary_capture")
    if capture is not None:
        twin = ax.twinx()
        _line(
            twin,
            x,
            capture,
            f"adversary capture: {_last(capture):.3g}x",
            colour="#c62828",
            style="--",
            markers=True,
        )
        twin.axhline(1.0, color="#c62828", lw=0.8, alpha=0.4)
        twin.set_ylabel("adversary capture (x, 1 = fair)")
        axes.append(twin)
        panel.drawn += 1
    _legend(axes)


def _quality(panel: _Panel, x: np.ndarray) -> None:
    """(e) clean accuracy vs the honest-only counterfactual, and attack success (per cent)."""
    ax = panel.ax
    for column, name, colour, style in (
        ("accuracy", "clean accuracy", "#1565c0", "-"),
        ("accuracy_honest_only", "honest-only accuracy", "#2e7d32", "--"),
        ("attack_success", "backdoor attack success", "#c62828", "-"),
    ):
        y = panel.values(column)
        if y is not None:
            _line(ax, x, y, f"{name}: {_last(y) * 100:.3g}%", colour=colour, style=style)
            panel.drawn += 1
    ax.set_ylabel("per cent of held-out queries")
    ax.yaxis.set_major_formatter(FuncFormatter(_percent))
    _legend([ax])


def _population(panel: _Panel, x: np.ndarray) -> None:
    """(f) active individuals by role."""
    ax = panel.ax
    for column in PANELS["population"]:
        y = panel.values(column)
        if y is None:
            continue
        role = column.removeprefix("active_")
        _line(
            ax,
            x,
            y,
            f"{role}: {_last(y):,.0f}",
            colour=_ROLE_COLOURS.get(role, "0.5"),
            markers=False,
        )
        panel.drawn += 1
    ax.set_ylabel("active individuals")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(_HumanFormatter())
    _legend([ax])


# -------------------------------------------------------------------------------- public


def dashboard_figure(timeseries: pd.DataFrame, title: str | None = None) -> Figure:
    """Build the six-panel dashboard of one run as a matplotlib Figure (Agg canvas).

    Args:
        timeseries: One run's timeseries: one row per epoch, columns of
            ``sim.model.KPI_NAMES`` (an ``epoch`` column is the x axis when present,
            else the row number). Columns may be missing or all-NaN; they are skipped
            and named in a note inside their panel. A ``run_id`` column, if any, must
            hold a single value.
        title: Figure title (default: run id, seed and number of epochs in the frame).

    Returns:
        The figure; its six panels are ``figure.axes[:6]`` in the order (a)..(f) (twin
        axes follow).

    Raises:
        DashboardError: ``timeseries`` is not a DataFrame or holds several runs.
    """
    if not isinstance(timeseries, pd.DataFrame):
        raise DashboardError(
            f"plot_dashboard: timeseries must be a pandas DataFrame, got "
            f"{type(timeseries).__name__}; pass RunResult.timeseries or Results.timeseries"
        )
    frame = timeseries
    if "run_id" in frame.columns:
        runs = pd.unique(frame["run_id"].dropna())
        if len(runs) > 1:
            shown = ", ".join(map(str, runs[:5])) + (", ..." if len(runs) > 5 else "")
            raise DashboardError(
                f"plot_dashboard: the timeseries holds {len(runs)} runs ({shown}); select "
                "one, e.g. ts[ts.run_id == 'name']"
            )
    if "epoch" in frame.columns:
        frame = frame.sort_values("epoch", kind="stable")
        x = pd.to_numeric(frame["epoch"], errors="coerce").to_numpy(dtype=np.float64)
        x_label = "epoch"
    else:
        x = np.arange(len(frame), dtype=np.float64)
        x_label = "epoch (row number)"
    if title is None:
        parts = []
        if "run_id" in frame.columns and len(frame):
            parts.append(str(frame["run_id"].iloc[0]))
        if "seed" in frame.columns and len(frame):
            parts.append(f"seed {frame['seed'].iloc[0]}")
        parts.append(f"{len(frame)} epochs")
        title = " · ".join(parts)

    # A fixed layout (not "constrained"): constrained layout costs a second full draw.
    fig = Figure(figsize=_FIGSIZE_INCHES, dpi=_DPI)
    fig.subplots_adjust(left=0.06, right=0.93, bottom=0.07, top=0.94, hspace=0.5, wspace=0.32)
    FigureCanvasAgg(fig)
    grid = fig.subplots(3, 2)
    drawers = (
        (_supply, "(a) supply & inflation"),
        (_price, "(b) price & market cap"),
        (_rewards, "(c) rewards by role per epoch"),
        (_fairness, "(d) fairness vs ground truth (measured epochs)"),
        (_quality, "(e) clean accuracy & attack success"),
        (_population, "(f) active population by role"),
    )
    for ax, (draw, name) in zip(grid.flat, drawers, strict=True):
        panel = _Panel(ax, frame, name)
        draw(panel, x)
        panel.finish(x_label)
    fig.suptitle(title, fontsize=14)
    return fig


def plot_dashboard(timeseries: pd.DataFrame, path: str | Path, title: str | None = None) -> Path:
    """Draw the six-panel dashboard of one run (:func:`dashboard_figure`) and save it.

    Args:
        timeseries: One run's timeseries (see :func:`dashboard_figure`).
        path: Image file to write: PNG unless its suffix names another format
            matplotlib writes (``.svg``, ``.pdf``); its folder must exist.
        title: Figure title (default: run id, seed and number of epochs in the frame).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        DashboardError: the frame holds several runs, or the file cannot be written.
    """
    out = Path(path)
    if not out.parent.is_dir():
        raise DashboardError(
            f"plot_dashboard: cannot write {out}: folder {out.parent} does not exist; "
            "create it first"
        )
    fig = dashboard_figure(timeseries, title)
    fmt = out.suffix.lstrip(".").lower() or "png"
    try:
        fig.savefig(out, format=fmt)
    except (OSError, ValueError) as exc:
        raise DashboardError(f"plot_dashboard: cannot write {out}: {exc}") from exc
    return out
