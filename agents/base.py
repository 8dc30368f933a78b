"""Array-backed role sets: one Mesa agent standing for many individuals.

A Mesa agent-step costs about a microsecond of pure overhead, while the same update
over numpy arrays is 50-5,000x cheaper (DESIGN.md, "Performance model"). So each role
is one :class:`RoleSet` (a ``mesa.Agent``) whose individuals are rows of numpy
columns. Rows are never deleted: an individual that leaves is marked inactive, so row
indices, ledger account ids and snapshots stay stable for the whole run.

Every role set shares the churn rule in :meth:`RoleSet.churn`: an individual keeps an
exponential moving average of its income and cost (USD per epoch); it leaves when the
ratio income / cost falls below the role's exit threshold after a minimum age, and
newcomers arrive as a Poisson number driven by how profitable the role has been.

Role sets act on what they are given, never on the whole model: the account registry
(:class:`AccountRegistry`: opening accounts, funding transfers, the ledger and the epoch)
and, for those that trade, the market (:class:`TokenMarket`). The simulation
(``sim.accounts``, ``sim.exchange``) implements both; the ``mesa.Model`` a role set is
created with is only its Mesa home.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import mesa
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ledgerlab.economics.ledger import Ledger


class AccountRegistry(Protocol):
    """What role sets need of the simulation's account registry (``sim.accounts.Accounts``)."""

    @property
    def ledger(self) -> Ledger:
        """The ledger the accounts live on."""
        ...

    @property
    def epoch(self) -> int:
        """The current epoch (epochs)."""
        ...

    def register(self, n: int, *, role: str, adversary: bool, rows: np.ndarray) -> np.ndarray:
        """Open ``n`` accounts for individuals of ``role`` at ``rows`` of its role set."""
        ...

    def fund(self, src: int, dst: np.ndarray, amount_each_tokens: float) -> None:
        """Transfer ``amount_each_tokens`` from ``src`` to each of ``dst`` (funding edges)."""
        ...

    def affordable_each(self, account: int, n: int, want_tokens: float) -> float:
        """What each of ``n`` equal transfers from ``account`` can carry (tokens)."""
        ...


class TokenMarket(Protocol):
    """What trading role sets need of the market (``sim.exchange.Exchange``)."""

    def buy_tokens_for(self, accounts: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Buy ``tokens`` for each of ``accounts`` in one swap; returns the USD each paid."""
        ...


class ColumnStore:
    """Growable, named numpy columns with O(1) amortised append (capacity doubles).

    ``store.col`` returns a view of the first ``len(store)`` rows; writing into the view
    writes into the store.
    """

    def __init__(self, schema: Mapping[str, Any], capacity: int = 64) -> None:
        self._schema = {name: np.dtype(dt) for name, dt in schema.items()}
        self._capacity = max(int(capacity), 1)
        self._n = 0
        self._data = {name: np.zeros(self._capacity, dtype=dt) for name, dt in self._schema.items()}

    def __len__(self) -> int:
        return self._n

    def __getattr__(self, name: str) -> np.ndarray:
        data = self.__dict__.get("_data")
        if data is not None and name in data:
            return data[name][: self._n]
        raise AttributeError(name)

    @property
    def names(self) -> tuple[str, ...]:
        """Column names, in schema order."""
        return tuple(self._schema)

    def append(self, n: int, **values: Any) -> np.ndarray:
        """Append ``n`` rows; unspecified columns are zero. Returns the new row indices."""
        n = int(n)
        unknown = set(values) - set(self._schema)
        if unknown:
            raise KeyError(f"ColumnStore.append: unknown columns {sorted(unknown)}")
        need = self._n + n
        if need > self._capacity:
            cap = self._capacity
            while cap < need:
                cap *= 2
            for name, arr in self._data.items():
                grown = np.zeros(cap, dtype=arr.dtype)
                grown[: self._n] = arr[: self._n]
                self._data[name] = grown
            self._capacity = cap
        rows = np.arange(self._n, need, dtype=np.int64)
        for name, value in values.items():
            self._data[name][self._n : need] = value
        self._n = need
        return rows

    def frame(self) -> pd.DataFrame:
        """A copy of all rows as a DataFrame."""
        return pd.DataFrame({name: getattr(self, name).copy() for name in self._schema})


@dataclass(frozen=True)
class ChurnRule:
    """When individuals of a role leave and how many newcomers join: the scenario's
    ``population.churn`` section, by the same names (``ChurnRule(**churn.model_dump())``).

    Attributes:
        enabled: Whether churn runs at all.
        lookback_epochs: Horizon of the income/cost moving average; individuals that have
            been paying costs for less than this never leave, and newcomers count towards
            entry only after this age (epochs).
        exit_below_return_on_cost: Leave when (EMA income − EMA cost) / EMA cost falls below
            this (dimensionless; −0.5 = lost half of what was spent).
        entry_rate_per_epoch: Expected newcomers per epoch per founding individual at a
            mean income/cost ratio of 2; scales linearly with (ratio − 1), zero at or
            below 1 (individuals per individual per epoch).
        max_population: Hard ceiling on active individuals of this role (individuals).
    """

    enabled: bool = True
    lookback_epochs: int = 30
    exit_below_return_on_cost: float = -0.2
    entry_rate_per_epoch: float = 0.002
    max_population: int = 1_000_000

    @property
    def ema_epochs(self) -> float:
        """Horizon of the income/cost moving averages (epochs)."""
        return float(self.lookback_epochs)

    @property
    def exit_ratio(self) -> float:
        """EMA income / EMA cost below which an individual leaves (dimensionless)."""
        return 1.0 + self.exit_below_return_on_cost


@dataclass(frozen=True)
class Churned:
    """What one epoch's churn did to a role set.

    Attributes:
        left: Individuals who left (individuals).
        joined: Newcomers who joined: the rows created (individuals).
        new_rows: Rows of the newcomers the role set created.
    """

    left: int = 0
    joined: int = 0
    new_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


ROLE_NAMES = (
    "protocol",
    "holders",
    "providers",
    "builders",
    "consumers",
    "validators",
    "farmers",
    "wash",
    "poisoners",
)
"""Role codes: ``ROLE_NAMES.index(role)`` is stored per ledger account by the account
registry (``sim.accounts``)."""

# Standard columns every role set carries, keyed by row.
BASE_COLUMNS: dict[str, Any] = {
    "account": np.int64,  # ledger account id
    "active": np.bool_,
    "joined_epoch": np.int64,
    "left_epoch": np.int64,  # -1 while active
    "income_ema_usd": np.float64,  # EMA of income per epoch (USD)
    "cost_ema_usd": np.float64,  # EMA of cost per epoch (USD)
    "reward_tokens": np.float64,  # cumulative attribution + emission rewards (tokens)
    "income_usd": np.float64,  # cumulative income valued at the epoch price (USD)
    "cost_usd": np.float64,  # cumulative cost (USD)
    "first_cost_epoch": np.int64,  # epoch of the first cost (-1 none yet)
}


class RoleSet(mesa.Agent):
    """A Mesa agent standing for a set of individuals of one role.

    Subclasses set ``role`` (a short name used in outputs), ``adversary`` (whether its
    individuals count as adversaries in the fairness metrics), and add their own columns
    through ``extra_columns``. Individuals are added with :meth:`add`, which opens their
    ledger accounts in the account registry the role set was given.

    Args:
        model: The Mesa model the role set belongs to (its Mesa home only).
        accounts: The account registry its individuals' accounts are opened in.
        churn: The role's churn rule (default: no churn).
    """

    role: ClassVar[str] = "role"
    adversary: ClassVar[bool] = False
    extra_columns: ClassVar[dict[str, Any]] = {}

    def __init__(
        self, model: mesa.Model, accounts: AccountRegistry, churn: ChurnRule | None = None
    ) -> None:
        super().__init__(model)
        self.accounts = accounts
        self.churn_rule = churn or ChurnRule(enabled=False)
        self.cols = ColumnStore({**BASE_COLUMNS, **self.extra_columns})
        self.founders = 0
        self.joined_total = 0
        self.left_total = 0

    # -- membership -----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.cols)

    @property
    def n_active(self) -> int:
        """Number of individuals currently active."""
        return int(np.count_nonzero(self.cols.active))

    def active_rows(self) -> np.ndarray:
        """Row indices of active individuals."""
        return np.flatnonzero(self.cols.active)

    def add(self, n: int, **values: Any) -> np.ndarray:
        """Add ``n`` individuals (rows); opens their ledger accounts. Returns the rows."""
        if n <= 0:
            return np.empty(0, dtype=np.int64)
        first = len(self.cols)
        accounts = self.accounts.register(
            n, role=self.role, adversary=self.adversary, rows=np.arange(first, first + n)
        )
        return self.cols.append(
            n,
            account=accounts,
            active=True,
            joined_epoch=self.accounts.epoch,
            left_epoch=-1,
            first_cost_epoch=-1,
            **values,
        )

    # -- income bookkeeping ---------------------------------------------------------
    def record_income(self, rows: np.ndarray, income_usd: np.ndarray, cost_usd: np.ndarray) -> None:
        """Add this epoch's income and cost (USD) of ``rows`` and update their EMAs.

        Rows not named earn and spend nothing this epoch; their EMAs decay too, so an
        individual that stops earning eventually leaves.
        """
        cols = self.cols
        n = len(cols)
        inc = np.bincount(rows, weights=np.broadcast_to(income_usd, rows.shape), minlength=n)
        cost = np.bincount(rows, weights=np.broadcast_to(cost_usd, rows.shape), minlength=n)
        alpha = 1.0 / max(self.churn_rule.ema_epochs, 1.0)
        act = cols.active
        cols.income_ema_usd[act] += alpha * (inc[act] - cols.income_ema_usd[act])
        cols.cost_ema_usd[act] += alpha * (cost[act] - cols.cost_ema_usd[act])
        cols.income_usd[:] += inc
        cols.cost_usd[:] += cost
        starts = (cost > 0) & (cols.first_cost_epoch < 0)
        cols.first_cost_epoch[starts] = self.accounts.epoch

    def return_ratio(self) -> np.ndarray:
        """EMA income / EMA cost per row (inf where cost is zero and income positive)."""
        cols = self.cols
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf: see above
            ratio = cols.income_ema_usd / cols.cost_ema_usd
        ratio[(cols.cost_ema_usd <= 0) & (cols.income_ema_usd <= 0)] = 1.0
        return ratio

    # -- churn ----------------------------------------------------------------------
    def churn(self, rng: np.random.Generator) -> Churned:
        """Apply the role's churn rule: who leaves, how many newcomers join."""
        rule = self.churn_rule
        if not rule.enabled or len(self.cols) == 0:
            return Churned()
        epoch = self.accounts.epoch
        cols = self.cols
        ratio = self.return_ratio()
        age = epoch - cols.joined_epoch
        # Judged only once an individual has been paying costs for ``lookback_epochs``:
        # costs arrive with a submission, rewards for it only later.
        in_business = np.where(cols.first_cost_epoch >= 0, epoch - cols.first_cost_epoch, -1)
        leave = cols.active & (in_business >= rule.lookback_epochs) & (ratio < rule.exit_ratio)
        n_leave = int(np.count_nonzero(leave))
        if n_leave:
            cols.active[leave] = False
            cols.left_epoch[leave] = epoch
            self.on_leave(np.flatnonzero(leave))
        self.left_total += n_leave
        # Newcomers follow the role's mean return among mature active individuals.
        mature = cols.active & (age >= rule.lookback_epochs)
        n_joined = 0
        new_rows = np.empty(0, dtype=np.int64)
        if np.any(mature):
            mean_ratio = float(np.mean(np.minimum(ratio[mature], 10.0)))
            lam = rule.entry_rate_per_epoch * self.founders * max(0.0, mean_ratio - 1.0)
            room = rule.max_population - self.n_active
            n_drawn = int(min(rng.poisson(lam), max(room, 0)))
            if n_drawn:
                # A role may create fewer than drawn (no plain founder to copy): count those made.
                new_rows = self.spawn(n_drawn, rng)
                n_joined = int(new_rows.size)
        self.joined_total += n_joined
        return Churned(left=n_leave, joined=n_joined, new_rows=new_rows)

    def on_leave(self, rows: np.ndarray) -> None:
        """Hook: release whatever leaving individuals hold (bonds, stakes)."""

    def spawn(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Create ``n`` newcomers with the role's parameter distribution."""
        return self.add(n)

    # -- outputs --------------------------------------------------------------------
    def snapshot(self) -> pd.DataFrame:
        """One row per individual: the role's columns plus ledger holdings (tokens)."""
        frame = self.cols.frame()
        ledger = self.accounts.ledger
        acct = frame["account"].to_numpy()
        frame["balance_tokens"] = ledger.balance[acct]
        frame["staked_tokens"] = ledger.staked[acct]
        frame["bonded_tokens"] = ledger.bonded[acct]
        frame["locked_tokens"] = ledger.locked[acct]
        frame.insert(0, "role", self.role)
        frame["adversary"] = self.adversary
        return frame

    def step(self) -> None:
        """Role sets act through the epoch's phases (``sim.phases``), not Mesa's step."""
