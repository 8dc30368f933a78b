"""Tests for economics.defenses.dedup: content hash, exact and near-duplicate screening."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from ledgerlab.economics.defenses import (
    CopyIndex,
    DedupParams,
    DefenseInputError,
    DefenseParamError,
    combine,
    content_hash,
    screen_duplicates,
)
from ledgerlab.economics.metrics import false_positive_rate

EMPTY_X = np.zeros((0, 2))
EMPTY_I = np.zeros(0, dtype=np.int64)
EMPTY_H = np.zeros(0, dtype=np.uint64)

# ---------------------------------------------------------------------------------------
# parameters and hash
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"near_duplicate_distance": -0.1}, "near_duplicate_distance"),
        ({"near_duplicate_distance": float("inf")}, "near_duplicate_distance"),
        ({"exact": 1}, "exact"),
        ({"near": "yes"}, "near"),
    ],
)
def test_params_validation_names_the_field(kwargs, field):
    with pytest.raises(DefenseParamError, match=f"DedupParams.{field}"):
        DedupParams(**kwargs)


def test_content_hash_identity_and_sensitivity():
    x = np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0], [-0.0, 0.0], [0.0, 0.0], [1.0, 2.0 + 1e-15]])
    h = content_hash(x)
    assert h.dtype == np.uint64
    assert h[0] == h[1]  # same content, same hash
    assert h[0] != h[2]  # permuted features differ
    assert h[3] == h[4]  # -0.0 and 0.0 are the same value
    assert h[0] != h[5]  # one ulp differs
    hy = content_hash(x, [0, 1, 0, 0, 0, 0])
    assert hy[0] != hy[1]  # the label is part of the content
    rng = np.random.default_rng(0)
    many = content_hash(rng.normal(size=(50_000, 4)), rng.integers(0, 3, 50_000))
    assert len(np.unique(many)) == 50_000


def test_content_hash_errors():
    with pytest.raises(DefenseInputError, match="x must be finite"):
        content_hash([[np.nan, 1.0]])
    with pytest.raises(DefenseInputError, match="same length"):
        content_hash([[1.0, 1.0]], [0, 1])


# ---------------------------------------------------------------------------------------
# hand-computed screening
# ---------------------------------------------------------------------------------------


def test_screen_by_hand():
    old_x = np.array([[0.0, 0.0], [10.0, 0.0]])
    old_owner = np.array([1, 2])
    new_x = np.array(
        [
            [0.0, 0.0],  # 0: exact copy of owner 1's old point            -> exact
            [10.01, 0.0],  # 1: 0.01 from owner 2's old point              -> near, 1 - 0.1
            [5.0, 5.0],  # 2: fresh                                          -> kept
            [5.05, 5.0],  # 3: 0.05 from batch point 2 (other owner)        -> near, 1 - 0.5
            [5.0, 5.0],  # 4: owner 4 re-uploads its own point 2            -> exact
            [0.05, 0.0],  # 5: 0.05 from owner 1's own old point and from the refused
            #                copy 0 (which does not count)                     -> kept
        ]
    )
    new_owner = np.array([3, 3, 4, 5, 4, 1])
    res = screen_duplicates(
        new_x,
        content_hash(new_x),
        new_owner,
        old_x,
        content_hash(old_x),
        old_owner,
        DedupParams(near_duplicate_distance=0.1),
    )
    assert res.defense == "dedup"
    np.testing.assert_array_equal(res.accept, [False, False, True, False, False, True])
    np.testing.assert_array_equal(res.flagged, ~res.accept)
    assert res.reason.tolist() == ["exact", "near", "", "near", "exact", ""]
    np.testing.assert_allclose(res.severity, [1.0, 0.9, 0.0, 0.5, 1.0, 0.0], atol=1e-12)
    assert res.counts() == {"exact": 2, "near": 2, "accepted": 2, "rejected": 4, "flagged": 4}
    tally = res.by_owner(new_owner, 6)
    np.testing.assert_array_equal(tally.rejected, [0, 0, 0, 2, 1, 1])
    np.testing.assert_array_equal(tally.submitted, [0, 1, 0, 2, 2, 1])


def test_own_reupload_of_an_accepted_point_is_an_exact_duplicate():
    old_x = np.array([[1.0, 1.0]])
    res = screen_duplicates(
        old_x, content_hash(old_x), [7], old_x, content_hash(old_x), [7], DedupParams()
    )
    assert res.reason.tolist() == ["exact"]


def test_switches():
    old_x = np.array([[0.0, 0.0]])
    new_x = np.array([[0.0, 0.0], [0.01, 0.0]])
    args = (new_x, content_hash(new_x), [2, 2], old_x, content_hash(old_x), [1])
    only_exact = screen_duplicates(*args, DedupParams(near_duplicate_distance=0.1, near=False))
    assert only_exact.reason.tolist() == ["exact", ""]
    eps_zero = screen_duplicates(*args, DedupParams(near_duplicate_distance=0.0))
    assert eps_zero.reason.tolist() == ["exact", ""]
    only_near = screen_duplicates(*args, DedupParams(near_duplicate_distance=0.1, exact=False))
    assert only_near.reason.tolist() == ["near", "near"]


def test_near_search_skips_a_crowd_of_same_owner_neighbours():
    # 20 of the querying owner's own points sit closer than the one foreign point: the
    # k-neighbour search must widen (4 -> 16 -> 21) to find the foreign one at 0.05.
    r = np.linspace(0.001, 0.02, 20)
    own = np.column_stack([r, np.zeros(20)])
    old_x = np.vstack([own, [[0.0, 0.05]], [[3.0, 3.0]]])
    old_owner = np.array([7] * 20 + [8, 9])
    new_x = np.array([[0.0, 0.0]])
    res = screen_duplicates(
        new_x,
        content_hash(new_x),
        [7],
        old_x,
        content_hash(old_x),
        old_owner,
        DedupParams(near_duplicate_distance=0.1),
        old_tree=cKDTree(old_x),
    )
    assert res.reason.tolist() == ["near"]
    assert res.severity[0] == pytest.approx(0.5, abs=1e-12)


def test_input_errors():
    x = np.array([[0.0, 0.0]])
    with pytest.raises(DefenseInputError, match="old_x has 3 features, expected 2"):
        screen_duplicates(x, [1], [0], np.zeros((1, 3)), [2], [0], DedupParams())
    with pytest.raises(DefenseInputError, match="same length"):
        screen_duplicates(x, [1, 2], [0], EMPTY_X, EMPTY_H, EMPTY_I, DedupParams())
    with pytest.raises(DefenseInputError, match="rebuild the tree"):
        screen_duplicates(
            x, [1], [0], x, [1], [0], DedupParams(), old_tree=cKDTree(np.zeros((2, 2)))
        )


def test_empty_inputs():
    res = screen_duplicates(EMPTY_X, EMPTY_H, EMPTY_I, EMPTY_X, EMPTY_H, EMPTY_I, DedupParams())
    assert res.n == 0
    x = np.array([[0.0, 0.0]])
    first = screen_duplicates(x, content_hash(x), [0], EMPTY_X, EMPTY_H, EMPTY_I, DedupParams())
    assert first.accept.tolist() == [True]


# ---------------------------------------------------------------------------------------
# properties against a brute-force reference
# ---------------------------------------------------------------------------------------

grid_points = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 3)), max_size=25
)


def _reference(new_x, new_h, new_o, old_x, old_h, old_o, eps):
    """The rule written out point by point (O(n²))."""
    reasons = []
    for i in range(len(new_x)):
        if new_h[i] in set(old_h.tolist()) or new_h[i] in set(new_h[:i].tolist()):
            reasons.append("exact")
            continue
        d_old = np.linalg.norm(old_x - new_x[i], axis=1) if len(old_x) else np.zeros(0)
        d_new = np.linalg.norm(new_x[:i] - new_x[i], axis=1)
        not_copy = np.array([r != "exact" for r in reasons], dtype=bool)
        near_old = np.any((d_old < eps) & (old_o != new_o[i]))
        near_new = np.any((d_new < eps) & (new_o[:i] != new_o[i]) & not_copy)
        reasons.append("near" if (near_old or near_new) else "")
    return reasons


@settings(max_examples=150, deadline=None)
@given(new=grid_points, old=grid_points, use_tree=st.booleans())
def test_matches_brute_force_and_never_flags_a_first_occurrence(new, old, use_tree):
    eps = 1.5  # grid distances are sqrt(integers): never equal to eps
    new_x = np.array([p[:2] for p in new], dtype=float).reshape(-1, 2)
    new_o = np.array([p[2] for p in new], dtype=np.int64)
    old_x = np.array([p[:2] for p in old], dtype=float).reshape(-1, 2)
    old_o = np.array([p[2] for p in old], dtype=np.int64)
    new_h = content_hash(new_x)
    old_h = content_hash(old_x)
    tree = cKDTree(old_x) if (use_tree and len(old_x)) else None
    res = screen_duplicates(
        new_x,
        new_h,
        new_o,
        old_x,
        old_h,
        old_o,
        DedupParams(near_duplicate_distance=eps),
        old_tree=tree,
    )
    assert res.reason.tolist() == _reference(new_x, new_h, new_o, old_x, old_h, old_o, eps)
    # the first occurrence of content that is new to the datanet is never an exact duplicate
    _, first = np.unique(new_h, return_index=True)
    fresh_first = first[~np.isin(new_h[first], old_h)]
    assert not np.any(res.has_reason("exact")[fresh_first])
    # composition with itself changes nothing
    twice = combine([res, res])
    np.testing.assert_array_equal(twice.accept, res.accept)
    assert twice.reason.tolist() == res.reason.tolist()


# ---------------------------------------------------------------------------------------
# false-positive cost on honest data, and detection of farmers
# ---------------------------------------------------------------------------------------


def _gaussian_mixture(rng, n, d=8, n_classes=3, separation=2.0):
    means = rng.normal(size=(n_classes, d))
    means *= separation / np.linalg.norm(means[0] - means[1])
    y = rng.integers(0, n_classes, n)
    return means[y] + rng.normal(size=(n, d)), y


def test_false_positive_rate_on_honest_data_is_zero_and_copies_are_caught():
    rng = np.random.default_rng(2024)
    x, _ = _gaussian_mixture(rng, 12_000)
    owner = rng.integers(0, 400, 12_000)
    old_x, old_o = x[:10_000], owner[:10_000]
    honest_x, honest_o = x[10_000:], owner[10_000:]
    # farmers (owners 1000+) re-upload 100 accepted points and jitter 100 more by ~1e-3
    copies = old_x[:100]
    jitter = old_x[100:200] + rng.normal(scale=1e-3, size=(100, 8))
    new_x = np.vstack([honest_x, copies, jitter])
    new_o = np.concatenate([honest_o, rng.integers(1_000, 1_010, 200)])
    is_farm = np.r_[np.zeros(2_000, bool), np.ones(200, bool)]
    res = screen_duplicates(
        new_x, content_hash(new_x), new_o, old_x, np.sort(content_hash(old_x)), old_o,
        DedupParams(),
    )  # fmt: skip
    assert false_positive_rate(res.flagged, is_farm) < 0.001
    assert res.flagged[is_farm].all()
    assert res.counts()["exact"] == 100 and res.counts()["near"] == 100


# ---------------------------------------------------------------------------------------
# the ground truth's copy index
# ---------------------------------------------------------------------------------------


def brute_copies(earlier_x, earlier_y, x, y, radius):
    """A point is a copy when an earlier point (indexed, or earlier in the batch) with the
    same label lies closer than ``radius``."""
    out = []
    for i in range(len(x)):
        ref_x = np.vstack([earlier_x, x[:i]])
        ref_y = np.concatenate([earlier_y, y[:i]])
        d = np.sqrt(((ref_x - x[i]) ** 2).sum(axis=1))
        out.append(bool(np.any((d < radius) & (ref_y == y[i]))))
    return np.array(out, dtype=bool)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), radius=st.floats(0.05, 0.6))
def test_copy_index_matches_brute_force_over_many_batches(seed, radius) -> None:
    rng = np.random.default_rng(seed)
    index = CopyIndex(radius)
    seen_x, seen_y = np.zeros((0, 2)), np.zeros(0, dtype=np.int64)
    for _ in range(12):  # enough batches to merge the forest's trees several times
        n = int(rng.integers(0, 25))
        x = rng.uniform(0, 3, size=(n, 2))
        y = rng.integers(0, 2, n)
        if seen_x.shape[0] and n:  # some exact and near copies of earlier points
            pick = rng.integers(0, seen_x.shape[0], size=n // 3)
            x[: n // 3] = seen_x[pick] + rng.normal(0, radius / 4, size=(n // 3, 2))
            y[: n // 3] = seen_y[pick]
        np.testing.assert_array_equal(
            index.copies(x, y), brute_copies(seen_x, seen_y, x, y, radius)
        )
        index.add(x, y)
        seen_x, seen_y = np.vstack([seen_x, x]), np.concatenate([seen_y, y])
    assert index.size == seen_x.shape[0]


def test_copy_index_same_place_other_label_is_not_a_copy_and_owner_does_not_matter() -> None:
    index = CopyIndex(0.1)
    index.add([[0.0, 0.0], [5.0, 5.0]], [0, 1])
    got = index.copies(
        [[0.0, 0.0], [5.0, 5.0], [0.05, 0.0], [9.0, 9.0], [9.0, 9.01]], [1, 1, 0, 2, 2]
    )
    np.testing.assert_array_equal(got, [False, True, True, False, True])
    with pytest.raises(DefenseInputError, match="radius"):
        CopyIndex(0.0)
