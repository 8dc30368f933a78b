"""Phase 3 — train: builders due this epoch retrain on their datanet's accepted points; clean
accuracy and backdoor success are measured on the held-out set no agent sees."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ledgerlab.agents.builders import BuilderSet
from ledgerlab.economics.learning import KNNClassifier, LogisticRegression, attack_success_rate
from ledgerlab.scenarios.schema import Poisoners
from ledgerlab.sim.world import DatanetState


@dataclass(frozen=True)
class Fit:
    """One datanet's model fitted on its training window, and how good it is.

    Attributes:
        model: The fitted model (kNN or logistic regression).
        knn: Its kNN index (fitted for every model kind: retrieval needs it).
        rows: The store rows it was trained on.
        accuracy: Clean held-out accuracy (fraction).
        attack_success: Backdoor success on triggered held-out points (fraction; NaN when
            no backdoor is configured).
    """

    model: Any
    knn: KNNClassifier
    rows: np.ndarray
    accuracy: float
    attack_success: float


def retrain(
    epoch: int, builders: BuilderSet, datanets: list[DatanetState], poisoners: Poisoners
) -> None:
    """Builders due this epoch refit their datanet's model. Builders of one datanet due
    together train on the same window, so they share one fit (builders are few: a Python
    loop over them is cheap; everything per point stays vectorised in the models)."""
    b = builders
    measure_backdoor = poisoners.backdoor > 0
    fitted: dict[int, Fit | None] = {}
    for row in b.due(epoch):
        d = int(b.cols.datanet[row])
        if d not in fitted:
            fitted[d] = fit_model(datanets[d], poisoners if measure_backdoor else None)
        fit = fitted[d]
        if fit is None:
            continue
        b.models[row] = (fit.model, fit.knn, fit.rows)
        b.cols.accuracy[row] = fit.accuracy
        b.cols.attack_success[row] = fit.attack_success
        b.cols.trained_epoch[row] = epoch
        b.cols.train_points[row] = fit.rows.size


def fit_model(state: DatanetState, backdoor: Poisoners | None) -> Fit | None:
    """Fit the datanet's model on its accepted training window and measure it on the
    held-out set (backdoor success too when ``backdoor`` gives the trigger). None if the
    datanet has no training point."""
    rows = state.training_rows()
    if rows.size == 0:
        return None
    spec = state.spec
    x, y = state.store.x[rows], state.store.y[rows]
    knn = KNNClassifier(k=spec.k).fit(x, y, n_classes=spec.n_classes)
    model: Any = knn
    if spec.model == "logistic":
        model = LogisticRegression().fit(x, y, n_classes=spec.n_classes)
    accuracy = float(np.mean(model.predict(state.x_val) == state.y_val))
    attack = np.nan
    if backdoor is not None:
        attack = attack_success_rate(
            model,
            state.x_val,
            state.y_val,
            backdoor.backdoor_trigger_features,
            backdoor.backdoor_trigger_value,
            backdoor.backdoor_target_class,
        )
    return Fit(model, knn, rows, accuracy, attack)


def quality(builders: BuilderSet, measure_backdoor: bool) -> tuple[float, float]:
    """Mean clean accuracy and mean backdoor success of the trained models (NaN before any
    model is trained; backdoor success NaN when no backdoor is configured)."""
    cols = builders.cols
    trained = cols.trained_epoch >= 0
    if not trained.any():
        return np.nan, np.nan
    accuracy = float(np.mean(cols.accuracy[trained]))
    attack = float(np.nanmean(cols.attack_success[trained])) if measure_backdoor else np.nan
    return accuracy, attack
