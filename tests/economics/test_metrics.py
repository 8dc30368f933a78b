"""Tests for economics.metrics: hand-computed reference values, properties, errors.

Every exact reference value below is worked out by hand in the comment next to it (or
is a standard published figure, e.g. 1 % a month compounds to 12.68 % a year), never
taken from the code under test. Properties are checked with hypothesis against naive
O(n²) pair counts and against scipy.stats.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ledgerlab.economics import metrics as m
from ledgerlab.economics.metrics import MetricInputError

# ------------------------------------------------------------------------- strategies

small_ints = st.integers(min_value=-3, max_value=3)  # many ties on purpose
# tiny magnitudes are mapped to 0 so that scaling by c in [1e-3, 1e3] cannot underflow
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False).map(
    lambda v: v if abs(v) >= 1e-100 else 0.0
)
nonneg = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False).map(
    lambda v: v if v >= 1e-100 else 0.0
)


@st.composite
def paired(draw, elements=small_ints, min_size=0, max_size=30):
    """Two equal-length float arrays."""
    n = draw(st.integers(min_value=min_size, max_value=max_size))
    a = draw(arrays(np.float64, n, elements=elements))
    b = draw(arrays(np.float64, n, elements=elements))
    return a, b


# --------------------------------------------------------------------- naive references


def naive_envy(r: np.ndarray, phi: np.ndarray) -> float:
    """#{(i, j): φ_i > φ_j and r_i < r_j} / #{{i, j}: φ_i ≠ φ_j}, all pairs."""
    envy = comparable = 0
    for i, j in itertools.combinations(range(len(r)), 2):
        if phi[i] == phi[j]:
            continue
        comparable += 1
        hi, lo = (i, j) if phi[i] > phi[j] else (j, i)
        envy += r[hi] < r[lo]
    return envy / comparable if comparable else math.nan


def naive_auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """P(s_pos > s_neg) + ½ P(s_pos = s_neg) over all positive-negative pairs."""
    pos = scores[labels]
    neg = scores[~labels]
    if pos.size == 0 or neg.size == 0:
        return math.nan
    total = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p in pos for q in neg)
    return total / (pos.size * neg.size)


def naive_inversions(s: np.ndarray) -> int:
    return sum(int(s[i] > s[j]) for i, j in itertools.combinations(range(len(s)), 2))


def same(x: float, y: float, tol: float = 1e-12) -> bool:
    """Equal within tol, with nan == nan."""
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return abs(x - y) <= tol


# ------------------------------------------------------------------- spearman, kendall


def test_spearman_hand_values():
    # No ties: d = rank(a) - rank(b) = [-1, 1, -1, 1, 0], Σd² = 4,
    # ρ = 1 - 6·4 / (5·(25-1)) = 1 - 24/120 = 0.8.
    assert m.spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8, abs=1e-15)
    # Ties: ranks a = [1,2,3,4], b = [1,1,2,3] -> [1.5,1.5,3,4]; centred (mean 2.5):
    # a' = [-1.5,-.5,.5,1.5], b' = [-1,-1,.5,1.5]; Σa'b' = 1.5+.5+.25+2.25 = 4.5,
    # Σa'² = 5, Σb'² = 4.5 -> ρ = 4.5 / sqrt(22.5) = sqrt(0.9).
    assert m.spearman([1, 2, 3, 4], [1, 1, 2, 3]) == pytest.approx(math.sqrt(0.9), abs=1e-15)
    assert m.spearman([3, 1, 2], [30, 10, 20]) == 1.0
    assert m.spearman([3, 1, 2], [-30, -10, -20]) == -1.0


def test_kendall_hand_values():
    # No ties: pairs of [2,1,4,3,5] against 1..5: discordant (1,2) and (3,4): n_d = 2,
    # n_c = 10 - 2 = 8, τ = (8 - 2) / 10 = 0.6.
    assert m.kendall_tau_b([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.6, abs=1e-15)
    # Ties in b: b = [1,1,2,3]; pair (1,2) tied in b, other 5 concordant:
    # n_0 = 6, n_1 = 0, n_2 = 1, τ_b = 5 / sqrt(6·5) = 5 / sqrt(30).
    assert m.kendall_tau_b([1, 2, 3, 4], [1, 1, 2, 3]) == pytest.approx(
        5 / math.sqrt(30), abs=1e-15
    )
    # Ties in both: a = [1,1,2,2], b = [1,2,1,2]: pairs (1,2) tied a, (3,4) tied a,
    # (1,3) tied b, (2,4) tied b, (1,4) concordant, (2,3) discordant:
    # n_c - n_d = 0 -> τ_b = 0.
    assert m.kendall_tau_b([1, 1, 2, 2], [1, 2, 1, 2]) == 0.0


@pytest.mark.parametrize("func", [m.spearman, m.kendall_tau_b])
def test_rank_correlations_undefined_is_nan(func):
    assert math.isnan(func([], []))
    assert math.isnan(func([1.0], [2.0]))
    assert math.isnan(func([1, 1, 1], [1, 2, 3]))  # no variance in a
    assert math.isnan(func([1, 2, 3], [5, 5, 5]))  # no variance in b


@settings(max_examples=60, deadline=None)
@given(paired(min_size=2, max_size=40))
def test_spearman_and_kendall_match_scipy(ab):
    a, b = ab
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        assert math.isnan(m.spearman(a, b)) and math.isnan(m.kendall_tau_b(a, b))
        return
    assert same(m.spearman(a, b), scipy.stats.spearmanr(a, b).statistic)
    assert same(m.kendall_tau_b(a, b), scipy.stats.kendalltau(a, b).statistic)


@settings(max_examples=50, deadline=None)
@given(paired(elements=finite, min_size=2, max_size=40))
def test_spearman_and_kendall_match_scipy_continuous(ab):
    a, b = ab
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return
    assert same(m.spearman(a, b), scipy.stats.spearmanr(a, b).statistic)
    assert same(m.kendall_tau_b(a, b), scipy.stats.kendalltau(a, b).statistic)


def test_kendall_matches_scipy_large_with_ties():
    # 20,001 points: many merge levels, a non-power-of-two length, heavy ties.
    rng = np.random.default_rng(7)
    a = rng.integers(0, 50, 20_001).astype(float)
    b = a + rng.integers(0, 30, a.size)
    assert m.kendall_tau_b(a, b) == pytest.approx(scipy.stats.kendalltau(a, b).statistic, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(arrays(np.int64, st.integers(0, 40), elements=st.integers(0, 6)))
def test_inversion_kernel_matches_naive(s):
    assert m._count_inversions(s) == naive_inversions(s)


# ------------------------------------------------------------------------------- gini


def test_gini_hand_values():
    # x = [1,2,3,4]: C = [1,3,6,10], ΣC = 20, G = (5 - 2·20/10)/4 = 0.25.
    # Cross-check: Σ_i Σ_j |x_i - x_j| = 20, 2n²x̄ = 2·16·2.5 = 80 -> 0.25.
    assert m.gini([4, 2, 1, 3]) == pytest.approx(0.25, abs=1e-15)
    # One holder of everything: C = [0,0,0,1], G = (5 - 2·1)/4 = 0.75 = 1 - 1/4.
    assert m.gini([0, 0, 7, 0]) == pytest.approx(0.75, abs=1e-15)
    # x = [0, 1]: C = [0, 1], G = (3 - 2)/2 = 0.5.
    assert m.gini([1, 0]) == pytest.approx(0.5, abs=1e-15)
    assert m.gini([3, 3, 3]) == 0.0
    assert m.gini([0, 0]) == 0.0  # all equal (nobody has anything): documented 0
    assert math.isnan(m.gini([]))


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 50), elements=nonneg),
    st.floats(min_value=1e-3, max_value=1e3),
)
def test_gini_bounds_and_scale_invariance(x, c):
    g = m.gini(x)
    n = x.size
    assert 0.0 <= g <= 1.0 - 1.0 / n
    if x.sum() > 0:
        assert m.gini(x * c) == pytest.approx(g, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(1, 25), elements=nonneg))
def test_gini_equals_mean_absolute_difference(x):
    if x.sum() == 0:
        return
    mad = np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size**2 * x.mean())
    assert m.gini(x) == pytest.approx(mad, abs=1e-9)


# --------------------------------------------------------------------------- nakamoto


def test_nakamoto_hand_values():
    # sorted [.4,.3,.2,.1]: top-1 = .4 ≤ .5, top-2 = .7 > .5 -> 2.
    assert m.nakamoto([0.1, 0.4, 0.2, 0.3]) == 2.0
    assert m.nakamoto([1, 4, 2, 3]) == 2.0  # unnormalised: same shares
    # threshold 1/3: top-1 = .4 > 1/3 -> 1.
    assert m.nakamoto([0.1, 0.4, 0.2, 0.3], threshold=1 / 3) == 1.0
    # exactly half is not a majority: [.5, .5] -> 2; [1,1,1,1] top-2 = .5 -> 3.
    assert m.nakamoto([0.5, 0.5]) == 2.0
    assert m.nakamoto([1, 1, 1, 1]) == 3.0
    assert m.nakamoto([0, 0, 5]) == 1.0
    assert math.isnan(m.nakamoto([]))
    assert math.isnan(m.nakamoto([0.0, 0.0]))


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 40), elements=nonneg),
    st.floats(min_value=0.0, max_value=0.99),
)
def test_nakamoto_bounds_and_definition(s, t):
    n_pos = int(np.count_nonzero(s))
    k = m.nakamoto(s, threshold=t)
    if n_pos == 0:
        assert math.isnan(k)
        return
    assert k == int(k)
    k = int(k)
    assert 1 <= k <= n_pos
    assert k <= math.floor(t * s.size) + 1  # top-k average >= overall average
    frac = np.cumsum(np.sort(s)[::-1]) / s.sum()
    assert frac[k - 1] > t - 1e-12
    if k > 1:
        assert frac[k - 2] <= t + 1e-12


@pytest.mark.parametrize("t", [-0.1, 1.0, 1.5, math.nan])
def test_nakamoto_bad_threshold(t):
    with pytest.raises(MetricInputError, match="nakamoto: threshold"):
        m.nakamoto([1, 2], threshold=t)


# ------------------------------------------------------------------ adversary capture


def test_adversary_capture_hand_values():
    # reward share adv = 30/100 = .3; φ⁺ = [1,1,2], adv share = 1/4 -> A = 1.2.
    assert m.adversary_capture([10, 30, 60], [1, 1, 2], [False, True, False]) == (
        pytest.approx(1.2, abs=1e-15)
    )
    # negative value counts as 0: φ⁺ = [1,0,1,2], adv {1,2}: 1/4; rewards 50/100 -> 2.
    assert m.adversary_capture([10, 20, 30, 40], [1, -5, 1, 2], [0, 1, 1, 0]) == (
        pytest.approx(2.0, abs=1e-15)
    )


def test_adversary_capture_zero_positive_value_conventions():
    # adversary has no positive value but is paid -> inf
    assert m.adversary_capture([1, 1], [2, -1], [False, True]) == math.inf
    # ... and is not paid -> 0
    assert m.adversary_capture([1, 0], [2, -1], [False, True]) == 0.0
    # nobody is an adversary -> 0
    assert m.adversary_capture([1, 1], [2, 1], [False, False]) == 0.0
    # floor: reward share 1/5 = .2, value share 0 floored to .1 -> 2
    assert m.adversary_capture([4, 1], [2, -1], [False, True], min_value_share=0.1) == (
        pytest.approx(2.0, abs=1e-15)
    )
    # undefined shares
    assert math.isnan(m.adversary_capture([0, 0], [2, 1], [False, True]))
    assert math.isnan(m.adversary_capture([1, 1], [-2, 0], [False, True]))


def test_adversary_capture_rejects_negative_reward_and_bad_floor():
    with pytest.raises(MetricInputError, match="adversary_capture: rewards must be non-neg"):
        m.adversary_capture([1, -1], [1, 1], [True, False])
    with pytest.raises(MetricInputError, match="min_value_share"):
        m.adversary_capture([1, 1], [1, 1], [True, False], min_value_share=2.0)


# ---------------------------------------------------------------- proportionality gap


def test_proportionality_gap_hand_values():
    # reward shares [.25,.25,.5]; φ⁺ = [1,3,0]/4 = [.25,.75,0];
    # ½(|0| + |-.5| + |.5|) = .5
    assert m.proportionality_gap([1, 1, 2], [1, 3, -2]) == pytest.approx(0.5, abs=1e-15)
    # all reward to the only non-valuable individual -> 1
    assert m.proportionality_gap([0, 5], [1, -1]) == 1.0
    assert math.isnan(m.proportionality_gap([0, 0], [1, 1]))
    assert math.isnan(m.proportionality_gap([1, 1], [-1, 0]))


@settings(max_examples=60, deadline=None)
@given(paired(elements=finite, min_size=1, max_size=30))
def test_proportionality_gap_in_unit_interval(ab):
    r, phi = np.abs(ab[0]), ab[1]
    g = m.proportionality_gap(r, phi)
    if r.sum() == 0 or np.maximum(phi, 0).sum() == 0:
        assert math.isnan(g)
    else:
        assert 0.0 <= g <= 1.0


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.integers(1, 30), elements=finite),
    st.floats(min_value=1e-3, max_value=1e3),
)
def test_proportionality_gap_zero_when_proportional(phi, c):
    pos = np.maximum(phi, 0)
    if pos.sum() == 0:
        return
    assert m.proportionality_gap(c * pos, phi) == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------------------- envy rate


def test_envy_rate_hand_values():
    # reward falls as value rises: all 3 comparable pairs envious -> 1.
    assert m.envy_rate([3, 2, 1], [1, 2, 3]) == 1.0
    # φ = [1,2,3,3], r = [1,3,2,5]: the (3,3) pair is not comparable -> 5 pairs;
    # envious: only (φ=3,r=2) vs (φ=2,r=3) -> 1/5.
    assert m.envy_rate([1, 3, 2, 5], [1, 2, 3, 3]) == pytest.approx(0.2, abs=1e-15)
    # equal reward for unequal value is not envy
    assert m.envy_rate([1, 1], [1, 2]) == 0.0
    assert math.isnan(m.envy_rate([1, 2], [4, 4]))  # no comparable pair
    assert math.isnan(m.envy_rate([], []))


@settings(max_examples=60, deadline=None)
@given(paired(min_size=0, max_size=30))
def test_envy_rate_matches_naive_pairs(ab):
    r, phi = ab
    assert same(m.envy_rate(r, phi), naive_envy(r, phi))


@settings(max_examples=50, deadline=None)
@given(paired(elements=finite, min_size=0, max_size=30))
def test_envy_rate_matches_naive_pairs_continuous(ab):
    r, phi = ab
    assert same(m.envy_rate(r, phi), naive_envy(r, phi))


# --------------------------------------------------------------- detection and auroc


def test_detection_precision_recall_and_fpr_hand_values():
    flagged = [True, True, True, False, False]
    adv = [True, False, False, False, True]
    # TP = 1 (idx 0), FP = 2 (idx 1, 2), FN = 1 (idx 4): p = 1/3, r = 1/2.
    p, r = m.detection_precision_recall(flagged, adv)
    assert p == pytest.approx(1 / 3, abs=1e-15) and r == 0.5
    # honest = idx 1,2,3; flagged among them = 1,2 -> 2/3.
    assert m.false_positive_rate(flagged, adv) == pytest.approx(2 / 3, abs=1e-15)
    # 0/1 integers are accepted as masks
    assert m.detection_precision_recall([1, 0], [1, 1]) == (1.0, 0.5)


def test_detection_undefined_is_nan():
    p, r = m.detection_precision_recall([False, False], [True, False])
    assert math.isnan(p) and r == 0.0
    p, r = m.detection_precision_recall([True, False], [False, False])
    assert p == 0.0 and math.isnan(r)
    assert math.isnan(m.false_positive_rate([True, True], [True, True]))


def test_auroc_hand_values():
    # pos {.35, .8} vs neg {.1, .4}: .35>.1, .35<.4, .8>.1, .8>.4 -> 3/4.
    assert m.auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    # tie: pos {1, 2} vs neg {1}: ½ + 1 = 1.5 of 2 pairs -> .75.
    assert m.auroc([1, 1, 2], [False, True, True]) == 0.75
    # "lowest values find the poisoned points": values [-.2, .3, .1, -.05], poisoned
    # {0, 3}; scores = -values = [.2, -.3, -.1, .05]: both poisoned above both clean -> 1.
    assert m.auroc(-np.array([-0.2, 0.3, 0.1, -0.05]), [1, 0, 0, 1]) == 1.0
    assert math.isnan(m.auroc([1, 2], [True, True]))
    assert math.isnan(m.auroc([1, 2], [False, False]))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 30).flatmap(
        lambda n: st.tuples(
            arrays(np.float64, n, elements=small_ints), arrays(np.bool_, n, elements=st.booleans())
        )
    )
)
def test_auroc_matches_naive_pairs(sl):
    s, y = sl
    assert same(m.auroc(s, y), naive_auroc(s, y))


# ------------------------------------------------------------------------- ground truth


def test_ground_truth_values_hand_computed_shapley():
    # Two training points on a line, K = 1, one validation point at 0.2 labelled 1.
    # u(∅) = 0, u({a}) = 1 (a at 0 has label 1), u({b}) = 0, u({a, b}) = 1 (a is nearest).
    # Shapley: φ_a = ½[(u(a) − u(∅)) + (u(ab) − u(b))] = 1, φ_b = ½[(u(b) − u(∅)) +
    # (u(ab) − u(a))] = 0.
    out = m.ground_truth_values([[0.0], [1.0]], [1, 0], [[0.2]], [1], 1)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [1.0, 0.0], atol=1e-15)
    # A flipped label on the useful point makes it worthless and the other point gains
    # nothing: u(a) = 0, u(b) = 0 (b has label 0 ≠ 1), u(ab) = 0.
    np.testing.assert_allclose(
        m.ground_truth_values([[0.0], [1.0]], [0, 0], [[0.2]], [1], 1), [0.0, 0.0], atol=1e-15
    )


@pytest.mark.parametrize(
    ("xt", "yt", "xv", "yv", "k", "msg"),
    [
        ([0.0, 1.0], [0, 1], [[0.0]], [0], 1, "must be 2-D"),
        ([[0.0], [1.0]], [0, 1], [[0.0, 1.0]], [0], 1, "same number of features"),
        ([[0.0], [1.0]], [0], [[0.0]], [0], 1, "labels must be 1-D"),
        ([[0.0], [1.0]], [0, 1], np.zeros((0, 1)), [], 1, "x_val is empty"),
        ([[0.0], [1.0]], [0, 1], [[0.0]], [0], 0, "k must be an integer >= 1"),
        ([[0.0], [1.0]], [0, 1], [[0.0]], [0], 1.5, "k must be an integer >= 1"),
        ([[0.0], [1.0]], [0, 1], [[0.0]], [0], None, "k must be an integer >= 1"),
    ],
)
def test_ground_truth_values_input_errors(xt, yt, xv, yv, k, msg):
    with pytest.raises(MetricInputError, match=msg):
        m.ground_truth_values(xt, yt, xv, yv, k)


# ------------------------------------------------------------------- supply & market


def test_supply_and_market_hand_values():
    # (1010 - 1000) / 1000 = 1 %
    assert m.inflation(1000.0, 1010.0) == pytest.approx(0.01, abs=1e-15)
    np.testing.assert_allclose(
        m.inflation([100.0, 200.0, 0.0], [110.0, 190.0, 5.0]), [0.1, -0.05, np.nan]
    )
    # 1 % a month compounds to 1.01^12 - 1 = 0.126825030131969720661201 a year.
    assert m.annualise(0.01, 12) == pytest.approx(0.12682503013196972, rel=1e-15)
    # 0.1 % a day: 1.001^365 - 1 = 0.440251313429578361... (exact decimal expansion)
    assert m.annualise(0.001) == pytest.approx(0.44025131342957836, rel=1e-14)
    np.testing.assert_allclose(m.annualise([-1.0, 0.0], 12), [-1.0, 0.0])
    assert m.market_cap(2.5, 1e8) == 2.5e8  # 2.5 USD × 100 M tokens
    assert m.fdv(2.5, 1e9) == 2.5e9  # 2.5 USD × 1 B tokens
    # 100 tokens/day to stakers on 365,000 staked: 100·365/365,000 = 10 % a year
    assert m.real_yield(100.0, 365_000.0, 365) == pytest.approx(0.1, abs=1e-15)
    assert math.isnan(m.real_yield(1.0, 0.0))
    assert m.staking_ratio(40.0, 160.0) == 0.25
    assert math.isnan(m.staking_ratio(0.0, 0.0))


def test_scalar_in_scalar_out_array_in_array_out():
    assert isinstance(m.inflation(1.0, 2.0), float)
    out = m.market_cap(np.array([1.0, 2.0]), 10.0)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64
    np.testing.assert_array_equal(out, [10.0, 20.0])


def test_circulating_supply_hand_value():
    # accounts 0..3, account 3 is a protocol pool (excluded);
    # (100 + 0 + 5) + (50 + 25 + 0) + (0 + 10 + 0) = 190; locked 500 never counts.
    kw = dict(
        balance=[100, 50, 0, 1000],
        staked=[0, 25, 10, 0],
        bonded=[5, 0, 0, 0],
        locked=[0, 0, 500, 0],
    )
    assert m.circulating_supply(**kw, exclude_accounts=[3]) == 190.0
    assert m.circulating_supply(**kw) == 1190.0
    with pytest.raises(MetricInputError, match=r"exclude_accounts must be account ids in \[0, 4\)"):
        m.circulating_supply(**kw, exclude_accounts=[4])


def test_supply_input_errors():
    with pytest.raises(MetricInputError, match="inflation: supply_prev must be non-negative"):
        m.inflation(-1.0, 1.0)
    with pytest.raises(MetricInputError, match="annualise: epochs_per_year"):
        m.annualise(0.01, 0)
    with pytest.raises(MetricInputError, match="annualise: rate_per_epoch"):
        m.annualise(-1.5, 12)
    with pytest.raises(MetricInputError, match="market_cap: argument shapes do not match"):
        m.market_cap([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(MetricInputError, match="real_yield: staked_tokens must be finite"):
        m.real_yield(1.0, math.inf)
    with pytest.raises(MetricInputError, match="circulating_supply: arguments must have the same"):
        m.circulating_supply([1.0], [1.0, 2.0], [0.0], [0.0])


def test_market_float_hand_value():
    # accounts 0..4; 3 (reward pool) and 4 (AMM reserve) are the protocol's:
    # (100 + 0 + 5) + (50 + 25 + 0) + (0 + 10 + 0) = 190; locked 500 never counts,
    # the protocol's 1000 + 7 staked and 300 are circulating but not float.
    kw = dict(
        balance=[100, 50, 0, 1000, 300],
        staked=[0, 25, 10, 7, 0],
        bonded=[5, 0, 0, 0, 0],
        locked=[0, 0, 500, 400, 0],
    )
    assert m.market_float(**kw, protocol_accounts=[3, 4]) == 190.0
    assert m.circulating_supply(**kw) == 1497.0
    assert m.market_float(**kw, protocol_accounts=np.zeros(0, dtype=np.int64)) == 1497.0
    with pytest.raises(MetricInputError, match=r"exclude_accounts must be account ids"):
        m.market_float(**kw, protocol_accounts=[5])


def test_organic_fee_share_and_emission_to_organic_fees_hand_values():
    # 30 of 120 fee tokens paid by independent consumers: 25 %.
    assert m.organic_fee_share(30.0, 120.0) == 0.25
    assert m.organic_fee_share(120.0, 120.0) == 1.0
    np.testing.assert_array_equal(m.organic_fee_share([0.0, 5.0], [0.0, 10.0]), [np.nan, 0.5])
    # 500 tokens emitted on 40 tokens of organic fees: 12.5 tokens emitted per fee token.
    assert m.emission_to_organic_fees(500.0, 40.0) == 12.5
    assert math.isnan(m.emission_to_organic_fees(500.0, 0.0))
    assert m.emission_to_organic_fees(0.0, 40.0) == 0.0
    with pytest.raises(MetricInputError, match="organic_fee_share: organic_fees_tokens must not"):
        m.organic_fee_share(2.0, 1.0)
    with pytest.raises(MetricInputError, match="emission_to_organic_fees: emission_tokens must"):
        m.emission_to_organic_fees(-1.0, 1.0)


@given(
    st.floats(min_value=0, max_value=1e12, allow_nan=False),
    st.floats(min_value=0, max_value=1e12, allow_nan=False),
)
def test_organic_fee_share_is_a_fraction(organic, wash):
    share = m.organic_fee_share(organic, organic + wash)
    if organic + wash == 0:
        assert math.isnan(share)
    else:
        assert 0.0 <= share <= 1.0
        assert share == pytest.approx(organic / (organic + wash), rel=1e-12)


# ------------------------------------------------------------------------- resilience


def test_accuracy_gap():
    # honest-only 0.90, actual 0.85 -> 0.05 lost to the attack
    assert m.accuracy_gap(0.85, 0.90) == pytest.approx(0.05, abs=1e-15)
    np.testing.assert_allclose(m.accuracy_gap([0.9, 0.7], [0.8, 0.8]), [-0.1, 0.1])
    with pytest.raises(MetricInputError, match="accuracy_gap: acc must be a fraction"):
        m.accuracy_gap(85.0, 0.9)


# ------------------------------------------------------------------ common validation


@pytest.mark.parametrize(
    ("call", "msg"),
    [
        (lambda: m.spearman([1, 2], [1, 2, 3]), "spearman: arguments must have the same length"),
        (lambda: m.kendall_tau_b([1, np.nan], [1, 2]), r"kendall_tau_b: a must be finite"),
        (lambda: m.gini([1, -2]), "gini: x must be non-negative; got -2.0 at index 1"),
        (lambda: m.gini([[1, 2]]), r"gini: x must be 1-D"),
        (lambda: m.envy_rate(["a"], [1]), "envy_rate: rewards must be numeric"),
        (lambda: m.auroc([1, 2], [0, 2]), "auroc: labels must be a boolean mask"),
        (lambda: m.auroc([1, 2], ["x", "y"]), "auroc: labels must be a boolean mask"),
        (lambda: m.false_positive_rate([True], [True, False]), "false_positive_rate: arg"),
    ],
)
def test_input_errors_name_function_and_problem(call, msg):
    with pytest.raises(MetricInputError, match=msg) as info:
        call()
    assert isinstance(info.value, ValueError)
