"""One look for every ledgerlab figure: colours, number formats and the time axis.

Figures are drawn on bare :class:`matplotlib.figure.Figure` objects with the Agg canvas
(no pyplot, no global state), so they work headless, in worker processes and inline in
notebooks (a Figure displays itself there). Numbers on axes are compact (1.2k, 3.4M) and
shares are per cent; the x axis is calendar time since launch whenever a scenario's
``epoch_days`` is known.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, FuncFormatter, MaxNLocator, MultipleLocator

__all__ = [
    "ROLE_COLOURS",
    "ROLE_LABELS",
    "HumanFormatter",
    "TimeAxis",
    "human",
    "new_figure",
    "note",
    "percent_axis",
    "time_axis",
    "variant_colours",
]

ROLE_COLOURS = {
    "providers": "#2e7d32",
    "builders": "#00838f",
    "consumers": "#1565c0",
    "holders": "#6d4c41",
    "validators": "#5d4037",
    "farmers": "#ef6c00",
    "wash": "#8e24aa",
    "poisoners": "#c62828",
}
"""One colour per role, in every figure."""

ROLE_LABELS = {
    "providers": "honest providers",
    "builders": "model builders",
    "consumers": "consumers",
    "holders": "holders",
    "validators": "validators",
    "farmers": "farmers (identities)",
    "wash": "wash consumers",
    "poisoners": "poisoners",
}
"""How a role is named in legends."""

_VARIANT_PALETTE = (
    "#1565c0",
    "#c62828",
    "#2e7d32",
    "#ef6c00",
    "#6a1b9a",
    "#00838f",
    "#5d4037",
    "#ad1457",
    "#9e9d24",
    "#455a64",
)

DPI = 110
"""Resolution of saved figures (dots per inch)."""


def variant_colours(names: Sequence[str]) -> dict[str, str]:
    """A distinct colour per variant name, stable for a given order of names."""
    return {name: _VARIANT_PALETTE[i % len(_VARIANT_PALETTE)] for i, name in enumerate(names)}


def new_figure(width_in: float, height_in: float) -> Figure:
    """A bare Figure with the Agg canvas attached (savefig works, no pyplot)."""
    fig = Figure(figsize=(width_in, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def human(value: float, digits: int = 3) -> str:
    """A compact number: 1.2k, 3.4M, 5.6B, with ``digits`` significant digits."""
    if not math.isfinite(value):
        return "n/a"
    # round first, so 999,999,000 reads 1B (not 1e+03M)
    magnitude = abs(float(f"{value:.{digits}g}"))
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.{digits}g}{suffix}"
    return f"{value:.{max(digits, 4) if magnitude >= 1 else digits}g}"


class HumanFormatter(Formatter):
    """Tick labels in :func:`human` style, with as many digits as it takes for the labels
    of one axis to differ (a narrow range such as 114.2M..114.6M needs four)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        """One label."""
        return human(x)

    def format_ticks(self, values: Sequence[float]) -> list[str]:
        """All labels of an axis, with the fewest digits (3 to 9) that keeps them distinct."""
        labels = [human(v) for v in values]
        for digits in range(3, 10):
            labels = [human(v, digits=digits) for v in values]
            if len(set(labels)) == len(labels):
                break
        return labels


_SUPERSCRIPT = str.maketrans(
    "-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
)


class PowerOfTenFormatter(Formatter):
    """Log-axis tick labels as 10ⁿ in plain text (superscript digits): what matplotlib's
    default log labels show, without their mathtext, whose parser is set up on first use
    (loading a run and drawing its dashboard: ~0.13 s less CPU, median of 9 paired
    processes). Ticks that are not powers of ten get :func:`human` labels."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        """One label."""
        if not (math.isfinite(x) and x > 0):
            return ""
        exponent = round(math.log10(x))
        if math.isclose(x, 10.0**exponent, rel_tol=1e-9):
            return "10" + str(exponent).translate(_SUPERSCRIPT)
        return human(x)


def percent_axis(ax: Axes, *, fraction: bool = True, which: str = "y") -> None:
    """Show an axis in per cent (its data are fractions if ``fraction``, else per cent)."""
    scale = 100.0 if fraction else 1.0
    formatter = FuncFormatter(lambda v, _pos: f"{v * scale:.3g} %")
    (ax.yaxis if which == "y" else ax.xaxis).set_major_formatter(formatter)


def note(ax: Axes, text: str, *, where: str = "lower left") -> None:
    """A small grey note inside a panel (what was left out, how to read it)."""
    x, ha = (0.01, "left") if "left" in where else (0.99, "right")
    y, va = (0.02, "bottom") if "lower" in where else (0.98, "top")
    ax.text(
        x,
        y,
        text,
        transform=ax.transAxes,
        ha=ha,
        va=va,
        fontsize=7.5,
        color="0.3",
        bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "lw": 0},
    )


@dataclass(frozen=True)
class TimeAxis:
    """Calendar time for epochs: ``x = epoch · scale`` in ``unit`` since launch."""

    scale: float
    unit: str
    tick: float | None

    def __call__(self, epochs: np.ndarray) -> np.ndarray:
        """Epoch indices (0-based) to x values; the end of epoch e is at e + 1."""
        return (np.asarray(epochs, dtype=np.float64) + 1.0) * self.scale

    @property
    def label(self) -> str:
        return f"{self.unit} since launch"

    def apply(self, ax: Axes) -> None:
        """Label and tick the x axis of ``ax``."""
        ax.set_xlabel(self.label)
        if self.tick:
            ax.xaxis.set_major_locator(MultipleLocator(self.tick))
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def time_axis(n_epochs: float, epoch_days: float | None) -> TimeAxis:
    """The time axis for a run of ``n_epochs`` epochs of ``epoch_days`` days each: days for
    up to two months, then months (ticks every 1, 3, 6 or 12), then years; epochs when the
    calendar length is unknown."""
    if epoch_days is None or not math.isfinite(epoch_days) or epoch_days <= 0:
        return TimeAxis(1.0, "epochs", None)
    days = n_epochs * epoch_days
    if days <= 62:
        return TimeAxis(epoch_days, "days", 7.0 if days > 21 else 1.0)
    months = days / 30.4375
    if months <= 48:
        tick = 1.0 if months <= 8 else 3.0 if months <= 24 else 6.0
        return TimeAxis(epoch_days / 30.4375, "months", tick)
    if months <= 120:
        return TimeAxis(epoch_days / 30.4375, "months", 12.0)
    return TimeAxis(epoch_days / 365.25, "years", None)
