"""Phase 8 — collect: the epoch's KPI row, derived from its flows and the state at the end
of the epoch (:func:`kpi_values`), recorded in the DataCollector (:class:`Recorder`, which
applies the metrics cadence when the timeseries is read); agent snapshots on their cadence; the AMM/ledger check and, with
``check=True``, the ledger's full invariant check.

The KPIs themselves — their names, kinds and summary rules — are registered once in
``sim.kpis``; this module says what each is computed from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import mesa
import numpy as np
import pandas as pd

from ledgerlab.agents.adaptive import strategy_shares
from ledgerlab.economics import metrics as M
from ledgerlab.sim import kpis as K
from ledgerlab.sim.fairness import FAIRNESS_KPIS, fairness_kpis, reward_kpis
from ledgerlab.sim.flows import EpochFlows
from ledgerlab.sim.phases.train import quality
from ledgerlab.sim.twins import twin_kpis

if TYPE_CHECKING:
    from ledgerlab.agents.base import RoleSet
    from ledgerlab.economics.ledger import Ledger
    from ledgerlab.sim.model import EconomyModel


@dataclass(frozen=True)
class SupplyState:
    """The ledger's supply at one moment (tokens): what the supply KPIs of the next epoch
    are changes of.

    Attributes:
        supply_tokens: Minted − burned.
        circulating_tokens: Tracker circulating: every unlocked token, wherever it sits.
        market_float_tokens: Circulating outside the protocol's accounts.
        locked_tokens: Still locked in vesting, all accounts.
        market_locked_tokens: Still locked in vesting outside the protocol's accounts
            (summed over those accounts, so it changes only when they unlock).
        minted_tokens, burned_tokens: Ever minted, ever burned.
    """

    supply_tokens: float
    circulating_tokens: float
    market_float_tokens: float
    locked_tokens: float
    market_locked_tokens: float
    minted_tokens: float
    burned_tokens: float

    @classmethod
    def of(
        cls, ledger: Ledger, protocol_ids: np.ndarray, totals: LedgerTotals | None = None
    ) -> SupplyState:
        """The state of ``ledger`` now; ``protocol_ids`` are the protocol's accounts;
        ``totals``: the sums to reuse while the ledger is unchanged (a fresh
        :class:`LedgerTotals` when None)."""
        return (totals or LedgerTotals()).of(ledger, protocol_ids).supply


class LedgerTotals:
    """The sums over the ledger's columns the KPIs read (tokens), recomputed only when the
    ledger has changed since they were last taken.

    Why: with 10,000 holders each sum is a pass over 10,000 accounts, and an epoch where
    nothing moves (no unlock, trade or payout) would pay for about ten of them. Every
    ledger operation that writes a column replaces the ledger's running-totals list
    (``Ledger._tot``, a new list per committed operation) and opening accounts changes
    ``n_accounts``, so "the same list object and the same number of accounts" means "no
    column changed": the cached sums are then exactly what a recomputation would give.
    The sums use the same numpy arithmetic as ``economics.metrics.circulating_supply``,
    ``market_float`` and ``gini`` (pairwise sums over the same arrays), so the KPIs are
    bit-identical to calling those functions.

    Attributes (valid after :meth:`of`): supply (the :class:`SupplyState`), staked_tokens,
    bonded_tokens (Σ over accounts, tokens), gini_holdings (Gini of balance + staked over
    individuals' accounts, after :meth:`gini`).
    """

    def __init__(self) -> None:
        self._key: tuple[object, int, object] | None = None
        self._gini_key: tuple[object, int, object] | None = None
        self._market: np.ndarray = np.ones(0, dtype=bool)
        self._protocol: dict[int, float] = {}
        self._people: tuple[int, slice | np.ndarray] = (-1, slice(0))
        self._order: np.ndarray = np.zeros(0, dtype=np.intp)  # ascending order of holdings
        self.supply = SupplyState(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)  # set by of()
        self.staked_tokens = self.bonded_tokens = 0.0
        self.gini_holdings = float("nan")

    @staticmethod
    def _version(ledger: Ledger) -> tuple[object, int, object]:
        """What changes whenever a column of ``ledger`` may have changed."""
        return (ledger._tot, ledger.n_accounts, ledger._cols)

    @staticmethod
    def _unchanged(key: tuple[object, int, object], cached: tuple | None) -> bool:
        return (
            cached is not None
            and cached[0] is key[0]
            and cached[1] == key[1]
            and cached[2] is key[2]
        )

    def of(self, ledger: Ledger, protocol_ids: np.ndarray) -> LedgerTotals:
        """The supply sums of ``ledger`` now (``protocol_ids``: the protocol's accounts,
        the same on every call); returns self."""
        key = self._version(ledger)
        if self._unchanged(key, self._key):
            return self
        n = ledger.n_accounts
        if self._market.size != n:
            self._market = np.ones(n, dtype=bool)
            self._market[protocol_ids] = False
        market = self._market
        balance, staked, locked = ledger.balance, ledger.staked, ledger.locked
        held = M._held_unchecked(balance, staked, ledger.bonded)
        self.supply = SupplyState(
            supply_tokens=ledger.supply,
            circulating_tokens=float(held.sum()),
            market_float_tokens=float(held[market].sum()),
            locked_tokens=float(locked.sum()),
            market_locked_tokens=float(locked[market].sum()),
            minted_tokens=ledger.minted,
            burned_tokens=ledger.burned,
        )
        self.staked_tokens = float(staked.sum())
        self.bonded_tokens = float(ledger.bonded.sum())
        holdings = balance[protocol_ids] + locked[protocol_ids]  # as the scalars would add
        self._protocol = dict(zip(protocol_ids.tolist(), holdings.tolist(), strict=True))
        self._key = key
        return self

    def protocol_holding(self, account: int) -> float:
        """Balance + locked of one of the protocol's accounts (tokens), as of :meth:`of`."""
        return self._protocol[account]

    def gini(self, ledger: Ledger, role: np.ndarray) -> float:
        """Gini of balance + staked over the accounts of individuals (``role`` ≠ 0: not
        the protocol's), as ``economics.metrics.gini`` computes it."""
        key = self._version(ledger)
        if not self._unchanged(key, self._gini_key):
            people = self._people_of(role)
            hold = ledger.balance[people] + ledger.staked[people]  # = (balance + staked)[people]
            self.gini_holdings = self._gini_of(hold)
            self._gini_key = key
        return self.gini_holdings

    def _gini_of(self, hold: np.ndarray) -> float:
        """``economics.metrics.gini(hold)``, bit for bit, without sorting ``hold`` afresh
        each epoch: holdings change a little from one epoch to the next and rarely change
        rank, so the order that sorted them last time (kept in ``_order``) usually still
        does. ``hold[_order]`` is then checked to be ascending (one pass); if it is not,
        the order is repaired by a stable sort of that nearly sorted array. Ascending
        arrays of the same values are the same values in the same places (only the sign
        of a zero could differ, which no sum below can see), so the Gini is
        ``_gini_sorted_unchecked`` of it, as ``_gini_unchecked`` computes after its sort;
        ``np.ptp(hold) == 0`` is the sorted array's last value equal to its first."""
        n = hold.size
        if n == 0:
            return float("nan")
        order = self._order
        if order.size == n:
            s = hold[order]
            if not (s[1:] >= s[:-1]).all():
                order = order[np.argsort(s, kind="stable")]
                s = hold[order]
        else:
            order = np.argsort(hold, kind="stable")
            s = hold[order]
        self._order = order
        if s[-1] == s[0]:
            return 0.0
        return M._gini_sorted_unchecked(s)

    def _people_of(self, role: np.ndarray) -> slice | np.ndarray:
        """The individuals' accounts (``role`` ≠ 0), as a slice when they are the accounts
        after the protocol's (as opened: the protocol's first), else as a mask; kept until
        accounts are opened (a registered account's role never changes)."""
        if self._people[0] != role.size:
            rows = np.flatnonzero(role != 0)
            contiguous = rows.size and rows[0] + rows.size == role.size
            self._people = (
                role.size,
                slice(int(rows[0]), role.size) if contiguous else role != 0,
            )
        return self._people[1]


class KpiCollector(mesa.DataCollector):
    """The Mesa DataCollector of an :class:`EconomyModel`, read from its :class:`Recorder`'s
    preallocated KPI rows: nothing runs per epoch (Mesa's per-reporter ``collect`` cost about
    a third of a millisecond an epoch for ~100 KPIs), and Mesa's tools see one record per
    step as before (``model_vars[name][step]``, ``get_model_vars_dataframe()``)."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self._recorder = recorder
        self._cache: tuple[int, dict[str, list[float]]] = (-1, {})
        self.model_reporters = dict.fromkeys(K.KPI_NAMES, "recorded")

    @property  # type: ignore[override]
    def model_vars(self) -> dict[str, list[float]]:
        """Each KPI's per-epoch values so far, by name (built once per recorded epoch)."""
        n, values = self._cache
        if n != self._recorder.n_rows:
            rows = self._recorder.epochs()
            values = {name: rows[:, i].tolist() for i, name in enumerate(K.KPI_NAMES)}
            self._cache = (self._recorder.n_rows, values)
        return values

    @model_vars.setter
    def model_vars(self, _value: dict[str, list[float]]) -> None:
        """Ignored: Mesa's constructor sets an empty dict; the values live in the rows."""

    def collect(self, model: mesa.Model) -> None:
        """Nothing to do: :meth:`Recorder.record` has written the epoch's row."""

    def get_model_vars_dataframe(self) -> pd.DataFrame:
        """The per-epoch KPI rows (``KPI_NAMES`` columns, float64, one row per step)."""
        return pd.DataFrame(self._recorder.epochs().copy(), columns=list(K.KPI_NAMES))


class Recorder:
    """Writes one KPI row per epoch into a preallocated array and applies the metrics
    cadence when the timeseries is read.

    The rows hold one record per epoch — the epoch's own KPI values — and Mesa's tools read
    them through :attr:`datacollector` (``mesa.batch_run`` reads the record of any step it
    samples). With
    ``collect.metrics_every_epochs`` = N > 1, :meth:`timeseries` has a row every N epochs
    and after the last: flows summed over the epochs since the previous row, fairness KPIs
    as last measured in that interval, everything else as at the row's epoch
    (``sim.kpis``).

    Attributes:
        every: The metrics cadence (epochs).
        horizon_epochs: The run's epochs (the last one always closes a row).
        row: The last epoch's row (float64, ``KPI_NAMES`` order).
        n_rows: Epochs recorded (rows).
        datacollector: A Mesa DataCollector reading the recorded rows (:class:`KpiCollector`).
        prev: The supply at the end of the previous epoch (at launch before epoch 0), which
            inflation and the growth splits are measured against.
    """

    def __init__(self, every: int, horizon_epochs: int, launch: SupplyState) -> None:
        self.every = every
        self.horizon_epochs = horizon_epochs
        self.row = np.full(len(K.KPIS), np.nan)
        # The horizon's rows up front (a long horizon's first 4,096; doubled when full).
        self._rows = np.full((min(max(horizon_epochs, 1), 4096), len(K.KPIS)), np.nan)
        self.n_rows = 0
        self.datacollector = KpiCollector(self)
        self.prev = launch
        self.totals = LedgerTotals()
        self.idle_rows: dict[tuple[object, ...], IdleRow] = {}
        """The still groups' KPI row of an idle world, by :func:`_idle_key` (:func:`kpi_row`)."""

    def record(self, model: mesa.Model, values: np.ndarray) -> None:
        """One epoch's KPI row, written into the preallocated array (grown by doubling if
        the model is stepped past its horizon); ``model`` is unused (Mesa's signature)."""
        if self.n_rows == self._rows.shape[0]:
            grown = np.full((2 * self.n_rows, self._rows.shape[1]), np.nan)
            grown[: self.n_rows] = self._rows
            self._rows = grown
        self._rows[self.n_rows] = values
        self.n_rows += 1
        self.row = values

    def epochs(self) -> np.ndarray:
        """The per-epoch rows recorded so far (a read-only view, [epochs, KPIs])."""
        view = self._rows[: self.n_rows]
        view.flags.writeable = False
        return view

    def timeseries(self) -> pd.DataFrame:
        """The rows recorded so far, on the metrics cadence (``KPI_NAMES`` columns, ``epoch``
        as int64)."""
        rows = self.epochs()
        if self.every > 1 and len(rows):
            rows = self._on_cadence(rows)
        df = pd.DataFrame(rows.copy(), columns=list(K.KPI_NAMES))
        df["epoch"] = df["epoch"].astype(np.int64)
        return df

    def _on_cadence(self, epochs: np.ndarray) -> np.ndarray:
        """Per-epoch rows → one row every :attr:`every` epochs and after the last: flows
        summed (in epoch order; NaN if never measured), fairness KPIs as last measured,
        the rest as at the closing epoch."""
        sums = np.zeros(epochs.shape[1])
        summed = np.zeros(epochs.shape[1], dtype=bool)
        fairness = np.full(epochs.shape[1], np.nan)
        rows: list[np.ndarray] = []
        for values in epochs:  # one pass over epochs, vectorised over columns
            finite = np.isfinite(values)
            flows = K.FLOW_MASK & finite
            sums[flows] += values[flows]
            summed |= flows
            fair = K.FAIRNESS_MASK & finite
            fairness[fair] = values[fair]
            epoch = int(values[K.KPI_INDEX["epoch"]])
            if epoch % self.every and epoch != self.horizon_epochs - 1:
                continue
            row = values.copy()
            measured = K.FLOW_MASK & ~np.isnan(values)  # NaN: never measured (e.g. no chain)
            row[measured] = np.where(summed, sums, np.nan)[measured]
            row[K.FAIRNESS_MASK] = fairness[K.FAIRNESS_MASK]
            rows.append(row)
            sums[:] = 0.0
            summed[:] = False
            fairness[:] = np.nan
        return np.array(rows).reshape(len(rows), epochs.shape[1])


def collect(model: EconomyModel, flows: EpochFlows) -> None:
    """The epoch's KPI row, the agent snapshot on its cadence, and the invariant checks."""
    sc = model.scenario
    last = flows.epoch == sc.epochs - 1
    model.recorder.record(model, kpi_row(model, flows))
    every = sc.collect.agent_snapshot_every_epochs
    if not model.is_twin and (last or (every and flows.epoch % every == 0)):
        model.snapshots.append(agent_snapshot(model))
    model.exchange.check()
    if model.check:
        model.ledger.check_invariants()


_ROW_INDEX: dict[tuple[str, ...], np.ndarray] = {}
"""Row positions of each sequence of KPI names :func:`kpi_values` has produced (a run
produces a handful: the names depend on the world's roles and sections, not the epoch)."""

_NAN_ROW = np.full(len(K.KPIS), np.nan)
"""A row of NaN (not measured) to copy: cheaper than ``np.full`` each epoch."""
_NAN_ROW.flags.writeable = False


def _index_of(names: tuple[str, ...]) -> np.ndarray:
    """The row positions of ``names`` (``K.KPI_INDEX``), cached per sequence of names."""
    index = _ROW_INDEX.get(names)
    if index is None:
        index = _ROW_INDEX[names] = np.array([K.KPI_INDEX[n] for n in names], dtype=np.intp)
    return index


def _row_of(values: dict[str, float]) -> np.ndarray:
    """``sim.kpis.row_of(values)`` (one float64 row in ``KPI_NAMES`` order, NaN where not
    measured) with one vectorised write instead of a write per KPI."""
    row = _NAN_ROW.copy()
    row[_index_of(tuple(values))] = np.fromiter(values.values(), np.float64, len(values))
    return row


def kpi_row(model: EconomyModel, flows: EpochFlows) -> np.ndarray:
    """The epoch's KPI row: ``_row_of(kpi_values(model, flows))``, bit for bit.

    Why not always that: in an idle world (:func:`_idle_key`: no datanet, no role set but
    the holders with anyone in it, no ground truth, no twin, nobody left or joined) the
    model-quality, fairness, role and twin groups — about half the row — cannot change
    from one epoch to the next, yet rebuilding their dicts cost about a third of an idle
    epoch. Their values are then taken once from the same group functions into a template
    row (per key, on the recorder) and only the moving groups (:func:`_moving_values`)
    are computed and written over it. ``tests/sim/test_collect.py`` checks both paths
    agree."""
    rec = model.recorder
    key = _idle_key(model, flows)
    if key is None:
        return _row_of(kpi_values(model, flows))
    idle = rec.idle_rows.get(key)
    if idle is None:
        still = _still_values(model, flows)
        idle = rec.idle_rows[key] = IdleRow(_row_of(still), frozenset(still), {})
    prev = rec.prev  # _supply moves it on: restored if the general path must run instead
    moving = _moving_values(model, flows)
    names = tuple(moving)
    apart = idle.apart.get(names)
    if apart is None:
        apart = idle.apart[names] = idle.names.isdisjoint(names)
    if not apart:  # a still group would overwrite a moving one: kpi_values' order decides
        rec.prev = prev
        return _row_of(kpi_values(model, flows))
    row = idle.row.copy()
    row[_index_of(names)] = np.fromiter(moving.values(), np.float64, len(names))
    return row


class IdleRow(NamedTuple):
    """The still groups of an idle world (:func:`kpi_row`).

    Attributes:
        row: Their values in a KPI row (NaN elsewhere).
        names: Their KPI names.
        apart: Per sequence of moving KPI names: whether none of them is in ``names``.
    """

    row: np.ndarray
    names: frozenset[str]
    apart: dict[tuple[str, ...], bool]


def _idle_key(model: EconomyModel, flows: EpochFlows) -> tuple[object, ...] | None:
    """What the still groups' values (:func:`_still_values`) depend on in an idle world —
    whether the churn flows were recorded and the contributing roles' names — or None
    when the world is not idle and they may change: it has datanets, a ground truth or
    twins, someone in a contributing, builder or validator role set, or churn flows
    with anyone leaving or joining."""
    r = model.roles
    twins = model.twins
    if model.datanets or model.truth is not None or (twins is not None and twins.models):
        return None
    contributors = r.contributors  # the adversaries' role sets among them
    if len(r.builders) or len(r.validators) or any(len(rs) for rs in contributors):
        return None
    ch = flows.churn
    if ch is not None and (any(ch.left.values()) or any(ch.joined.values())):
        return None
    return (ch is None, tuple(rs.role for rs in contributors))


def kpi_values(model: EconomyModel, flows: EpochFlows) -> dict[str, float]:
    """Every KPI measured this epoch, by name (see ``sim.kpis`` for what each means)."""
    out: dict[str, float] = {"epoch": float(flows.epoch)}
    out.update(_supply(model, flows))
    out.update(_market(flows))
    out.update(_contribution(flows))
    out.update(_quality(model))
    out.update(_usage(flows))
    out.update(_fairness(model, flows))
    out.update(_roles(model, flows))
    out.update(_gravity(model, flows))
    out.update(_chain(flows))
    out.update(model.defenses.kpis(flows.defense))
    out.update(_twins(model, out))
    return out


def _moving_values(model: EconomyModel, flows: EpochFlows) -> dict[str, float]:
    """The groups of :func:`kpi_values` that move even in an idle world (supply, market,
    contributions, usage, gravity, chain, defences), in its order; moves the recorder's
    supply state on, as :func:`kpi_values` does."""
    out: dict[str, float] = {"epoch": float(flows.epoch)}
    out.update(_supply(model, flows))
    out.update(_market(flows))
    out.update(_contribution(flows))
    out.update(_usage(flows))
    out.update(_gravity(model, flows))
    out.update(_chain(flows))
    out.update(model.defenses.kpis(flows.defense))
    return out


def _still_values(model: EconomyModel, flows: EpochFlows) -> dict[str, float]:
    """The groups of :func:`kpi_values` that an idle world (:func:`_idle_key`) cannot
    change (model quality, fairness, roles, twins), in its order. The twins' group reads
    no other KPI there (no twin, no honest contributor)."""
    out = _quality(model)
    out.update(_fairness(model, flows))
    out.update(_roles(model, flows))
    out.update(_twins(model, out))
    return out


def _market(flows: EpochFlows) -> dict[str, float]:
    """Vesting unlocks and the outside market's trade (none before the market phase)."""
    m = flows.market
    if m is None:
        return {}
    return {
        "unlocked_tokens": m.unlocked_tokens,
        "sold_tokens": m.sold_tokens,
        "sales_usd": m.sales_usd,
        "exogenous_flow_usd": m.exogenous_flow_usd,
        "noise_flow_usd": m.noise_flow_usd,
        "value_trader_flow_usd": m.value_trader_flow_usd,
        "arbitrage_flow_usd": m.arbitrage_flow_usd,
        "shock_flow_usd": m.shock_flow_usd,
        "buyback_usd": m.buyback_usd,
        "buyback_tokens": m.buyback_tokens,
        "fundamental_value_usd": m.fundamental_value_usd,
        "value_trader_tokens": m.value_trader_tokens,
        "demand_multiplier": m.demand_multiplier,
    }


def _contribution(flows: EpochFlows) -> dict[str, float]:
    """Points submitted, accepted and refused (none before the contribution phase)."""
    c = flows.contribution
    if c is None:
        return {}
    return {
        "points_submitted": float(c.points_submitted),
        "points_accepted": float(c.points_accepted),
        "points_rejected": float(c.points_rejected),
    }


def _quality(model: EconomyModel) -> dict[str, float]:
    """Clean accuracy and backdoor success of the builders' models (NaN without builders,
    as ``quality()`` says; the backdoor is measured only when poisoners plant one)."""
    backdoor = model.scenario.population.poisoners.backdoor > 0
    builders = model.roles.builders
    accuracy, attack = quality(builders, backdoor) if len(builders) else (np.nan, np.nan)
    return {"accuracy": accuracy, "attack_success": attack}


def _fairness(model: EconomyModel, flows: EpochFlows) -> dict[str, float]:
    """The fairness KPIs when the ground truth is due (NaN otherwise, without
    ``fairness_kpis``' pass over every account) and the reward-fairness KPIs."""
    truth = model.truth
    if truth is None or not truth.due(flows.epoch):
        out = dict.fromkeys(FAIRNESS_KPIS, np.nan)
    else:
        out = dict(fairness_kpis(flows.epoch, truth, model.accounts))
    if flows.rewards is not None and truth is not None:
        r = flows.rewards
        out.update(
            reward_kpis(r.paid_tokens, r.fair_tokens, model.exchange.price_usd, model.accounts)
        )
    return out


def _twins(model: EconomyModel, world: dict[str, float]) -> dict[str, float]:
    """``sim.twins.twin_kpis``; in a world with no twin and no honest contributor (a
    tokenomics-only world) its value without its pass over every account: no account of
    an honest contributing role exists, so nothing was paid to one."""
    twins = model.twins
    honest = [rs for rs in model.roles.contributors if not rs.adversary]
    if (twins is None or not twins.models) and not any(len(rs) for rs in honest):
        return {"honest_income_tokens": 0.0}
    return twin_kpis(model, world)


def _supply(model: EconomyModel, flows: EpochFlows) -> dict[str, float]:
    """Supply, market and holdings KPIs at the end of the epoch, then the supply state the
    next epoch is measured against."""
    led = model.ledger
    rec = model.recorder
    pool = model.exchange.pool
    protocol = model.accounts.protocol
    price = model.exchange.price_usd
    totals = rec.totals
    now = SupplyState.of(led, protocol.ids, totals)
    circ = now.circulating_tokens
    out = {
        "price_usd": price,
        "supply_tokens": now.supply_tokens,
        "minted_tokens": now.minted_tokens,
        "burned_tokens": now.burned_tokens,
        "circulating_tokens": circ,
        "market_float_tokens": now.market_float_tokens,
        "locked_tokens": now.locked_tokens,
        "bonded_tokens": totals.bonded_tokens,
        "reward_pool_tokens": totals.protocol_holding(protocol.reward_pool),
        "treasury_tokens": totals.protocol_holding(protocol.treasury),
        "market_cap_usd": price * circ,  # M.market_cap's arithmetic on the scalars
        "fdv_usd": price * now.supply_tokens,  # M.fdv's
        "amm_token_reserve": pool.token_reserve_tokens,
        "amm_cash_reserve_usd": pool.cash_reserve_usd,
        "datanet_points": float(sum(s.store.n_active for s in model.datanets)),
    }
    out.update(_inflation(rec.prev, now, model.epochs_per_year))
    out.update(_supply_growth(rec.prev, now, flows))
    out.update(_staking(model, flows, now))
    out["gini_holdings"] = totals.gini(led, model.accounts.cols.role)
    rec.prev = now
    return out


def _inflation(prev: SupplyState, now: SupplyState, epochs_per_year: float) -> dict[str, float]:
    """Relative change per epoch of supply, tracker circulating and market float, and the
    last two compounded over a year."""

    def inflation(prev_tokens: float, now_tokens: float) -> float:
        # M.inflation's arithmetic on the ledger's own (finite, non-negative) scalars
        return M._ratio_unchecked(now_tokens - prev_tokens, prev_tokens)

    out = {
        "supply_inflation": inflation(prev.supply_tokens, now.supply_tokens),
        "circulating_inflation": inflation(prev.circulating_tokens, now.circulating_tokens),
        "market_float_inflation": inflation(prev.market_float_tokens, now.market_float_tokens),
    }
    # Compounding a huge per-epoch inflation (e.g. 1e15 tokens/epoch minted on a 1e9
    # supply) over a year exceeds float64: the annualised rate is then +inf, honestly.
    for view in ("circulating", "market_float"):
        rate = out[f"{view}_inflation"]
        out[f"{view}_inflation_annualised"] = (
            M._annualise_unchecked(rate, epochs_per_year) if math.isfinite(rate) else np.nan
        )
    return out


def _supply_growth(prev: SupplyState, now: SupplyState, flows: EpochFlows) -> dict[str, float]:
    """This epoch's growth of tracker circulating and of market float, each split into
    its sources (``sim.kpis`` defines each term; the terms of a split sum to its growth).

    Tracker circulating changes only by what enters or leaves the unlocked supply:
    vesting unlocks (``locked`` falls), mints (emission minted as rewards) and burns;
    paying rewards out of an unlocked pool moves tokens inside it. Market float changes
    when tokens cross between the market and the protocol's accounts: unlocks to market
    holders, rewards paid, and the net of every other crossing (fees in, fee shares,
    grants and tips out, AMM trades, slashes to the treasury) with burns of market-held
    tokens."""
    unlocked = prev.locked_tokens - now.locked_tokens
    r = flows.rewards
    rewards = r.total_tokens + r.routed_tokens if r is not None else 0.0  # both leave the pool
    float_growth = now.market_float_tokens - prev.market_float_tokens
    float_unlocks = prev.market_locked_tokens - now.market_locked_tokens
    return {
        "circulating_growth_tokens": now.circulating_tokens - prev.circulating_tokens,
        "circulating_growth_unlocks_tokens": unlocked,
        "circulating_growth_minted_tokens": now.minted_tokens - prev.minted_tokens,
        "circulating_growth_burns_tokens": prev.burned_tokens - now.burned_tokens,
        "market_float_growth_tokens": float_growth,
        "market_float_growth_unlocks_tokens": float_unlocks,
        "market_float_growth_rewards_tokens": rewards,
        "market_float_growth_other_tokens": float_growth - float_unlocks - rewards,
    }


def _staking(model: EconomyModel, flows: EpochFlows, now: SupplyState) -> dict[str, float]:
    """Staked tokens, staking ratios (of tracker circulating and of market float) and the
    real yield: stakers' share of independent consumers' fees per staked token, annualised
    (wash fees are not yield)."""
    staked = model.recorder.totals.staked_tokens  # Σ ledger.staked, this epoch's
    c = flows.consumption
    organic_stakers = c.organic_stakers_fees_tokens if c is not None else 0.0

    def ratio(of_tokens: float) -> float:  # M.staking_ratio's arithmetic
        return M._ratio_unchecked(staked, of_tokens) if of_tokens > 0 else np.nan

    return {
        "staked_tokens": staked,
        "staking_ratio": ratio(now.circulating_tokens),
        "staking_ratio_market_float": ratio(now.market_float_tokens),
        "real_yield": M._ratio_unchecked(organic_stakers * model.epochs_per_year, staked)
        if staked > 0  # M.real_yield's arithmetic
        else np.nan,
    }


def _usage(flows: EpochFlows) -> dict[str, float]:
    """Inference, fee and reward KPIs."""
    out: dict[str, float] = {}
    c = flows.consumption
    if c is not None:
        out.update(
            inferences=c.inferences,
            wash_inferences=c.wash_inferences,
            fees_tokens=c.fees_tokens,
            organic_fees_tokens=c.organic_fees_tokens,
            organic_fee_share=_organic_fee_share(c.organic_fees_tokens, c.fees_tokens),
        )
        if c.routing is not None:
            out.update(
                fees_burned_tokens=c.routing.fees_burned_tokens,
                builder_income_tokens=c.routing.builder_income_tokens,
                stakers_fees_tokens=c.routing.stakers_fees_tokens,
            )
    r = flows.rewards
    if r is not None:
        out.update(
            emission_tokens=r.emission_tokens,
            rewards_tokens=r.total_tokens,
            emission_routed_tokens=r.routed_tokens,
            payout_recipients=float(r.recipients),
        )
        organic = c.organic_fees_tokens if c is not None else 0.0
        out["emission_to_organic_fees"] = M._ratio_unchecked(r.emission_tokens, organic)
        out.update({f"reward_{role}_tokens": v for role, v in r.by_role_tokens.items()})
    return out


def _organic_fee_share(organic_fees_tokens: float, fees_tokens: float) -> float:
    """``M.organic_fee_share`` on the epoch's two scalars (its arithmetic: O / F capped
    at 1, NaN where F = 0), without the array validation."""
    share = M._ratio_unchecked(organic_fees_tokens, fees_tokens)
    return 1.0 if share > 1.0 else share


def _roles(model: EconomyModel, flows: EpochFlows) -> dict[str, float]:
    """Churn flows and active individuals per contributing role."""
    out: dict[str, float] = {}
    ch = flows.churn
    for rs in model.roles.contributors:
        if ch is not None:
            out[f"{rs.role}_left"] = float(ch.left[rs.role])
            out[f"{rs.role}_joined"] = float(ch.joined[rs.role])
        out[f"active_{rs.role}"] = float(rs.n_active) if len(rs) else 0.0
    out["active_adversary_identities"], out["active_adversary_operators"] = adversary_headcount(
        model.roles.contributors
    )
    # an empty role set plays nothing (its counts are zeros): leave it out of the sum;
    # with none left, the shares are strategy_shares' NaN row (no active identity)
    playing = tuple(rs for rs in model.roles.adversaries if len(rs))
    out.update(strategy_shares(playing) if playing else _NO_STRATEGY_SHARES)
    validators = model.roles.validators
    out["validator_bribes_tokens"] = (
        float(validators.cols.bribes_tokens.sum()) if len(validators) else 0.0
    )
    return out


_NO_STRATEGY_SHARES = strategy_shares(())
"""``strategy_shares`` of no adversary role set: every share NaN."""


def adversary_headcount(role_sets: Sequence[RoleSet]) -> tuple[float, float]:
    """Active adversary identities (accounts that submit or consume) and the operators
    behind them (a sybil operator and its identities are one operator; every other
    adversary is its own)."""
    identities = 0
    operators: list[np.ndarray] = []
    for rs in role_sets:
        if not rs.adversary or not len(rs):  # an empty set has no identity, no operator
            continue
        cols = rs.cols
        active = np.flatnonzero(cols.active[: len(rs)])
        acct = cols.account[active]
        op = getattr(cols, "operator", None)
        owner = acct if op is None else np.where(op[active] >= 0, op[active], acct)
        wallet = np.zeros(active.size, dtype=bool) if op is None else op[active] == acct
        identities += int((~wallet).sum())  # an operator's own wallet row is not an identity
        operators.append(owner)
    count = np.unique(np.concatenate(operators)).size if operators else 0
    return float(identities), float(count)


def _gravity(model: EconomyModel, flows: EpochFlows) -> dict[str, float]:
    """Behavioural gravity: consumers and builders in the network, who joined and left,
    and the demand the outside option took."""
    consumers, builders = model.roles.consumers, model.roles.builders
    out = {
        "active_consumers": float(consumers.n_active) if len(consumers) else 0.0,
        "active_builders": float(builders.n_active) if len(builders) else 0.0,
    }
    ch, c = flows.churn, flows.consumption
    if ch is not None:
        for role in ("consumers", "builders"):
            out[f"{role}_joined"] = float(ch.joined.get(role, 0))
            out[f"{role}_left"] = float(ch.left.get(role, 0))
    if c is not None:
        bought = c.inferences + c.outside_inferences
        out["outside_inferences"] = c.outside_inferences
        out["outside_option_share"] = c.outside_inferences / bought if bought > 0 else np.nan
        out["network_choice_share"] = c.network_share
        out["outside_price_usd"] = c.outside_price_usd
    return out


def _chain(flows: EpochFlows) -> dict[str, float]:
    """The chain's account of the epoch (none without a chain)."""
    s = flows.settlement
    if s is None:
        return {}
    st = s.stats
    return {
        "chain_tx_submitted": float(st.tx_submitted),
        "chain_tx_included": float(st.tx_included),
        "chain_backlog_tx": float(st.backlog_tx),
        "chain_payout_tx": float(s.payout_tx),
        "chain_base_fee_tokens": st.base_fee_end_tokens,
        "chain_gas_burned_tokens": st.base_fee_burned_tokens,
        "chain_tips_tokens": st.tips_tokens,
        "chain_gas_unpaid_tokens": s.gas_unpaid_tokens,
        "chain_latency_seconds": st.mean_latency_seconds,
    }


SNAPSHOT_COLUMNS = (
    "role",
    "account",
    "active",
    "joined_epoch",
    "left_epoch",
    "adversary",
    "balance_tokens",
    "staked_tokens",
    "bonded_tokens",
    "locked_tokens",
    "reward_tokens",
    "income_usd",
    "cost_usd",
)
"""Columns of an agent snapshot taken from the role sets; the registry adds
``points_accepted``, ``ground_truth_value`` (its points in the training window),
``ground_truth_value_accepted`` (all its accepted points) and ``fair_reward_tokens``."""


SNAPSHOT_ROLE_COLUMNS = ("account", "active", "joined_epoch", "left_epoch")
SNAPSHOT_OUTCOME_COLUMNS = ("reward_tokens", "income_usd", "cost_usd")
SNAPSHOT_LEDGER_COLUMNS = ("balance", "staked", "bonded", "locked")
SNAPSHOT_REGISTRY_COLUMNS = (
    "points_accepted",
    "ground_truth_value",
    "ground_truth_value_accepted",
    "fair_reward_tokens",
)


def agent_snapshot(model: EconomyModel) -> pd.DataFrame:
    """One row per individual of every role, with ledger holdings and outcomes.

    Built straight from the role sets' columns, one array per output column (the same frame
    as concatenating each role set's ``snapshot()``, about 20x cheaper): ``epoch``, then
    :data:`SNAPSHOT_COLUMNS`, then the registry's columns."""
    live = [rs for rs in model.roles.all if len(rs)]
    sizes = [len(rs) for rs in live]

    def stacked(name: str) -> np.ndarray:
        return np.concatenate([getattr(rs.cols, name) for rs in live])

    role_cols = {
        name: stacked(name) for name in (*SNAPSHOT_ROLE_COLUMNS, *SNAPSHOT_OUTCOME_COLUMNS)
    }
    acct = role_cols["account"]
    led, reg = model.ledger, model.accounts.cols
    data: dict[str, np.ndarray] = {
        "epoch": np.full(acct.size, model.epoch, dtype=np.int64),
        "role": np.repeat(np.array([rs.role for rs in live], dtype=object), sizes),
        **{name: role_cols[name] for name in SNAPSHOT_ROLE_COLUMNS},
        "adversary": np.repeat(np.array([rs.adversary for rs in live], dtype=bool), sizes),
        **{f"{name}_tokens": getattr(led, name)[acct] for name in SNAPSHOT_LEDGER_COLUMNS},
        **{name: role_cols[name] for name in SNAPSHOT_OUTCOME_COLUMNS},
        **{name: getattr(reg, name)[acct] for name in SNAPSHOT_REGISTRY_COLUMNS},
    }
    return pd.DataFrame(data)
