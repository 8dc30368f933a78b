"""Phase 3 — train: builders due this epoch retrain on their datanet's accepted points; clean
accuracy and backdoor success are measured on the held-out set no agent sees.

A kNN model's held-out accuracy is a vote over the K nearest training points of each
held-out point. :class:`HeldOutNeighbours` keeps those per datanet up to date as the
training window changes (``economics.learning.KNearestTable``: work once per change)
instead of querying each new model's tree with the whole held-out set; where a held-out
point's K nearest are not unique (equal distances at or inside the K-th, e.g. duplicated
points) the model's own tree answers, so the predictions are the model's, bit for bit.
Backdoor success is a vote over the nearest points of the triggered held-out points, kept
the same way (:meth:`HeldOutNeighbours.attack_success`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ledgerlab.agents.builders import BuilderSet
from ledgerlab.economics.learning import (
    KNearestTable,
    KNNClassifier,
    LogisticRegression,
    attack_success_rate,
    triggered_points,
)
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


NEAR_TIE_RTOL = 1e-9
"""Relative distance difference under which two neighbours count as tied (the table's and
the tree's distances may differ in the last bits)."""


@dataclass
class HeldOutNeighbours:
    """Per datanet, the nearest training-window points of each held-out point, kept up to
    date between fits (see the module docstring); with a backdoor, the same for the
    triggered held-out points that backdoor success is measured on.

    Attributes:
        tables: Per datanet index: the held-out features the table was built for (a new
            array, e.g. after concept drift, starts a new table) and the table.
        triggered: Per datanet index: the held-out features and labels the triggered set
            was made from, the triggered points (held-out points not of the target class,
            with the trigger applied) and their table.
    """

    tables: dict[int, tuple[np.ndarray, KNearestTable]] = field(default_factory=dict)
    triggered: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, KNearestTable]] = field(
        default_factory=dict
    )

    def predict(
        self, d: int, state: DatanetState, rows: np.ndarray, knn: KNNClassifier
    ) -> np.ndarray:
        """The predictions on ``state.x_val`` of ``knn``, fitted on store rows ``rows``
        (ascending), equal to ``knn.predict(state.x_val)``."""
        entry = self.tables.get(d)
        if entry is None or entry[0] is not state.x_val or entry[1].k != knn.k:
            entry = (state.x_val, KNearestTable(state.x_val, knn.k))
            self.tables[d] = entry
        return _predict(entry[1], state.x_val, state, rows, knn)

    def attack_success(
        self, d: int, state: DatanetState, rows: np.ndarray, knn: KNNClassifier, p: Poisoners
    ) -> float:
        """Backdoor success of ``knn`` (fitted on store rows ``rows``, ascending) on the
        trigger of ``p``: ``attack_success_rate(knn, state.x_val, state.y_val, ...)``, bit
        for bit, with the triggered points' neighbours kept up to date between fits as the
        clean ones are (a fresh query of every model's tree cost a sizeable share of a run
        with backdoor poisoners)."""
        target = p.backdoor_target_class
        entry = self.triggered.get(d)
        if (
            entry is None
            or entry[0] is not state.x_val
            or entry[1] is not state.y_val
            or entry[3].k != knn.k
        ):
            trigger = (p.backdoor_trigger_features, p.backdoor_trigger_value, target)
            queries = triggered_points(state.x_val, state.y_val, *trigger)
            entry = (state.x_val, state.y_val, queries, KNearestTable(queries, knn.k))
            self.triggered[d] = entry
        predicted = _predict(entry[3], entry[2], state, rows, knn)
        return float(np.mean(predicted == int(target)))


def _predict(
    table: KNearestTable,
    queries: np.ndarray,
    state: DatanetState,
    rows: np.ndarray,
    knn: KNNClassifier,
) -> np.ndarray:
    """``knn.predict(queries)`` from ``table`` (the queries' neighbours), synced to the
    window ``rows`` first; queries whose K nearest are not unique ask the model's tree."""
    table.sync(rows, state.store.x)
    k_eff = min(knn.k, rows.size)
    if rows.size > k_eff:
        # points whose (K+1)-th nearest is not known exactly: learn it from all members
        # (a distance block for these few) rather than asking the model's tree
        unsure = np.flatnonzero(table.known <= k_eff)
        if unsure.size:
            table.recompute(unsure, state.store.x)
    dist, ids = table.dist[:, : k_eff + 1], table.ids[:, : k_eff + 1]
    x = state.store.x
    tied = np.zeros(dist.shape[0], dtype=bool)
    if k_eff > 1:  # order inside the K decides the tie-break between classes
        near = dist[:, 1:k_eff] - dist[:, : k_eff - 1] <= NEAR_TIE_RTOL * dist[:, 1:k_eff]
        pair = (ids[:, : k_eff - 1], ids[:, 1:k_eff], dist[:, : k_eff - 1], dist[:, 1:k_eff])
        tied |= _apart(near, pair, x).any(axis=1)
    if rows.size > k_eff:  # membership of the K: the (K+1)-th must be known and apart
        unsure = table.known <= k_eff
        gap = dist[:, k_eff] - dist[:, k_eff - 1] <= NEAR_TIE_RTOL * dist[:, k_eff]
        gap &= ~unsure
        pair = (ids[:, k_eff - 1], ids[:, k_eff], dist[:, k_eff - 1], dist[:, k_eff])
        tied |= unsure | _apart(gap, pair, x)
    ids = ids[:, :k_eff]
    pred = vote(state.store.y[ids], knn.n_classes)
    if tied.any():
        pred[tied] = knn.predict(queries[tied])
    return pred


def _apart(near: np.ndarray, pair: tuple[np.ndarray, ...], x: np.ndarray) -> np.ndarray:
    """``near`` (pairs of neighbours at nearly equal distances) less the pairs that are one
    point twice (a copy) at exactly the same distance in the table: the tree also finds
    them equally far, and both order such ties by id, so only distinct points (or a copy
    whose table distance came from another kernel) can be ordered differently by the two.
    ``pair`` = (first ids, second ids, first distances, second distances), shaped as
    ``near``."""
    out = near.copy()
    at = np.nonzero(near)
    if at[0].size:
        first, second, d_first, d_second = (a[at] for a in pair)
        copy = (d_first == d_second) & (x[first] == x[second]).all(axis=-1)
        out[at] = ~copy
    return out


def vote(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Majority label of each row of neighbour labels [Q, K] (nearest first); equal votes
    go to the class whose nearest member comes first: ``KNNClassifier.predict``'s rule."""
    q, k = labels.shape
    ranks = np.arange(k, dtype=np.int64)
    votes = np.zeros((q, n_classes), dtype=np.int64)
    first = np.full((q, n_classes), k, dtype=np.int64)
    for c in range(n_classes):  # a handful of classes; vectorised over rows
        hit = labels == c
        votes[:, c] = hit.sum(axis=1)
        first[:, c] = np.where(hit, ranks, k).min(axis=1, initial=k)
    return np.argmax(votes * (k + 1) + (k - first), axis=1).astype(np.int64)


def retrain(
    epoch: int,
    builders: BuilderSet,
    datanets: list[DatanetState],
    poisoners: Poisoners,
    held_out: HeldOutNeighbours | None = None,
) -> None:
    """Builders due this epoch refit their datanet's model. Builders of one datanet due
    together train on the same window, so they share one fit (builders are few: a Python
    loop over them is cheap; everything per point stays vectorised in the models).
    ``held_out`` keeps kNN models' held-out neighbours between fits (None: each model's
    tree answers the whole held-out set; the same results)."""
    b = builders
    measure_backdoor = poisoners.backdoor > 0
    fitted: dict[int, Fit | None] = {}
    for row in b.due(epoch):
        d = int(b.cols.datanet[row])
        if d not in fitted:
            backdoor = poisoners if measure_backdoor else None
            fitted[d] = fit_model(datanets[d], backdoor, held_out, d)
        fit = fitted[d]
        if fit is None:
            continue
        b.models[row] = (fit.model, fit.knn, fit.rows)
        b.cols.accuracy[row] = fit.accuracy
        b.cols.attack_success[row] = fit.attack_success
        b.cols.trained_epoch[row] = epoch
        b.cols.train_points[row] = fit.rows.size


def fit_model(
    state: DatanetState,
    backdoor: Poisoners | None,
    held_out: HeldOutNeighbours | None = None,
    d: int = 0,
) -> Fit | None:
    """Fit the datanet's model on its accepted training window and measure it on the
    held-out set (backdoor success too when ``backdoor`` gives the trigger); a kNN model's
    held-out predictions come from ``held_out`` (datanet index ``d``) when given. None if
    the datanet has no training point."""
    rows = state.training_rows()
    if rows.size == 0:
        return None
    spec = state.spec
    x, y = state.store.x[rows], state.store.y[rows]
    knn = KNNClassifier(k=spec.k).fit(x, y, n_classes=spec.n_classes)
    model: Any = knn
    if spec.model == "logistic":
        model = LogisticRegression().fit(x, y, n_classes=spec.n_classes)
    if held_out is not None and model is knn:
        predicted = held_out.predict(d, state, rows, knn)
    else:
        predicted = model.predict(state.x_val)
    accuracy = float(np.mean(predicted == state.y_val))
    attack = np.nan
    if backdoor is not None and held_out is not None and model is knn:
        attack = held_out.attack_success(d, state, rows, knn, backdoor)
    elif backdoor is not None:
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
    """Mean clean accuracy and mean backdoor success of the trained models of active
    builders (NaN before any model is trained or once every builder has left; backdoor
    success NaN when no backdoor is configured)."""
    cols = builders.cols
    trained = (cols.trained_epoch >= 0) & cols.active
    if not trained.any():
        return np.nan, np.nan
    accuracy = float(np.mean(cols.accuracy[trained]))
    attack = float(np.nanmean(cols.attack_success[trained])) if measure_backdoor else np.nan
    return accuracy, attack
