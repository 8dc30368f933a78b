"""Reputation: an exponential moving average of validation outcomes that scales rewards.

Why: a one-off check can be gamed, a track record is harder to fake. Each epoch in which an
individual's submissions are validated, its reputation moves towards the epoch's score
``s`` in [0, 1] (share of its submissions that passed, 1 = all clean):

    r ← λ·r + (1 − λ)·s            (only for individuals observed this epoch)

and its rewards are multiplied by

    m(r) = r ** γ     if r >= penalty_threshold,      m(r) = 0   otherwise

— OpenLedger's rule: below the penalty threshold a contributor earns nothing until its
record recovers. λ (``decay``) is the memory: the weight of the past after one observation;
γ (``gamma``) sharpens the reward curve (0 = reputation ignored above the threshold).

Known false-positive mode: honest contributors whose submissions are wrongly flagged (class
overlap regions, near-duplicate collisions) lose reputation, and with it a share of their
rewards; a new honest identity starting at ``initial_reputation`` below the threshold earns nothing at
first. All functions are O(n) and vectorised over individuals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ledgerlab.economics.defenses.base import (
    BoolArray,
    DefenseInputError,
    FloatArray,
    as_bool_vector,
    as_float_vector,
    as_int_vector,
    check_float,
    check_int,
    same_length,
)

__all__ = [
    "ReputationParams",
    "initial_reputation",
    "multiplier",
    "owner_scores",
    "update",
]


@dataclass(frozen=True)
class ReputationParams:
    """Parameters of the reputation update and reward multiplier (defaults match the scenario
    schema's ``reputation`` section)."""

    decay: float = 0.9
    """Memory λ: weight of the previous reputation in one update (dimensionless, in [0, 1))."""
    gamma: float = 2.0
    """Exponent γ of the reward multiplier r**γ (dimensionless, >= 0)."""
    penalty_threshold: float = 0.2
    """Reputation below which rewards stop entirely (dimensionless, in [0, 1])."""
    initial_reputation: float = 0.5
    """Reputation of a new identity (dimensionless, in [0, 1])."""

    def __post_init__(self) -> None:
        cls = type(self).__name__
        object.__setattr__(
            self, "decay", check_float(cls, "decay", self.decay, 0.0, 1.0, high_open=True)
        )
        object.__setattr__(self, "gamma", check_float(cls, "gamma", self.gamma, 0.0))
        object.__setattr__(
            self,
            "penalty_threshold",
            check_float(cls, "penalty_threshold", self.penalty_threshold, 0.0, 1.0),
        )
        object.__setattr__(
            self,
            "initial_reputation",
            check_float(cls, "initial_reputation", self.initial_reputation, 0.0, 1.0),
        )


def initial_reputation(n: int, params: ReputationParams) -> FloatArray:
    """Reputation column for ``n`` new identities: all ``params.initial_reputation`` (float64[n]). O(n)."""
    return np.full(
        check_int("initial_reputation", "n", n, exc=DefenseInputError),
        params.initial_reputation,
        dtype=np.float64,
    )


def update(
    r: npt.ArrayLike,
    s: npt.ArrayLike,
    observed_mask: npt.ArrayLike,
    params: ReputationParams,
) -> FloatArray:
    """One epoch's update: ``λ·r + (1 − λ)·s`` where observed, ``r`` unchanged elsewhere.

    Stays in [0, 1] because it is a convex combination of two values in [0, 1].
    Cost O(n). Known false-positive mode: a wrongly low score ``s`` (an honest submission
    flagged by another defence) lowers an honest individual's reputation.

    Args:
        r: current reputation per individual (dimensionless, float[n] in [0, 1]).
        s: this epoch's validation score per individual (dimensionless, float[n] in [0, 1];
            ignored where not observed), e.g. from :func:`owner_scores`.
        observed_mask: True for individuals validated this epoch (bool[n]).
        params: the reputation parameters.

    Returns:
        new reputation, float64[n] in [0, 1] (a new array; ``r`` is not modified).
    """
    op = "reputation.update"
    rv = as_float_vector(op, "r", r, 0.0, 1.0)
    obs = as_bool_vector(op, "observed_mask", observed_mask)
    sv = np.asarray(s)
    # unobserved scores are ignored: validate only the observed ones (they may be nan)
    if sv.ndim == 1 and len(sv) == len(obs) and sv.size:
        sv = np.where(obs, np.asarray(sv, dtype=np.float64), 0.0)
    sv = as_float_vector(op, "s (where observed)", sv, 0.0, 1.0)
    same_length(op, r=rv, s=sv, observed_mask=obs)
    lam = params.decay
    new = lam * rv + (1.0 - lam) * sv
    # guard the last ulp: a convex combination can round a hair outside [0, 1]
    return np.where(obs, np.clip(new, 0.0, 1.0), rv)


def multiplier(r: npt.ArrayLike, params: ReputationParams) -> FloatArray:
    """Reward multiplier per individual: ``r**γ``, or 0 where ``r < penalty_threshold``.

    Cost O(n). Known false-positive mode: an honest individual pushed below the threshold by
    a few wrongly flagged submissions earns nothing until its reputation recovers.

    Args:
        r: reputation per individual (dimensionless, float[n] in [0, 1]).
        params: the reputation parameters.

    Returns:
        float64[n] in [0, 1].
    """
    rv = as_float_vector("reputation.multiplier", "r", r, 0.0, 1.0)
    return np.where(rv < params.penalty_threshold, 0.0, rv**params.gamma)


def owner_scores(
    owners: npt.ArrayLike, passed: npt.ArrayLike, n_accounts: int
) -> tuple[FloatArray, BoolArray]:
    """Per-account validation score of one epoch: the share of its submissions that passed.

    Turns per-submission screening outcomes (e.g. ``~ScreenResult.flagged``, or
    ``1 − severity``) into the ``(s, observed_mask)`` pair that :func:`update` expects.
    Accounts with no submission get score 0 and ``observed_mask`` False. Cost
    O(n + n_accounts) (two ``np.bincount``).

    Args:
        owners: account id of each submission (int[n], in [0, n_accounts)).
        passed: outcome of each submission (bool[n], or float[n] in [0, 1] for partial credit).
        n_accounts: number of accounts (length of the outputs).

    Returns:
        ``(s, observed)``: float64[n_accounts] in [0, 1] and bool[n_accounts].
    """
    op = "reputation.owner_scores"
    n_acc = check_int(op, "n_accounts", n_accounts, exc=DefenseInputError)
    own = as_int_vector(op, "owners", owners)
    p = np.asarray(passed)
    p = p.astype(np.float64) if p.dtype == np.bool_ else p
    pv = as_float_vector(op, "passed", p, 0.0, 1.0)
    same_length(op, owners=own, passed=pv)
    if own.size and own.max() >= n_acc:
        raise DefenseInputError(
            f"{op}: owner id {int(own.max())} is not below n_accounts={n_acc}; "
            "pass the ledger's number of accounts"
        )
    count = np.bincount(own, minlength=n_acc)
    total = np.bincount(own, weights=pv, minlength=n_acc)
    observed = count > 0
    s = np.zeros(n_acc, dtype=np.float64)
    s[observed] = np.clip(total[observed] / count[observed], 0.0, 1.0)
    return s, observed
