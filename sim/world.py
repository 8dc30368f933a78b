"""Per-datanet simulation state: the task, the accepted points, the held-out sets and the
engine's values that live beside the points.

What changes every epoch (fees, retrieval credit) is not here but in the epoch's flows
(``sim.flows.DatanetFees``); what persists across epochs (the store, the engine's latest
valuation and its epoch) is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ledgerlab.scenarios.schema import Datanet as DatanetSpec
from ledgerlab.sim.datanet import Datanet, Task, build_task


@dataclass
class DatanetState:
    """Everything the simulation keeps about one datanet.

    Attributes:
        spec: The scenario's datanet section.
        task: The task's generator (the truth no agent sees; ``sim.datanet.build_task``).
        store: Accepted points (growing columns).
        x_val, y_val: Clean held-out set measuring model quality (points).
        x_gt, y_gt: Large clean set for ground-truth KNN-Shapley (points).
        values: Latest engine value per stored point (0 for points added since), aligned
            with ``store`` rows.
        valued_epoch: Epoch of the last engine valuation (-1 never).
    """

    spec: DatanetSpec
    task: Task
    store: Datanet
    x_val: np.ndarray
    y_val: np.ndarray
    x_gt: np.ndarray
    y_gt: np.ndarray
    values: np.ndarray = field(default_factory=lambda: np.zeros(0))
    valued_epoch: int = -1

    @classmethod
    def create(cls, spec: DatanetSpec, rng: np.random.Generator) -> DatanetState:
        """Draw the task and its held-out sets (of the eventual distribution) from ``rng``."""
        task, x_val, y_val, x_gt, y_gt = build_task(spec, rng)
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
