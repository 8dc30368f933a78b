"""Tests for the attribution engines (economics/attribution.py).

Reference values come from outside the code under test: brute-force Shapley and Banzhaf
values by enumerating every subset with a naive kNN utility written here (Python ``sorted``
over (distance, index) pairs), naive leave-one-out refits, a hand-computed KNN-Shapley
example from Jia et al.'s recursion, and the published qualitative results (flipped labels
get low Shapley values; LOO misses duplicated points; volume pays junk).
"""

from __future__ import annotations

import importlib.util
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata

from ledgerlab.economics.attribution import (
    ENGINES,
    AttributionError,
    UnknownEngineError,
    Utility,
    banzhaf,
    compute,
    influence,
    knn_shapley,
    knn_shapley_arrivals,
    knn_shapley_arrivals_given,
    loo,
    per_owner,
    retrieval,
    tmc_shapley,
    uniform,
    volume,
)
from ledgerlab.economics.learning import LogisticRegression

# ------------------------------------------------------------------------ naive references


def naive_knn_utility(xt, yt, xv, yv, k, subset, centre: float = 0.0) -> float:
    """u(S) by the definition: per validation point, sort S by (distance, index) with Python's
    sorted, count label matches (each minus ``centre``: 1/C for the chance-centred utility)
    among the first min(K, |S|), divide by K; mean over v."""
    members = list(subset)
    if not members:
        return 0.0
    total = 0.0
    for v in range(len(xv)):
        ranked = sorted((float(np.sum((xt[i] - xv[v]) ** 2)), i) for i in members)
        total += sum(int(yt[i] == yv[v]) - centre for _, i in ranked[:k]) / k
    return total / len(xv)


def subset_utilities(xt, yt, xv, yv, k, centre: float = 0.0) -> dict[frozenset[int], float]:
    n = len(xt)
    return {
        frozenset(s): naive_knn_utility(xt, yt, xv, yv, k, s, centre)
        for r in range(n + 1)
        for s in itertools.combinations(range(n), r)
    }


def brute_shapley(u: dict[frozenset[int], float], n: int) -> np.ndarray:
    """φ_i = Σ_{S ⊆ D∖i} |S|!(N−|S|−1)!/N! · [u(S ∪ i) − u(S)]."""
    phi = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for r in range(n):
            w = math.factorial(r) * math.factorial(n - r - 1) / math.factorial(n)
            for s in itertools.combinations(others, r):
                phi[i] += w * (u[frozenset((*s, i))] - u[frozenset(s)])
    return phi


def brute_banzhaf(u: dict[frozenset[int], float], n: int) -> np.ndarray:
    """β_i = 2^{1−N} Σ_{S ⊆ D∖i} [u(S ∪ i) − u(S)]."""
    beta = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for r in range(n):
            for s in itertools.combinations(others, r):
                beta[i] += (u[frozenset((*s, i))] - u[frozenset(s)]) / 2 ** (n - 1)
    return beta


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """P(score of a random positive > score of a random negative), ties count 1/2 (the
    Mann-Whitney rank formula)."""
    ranks = rankdata(scores)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return (ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def gaussian_task(rng, n, m, d=5, n_classes=3, sep=2.0, flip_rate=0.0):
    """A Gaussian-mixture classification task; returns train/val sets and the flipped mask."""
    centers = rng.normal(size=(n_classes, d)) * sep
    y = rng.integers(0, n_classes, n)
    x = centers[y] + rng.normal(size=(n, d))
    yv = rng.integers(0, n_classes, m)
    xv = centers[yv] + rng.normal(size=(m, d))
    flipped = np.zeros(n, dtype=bool)
    flipped[rng.choice(n, round(flip_rate * n), replace=False)] = True
    y_noisy = np.where(flipped, (y + rng.integers(1, n_classes, n)) % n_classes, y)
    return x, y_noisy, xv, yv, flipped


def small_set(seed: int, n: int, m: int, n_classes: int, grid: bool = False):
    rng = np.random.default_rng(seed)
    if grid:  # integer coordinates: many exact distance ties and duplicated points
        xt = rng.integers(0, 3, size=(n, 2)).astype(float)
        xv = rng.integers(0, 3, size=(m, 2)).astype(float)
    else:
        xt = rng.normal(size=(n, 2))
        xv = rng.normal(size=(m, 2))
    return xt, rng.integers(0, n_classes, n), xv, rng.integers(0, n_classes, m)


# ------------------------------------------------------------------------ knn_shapley


def test_knn_shapley_hand_computed_example() -> None:
    # Jia et al. (2019) recursion by hand: train x = 1, 2, 3 with labels 1, 0, 1, one test
    # point x = 0 with label 1, K = 1. m = (1, 0, 1); s3 = 1/3; s2 = s3 − 1/2 = −1/6;
    # s1 = s2 + 1 = 5/6.
    got = knn_shapley([[1.0], [2.0], [3.0]], [1, 0, 1], [[0.0]], [1], 1)
    np.testing.assert_allclose(got, [5 / 6, -1 / 6, 1 / 3], rtol=0, atol=1e-15)
    # K = 2: c = (1/2, 1/2, 1/3): s3 = 1/3, s2 = 1/3 − 1/2 = −1/6, s1 = −1/6 + 1/2 = 1/3.
    got2 = knn_shapley([[1.0], [2.0], [3.0]], [1, 0, 1], [[0.0]], [1], 2)
    np.testing.assert_allclose(got2, [1 / 3, -1 / 6, 1 / 3], rtol=0, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 8),
    k=st.integers(1, 6),
    m=st.integers(1, 4),
    n_classes=st.integers(2, 3),
)
def test_knn_shapley_equals_brute_force_shapley(seed, n, k, m, n_classes) -> None:
    xt, yt, xv, yv = small_set(seed, n, m, n_classes)
    u = subset_utilities(xt, yt, xv, yv, k)
    expected = brute_shapley(u, n)
    got = knn_shapley(xt, yt, xv, yv, k)
    assert got.dtype == np.float64 and got.shape == (n,)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_knn_shapley_ties_are_broken_by_training_index(seed) -> None:
    # Integer grid: exact distance ties between distinct and duplicated points, with
    # different labels; the reference utility breaks ties by index (module convention).
    xt, yt, xv, yv = small_set(seed, 8, 5, 3, grid=True)
    k = 1 + seed % 4
    expected = brute_shapley(subset_utilities(xt, yt, xv, yv, k), 8)
    np.testing.assert_allclose(knn_shapley(xt, yt, xv, yv, k), expected, rtol=0, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 300),
    m=st.integers(1, 30),
    k=st.integers(1, 12),
)
def test_knn_shapley_efficiency(seed, n, m, k) -> None:
    # Σ φ_i = U(D) − U(∅) = U(D), with U(D) computed naively (stable argsort per point).
    rng = np.random.default_rng(seed)
    xt, yt = rng.normal(size=(n, 3)), rng.integers(0, 3, n)
    xv, yv = rng.normal(size=(m, 3)), rng.integers(0, 3, m)
    dist = ((xv[:, None, :] - xt[None, :, :]) ** 2).sum(-1)
    top = np.argsort(dist, axis=1, kind="stable")[:, :k]
    u_full = float((yt[top] == yv[:, None]).sum()) / (k * m)
    assert abs(knn_shapley(xt, yt, xv, yv, k).sum() - u_full) < 1e-12


def test_knn_shapley_chunking_and_label_coding_do_not_change_values() -> None:
    rng = np.random.default_rng(7)
    xt, yt, xv, yv, _ = gaussian_task(rng, 400, 37)
    ref = knn_shapley(xt, yt, xv, yv, 5)
    for rows in (1, 7, 37, 1000):
        np.testing.assert_allclose(
            knn_shapley(xt, yt, xv, yv, 5, chunk_rows=rows), ref, rtol=0, atol=1e-14
        )
    # arbitrary integer labels (negative, large) give the same values as 0..C-1
    relabel = np.array([-7, 1000, 3])
    np.testing.assert_allclose(
        knn_shapley(xt, relabel[yt], xv, relabel[yv], 5), ref, rtol=0, atol=1e-14
    )


def test_knn_shapley_finds_flipped_labels() -> None:
    # Jia et al. (2019): with 10 % of training labels flipped, low KNN-Shapley values flag
    # the flipped points.
    rng = np.random.default_rng(2019)
    x, y, xv, yv, flipped = gaussian_task(rng, 1000, 500, d=5, sep=1.5, flip_rate=0.10)
    values = knn_shapley(x, y, xv, yv, 5)
    score = auroc(-values, flipped)  # lower value => more suspicious
    assert score >= 0.9, score


def test_knn_shapley_rejects_bad_input() -> None:
    x = np.zeros((3, 2))
    with pytest.raises(AttributionError, match="k must be an integer >= 1"):
        knn_shapley(x, [0, 1, 0], x, [0, 1, 0], 0)
    with pytest.raises(AttributionError, match="3 columns"):
        knn_shapley(x, [0, 1, 0], np.zeros((2, 3)), [0, 1], 1)
    with pytest.raises(AttributionError, match="one label per point"):
        knn_shapley(x, [0, 1], x, [0, 1, 0], 1)
    with pytest.raises(AttributionError, match="integer class ids"):
        knn_shapley(x, [0.5, 1, 0], x, [0, 1, 0], 1)
    with pytest.raises(AttributionError, match="NaN"):
        knn_shapley(np.full((3, 2), np.nan), [0, 1, 0], x, [0, 1, 0], 1)
    with pytest.raises(AttributionError, match="test set is empty"):
        knn_shapley(x, [0, 1, 0], np.zeros((0, 2)), [], 1)
    assert knn_shapley(np.zeros((0, 2)), [], x, [0, 1, 0], 1).shape == (0,)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 8),
    k=st.integers(1, 6),
    m=st.integers(1, 4),
    n_classes=st.integers(2, 4),
)
def test_chance_centred_knn_shapley_equals_brute_force(seed, n, k, m, n_classes) -> None:
    # u(S) = mean_v (1/K) Σ_{k ≤ min(K,|S|)} (1[y = y_v] − 1/C), enumerated subset by subset.
    xt, yt, xv, yv = small_set(seed, n, m, n_classes)
    expected = brute_shapley(subset_utilities(xt, yt, xv, yv, k, 1.0 / n_classes), n)
    got = knn_shapley(xt, yt, xv, yv, k, n_classes=n_classes)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    # every value shifts by the same constant: min(K, N) / (N K C)
    shift = knn_shapley(xt, yt, xv, yv, k) - got
    np.testing.assert_allclose(shift, min(k, n) / (n * k * n_classes), rtol=0, atol=1e-12)


def arrival_brute_force(xb, yb, xn, yn, xv, yv, k, centre):
    """Shapley values of the new points in v(S) = u(B ∪ S) − u(B), by enumeration; base
    points come first in the index order, so ties go to them."""
    x = np.vstack([xb, xn]) if len(xb) else xn
    y = np.concatenate([yb, yn])
    base = tuple(range(len(xb)))
    n = len(xn)
    u = {
        frozenset(s): naive_knn_utility(
            x, y, xv, yv, k, base + tuple(len(xb) + i for i in s), centre
        )
        for r in range(n + 1)
        for s in itertools.combinations(range(n), r)
    }
    return brute_shapley(u, n)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_base=st.integers(0, 9),
    n_new=st.integers(1, 6),
    k=st.integers(1, 5),
    m=st.integers(1, 4),
    n_classes=st.integers(2, 3),
    centred=st.booleans(),
)
def test_knn_shapley_arrivals_equals_brute_force(
    seed, n_base, n_new, k, m, n_classes, centred
) -> None:
    rng = np.random.default_rng(seed)
    xb, xn, xv = rng.normal(size=(n_base, 2)), rng.normal(size=(n_new, 2)), rng.normal(size=(m, 2))
    yb, yn, yv = (rng.integers(0, n_classes, s) for s in (n_base, n_new, m))
    c = n_classes if centred else None
    expected = arrival_brute_force(xb, yb, xn, yn, xv, yv, k, 1.0 / n_classes if centred else 0.0)
    got = knn_shapley_arrivals(xb, yb, xn, yn, xv, yv, k, n_classes=c)
    assert got.dtype == np.float64 and got.shape == (n_new,)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("centred", [False, True])
def test_knn_shapley_arrivals_on_an_empty_base_is_knn_shapley(centred) -> None:
    rng = np.random.default_rng(5)
    x, y, xv, yv, _ = gaussian_task(rng, 200, 40)
    c = 3 if centred else None
    np.testing.assert_allclose(
        knn_shapley_arrivals(np.zeros((0, 5)), [], x, y, xv, yv, 5, n_classes=c),
        knn_shapley(x, y, xv, yv, 5, n_classes=c),
        rtol=0,
        atol=1e-14,
    )


def test_knn_shapley_arrivals_sum_to_what_the_batch_adds() -> None:
    # Efficiency: Σ φ = u(B ∪ new) − u(B), with u computed by a stable argsort.
    rng = np.random.default_rng(11)
    x, y, xv, yv, _ = gaussian_task(rng, 500, 60)
    xb, yb, xn, yn = x[:400], y[:400], x[400:], y[400:]

    def u(xs, ys):
        top = np.argsort(((xv[:, None] - xs[None]) ** 2).sum(-1), axis=1, kind="stable")[:, :5]
        return float(((ys[top] == yv[:, None]) - 1 / 3).sum()) / (5 * len(xv))

    got = knn_shapley_arrivals(xb, yb, xn, yn, xv, yv, 5, n_classes=3).sum()
    assert abs(got - (u(x, y) - u(xb, yb))) < 1e-12


def test_knn_shapley_arrivals_given_neighbours_agrees_and_checks_shapes() -> None:
    rng = np.random.default_rng(3)
    x, y, xv, yv, _ = gaussian_task(rng, 300, 30)
    d = np.sqrt(((xv[:, None] - x[None, :250]) ** 2).sum(-1))
    near = np.argsort(d, axis=1, kind="stable")[:, :4]
    got = knn_shapley_arrivals_given(
        np.take_along_axis(d, near, 1), y[near], x[250:], y[250:], xv, yv, 4, n_classes=3
    )
    ref = knn_shapley_arrivals(x[:250], y[:250], x[250:], y[250:], xv, yv, 4, n_classes=3)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-14)
    with pytest.raises(AttributionError, match=r"\[M, K\]"):
        knn_shapley_arrivals_given(np.zeros((30, 3)), np.zeros((30, 3)), x, y, xv, yv, 4)
    with pytest.raises(AttributionError, match="test set is empty"):
        knn_shapley_arrivals(x, y, x, y, np.zeros((0, 5)), [], 4)
    assert knn_shapley_arrivals(x, y, np.zeros((0, 5)), [], xv, yv, 4).shape == (0,)


# ------------------------------------------------------------------------ loo


@pytest.mark.parametrize(("n", "k"), [(30, 1), (30, 3), (30, 5), (4, 6), (6, 6)])
def test_loo_knn_equals_naive_refitting(n, k) -> None:
    xt, yt, xv, yv = small_set(100 + n + k, n, 9, 3)
    full = naive_knn_utility(xt, yt, xv, yv, k, range(n))
    expected = np.array(
        [
            full - naive_knn_utility(xt, yt, xv, yv, k, [j for j in range(n) if j != i])
            for i in range(n)
        ]
    )
    got = loo(xt, yt, np.zeros(n, dtype=int), Utility(xv, yv, k=k))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_loo_logistic_equals_naive_refitting() -> None:
    rng = np.random.default_rng(11)
    x, y, xv, yv, _ = gaussian_task(rng, 10, 40, d=2, sep=1.0, flip_rate=0.2)
    util = Utility(xv, yv, model="logistic", l2=0.1, max_iter=50)

    def acc(keep):
        model = LogisticRegression(l2=0.1, max_iter=50).fit(x[keep], y[keep], n_classes=3)
        return float(np.mean(model.predict(xv) == yv))

    full = acc(np.ones(10, dtype=bool))
    expected = np.array([full - acc(np.arange(10) != i) for i in range(10)])
    assert np.any(expected != 0)  # the comparison is not vacuous
    got = loo(x, y, np.zeros(10, dtype=int), util)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    with pytest.raises(AttributionError, match="max_refits"):
        loo(x, y, np.zeros(10, dtype=int), util, max_refits=5)


def test_known_failures_duplicates_loo_and_volume_pays_junk() -> None:
    # LOO: a helpful point that is exactly duplicated is replaceable by its copy, so with
    # K = 1 each copy gets exactly 0, while the same point alone gets a positive LOO.
    rng = np.random.default_rng(5)
    x, y, xv, yv, _ = gaussian_task(rng, 200, 300, d=2, sep=2.0)
    util = Utility(xv, yv, k=1)
    alone = loo(x, y, np.zeros(200, dtype=int), util)
    best = int(np.argmax(alone))
    assert alone[best] > 0
    x_dup = np.vstack([x, x[best]])
    y_dup = np.append(y, y[best])
    dup = loo(x_dup, y_dup, np.zeros(201, dtype=int), util)
    assert dup[best] == 0.0 and dup[200] == 0.0
    # Shapley instead splits the value between the copies (neither gets 0).
    shap = knn_shapley(x_dup, y_dup, xv, yv, 1)
    assert shap[best] > 0 and shap[200] > 0

    # Volume: junk (random features and labels) is paid exactly like good data, while
    # KNN-Shapley pays it clearly less.
    junk_x = rng.uniform(x.min(), x.max(), size=(50, 2))
    junk_y = rng.integers(0, 3, 50)
    xa, ya = np.vstack([x, junk_x]), np.append(y, junk_y)
    owners = np.append(np.zeros(200, dtype=int), np.ones(50, dtype=int))
    vol = volume(xa, ya, owners)
    assert np.all(vol == 1.0)
    paid = per_owner(vol, owners)
    assert paid[1] / 50 == paid[0] / 200  # same pay per point, junk or not
    sv = knn_shapley(xa, ya, xv, yv, 5)
    assert sv[200:].mean() < 0.25 * sv[:200].mean()


# ------------------------------------------------------------------------ tmc_shapley


def test_tmc_shapley_converges_to_brute_force() -> None:
    xt, yt, xv, yv = small_set(42, 6, 4, 2)
    util = Utility(xv, yv, k=2)
    exact = brute_shapley(subset_utilities(xt, yt, xv, yv, 2), 6)
    owners = np.zeros(6, dtype=int)
    errors = {}
    for budget in (50, 2000):
        est = tmc_shapley(
            xt,
            yt,
            owners,
            util,
            rng=np.random.default_rng(0),
            n_permutations=budget,
            truncation_tol=0.0,
        )
        errors[budget] = np.abs(est - exact).max()
        # untruncated TMC is exactly efficient for every budget
        assert abs(est.sum() - exact.sum()) < 1e-12
    assert errors[2000] < 0.02, errors  # tolerance 0.02 at 2,000 permutations, N = 6
    assert errors[50] < 0.15, errors


@pytest.mark.parametrize("grid", [False, True])
def test_tmc_shapley_converges_on_larger_sets(grid) -> None:
    # N = 8 with K = 3, incl. exact ties; 3,000 permutations, tolerance 0.02.
    xt, yt, xv, yv = small_set(9, 8, 5, 3, grid=grid)
    exact = brute_shapley(subset_utilities(xt, yt, xv, yv, 3), 8)
    est = tmc_shapley(
        xt,
        yt,
        np.zeros(8, dtype=int),
        Utility(xv, yv, k=3),
        rng=np.random.default_rng(1),
        n_permutations=3000,
        truncation_tol=0.0,
    )
    assert np.abs(est - exact).max() < 0.02


def test_tmc_shapley_truncation_bounds_and_determinism() -> None:
    rng = np.random.default_rng(8)
    x, y, xv, yv, _ = gaussian_task(rng, 300, 60)
    util = Utility(xv, yv, k=5)
    owners = np.zeros(300, dtype=int)
    u_full = knn_shapley(x, y, xv, yv, 5).sum()  # = U(D) by efficiency
    tol = 0.05
    a = tmc_shapley(
        x, y, owners, util, rng=np.random.default_rng(3), n_permutations=40, truncation_tol=tol
    )
    b = tmc_shapley(
        x, y, owners, util, rng=np.random.default_rng(3), n_permutations=40, truncation_tol=tol
    )
    np.testing.assert_array_equal(a, b)  # same seed, same values
    # each permutation stops within tol·U(D) of U(D), so the mean total is within it too
    assert abs(a.sum() - u_full) <= tol * u_full + 1e-12
    full = tmc_shapley(
        x, y, owners, util, rng=np.random.default_rng(3), n_permutations=40, truncation_tol=0.0
    )
    assert abs(full.sum() - u_full) < 1e-12
    assert np.count_nonzero(a) < np.count_nonzero(full)  # truncated tails get exactly 0


def test_tmc_shapley_error_shrinks_like_monte_carlo_on_300_points() -> None:
    # Against exact KNN-Shapley (N = 300, M = 60, K = 5, no truncation): the mean absolute
    # error falls roughly as 1/sqrt(T) — ×4 permutations should about halve it.
    rng = np.random.default_rng(8)
    x, y, xv, yv, _ = gaussian_task(rng, 300, 60)
    util = Utility(xv, yv, k=5)
    exact = knn_shapley(x, y, xv, yv, 5)
    err = {}
    for budget in (150, 600):
        est = tmc_shapley(
            x,
            y,
            np.zeros(300, dtype=int),
            util,
            rng=np.random.default_rng(4),
            n_permutations=budget,
            truncation_tol=0.0,
        )
        err[budget] = np.abs(est - exact).mean()
    assert err[600] < 0.7 * err[150], err
    assert err[600] < exact.std(), err


def test_tmc_shapley_logistic_is_efficient_and_needs_rng() -> None:
    rng = np.random.default_rng(12)
    x, y, xv, yv, _ = gaussian_task(rng, 6, 30, d=2)
    util = Utility(xv, yv, model="logistic", l2=0.1, max_iter=30)
    est = tmc_shapley(
        x,
        y,
        np.zeros(6, dtype=int),
        util,
        rng=np.random.default_rng(0),
        n_permutations=2,
        truncation_tol=0.0,
    )
    model = LogisticRegression(l2=0.1, max_iter=30).fit(x, y, n_classes=3)
    u_full = float(np.mean(model.predict(xv) == yv))
    assert abs(est.sum() - u_full) < 1e-12
    with pytest.raises(AttributionError, match="needs rng"):
        tmc_shapley(x, y, np.zeros(6, dtype=int), util)
    with pytest.raises(AttributionError, match="max_refits"):
        tmc_shapley(
            x,
            y,
            np.zeros(6, dtype=int),
            util,
            rng=np.random.default_rng(0),
            n_permutations=10,
            max_refits=20,
        )


# ------------------------------------------------------------------------ banzhaf


def test_banzhaf_converges_to_brute_force_banzhaf() -> None:
    xt, yt, xv, yv = small_set(3, 6, 4, 2)
    util = Utility(xv, yv, k=2)
    exact = brute_banzhaf(subset_utilities(xt, yt, xv, yv, 2), 6)
    owners = np.zeros(6, dtype=int)
    small = banzhaf(xt, yt, owners, util, rng=np.random.default_rng(0), n_samples=100)
    large = banzhaf(xt, yt, owners, util, rng=np.random.default_rng(0), n_samples=20_000)
    # tolerance 0.02 at 20,000 samples on N = 6 (MSR noise ~ 2σ_u/√T ≈ 0.005)
    assert np.abs(large - exact).max() < 0.02
    assert np.abs(small - exact).max() < 0.2


def test_banzhaf_prefix_continuation_is_exact_and_seeded() -> None:
    rng = np.random.default_rng(21)
    x, y, xv, yv, _ = gaussian_task(rng, 60, 25)
    util = Utility(xv, yv, k=4)
    owners = np.zeros(60, dtype=int)
    ref = banzhaf(x, y, owners, util, rng=np.random.default_rng(5), n_samples=300)
    # a 1-point prefix forces almost every (subset, v) pair through the exact continuation
    short = banzhaf(x, y, owners, util, rng=np.random.default_rng(5), n_samples=300, prefix_len=1)
    np.testing.assert_allclose(short, ref, rtol=0, atol=1e-14)
    other = banzhaf(x, y, owners, util, rng=np.random.default_rng(6), n_samples=300)
    assert not np.array_equal(other, ref)


def test_banzhaf_logistic_matches_direct_msr() -> None:
    rng = np.random.default_rng(4)
    x, y, xv, yv, _ = gaussian_task(rng, 10, 30, d=2)
    util = Utility(xv, yv, model="logistic", l2=0.1, max_iter=30)
    got = banzhaf(x, y, np.zeros(10, dtype=int), util, rng=np.random.default_rng(2), n_samples=8)
    # Re-draw the same subsets (one draw call of < 128 rows) and apply the MSR formula.
    masks = np.random.default_rng(2).random((8, 10)) < 0.5

    def acc(keep):
        if not keep.any():
            return 0.0
        model = LogisticRegression(l2=0.1, max_iter=30).fit(x[keep], y[keep], n_classes=3)
        return float(np.mean(model.predict(xv) == yv))

    u = np.array([acc(m) for m in masks])
    expected = np.zeros(10)
    for i in range(10):
        inside, outside = masks[:, i], ~masks[:, i]
        if inside.any() and outside.any():
            expected[i] = u[inside].mean() - u[outside].mean()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


# ------------------------------------------------------------------------ influence


def test_influence_matches_leave_one_out_refits_and_sign() -> None:
    rng = np.random.default_rng(1)
    x, y, xv, yv, flipped = gaussian_task(rng, 24, 200, d=2, sep=1.2, flip_rate=0.2)
    l2 = 0.05
    util = Utility(xv, yv, model="logistic", l2=l2, max_iter=200)
    values = influence(x, y, np.zeros(24, dtype=int), util, damping=0.0)

    def val_loss(keep):
        model = LogisticRegression(l2=l2, max_iter=200, tol=1e-10)
        model.fit(x[keep], y[keep], n_classes=3)
        return float(model.per_example_loss(xv, yv).mean())

    full = val_loss(np.ones(24, dtype=bool))
    # actual increase of validation loss when the point is removed (= decrease it brings)
    actual = np.array([val_loss(np.arange(24) != i) - full for i in range(24)])
    assert np.corrcoef(values, actual)[0, 1] > 0.9
    # sign convention: flipped (harmful) points lower, mostly negative
    assert values[flipped].mean() < 0 < values[~flipped].mean()


def test_influence_ranks_flipped_points_low_and_requires_logistic() -> None:
    rng = np.random.default_rng(17)
    x, y, xv, yv, flipped = gaussian_task(rng, 600, 300, d=4, sep=1.0, flip_rate=0.1)
    util = Utility(xv, yv, model="logistic", l2=0.01)
    values = influence(x, y, np.zeros(600, dtype=int), util)
    assert auroc(-values, flipped) >= 0.9
    with pytest.raises(AttributionError, match="model='logistic'"):
        influence(x, y, np.zeros(600, dtype=int), Utility(xv, yv))


# ------------------------------------------------------------------------ simple engines


def test_uniform_pays_each_contribution_one_unit() -> None:
    x = np.zeros((6, 1))
    owners = np.array([3, 3, 3, 1, 1, 7])
    vals = uniform(x, np.zeros(6, dtype=int), owners)
    np.testing.assert_allclose(vals, [1 / 3, 1 / 3, 1 / 3, 0.5, 0.5, 1.0])
    np.testing.assert_allclose(per_owner(vals, owners), [0, 1, 0, 1, 0, 0, 0, 1])
    batches = np.array([0, 0, 1, 2, 2, 3])  # owner 3 split into two contributions
    vb = uniform(x, np.zeros(6, dtype=int), owners, batch_ids=batches)
    np.testing.assert_allclose(per_owner(vb, owners, n_owners=9), [0, 1, 0, 2, 0, 0, 0, 1, 0])


def test_per_owner_checks_its_arguments() -> None:
    with pytest.raises(AttributionError, match="does not fit n_owners"):
        per_owner([1.0, 2.0], [0, 5], n_owners=3)
    with pytest.raises(AttributionError, match="account ids >= 0"):
        per_owner([1.0], [-1])
    assert per_owner([], [], n_owners=2).tolist() == [0.0, 0.0]


def test_retrieval_equal_and_inverse_distance_splits() -> None:
    idx = np.array([[0, 1], [1, 2], [2, 2]])
    fees = np.array([2.0, 4.0, 1.0])
    np.testing.assert_allclose(retrieval(idx, fees, 4), [1.0, 3.0, 3.0, 0.0])
    dist = np.array([[1.0, 3.0], [0.5, 0.5], [0.0, 2.0]])
    # query 0: weights 1 : 1/3 -> 1.5, 0.5; query 1: 2, 2; query 2: zero distance takes all
    np.testing.assert_allclose(
        retrieval(idx, fees, 4, "inverse_distance", dist), [1.5, 2.5, 3.0, 0.0]
    )
    np.testing.assert_allclose(retrieval(idx, 1.0, 3).sum(), 3.0)
    with pytest.raises(AttributionError, match="needs distances"):
        retrieval(idx, fees, 4, "inverse_distance")
    with pytest.raises(AttributionError, match="outside the training set"):
        retrieval(idx, fees, 2)
    with pytest.raises(AttributionError, match="one entry per query"):
        retrieval(idx, [1.0, 2.0], 4)
    with pytest.raises(AttributionError, match="'equal' or 'inverse_distance'"):
        retrieval(idx, fees, 4, "softmax")  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), q=st.integers(1, 50), k=st.integers(1, 6))
def test_retrieval_conserves_fees(seed, q, k) -> None:
    rng = np.random.default_rng(seed)
    n = 20
    idx = rng.integers(0, n, size=(q, k))
    fees = rng.uniform(0, 5, q)
    dist = rng.uniform(0, 2, size=(q, k)) * (rng.random((q, k)) > 0.1)
    for vals in (retrieval(idx, fees, n), retrieval(idx, fees, n, "inverse_distance", dist)):
        assert vals.shape == (n,) and np.all(vals >= 0)
        assert abs(vals.sum() - fees.sum()) < 1e-9 * max(1.0, fees.sum())
        assert np.all(vals[np.setdiff1d(np.arange(n), idx)] == 0)  # only answerers are paid


def test_retrieval_engine_defaults_to_validation_queries() -> None:
    rng = np.random.default_rng(1)
    x, y, xv, yv, _ = gaussian_task(rng, 50, 10)
    util = Utility(xv, yv, k=3)
    vals = compute("retrieval", x, y, np.zeros(50, dtype=int), util)
    assert abs(vals.sum() - 10.0) < 1e-12  # 10 queries x 1 token
    d2 = ((xv[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    nearest = np.argsort(d2, axis=1)[:, :3]
    np.testing.assert_allclose(vals, np.bincount(nearest.ravel(), minlength=50) / 3.0)
    log = compute(
        "retrieval",
        x,
        y,
        np.zeros(50, dtype=int),
        None,
        neighbour_idx=[[4, 5]],
        fee_per_query=[3.0],
    )
    assert log[4] == 1.5 and log[5] == 1.5 and log.sum() == 3.0


# ------------------------------------------------------------------------ registry, utility


def test_registry_dispatch_and_errors() -> None:
    assert set(ENGINES) == {
        "uniform",
        "volume",
        "retrieval",
        "loo",
        "knn_shapley",
        "tmc_shapley",
        "banzhaf",
        "influence",
    }
    rng = np.random.default_rng(0)
    x, y, xv, yv, _ = gaussian_task(rng, 40, 20)
    util = Utility(xv, yv, k=3)
    owners = np.arange(40) % 4
    np.testing.assert_array_equal(
        compute("knn_shapley", x, y, owners, util), knn_shapley(x, y, xv, yv, 3)
    )
    np.testing.assert_array_equal(
        compute("banzhaf", x, y, owners, util, rng=np.random.default_rng(1), n_samples=64),
        banzhaf(x, y, owners, util, rng=np.random.default_rng(1), n_samples=64),
    )
    for name, spec in ENGINES.items():
        u = Utility(xv, yv, model=spec.model_kind) if spec.model_kind else util
        opts = {spec.budget_option: 8} if spec.budget_option else {}
        vals = compute(name, x, y, owners, u, rng=np.random.default_rng(2), **opts)
        assert vals.dtype == np.float64 and vals.shape == (40,) and np.all(np.isfinite(vals))
        if not spec.needs_utility:  # runs without one
            compute(
                name, x, y, owners, None, **({"neighbour_idx": [[0]]} if spec.per_inference else {})
            )
    with pytest.raises(UnknownEngineError, match="unknown attribution engine 'shapley'"):
        compute("shapley", x, y, owners, util)
    with pytest.raises(AttributionError, match="does not take option"):
        compute("volume", x, y, owners, util, n_permutations=3)
    with pytest.raises(AttributionError, match="model='knn'"):
        compute("knn_shapley", x, y, owners, Utility(xv, yv, model="logistic"))
    with pytest.raises(AttributionError, match="needs a Utility"):
        compute("loo", x, y, owners, None)
    with pytest.raises(AttributionError, match="owners must be account ids"):
        compute("volume", x, y, -owners - 1, util)
    with pytest.raises(TypeError):
        ENGINES["mine"] = ENGINES["volume"]  # type: ignore[index]


def test_registry_entries_say_how_to_run_each_engine() -> None:
    """What the simulation reads instead of testing engine names."""
    assert [n for n, s in ENGINES.items() if not s.needs_utility] == [
        "uniform",
        "volume",
        "retrieval",
    ]
    assert [n for n, s in ENGINES.items() if s.per_inference] == ["retrieval"]
    assert {n: s.budget_option for n, s in ENGINES.items() if s.budget_option} == {
        "tmc_shapley": "n_permutations",
        "banzhaf": "n_samples",
    }
    assert {n: s.model_kind for n, s in ENGINES.items() if s.model_kind} == {
        "knn_shapley": "knn",
        "influence": "logistic",
    }


def test_utility_validates_fields() -> None:
    xv, yv = np.zeros((3, 2)), np.array([0, 1, 2])
    u = Utility(xv, yv)
    assert u.n_val == 3 and u.model == "knn" and u.k == 5
    assert not u.x_val.flags.writeable
    with pytest.raises(AttributionError, match="'knn' or 'logistic'"):
        Utility(xv, yv, model="forest")  # type: ignore[arg-type]
    with pytest.raises(AttributionError, match="k must be an integer >= 1"):
        Utility(xv, yv, k=0)
    with pytest.raises(AttributionError, match="validation set is empty"):
        Utility(np.zeros((0, 2)), [])
    with pytest.raises(AttributionError, match="l2"):
        Utility(xv, yv, l2=-1.0)
    with pytest.raises(AttributionError, match="features"):
        loo(np.zeros((4, 3)), [0, 1, 0, 1], [0, 0, 0, 0], u)
    with pytest.raises(AttributionError, match="n_classes=2"):
        influence(
            np.zeros((3, 2)), [0, 1, 2], [0, 0, 0], Utility(xv, yv, model="logistic", n_classes=2)
        )


# ------------------------------------------------------------------------ benchmark


def test_benchmark_small_mode_runs(capsys) -> None:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_attribution.py"
    spec = importlib.util.spec_from_file_location("bench_attribution", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--small"]) == 0
    out = capsys.readouterr().out
    assert "knn_shapley" in out and "agree" in out
    for engine in ENGINES:
        assert engine in out
