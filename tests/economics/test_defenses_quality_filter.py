"""Tests for economics.defenses.quality_filter: kNN label agreement and MAD robust z-scores."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.spatial import cKDTree

from ledgerlab.economics.defenses import (
    DefenseInputError,
    DefenseParamError,
    QualityFilterParams,
    label_agreement,
    robust_stats,
    robust_z,
    screen_quality,
)
from ledgerlab.economics.defenses.quality_filter import MAD_TO_SIGMA, MEAN_AD_TO_SIGMA
from ledgerlab.economics.metrics import false_positive_rate

# ---------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"knn_k": 0}, "knn_k"),
        ({"min_label_agreement": 1.1}, "min_label_agreement"),
        ({"max_robust_z": 0.0}, "max_robust_z"),
        ({"min_reference_points": 3, "knn_k": 5}, "min_reference_points"),
    ],
)
def test_params_validation_names_the_field(kwargs, field):
    with pytest.raises(DefenseParamError, match=f"QualityFilterParams.{field}"):
        QualityFilterParams(**kwargs)


def test_constants_are_the_normal_consistency_factors():
    from scipy.stats import norm

    assert pytest.approx(1.0 / norm.ppf(0.75), abs=1e-4) == MAD_TO_SIGMA
    assert pytest.approx(np.sqrt(np.pi / 2.0), abs=1e-6) == MEAN_AD_TO_SIGMA


# ---------------------------------------------------------------------------------------
# hand-computed robust z
# ---------------------------------------------------------------------------------------


def test_robust_z_by_hand():
    # feature 0: median 3, |dev| = 2,1,0,1,97 -> MAD 1 -> scale 1.4826
    # feature 1: constant 5 -> scale 0: z = 0 at 5, inf elsewhere
    # feature 2: 0,0,0,0,10 -> MAD 0, mean |dev| 2 -> scale 1.253314·2
    ref = np.array([[1, 5, 0], [2, 5, 0], [3, 5, 0], [4, 5, 0], [100, 5, 10]], dtype=float)
    stats = robust_stats(ref)
    np.testing.assert_array_equal(stats.median, [3.0, 5.0, 0.0])
    np.testing.assert_allclose(stats.scale, [1.4826, 0.0, 2.506628], rtol=1e-15)
    z = robust_z([[9.0, 5.0, 5.0], [3.0, 5.5, 0.0]], stats)
    np.testing.assert_allclose(z[0], [6.0 / 1.4826, 0.0, 5.0 / 2.506628], rtol=1e-15)
    assert z[1, 0] == 0.0 and z[1, 1] == np.inf and z[1, 2] == 0.0


def test_robust_stats_errors():
    with pytest.raises(DefenseInputError, match="empty"):
        robust_stats(np.zeros((0, 2)))
    with pytest.raises(DefenseInputError, match="expected 3"):
        robust_z([[1.0, 2.0]], robust_stats(np.ones((4, 3))))


# ---------------------------------------------------------------------------------------
# hand-computed screening
# ---------------------------------------------------------------------------------------

REF_X = np.arange(10, dtype=float)[:, None]  # points 0..9 on a line
REF_Y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
HAND = QualityFilterParams(
    knn_k=3, min_label_agreement=0.5, max_robust_z=3.5, min_reference_points=5
)


def test_label_agreement_by_hand():
    # 4.4: neighbours 4 (0), 5 (1), 3 (0) -> 2/3 for label 0, 1/3 for label 1
    # 0.2: neighbours 0, 1, 2 (all 0) -> 0 for label 1
    got = label_agreement([[4.4], [4.4], [0.2]], [0, 1, 1], REF_Y, cKDTree(REF_X), 3)
    np.testing.assert_allclose(got, [2 / 3, 1 / 3, 0.0], rtol=1e-15)
    with pytest.raises(DefenseInputError, match="k=11"):
        label_agreement([[1.0]], [0], REF_Y, cKDTree(REF_X), 11)


def test_screen_by_hand():
    # reference median 4.5, MAD 2.5 -> scale 3.7065; 30 is 25.5/3.7065 = 6.88 sigma away
    new_x = [[4.4], [4.4], [0.2], [30.0], [8.9]]
    new_y = [0, 1, 1, 1, 1]
    res = screen_quality(new_x, new_y, REF_X, REF_Y, HAND)
    assert res.defense == "quality_filter"
    np.testing.assert_array_equal(res.accept, [True, False, False, False, True])
    assert res.reason.tolist() == ["", "label", "label", "outlier", ""]
    np.testing.assert_allclose(res.severity, [1 / 3, 2 / 3, 1.0, 1.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(res.slash_severity, [0.0, 2 / 3, 1.0, 1.0, 0.0], atol=1e-15)


def test_cold_start_accepts_everything():
    p = QualityFilterParams(knn_k=3, min_reference_points=11)
    res = screen_quality([[0.2], [100.0]], [1, 1], REF_X, REF_Y, p)
    assert res.accept.all() and not res.flagged.any() and not res.severity.any()


def test_precomputed_tree_and_stats_give_identical_results():
    rng = np.random.default_rng(3)
    rx = rng.normal(size=(300, 3))
    ry = (rx[:, 0] > 0).astype(np.int64)
    nx = rng.normal(size=(50, 3)) * 2
    ny = rng.integers(0, 2, 50)
    p = QualityFilterParams()
    a = screen_quality(nx, ny, rx, ry, p)
    b = screen_quality(nx, ny, rx, ry, p, ref_tree=cKDTree(rx), ref_stats=robust_stats(rx))
    np.testing.assert_array_equal(a.accept, b.accept)
    np.testing.assert_array_equal(a.severity, b.severity)
    with pytest.raises(DefenseInputError, match="rebuild the tree"):
        screen_quality(nx, ny, rx, ry, p, ref_tree=cKDTree(rx[:10]))


def test_input_errors():
    with pytest.raises(DefenseInputError, match="same length"):
        screen_quality([[1.0]], [0, 1], REF_X, REF_Y, HAND)
    with pytest.raises(DefenseInputError, match="new_y must hold integers"):
        screen_quality([[1.0]], [0.5], REF_X, REF_Y, HAND)


@settings(max_examples=60, deadline=None)
@given(
    new=hnp.arrays(np.float64, (12, 2), elements=st.floats(-5, 5)),
    labels=hnp.arrays(np.int64, 12, elements=st.integers(0, 2)),
)
def test_severity_is_one_minus_agreement_and_flags_follow_the_thresholds(new, labels):
    rng = np.random.default_rng(0)
    rx = rng.normal(size=(60, 2))
    ry = rng.integers(0, 3, 60)
    p = QualityFilterParams(knn_k=5, min_label_agreement=0.4, max_robust_z=2.0)
    res = screen_quality(new, labels, rx, ry, p)
    agree = label_agreement(new, labels, ry, cKDTree(rx), 5)
    zmax = robust_z(new, robust_stats(rx)).max(axis=1)
    out = zmax > 2.0
    np.testing.assert_array_equal(res.flagged, out | (agree < 0.4))
    np.testing.assert_allclose(res.severity, np.where(out, 1.0, 1.0 - agree), atol=1e-15)
    assert np.all((res.severity >= 0) & (res.severity <= 1))


# ---------------------------------------------------------------------------------------
# false-positive cost on honest data, and detection
# ---------------------------------------------------------------------------------------


def _gaussian_mixture(rng, n, means):
    y = rng.integers(0, len(means), n)
    return means[y] + rng.normal(size=(n, means.shape[1])), y


def _means(rng, separation, d=8, n_classes=3):
    m = rng.normal(size=(n_classes, d))
    return m * separation / np.linalg.norm(m[0] - m[1])


def test_false_positive_rate_on_clean_honest_data_is_below_ten_percent():
    rng = np.random.default_rng(11)
    means = _means(rng, separation=4.0)
    ref_x, ref_y = _gaussian_mixture(rng, 5_000, means)
    new_x, new_y = _gaussian_mixture(rng, 2_000, means)
    # label-flip poisoner and junk: 200 flipped labels, 100 uniform-noise points
    flip_x, flip_y = _gaussian_mixture(rng, 200, means)
    flip_y = (flip_y + 1) % 3
    junk_x = rng.uniform(-25, 25, size=(100, 8))
    junk_y = rng.integers(0, 3, 100)
    x = np.vstack([new_x, flip_x, junk_x])
    y = np.concatenate([new_y, flip_y, junk_y])
    is_adv = np.r_[np.zeros(2_000, bool), np.ones(300, bool)]
    res = screen_quality(x, y, ref_x, ref_y, QualityFilterParams())
    fpr = false_positive_rate(res.rejected, is_adv)
    assert fpr < 0.10
    assert res.flagged[2_000:2_200].mean() > 0.8  # flipped labels
    assert res.has_reason("outlier")[2_200:].mean() > 0.9  # junk


def test_class_overlap_is_the_false_positive_mode():
    # the same honest data gets rejected more as classes overlap; a lower agreement
    # threshold buys the false positives back (at the cost of detection)
    fprs = []
    for sep in (2.0, 4.0, 8.0):
        rng = np.random.default_rng(5)
        means = _means(rng, sep)
        ref_x, ref_y = _gaussian_mixture(rng, 3_000, means)
        new_x, new_y = _gaussian_mixture(rng, 1_000, means)
        fprs.append(screen_quality(new_x, new_y, ref_x, ref_y, QualityFilterParams()).rejected)
    rates = [f.mean() for f in fprs]
    assert rates[0] > rates[1] > rates[2]
    rng = np.random.default_rng(5)
    means = _means(rng, 2.0)
    ref_x, ref_y = _gaussian_mixture(rng, 3_000, means)
    new_x, new_y = _gaussian_mixture(rng, 1_000, means)
    lenient = QualityFilterParams(knn_k=10, min_label_agreement=0.2)
    assert screen_quality(new_x, new_y, ref_x, ref_y, lenient).rejected.mean() < rates[0]
