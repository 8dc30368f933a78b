"""Per-datanet simulation state: the task, the accepted points, the held-out sets and the
engine's values that live beside the points.

What changes every epoch (fees, retrieval credit) is not here but in the epoch's flows
(``sim.flows.DatanetFees``); what persists across epochs (the store, the engine's latest
valuation and its epoch) is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ledgerlab.economics.learning import KNNClassifier
from ledgerlab.scenarios.schema import Datanet as DatanetSpec
from ledgerlab.sim.datanet import Datanet, GaussianMixtureTask, TaskSpec


@dataclass
class DatanetState:
    """Everything the simulation keeps about one datanet.

    Attributes:
        spec: The scenario's datanet section.
        task: The Gaussian-mixture generator (the truth no agent sees).
        store: Accepted points (growing columns).
        x_val, y_val: Clean held-out set measuring model quality (points).
        x_gt, y_gt: Large clean set for ground-truth KNN-Shapley (points).
        values: Latest engine value per stored point (0 for points added since), aligned
            with ``store`` rows.
        valued_epoch: Epoch of the last engine valuation (-1 never).
    """

    spec: DatanetSpec
    task: GaussianMixtureTask
    store: Datanet
    x_val: np.ndarray
    y_val: np.ndarray
    x_gt: np.ndarray
    y_gt: np.ndarray
    values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    valued_epoch: int = -1
    _honest_model_epoch: int = -1
    honest_only_accuracy: float = float("nan")

    @classmethod
    def create(cls, spec: DatanetSpec, rng: np.random.Generator) -> DatanetState:
        """Draw the task and its held-out sets from ``rng``."""
        task = GaussianMixtureTask(
            TaskSpec(
                n_classes=spec.n_classes,
                n_features=spec.n_features,
                class_separation=spec.class_separation,
            ),
            rng,
        )
        x_val, y_val = task.sample(spec.validation_points, rng)
        x_gt, y_gt = task.sample(spec.ground_truth_points, rng)
        return cls(
            spec=spec,
            task=task,
            store=Datanet(spec.name, spec.n_features, capacity=max(1024, spec.seed_points)),
            x_val=x_val,
            y_val=y_val,
            x_gt=x_gt,
            y_gt=y_gt,
        )

    def sync_columns(self) -> None:
        """Grow the per-point values to the store's size (new points start at zero)."""
        n = self.store.size
        if self.values.shape[0] < n:
            grown = np.zeros(max(n, 2 * self.values.shape[0]))
            grown[: self.values.shape[0]] = self.values
            self.values = grown

    def training_rows(self, before: int | None = None) -> np.ndarray:
        """Rows a model trains on and attribution values: the active points, restricted to
        the most recent ``window_points`` if the scenario sets a window. With ``before``, the
        window as it was before row ``before`` was stored (the rows before it)."""
        rows = self.store.accepted()
        if before is not None:
            rows = rows[: np.searchsorted(rows, before)]
        window = self.spec.window_points
        if window and rows.size > window:
            rows = rows[-window:]
        return rows

    def honest_only_accuracy_at(self, epoch: int, k: int, honest_owner: np.ndarray) -> float:
        """Clean accuracy of a kNN trained only on honest contributors' points (and the
        seed data): the counterfactual the resilience metrics compare with. Cached per
        epoch."""
        if self._honest_model_epoch == epoch:
            return self.honest_only_accuracy
        rows = self.training_rows()
        rows = rows[honest_owner[self.store.owner[rows]]]
        if rows.size == 0:
            acc = float("nan")
        else:
            model = KNNClassifier(k=k).fit(
                self.store.x[rows], self.store.y[rows], n_classes=self.spec.n_classes
            )
            acc = float(np.mean(model.predict(self.x_val) == self.y_val))
        self.honest_only_accuracy = acc
        self._honest_model_epoch = epoch
        return acc
