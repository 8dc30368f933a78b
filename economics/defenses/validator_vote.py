"""Validator vote: stake-weighted, κ-clipped consensus on submissions (Bittensor's Yuma).

Why: when validators score submissions, a clique of validators can vote its allied farmers
up. Yuma Consensus (Bittensor) bounds what any coalition holding less than a fraction κ of the
stake can do: for each submission j it computes the *consensus weight*

    c_j = max { w : Σ_{i : W_ij ≥ w} S_i  ≥  κ · Σ_i S_i },

the largest score that validators holding at least κ of the stake give *at least* (a
stake-weighted κ-quantile counted from the top; κ = ½ is the stake-weighted median), then
clips every vote to it, ``W'_ij = min(W_ij, c_j)``, and ranks submissions by the clipped,
stake-weighted score ``rank_j = Σ_i S_i W'_ij / Σ_i S_i``. A coalition with less than κ of the
stake cannot lift c_j above the highest score an honest validator gives (it needs honest
stake to reach κ), and its excess votes are clipped away; a coalition with more than κ sets
c_j alone. A submission is approved when its consensus reaches ``approve_threshold``.

Differences from Bittensor, on purpose: weights here are absolute scores in [0, 1] per
(validator, submission) — a vote on each submission — rather than rows normalised to sum to
1; there are no bonds, dividends or emission split (not needed to screen submissions).

Known false-positive mode: honest submissions whose noisy scores fall below the threshold for
κ of the stake are rejected (the false-reject cost); with κ close to 1 a single low-scoring
validator is enough. All functions are vectorised over validators and submissions (sort and
cumulative sum per column), no Python loop over either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ledgerlab.economics.defenses.base import (
    BoolArray,
    DefenseInputError,
    FloatArray,
    ScreenResult,
    as_bool_vector,
    as_float_vector,
    check_float,
    same_length,
)

__all__ = [
    "STAKE_RTOL",
    "ValidatorVoteParams",
    "VoteOutcome",
    "YumaResult",
    "approve",
    "assign_colluders",
    "screen",
    "vote_and_screen",
    "vote_submissions",
    "yuma_consensus",
]

STAKE_RTOL = 1e-12
"""Relative tolerance (of the total stake) when comparing supporting stake with κ·ΣS, so that
support exactly at κ counts despite rounding of the cumulative sums."""


@dataclass(frozen=True)
class ValidatorVoteParams:
    """Parameters of the validator vote (defaults are illustrative)."""

    kappa: float = 0.5
    """κ: share of stake that must support a score for it to be the consensus
    (dimensionless, in (0, 1]; ½ = stake-weighted median)."""
    approve_threshold: float = 0.5
    """A submission is approved when its consensus score is at least this (score, in [0, 1])."""
    colluding_fraction: float = 0.0
    """Largest share of validator stake that colludes with farmers (dimensionless, in [0, 1];
    used by :func:`assign_colluders`)."""
    noise_std: float = 0.1
    """Standard deviation of a validator's scoring noise around the true quality signal
    (score units, >= 0)."""

    def __post_init__(self) -> None:
        cls = type(self).__name__
        object.__setattr__(
            self, "kappa", check_float(cls, "kappa", self.kappa, 0.0, 1.0, low_open=True)
        )
        object.__setattr__(
            self,
            "approve_threshold",
            check_float(cls, "approve_threshold", self.approve_threshold, 0.0, 1.0),
        )
        object.__setattr__(
            self,
            "colluding_fraction",
            check_float(cls, "colluding_fraction", self.colluding_fraction, 0.0, 1.0),
        )
        object.__setattr__(self, "noise_std", check_float(cls, "noise_std", self.noise_std, 0.0))


# --------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------


def _weights(op: str, weights: npt.ArrayLike) -> FloatArray:
    w = np.asarray(weights)
    if w.ndim != 2:
        raise DefenseInputError(
            f"{op}: weights must be a 2-D array [validators, submissions], got shape {w.shape}"
        )
    if w.size and (w.dtype == np.bool_ or w.dtype.kind not in "fiu"):
        raise DefenseInputError(f"{op}: weights must be real-valued, got dtype {w.dtype}")
    w = w.astype(np.float64, copy=False)
    bad = ~np.isfinite(w) | (w < 0.0) | (w > 1.0)
    if bad.any():
        i, j = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise DefenseInputError(
            f"{op}: weights must be finite scores in [0, 1], got {w[i, j]!r} at validator {i}, "
            f"submission {j}"
        )
    return w


def _stake(op: str, stake: npt.ArrayLike, n_validators: int) -> FloatArray:
    s = as_float_vector(op, "stake", stake, 0.0)
    if s.size != n_validators:
        raise DefenseInputError(
            f"{op}: stake has {s.size} entries but weights has {n_validators} validator rows"
        )
    if not s.sum() > 0.0:
        raise DefenseInputError(
            f"{op}: total stake must be > 0, got {float(s.sum())!r}; at least one validator "
            "needs stake"
        )
    return s


# --------------------------------------------------------------------------------------
# Yuma consensus
# --------------------------------------------------------------------------------------


class YumaResult(NamedTuple):
    """Output of :func:`yuma_consensus`."""

    consensus: FloatArray
    """Consensus score c_j per submission (score in [0, 1], float64[M])."""
    clipped_weights: FloatArray
    """Votes clipped to consensus, min(W_ij, c_j) (score, float64[V, M])."""
    ranks: FloatArray
    """Stake-weighted clipped score Σ_i S_i W'_ij / ΣS per submission (score, float64[M])."""
    vote_kept: FloatArray
    """Share of each validator's total vote that survived clipping, Σ_j W'_ij / Σ_j W_ij
    (dimensionless, float64[V]; 1 for a validator that gave no weight) — low for validators
    that vote far above consensus, e.g. colluders."""


def yuma_consensus(weights: npt.ArrayLike, stake: npt.ArrayLike, kappa: float) -> YumaResult:
    """Yuma-style κ-clipped consensus of validators' scores.

    For each submission j (column), sort the votes in decreasing order and accumulate the
    validators' stake; the consensus is the first (largest) vote at which the accumulated
    stake reaches κ·ΣS (compared with a relative tolerance :data:`STAKE_RTOL`). Because all
    votes ≥ that vote come before it in the order, this is exactly
    ``max{w : Σ_{W_ij ≥ w} S_i ≥ κ ΣS}``. Validators with zero stake do not influence the
    consensus (their votes are still clipped).

    Cost O(V·M·log V) (one sort per submission, vectorised over all submissions); about
    0.8 s for 64 validators × 100,000 submissions on one core.

    Args:
        weights: each validator's score for each submission (score, float[V, M] in [0, 1]).
        stake: stake of each validator (tokens, float[V] >= 0, total > 0).
        kappa: κ (dimensionless, in (0, 1]).
    """
    op = "yuma_consensus"
    w = _weights(op, weights)
    v, m = w.shape
    s = _stake(op, stake, v)
    k = check_float(op, "kappa", kappa, 0.0, 1.0, low_open=True)
    total = float(s.sum())
    if m == 0:
        return YumaResult(
            consensus=np.zeros(0),
            clipped_weights=np.zeros((v, 0)),
            ranks=np.zeros(0),
            vote_kept=np.ones(v),
        )
    # one row per submission (contiguous rows sort faster than strided columns); the order
    # of tied votes does not matter: the stake of a whole tie block is added before the
    # next smaller vote, so the first vote reaching κ·ΣS is the same for any tie order
    wt = np.ascontiguousarray(w.T)
    order = np.argsort(-wt, axis=1)
    w_sorted = np.take_along_axis(wt, order, axis=1)
    support = np.cumsum(s[order], axis=1)
    reached = support >= k * total - STAKE_RTOL * total
    first = np.argmax(reached, axis=1)  # the last column always reaches (support = ΣS ≥ κΣS)
    consensus = w_sorted[np.arange(m), first]
    clipped = np.minimum(w, consensus[np.newaxis, :])
    ranks = (s @ clipped) / total
    given = w.sum(axis=1)
    kept = np.divide(clipped.sum(axis=1), given, out=np.ones(v), where=given > 0)
    return YumaResult(consensus=consensus, clipped_weights=clipped, ranks=ranks, vote_kept=kept)


def approve(consensus: npt.ArrayLike, threshold: float) -> BoolArray:
    """Submissions whose consensus score is at least ``threshold`` (score in [0, 1]). O(M)."""
    op = "approve"
    c = as_float_vector(op, "consensus", np.atleast_1d(consensus), 0.0, 1.0)
    t = check_float(op, "threshold", threshold, 0.0, 1.0)
    return c >= t


def screen(consensus: npt.ArrayLike, threshold: float) -> ScreenResult:
    """The vote as a :class:`~economics.defenses.base.ScreenResult` (composable with the
    other screening defences via ``combine``).

    Rejected submissions are flagged with reason ``"vote"`` and severity
    ``(threshold − c)/threshold`` (how far below the bar, in [0, 1]); approved ones have
    severity 0. O(M).
    """
    c = as_float_vector("validator_vote.screen", "consensus", np.atleast_1d(consensus), 0.0, 1.0)
    ok = approve(c, threshold)
    severity = np.where(ok, 0.0, np.clip((threshold - c) / max(threshold, 1e-300), 0.0, 1.0))
    return ScreenResult.from_masks(
        "validator_vote", accept=ok, flagged=~ok, severity=severity, reasons=[("vote", ~ok)]
    )


# --------------------------------------------------------------------------------------
# behaviour of validators (votes) and who colludes
# --------------------------------------------------------------------------------------


def vote_submissions(
    quality_signal: npt.ArrayLike,
    is_colluder_target: npt.ArrayLike,
    is_colluding_validator: npt.ArrayLike,
    noise_std: float,
    rng: np.random.Generator,
) -> FloatArray:
    """Each validator's score for each submission.

    Honest validators score a submission by its quality signal plus independent Gaussian
    noise, clipped to [0, 1]. Colluding validators give 1.0 to the submissions of their allied
    farmers (``is_colluder_target``) and their own noisy honest score to every other
    submission. The noise is drawn for every (validator, submission) pair in one call, so
    the honest scores are the same whoever colludes (common random numbers).

    Cost O(V·M). Args:
        quality_signal: true quality of each submission (score, float[M] in [0, 1]).
        is_colluder_target: True for submissions of farmers allied with the colluders
            (bool[M]).
        is_colluding_validator: True for colluding validators (bool[V]).
        noise_std: standard deviation of the scoring noise (score units, >= 0).
        rng: the numpy Generator to draw with.

    Returns:
        float64[V, M] scores in [0, 1].
    """
    op = "vote_submissions"
    q = as_float_vector(op, "quality_signal", quality_signal, 0.0, 1.0)
    target = as_bool_vector(op, "is_colluder_target", is_colluder_target)
    same_length(op, quality_signal=q, is_colluder_target=target)
    colluder = as_bool_vector(op, "is_colluding_validator", is_colluding_validator)
    sigma = check_float(op, "noise_std", noise_std, 0.0)
    noise = rng.normal(0.0, 1.0, size=(colluder.size, q.size))
    w = np.clip(q[np.newaxis, :] + sigma * noise, 0.0, 1.0)
    w[np.ix_(colluder, target)] = 1.0
    return w


def assign_colluders(
    stake: npt.ArrayLike, colluding_fraction: float, rng: np.random.Generator
) -> BoolArray:
    """Pick colluding validators holding at most ``colluding_fraction`` of the stake.

    Validators are taken in a random order while their cumulative stake stays within
    ``colluding_fraction · ΣS`` (relative tolerance :data:`STAKE_RTOL`), so the colluding
    share never exceeds the parameter (it may fall short of it with few, large validators).
    Cost O(V).

    Args:
        stake: stake per validator (tokens, float[V] >= 0).
        colluding_fraction: largest colluding stake share (dimensionless, [0, 1]).
        rng: the numpy Generator to draw with.

    Returns:
        bool[V], True for colluders.
    """
    op = "assign_colluders"
    s = as_float_vector(op, "stake", stake, 0.0)
    f = check_float(op, "colluding_fraction", colluding_fraction, 0.0, 1.0)
    order = rng.permutation(s.size)
    total = float(s.sum())
    inside = np.cumsum(s[order]) <= f * total + STAKE_RTOL * total
    out = np.zeros(s.size, dtype=np.bool_)
    out[order] = inside if f > 0.0 else False
    return out


class VoteOutcome(NamedTuple):
    """Output of :func:`vote_and_screen`."""

    weights: FloatArray
    """Raw votes (score, float64[V, M])."""
    yuma: YumaResult
    """Consensus, clipped votes, ranks and kept vote share."""
    approved: BoolArray
    """True for approved submissions (bool[M])."""


def vote_and_screen(
    quality_signal: npt.ArrayLike,
    is_colluder_target: npt.ArrayLike,
    stake: npt.ArrayLike,
    is_colluding_validator: npt.ArrayLike,
    params: ValidatorVoteParams,
    rng: np.random.Generator,
) -> VoteOutcome:
    """One round: validators vote (:func:`vote_submissions`), Yuma consensus
    (:func:`yuma_consensus`), approval (:func:`approve`). Cost O(V·M·log V).

    Args:
        quality_signal: true quality per submission (score, float[M] in [0, 1]).
        is_colluder_target: submissions of farmers allied with the colluders (bool[M]).
        stake: stake per validator (tokens, float[V] >= 0).
        is_colluding_validator: colluding validators (bool[V]), e.g. from
            :func:`assign_colluders`.
        params: κ, approval threshold and noise.
        rng: the numpy Generator to draw with.
    """
    w = vote_submissions(
        quality_signal, is_colluder_target, is_colluding_validator, params.noise_std, rng
    )
    y = yuma_consensus(w, stake, params.kappa)
    return VoteOutcome(weights=w, yuma=y, approved=approve(y.consensus, params.approve_threshold))
