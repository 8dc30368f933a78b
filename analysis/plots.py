"""Figures of runs and sweeps: each function takes results and returns a matplotlib Figure.

Every figure answers one question, with units on every axis, shares in per cent and
calendar time on the x axis where the scenario says how long an epoch is. Inputs are a
:class:`~ledgerlab.sim.run.RunResult`, :class:`~ledgerlab.analysis.results.Results` (a
run folder or a sweep folder, from ``ledgerlab.load``) or a bare timeseries frame.

One run (``RunResult``, or ``Results`` holding one run):

* :func:`supply` — is supply inflating? Tracker circulating and market float; where the
  circulating supply's growth came from (unlocks, rewards paid, burns); annualised
  inflation of both, from 0.
* :func:`price` — what moved the price? The price with the buy and sell flow under it.
* :func:`rewards` — who was paid? Each role's share of the rewards so far.
* :func:`fairness` — were adversaries overpaid? Excess share and overpayment over time.
* :func:`reward_vs_value` — did rewards follow value? Each individual's reward against
  its fair reward (log-log), adversaries highlighted.
* :func:`resilience` — what did the attack cost? Accuracy against the honest-only twin
  and backdoor attack success.
* :func:`defences` — what did the defences refuse, and at whose cost?
* :func:`population` — who is in the economy?

A sweep (``Results`` of many runs): :func:`fan` (any metric over time across replicates:
median, 50 % and 90 % bands, one colour per variant), :func:`comparison` (paired
differences with intervals) and :func:`benefit_cost` (what each defence removes against
what it costs honest providers).

``PANELS`` lists the one-run panels with the test that says whether a panel applies to a
run; the dashboard (``ledgerlab.analysis.dashboard``) draws the ones that do.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from ledgerlab.analysis.style import (
    ROLE_COLOURS,
    ROLE_LABELS,
    HumanFormatter,
    PowerOfTenFormatter,
    TimeAxis,
    human,
    new_figure,
    note,
    percent_axis,
    time_axis,
    variant_colours,
)

__all__ = [
    "PANELS",
    "Panel",
    "PlotError",
    "RunView",
    "benefit_cost",
    "comparison",
    "defences",
    "fairness",
    "fan",
    "population",
    "price",
    "resilience",
    "reward_vs_value",
    "rewards",
    "run_view",
    "supply",
]

ADVERSARY_ROLES = ("farmers", "wash", "poisoners")
CONTRIBUTOR_ROLES = ("providers", *ADVERSARY_ROLES)


class PlotError(ValueError):
    """The figure cannot be drawn from these results; the message says what to pass."""


# ------------------------------------------------------------------------------ inputs


@dataclass
class RunView:
    """One run as the figures read it.

    Attributes:
        timeseries: One row per epoch (or per metrics interval), sorted by epoch.
        agents: Agent snapshots (may be empty).
        summary: Final KPIs.
        epoch_days: Calendar length of an epoch (days), None if unknown.
        title: ``scenario — engine E, defences D, seed S``.
    """

    timeseries: pd.DataFrame
    agents: pd.DataFrame = field(default_factory=pd.DataFrame)
    summary: Mapping[str, Any] = field(default_factory=dict)
    epoch_days: float | None = None
    title: str = ""

    def has(self, column: str) -> bool:
        """Whether the timeseries holds ``column`` with at least one finite value."""
        if column not in self.timeseries.columns:
            return False
        return bool(np.isfinite(self.values(column)).any())

    def values(self, column: str) -> np.ndarray:
        """A column as float64 (NaN where missing)."""
        if column not in self.timeseries.columns:
            return np.full(len(self.timeseries), np.nan)
        return pd.to_numeric(self.timeseries[column], errors="coerce").to_numpy(np.float64)

    @property
    def epochs(self) -> np.ndarray:
        return self.values("epoch") if "epoch" in self.timeseries else np.arange(len(self))

    def __len__(self) -> int:
        return len(self.timeseries)

    def span(self) -> np.ndarray:
        """Epochs each row covers (a row sums the flows since the previous one)."""
        e = self.epochs
        return np.maximum(np.diff(np.concatenate([[-1.0], e])), 1.0) if e.size else e

    def cumulative(self, column: str) -> np.ndarray:
        """The running total of a flow column (NaN counted as 0)."""
        return np.cumsum(np.nan_to_num(self.values(column)))

    @property
    def axis(self) -> TimeAxis:
        last = float(self.epochs[-1]) + 1.0 if len(self) else 1.0
        return time_axis(last, self.epoch_days)

    @property
    def x(self) -> np.ndarray:
        return self.axis(self.epochs)


def _describe_run(summary: Mapping[str, Any]) -> str:
    defences = summary.get("defenses")
    if isinstance(defences, list | tuple):
        defences = ", ".join(map(str, defences)) or "none"
    parts = [str(summary.get("scenario") or summary.get("run_id") or "run")]
    details = []
    if summary.get("engine"):
        details.append(f"engine {summary['engine']}")
    if defences is not None:
        details.append(f"defences {defences}")
    if summary.get("seed") is not None:
        details.append(f"seed {summary['seed']}")
    return parts[0] + (" — " + ", ".join(details) if details else "")


def _epoch_days_of(folder: Path | None) -> float | None:
    if folder is None:
        return None
    try:
        from ledgerlab.scenarios import load

        return float(load(folder / "scenario.resolved.yaml").epoch_days)
    except (ValueError, OSError):
        return None


def run_view(results: Any, run_id: str | None = None) -> RunView:
    """One run of ``results`` (a RunResult, a Results or a timeseries frame) for plotting.

    ``run_id`` picks one run of a sweep; without it, the results must hold one run.
    """
    if isinstance(results, RunView):
        return results
    if isinstance(results, pd.DataFrame):
        return _single(RunView(results), run_id)
    scenario = getattr(results, "scenario", None)
    if scenario is not None and hasattr(results, "timeseries"):  # a RunResult
        return RunView(
            results.timeseries.sort_values("epoch", kind="stable").reset_index(drop=True),
            results.agents,
            results.summary,
            float(scenario.epoch_days),
            _describe_run(results.summary),
        )
    if not hasattr(results, "run_ids"):
        raise PlotError(
            f"expected a RunResult, a Results (ledgerlab.load) or a timeseries DataFrame, got "
            f"{type(results).__name__}"
        )
    ids = list(results.run_ids) or sorted(pd.unique(results.summary.get("run_id", [])))
    if run_id is None:
        if len(ids) != 1:
            shown = ", ".join(map(str, ids[:4])) + (", ..." if len(ids) > 4 else "")
            raise PlotError(
                f"these results hold {len(ids)} runs ({shown}); pick one with run_id=..., or "
                "use a sweep figure (fan, comparison)"
            )
        run_id = str(ids[0])
    ts = results.timeseries[results.timeseries["run_id"] == run_id]
    agents = results.agents
    if len(agents) and "run_id" in agents:
        agents = agents[agents["run_id"] == run_id]
    summary = results.run_summary(run_id) if hasattr(results, "run_summary") else {}
    folder = getattr(results, "paths", {}).get(run_id)
    return RunView(
        ts.sort_values("epoch", kind="stable").reset_index(drop=True),
        agents,
        summary,
        _epoch_days_of(Path(folder)) if folder else None,
        _describe_run(summary),
    )


def _single(view: RunView, run_id: str | None) -> RunView:
    ts = view.timeseries
    if "run_id" in ts.columns:
        ids = pd.unique(ts["run_id"].dropna())
        if run_id is not None:
            ts = ts[ts["run_id"] == run_id]
        elif len(ids) > 1:
            raise PlotError(
                f"the timeseries holds {len(ids)} runs; pick one with run_id=... (e.g. {ids[0]!r})"
            )
    if "epoch" in ts.columns:
        ts = ts.sort_values("epoch", kind="stable")
    return RunView(ts.reset_index(drop=True), view.agents, view.summary, view.epoch_days)


# ------------------------------------------------------------------------------ helpers


def _legend(ax: Axes, *, loc: str = "upper left", ncol: int = 1) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc=loc, fontsize=8, ncol=ncol, framealpha=0.85)


def _last(y: np.ndarray) -> float:
    finite = y[np.isfinite(y)]
    return float(finite[-1]) if finite.size else math.nan


def _plot(ax: Axes, x: np.ndarray, y: np.ndarray, label: str, colour: str, **kw: Any) -> None:
    """Finite points only; markers when a series is sparse (measured on a cadence)."""
    ok = np.isfinite(y)
    sparse = ok.sum() < 0.5 * y.size
    ax.plot(x[ok], y[ok], label=label, color=colour, lw=1.6, marker="o" if sparse else None,
            ms=3.5, **kw)  # fmt: skip


def _figure(panel: Panel, view: RunView) -> Figure:
    fig = new_figure(8.0, 5.0 if panel.cell else 4.2)
    ax = panel.draw_in(fig, fig.add_gridspec(1, 1)[0], view)
    ax.set_title(panel.question, loc="left", fontsize=11, fontweight="bold")
    if view.title:
        fig.suptitle(view.title, fontsize=9, color="0.3", x=0.01, ha="left")
    fig.tight_layout()
    return fig


def _active(view: RunView, role: str) -> bool:
    return bool(np.nansum(view.values(f"active_{role}")) > 0) or bool(
        np.nansum(view.values(f"reward_{role}_tokens")) > 0
    )


def has_adversaries(view: RunView) -> bool:
    """Whether any adversary took part in the run."""
    return any(_active(view, role) for role in ADVERSARY_ROLES)


def has_defences(view: RunView) -> bool:
    """Whether the run had defences (its summary, or any defence KPI above zero)."""
    listed = view.summary.get("defenses")
    if isinstance(listed, list | tuple):
        return len(listed) > 0
    return any(
        np.nansum(view.values(c)) > 0
        for c in ("defense_rejected_points", "slashed_tokens", "defense_withheld_tokens")
    )


# ------------------------------------------------------------------------------ panels


def draw_supply_levels(ax: Axes, view: RunView) -> None:
    """Tracker circulating (everything unlocked) and market float (tokens); on a log axis
    when the float is under 5 % of circulating, so it does not vanish into the x axis."""
    x = view.x
    circ, flt = view.values("circulating_tokens"), view.values("market_float_tokens")
    for column, label, colour, style in (
        ("supply_tokens", "total supply", "0.55", ":"),
        ("circulating_tokens", "tracker circulating (everything unlocked)", "#1565c0", "-"),
        ("market_float_tokens", "market float (excl. protocol accounts)", "#c62828", "-"),
    ):
        if view.has(column):
            y = view.values(column)
            _plot(ax, x, y, f"{label}: {human(_last(y))}", colour, ls=style)
    share = _last(flt) / _last(circ) if view.has("market_float_tokens") else math.nan
    log = bool(0 < share < 0.05 and np.nanmin(flt) > 0)
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(PowerOfTenFormatter())
        ax.set_ylabel("tokens (log scale)")
        note(ax, f"market float = {share * 100:.2g} % of tracker circulating", where="upper left")
    else:
        ax.set_ylim(bottom=0)
        ax.set_ylabel("tokens")
        ax.yaxis.set_major_formatter(HumanFormatter())
    view.axis.apply(ax)
    _legend(ax, loc="center right" if log else "lower right")


_SOURCES = (
    ("unlocked to holders", "#1565c0"),
    ("unlocked into protocol accounts", "#90caf9"),
    ("minted as rewards", "#2e7d32"),
)


def draw_supply_sources(ax: Axes, view: RunView) -> None:
    """Where tracker circulating's growth came from, cumulative since launch: unlocks to
    holders and into protocol accounts, rewards minted (above 0), burns (below 0); the
    terms sum to the growth (black). The market float's growth and the rewards paid out of
    the protocol's accounts are named beside it (tokens)."""
    x = view.x
    unlocks = view.cumulative("circulating_growth_unlocks_tokens")
    to_holders = view.cumulative("market_float_growth_unlocks_tokens")
    minted = view.cumulative("circulating_growth_minted_tokens")
    burned = view.cumulative("circulating_growth_burns_tokens")
    parts = (to_holders, unlocks - to_holders, minted)
    ax.stackplot(
        x,
        *parts,
        labels=[f"{name}: {human(p[-1])}" for (name, _), p in zip(_SOURCES, parts, strict=True)],
        colors=[c for _, c in _SOURCES],
        alpha=0.85,
    )
    ax.fill_between(x, 0, burned, color="#d84315", alpha=0.8, label=f"burned: {human(-burned[-1])}")
    growth = view.cumulative("circulating_growth_tokens")
    _plot(ax, x, growth, f"= tracker circulating growth: {human(growth[-1])}", "black")
    if view.has("market_float_growth_tokens"):
        paid = view.cumulative("market_float_growth_rewards_tokens")
        other = view.cumulative("market_float_growth_other_tokens")
        grown = view.cumulative("market_float_growth_tokens")
        note(
            ax,
            f"market float grew {human(grown[-1])}: unlocks to holders {human(to_holders[-1])}"
            f"\n+ rewards paid out of protocol accounts {human(paid[-1])}"
            f"\n+ other net transfers from protocol accounts {human(other[-1])}"
            "\n  (AMM trades, fees in, fee shares, grants, tips out)",
            where="lower right",
        )
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_ylabel("tokens since launch")
    ax.yaxis.set_major_formatter(HumanFormatter())
    view.axis.apply(ax)
    _legend(ax)


def launch_level(view: RunView, view_name: str) -> tuple[float, float]:
    """(level at launch, its epoch) of a supply view (``circulating``, ``market_float``):
    the first row's level minus the growth it records, at epoch −1 (the end of launch);
    without the growth column, the first row's level at its own epoch."""
    level = view.values(f"{view_name}_tokens")
    growth = view.values(f"{view_name}_growth_tokens")
    first = float(view.epochs[0])
    if np.isfinite(growth[0]):
        return float(level[0] - growth[0]), first - 1.0
    return float(level[0]), first


def growth_since_start(view: RunView, view_name: str, min_epochs: int) -> np.ndarray:
    """Growth of a supply view since launch, annualised by compounding:
    (X_t / X_launch)^(epochs per year / (t − t_launch)) − 1 (fraction/year; NaN for rows
    fewer than ``min_epochs`` after launch, where a short span would blow noise up, and
    when X_launch ≤ 0; without a calendar, 365.25 epochs a year)."""
    level, epochs = view.values(f"{view_name}_tokens"), view.epochs
    out = np.full(level.size, np.nan)
    if level.size == 0:
        return out
    base, t0 = launch_level(view, view_name)
    if not base > 0:
        return out
    per_year = 365.25 / (view.epoch_days or 1.0)
    span = epochs - t0
    ok = (span >= max(min_epochs, 1)) & (level >= 0)
    with np.errstate(over="ignore", divide="ignore"):
        out[ok] = np.expm1(np.log(level[ok] / base) * per_year / span[ok])
    return out


def draw_inflation(ax: Axes, view: RunView) -> None:
    """Growth of tracker circulating and market float since launch, annualised (%/year),
    from 0; spikes are clipped and named. Not the per-epoch rates compounded
    (``*_inflation_annualised``): those compound one epoch's noise over a year, so a thin
    float's daily trades would read as astronomic inflation."""
    x = view.x
    days = view.epoch_days or 1.0
    last = int(view.epochs[-1]) if len(view) else 0
    start = max(1, min(max(round(30.0 / days), last // 4), last // 2))  # ≥ 30 days, ¼ run
    shown: list[np.ndarray] = []
    for name, label, colour in (
        ("circulating", "tracker circulating", "#1565c0"),
        ("market_float", "market float", "#c62828"),
    ):
        if view.has(f"{name}_tokens"):
            y = growth_since_start(view, name, start)
            base = launch_level(view, name)[0]
            total = _last(view.values(f"{name}_tokens")) / base - 1.0 if base > 0 else math.nan
            _plot(ax, x, y, f"{label} (grew {total * 100:.3g} % since launch)", colour)
            shown.append(y[np.isfinite(y)])
    finite = np.concatenate(shown) if shown else np.zeros(0)
    if finite.size:
        top, p95 = float(finite.max()), float(np.percentile(finite, 95))
        low = 1.1 * min(0.0, float(finite.min()))
        if p95 > 0 and top > 5 * p95:
            ax.set_ylim(low, 2 * p95)
            note(ax, f"spikes up to {top * 100:.3g} %/yr clipped", where="upper right")
        else:
            ax.set_ylim(bottom=low)
    note(ax, f"growth since launch, annualised (from day {start * days:.3g})", where="upper left")
    percent_axis(ax)
    ax.set_ylabel("annualised growth (%/year)")
    view.axis.apply(ax)
    _legend(ax, loc="best")


def draw_price(ax: Axes, view: RunView) -> None:
    """Token price (USD/token)."""
    price = view.values("price_usd")
    _plot(ax, view.x, price, f"AMM price: {_last(price):.4g} USD", "#1565c0")
    ax.set_ylabel("price (USD per token)")
    ax.set_ylim(bottom=0)
    view.axis.apply(ax)
    _legend(ax, loc="upper left")


def _bar_edges(x: np.ndarray) -> np.ndarray:
    """Edges of touching bars centred on ``x`` (ascending): midpoints between neighbours,
    half the median spacing beyond the ends. Drawn with ``stairs`` these are one artist
    where ``bar`` makes one patch per epoch (a year of daily bars took ~0.2 s to draw)."""
    if x.size == 0:
        return np.zeros(1)
    half = float(np.median(np.diff(x))) / 2 if x.size > 1 else 0.5
    mid = (x[1:] + x[:-1]) / 2
    return np.concatenate([[x[0] - half], mid, [x[-1] + half]])


def draw_trade_flow(ax: Axes, view: RunView) -> None:
    """The epoch's outside buys (above 0) and sells by outside traders and holders (below
    0), USD per epoch."""
    x = view.x
    flow = np.nan_to_num(view.values("exogenous_flow_usd")) / view.span()
    sales = np.nan_to_num(view.values("sales_usd")) / view.span()
    edges = _bar_edges(x)
    ax.stairs(np.maximum(flow, 0), edges, fill=True, color="#2e7d32", label="outside buys")
    ax.stairs(-np.maximum(-flow, 0) - sales, edges, fill=True, color="#c62828",
              label="sells (outside traders and holders)")  # fmt: skip
    ax.axhline(0, color="0.3", lw=0.6)
    ax.set_ylabel("USD per epoch")
    ax.yaxis.set_major_formatter(HumanFormatter())
    view.axis.apply(ax)
    _legend(ax, loc="lower left", ncol=2)


def draw_price_cell(fig: Figure, spec: Any, view: RunView) -> Axes:
    """The price above the trade flow that moved it, sharing the time axis."""
    top, bottom = spec.subgridspec(2, 1, height_ratios=[2.2, 1.0], hspace=0.08)
    ax = fig.add_subplot(top)
    flow_ax = fig.add_subplot(bottom, sharex=ax)
    draw_price(ax, view)
    draw_trade_flow(flow_ax, view)
    ax.tick_params(labelbottom=False)
    ax.set_xlabel("")
    return ax


def draw_rewards(ax: Axes, view: RunView) -> None:
    """Each contributing role's share of the rewards paid so far (%)."""
    x = view.x
    cum = {r: view.cumulative(f"reward_{r}_tokens") for r in CONTRIBUTOR_ROLES}
    total = sum(cum.values())
    share = {r: np.divide(c, total, out=np.zeros_like(c), where=total > 0) for r, c in cum.items()}
    roles = [r for r in CONTRIBUTOR_ROLES if cum[r][-1] > 0]
    if not roles:
        note(ax, "no rewards paid to contributors", where="upper left")
        return
    labels = [
        f"{ROLE_LABELS[r]}: {share[r][-1] * 100:.3g} % ({human(cum[r][-1])} tokens)" for r in roles
    ]
    ax.stackplot(x, *[share[r] for r in roles], labels=labels,
                 colors=[ROLE_COLOURS[r] for r in roles], alpha=0.85)  # fmt: skip
    ax.set_ylim(0, 1)
    percent_axis(ax)
    ax.set_ylabel("share of rewards paid so far")
    view.axis.apply(ax)
    _legend(ax, loc="lower left")


def draw_fairness(ax: Axes, view: RunView) -> None:
    """Adversaries' excess share of rewards (their reward share minus their fair share,
    percentage points; 0 = fair, above 0 = overpaid) over time."""
    x = view.x
    for column, label, colour in (
        ("excess_share", "excess share (cumulative)", "#c62828"),
        ("excess_share_epoch", "excess share (this epoch)", "#ef9a9a"),
    ):
        if view.has(column):
            y = view.values(column)
            _plot(ax, x, y, f"{label}: {_last(y) * 100:+.3g} pp", colour)
    ax.axhline(0, color="0.3", lw=0.8)
    shown = [view.values(c) for c in ("excess_share", "excess_share_epoch") if view.has(c)]
    top = max((float(np.nanmax(np.abs(y))) for y in shown if np.isfinite(y).any()), default=0)
    lim = min(1.0, max(0.05, top * 1.15))  # both lines inside; a share never passes ±100 pp
    ax.set_ylim(-lim, lim)
    ax.yaxis.set_major_formatter(lambda v, _p: f"{v * 100:+.3g} pp")
    ax.set_ylabel("reward share − fair share (pp)")
    over = view.values("overpayment_usd")
    if np.isfinite(over).any():
        note(ax, f"overpaid to adversaries so far: {human(float(np.nansum(over)))} USD",
             where="upper right")  # fmt: skip
    view.axis.apply(ax)
    _legend(ax, loc="lower left")


def draw_resilience(ax: Axes, view: RunView) -> None:
    """Clean accuracy against the honest-only and no-defence twins (where they ran), and
    backdoor attack success (%)."""
    x = view.x
    for column, label, colour, style in (
        ("accuracy", "clean accuracy", "#1565c0", "-"),
        ("twin_honest_only_accuracy", "honest-only twin", "#2e7d32", "--"),
        ("twin_no_defense_accuracy", "no-defence twin", "#6d4c41", ":"),
        ("attack_success", "backdoor attack success", "#c62828", "-"),
    ):
        if view.has(column):
            y = view.values(column)
            _plot(ax, x, y, f"{label}: {_last(y) * 100:.3g} %", colour, ls=style)
    ax.set_ylim(0, 1.02)
    percent_axis(ax)
    ax.set_ylabel("% of held-out queries")
    view.axis.apply(ax)
    _legend(ax, loc="lower left")


def draw_defences(ax: Axes, view: RunView) -> None:
    """Points the defences refused so far, honest and adversarial (points), with what the
    defences cost honest contributors in tokens noted."""
    x = view.x
    for column, label, colour in (
        ("defense_rejected_adversary_points", "adversaries' points refused", "#c62828"),
        ("defense_rejected_honest_points", "honest points refused", "#2e7d32"),
    ):
        y = view.cumulative(column)
        _plot(ax, x, y, f"{label}: {human(y[-1])}", colour)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("points refused since launch")
    ax.yaxis.set_major_formatter(HumanFormatter())
    cost = [
        f"honest bonds slashed: {human(float(np.nansum(view.values('slashed_honest_tokens'))))} "
        "tokens",
        f"rewards withheld: {human(float(np.nansum(view.values('defense_withheld_tokens'))))} "
        "tokens",
    ]
    note(ax, "\n".join(cost), where="upper right")
    view.axis.apply(ax)
    _legend(ax, loc="upper left")


def draw_population(ax: Axes, view: RunView) -> None:
    """Active individuals by role (individuals)."""
    x = view.x
    for role in ("providers", "consumers", "builders", *ADVERSARY_ROLES):
        column = f"active_{role}"
        if view.has(column) and np.nanmax(view.values(column)) > 0:
            y = view.values(column)
            _plot(ax, x, y, f"{ROLE_LABELS[role]}: {_last(y):,.0f}", ROLE_COLOURS[role])
    ax.set_ylim(bottom=0)
    ax.set_ylabel("active individuals")
    ax.yaxis.set_major_formatter(HumanFormatter())
    view.axis.apply(ax)
    _legend(ax, loc="best", ncol=2)  # a fixed corner hid a peak of the consumers' curve


def draw_reward_vs_value(ax: Axes, view: RunView) -> None:
    """Each contributor's reward against its fair reward (tokens, log-log); on the diagonal
    rewards follow value, above it the individual was overpaid. Individuals with no
    positive value (or under a millionth of the largest, i.e. rounding noise) sit on the
    band at the left, so that a 1e-15 value does not squash the cloud into a corner."""
    agents = view.agents
    last = agents[agents["epoch"] == agents["epoch"].max()]
    last = last[last["role"].isin(CONTRIBUTOR_ROLES) & (last["points_accepted"] > 0)]
    reward = last["reward_tokens"].to_numpy(np.float64)
    fair = last["fair_reward_tokens"].to_numpy(np.float64)
    positive = np.concatenate([reward[reward > 0], fair[fair > 0]])
    floor = max(float(positive.min()), float(positive.max()) * 1e-6) / 10 if positive.size else 1e-3
    top = float(positive.max()) * 3 if positive.size else 1.0
    for role in CONTRIBUTOR_ROLES:
        sel = (last["role"] == role).to_numpy()
        if not sel.any():
            continue
        ax.scatter(np.maximum(fair[sel], floor), np.maximum(reward[sel], floor), s=14,
                   alpha=0.7, color=ROLE_COLOURS[role], edgecolors="none",
                   label=f"{ROLE_LABELS[role]} ({int(sel.sum())})")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    # Over ~8 decades minor ticks are clutter, and drawing them took ~20 % of the dashboard.
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_minor_locator(NullLocator())
        axis.set_major_formatter(PowerOfTenFormatter())
    ax.plot([floor, top], [floor, top], color="0.3", lw=0.8, ls="--", label="reward = fair share")
    ax.axvspan(floor / 2, floor * 1.5, color="0.9", zorder=0)
    ax.set_xlim(floor / 2, top)
    ax.set_ylim(floor / 2, top)
    ax.set_xlabel("fair reward (tokens; grey band: none, or under a millionth of the largest)")
    ax.set_ylabel("reward paid (tokens)")
    _legend(ax, loc="lower right")  # upper left would hide the band's points


@dataclass(frozen=True)
class Panel:
    """One panel of the dashboard: the question it answers, how to draw it, and when it
    applies to a run. ``cell`` draws panels made of several axes into a grid cell."""

    question: str
    draw: Callable[[Axes, RunView], None]
    applies: Callable[[RunView], bool]
    cell: Callable[[Figure, Any, RunView], Axes] | None = None

    def draw_in(self, fig: Figure, spec: Any, view: RunView) -> Axes:
        """Draw into a grid cell of ``fig``; returns the axes carrying the title."""
        if self.cell is not None:
            return self.cell(fig, spec, view)
        ax = fig.add_subplot(spec)
        self.draw(ax, view)
        return ax


def _can_scatter(view: RunView) -> bool:
    a = view.agents
    need = {"role", "epoch", "reward_tokens", "fair_reward_tokens", "points_accepted"}
    return len(a) > 0 and need <= set(a.columns) and bool((a["fair_reward_tokens"] > 0).any())


PANELS: dict[str, Panel] = {
    "supply": Panel("Is supply inflating?", draw_supply_levels,
                    lambda v: v.has("circulating_tokens")),
    "sources": Panel("Where did circulating supply come from?", draw_supply_sources,
                     lambda v: v.has("circulating_growth_tokens")),
    "inflation": Panel("How fast is it growing?", draw_inflation,
                       lambda v: v.has("circulating_tokens") and len(v) > 1),
    "price": Panel("What moved the price?", draw_price, lambda v: v.has("price_usd"),
                   draw_price_cell),
    "rewards": Panel("Who was paid?", draw_rewards,
                     lambda v: has_adversaries(v) and v.has("rewards_tokens")),
    "fairness": Panel("Were adversaries overpaid?", draw_fairness,
                      lambda v: has_adversaries(v) and v.has("excess_share")),
    "reward_vs_value": Panel("Did rewards follow value?", draw_reward_vs_value, _can_scatter),
    "resilience": Panel("What did the attack cost the models?", draw_resilience,
                        lambda v: has_adversaries(v) and v.has("accuracy")),
    "defences": Panel("What did the defences refuse?", draw_defences, has_defences),
    "population": Panel("Who is in the economy?", draw_population,
                        lambda v: v.has("active_providers")),
}  # fmt: skip
"""The one-run panels, in dashboard order."""


# --------------------------------------------------------------------- one-run figures


def _one(name: str) -> Callable[..., Figure]:
    panel = PANELS[name]

    def figure(results: Any, run_id: str | None = None) -> Figure:
        view = run_view(results, run_id)
        if not panel.applies(view):
            raise PlotError(f"'{panel.question}' does not apply to {view.title or 'this run'}")
        return _figure(panel, view)

    figure.__name__ = name
    figure.__doc__ = f"{panel.question} ({panel.draw.__doc__.splitlines()[0]})"
    return figure


def supply(results: Any, run_id: str | None = None) -> Figure:
    """Is supply inflating? Levels, sources of growth and annualised inflation (3 panels)."""
    view = run_view(results, run_id)
    fig = new_figure(8.0, 9.0)
    axes = fig.subplots(3, 1)
    for ax, name in zip(axes, ("supply", "sources", "inflation"), strict=True):
        PANELS[name].draw(ax, view)
        ax.set_title(PANELS[name].question, loc="left", fontsize=11, fontweight="bold")
    fig.suptitle(view.title, fontsize=9, color="0.3", x=0.01, ha="left")
    fig.tight_layout()
    return fig


price = _one("price")
rewards = _one("rewards")
fairness = _one("fairness")
reward_vs_value = _one("reward_vs_value")
resilience = _one("resilience")
defences = _one("defences")
population = _one("population")


# ----------------------------------------------------------------------- sweep figures


_FRACTION_HINTS = ("accuracy", "attack_success", "share", "_rate", "ratio", "inflation")


def metric_axis(ax: Axes, metric: str) -> str:
    """Format an axis for a KPI by its name's unit; returns the axis label."""
    if metric.endswith("_usd"):
        ax.yaxis.set_major_formatter(HumanFormatter())
        return f"{metric} (USD)"
    if metric.endswith("_tokens"):
        ax.yaxis.set_major_formatter(HumanFormatter())
        return f"{metric} (tokens)"
    if any(hint in metric for hint in _FRACTION_HINTS):
        percent_axis(ax)
        return f"{metric} (%)"
    ax.yaxis.set_major_formatter(HumanFormatter())
    return metric


def _fan_band(ax: Axes, wide: pd.DataFrame, axis: TimeAxis, colour: str, label: str) -> None:
    q = np.nanquantile(wide.to_numpy(np.float64), [0.05, 0.25, 0.5, 0.75, 0.95], axis=1)
    x = axis(wide.index.to_numpy())
    ax.fill_between(x, q[0], q[4], color=colour, alpha=0.15, lw=0)
    ax.fill_between(x, q[1], q[3], color=colour, alpha=0.35, lw=0)
    ax.plot(x, q[2], color=colour, lw=1.8, label=label)


def fan(
    results: Any,
    metric: str,
    *,
    by: str = "variant",
    epoch_days: float | None = None,
    reference: str | None = None,
) -> Figure:
    """``metric`` over time across replicates: median with 50 % and 90 % bands, one colour
    per ``by`` group (a sweep's variants by default). Up to four groups share one panel;
    more get one small panel each, with the ``reference`` group's median (default: the
    first group) drawn in grey in every panel for comparison."""
    ts = results.timeseries
    if metric not in ts.columns:
        raise PlotError(f"no timeseries column {metric!r}; choose one of the KPI columns")
    if by not in ts.columns:
        ts = ts.assign(**{by: "all runs"})
    groups = list(dict.fromkeys(ts[by].astype(str)))
    colours = variant_colours(groups)
    axis = time_axis(float(ts["epoch"].max()) + 1.0, epoch_days)
    wide = {
        g: ts[ts[by].astype(str) == g].pivot_table(
            index="epoch", columns="run_id", values=metric, aggfunc="first"
        )
        for g in groups
    }
    single = len(groups) <= 4
    cols = 1 if single else min(4, len(groups))
    rows = 1 if single else math.ceil(len(groups) / cols)
    fig = new_figure(8.0 if single else 3.4 * cols, 4.5 if single else 2.6 * rows + 0.8)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True, squeeze=False)).ravel()
    ref = reference if reference in wide else groups[0]
    for i, g in enumerate(groups):
        ax = axes[0 if single else i]
        if not single and g != ref:
            median = np.nanmedian(wide[ref].to_numpy(np.float64), axis=1)
            ax.plot(axis(wide[ref].index.to_numpy()), median, color="0.5", lw=1.2, ls="--",
                    label=f"{ref} (median)")  # fmt: skip
        _fan_band(ax, wide[g], axis, colours[g], f"{g} ({wide[g].shape[1]} runs)")
        if not single:
            ax.set_title(g, fontsize=9, loc="left")
    for ax in axes[len(groups) if not single else 1 :]:
        ax.set_visible(False)
    label = ""
    shown = axes[: 1 if single else len(groups)]
    for i, ax in enumerate(shown):
        label = metric_axis(ax, metric)
        axis.apply(ax)
        if i + cols < len(shown):  # a panel below shows the time axis
            ax.set_xlabel("")
        else:
            ax.tick_params(labelbottom=True)
        if single:
            _legend(ax, loc="best")
    fig.supylabel(label, fontsize=10)
    extra = "" if single else f"; grey dashed: {ref}'s median"
    fig.suptitle(f"{metric}: median (line), 50 % and 90 % of runs (bands){extra}", fontsize=11,
                 x=0.01, ha="left", fontweight="bold")  # fmt: skip
    fig.tight_layout()
    return fig


def comparison(table: pd.DataFrame) -> Figure:
    """Paired differences from the reference variant with their 95 % intervals, one panel
    per metric (the table of ``ledgerlab.compare``)."""
    from ledgerlab.analysis.compare import plot_comparison

    return plot_comparison(table)


def _label_points(ax: Axes, points: Sequence[tuple[str, float, float]]) -> None:
    """Name each point beside it unless the name would overlap one already written (then
    the legend names it), so crowded points stay readable. Call it once the layout is
    final: it measures where the points are drawn (in points, 8-pt text)."""
    to_pt = 72.0 / ax.figure.dpi
    placed: list[tuple[float, float, float]] = []  # left, bottom, width of each name
    for name, x, y in sorted(points, key=lambda p: -p[2]):
        px, py = (v * to_pt for v in ax.transData.transform((x, y)))
        box = (px + 6.0, py + 4.0, 5.2 * len(name))
        if any(abs(box[0] - q[0]) < max(box[2], q[2]) and abs(box[1] - q[1]) < 11.0
               for q in placed):  # fmt: skip
            continue
        placed.append(box)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)


def benefit_cost(
    table: pd.DataFrame,
    *,
    benefit: str = "excess_share",
    cost: str = "honest_provider_net_usd",
) -> Figure:
    """What each variant (defence) removes against what it costs honest providers: the
    paired reduction of ``benefit`` (excess share, pp) against the paired loss of ``cost``
    (honest providers' net income, USD), both with their 95 % intervals."""
    need = {"metric", "variant", "diff", "ci_low", "ci_high", "verdict"}
    if not need <= set(table.columns):
        raise PlotError("benefit_cost needs the table of ledgerlab.compare (with intervals)")
    rows = {m: table[table["metric"] == m].set_index("variant") for m in (benefit, cost)}
    for m, frame in rows.items():
        if frame.empty:
            raise PlotError(f"the comparison has no metric {m!r}; compare with --metric {m}")
    variants = [v for v in rows[benefit].index if rows[benefit].loc[v, "verdict"] != "reference"]
    colours = variant_colours(variants)
    b_scale = 100.0 if benefit.endswith("share") else 1.0
    b_label = benefit.replace("_", " ")
    fig = new_figure(8.5, 5.5)
    ax = fig.add_subplot()
    points: list[tuple[str, float, float]] = []
    for v in variants:
        if v not in rows[cost].index:
            continue
        b, c = rows[benefit].loc[v], rows[cost].loc[v]
        y, ylo, yhi = (-b["diff"] * b_scale, -b["ci_high"] * b_scale, -b["ci_low"] * b_scale)
        x, xlo, xhi = -c["diff"], -c["ci_high"], -c["ci_low"]
        ax.errorbar(x, y, xerr=[[x - xlo], [xhi - x]], yerr=[[y - ylo], [yhi - y]], fmt="o",
                    color=colours[v], capsize=3, label=v)  # fmt: skip
        points.append((str(v), float(x), float(y)))
    ax.axhline(0, color="0.3", lw=0.8)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlabel("honest providers' income lost vs reference (USD; left of 0 = gained)")
    ax.set_ylabel(f"{b_label} removed vs reference" + (" (pp)" if b_scale == 100.0 else ""))
    ax.xaxis.set_major_formatter(HumanFormatter())
    ref = rows[benefit]["reference"].iloc[0] if "reference" in rows[benefit] else "reference"
    ax.set_title(f"Benefit vs cost of each variant against '{ref}' (95 % intervals)",
                 loc="left", fontsize=11, fontweight="bold")  # fmt: skip
    note(ax, f"up = {b_label} removed\nright = honest providers pay", where="upper right")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="variant",
              title_fontsize=8, frameon=False)  # fmt: skip
    fig.tight_layout()
    _label_points(ax, points)
    return fig


def save(fig: Figure, path: str | Path) -> Path:
    """Save a figure (PNG unless the suffix names another format)."""
    out = Path(path)
    fig.savefig(out, format=out.suffix.lstrip(".").lower() or "png")
    return out


def applicable_panels(view: RunView, names: Sequence[str] | None = None) -> list[str]:
    """The names of the panels that apply to a run, in dashboard order."""
    return [n for n in (names or PANELS) if PANELS[n].applies(view)]
