"""Rate limit: at most m submissions per identity per epoch, and a minimum age before earning.

Why: volume farming (many small submissions) and sybil swarms (many fresh identities) both
rely on identities being free to use at any rate from day one. Two rules:

* **per-epoch cap** — an identity's submissions in an epoch are accepted in the given order
  until it has ``max_submissions_per_epoch``; the rest are refused (not accused: flagged is
  False and severity 0, reason ``"rate"``, so nothing is slashed for it);
* **minimum age** — an identity earns rewards only once ``epoch − joined_epoch >=
  min_age_epochs``; younger identities may submit but their rewards are withheld.

Known false-positive modes: honest prolific providers are throttled (their extra, often
valuable, submissions are refused); every honest newcomer waits ``min_age_epochs`` before
earning, which discourages honest entry as much as sybil entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ledgerlab.economics.defenses.base import (
    BoolArray,
    DefenseInputError,
    ScreenResult,
    as_int_vector,
    check_int,
    rank_within_groups,
)

__all__ = [
    "RateLimitParams",
    "earning_mask",
    "screen_rate",
]


@dataclass(frozen=True)
class RateLimitParams:
    """Parameters of the rate limit (defaults match the scenario schema's ``rate_limit``
    section)."""

    max_submissions_per_epoch: int = 5
    """Submissions accepted per identity per epoch (count per epoch, >= 0)."""
    min_age_epochs: int = 0
    """Epochs an identity must have existed before it earns rewards (epochs, >= 0)."""

    def __post_init__(self) -> None:
        cls = type(self).__name__
        object.__setattr__(
            self,
            "max_submissions_per_epoch",
            check_int(cls, "max_submissions_per_epoch", self.max_submissions_per_epoch, 0),
        )
        object.__setattr__(
            self, "min_age_epochs", check_int(cls, "min_age_epochs", self.min_age_epochs, 0)
        )


def screen_rate(
    sub_owner: npt.ArrayLike,
    params: RateLimitParams,
    prior_counts: npt.ArrayLike | None = None,
) -> ScreenResult:
    """Accept each identity's first ``max_submissions_per_epoch`` submissions, in the given order.

    Vectorised with a stable argsort by owner and the rank of each submission within its
    owner's group: accepted where ``prior + rank < max``. Cost O(n log n). Known
    false-positive mode: honest prolific providers are throttled.

    Args:
        sub_owner: owner account of each submission (int[n], one entry per submission), in
            submission order.
        params: the rate-limit parameters.
        prior_counts: submissions each account already made earlier this epoch (int per
            account id, >= 0), when the screen runs several times per epoch; None = 0.

    Returns:
        a :class:`ScreenResult` named ``"rate_limit"``: ``accept`` is the mask; refused entries
        carry reason ``"rate"`` but are not flagged (severity 0).
    """
    op = "screen_rate"
    own = as_int_vector(op, "sub_owner", sub_owner)
    _, rank = rank_within_groups(own)
    if prior_counts is not None:
        prior = as_int_vector(op, "prior_counts", prior_counts)
        if own.size and own.max() >= len(prior):
            raise DefenseInputError(
                f"{op}: sub_owner holds account {int(own.max())} but prior_counts has "
                f"{len(prior)} entries; pass one count per ledger account"
            )
        rank = rank + prior[own]
    accept = rank < params.max_submissions_per_epoch
    n = len(own)
    return ScreenResult.from_masks(
        "rate_limit",
        accept,
        np.zeros(n, dtype=np.bool_),
        np.zeros(n, dtype=np.float64),
        reasons=(("rate", ~accept),),
    )


def earning_mask(joined_epoch: npt.ArrayLike, epoch: int, min_age_epochs: int) -> BoolArray:
    """True for identities old enough to earn: ``epoch − joined_epoch >= min_age_epochs``.

    Identities with ``joined_epoch > epoch`` (not yet joined) do not earn. Cost O(n).
    Known false-positive mode: honest newcomers earn nothing for ``min_age_epochs`` epochs.

    Args:
        joined_epoch: epoch each identity joined (epochs, int[n], >= 0).
        epoch: the current epoch (epochs, >= 0).
        min_age_epochs: minimum age (epochs, >= 0), e.g. ``params.min_age_epochs``.

    Returns:
        bool[n].
    """
    op = "earning_mask"
    joined = as_int_vector(op, "joined_epoch", joined_epoch)
    ep = check_int(op, "epoch", epoch, 0, exc=DefenseInputError)
    age = check_int(op, "min_age_epochs", min_age_epochs, 0, exc=DefenseInputError)
    return (ep - joined >= age) & (joined <= ep)
