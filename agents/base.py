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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import mesa
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ledgerlab.sim.model import EconomyModel


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
    """When individuals of a role leave and how many newcomers join.

    Attributes:
        enabled: Whether churn runs at all.
        ema_epochs: Horizon of the income/cost moving average (epochs).
        min_age_epochs: Individuals that have been paying costs for less than this never
            leave; newcomers count towards entry only after this age (epochs).
        exit_ratio: Leave when EMA income / EMA cost falls below this (dimensionless).
        entry_rate: Expected newcomers per epoch per founding individual at a mean
            income/cost ratio of 2; scales linearly with (ratio - 1), zero at or below 1
            (individuals per individual per epoch).
        max_population: Hard ceiling on active individuals of this role (individuals).
    """

    enabled: bool = True
    ema_epochs: float = 30.0
    min_age_epochs: int = 30
    exit_ratio: float = 0.8
    entry_rate: float = 0.002
    max_population: int = 1_000_000


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
"""Role codes: ``ROLE_NAMES.index(role)`` is stored per ledger account by the model."""

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
    ledger accounts and registers them with the model's account registry.
    """

    role: ClassVar[str] = "role"
    adversary: ClassVar[bool] = False
    extra_columns: ClassVar[dict[str, Any]] = {}

    def __init__(self, model: EconomyModel, churn: ChurnRule | None = None) -> None:
        super().__init__(model)
        self.churn_rule = churn or ChurnRule(enabled=False)
        self.cols = ColumnStore({**BASE_COLUMNS, **self.extra_columns})
        self.founders = 0
        self.joined_total = 0
        self.left_total = 0

    # -- membership -----------------------------------------------------------------
    @property
    def model_(self) -> EconomyModel:
        """The owning model, typed."""
        return self.model  # type: ignore[return-value]

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
        model = self.model_
        accounts = model.register_accounts(n, role=self.role, adversary=self.adversary)
        rows = self.cols.append(
            n,
            account=accounts,
            active=True,
            joined_epoch=model.epoch,
            left_epoch=-1,
            first_cost_epoch=-1,
            **values,
        )
        self.registry_rows(accounts, rows)
        return rows

    def registry_rows(self, accounts: np.ndarray, rows: np.ndarray) -> None:
        """Record which row of this role set owns each account."""
        self.model_.account_row[accounts] = rows

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
        cols.first_cost_epoch[starts] = self.model_.epoch

    def return_ratio(self) -> np.ndarray:
        """EMA income / EMA cost per row (inf where cost is zero and income positive)."""
        cols = self.cols
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf: see above
            ratio = cols.income_ema_usd / cols.cost_ema_usd
        ratio[(cols.cost_ema_usd <= 0) & (cols.income_ema_usd <= 0)] = 1.0
        return ratio

    # -- churn ----------------------------------------------------------------------
    def churn(self, rng: np.random.Generator) -> tuple[int, int]:
        """Apply the role's churn rule. Returns (left, joined) this epoch."""
        rule = self.churn_rule
        if not rule.enabled or len(self.cols) == 0:
            return 0, 0
        model = self.model_
        cols = self.cols
        ratio = self.return_ratio()
        age = model.epoch - cols.joined_epoch
        # Judged only once an individual has been paying costs for ``min_age_epochs``:
        # costs arrive with a submission, rewards for it only later.
        in_business = np.where(cols.first_cost_epoch >= 0, model.epoch - cols.first_cost_epoch, -1)
        leave = cols.active & (in_business >= rule.min_age_epochs) & (ratio < rule.exit_ratio)
        n_leave = int(np.count_nonzero(leave))
        if n_leave:
            cols.active[leave] = False
            cols.left_epoch[leave] = model.epoch
            self.on_leave(np.flatnonzero(leave))
        self.left_total += n_leave
        # Newcomers follow the role's mean return among mature active individuals.
        mature = cols.active & (age >= rule.min_age_epochs)
        n_joined = 0
        if np.any(mature):
            mean_ratio = float(np.mean(np.minimum(ratio[mature], 10.0)))
            lam = rule.entry_rate * self.founders * max(0.0, mean_ratio - 1.0)
            room = rule.max_population - self.n_active
            n_joined = int(min(rng.poisson(lam), max(room, 0)))
            if n_joined:
                self.spawn(n_joined, rng)
        self.joined_total += n_joined
        return n_leave, n_joined

    def on_leave(self, rows: np.ndarray) -> None:
        """Hook: release whatever leaving individuals hold (bonds, stakes)."""

    def spawn(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Create ``n`` newcomers with the role's parameter distribution."""
        return self.add(n)

    # -- outputs --------------------------------------------------------------------
    def snapshot(self) -> pd.DataFrame:
        """One row per individual: the role's columns plus ledger holdings (tokens)."""
        frame = self.cols.frame()
        ledger = self.model_.ledger
        acct = frame["account"].to_numpy()
        frame["balance_tokens"] = ledger.balance[acct]
        frame["staked_tokens"] = ledger.staked[acct]
        frame["bonded_tokens"] = ledger.bonded[acct]
        frame["locked_tokens"] = ledger.locked[acct]
        frame.insert(0, "role", self.role)
        frame["adversary"] = self.adversary
        return frame

    def step(self) -> None:
        """Role sets act through the model's phases, not through Mesa's step."""
