"""Held-out accuracy from neighbours kept up to date between fits
(``sim.phases.train.HeldOutNeighbours``) predicts exactly what each model's own tree does,
duplicated points (tied distances) included."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlab.economics.learning import KNNClassifier, attack_success_rate
from ledgerlab.scenarios.schema import Poisoners
from ledgerlab.sim.model import EconomyModel
from ledgerlab.sim.phases.train import HeldOutNeighbours, vote


def sliding_windows(
    seed: int, n_points: int, window: int, step: int, duplicates: float
) -> tuple[SimpleNamespace, list[np.ndarray]]:
    """A store of ``n_points`` labelled points (a share ``duplicates`` of them exact copies
    of earlier ones) with a held-out set, and the training windows of successive fits."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_points, 4))
    copies = rng.random(n_points) < duplicates
    copies[0] = False
    src = rng.integers(0, np.maximum(np.arange(n_points), 1))
    x[copies] = x[src[copies]]
    y = rng.integers(0, 3, size=n_points)
    state = SimpleNamespace(
        x_val=rng.normal(size=(60, 4)), store=SimpleNamespace(x=x, y=y.astype(np.int64))
    )
    windows = [
        np.arange(max(0, end - window), end, dtype=np.int64)
        for end in range(step, n_points + 1, step)
    ]
    return state, windows


WINDOWS = {
    "seed": st.integers(0, 10_000),
    "k": st.integers(1, 7),
    "window": st.integers(3, 120),
    "step": st.integers(1, 40),
    "duplicates": st.sampled_from([0.0, 0.3]),
}
"""Sliding windows over a store with or without copies (``sliding_windows``' arguments)."""


@settings(max_examples=25, deadline=None)
@given(**WINDOWS)
def test_predictions_equal_the_models_own(
    seed: int, k: int, window: int, step: int, duplicates: float
) -> None:
    state, windows = sliding_windows(seed, 200, window, step, duplicates)
    held_out = HeldOutNeighbours()
    for rows in windows:
        knn = KNNClassifier(k=k).fit(state.store.x[rows], state.store.y[rows], n_classes=3)
        got = held_out.predict(0, state, rows, knn)  # type: ignore[arg-type]
        np.testing.assert_array_equal(got, knn.predict(state.x_val))


@settings(max_examples=25, deadline=None)
@given(**WINDOWS, trigger=st.sampled_from([([0], 2.5), ([1, 3], -1.0)]))
def test_backdoor_success_equals_the_models_own(
    seed: int,
    k: int,
    window: int,
    step: int,
    duplicates: float,
    trigger: tuple[list[int], float],
) -> None:
    """The triggered held-out points' table gives ``attack_success_rate`` of each fit,
    bit for bit, over sliding windows with and without copies."""
    state, windows = sliding_windows(seed, 200, window, step, duplicates)
    state.y_val = np.random.default_rng(seed).integers(0, 3, size=len(state.x_val))
    state.y_val[0] = 0  # at least one point not of the target class
    features, value = trigger
    p = Poisoners(
        backdoor_trigger_features=features,
        backdoor_trigger_value=value,
        backdoor_target_class=2,
    )
    held_out = HeldOutNeighbours()
    for rows in windows:
        knn = KNNClassifier(k=k).fit(state.store.x[rows], state.store.y[rows], n_classes=3)
        got = held_out.attack_success(0, state, rows, knn, p)  # type: ignore[arg-type]
        assert got == attack_success_rate(knn, state.x_val, state.y_val, features, value, 2)
    assert set(held_out.triggered) == {0}


def test_a_new_held_out_set_starts_a_new_table() -> None:
    state, windows = sliding_windows(1, 100, 50, 25, 0.0)
    held_out = HeldOutNeighbours()
    knn = KNNClassifier(k=3).fit(state.store.x[windows[0]], state.store.y[windows[0]], 3)
    held_out.predict(0, state, windows[0], knn)  # type: ignore[arg-type]
    first = held_out.tables[0][1]
    state.x_val = state.x_val + 1.0  # e.g. concept drift replaced the held-out points
    np.testing.assert_array_equal(
        held_out.predict(0, state, windows[0], knn),  # type: ignore[arg-type]
        knn.predict(state.x_val),
    )
    assert held_out.tables[0][1] is not first


def test_vote_breaks_ties_toward_the_nearest_class() -> None:
    labels = np.array([[2, 1, 1, 2], [0, 1, 2, 2], [1, 0, 0, 0]])
    np.testing.assert_array_equal(vote(labels, 3), [2, 2, 0])


@pytest.mark.parametrize("scenario", ["baseline"])
def test_the_model_keeps_one_table_per_datanet(scenario: str) -> None:
    model = EconomyModel(scenario, epochs=20)
    while model.running:
        model.step()
    assert set(model.held_out.tables) == {0}
    b = model.roles.builders
    accuracy = b.cols.accuracy[b.cols.trained_epoch >= 0]
    assert accuracy.size and np.all((accuracy > 0) & (accuracy <= 1))


def test_copies_at_equal_distances_do_not_send_points_to_the_tree() -> None:
    """Every training point twice (the ties a copy farmer makes): the table orders the
    copies by id as the tree does, so no held-out point needs the tree; the predictions
    are still the model's own."""
    rng = np.random.default_rng(3)
    x = np.repeat(rng.normal(size=(80, 4)), 2, axis=0)
    y = rng.integers(0, 3, size=160).astype(np.int64)
    state = SimpleNamespace(x_val=rng.normal(size=(50, 4)), store=SimpleNamespace(x=x, y=y))
    rows = np.arange(160, dtype=np.int64)
    knn = KNNClassifier(k=4).fit(x, y, n_classes=3)
    asked: list[int] = []
    tree_predict = knn.predict

    def counting_predict(xq: np.ndarray) -> np.ndarray:
        asked.append(len(xq))
        return tree_predict(xq)

    knn.predict = counting_predict  # type: ignore[method-assign]
    got = HeldOutNeighbours().predict(0, state, rows, knn)  # type: ignore[arg-type]
    np.testing.assert_array_equal(got, tree_predict(state.x_val))
    assert asked == []
