"""Model builders: train a model on a datanet's accepted points on their own cadence,
sell inferences at a price, stake tokens, and earn the builder share β of fees.

Builders go where the users are (DESIGN.md, "The world model"): each pays a compute cost
(USD per epoch) and keeps moving averages of its fee income and that cost; it leaves when
income falls below a fraction of cost, and newcomers enter a datanet while one more builder
would earn well above its cost there (:meth:`BuilderSet.churn_by_datanet`).

Builders are few (a handful per datanet), so their models are kept as a list of fitted
objects; everything per *point* or per *query* stays vectorised inside the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import mesa
import numpy as np

from ledgerlab.agents.base import AccountRegistry, RoleSet

if TYPE_CHECKING:
    from ledgerlab.scenarios.schema import BuilderChurn, Population


@dataclass(frozen=True)
class BuilderMoves:
    """One epoch of builders entering and leaving.

    Attributes:
        left: Builders who left (builders).
        joined: Builders who entered (builders).
    """

    left: int = 0
    joined: int = 0


class BuilderSet(RoleSet):
    """Builders. Columns: ``datanet`` (index), ``retrain_every_epochs`` (epochs),
    ``retrain_offset`` (epochs), ``price_factor`` (multiplier on the datanet's fee,
    dimensionless), ``accuracy`` (clean held-out accuracy of the current model, fraction),
    ``attack_success`` (backdoor success of the current model, fraction),
    ``trained_epoch`` (epoch of the last retrain, -1 never), ``train_points`` (points in
    the last training set), ``fees_tokens`` (cumulative builder share of fees, tokens).
    """

    role: ClassVar[str] = "builders"
    adversary: ClassVar[bool] = False
    extra_columns: ClassVar[dict[str, object]] = {
        "datanet": np.int64,
        "retrain_every_epochs": np.int64,
        "retrain_offset": np.int64,
        "price_factor": np.float64,
        "accuracy": np.float64,
        "attack_success": np.float64,
        "trained_epoch": np.int64,
        "train_points": np.int64,
        "fees_tokens": np.float64,
    }

    def __init__(
        self,
        model: mesa.Model,
        accounts: AccountRegistry,
        population: Population,
        retrain_every_epochs: Sequence[int],
    ) -> None:
        super().__init__(model, accounts)
        self.params = population
        self.retrain_every_epochs = tuple(retrain_every_epochs)
        """Retraining cadence of each datanet's builders, one per datanet (epochs)."""
        self.models: list[Any] = []

    def populate(self, rng: np.random.Generator) -> None:
        """Builders spread round-robin over datanets, with staggered retrain phases and
        prices within ±20 % of the datanet's list price."""
        n = self.params.builders
        if n == 0:
            return
        self.spawn_in(np.arange(n) % len(self.retrain_every_epochs), rng)
        self.founders = n

    def spawn_in(self, datanets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One new builder in each of ``datanets`` (indices), untrained (it trains in the
        next train phase), with a random retrain phase and a price within ±20 % of the
        datanet's list price. Returns their rows."""
        n = int(datanets.size)
        every = np.array([self.retrain_every_epochs[d] for d in datanets], dtype=np.int64)
        rows = self.add(
            n,
            datanet=datanets,
            retrain_every_epochs=every,
            retrain_offset=rng.integers(0, np.maximum(every, 1)),
            price_factor=rng.uniform(0.8, 1.2, size=n),
            accuracy=0.0,
            trained_epoch=-1,
        )
        self.models.extend([None] * n)
        return rows

    def churn_by_datanet(
        self,
        rule: BuilderChurn,
        income_usd: np.ndarray,
        compute_cost_usd: float,
        rng: np.random.Generator,
    ) -> BuilderMoves:
        """Book this epoch's fee income and compute cost, then let builders leave and enter
        (see the module docstring and ``population.builder_churn``).

        Args:
            rule: The scenario's ``population.builder_churn``.
            income_usd: Each builder row's fee income this epoch (USD).
            compute_cost_usd: Each active builder's compute cost per epoch (USD/epoch).
            rng: The gravity stream (newcomers' number and parameters).
        """
        if not rule.enabled or len(self) == 0:
            return BuilderMoves()
        cols = self.cols
        epoch = self.accounts.epoch
        act = cols.active
        alpha = 1.0 / rule.lookback_epochs
        cols.income_ema_usd[act] += alpha * (income_usd[act] - cols.income_ema_usd[act])
        cols.cost_ema_usd[act] += alpha * (compute_cost_usd - cols.cost_ema_usd[act])
        cols.income_usd[:] += income_usd
        cols.cost_usd[act] += compute_cost_usd
        cols.first_cost_epoch[act & (cols.first_cost_epoch < 0)] = epoch
        mature = act & (epoch - cols.first_cost_epoch >= rule.lookback_epochs)
        leave = mature & (self.return_ratio() < rule.exit_below_income_to_cost)
        if leave.any():
            cols.active[leave] = False
            cols.left_epoch[leave] = epoch
            self.on_leave(np.flatnonzero(leave))
        n_left = int(np.count_nonzero(leave))
        self.left_total += n_left
        entering = self.entrants(rule, compute_cost_usd, rng)
        if entering.size:
            self.spawn_in(entering, rng)
        self.joined_total += int(entering.size)
        return BuilderMoves(left=n_left, joined=int(entering.size))

    def entrants(
        self, rule: BuilderChurn, compute_cost_usd: float, rng: np.random.Generator
    ) -> np.ndarray:
        """Datanet of each newcomer this epoch (indices, sorted): in each datanet where the
        mature active builders' mean income, split over one more builder, exceeds
        ``enter_above_income_to_cost`` × the compute cost, Poisson(``entry_rate_per_epoch``)
        newcomers, up to ``max_per_datanet`` active builders there."""
        cols = self.cols
        n_dn = len(self.retrain_every_epochs)
        epoch = self.accounts.epoch
        mature = cols.active & (epoch - cols.first_cost_epoch >= rule.lookback_epochs)
        active_n = np.bincount(cols.datanet[cols.active], minlength=n_dn)
        income = np.bincount(cols.datanet[mature], cols.income_ema_usd[mature], minlength=n_dn)
        mature_n = np.bincount(cols.datanet[mature], minlength=n_dn)
        # Income the datanet's builders earn in all, per mature builder scaled to the active
        # ones, shared with one more builder.
        with np.errstate(divide="ignore", invalid="ignore"):
            total = np.where(mature_n > 0, income / mature_n * active_n, 0.0)
        per_newcomer = total / (active_n + 1)
        pays = (mature_n > 0) & (per_newcomer > rule.enter_above_income_to_cost * compute_cost_usd)
        room = np.maximum(rule.max_per_datanet - active_n, 0)
        n_new = np.minimum(rng.poisson(rule.entry_rate_per_epoch, size=n_dn), room) * pays
        return np.repeat(np.arange(n_dn, dtype=np.int64), n_new)

    def on_leave(self, rows: np.ndarray) -> None:
        """A leaving builder unstakes what it staked on its model and stops selling."""
        led = self.accounts.ledger
        acct = self.cols.account[rows]
        staked = led.staked[acct]
        if np.any(staked > 0):
            led.unstake_many(acct[staked > 0], staked[staked > 0])

    def due(self, epoch: int) -> np.ndarray:
        """Rows that retrain this epoch (never-trained builders always do)."""
        cols = self.cols
        due = (cols.trained_epoch < 0) | (
            (epoch - cols.retrain_offset) % np.maximum(cols.retrain_every_epochs, 1) == 0
        )
        return np.flatnonzero(due & cols.active)
