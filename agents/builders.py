"""Model builders: train a model on a datanet's accepted points on their own cadence,
sell inferences at a price, stake tokens, and earn the builder share β of fees.

Builders are few (a handful per datanet), so their models are kept as a list of fitted
objects; everything per *point* or per *query* stays vectorised inside the models.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import mesa
import numpy as np

from ledgerlab.agents.base import AccountRegistry, RoleSet

if TYPE_CHECKING:
    from ledgerlab.scenarios.schema import Population


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
        dn = np.arange(n) % len(self.retrain_every_epochs)
        every = np.array([self.retrain_every_epochs[d] for d in dn], dtype=np.int64)
        self.add(
            n,
            datanet=dn,
            retrain_every_epochs=every,
            retrain_offset=rng.integers(0, np.maximum(every, 1)),
            price_factor=rng.uniform(0.8, 1.2, size=n),
            accuracy=0.0,
            trained_epoch=-1,
        )
        self.models = [None] * n
        self.founders = n

    def due(self, epoch: int) -> np.ndarray:
        """Rows that retrain this epoch (never-trained builders always do)."""
        cols = self.cols
        due = (cols.trained_epoch < 0) | (
            (epoch - cols.retrain_offset) % np.maximum(cols.retrain_every_epochs, 1) == 0
        )
        return np.flatnonzero(due & cols.active)
