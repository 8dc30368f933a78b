"""``ledgerlab explore``: an interactive Mesa SolaraViz page for one scenario.

The page has sliders for what a protocol team argues about — emission, the fee split
(burn, builder, stakers; contributors get the rest), the attribution engine, each defence
on or off, the number of adversaries of each kind — Reset / play / step buttons, and live
plots of the token price, the float, the adversaries' share of rewards, model accuracy
and the active population.

Pieces (the pure ones need neither solara nor a browser):

* :func:`param_spec` — the SolaraViz ``model_params`` for a scenario: every control's
  default is the scenario's own value, ranges lie within the schema's bounds.
* :func:`scenario_from_params` — the scenario a set of control values describes; controls
  left at their default leave the scenario untouched (so an untouched page runs exactly
  what ``ledgerlab run`` runs).
* :class:`ExploreModel` — the ``mesa.Model`` SolaraViz re-creates on Reset with the
  controls' values as keyword arguments. It wraps an
  :class:`~ledgerlab.sim.model.EconomyModel`; settings the schema refuses do not crash the
  page: the model keeps the problem in :attr:`ExploreModel.error` (shown on the page) and
  does not run.
* :data:`PLOTS` — the one list of plotted KPIs. A series whose KPI is not in
  ``sim.model.KPI_NAMES`` is skipped, a plot without any series is left out.
* :func:`build_page` — the page (a solara component rendering SolaraViz, one model per
  browser session) for a scenario; :func:`serve` — a solara server on localhost (what
  ``ledgerlab explore`` runs), whose app is this module's ``Page``, built from the
  scenario file named by :data:`SCENARIO_ENV`.

Mesa's SolaraViz applies changed controls when RESET is pressed (the page says so).
Plots are drawn with matplotlib, not ``make_plot_component``, for units on every axis,
shares in %, the calendar x axis, a readable "latest" legend and a text caption per plot
(which the browser test reads). The page's CSS keeps each slider's value visible.

Needs the ``viz`` extra (``pip install 'ledgerlab[viz]'``); without it :func:`serve`
raises :class:`ExploreError`.
"""

from __future__ import annotations

import io
import math
import os
import socket
import tempfile
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, get_args

import mesa
import numpy as np
import pandas as pd

from ledgerlab.scenarios import Scenario, ScenarioError, apply_overrides
from ledgerlab.scenarios.schema import Attribution, Defense, Farmers, Poisoners

__all__ = [
    "DEFENSE_LABELS",
    "PLOTS",
    "ExploreError",
    "ExploreModel",
    "Plot",
    "Series",
    "build_page",
    "param_spec",
    "scenario_from_params",
    "serve",
]

SCENARIO_ENV = "LEDGERLAB_EXPLORE_SCENARIO"
"""Environment variable :func:`serve` sets for the server's page: the path of a JSON file
holding the resolved scenario."""

VIZ_HINT = "pip install 'ledgerlab[viz]'"


class ExploreError(ValueError):
    """The interactive page cannot be built or served (settings, missing extra, port)."""


# ----------------------------------------------------------------------------- plots


@dataclass(frozen=True)
class Series:
    """One line of a plot: a timeseries column, its legend label, and a factor to the
    plot's unit (100 for a fraction shown in %, 1e-6 for tokens shown in millions)."""

    column: str
    label: str
    scale: float = 1.0
    colour: str | None = None


@dataclass(frozen=True)
class Plot:
    """One live plot: a title, the y-axis label (with its unit), its series, and the unit
    its latest values are quoted in (legend and caption)."""

    title: str
    unit: str
    series: tuple[Series, ...]
    value_unit: str = ""


PLOTS: tuple[Plot, ...] = (
    Plot(
        "Token price",
        "USD/token",
        (Series("price_usd", "AMM price", colour="#1565c0"),),
        "USD",
    ),
    Plot(
        "Circulating supply",
        "million tokens",
        (Series("circulating_tokens", "tracker circulating (all unlocked)", 1e-6, "#1565c0"),),
        "M tokens",
    ),
    Plot(
        "Market float",
        "million tokens",
        (Series("market_float_tokens", "outside protocol accounts", 1e-6, "#ef6c00"),),
        "M tokens",
    ),
    Plot(
        "Adversaries' share of rewards",
        "% of rewards paid so far",
        (
            Series("adversary_reward_share", "paid to adversaries", 100.0, "#c62828"),
            Series("excess_share", "beyond their fair share", 100.0, "#6a1b9a"),
        ),
        "%",
    ),
    Plot(
        "Model accuracy",
        "% correct on held-out data",
        (
            Series("accuracy", "all accepted data", 100.0, "#2e7d32"),
            Series("twin_honest_only_accuracy", "honest-only twin", 100.0, "#9e9e9e"),
        ),
        "%",
    ),
    Plot(
        "Active population",
        "individuals",
        (
            Series("active_providers", "honest providers", colour="#2e7d32"),
            Series("active_farmers", "farmers (incl. sybils)", colour="#ef6c00"),
            Series("active_wash", "wash consumers", colour="#8e24aa"),
            Series("active_poisoners", "poisoners", colour="#c62828"),
        ),
    ),
)
"""What the page plots, in order. Series name KPI columns (``sim.model.KPI_NAMES``); those
the model does not report are skipped, so a new KPI is plotted as soon as the model
reports it (add a :class:`Series` line for a new one)."""


def available_columns(kpi_names: tuple[str, ...] | None = None) -> frozenset[str]:
    """Columns the page can plot: the model's KPIs."""
    if kpi_names is None:
        from ledgerlab.sim.model import KPI_NAMES

        kpi_names = tuple(KPI_NAMES)
    return frozenset(kpi_names)


def plotted(kpi_names: tuple[str, ...] | None = None) -> tuple[Plot, ...]:
    """:data:`PLOTS` without the series the model does not report, and without plots
    left empty by that."""
    have = available_columns(kpi_names)
    plots = []
    for plot in PLOTS:
        series = tuple(s for s in plot.series if s.column in have)
        if series:
            plots.append(Plot(plot.title, plot.unit, series, plot.value_unit))
    return tuple(plots)


def plot_frame(timeseries: pd.DataFrame, epoch_days: float) -> pd.DataFrame:
    """The timeseries with ``day`` (days since launch at the end of the row's epoch) as
    the x axis."""
    frame = timeseries.copy()
    epochs = frame["epoch"] if "epoch" in frame.columns else pd.Series(range(len(frame)))
    frame["day"] = (epochs.to_numpy(dtype=np.float64) + 1.0) * epoch_days
    return frame


def _fmt(value: float, unit: str = "") -> str:
    """A number for captions and legends: 4 significant digits, thousands separated,
    then ``unit`` if given."""
    if not math.isfinite(value):
        return "n/a"
    text = f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"
    if not unit:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def _last_finite(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if finite.size else math.nan


EMPTY_NOTE = "no epochs yet: press STEP or ▶"
"""What an empty plot says."""


def plot_figure(frame: pd.DataFrame, plot: Plot, empty_note: str = EMPTY_NOTE) -> Any:
    """One plot of the page as a matplotlib Figure (Agg canvas, no pyplot); a plot with
    nothing to draw says ``empty_note`` instead of showing meaningless axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    # a fixed layout: "constrained" costs a second draw, and the page redraws every step
    fig = Figure(figsize=(5.6, 3.3), dpi=100)
    fig.subplots_adjust(left=0.15, right=0.97, bottom=0.15, top=0.91)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = frame["day"].to_numpy(dtype=np.float64) if "day" in frame.columns else np.zeros(0)
    drawn = 0
    for s in plot.series:
        if s.column not in frame.columns or not len(frame):
            continue
        y = frame[s.column].to_numpy(dtype=np.float64) * s.scale
        keep = np.isfinite(y)
        if not keep.any():
            continue
        sparse = keep.sum() < max(2, 0.5 * len(y))
        ax.plot(
            x[keep],
            y[keep],
            label=f"{s.label}: {_fmt(_last_finite(y), plot.value_unit)}",
            color=s.colour,
            marker="o" if sparse or keep.sum() == 1 else None,
            markersize=4,
            lw=1.6,
        )
        drawn += 1
    ax.set_title(plot.title, fontsize=11)
    ax.set_xlabel("days since launch")
    ax.set_ylabel(plot.unit)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    if drawn:
        # plain tick labels: an offset ("+2.161e2") on a narrow range is easily misread
        ax.ticklabel_format(axis="y", useOffset=False)
        if ax.get_ylim()[0] > 0:  # levels from 0: a zoomed axis makes small moves look big
            ax.set_ylim(bottom=0)
        ax.legend(loc="best", fontsize=8, title="latest", title_fontsize=8)
    else:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.text(
            0.5,
            0.5,
            empty_note,
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="0.4",
        )
    return fig


def caption(frame: pd.DataFrame, plot: Plot) -> str:
    """A one-line text readout under a plot: points plotted and latest value per series."""
    n = len(frame)
    if n == 0:
        return f"{plot.title}: no epochs yet"
    parts = []
    for s in plot.series:
        if s.column in frame.columns:
            value = _last_finite(frame[s.column].to_numpy(dtype=np.float64) * s.scale)
            parts.append(f"{s.label} {_fmt(value, plot.value_unit)}")
    day = _fmt(float(frame["day"].iloc[-1])) if "day" in frame.columns else "?"
    epochs = "1 epoch" if n == 1 else f"{n} epochs"
    return f"{plot.title} ({plot.unit}), {epochs}, day {day}: " + "; ".join(parts)


# ----------------------------------------------------------------------- the controls

ENGINES: tuple[str, ...] = tuple(get_args(Attribution.model_fields["engine"].annotation))
"""Attribution engines the schema knows (``attribution.engine``)."""

DEFENSE_KINDS: tuple[str, ...] = tuple(
    cls.model_fields["kind"].default for cls in get_args(get_args(Defense)[0])
)
"""Defence kinds of the schema's ``Defense`` union, in its order."""

DEFENSE_LABELS: dict[str, str] = {
    "stake_slash": "stake & slash",
    "reputation": "reputation",
    "dedup": "de-duplication",
    "quality_filter": "quality filter",
    "sybil_graph": "sybil graph",
    "rate_limit": "rate limit",
    "wash_guard": "wash guard",
    "validator_vote": "validator vote",
}
"""Checkbox label of each defence kind (a kind missing here is shown by its name)."""

ADVERSARIES: tuple[tuple[str, str], ...] = (
    ("population__farmers__duplicate", "Duplicate farmers"),
    ("population__farmers__near_duplicate", "Near-dup. farmers"),
    ("population__farmers__sybil_operators", "Sybil operators"),
    ("population__farmers__wash", "Wash consumers"),
    ("population__poisoners__label_flip", "Label flippers"),
    ("population__poisoners__backdoor", "Backdoor poisoners"),
    ("population__poisoners__noise", "Noise poisoners"),
)
"""Adversary-count sliders: scenario override path → label."""

EMISSION_RATE_FIELD: dict[str, str] = {
    "constant": "tokens_per_epoch",
    "pool_drip": "tokens_per_epoch",
    "linear_decay": "initial_tokens_per_epoch",
    "exponential_decay": "initial_tokens_per_epoch",
    "halving": "initial_tokens_per_epoch",
    "supply_halving": "initial_tokens_per_epoch",
}
"""The rate the emission slider sets, by schedule kind (a ``table`` schedule is scaled)."""

EMISSION_LABELS: dict[str, str] = {
    "constant": "Emission (tokens/epoch)",
    "pool_drip": "Reward drip (tokens/epoch)",
    "linear_decay": "Initial emission (tokens/epoch)",
    "exponential_decay": "Initial emission (tokens/epoch)",
    "halving": "Initial emission (tokens/epoch)",
    "supply_halving": "Initial emission (tokens/epoch)",
}
"""Emission slider labels, short enough to leave the slider room in the sidebar (the
status card names the schedule)."""

FEE_SHARES: tuple[tuple[str, str], ...] = (
    ("fee_burn_pct", "burn"),
    ("fee_builder_pct", "builder"),
    ("fee_stakers_pct", "stakers"),
)
"""Fee-split sliders (per cent of net inference fees) → ``tokenomics.fee_split`` field;
contributors get the rest."""

_FEE_LABELS = {
    "burn": "Burn (% of fees)",
    "builder": "Builder (% of fees)",
    "stakers": "Stakers (% of fees)",
}


def _bound(model: type, field: str, name: str) -> float | None:
    """The ``ge``/``le`` (or ``gt``/``lt``) bound of a schema field, if any."""
    for meta in model.model_fields[field].metadata:
        for attr in (name, {"ge": "gt", "le": "lt"}[name]):
            value = getattr(meta, attr, None)
            if value is not None:
                return float(value)
    return None


def _nice_ceil(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``value`` (> 0)."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for mult in (1.0, 2.0, 2.5, 5.0, 10.0):
        candidate = mult * 10.0**exp
        if candidate >= value * (1 - 1e-12):
            return candidate
    return 10.0 ** (exp + 1)


def _pct(fraction: float) -> float:
    return round(fraction * 100.0, 9)


def _pct_step(values: list[float]) -> float:
    """The coarsest of 1, 0.5, 0.1, 0.01 % on whose grid every value lies."""
    for step in (1.0, 0.5, 0.1, 0.01):
        if all(abs(v / step - round(v / step)) < 1e-6 for v in values):
            return step
    return 0.001


def _emission(scenario: Scenario) -> tuple[str, float, str] | None:
    """(label, current value, unit kind) of the emission control: a rate in tokens/epoch,
    or a scale (×) for table schedules; None for unknown kinds."""
    em = scenario.tokenomics.emission
    field = EMISSION_RATE_FIELD.get(em.kind)
    if field is not None:
        return (
            EMISSION_LABELS.get(em.kind, f"Emission ({em.kind}) (tokens/epoch)"),
            float(getattr(em, field)),
            "rate",
        )
    if em.kind == "table":
        return "Emission scale (×)", 1.0, "scale"
    return None


def param_spec(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """The SolaraViz ``model_params`` controls for ``scenario``, in display order.

    Keys are :class:`ExploreModel` keyword arguments: ``emission``, ``fee_*_pct``,
    ``engine``, ``defense_<kind>`` and override paths (``population__farmers__wash``).
    Defaults are the scenario's values; ranges include them and lie within the schema's
    bounds.
    """
    spec: dict[str, dict[str, Any]] = {}
    emission = _emission_control(scenario)
    if emission is not None:
        spec["emission"] = emission
    spec.update(_fee_controls(scenario))
    spec["engine"] = {
        "type": "Select",
        "value": scenario.attribution.engine,
        "values": list(ENGINES),
        "label": "Attribution engine",
    }
    present = {d.kind for d in scenario.defenses}
    for kind in DEFENSE_KINDS:
        spec[f"defense_{kind}"] = {
            "type": "Checkbox",
            "value": kind in present,
            "label": f"Defence: {DEFENSE_LABELS.get(kind, kind)}",
        }
    spec.update(_adversary_controls(scenario))
    return spec


def _slider(kind: str, value: Any, low: Any, high: Any, step: Any, label: str) -> dict[str, Any]:
    """A SolaraViz slider control (``kind`` ``SliderFloat`` or ``SliderInt``)."""
    return {"type": kind, "value": value, "min": low, "max": high, "step": step, "label": label}


def _capped(top: float, model: type, field: str) -> float:
    """``top``, lowered to the schema's upper bound (``le``) of ``model.field`` if it has one."""
    upper = _bound(model, field, "le")
    return min(top, upper) if upper is not None else top


def _emission_control(scenario: Scenario) -> dict[str, Any] | None:
    """The emission slider: the rate, from 0 to a round number at or above 4× it (at least
    100, within the schema's bound), or a scale ×0..4 for table schedules; None for unknown
    kinds."""
    em = _emission(scenario)
    if em is None:
        return None
    label, value, kind = em
    if kind != "rate":
        return _slider("SliderFloat", 1.0, 0.0, 4.0, 0.05, label)
    schedule = scenario.tokenomics.emission
    field = EMISSION_RATE_FIELD[schedule.kind]
    top = _capped(_nice_ceil(max(4.0 * value, 100.0)), type(schedule), field)
    return _slider("SliderFloat", value, 0.0, max(top, value), top / 200.0, label)


def _fee_controls(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """One 0-100 % slider per fee share, all on the coarsest step that holds their values."""
    split = scenario.tokenomics.fee_split
    values = [_pct(getattr(split, field)) for _, field in FEE_SHARES]
    step = _pct_step(values)
    return {
        key: _slider("SliderFloat", value, 0.0, 100.0, step, _FEE_LABELS[field])
        for (key, field), value in zip(FEE_SHARES, values, strict=True)
    }


def _adversary_controls(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """One count slider per adversary kind, from 0 to a round number at or above 3× the count
    (at least 20, within the schema's bound)."""
    controls = {}
    for path, label in ADVERSARIES:
        _, section, field = path.split("__")
        model = {"farmers": Farmers, "poisoners": Poisoners}[section]
        value = int(getattr(getattr(scenario.population, section), field))
        if field == "sybil_operators":
            each = scenario.population.farmers.identities_per_operator
            label = f"Sybil operators (×{each} ids)"
        top = int(_capped(int(_nice_ceil(max(20.0, 3.0 * value))), model, field))
        controls[path] = _slider("SliderInt", value, 0, max(top, value), 1, label)
    return controls


def _changed(params: Mapping[str, Any], spec: Mapping[str, Mapping[str, Any]], key: str) -> bool:
    if key not in params or key not in spec:
        return False
    new, old = params[key], spec[key]["value"]
    if isinstance(old, float) or isinstance(new, float):
        return not math.isclose(float(new), float(old), rel_tol=1e-12, abs_tol=1e-12)
    return bool(new != old)


def scenario_from_params(scenario: Scenario, params: Mapping[str, Any]) -> Scenario:
    """The scenario the page's controls describe: ``scenario`` with the controls that
    differ from their default (:func:`param_spec`) applied, revalidated.

    Raises:
        ExploreError: unknown controls, or fee shares above 100 %.
        ScenarioError: the schema refuses the combination (its message says why).
    """
    spec = param_spec(scenario)
    unknown = sorted(set(params) - set(spec))
    if unknown:
        raise ExploreError(f"unknown controls: {', '.join(unknown)}")
    overrides: dict[str, Any] = {}
    em = scenario.tokenomics.emission
    if _changed(params, spec, "emission"):
        value = float(params["emission"])
        if em.kind in EMISSION_RATE_FIELD:
            overrides[f"tokenomics.emission.{EMISSION_RATE_FIELD[em.kind]}"] = value
        elif em.kind == "table":
            overrides["tokenomics.emission.steps"] = [
                {"start_epoch": s.start_epoch, "tokens_per_epoch": s.tokens_per_epoch * value}
                for s in em.steps
            ]
    if any(_changed(params, spec, key) for key, _ in FEE_SHARES):
        shares = {field: float(params.get(key, spec[key]["value"])) for key, field in FEE_SHARES}
        rest = 100.0 - sum(shares.values())
        if rest < -1e-9:
            listed = " + ".join(f"{field} {_fmt(pct)} %" for field, pct in shares.items())
            raise ExploreError(
                f"fee shares add up to more than 100 % ({listed} = {_fmt(100.0 - rest)} %); "
                "contributors get the rest: lower one of them"
            )
        fractions = {field: pct / 100.0 for field, pct in shares.items()}
        fractions["contributors"] = max(0.0, 1.0 - sum(fractions.values()))
        for field, fraction in fractions.items():
            overrides[f"tokenomics.fee_split.{field}"] = fraction
    if _changed(params, spec, "engine"):
        overrides["attribution.engine"] = str(params["engine"])
    defenses = [d.model_dump(mode="json") for d in scenario.defenses]
    toggled = False
    for kind in DEFENSE_KINDS:
        key = f"defense_{kind}"
        if not _changed(params, spec, key):
            continue
        toggled = True
        if params[key]:
            defenses.append({"kind": kind})
        else:
            defenses = [d for d in defenses if d["kind"] != kind]
    if toggled:
        overrides["defenses"] = defenses
    for path, _ in ADVERSARIES:
        if _changed(params, spec, path):
            overrides[path] = int(params[path])
    if not overrides:
        return scenario
    return apply_overrides(scenario, overrides, source="page settings")


# -------------------------------------------------------------------------- the model


def _is_user_error(exc: BaseException) -> bool:
    """A ledgerlab ``ValueError`` subclass (a message for the user, not a bug)."""
    return (
        isinstance(exc, ValueError)
        and type(exc) is not ValueError
        and type(exc).__module__.split(".")[0] == "ledgerlab"
    )


def _problems(exc: BaseException) -> list[str]:
    if isinstance(exc, ScenarioError):
        return [str(p) for p in exc.problems] or [str(exc)]
    return [str(exc)]


class ExploreModel(mesa.Model):
    """What the page runs: an :class:`~ledgerlab.sim.model.EconomyModel` built from a
    scenario and the page's controls (keyword arguments named as in :func:`param_spec`).

    SolaraViz re-creates it on Reset with the controls' current values. When the schema
    or the model refuses them, :attr:`error` holds the problems (one per line),
    :attr:`economy` is None and the model does not run, so the page shows the message
    instead of failing.
    """

    def __init__(self, scenario: Scenario | None = None, **kwargs: Any) -> None:
        # (named ``kwargs``: Mesa's SolaraViz accepts any control name only then)
        base = scenario if scenario is not None else Scenario()
        super().__init__(rng=int(base.seed))
        self.base_scenario = base
        self.params = params = dict(kwargs)
        self.scenario: Scenario = base
        self.economy: Any = None
        self.error: str | None = None
        try:
            from ledgerlab.sim.model import EconomyModel

            self.scenario = scenario_from_params(base, params)
            self.economy = EconomyModel(self.scenario)
        except ValueError as exc:
            if not _is_user_error(exc):
                raise
            self.error = "\n".join(_problems(exc))
        self.running = self.economy is not None and bool(self.economy.running)

    @property
    def epoch(self) -> int:
        """Epochs simulated so far."""
        return int(self.economy.epoch) if self.economy is not None else 0

    def step(self) -> None:
        """One epoch of the economy (nothing when the settings were refused or the
        horizon is reached). A ledgerlab error mid-run stops the model with its message."""
        if self.economy is None or not self.economy.running:
            self.running = False
            return
        try:
            self.economy.step()
        except ValueError as exc:
            if not _is_user_error(exc):
                raise
            self.error = f"epoch {self.economy.epoch}: " + "\n".join(_problems(exc))
            self.running = False
            return
        self.running = bool(self.economy.running)

    def timeseries(self) -> pd.DataFrame:
        """The economy's KPIs so far (empty before the first step, and when the settings
        were refused)."""
        if self.economy is None:
            return pd.DataFrame()
        frame = self.economy.datacollector.get_model_vars_dataframe()
        return frame.reset_index(drop=True)

    def frame(self) -> pd.DataFrame:
        """:meth:`timeseries` with the plots' derived columns and ``day`` axis."""
        return plot_frame(self.timeseries(), float(self.scenario.epoch_days))


def describe(model: ExploreModel) -> list[tuple[str, str]]:
    """(name, value) rows describing what the running model uses."""
    sc = model.scenario
    split = sc.tokenomics.fee_split
    em = _emission(sc)
    emission = sc.tokenomics.emission.kind
    if em is not None and em[2] == "rate":
        emission = f"{_fmt(em[1])} tokens/epoch ({sc.tokenomics.emission.kind})"
    elif em is not None:
        emission = f"table × {_fmt(float(model.params.get('emission', 1.0)))}"
    pop = sc.population
    adversaries = (
        pop.farmers.duplicate
        + pop.farmers.near_duplicate
        + pop.farmers.sybil_operators * pop.farmers.identities_per_operator
        + pop.farmers.wash
        + pop.poisoners.label_flip
        + pop.poisoners.backdoor
        + pop.poisoners.noise
    )
    day = _fmt(model.epoch * sc.epoch_days)
    return [
        ("Epoch", f"{model.epoch} of {sc.epochs} (day {day})"),
        ("Engine", sc.attribution.engine),
        ("Defences", ", ".join(d.kind for d in sc.defenses) or "none"),
        ("Emission", emission),
        (
            "Fee split",
            f"burn {_fmt(_pct(split.burn))} %, builder {_fmt(_pct(split.builder))} %, "
            f"stakers {_fmt(_pct(split.stakers))} %, "
            f"contributors {_fmt(_pct(split.contributors))} %",
        ),
        (
            "At launch",
            f"{pop.providers} honest providers, {pop.consumers} consumers, "
            f"{adversaries} adversary identities",
        ),
    ]


# --------------------------------------------------------------------------- the page

HELP_TEXT = (
    "Set the controls in the sidebar, then press RESET to start a new run with them; "
    "STEP runs one epoch, ▶ plays."
)

PAGE_CSS = """
/* slider values always visible, as a small tag above the thumb */
.v-input__slider { padding-top: 12px; }
.v-slider__thumb-label-container { display: block !important; }
.v-slider__thumb-label {
    width: auto !important; height: 18px !important; min-width: 22px; padding: 0 5px;
    border-radius: 4px !important; transform: translate(-50%, -6px) !important;
    font-size: 11px; line-height: 18px; text-align: center;
}
.v-slider__thumb-label > * { transform: none !important; }
.ledgerlab-settings th { text-align: left; padding: 1px 12px 1px 0; font-weight: 500; }
.ledgerlab-settings td { padding: 1px 0; }
"""
"""Page style: Mesa's sliders show their value only while dragged; this keeps it shown."""


def _components(plots: tuple[Plot, ...]) -> list[tuple[Callable[[Any], Any], int]]:
    """SolaraViz components: a status card, then one card per plot."""
    import solara

    @solara.component
    def StatusCard(model: ExploreModel, steps: int) -> None:
        solara.Style(PAGE_CSS)
        with solara.Column(classes=["ledgerlab-status"], gap="8px"):
            if model.error:
                solara.Error(
                    "These settings cannot run: change them and press RESET.",
                    classes=["ledgerlab-error"],
                )
                solara.Preformatted(
                    model.error,
                    class_="ledgerlab-error-text",
                    style_="white-space: pre-wrap; font-size: 0.85em; margin: 0",
                )
            if model.economy is not None:
                with solara.v.Html(tag="table", class_="ledgerlab-settings"):
                    for name, value in describe(model):
                        with solara.v.Html(tag="tr"):
                            solara.v.Html(tag="th", children=[name])
                            solara.v.Html(tag="td", children=[value])
            solara.Text(HELP_TEXT, style={"color": "#555", "font-size": "0.9em"})

    @solara.component
    def PlotCard(model: ExploreModel, steps: int, index: int) -> None:
        plot = plots[index]
        frame = model.frame()
        note = "not running: see the red message" if model.error else EMPTY_NOTE
        key = [id(model), steps, len(frame), note]
        fig = solara.use_memo(lambda: plot_figure(frame, plot, note), key)
        with solara.Column(classes=["ledgerlab-plot"], gap="4px"):
            solara.FigureMatplotlib(fig, dependencies=key, format="png")
            solara.Text(caption(frame, plot), classes=["ledgerlab-caption"])

    def status(model: ExploreModel) -> Any:
        return StatusCard(model=model, steps=model.steps)

    def card(index: int) -> Callable[[Any], Any]:
        def component(model: ExploreModel) -> Any:
            return PlotCard(model=model, steps=model.steps, index=index)

        component.__name__ = f"plot_{index}"
        return component

    return [(status, 0)] + [(card(i), 0) for i in range(len(plots))]


def build_page(scenario: Scenario) -> Any:
    """The page for ``scenario``: a solara component rendering Mesa's SolaraViz with
    :func:`param_spec`'s controls and the :func:`plotted` plots; each browser session
    gets its own :class:`ExploreModel`."""
    import solara
    from mesa.visualization import SolaraViz

    spec = param_spec(scenario)
    components = _components(plotted())

    @solara.component
    def Page() -> Any:
        model = solara.use_memo(
            lambda: ExploreModel(scenario, **{k: v["value"] for k, v in spec.items()}), []
        )
        return SolaraViz(
            model,
            components=components,
            model_params={"scenario": scenario, **spec},
            name=f"ledgerlab explore: {scenario.name}",
        )

    return Page


@cache
def _page_from_env(path: str) -> Any:
    text = Path(path).read_text(encoding="utf-8")
    return build_page(Scenario.model_validate_json(text))


def __getattr__(name: str) -> Any:
    # The solara server loads ``ledgerlab.analysis.explore:Page``; :func:`serve` names the
    # scenario's JSON file in the environment (module-level ``__getattr__``, PEP 562).
    if name == "Page":
        path = os.environ.get(SCENARIO_ENV)
        if not path:
            raise AttributeError(f"Page: set {SCENARIO_ENV} (ledgerlab explore does)")
        return _page_from_env(path)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------------- the server


def require_viz() -> None:
    """Raise :class:`ExploreError` unless the ``viz`` extra is importable.

    Imports solara, with its telemetry switched off unless the environment sets it (the
    setting is read once, at import)."""
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    try:
        with warnings.catch_warnings():
            # solara's hook linter flags Mesa's own components (not ours) at import
            warnings.filterwarnings("ignore", category=UserWarning, module=r"solara\.")
            import mesa.visualization  # noqa: F401  (imports solara and altair)
            import solara  # noqa: F401
            import uvicorn  # noqa: F401
    except ImportError as exc:
        missing = getattr(exc, "name", None) or str(exc)
        raise ExploreError(f"the interactive page needs {missing}: {VIZ_HINT}") from None


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0 = a free port)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ExploreError(f"--host {host}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise ExploreError(
            f"cannot listen on {host}:{port}: {reason}; choose another --port"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(
    scenario: Scenario,
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the page for ``scenario`` until interrupted (Ctrl-C / SIGTERM raise
    KeyboardInterrupt once the server has shut down).

    ``on_ready`` is called with the page's URL once the port is bound (``port`` 0 picks a
    free one). Solara's telemetry is switched off unless the environment sets it.

    Raises:
        ExploreError: the ``viz`` extra is missing, or the address cannot be bound.
    """
    require_viz()
    import uvicorn

    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{bound_port}/"
    with tempfile.TemporaryDirectory(prefix="ledgerlab-explore-") as tmp:
        path = Path(tmp) / "scenario.json"
        path.write_text(scenario.model_dump_json(), encoding="utf-8")
        os.environ[SCENARIO_ENV] = str(path)
        os.environ["SOLARA_APP"] = f"{__name__}:Page"
        os.environ["SERVER_NAME"] = host
        os.environ["SERVER_PORT"] = str(bound_port)
        config = uvicorn.Config(
            "solara.server.starlette:app",
            log_level="error",
            access_log=False,
            timeout_graceful_shutdown=2,
            lifespan="on",
        )
        server = uvicorn.Server(config)
        # served on plain http to this machine: solara's advice on https cookies for
        # iframes does not apply
        warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
        if on_ready is not None:
            on_ready(url)
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
    if not server.started:
        raise ExploreError(f"the page server did not start on {url}")


def png_bytes(fig: Any) -> bytes:
    """``fig`` as PNG bytes (for tests and notebooks)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
