"""Pure metric functions: fairness, ground-truth data value, supply & market, resilience.

Every metric the simulator records is a pure function here, numpy in and numpy out, so
the simulation, the tests and the notebooks share a single definition of each formula.

Conventions (all functions):

* Inputs are array-likes; 1-D where a metric is over individuals or data points. Values
  must be finite. Wrong shapes, mismatched lengths, NaN/inf, negative amounts where an
  amount must be non-negative, and out-of-range parameters raise
  :class:`MetricInputError` (a ``ValueError``), whose message names the function, the
  argument, the offending value and what to pass instead.
* Outputs are float64: a Python ``float`` for a scalar metric, a float64 ``ndarray`` for
  element-wise metrics given arrays.
* A metric that is mathematically undefined for valid input (no variance, an empty
  denominator, no positives) returns ``nan`` rather than raising, so a run can record
  "undefined this epoch" and go on. Each docstring says exactly when.
* No Python loop over individuals or data points: sorting, ``bincount`` and
  ``cumsum``. The pair-counting metrics (:func:`kendall_tau_b`, :func:`envy_rate`) count
  discordant pairs with a vectorised bottom-up merge count in O(n log n), never O(n²).
* Nothing here warns: divisions by zero are branched around, so the project's
  "RuntimeWarning is an error" test setting holds.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MetricInputError",
    "accuracy_gap",
    "adversary_capture",
    "annualise",
    "auroc",
    "circulating_supply",
    "detection_precision_recall",
    "emission_to_organic_fees",
    "envy_rate",
    "excess_share",
    "false_positive_rate",
    "fdv",
    "gini",
    "ground_truth_values",
    "inflation",
    "kendall_tau_b",
    "market_cap",
    "market_float",
    "nakamoto",
    "organic_fee_share",
    "overpayment",
    "proportionality_gap",
    "real_yield",
    "spearman",
    "staking_ratio",
]

FloatOrArray = float | NDArray[np.float64]


class MetricInputError(ValueError):
    """Invalid input to a metric function (shape, length, sign, finiteness or range).

    The message names the function, the argument, the offending value and the fix.
    """


# --------------------------------------------------------------------------- validation


def _vector(func: str, name: str, x: ArrayLike) -> NDArray[np.float64]:
    """``x`` as a finite 1-D float64 array, or a :class:`MetricInputError`."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MetricInputError(
            f"{func}: {name} must be numeric; got {type(x).__name__} ({exc}). "
            "Pass a 1-D array of numbers."
        ) from exc
    if arr.ndim != 1:
        raise MetricInputError(
            f"{func}: {name} must be 1-D (one entry per individual or data point); "
            f"got shape {arr.shape}. Flatten it or pass one row."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MetricInputError(
            f"{func}: {name} must be finite; got {arr[i]} at index {i}. "
            "Drop or fill NaN/inf entries first."
        )
    return arr


def rankdata(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """1-based ranks of the finite 1-D ``x``, ties given their average rank (float64).

    The values of ``scipy.stats.rankdata(x)`` (method "average"), in numpy: importing
    ``scipy.stats`` costs about a third of a run's start-up.
    """
    order = np.argsort(x)
    ordered = x[order]
    first = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    group = np.cumsum(first)  # 1-based tie group of each sorted entry
    starts = np.concatenate((np.flatnonzero(first), [x.size]))
    ranks = np.empty(x.size, dtype=np.float64)
    ranks[order] = 0.5 * (starts[group] + starts[group - 1] + 1)
    return ranks


def _nonneg_vector(func: str, name: str, x: ArrayLike) -> NDArray[np.float64]:
    """``x`` as a finite, non-negative 1-D float64 array."""
    arr = _vector(func, name, x)
    if arr.size and arr.min() < 0:
        i = int(np.argmin(arr))
        raise MetricInputError(
            f"{func}: {name} must be non-negative; got {arr[i]} at index {i}. "
            "Pass amounts (rewards, holdings, shares) >= 0, e.g. clip negatives to 0."
        )
    return arr


def _bool_vector(func: str, name: str, x: ArrayLike) -> NDArray[np.bool_]:
    """``x`` as a 1-D bool array; numeric input must contain only 0 and 1."""
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise MetricInputError(f"{func}: {name} must be a 1-D boolean mask; got shape {arr.shape}.")
    if arr.dtype == np.bool_:
        return arr
    if arr.size == 0:
        return np.zeros(0, dtype=np.bool_)
    if not np.issubdtype(arr.dtype, np.number):
        raise MetricInputError(
            f"{func}: {name} must be a boolean mask; got dtype {arr.dtype}. "
            "Pass a bool array (True = flagged / adversary / positive)."
        )
    not01 = (arr != 0) & (arr != 1)
    if not01.any():
        i = int(np.flatnonzero(not01)[0])
        raise MetricInputError(
            f"{func}: {name} must be a boolean mask (or 0/1); got {arr[i]} at index {i}. "
            "Pass a bool array."
        )
    return arr.astype(np.bool_)


def _same_length(func: str, **arrays: np.ndarray) -> int:
    """The common length of ``arrays``, or a :class:`MetricInputError` naming them."""
    lengths = {name: int(a.shape[0]) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        desc = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise MetricInputError(
            f"{func}: arguments must have the same length (one entry per individual); "
            f"got {desc}. Align them on the same index."
        )
    return next(iter(lengths.values()))


def _amount(func: str, name: str, x: ArrayLike) -> NDArray[np.float64]:
    """``x`` as a finite, non-negative float64 array of any shape (scalars allowed)."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MetricInputError(
            f"{func}: {name} must be numeric; got {type(x).__name__} ({exc})."
        ) from exc
    if not np.all(np.isfinite(arr)):
        raise MetricInputError(
            f"{func}: {name} must be finite; got {arr[~np.isfinite(arr)].ravel()[0]}. "
            "Drop or fill NaN/inf entries first."
        )
    if np.any(arr < 0):
        raise MetricInputError(
            f"{func}: {name} must be non-negative; got {arr[arr < 0].ravel()[0]}. "
            "Pass token amounts, prices and counts >= 0."
        )
    return arr


def _positive_scalar(func: str, name: str, x: float) -> float:
    """``x`` as a finite float > 0."""
    v = float(x)
    if not np.isfinite(v) or v <= 0:
        raise MetricInputError(f"{func}: {name} must be a finite number > 0; got {x!r}.")
    return v


def _finish(arr: NDArray[np.float64]) -> FloatOrArray:
    """A 0-d result as a Python float, otherwise the float64 array."""
    arr = np.asarray(arr, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr


def _safe_ratio(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    """Element-wise ``num / den`` with ``nan`` where ``den == 0`` (and no warning)."""
    num, den = np.broadcast_arrays(
        np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    )
    out = np.full(num.shape, np.nan, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _ratio_unchecked(num: float, den: float) -> float:
    """:func:`_safe_ratio` of two finite scalars the caller vouches for: ``num / den``,
    ``nan`` where ``den == 0`` (IEEE float64 division, so the same bits as the array path;
    for the simulator's per-epoch KPIs, which are scalars it computed itself)."""
    return num / den if den != 0 else float("nan")


def _annualise_unchecked(rate_per_epoch: float, epochs_per_year: float) -> float:
    """:func:`annualise` of a finite scalar rate ≥ −1 and a positive ``epochs_per_year``
    the caller vouches for: the same numpy kernels (so the same bits); +inf, without a
    warning, where the compounded rate exceeds float64."""
    r = rate_per_epoch
    if r == 0.0:  # log1p(±0) = ±0 and expm1(±0) = ±0 exactly: the kernels' own result
        return r
    with np.errstate(over="ignore"):
        if r > -1:
            return float(np.expm1(epochs_per_year * np.log1p(r)))
        return float(np.power(1.0 + r, epochs_per_year) - 1.0)


# ------------------------------------------------------------------ pair-counting kernel


def _count_inversions(seq: NDArray[np.int64]) -> int:
    """Number of pairs ``p < q`` with ``seq[p] > seq[q]`` (strict), in O(n log n).

    Vectorised bottom-up merge sort over non-negative integers: at width ``w`` (a power
    of two) the array is made of sorted runs of length ``w``; each pair of adjacent runs
    (left, right) is merged with one stable argsort of ``pair_id * m + value`` (the
    already-sorted runs make the timsort behind ``kind="stable"`` close to linear).
    Stability puts a left element before an equal right element, so for a right element
    the left elements of its pair placed before it are exactly those ``<=`` it, and the
    rest of its (full, length ``w``) left run are ``>`` it. One loop iteration per level:
    ``ceil(log2 n)`` iterations, each a handful of O(n) numpy passes.
    """
    a = np.asarray(seq, dtype=np.int64)
    n = a.size
    if n < 2:
        return 0
    m = int(a.max()) + 1
    pos = np.arange(n, dtype=np.int64)
    total = 0
    w = 1
    shift = 1
    while w < n:
        pid = pos >> shift  # index of the pair of runs each position belongs to
        order = np.argsort(pid * m + a, kind="stable")
        left_merged = (order & w) == 0  # position bit w clear <=> in the left run
        right = ~left_merged
        # left elements before each merged position; earlier pairs hold exactly pid * w
        left_seen = np.cumsum(left_merged)
        n_right = int(np.count_nonzero(right))
        total += n_right * w + w * int(pid[right].sum()) - int(left_seen[right].sum())
        a = a[order]
        w <<= 1
        shift += 1
    return total


def _dense_rank(x: NDArray[np.float64]) -> NDArray[np.int64]:
    """Integer ranks 0..u-1 with equal values sharing a rank (one argsort)."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    ranks = np.empty(x.size, dtype=np.int64)
    if x.size:
        ranks[order] = np.cumsum(np.concatenate(([False], xs[1:] != xs[:-1])))
    return ranks


def _tied_pairs(ranks: NDArray[np.int64]) -> int:
    """Unordered pairs with equal values, Σ_groups t(t-1)/2, from dense ranks."""
    counts = np.bincount(ranks).astype(np.int64)
    return int((counts * (counts - 1) // 2).sum())


def _pair_counts(a: NDArray[np.float64], b: NDArray[np.float64]) -> tuple[int, int, int, int]:
    """Pair counts over the n(n-1)/2 unordered pairs of two equal-length vectors.

    Returns (n_d, n_1, n_2, n_3): pairs strictly discordant (``a_i < a_j`` and
    ``b_i > b_j``), tied in ``a``, tied in ``b``, tied in both. Sorting by ``a`` then
    ``b`` (both ascending) makes every inversion of ``b`` a pair with strictly smaller
    ``a`` first, since inside a tie group of ``a`` the ``b`` values are ascending; so
    n_d is the inversion count of ``b`` in that order.
    """
    if a.size < 2:
        return 0, 0, 0, 0
    ra = _dense_rank(a)
    rb = _dense_rank(b)
    # sort by (a, b): one argsort of a combined integer key (cheaper than np.lexsort)
    order = np.argsort(ra * (int(rb.max()) + 1) + rb)
    ra_s = ra[order]
    rb_s = rb[order]
    n_d = _count_inversions(rb_s)
    # runs of equal (a, b) are contiguous after the sort
    new_run = np.concatenate(([True], (ra_s[1:] != ra_s[:-1]) | (rb_s[1:] != rb_s[:-1])))
    run_lengths = np.diff(np.append(np.flatnonzero(new_run), a.size)).astype(np.int64)
    n_3 = int((run_lengths * (run_lengths - 1) // 2).sum())
    return n_d, _tied_pairs(ra), _tied_pairs(rb), n_3


# ----------------------------------------------------------------------------- fairness


def spearman(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman rank correlation ρ between ``a`` and ``b`` (e.g. rewards vs true value).

    ρ = Pearson correlation of the rank vectors, with ties given their average rank:
    ρ = Σ(Ra_i − R̄a)(Rb_i − R̄b) / sqrt(Σ(Ra_i − R̄a)² · Σ(Rb_i − R̄b)²).
    Without ties this is 1 − 6Σd_i² / (n(n² − 1)).

    Args:
        a: one value per individual (any unit).
        b: one value per individual, same length (any unit).

    Returns:
        ρ in [−1, 1]; ``nan`` if fewer than 2 entries or either input is constant
        (no variance: the correlation is undefined).
    """
    func = "spearman"
    x = _vector(func, "a", a)
    y = _vector(func, "b", b)
    n = _same_length(func, a=x, b=y)
    if n < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    rx = rankdata(x) - (n + 1) / 2.0
    ry = rankdata(y) - (n + 1) / 2.0
    den = np.sqrt(np.dot(rx, rx) * np.dot(ry, ry))
    return float(np.clip(np.dot(rx, ry) / den, -1.0, 1.0))


def kendall_tau_b(a: ArrayLike, b: ArrayLike) -> float:
    """Kendall rank correlation τ-b between ``a`` and ``b``, with the tie correction.

    τ_b = (n_c − n_d) / sqrt((n_0 − n_1)(n_0 − n_2)), where n_0 = n(n−1)/2, n_c / n_d are
    the concordant / discordant pairs, n_1 = Σ t(t−1)/2 over tie groups of ``a`` and
    n_2 likewise for ``b``. With n_3 the pairs tied in both,
    n_c + n_d = n_0 − n_1 − n_2 + n_3, so only n_d needs counting: O(n log n), exact
    integer arithmetic (same value as ``scipy.stats.kendalltau``, variant "b").

    Args:
        a: one value per individual (any unit).
        b: one value per individual, same length (any unit).

    Returns:
        τ_b in [−1, 1]; ``nan`` if fewer than 2 entries or either input is constant.
    """
    func = "kendall_tau_b"
    x = _vector(func, "a", a)
    y = _vector(func, "b", b)
    n = _same_length(func, a=x, b=y)
    if n < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    n0 = n * (n - 1) // 2
    n_d, n1, n2, n3 = _pair_counts(x, y)
    diff = (n0 - n1 - n2 + n3) - 2 * n_d  # n_c − n_d, exact integer
    tau = diff / np.sqrt(float(n0 - n1) * float(n0 - n2))
    return float(np.clip(tau, -1.0, 1.0))


def gini(x: ArrayLike) -> float:
    """Gini coefficient of non-negative amounts (rewards or holdings).

    With x sorted ascending and cumulative sums C_i = Σ_{j≤i} x_(j):
    G = (n + 1 − 2 Σ_{i=1}^{n} C_i / C_n) / n,
    equal to the mean absolute difference Σ_iΣ_j |x_i − x_j| / (2n² x̄).
    G = 0 when all amounts are equal; G = 1 − 1/n when one individual holds everything.
    The result is clipped to [0, 1 − 1/n] to remove rounding noise.

    Args:
        x: one non-negative amount per individual (tokens or USD).

    Returns:
        G in [0, 1 − 1/n]; 0.0 when all amounts are equal, including all zero (nobody
        has more than anybody else); ``nan`` for an empty input.
    """
    return _gini_unchecked(_nonneg_vector("gini", "x", x))


def _gini_unchecked(v: NDArray[np.float64]) -> float:
    """:func:`gini` of ``v``, a finite non-negative 1-D float64 array the caller vouches
    for (the simulator's own ledger columns): no validation pass over the array, the same
    arithmetic (so the same bits)."""
    n = v.size
    if n == 0:
        return float("nan")
    if np.ptp(v) == 0:
        return 0.0
    return _gini_sorted_unchecked(np.sort(v))


def _gini_sorted_unchecked(s: NDArray[np.float64]) -> float:
    """:func:`gini` of ``s``, finite non-negative float64 amounts already sorted ascending
    and not all equal (the caller vouches for all three): the tail of
    :func:`_gini_unchecked`, the same arithmetic, for a caller that keeps its amounts'
    order from one call to the next instead of sorting them afresh."""
    n = s.size
    c = np.cumsum(s)
    g = (n + 1 - 2.0 * c.sum() / c[-1]) / n
    return float(np.clip(g, 0.0, 1.0 - 1.0 / n))


def nakamoto(shares: ArrayLike, threshold: float = 0.5) -> float:
    """Nakamoto coefficient: the fewest entities whose combined share exceeds ``threshold``.

    Shares are normalised by their sum, sorted descending, and
    N = min{k : Σ_{i≤k} s_(i) / Σ s > threshold} (strictly greater: with threshold 0.5,
    two entities at 50 % each give N = 2, since neither alone holds a majority).

    Args:
        shares: one non-negative amount per entity (stake, tokens, hash power; any unit,
            need not sum to 1).
        threshold: control fraction to exceed, in [0, 1); 0.5 = majority, 1/3 = BFT halt.

    Returns:
        N as a float64 in [1, number of entities with a positive share]; ``nan`` if there
        are no entities or all shares are zero.
    """
    func = "nakamoto"
    t = float(threshold)
    if not (0.0 <= t < 1.0):
        raise MetricInputError(
            f"{func}: threshold must be in [0, 1) (a share that can be exceeded); got "
            f"{threshold!r}. Use 0.5 for a majority or 1/3 for a BFT halting minority."
        )
    s = _nonneg_vector(func, "shares", shares)
    if s.size == 0 or s.max() == 0:
        return float("nan")
    c = np.cumsum(np.sort(s)[::-1])
    frac = c / c[-1]  # non-decreasing, last entry exactly 1.0 > t
    return float(np.searchsorted(frac, t, side="right") + 1)


def adversary_capture(
    rewards: ArrayLike,
    true_values: ArrayLike,
    is_adversary: ArrayLike,
    min_value_share: float = 0.0,
) -> float:
    """Adversary capture A = adversary reward share ÷ adversary positive-value share.

    A = (Σ_{adv} r_i / Σ_all r_i) / max(Σ_{adv} φ⁺_i / Σ_all φ⁺_i, min_value_share),
    with φ⁺ = max(φ, 0). A = 1: adversaries are paid in proportion to the value they
    really add; A > 1: they capture more than their worth; A = 0: they get nothing.

    Adversaries (poisoners) usually have no positive value at all, so the denominator is
    often 0. Then, by definition here:

    * reward share > 0 → ``inf`` (paid for nothing: unbounded over-capture);
    * reward share = 0 → 0.0 (paid nothing: no capture; also when nobody is an
      adversary).

    Pass ``min_value_share > 0`` (e.g. 1/n or 0.01) to floor the denominator and get a
    finite number that can be averaged over replicates; report the floor with it.

    Args:
        rewards: cumulative reward per individual, tokens, non-negative.
        true_values: ground-truth value φ per individual (e.g. summed KNN-Shapley),
            any sign; only the positive part counts.
        is_adversary: bool per individual, True for poisoners / farmers.
        min_value_share: floor on the adversary positive-value share, in [0, 1].

    Returns:
        A ≥ 0 (possibly ``inf``, see above); ``nan`` if nobody got any reward or no one
        has positive value (the shares are undefined).
    """
    func = "adversary_capture"
    r = _nonneg_vector(func, "rewards", rewards)
    phi = _vector(func, "true_values", true_values)
    adv = _bool_vector(func, "is_adversary", is_adversary)
    _same_length(func, rewards=r, true_values=phi, is_adversary=adv)
    floor = float(min_value_share)
    if not (0.0 <= floor <= 1.0):
        raise MetricInputError(
            f"{func}: min_value_share must be in [0, 1]; got {min_value_share!r}. "
            "Use 0 for the exact ratio or a small share such as 0.01."
        )
    r_total = r.sum()
    pos = np.maximum(phi, 0.0)
    p_total = pos.sum()
    if r_total == 0 or p_total == 0:
        return float("nan")
    reward_share = r[adv].sum() / r_total
    value_share = max(pos[adv].sum() / p_total, floor)
    if value_share == 0:
        return float("inf") if reward_share > 0 else 0.0
    return float(reward_share / value_share)


def excess_share(rewards: ArrayLike, true_values: ArrayLike, is_adversary: ArrayLike) -> float:
    """Excess share E = adversary reward share − adversary positive-value share.

    E = Σ_{adv} r_i / Σ_all r_i − Σ_{adv} φ⁺_i / Σ_all φ⁺_i, with φ⁺ = max(φ, 0).

    Why not :func:`adversary_capture`: a difference of two shares is bounded in [−1, 1] and
    additive, so it cannot explode when the adversaries' value share is tiny, and a defence
    that pays adversaries less always lowers it. E = 0: adversaries are paid their fair
    share; E > 0: they take that much of all rewards beyond it; E < 0: they are underpaid.

    Args:
        rewards: reward per individual (tokens, non-negative).
        true_values: ground-truth value φ per individual (any sign), or fair rewards.
        is_adversary: bool per individual.

    Returns:
        E in [−1, 1]; ``nan`` if no reward was paid or no one has positive value.
    """
    func = "excess_share"
    r = _nonneg_vector(func, "rewards", rewards)
    phi = _vector(func, "true_values", true_values)
    adv = _bool_vector(func, "is_adversary", is_adversary)
    _same_length(func, rewards=r, true_values=phi, is_adversary=adv)
    pos = np.maximum(phi, 0.0)
    r_total, p_total = r.sum(), pos.sum()
    if r_total == 0 or p_total == 0:
        return float("nan")
    return float(np.clip(r[adv].sum() / r_total - pos[adv].sum() / p_total, -1.0, 1.0))


def overpayment(rewards: ArrayLike, true_values: ArrayLike, is_adversary: ArrayLike) -> float:
    """Overpayment = what adversaries were paid beyond their fair share of what was paid.

    O = Σ_all r_i · :func:`excess_share` = Σ_{adv} r_i − Σ_all r_i · Σ_{adv} φ⁺_i / Σ_all φ⁺_i,
    in the rewards' unit (tokens; times the price for USD). Signed: negative when the
    adversaries were paid less than their fair share. Additive over epochs when each
    epoch's rewards and values are passed, so a run's overpayment is the sum of its epochs'.

    Returns:
        O (reward units); 0.0 if no reward was paid; ``nan`` if rewards were paid but no one
        has positive value (no fair share is defined).
    """
    func = "overpayment"
    r = _nonneg_vector(func, "rewards", rewards)
    if r.sum() == 0:
        _vector(func, "true_values", true_values)
        _bool_vector(func, "is_adversary", is_adversary)
        return 0.0
    return float(r.sum() * excess_share(r, true_values, is_adversary))


def proportionality_gap(rewards: ArrayLike, true_values: ArrayLike) -> float:
    """Proportionality gap: total-variation distance between reward and value shares.

    gap = ½ Σ_i | r_i / Σr − φ⁺_i / Σφ⁺ |, with φ⁺ = max(φ, 0).
    0 when rewards are exactly proportional to positive value; 1 when all reward goes to
    individuals with no positive value.

    Args:
        rewards: cumulative reward per individual, tokens, non-negative.
        true_values: ground-truth value φ per individual, any sign.

    Returns:
        gap in [0, 1]; ``nan`` if total reward is 0 or no one has positive value.
    """
    func = "proportionality_gap"
    r = _nonneg_vector(func, "rewards", rewards)
    phi = _vector(func, "true_values", true_values)
    _same_length(func, rewards=r, true_values=phi)
    pos = np.maximum(phi, 0.0)
    r_total = r.sum()
    p_total = pos.sum()
    if r_total == 0 or p_total == 0:
        return float("nan")
    gap = 0.5 * np.abs(r / r_total - pos / p_total).sum()
    return float(np.clip(gap, 0.0, 1.0))


def envy_rate(rewards: ArrayLike, true_values: ArrayLike) -> float:
    """Envy rate: share of comparable pairs in which the more valuable one is paid less.

    Over unordered pairs {i, j} with φ_i ≠ φ_j (pairs of equal true value are not
    comparable and are left out), the share in which the individual with the higher
    true value received strictly less reward:
    envy = #{(i, j): φ_i > φ_j and r_i < r_j} / #{{i, j}: φ_i ≠ φ_j}.
    Equal rewards for unequal values do not count as envy. This is the discordant-pair
    count of Kendall's τ over the pairs untied in φ, counted in O(n log n).

    Args:
        rewards: cumulative reward per individual, tokens (any sign).
        true_values: ground-truth value φ per individual, any sign.

    Returns:
        envy in [0, 1]; 0 when rewards are weakly increasing in value; ``nan`` if there
        is no pair with different true values (n < 2 or all values equal).
    """
    func = "envy_rate"
    r = _vector(func, "rewards", rewards)
    phi = _vector(func, "true_values", true_values)
    n = _same_length(func, rewards=r, true_values=phi)
    n_envy, tied_phi, _, _ = _pair_counts(phi, r)
    comparable = n * (n - 1) // 2 - tied_phi
    if comparable == 0:
        return float("nan")
    return float(n_envy / comparable)


def detection_precision_recall(flagged: ArrayLike, is_adversary: ArrayLike) -> tuple[float, float]:
    """Precision and recall of a detector (defence) against the true adversary labels.

    precision = TP / (TP + FP) = adversaries flagged ÷ all flagged;
    recall = TP / (TP + FN) = adversaries flagged ÷ all adversaries.

    Args:
        flagged: bool per individual or contribution, True = flagged / rejected /
            slashed by the defence.
        is_adversary: bool per individual or contribution, True = truly adversarial.

    Returns:
        (precision, recall), each in [0, 1]; precision is ``nan`` if nothing was
        flagged, recall is ``nan`` if there are no adversaries.
    """
    func = "detection_precision_recall"
    f = _bool_vector(func, "flagged", flagged)
    adv = _bool_vector(func, "is_adversary", is_adversary)
    _same_length(func, flagged=f, is_adversary=adv)
    tp = int(np.count_nonzero(f & adv))
    n_flagged = int(np.count_nonzero(f))
    n_adv = int(np.count_nonzero(adv))
    precision = tp / n_flagged if n_flagged else float("nan")
    recall = tp / n_adv if n_adv else float("nan")
    return float(precision), float(recall)


def auroc(scores: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve, rank-based (Mann-Whitney U with average ranks for ties).

    Higher score = more likely positive. AUROC = P(s_pos > s_neg) + ½ P(s_pos = s_neg)
    = (R_pos − n_pos(n_pos + 1)/2) / (n_pos · n_neg), where R_pos is the sum of the
    (tie-averaged, 1-based) ranks of the positives among all scores.
    To ask "do the lowest values find the poisoned points", pass
    ``auroc(-values, is_poisoned)``.

    Args:
        scores: one score per item (any unit), higher = more suspicious / positive.
        labels: bool per item, True = positive (e.g. poisoned).

    Returns:
        AUROC in [0, 1] (0.5 = chance); ``nan`` if there are no positives or no
        negatives.
    """
    func = "auroc"
    s = _vector(func, "scores", scores)
    y = _bool_vector(func, "labels", labels)
    _same_length(func, scores=s, labels=y)
    n_pos = int(np.count_nonzero(y))
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (float(n_pos) * float(n_neg)))


# ------------------------------------------------------------------------- ground truth


def ground_truth_values(
    x_train: ArrayLike, y_train: ArrayLike, x_val: ArrayLike, y_val: ArrayLike, k: int
) -> NDArray[np.float64]:
    """Ground-truth value per training point: exact KNN-Shapley on a clean validation set.

    φ_i = (1/M) Σ_{m=1}^{M} s_i(x_m, y_m), the exact KNN-Shapley value (Jia et al.,
    VLDB 2019) of point i for the K-nearest-neighbour utility
    u(S) = (1/K) Σ_{k ≤ min(K, |S|)} 1[y_{α_k(S)} = y] on each validation point,
    averaged over the M validation points. Computed by the simulator against a large
    clean validation set drawn from the true generator, never by the engine under test.
    Poisoned points come out negative. Delegates to
    :func:`economics.attribution.knn_shapley`.

    Args:
        x_train: training features, shape (N, d).
        y_train: training labels (class ids), shape (N,).
        x_val: clean validation features, shape (M, d).
        y_val: clean validation labels, shape (M,).
        k: number of neighbours K of the kNN utility, ≥ 1.

    Returns:
        float64 array of shape (N,): one value per training point (accuracy units:
        values sum to U(D) − U(∅), the kNN validation accuracy of the full set).
    """
    func = "ground_truth_values"
    xt = np.asarray(x_train, dtype=np.float64)
    yt = np.asarray(y_train)
    xv = np.asarray(x_val, dtype=np.float64)
    yv = np.asarray(y_val)
    if xt.ndim != 2 or xv.ndim != 2:
        raise MetricInputError(
            f"{func}: x_train and x_val must be 2-D (points × features); got shapes "
            f"{xt.shape} and {xv.shape}. Reshape single-feature data with x[:, None]."
        )
    if xt.shape[1] != xv.shape[1]:
        raise MetricInputError(
            f"{func}: x_train and x_val must have the same number of features; got "
            f"{xt.shape[1]} and {xv.shape[1]}."
        )
    if yt.shape != (xt.shape[0],) or yv.shape != (xv.shape[0],):
        raise MetricInputError(
            f"{func}: labels must be 1-D with one entry per point; got y_train "
            f"{yt.shape} for x_train {xt.shape} and y_val {yv.shape} for x_val {xv.shape}."
        )
    if xv.shape[0] == 0:
        raise MetricInputError(
            f"{func}: x_val is empty; the ground truth needs at least one clean "
            "validation point. Draw a validation set from the task generator."
        )
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise MetricInputError(f"{func}: k must be an integer >= 1; got {k!r}.")
    from ledgerlab.economics.attribution import knn_shapley  # imported late: no import cycle

    values = np.asarray(knn_shapley(xt, yt, xv, yv, int(k)), dtype=np.float64)
    if values.shape != (xt.shape[0],):
        raise MetricInputError(
            f"{func}: knn_shapley returned shape {values.shape}, expected "
            f"({xt.shape[0]},) — one value per training point."
        )
    return values


# --------------------------------------------------------------------- supply & market


def inflation(supply_prev: ArrayLike, supply_now: ArrayLike) -> FloatOrArray:
    """Supply inflation per epoch: (S_now − S_prev) / S_prev.

    Element-wise; for a supply time series ``s`` use ``inflation(s[:-1], s[1:])``.
    Negative when more is burned than minted.

    Args:
        supply_prev: supply at the start of the epoch, tokens, ≥ 0.
        supply_now: supply at the end of the epoch, tokens, ≥ 0.

    Returns:
        rate per epoch (fraction), float or float64 array; ``nan`` where S_prev = 0.
    """
    func = "inflation"
    prev = _amount(func, "supply_prev", supply_prev)
    now = _amount(func, "supply_now", supply_now)
    _broadcastable(func, supply_prev=prev, supply_now=now)
    return _finish(_safe_ratio(now - prev, prev))


def annualise(rate_per_epoch: ArrayLike, epochs_per_year: float = 365.0) -> FloatOrArray:
    """Compound a per-epoch rate to a yearly rate: (1 + r)^n − 1, n = epochs per year.

    Example: 1 % per month → 1.01¹² − 1 ≈ 12.68 % per year.

    Args:
        rate_per_epoch: rate per epoch (fraction), ≥ −1.
        epochs_per_year: epochs in one year (365 for daily epochs), > 0.

    Returns:
        rate per year (fraction), float or float64 array.
    """
    func = "annualise"
    n = _positive_scalar(func, "epochs_per_year", epochs_per_year)
    r = np.asarray(rate_per_epoch, dtype=np.float64)
    if not np.all(np.isfinite(r)) or np.any(r < -1):
        raise MetricInputError(
            f"{func}: rate_per_epoch must be finite and >= -1 (a fraction per epoch); got "
            f"{r.ravel()[~np.isfinite(r.ravel()) | (r.ravel() < -1)][0]}."
        )
    return _finish(np.expm1(n * np.log1p(r)) if np.all(r > -1) else np.power(1.0 + r, n) - 1.0)


def market_cap(price_usd: ArrayLike, circulating_tokens: ArrayLike) -> FloatOrArray:
    """Market capitalisation: price × circulating supply.

    Args:
        price_usd: token price, USD per token, ≥ 0.
        circulating_tokens: circulating supply (see :func:`circulating_supply`), tokens.

    Returns:
        market cap, USD.
    """
    func = "market_cap"
    p = _amount(func, "price_usd", price_usd)
    c = _amount(func, "circulating_tokens", circulating_tokens)
    _broadcastable(func, price_usd=p, circulating_tokens=c)
    return _finish(p * c)


def fdv(price_usd: ArrayLike, total_supply_tokens: ArrayLike) -> FloatOrArray:
    """Fully diluted valuation: price × total (or maximum) supply.

    Args:
        price_usd: token price, USD per token, ≥ 0.
        total_supply_tokens: total supply including locked and unissued tokens (for a
            capped token, the cap), tokens.

    Returns:
        FDV, USD.
    """
    func = "fdv"
    p = _amount(func, "price_usd", price_usd)
    s = _amount(func, "total_supply_tokens", total_supply_tokens)
    _broadcastable(func, price_usd=p, total_supply_tokens=s)
    return _finish(p * s)


def real_yield(
    fees_to_stakers_tokens_per_epoch: ArrayLike,
    staked_tokens: ArrayLike,
    epochs_per_year: float = 365.0,
) -> FloatOrArray:
    """Real yield: fee income paid to stakers over the staked value, annualised simply.

    real_yield = F · n / S, with F the fees (not emissions) paid to stakers per epoch,
    S the staked amount and n epochs per year. Both are in tokens, so the ratio equals
    the USD ratio at any price. Simple (not compounded) annualisation, as yields are
    quoted.

    Args:
        fees_to_stakers_tokens_per_epoch: fees routed to stakers in one epoch, tokens.
        staked_tokens: tokens staked, tokens.
        epochs_per_year: epochs in one year, > 0.

    Returns:
        yield per year (fraction); ``nan`` where nothing is staked.
    """
    func = "real_yield"
    n = _positive_scalar(func, "epochs_per_year", epochs_per_year)
    f = _amount(func, "fees_to_stakers_tokens_per_epoch", fees_to_stakers_tokens_per_epoch)
    s = _amount(func, "staked_tokens", staked_tokens)
    _broadcastable(func, fees_to_stakers_tokens_per_epoch=f, staked_tokens=s)
    return _finish(_safe_ratio(f * n, s))


def staking_ratio(staked: ArrayLike, circulating: ArrayLike) -> FloatOrArray:
    """Staking ratio: staked ÷ circulating supply.

    Staked tokens count as circulating (see :func:`circulating_supply`), so the ratio
    lies in [0, 1] for consistent inputs.

    Args:
        staked: tokens staked, tokens.
        circulating: circulating supply, tokens.

    Returns:
        ratio (fraction); ``nan`` where circulating supply is 0.
    """
    func = "staking_ratio"
    st = _amount(func, "staked", staked)
    c = _amount(func, "circulating", circulating)
    _broadcastable(func, staked=st, circulating=c)
    return _finish(_safe_ratio(st, c))


def circulating_supply(
    balance: ArrayLike,
    staked: ArrayLike,
    bonded: ArrayLike,
    locked: ArrayLike,
    exclude_accounts: ArrayLike | None = None,
) -> float:
    """Circulating supply from the ledger columns.

    circulating = Σ_{a ∉ E} (balance_a + staked_a + bonded_a), where E is
    ``exclude_accounts``. Definition: everything issued that is not locked in vesting
    and not held by a protocol pool. Tokens under vesting (``locked``) never circulate;
    staked and bonded tokens do (their owners chose to lock them and can get them back);
    the accounts in E (protocol pools: unissued emission reserve, treasury, fee escrow —
    the caller decides) are excluded whole. ``locked`` is taken so the ledger columns
    are passed as one set and checked for equal length; it is not summed.

    Args:
        balance: liquid balance per account, tokens.
        staked: staked amount per account, tokens.
        bonded: submission bonds per account, tokens.
        locked: vesting-locked amount per account, tokens (excluded).
        exclude_accounts: integer account ids of protocol pools to leave out, or None.

    Returns:
        circulating supply, tokens.
    """
    func = "circulating_supply"
    b = _nonneg_vector(func, "balance", balance)
    st = _nonneg_vector(func, "staked", staked)
    bo = _nonneg_vector(func, "bonded", bonded)
    lo = _nonneg_vector(func, "locked", locked)
    n = _same_length(func, balance=b, staked=st, bonded=bo, locked=lo)
    held = _held_unchecked(b, st, bo)
    if exclude_accounts is not None:
        ex = np.asarray(exclude_accounts).reshape(-1)
        if ex.size:
            if not np.issubdtype(ex.dtype, np.integer):
                raise MetricInputError(
                    f"{func}: exclude_accounts must be integer account ids; got dtype {ex.dtype}."
                )
            if ex.min() < 0 or ex.max() >= n:
                bad = int(ex.min()) if ex.min() < 0 else int(ex.max())
                raise MetricInputError(
                    f"{func}: exclude_accounts must be account ids in [0, {n}); got {bad}."
                )
            keep = np.ones(n, dtype=np.bool_)
            keep[ex] = False
            held = held[keep]
    return float(held.sum())


def _held_unchecked(
    balance: NDArray[np.float64], staked: NDArray[np.float64], bonded: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Per-account tokens that circulate (balance + staked + bonded), from float64 columns
    the caller vouches for: the element-wise sum :func:`circulating_supply` and
    :func:`market_float` reduce (a fast path for the simulator's KPI collection, which sums
    it whole and without the protocol's accounts, bit-identically)."""
    return balance + staked + bonded


def market_float(
    balance: ArrayLike,
    staked: ArrayLike,
    bonded: ArrayLike,
    locked: ArrayLike,
    protocol_accounts: ArrayLike,
) -> float:
    """Market float: the circulating supply held outside the protocol's own accounts.

    float = Σ_{a ∉ P} (balance_a + staked_a + bonded_a), P = ``protocol_accounts`` (reward
    pool, treasury, AMM token reserve, fee escrow, …). Tracker circulating
    (:func:`circulating_supply` with nothing excluded) counts every unlocked token wherever
    it sits, so an unlock into the reward pool raises it although no one can sell those
    tokens; the float counts only what market participants hold (staked and bonded
    included: their owners can get them back). Unlocked protocol holdings enter the float
    when the protocol pays them out (rewards, fee shares, grants, tips, AMM sales).

    Args:
        balance, staked, bonded, locked: ledger columns per account, tokens (``locked``
            never counts; taken to check the columns' lengths).
        protocol_accounts: integer ids of the protocol's accounts.

    Returns:
        market float, tokens.
    """
    return circulating_supply(balance, staked, bonded, locked, exclude_accounts=protocol_accounts)


def organic_fee_share(organic_fees_tokens: ArrayLike, fees_tokens: ArrayLike) -> FloatOrArray:
    """Share of the fees paid by independent (organic) consumers: O / F.

    Wash consumers pay fees for queries on their own data to farm per-inference rewards;
    those fees are real transfers but not demand. 1 in a world without wash trading.

    Args:
        organic_fees_tokens: fees paid by independent consumers, tokens, ≥ 0.
        fees_tokens: all fees paid (independent and wash), tokens, ≥ O.

    Returns:
        share (fraction in [0, 1]); ``nan`` where no fee was paid (F = 0).
    """
    func = "organic_fee_share"
    o = _amount(func, "organic_fees_tokens", organic_fees_tokens)
    f = _amount(func, "fees_tokens", fees_tokens)
    _broadcastable(func, organic_fees_tokens=o, fees_tokens=f)
    if np.any(o > f * (1.0 + 1e-12)):
        raise MetricInputError(
            f"{func}: organic_fees_tokens must not exceed fees_tokens (organic fees are part "
            f"of all fees); got {np.max(o - f)!r} tokens more."
        )
    return _finish(np.minimum(_safe_ratio(o, f), 1.0))


def emission_to_organic_fees(
    emission_tokens: ArrayLike, organic_fees_tokens: ArrayLike
) -> FloatOrArray:
    """Tokens emitted per token of fees paid by independent consumers: E / O.

    The "is usage real" ratio: how many tokens the protocol hands out for each token real
    users pay. Above 1, rewards are funded by issuance rather than by usage; wash fees do
    not count, so wash trading cannot lower it.

    Args:
        emission_tokens: tokens emitted (minted or dripped from the reward pool), ≥ 0.
        organic_fees_tokens: fees paid by independent consumers, tokens, ≥ 0.

    Returns:
        ratio (tokens emitted per token of organic fees); ``nan`` where O = 0.
    """
    func = "emission_to_organic_fees"
    e = _amount(func, "emission_tokens", emission_tokens)
    o = _amount(func, "organic_fees_tokens", organic_fees_tokens)
    _broadcastable(func, emission_tokens=e, organic_fees_tokens=o)
    return _finish(_safe_ratio(e, o))


def _broadcastable(func: str, **arrays: np.ndarray) -> None:
    """Raise a :class:`MetricInputError` if ``arrays`` do not broadcast together."""
    try:
        np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError as exc:
        desc = ", ".join(f"{k}{v.shape}" for k, v in arrays.items())
        raise MetricInputError(
            f"{func}: argument shapes do not match: {desc}. Pass scalars or equal-length arrays."
        ) from exc


# --------------------------------------------------------------------------- resilience


def accuracy_gap(acc: ArrayLike, acc_counterfactual: ArrayLike) -> FloatOrArray:
    """Accuracy lost to adversaries: honest-only counterfactual accuracy − actual accuracy.

    gap = acc_counterfactual − acc, both measured on the same clean held-out set.
    Positive = the attack (or a defence's collateral) cost accuracy; negative = the run
    did better than the honest-only counterfactual.

    Args:
        acc: clean accuracy of the model trained on the accepted data, fraction in [0, 1].
        acc_counterfactual: clean accuracy of the same model trained on the honest
            contributions only, fraction in [0, 1].

    Returns:
        gap in [−1, 1] (fraction), float or float64 array.
    """
    func = "accuracy_gap"
    a = _amount(func, "acc", acc)
    c = _amount(func, "acc_counterfactual", acc_counterfactual)
    for name, arr in (("acc", a), ("acc_counterfactual", c)):
        if np.any(arr > 1):
            raise MetricInputError(
                f"{func}: {name} must be a fraction in [0, 1]; got {arr[arr > 1].ravel()[0]}. "
                "Pass accuracy as a fraction, not a percentage."
            )
    _broadcastable(func, acc=a, acc_counterfactual=c)
    return _finish(c - a)


def false_positive_rate(flagged: ArrayLike, is_adversary: ArrayLike) -> float:
    """False-positive (false-slash) rate: honest flagged ÷ honest.

    FPR = FP / (FP + TN) = #{flagged and honest} / #{honest}: the share of honest
    individuals or contributions a defence wrongly rejected or slashed.

    Args:
        flagged: bool per individual or contribution, True = flagged / slashed.
        is_adversary: bool per individual or contribution, True = truly adversarial.

    Returns:
        FPR in [0, 1]; ``nan`` if there is no honest entry.
    """
    func = "false_positive_rate"
    f = _bool_vector(func, "flagged", flagged)
    adv = _bool_vector(func, "is_adversary", is_adversary)
    _same_length(func, flagged=f, is_adversary=adv)
    honest = ~adv
    n_honest = int(np.count_nonzero(honest))
    if n_honest == 0:
        return float("nan")
    return float(np.count_nonzero(f & honest) / n_honest)
