"""Tests of sim.datanet: the Gaussian-mixture task, the contribution generators' semantics,
the content hash and the growing columnar Datanet store."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist, pdist
from scipy.stats import norm

from ledgerlab.sim.datanet import (
    HASH_DECIMALS,
    NO_CLASS,
    Batch,
    Datanet,
    DatanetError,
    GaussianMixtureTask,
    Kind,
    TaskSpec,
    backdoor,
    concat_batches,
    content_hash,
    duplicate,
    honest,
    label_flip,
    near_duplicate,
    noise,
    repeat_owners,
)


def _task(seed: int = 0, **kw: float) -> GaussianMixtureTask:
    return GaussianMixtureTask(TaskSpec(**kw), np.random.default_rng(seed))


def _within_binomial(hits: int, n: int, p: float, z: float = 4.5) -> bool:
    """|hits/n − p| within z binomial standard deviations."""
    sd = np.sqrt(p * (1 - p) / n)
    return abs(hits / n - p) <= z * sd + 1e-12


# ---------------------------------------------------------------------------------------------
# the task


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_classes", 1),
        ("n_features", 0),
        ("class_separation", 0.0),
        ("cluster_std", -1.0),
        ("noise_std", float("nan")),
    ],
)
def test_taskspec_rejects_bad_values(field: str, value: float) -> None:
    with pytest.raises(DatanetError, match=f"TaskSpec.{field}"):
        TaskSpec(**{field: value})


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_classes=st.integers(2, 6),
    extra=st.integers(0, 6),
    sep=st.floats(0.5, 10.0),
    std=st.floats(0.1, 5.0),
)
def test_means_form_a_regular_simplex_at_the_separation(
    seed: int, n_classes: int, extra: int, sep: float, std: float
) -> None:
    spec = TaskSpec(
        n_classes=n_classes, n_features=n_classes + extra, class_separation=sep, cluster_std=std
    )
    task = GaussianMixtureTask(spec, np.random.default_rng(seed))
    assert task.means.shape == (n_classes, n_classes + extra)
    np.testing.assert_allclose(pdist(task.means), sep * std, rtol=1e-10)


def test_more_classes_than_features_uses_random_directions() -> None:
    task = _task(n_classes=6, n_features=2, class_separation=4.0, cluster_std=0.5)
    np.testing.assert_allclose(np.linalg.norm(task.means, axis=1), 4.0 * 0.5 / np.sqrt(2))


def test_sample_shapes_balance_and_class_conditional_moments() -> None:
    task = _task(1, cluster_std=2.0)
    rng = np.random.default_rng(2)
    x, y = task.sample(30_000, rng)
    assert x.shape == (30_000, 10) and x.dtype == np.float64 and y.dtype == np.int64
    for c in range(3):
        xc = x[y == c]
        assert _within_binomial(xc.shape[0], y.size, 1 / 3)
        # mean within 5 standard errors, std within 5% of cluster_std
        assert np.all(np.abs(xc.mean(axis=0) - task.means[c]) < 5 * 2.0 / np.sqrt(xc.shape[0]))
        np.testing.assert_allclose(xc.std(axis=0), 2.0, rtol=0.05)
    _, yb = task.sample(10, rng, balanced=True)
    np.testing.assert_array_equal(np.sort(np.bincount(yb)), [3, 3, 4])


def test_bayes_label_is_nearest_mean_and_accuracy_matches_two_class_formula() -> None:
    task = _task(4, n_classes=2, n_features=5, class_separation=2.0)
    rng = np.random.default_rng(5)
    x, _ = task.sample(500, rng)
    np.testing.assert_array_equal(task.bayes_label(x), np.argmin(cdist(x, task.means), axis=1))
    n = 200_000
    acc = task.bayes_accuracy(rng, n)
    # two isotropic Gaussians Δ standard deviations apart: Bayes accuracy Φ(Δ/2)
    assert _within_binomial(round(acc * n), n, norm.cdf(1.0))


def test_task_is_deterministic_for_a_seed() -> None:
    np.testing.assert_array_equal(_task(9).means, _task(9).means)
    assert not np.array_equal(_task(9).means, _task(10).means)


# ---------------------------------------------------------------------------------------------
# generators


def test_honest_quality_gives_that_share_of_correct_labels() -> None:
    task = _task(3)
    rng = np.random.default_rng(4)
    n = 100_000
    b = honest(task, np.zeros(n, np.int64), 0.7, rng)
    assert b.kind.dtype == np.int8 and np.all(b.kind == Kind.HONEST)
    assert _within_binomial(int(np.sum(b.y == b.y_true)), n, 0.7)
    # wrong labels are spread uniformly over the two other classes
    wrong = b.y != b.y_true
    offset = (b.y[wrong] - b.y_true[wrong]) % 3
    assert _within_binomial(int(np.sum(offset == 1)), int(wrong.sum()), 0.5)
    # per-point quality: the first half perfect, the second always wrong
    q = np.repeat([1.0, 0.0], 500)
    b2 = honest(task, np.arange(1000), q, rng)
    assert np.all(b2.y[:500] == b2.y_true[:500]) and np.all(b2.y[500:] != b2.y_true[500:])
    with pytest.raises(DatanetError, match="quality"):
        honest(task, np.arange(3), 1.5, rng)


def test_label_flip_labels_never_equal_truth() -> None:
    task = _task(3, n_classes=4)
    rng = np.random.default_rng(6)
    b = label_flip(task, np.arange(20_000) % 7, rng)
    assert np.all(b.y != b.y_true) and np.all(b.kind == Kind.LABEL_FLIP)
    assert set(np.unique(b.y).tolist()) == {0, 1, 2, 3}
    t = label_flip(task, np.arange(5000), rng, target=2)
    assert np.all(t.y == 2) and np.all(t.y_true != 2)
    assert set(np.unique(t.y_true).tolist()) == {0, 1, 3}
    with pytest.raises(DatanetError, match="target"):
        label_flip(task, np.arange(3), rng, target=4)


def test_backdoor_carries_the_trigger_and_the_target_label() -> None:
    task = _task(3)
    rng = np.random.default_rng(7)
    b = backdoor(task, np.full(3000, 5), rng, trigger_features=(1, 4), trigger_value=6.5, target=0)
    assert np.all(b.x[:, [1, 4]] == 6.5)
    assert np.all(b.y == 0) and np.all(b.y_true != 0) and np.all(b.kind == Kind.BACKDOOR)
    # untouched features are clean draws from the true class
    resid = b.x - task.means[b.y_true]
    untouched = np.delete(resid, [1, 4], axis=1)
    np.testing.assert_allclose(untouched.std(), 1.0, rtol=0.05)
    with pytest.raises(ValueError, match="trigger_features"):
        backdoor(task, np.arange(3), rng, trigger_features=(10,), trigger_value=1.0, target=0)


def test_noise_is_broad_with_random_labels_and_no_true_class() -> None:
    task = _task(3, noise_std=5.0, cluster_std=0.5)
    rng = np.random.default_rng(8)
    b = noise(task, np.zeros(20_000, np.int64), rng)
    assert np.all(b.y_true == NO_CLASS) and np.all(b.kind == Kind.NOISE)
    np.testing.assert_allclose(b.x.std(axis=0), 2.5, rtol=0.05)
    for c in range(3):
        assert _within_binomial(int(np.sum(b.y == c)), b.size, 1 / 3)


def test_duplicate_copies_other_owners_points_exactly() -> None:
    task = _task(3)
    rng = np.random.default_rng(9)
    src = honest(task, np.arange(300) % 3, 0.9, rng)
    owners = np.arange(2000) % 4  # owners 0..2 also own sources; owner 3 owns none
    b = duplicate(src.x, src.y, owners, rng, source_owner=src.owner, source_y_true=src.y_true)
    assert np.all(b.kind == Kind.DUPLICATE)
    # each row equals some source row; find it through the hash and compare everything
    pos = {int(h): i for i, h in enumerate(src.hash)}
    rows = np.array([pos[int(h)] for h in b.hash])
    np.testing.assert_array_equal(b.x, src.x[rows])
    np.testing.assert_array_equal(b.y, src.y[rows])
    np.testing.assert_array_equal(b.y_true, src.y_true[rows])
    assert np.all(src.owner[rows] != b.owner)
    # without source_owner, own points may be copied; without y_true the truth is unknown
    b2 = duplicate(src.x, src.y, np.zeros(50, np.int64), rng)
    assert np.all(np.isin(b2.hash, src.hash)) and np.all(b2.y_true == NO_CLASS)
    with pytest.raises(DatanetError, match="no points of other owners"):
        duplicate(src.x[:1], src.y[:1], np.array([0, 1]), rng, source_owner=src.owner[:1])
    with pytest.raises(DatanetError, match="empty"):
        duplicate(np.empty((0, 10)), np.empty(0, np.int64), np.array([1]), rng)


def test_near_duplicate_is_close_but_hashes_differently() -> None:
    task = _task(3)
    rng = np.random.default_rng(10)
    src = honest(task, np.zeros(200, np.int64), 1.0, rng)
    b = near_duplicate(src.x, src.y, np.full(1000, 1), rng, jitter=1e-3, source_owner=src.owner)
    assert np.all(b.kind == Kind.NEAR_DUPLICATE)
    nearest = cdist(b.x, src.x).argmin(axis=1)
    assert np.all(np.abs(b.x - src.x[nearest]).max(axis=1) < 6e-3)
    np.testing.assert_array_equal(b.y, src.y[nearest])
    assert not np.any(np.isin(b.hash, src.hash))
    with pytest.raises(DatanetError, match="jitter"):
        near_duplicate(src.x, src.y, np.array([1]), rng, jitter=0.0)


def test_generators_are_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[Batch]:
        rng = np.random.default_rng(seed)
        task = GaussianMixtureTask(TaskSpec(), rng)
        owners = repeat_owners(np.array([3, 4, 5]), np.array([10, 0, 7]))
        h = honest(task, owners, 0.8, rng)
        return [
            h,
            label_flip(task, owners, rng),
            label_flip(task, owners, rng, target=1),
            backdoor(task, owners, rng, (0,), 5.0, 2),
            noise(task, owners, rng),
            duplicate(h.x, h.y, owners, rng, source_owner=h.owner),
            near_duplicate(h.x, h.y, owners, rng, 0.01),
        ]

    for a, b in zip(run(42), run(42), strict=True):
        for col in ("x", "y", "owner", "kind", "hash", "y_true"):
            np.testing.assert_array_equal(getattr(a, col), getattr(b, col))
    assert not np.array_equal(run(42)[0].x, run(43)[0].x)


def test_repeat_owners_and_errors() -> None:
    np.testing.assert_array_equal(repeat_owners([7, 8], [2, 1]), [7, 7, 8])
    np.testing.assert_array_equal(repeat_owners([7, 8], 2), [7, 7, 8, 8])
    with pytest.raises(DatanetError, match="n_points_each"):
        repeat_owners([7], [-1])
    with pytest.raises(DatanetError, match="owner ids"):
        honest(_task(), np.array([-1]), 1.0, np.random.default_rng(0))


# ---------------------------------------------------------------------------------------------
# content hash


def _hash(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The content hash a datanet stores: features rounded to HASH_DECIMALS, and the label."""
    return content_hash(x, y, HASH_DECIMALS)


def test_hash_identical_points_equal_and_any_change_differs() -> None:
    rng = np.random.default_rng(11)
    x = rng.standard_normal((50_000, 6))
    y = rng.integers(0, 3, size=50_000)
    h = _hash(x, y)
    assert h.dtype == np.uint64
    assert np.unique(h).size == 50_000  # no collision among distinct points
    np.testing.assert_array_equal(_hash(x.copy(), y.copy()), h)
    # the label, a tiny feature change and the feature order all matter
    assert np.all(_hash(x, (y + 1) % 3) != h)
    bumped = x.copy()
    bumped[:, 5] += 1e-6
    assert np.all(_hash(bumped, y) != h)
    assert np.all(_hash(x[:, ::-1], y) != h)
    # below the rounding resolution and the sign of zero do not matter
    tiny = x + 1e-13
    assert np.mean(_hash(tiny, y) == h) > 0.995
    z = np.zeros((2, 3))
    z[1, 1] = -0.0
    hz = _hash(z, np.array([1, 1]))
    assert hz[0] == hz[1]


@settings(max_examples=50, deadline=None)
@given(
    row=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=8),
    label=st.integers(0, 20),
)
def test_hash_is_a_function_of_the_rounded_content(row: list[float], label: int) -> None:
    x = np.array([row, row])
    hashes = _hash(x, np.array([label, label]))
    assert hashes[0] == hashes[1]
    assert _hash(x[:1], np.array([label + 1]))[0] != hashes[0]


# ---------------------------------------------------------------------------------------------
# Batch and Datanet


def test_batch_build_select_concat() -> None:
    b = Batch.build(np.eye(3), [0, 1, 2], [5, 5, 6], Kind.HONEST, [0, 1, 1])
    assert b.size == 3 == len(b) and b.n_features == 3
    s = b.select(np.array([True, False, True]))
    np.testing.assert_array_equal(s.owner, [5, 6])
    np.testing.assert_array_equal(s.hash, b.hash[[0, 2]])
    c = concat_batches([b, s, Batch.empty(3)])
    assert c.size == 5
    np.testing.assert_array_equal(c.y_true, [0, 1, 1, 0, 1])
    with pytest.raises(DatanetError, match="different feature counts"):
        concat_batches([b, Batch.empty(2)])
    with pytest.raises(DatanetError, match="NaN"):
        Batch.build(np.full((1, 2), np.nan), [0], [0], Kind.NOISE)
    with pytest.raises(DatanetError, match="owner must have 3"):
        Batch.build(np.eye(3), [0, 1, 2], [5], Kind.HONEST)


def test_datanet_append_grows_by_doubling_and_keeps_content() -> None:
    task = _task(12)
    rng = np.random.default_rng(13)
    dn = Datanet("demo", 10, capacity=2)
    batches = [honest(task, np.full(n, i), 0.9, rng) for i, n in enumerate([1, 3, 0, 7, 40])]
    capacities = []
    for epoch, b in enumerate(batches):
        idx = dn.append(b, epoch)
        assert idx.dtype == np.int64 and idx.size == b.size
        capacities.append(dn.capacity)
    assert dn.size == len(dn) == 51
    assert capacities == [2, 4, 4, 11, 51]  # doubling, or exactly what is needed if more
    whole = concat_batches(batches)
    np.testing.assert_array_equal(dn.x, whole.x)
    np.testing.assert_array_equal(dn.y, whole.y)
    np.testing.assert_array_equal(dn.hash, whole.hash)
    np.testing.assert_array_equal(dn.owner, whole.owner)
    np.testing.assert_array_equal(dn.y_true, whole.y_true)
    np.testing.assert_array_equal(dn.epoch, np.repeat([0, 1, 2, 3, 4], [1, 3, 0, 7, 40]))
    np.testing.assert_array_equal(dn.kind, Kind.HONEST)
    assert dn.active.all() and dn.n_active == 51
    assert dn.x.shape == (51, 10)
    with pytest.raises(ValueError, match="read-only"):
        dn.y[0] = 1
    # many small appends: amortised growth keeps reallocations logarithmic
    big = Datanet("big", 10, capacity=1)
    for e in range(1000):
        big.append(batches[0], e)
    assert big.capacity == 1024 and big.size == 1000


def test_datanet_deactivate_accepted_points_of_and_hash_lookup() -> None:
    task = _task(14)
    rng = np.random.default_rng(15)
    dn = Datanet("d", 10, capacity=4)
    dn.append(honest(task, np.array([1, 1, 2, 3]), 1.0, rng), 0)
    dn.append(noise(task, np.array([2, 4]), rng), 1)
    np.testing.assert_array_equal(dn.accepted(), np.arange(6))
    assert dn.deactivate([1, 4, 4]) == 2
    assert dn.deactivate(np.array([1])) == 0
    np.testing.assert_array_equal(dn.accepted(), [0, 2, 3, 5])
    np.testing.assert_array_equal(dn.active, [True, False, True, True, False, True])
    np.testing.assert_array_equal(dn.points_of([1, 2]), [0, 2])
    np.testing.assert_array_equal(dn.points_of([1, 2], active_only=False), [0, 1, 2, 4])
    np.testing.assert_array_equal(dn.points_of(4), [5])
    assert dn.points_of([9]).size == 0
    np.testing.assert_array_equal(dn.has_hash(dn.hash[[0, 1]]), [True, False])
    np.testing.assert_array_equal(dn.has_hash(dn.hash[[0, 1]], active_only=False), [True, True])
    dn.reactivate([1])
    assert dn.n_active == 5
    mask = np.zeros(6, bool)
    mask[[0, 5]] = True
    dn.deactivate(mask)
    np.testing.assert_array_equal(dn.accepted(), [1, 2, 3])
    with pytest.raises(DatanetError, match=r"\[0, 6\)"):
        dn.deactivate([6])
    with pytest.raises(DatanetError, match="datanet has 10"):
        dn.append(Batch.empty(3), 2)
    with pytest.raises(DatanetError, match="epoch"):
        dn.append(Batch.empty(10), -1)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 30), min_size=1, max_size=12),
    capacity=st.integers(1, 16),
    seed=st.integers(0, 2**32 - 1),
)
def test_datanet_matches_a_concatenated_reference(
    sizes: list[int], capacity: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    task = GaussianMixtureTask(TaskSpec(n_features=3), rng)
    dn = Datanet("prop", 3, capacity=capacity)
    batches, epochs, dropped = [], [], []
    for epoch, n in enumerate(sizes):
        b = label_flip(task, rng.integers(0, 5, size=n), rng)
        idx = dn.append(b, epoch)
        np.testing.assert_array_equal(idx, np.arange(dn.size - n, dn.size))
        drop = idx[rng.random(n) < 0.3]
        dn.deactivate(drop)
        batches.append(b)
        epochs.append(np.full(n, epoch))
        dropped.append(drop)
    ref = concat_batches(batches)
    assert dn.capacity >= dn.size == ref.size
    np.testing.assert_array_equal(dn.x, ref.x)
    np.testing.assert_array_equal(dn.owner, ref.owner)
    np.testing.assert_array_equal(dn.epoch, np.concatenate(epochs))
    active = np.ones(ref.size, bool)
    active[np.concatenate(dropped).astype(np.int64)] = False
    np.testing.assert_array_equal(dn.accepted(), np.flatnonzero(active))
    np.testing.assert_array_equal(dn.points_of([0, 1]), np.flatnonzero(active & (ref.owner <= 1)))
