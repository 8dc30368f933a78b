"""Month-by-month token supply projection: vesting unlocks, emission, reward payouts and
burns → tracker circulating supply, market float and their inflation.

This is the main job of ``ledgerlab tokenomics`` (and ``make demo``): before any agent is
simulated, a tokenomics designer wants to see how the supply reaching the market grows,
when the unlock cliffs hit and what inflation holders face — for a preset
(``--preset openledger``, :func:`project`) or for a scenario's own allocation table
(``ledgerlab tokenomics FILE``, :func:`project_scenario`): its vesting buckets (TGE share,
cliff, linear unlock, recipient), ``total_supply_tokens`` and its ``emission`` schedule.
The schedules are those of :mod:`ledgerlab.economics.vesting` and
:func:`ledgerlab.economics.emission.make_schedule`; :func:`plot` draws the projection and
:func:`write` saves table, column descriptions and chart atomically.

**Time.** One row per month ``m = 0, 1, ...``; a month is 30.4375 days (365.25 / 12).
Month 0 is the launch month: its unlocks include every TGE share. "End of month ``m``" is
the instant ``m + 1`` months after launch. A scenario's schedules run in its epochs
(``epoch_days`` days each) and are sampled at month ends; when a month ends inside an
epoch, that epoch's flows are taken as spread evenly over it. The preset runs in monthly
epochs, so its month ends are epoch boundaries.

**Where tokens sit** (the supply views of DESIGN.md, without agents). Every vesting bucket
has a recipient: ``holders`` (individuals: investors, team, ...), ``reward_pool`` (the
pool rewards are paid from) or ``liquidity`` (the AMM pool).

* **Tracker circulating** (``circulating_tokens``): everything unlocked, wherever it sits,
  plus everything minted, minus everything burned. It is what supply trackers report.
* **Market float** (``float_tokens``): the part of circulating supply outside protocol
  accounts: unlocked ``holders`` buckets, plus rewards paid out of the reward pool, plus
  minted emission (paid out as rewards the epoch it is minted), minus burns. Not float:
  the reward pool's unlocked but unpaid tokens (``reward_pool_tokens``) and the
  ``liquidity`` buckets (AMM reserve, ``liquidity_tokens``). So circulating = float +
  reward pool + liquidity.
* **Rewards paid from the pool** (``rewards_paid_tokens``) follow the emission kind, as the
  simulation pays them: ``pool_drip`` pays ``tokens_per_epoch`` each epoch out of the
  reward pool (every ``recipient: reward_pool`` bucket's unlocked, unpaid tokens; at most
  what is there). A minting kind (``constant``, ``halving``, ...) mints its issuance and
  pays it out; the reward-pool buckets' own tokens then stay in the pool (not float).
  Payouts are assumed to happen every epoch (someone always earns the rewards).
* **The preset** ``openledger`` has buckets ``community_ecosystem`` (reward pool),
  ``investors`` and ``team`` (holders) and ``liquidity`` (AMM). OpenLedger publishes an
  unlock schedule, not a payout schedule, so the preset assumes the community pool is
  distributed as fast as it unlocks (rewards, airdrops, grants); pass an emission
  schedule for extra minting.
* **Burns** depend on usage (a share of inference fees), which a projection without agents
  does not have: the projection assumes **no burn** unless ``burn_tokens_per_month`` (CLI
  ``--burn-tokens-per-month``) is given; then that many tokens a month leave the float
  (at most the float there is), and so circulating and total supply.

**Columns** (:data:`COLUMN_DESCRIPTIONS` has the same text; :func:`write` saves it as
``tokenomics_columns.csv``): flows are per month, stocks at the end of the month, tokens
in tokens, shares and rates in % (``_pct``):

* ``month``; ``unlocked_tokens`` — vesting unlocks during the month (all buckets);
  ``emitted_tokens`` — tokens minted during the month (0 for a fixed supply);
  ``rewards_paid_tokens`` — rewards paid out of the reward pool during the month (minted
  emission not included); ``burned_tokens`` — tokens burned during the month;
* ``circulating_tokens``, ``float_tokens``, ``reward_pool_tokens``, ``liquidity_tokens``,
  ``locked_tokens`` (still vesting), ``total_supply_tokens`` (genesis + minted − burned);
* ``circulating_share_pct`` — circulating ÷ total supply;
* ``circulating_inflation_monthly_pct`` — growth of circulating supply over the month,
  ``100·(circulating[m] / circulating[m−1] − 1)`` (NaN for month 0, which has no prior
  supply, and after a month with none);
* ``circulating_inflation_annualised_pct`` — that growth compounded over a year,
  ``100·((1 + g)^12 − 1)`` with ``g`` the monthly growth as a fraction;
* ``float_inflation_monthly_pct``, ``float_inflation_annualised_pct`` — the same for the
  market float;
* ``unlocked_<bucket>_tokens`` — per bucket, tokens unlocked by the end of the month.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MultipleLocator

from ledgerlab.economics import vesting
from ledgerlab.economics.emission import EmissionSchedule

if TYPE_CHECKING:
    from ledgerlab.scenarios import Scenario

__all__ = [
    "COLUMNS",
    "COLUMN_DESCRIPTIONS",
    "DAYS_PER_MONTH",
    "MAX_MONTHS",
    "OUTPUT_FILES",
    "PRESETS",
    "Allocation",
    "TokenomicsError",
    "allocation_from_preset",
    "allocation_from_scenario",
    "bucket_columns",
    "column_descriptions",
    "describe",
    "figure",
    "format_table",
    "plot",
    "project",
    "project_allocation",
    "project_scenario",
    "write",
]

DAYS_PER_MONTH = vesting.DAYS_PER_MONTH
"""Days per month of the projection (365.25 / 12)."""

PRESETS: dict[str, Callable[..., vesting.VestingSchedule]] = vesting.PRESETS
"""Allocation presets by name (:data:`economics.vesting.PRESETS`), used in monthly epochs."""

PRESET_RECIPIENTS: dict[str, dict[str, str]] = {
    "openledger": {"community_ecosystem": "reward_pool", "liquidity": "liquidity"},
}
"""Recipient of each preset bucket that does not go to holders."""

RECIPIENTS = ("holders", "reward_pool", "liquidity")
"""Where a bucket's unlocked tokens go (as ``VestingBucket.recipient``)."""

COLUMN_DESCRIPTIONS: dict[str, str] = {
    "month": "Month after launch (0 = launch month, whose unlocks include the TGE shares; "
    "1 month = 30.4375 days).",
    "unlocked_tokens": "Tokens unlocked by vesting during the month, all buckets (tokens).",
    "emitted_tokens": "Tokens minted by the emission schedule during the month and paid out "
    "as rewards; 0 for a fixed supply (tokens).",
    "rewards_paid_tokens": "Rewards paid out of the reward pool (recipient: reward_pool "
    "buckets) during the month; minted emission not included (tokens).",
    "burned_tokens": "Tokens burned during the month: 0 unless a burn per month is given, "
    "taken from the market float (tokens).",
    "circulating_tokens": "Tracker circulating supply at the end of the month: everything "
    "unlocked wherever it sits, plus minted, minus burned (tokens).",
    "float_tokens": "Market float at the end of the month: circulating supply outside "
    "protocol accounts = unlocked holders buckets + rewards paid + minted emission − "
    "burned (tokens).",
    "reward_pool_tokens": "Unlocked reward-pool tokens not yet paid out at the end of the "
    "month: circulating but not float (tokens).",
    "liquidity_tokens": "Unlocked liquidity-bucket tokens (AMM reserve) at the end of the "
    "month: circulating but not float (tokens).",
    "locked_tokens": "Genesis tokens still vesting at the end of the month (tokens).",
    "total_supply_tokens": "Tokens in existence at the end of the month: genesis supply "
    "(locked or not) + minted − burned (tokens).",
    "circulating_share_pct": "Tracker circulating supply as a share of total supply (%).",
    "circulating_inflation_monthly_pct": "Growth of tracker circulating supply over the "
    "month: 100·(circulating[m] / circulating[m−1] − 1); empty for month 0 and after a "
    "month with none (%).",
    "circulating_inflation_annualised_pct": "That monthly growth compounded over a year: "
    "100·((1 + g)^12 − 1), g the monthly growth as a fraction (% per year).",
    "float_inflation_monthly_pct": "Growth of the market float over the month: "
    "100·(float[m] / float[m−1] − 1); empty for month 0 and after a month with none (%).",
    "float_inflation_annualised_pct": "That monthly growth compounded over a year: "
    "100·((1 + g)^12 − 1) (% per year).",
}
"""Description (with unit) of every fixed column; see the module docstring."""

BUCKET_COLUMN = "unlocked_{}_tokens"
BUCKET_DESCRIPTION = (
    "Tokens of bucket {name} (recipient: {recipient}) unlocked by the end of the month (tokens)."
)

COLUMNS = tuple(COLUMN_DESCRIPTIONS)
"""Fixed columns of the frame returned by :func:`project`, in order; one
``unlocked_<bucket>_tokens`` column per bucket follows them."""

MAX_MONTHS = 1200
"""Longest projection accepted (100 years), months."""

OUTPUT_FILES = (
    "tokenomics.csv",
    "tokenomics.parquet",
    "tokenomics.png",
    "tokenomics_columns.csv",
)
"""The files :func:`write` puts in its output folder."""

_MAX_EPOCHS = 2_000_000
"""Most epochs a scenario projection evaluates (a 100-year horizon in 30-minute epochs)."""


class TokenomicsError(ValueError):
    """A projection or output request was invalid; the message says what to fix."""


# ---------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Allocation:
    """What a projection needs: buckets with recipients, emission, payout, time unit.

    Attributes:
        name: Shown in titles (the preset's or the scenario's name).
        schedule: The vesting buckets, in epochs of ``epoch_days`` days.
        recipients: Per bucket (``schedule.names`` order): ``holders``, ``reward_pool`` or
            ``liquidity``.
        epoch_days: Calendar length of one epoch (days).
        emission: A minting schedule per epoch (paid out as rewards), or None.
        drip_tokens_per_epoch: Rewards paid per epoch out of the reward pool (at most what
            is unlocked and unpaid); ``math.inf`` pays it out as it unlocks; 0 never.
        notes: Assumptions to print with the projection.
    """

    name: str
    schedule: vesting.VestingSchedule
    recipients: tuple[str, ...]
    epoch_days: float
    emission: EmissionSchedule | None = None
    drip_tokens_per_epoch: float = 0.0
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if len(self.recipients) != len(self.schedule.buckets):
            raise TokenomicsError(
                f"allocation {self.name!r}: {len(self.recipients)} recipients for "
                f"{len(self.schedule.buckets)} buckets"
            )
        for name, recipient in zip(self.schedule.names, self.recipients, strict=True):
            if recipient not in RECIPIENTS:
                raise TokenomicsError(
                    f"allocation {self.name!r}: bucket {name!r} has recipient {recipient!r}; "
                    f"choose one of {list(RECIPIENTS)}"
                )
        if not (isinstance(self.epoch_days, int | float) and 0 < self.epoch_days < math.inf):
            raise TokenomicsError(f"allocation {self.name!r}: epoch_days must be > 0")
        if not (self.drip_tokens_per_epoch >= 0):
            raise TokenomicsError(f"allocation {self.name!r}: the drip must be >= 0 tokens")


def allocation_from_preset(preset: str, emission: EmissionSchedule | None = None) -> Allocation:
    """A preset's allocation in monthly epochs (see the module docstring for its reward pool)."""
    factory = PRESETS.get(preset) if isinstance(preset, str) else None
    if factory is None:
        raise TokenomicsError(
            f"tokenomics projection: unknown preset {preset!r}; choose one of {sorted(PRESETS)}"
        )
    if emission is not None and not isinstance(emission, EmissionSchedule):
        raise TokenomicsError(
            "tokenomics projection: emission must be an economics.emission schedule or "
            f"None, got {type(emission).__name__}"
        )
    schedule = factory(epoch="month")
    special = PRESET_RECIPIENTS.get(preset, {})
    recipients = tuple(special.get(name, "holders") for name in schedule.names)
    pools = [n for n, r in zip(schedule.names, recipients, strict=True) if r == "reward_pool"]
    notes = ["no usage-driven burn (pass a burn per month to include one)"]
    if pools:
        notes.insert(0, f"{', '.join(pools)} (reward pool) is paid out as it unlocks")
    if emission is None:
        notes.insert(0, "fixed supply: no minting")
    return Allocation(
        name=preset,
        schedule=schedule,
        recipients=recipients,
        epoch_days=DAYS_PER_MONTH,
        emission=emission,
        drip_tokens_per_epoch=math.inf if pools else 0.0,
        notes=tuple(notes),
    )


def allocation_from_scenario(scenario: Scenario) -> Allocation:
    """A scenario's ``tokenomics`` section as an :class:`Allocation` (in its epochs)."""
    from ledgerlab.economics.emission import EmissionError, make_schedule

    tok = scenario.tokenomics
    supply = float(tok.total_supply_tokens)
    schedule = vesting.VestingSchedule(
        tuple(
            vesting.Bucket(
                b.name,
                supply * float(b.share),
                float(b.tge_fraction),
                float(b.cliff_epochs),
                float(b.linear_epochs),
            )
            for b in tok.vesting
        )
    )
    recipients = tuple(str(b.recipient) for b in tok.vesting)
    e = tok.emission
    emission: EmissionSchedule | None = None
    drip = 0.0
    unit = "day" if scenario.epoch_days == 1 else f"epoch ({scenario.epoch_days:g} days)"
    if e.kind == "pool_drip":
        drip = float(e.tokens_per_epoch)
        how = (
            f"pool_drip: {drip:,.6g} tokens per {unit} paid out of the reward pool "
            "(at most its unlocked balance)"
        )
    else:
        params = e.model_dump(exclude={"without_contributors"})  # routing, not the schedule
        try:
            emission = make_schedule(**params)
        except EmissionError:
            if e.kind == "supply_halving" and e.initial_tokens_per_epoch == 0:
                emission = None  # nothing to issue, ever
            else:
                raise
        how = f"{e.kind} emission minted and paid out as rewards every {unit}"
    notes = (
        how,
        "no usage-driven burn (pass a burn per month to include one)",
    )
    return Allocation(
        name=scenario.name,
        schedule=schedule,
        recipients=recipients,
        epoch_days=float(scenario.epoch_days),
        emission=emission,
        drip_tokens_per_epoch=drip,
        notes=notes,
    )


def _check_months(months: Any) -> int:
    if isinstance(months, bool) or not isinstance(months, int | np.integer):
        raise TokenomicsError(
            f"tokenomics projection: months must be a whole number, got {months!r}"
        )
    if not 1 <= months <= MAX_MONTHS:
        raise TokenomicsError(
            f"tokenomics projection: months must be between 1 and {MAX_MONTHS}, got {months}"
        )
    return int(months)


def _check_burn(burn: Any) -> float:
    if isinstance(burn, bool) or not isinstance(burn, int | float | np.integer | np.floating):
        raise TokenomicsError(
            f"tokenomics projection: burn_tokens_per_month must be a number, got {burn!r}"
        )
    value = float(burn)
    if not (math.isfinite(value) and value >= 0):
        raise TokenomicsError(
            f"tokenomics projection: burn_tokens_per_month must be a finite number >= 0 "
            f"(tokens per month), got {burn!r}"
        )
    return value


# ------------------------------------------------------------------------ projection


def project(
    preset: str = "openledger",
    months: int = 60,
    emission: EmissionSchedule | None = None,
    *,
    burn_tokens_per_month: float = 0.0,
) -> pd.DataFrame:
    """Project a preset month by month for ``months`` months (see the module docstring).

    ``preset`` names an allocation in :data:`PRESETS`; ``emission`` is an optional minting
    schedule in monthly epochs (``None``: no issuance beyond the fixed allocation, as for
    OPEN). Returns a frame with the :data:`COLUMNS` and one ``unlocked_<bucket>_tokens``
    column per bucket, one row per month.
    """
    months = _check_months(months)
    burn = _check_burn(burn_tokens_per_month)
    return project_allocation(allocation_from_preset(preset, emission), months, burn)


def project_scenario(
    scenario: Scenario | str | os.PathLike[str],
    months: int = 60,
    *,
    burn_tokens_per_month: float = 0.0,
) -> pd.DataFrame:
    """Project a scenario's own allocation (its ``tokenomics`` section) month by month.

    ``scenario`` is a :class:`~ledgerlab.scenarios.Scenario`, a shipped scenario's name or
    a YAML path. See the module docstring for the definitions and assumptions.
    """
    from ledgerlab.scenarios.library import load_scenario

    months = _check_months(months)
    burn = _check_burn(burn_tokens_per_month)
    return project_allocation(allocation_from_scenario(load_scenario(scenario)), months, burn)


def _drain(available: np.ndarray, rate: float) -> np.ndarray:
    """Cumulative amount paid out of a stock whose cumulative inflows are ``available``
    (non-decreasing, ``available[0] = 0``), paying ``rate`` per step and never more than is
    there: ``paid[k] = min(paid[k−1] + rate, available[k])``, in closed form."""
    if rate <= 0:
        return np.zeros_like(available)
    if math.isinf(rate):
        return available.copy()
    steps = np.arange(available.size, dtype=np.float64)
    return rate * steps + np.minimum.accumulate(available - rate * steps)


def _at(cumulative: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A cumulative epoch series (values at epoch boundaries 0..E) at fractional epochs
    ``x``: linear within an epoch (its flow spread evenly over it)."""
    return np.interp(x, np.arange(cumulative.shape[-1], dtype=np.float64), cumulative)


def _growth_pct(stock: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Monthly and annualised growth of a stock, in %, NaN where the previous month had
    none (and for month 0)."""
    previous = np.concatenate([[np.nan], stock[:-1]])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        monthly = np.where(previous > 0, stock / previous - 1.0, np.nan)
        annual = np.power(1.0 + monthly, 12.0) - 1.0
    return 100.0 * monthly, 100.0 * annual


def project_allocation(
    allocation: Allocation, months: int, burn_tokens_per_month: float = 0.0
) -> pd.DataFrame:
    """Project an :class:`Allocation` (see the module docstring); the frame's ``attrs``
    hold ``name``, ``notes``, ``buckets`` (name, recipient, amount, cliff month) and
    ``epoch_days``."""
    months = _check_months(months)
    burn = _check_burn(burn_tokens_per_month)
    a = allocation
    per_month = DAYS_PER_MONTH / a.epoch_days  # epochs per month
    ends = per_month * np.arange(1, months + 1, dtype=np.float64)  # month ends, in epochs
    n_epochs = math.ceil(ends[-1] - 1e-9)
    if n_epochs > _MAX_EPOCHS:
        raise TokenomicsError(
            f"tokenomics projection: {months} months are {n_epochs:,} epochs of "
            f"{a.epoch_days:g} days, more than the {_MAX_EPOCHS:,} a projection evaluates; "
            "project fewer months"
        )
    t = np.arange(n_epochs + 1, dtype=np.int64)  # epoch boundaries 0..E
    paid, minted, burned = _epoch_flows(a, t, burn / per_month)
    per_bucket = _monthly_unlocks(a, months, per_month)
    month_ends = (_at(paid, ends), _at(minted, ends), _at(burned, ends))
    columns = _projection_columns(a, per_bucket, *month_ends)
    frame = pd.DataFrame({"month": np.arange(months, dtype=np.int64), **columns})
    frame.attrs.update(
        name=a.name,
        notes=list(a.notes) + ([f"burn: {burn:,.6g} tokens per month"] if burn else []),
        epoch_days=a.epoch_days,
        buckets=[
            {
                "name": b.name,
                "recipient": r,
                "amount_tokens": b.amount_tokens,
                "cliff_month": b.cliff_epochs / per_month,
            }
            for b, r in zip(a.schedule.buckets, a.recipients, strict=True)
        ],
    )
    return frame


def _epoch_flows(
    a: Allocation, t: np.ndarray, burn_per_epoch: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative rewards paid from the pool, tokens minted and tokens burned at the epoch
    boundaries ``t``, epoch by epoch as the reward drip and the burn act.

    The unlocked reward pool and holders' buckets are summed bucket by bucket (memory:
    two series); the burn takes from everything that entered the float."""
    pool = np.zeros(t.shape, dtype=np.float64)
    holders = np.zeros(t.shape, dtype=np.float64)
    for b, r in zip(a.schedule.buckets, a.recipients, strict=True):
        if r == "reward_pool" or (r == "holders" and burn_per_epoch > 0):
            target = pool if r == "reward_pool" else holders
            target += np.asarray(b.unlocked(t), dtype=np.float64)
    if a.emission is not None:
        minted = np.asarray(a.emission.cumulative(t), dtype=np.float64)
    else:
        minted = np.zeros(t.shape, dtype=np.float64)
    paid = _drain(pool, a.drip_tokens_per_epoch)
    inflow = holders + paid + minted  # cumulative tokens entering the float
    return paid, minted, _drain(inflow, burn_per_epoch)


def _monthly_unlocks(a: Allocation, months: int, per_month: float) -> np.ndarray:
    """Tokens unlocked by the end of each month, one row per bucket: the same buckets in
    months sample the continuous vesting curve exactly at month ends (no share of an epoch
    that straddles a cliff leaks into the month before)."""
    monthly = vesting.VestingSchedule(
        tuple(
            vesting.Bucket(
                b.name,
                b.amount_tokens,
                b.tge_fraction,
                b.cliff_epochs / per_month,
                b.linear_epochs / per_month,
            )
            for b in a.schedule.buckets
        )
    )
    return np.asarray(
        monthly.unlocked_by_bucket(np.arange(1, months + 1, dtype=np.int64)), dtype=np.float64
    )


def _increments(stock: np.ndarray) -> np.ndarray:
    """Month-by-month flows of a cumulative month-end series (from 0 before month 0)."""
    return np.diff(np.concatenate([[0.0], stock]))


def _projection_columns(
    a: Allocation,
    per_bucket: np.ndarray,
    paid: np.ndarray,
    minted: np.ndarray,
    burned: np.ndarray,
) -> dict[str, Any]:
    """The projection's columns after ``month`` (see the module docstring) from the unlocks
    by bucket and the cumulative rewards paid, minted and burned, all at month ends."""
    recip = np.array(a.recipients)
    unlocked_cum = per_bucket.sum(axis=0)
    pool_end = per_bucket[recip == "reward_pool"].sum(axis=0)
    paid_end = np.minimum(paid, pool_end)
    circulating = unlocked_cum + minted - burned
    floating = per_bucket[recip == "holders"].sum(axis=0) + paid_end + minted - burned
    total = a.schedule.total_tokens + minted - burned
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, 100.0 * circulating / total, np.nan)
    circ_m, circ_y = _growth_pct(circulating)
    float_m, float_y = _growth_pct(floating)
    columns: dict[str, Any] = {
        "unlocked_tokens": _increments(unlocked_cum),
        "emitted_tokens": _increments(minted),
        "rewards_paid_tokens": _increments(paid_end),
        "burned_tokens": _increments(burned),
        "circulating_tokens": circulating,
        "float_tokens": np.maximum(floating, 0.0),
        "reward_pool_tokens": np.maximum(pool_end - paid_end, 0.0),
        "liquidity_tokens": per_bucket[recip == "liquidity"].sum(axis=0),
        "locked_tokens": np.maximum(a.schedule.total_tokens - unlocked_cum, 0.0),
        "total_supply_tokens": total,
        "circulating_share_pct": share,
        "circulating_inflation_monthly_pct": circ_m,
        "circulating_inflation_annualised_pct": circ_y,
        "float_inflation_monthly_pct": float_m,
        "float_inflation_annualised_pct": float_y,
    }
    for name, row in zip(a.schedule.names, per_bucket, strict=True):
        columns[BUCKET_COLUMN.format(name)] = row
    return columns


def bucket_columns(frame: pd.DataFrame) -> dict[str, str]:
    """Bucket name → its ``unlocked_<bucket>_tokens`` column, in frame order."""
    out = {}
    for column in frame.columns:
        name = str(column)
        if name in COLUMN_DESCRIPTIONS:
            continue
        if name.startswith("unlocked_") and name.endswith("_tokens"):
            out[name[len("unlocked_") : -len("_tokens")]] = name
    return out


def column_descriptions(frame: pd.DataFrame) -> pd.DataFrame:
    """``column``, ``description`` of every column of a projection (units included)."""
    recipients = {b["name"]: b["recipient"] for b in frame.attrs.get("buckets", [])}
    rows = [{"column": c, "description": COLUMN_DESCRIPTIONS[c]} for c in COLUMNS]
    for name, column in bucket_columns(frame).items():
        text = BUCKET_DESCRIPTION.format(name=name, recipient=recipients.get(name, "?"))
        rows.append({"column": column, "description": text})
    return pd.DataFrame(rows, columns=["column", "description"])


def _check_frame(frame: pd.DataFrame, where: str) -> None:
    """Raise :class:`TokenomicsError` unless ``frame`` looks like :func:`project` output."""
    if not isinstance(frame, pd.DataFrame):
        raise TokenomicsError(f"{where}: expected a DataFrame from project(), got {frame!r}")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise TokenomicsError(f"{where}: frame lacks columns {missing}; pass project() output")
    if frame.empty:
        raise TokenomicsError(f"{where}: frame has no rows; project at least one month")


# ----------------------------------------------------------------------------- table


def _pct_cell(value: float) -> str:
    if not math.isfinite(value):
        return "-" if math.isnan(value) else "inf"
    if abs(value) >= 1e6:
        return f"{value:.2e}"
    return f"{value:,.2f}"


def format_table(frame: pd.DataFrame) -> str:
    """A compact text table of a projection (≤ 100 characters wide): millions of tokens
    and percentages (inflation annualised, % per year)."""
    _check_frame(frame, "tokenomics table")
    total = frame["total_supply_tokens"].to_numpy()
    millions = {
        "month": frame["month"].to_numpy(),
        "unlocked_M": frame["unlocked_tokens"].to_numpy() / 1e6,
        "emitted_M": frame["emitted_tokens"].to_numpy() / 1e6,
        "circulating_M": frame["circulating_tokens"].to_numpy() / 1e6,
        "float_M": frame["float_tokens"].to_numpy() / 1e6,
    }
    with np.errstate(divide="ignore", invalid="ignore"):
        share = 100.0 * frame["circulating_tokens"].to_numpy() / total
    view = pd.DataFrame(millions)
    view["circ_%_supply"] = [_pct_cell(v) for v in share]
    view["circ_infl_%/yr"] = [
        _pct_cell(v) for v in frame["circulating_inflation_annualised_pct"].to_numpy(float)
    ]
    view["float_infl_%/yr"] = [
        _pct_cell(v) for v in frame["float_inflation_annualised_pct"].to_numpy(float)
    ]
    return view.to_string(index=False, float_format=lambda x: f"{x:,.2f}", na_rep="-")


# ----------------------------------------------------------------------------- chart

_BUCKET_COLOURS = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#9c755f",
    "#ff9da7",
    "#bab0ac",
    "#e15759",
)


def _robust_top(values: np.ndarray, spikes: int = 3) -> float:
    """The largest value, ignoring at most ``spikes`` leading values that stand more than 3×
    above the next one (a one-month spike, e.g. growth from a near-zero base); 0 if none
    is positive."""
    finite = np.sort(values[np.isfinite(values) & (values > 0)])[::-1]
    if finite.size == 0:
        return 0.0
    for i in range(min(spikes, finite.size - 1)):
        if finite[i] > 3.0 * finite[i + 1]:
            return float(finite[i + 1])
    return float(finite[0])


def _inflation_limit(circulating: np.ndarray, floating: np.ndarray) -> float:
    """Top of the inflation axis (% per year).

    Anchored on the tracker circulating curve (single-month spikes set aside): every
    float value fits too unless the float runs above 2.5× that curve's top (typically its
    growth while it is still near zero, e.g. before a cliff); then the axis stops there and
    the values above are marked off scale, so no outlier flattens the curves a reader
    compares.
    """
    anchor = _robust_top(circulating)
    if anchor <= 0:
        anchor = _robust_top(floating)
    if anchor <= 0:
        return 10.0
    floats = floating[np.isfinite(floating)]
    top_float = float(floats.max()) if floats.size else 0.0
    if top_float <= 2.5 * anchor:
        return max(anchor, top_float) * 1.1
    return max(2.5 * anchor, 10.0)


def _millions(v: float, _pos: Any = None) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e3:
        return f"{v / 1e3:,.1f}B".replace(".0B", "B")
    return f"{v:,.0f}M" if abs(v) >= 10 else f"{v:,.1f}M"


def _tick_step(last: int) -> int:
    """Months between x ticks: every 12 (a year) from two years on, in whole years up to
    ~12 ticks for long horizons; every 3 or 1 month for short projections."""
    if last < 6:
        return 1
    if last < 24:
        return 3
    for step in (12, 24, 60, 120, 240):
        if last / step <= 12:
            return step
    return 240


_RECIPIENT_LABEL = {"reward_pool": "reward pool", "liquidity": "AMM"}


def plot(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write the :func:`figure` of a projection to ``path`` (PNG) and return the path."""
    out = Path(path)
    figure(frame).savefig(out, format="png")
    return out


def figure(frame: pd.DataFrame) -> Figure:
    """The chart of a projection (10 × 8 inches at 100 dpi).

    Top panel: unlocked supply stacked by allocation (bucket) plus minted emission, with
    tracker circulating supply, market float and total supply as lines, and a dashed
    vertical marker where each cliff ends (labelled with its buckets). Bottom panel:
    annualised inflation of tracker circulating supply and of the market float (% per
    year, axis from 0; values beyond the axis are marked at its top, with the largest).
    Ticks every 12 months (whole years apart for horizons beyond 12 years; every 3 months
    under two years). Uses the Agg canvas directly, so no display and no global
    pyplot state are involved.
    """
    _check_frame(frame, "tokenomics plot")
    month = frame["month"].to_numpy()
    last = int(month[-1])
    info = {b["name"]: b for b in frame.attrs.get("buckets", [])}

    fig = Figure(figsize=(10, 8), dpi=100)
    FigureCanvasAgg(fig)
    fig.subplots_adjust(left=0.09, right=0.75, top=0.86, bottom=0.075, hspace=0.28)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    _supply_panel(top, frame, info)
    _cliff_markers(top, bottom, info, last)
    _inflation_panel(bottom, frame)
    bottom.set_xlabel(
        "months after launch (month 0 = launch month, incl. TGE unlocks)", fontsize=10
    )
    bottom.set_xlim(-0.5, max(last, 3) + 0.5)
    bottom.xaxis.set_major_locator(MultipleLocator(_tick_step(last)))
    if 24 <= last <= 120:
        bottom.xaxis.set_minor_locator(MultipleLocator(3))
    for ax in (top, bottom):
        ax.tick_params(labelsize=9.5)

    name = frame.attrs.get("name", "")
    title = f"Token supply projection{': ' + name if name else ''} (1 month = 30.4375 days)"
    fig.text(0.09, 0.975, title, fontsize=12.5, weight="bold", va="top")
    notes = frame.attrs.get("notes") or []
    if notes:
        text = textwrap.fill("Assumes: " + "; ".join(notes) + ".", width=130)
        fig.text(0.09, 0.94, text, fontsize=9, color="0.25", va="top")
    return fig


def _supply_panel(top: Any, frame: pd.DataFrame, info: dict[str, dict[str, Any]]) -> None:
    """Top panel: unlocked supply stacked by allocation (and minted emission, with burns
    hatched off its top), under the total, tracker circulating and float supply lines.
    Month ``m`` is drawn over [m − 0.5, m + 0.5]."""
    month = frame["month"].to_numpy()
    circ = frame["circulating_tokens"].to_numpy() / 1e6
    floating = frame["float_tokens"].to_numpy() / 1e6
    total = frame["total_supply_tokens"].to_numpy() / 1e6
    edges = np.concatenate([[month[0] - 0.5], month + 0.5])
    _allocation_stack(top, frame, info, edges)

    def line(values: np.ndarray, **kwargs: Any) -> None:
        top.step(edges, np.concatenate([[values[0]], values]), where="pre", **kwargs)

    line(total, color="0.3", linestyle=":", linewidth=1.8, label="total supply")
    line(circ, color="black", linewidth=2.2, label="tracker circulating\n(everything unlocked)")
    line(
        floating,
        color="#c0392b",
        linestyle="--",
        linewidth=2.2,
        label="market float (excl.\nreward pool, AMM)",
    )
    peak = max(float(np.nanmax(total)), float(np.nanmax(circ)), 1e-9)
    top.set_ylim(0, peak * 1.15)
    top.yaxis.set_major_formatter(FuncFormatter(_millions))
    top.set_ylabel("tokens at month end (M = million)", fontsize=10)
    top.grid(True, alpha=0.3)
    top.legend(
        loc="upper left",
        bbox_to_anchor=(1.02, 1.02),
        fontsize=9.5,
        frameon=False,
        title="allocation (stacked)\nand supply views",
        title_fontsize=9.5,
        alignment="left",
        labelspacing=0.6,
    )
    share = 100.0 * circ[-1] / total[-1] if total[-1] > 0 else math.nan
    share_float = 100.0 * floating[-1] / total[-1] if total[-1] > 0 else math.nan
    top.set_title(
        f"Unlocked supply by allocation; at month {int(month[-1])}: {share:.0f} % of supply "
        f"circulating, {share_float:.0f} % in the float",
        fontsize=10.5,
        loc="left",
    )


def _allocation_stack(
    top: Any, frame: pd.DataFrame, info: dict[str, dict[str, Any]], edges: np.ndarray
) -> None:
    """The cumulative unlocks of each bucket (labelled with its recipient unless holders)
    and minted emission, stacked; tokens burned since launch hatched off the stack's top."""
    minted = np.cumsum(frame["emitted_tokens"].to_numpy()) / 1e6
    layers, labels, colours = [], [], []
    for i, (name, column) in enumerate(bucket_columns(frame).items()):
        layers.append(np.concatenate([[0.0], frame[column].to_numpy() / 1e6]))
        recipient = _RECIPIENT_LABEL.get(str(info.get(name, {}).get("recipient")))
        labels.append(f"{name}\n({recipient})" if recipient else name)
        colours.append(_BUCKET_COLOURS[i % len(_BUCKET_COLOURS)])
    if np.any(minted > 0):
        layers.append(np.concatenate([[0.0], minted]))
        labels.append("minted emission")
        colours.append("#cfcfcf")
    if not layers:
        return
    stack = np.vstack(layers)
    top.stackplot(edges, stack, labels=labels, colors=colours, alpha=0.8, step="pre")
    burned = np.cumsum(frame["burned_tokens"].to_numpy()) / 1e6
    if np.any(burned > 0):  # burns leave the stack's top: hatch what no longer exists
        upper = stack.sum(axis=0)
        top.fill_between(
            edges,
            upper - np.concatenate([[0.0], burned]),
            upper,
            step="pre",
            facecolor="white",
            edgecolor="0.35",
            hatch="////",
            linewidth=0.0,
            label="burned since launch\n(taken from the float)",
        )


def _cliff_markers(top: Any, bottom: Any, info: dict[str, dict[str, Any]], last: int) -> None:
    """A dashed line on both panels where each cliff ends (one per distinct month), with a
    label on the top panel naming its buckets, staggered so labels never overlap."""
    cliffs: dict[float, list[str]] = {}
    for bucket, b in info.items():
        c = float(b.get("cliff_month", 0.0))
        if 0 < c <= last + 0.5 and b.get("amount_tokens", 1.0) > 0:
            cliffs.setdefault(round(c, 2), []).append(bucket)
    for k, (c, names) in enumerate(sorted(cliffs.items())):
        xc = c - 0.5  # the instant c months after launch, on the month axis
        for ax in (top, bottom):
            ax.axvline(xc, color="0.2", linestyle=(0, (4, 3)), linewidth=1.1, zorder=3)
        top.annotate(
            f"cliff ends: {', '.join(names)}\n(month {c:g})",
            xy=(xc, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(5, -6 - 28 * (k % 3)),
            textcoords="offset points",
            fontsize=9,
            va="top",
            zorder=5,
            bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "0.6", "alpha": 0.95},
        )


def _inflation_panel(bottom: Any, frame: pd.DataFrame) -> None:
    """Bottom panel: annualised inflation of tracker circulating supply and of the float,
    the axis from 0 (or below) to :func:`_inflation_limit`, values above it marked."""
    month = frame["month"].to_numpy()
    circ_y = frame["circulating_inflation_annualised_pct"].to_numpy(float)
    float_y = frame["float_inflation_annualised_pct"].to_numpy(float)
    limit = _inflation_limit(circ_y, float_y)
    both = np.concatenate([circ_y, float_y])
    lowest = float(np.nanmin(both)) if np.isfinite(both).any() else 0.0
    low = min(0.0, lowest * 1.1)
    bottom.plot(month, circ_y, color="black", linewidth=2.0, label="tracker circulating")
    bottom.plot(
        month, float_y, color="#c0392b", linestyle="--", linewidth=2.0, label="market float"
    )
    notes_off = _off_scale(bottom, frame, limit)
    if notes_off:
        bottom.text(
            1.02,
            0.62,
            "\n\n".join(textwrap.fill(n, width=30) for n in notes_off),
            transform=bottom.transAxes,
            ha="left",
            va="top",
            fontsize=8.5,
            color="0.15",
        )
    bottom.set_ylim(low, limit)
    bottom.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f} %"))
    bottom.set_ylabel("% per year", fontsize=10)
    bottom.set_title(
        "Annualised inflation (month-on-month growth compounded over 12 months)",
        fontsize=10.5,
        loc="left",
    )
    bottom.grid(True, alpha=0.3)
    bottom.legend(loc="upper left", bbox_to_anchor=(1.02, 1.02), fontsize=9.5, frameon=False)


def _off_scale(bottom: Any, frame: pd.DataFrame, limit: float) -> list[str]:
    """Mark with ▲ at the axis top the months whose annualised inflation is above
    ``limit``; one note per supply view marked, naming its largest month."""
    month = frame["month"].to_numpy()
    notes = []
    for what, colour in (("circulating", "black"), ("float", "#c0392b")):
        values = frame[f"{what}_inflation_annualised_pct"].to_numpy(float)
        over = np.flatnonzero(np.isfinite(values) & (values > limit))
        if not over.size:
            continue
        bottom.plot(
            month[over],
            np.full(over.size, limit),
            linestyle="none",
            marker="^",
            color=colour,
            markersize=6,
            clip_on=False,
            zorder=4,
        )
        worst = over[np.argmax(values[over])]
        monthly = frame[f"{what}_inflation_monthly_pct"].to_numpy(float)
        notes.append(
            f"▲ {what} above the axis in {over.size} month{'s' if over.size > 1 else ''}; "
            f"largest: +{_pct_cell(monthly[worst])} % in month {int(month[worst])} "
            f"alone ({_pct_cell(values[worst])} %/yr)"
        )
    return notes


# ----------------------------------------------------------------------------- files


def write(frame: pd.DataFrame, out_dir: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write ``tokenomics.csv``, ``tokenomics.parquet``, ``tokenomics.png`` and
    ``tokenomics_columns.csv`` (every column's definition and unit) into ``out_dir``, all or
    nothing, and return ``out_dir``.

    ``out_dir`` may be new, empty, or a folder ledgerlab wrote earlier; anything else is
    refused and left untouched (see :func:`ledgerlab.sim.output.atomic_dir`).
    """
    from ledgerlab.sim.output import atomic_dir

    _check_frame(frame, "tokenomics write")
    with atomic_dir(out_dir, force=force, kind="tokenomics") as tmp:
        frame.to_csv(tmp / "tokenomics.csv", index=False)
        plain = frame.copy()
        plain.attrs = {}
        plain.to_parquet(tmp / "tokenomics.parquet", index=False)
        column_descriptions(frame).to_csv(tmp / "tokenomics_columns.csv", index=False)
        plot(frame, tmp / "tokenomics.png")
    return Path(out_dir)


def describe(frame: pd.DataFrame) -> str:
    """One line: the allocation, its supply and the projection's assumptions."""
    _check_frame(frame, "tokenomics describe")
    name = frame.attrs.get("name", "projection")
    supply = float(frame["total_supply_tokens"].iloc[0] + frame["burned_tokens"].iloc[0])
    supply -= float(frame["emitted_tokens"].iloc[0])
    notes = "; ".join(frame.attrs.get("notes") or [])
    return (
        f"{name}: {supply / 1e6:,.0f}M genesis tokens, {len(frame)} months (M = millions of "
        f"tokens; month 0 = launch month incl. TGE). Assumes: {notes}."
    )
