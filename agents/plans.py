"""What role sets hand to the model: submission plans.

Agents decide *who* submits *how many* points of *which kind*; the model (``sim/``) turns
a plan into points with the datanet generators. This keeps the dependency direction
``sim → agents → economics``: agents never import the learning task.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Kind(IntEnum):
    """What kind of contribution a point is: what a role plans to submit and what the
    datanet generators (``sim.datanet``) make of it; stored as int8 per point. Sybil
    identities uploading freshly drawn, noisily labelled points submit ``HONEST`` points
    (their owners, not their kind, mark them as farmed)."""

    HONEST = 0
    LABEL_FLIP = 1
    BACKDOOR = 2
    NOISE = 3
    DUPLICATE = 4
    NEAR_DUPLICATE = 5


STRATEGIES = (
    "duplicate",
    "near_duplicate",
    "sybil",
    "wash",
    "label_flip",
    "backdoor",
    "junk",
    "leave",
)
"""What an adversary identity may do in an epoch (the schema's ``AdversaryStrategy``); its
index is the strategy code stored per identity (``playing``)."""

(
    S_DUPLICATE,
    S_NEAR_DUPLICATE,
    S_SYBIL,
    S_WASH,
    S_LABEL_FLIP,
    S_BACKDOOR,
    S_JUNK,
    S_LEAVE,
) = range(len(STRATEGIES))

CONTENT_KIND = np.array(
    [
        Kind.DUPLICATE,
        Kind.NEAR_DUPLICATE,
        Kind.HONEST,  # sybil: replaced by the operator's ``sybil_content`` kind
        Kind.NEAR_DUPLICATE,  # wash: jittered copies, retrieved later by the wash queries
        Kind.LABEL_FLIP,
        Kind.BACKDOOR,
        Kind.NOISE,
        Kind.HONEST,  # leave: submits nothing
    ],
    dtype=np.int8,
)
"""Point kind each strategy uploads (by strategy code)."""


@dataclass
class SubmissionPlan:
    """One epoch's submissions of one role set, one entry per submission.

    Attributes:
        role: Role name of the submitters.
        rows: Row of the submitter in its role set, per submission.
        owner: Ledger account of the submitter, per submission.
        datanet: Index of the target datanet, per submission.
        n_points: Points in each submission (points).
        kind: Point kind of each submission (a :class:`Kind`, int8).
        quality: Label accuracy for honest/fresh submissions (probability), per submission.
        cost_usd_per_point: Submitter's production cost (USD/point), per submission.
    """

    role: str
    rows: np.ndarray
    owner: np.ndarray
    datanet: np.ndarray
    n_points: np.ndarray
    kind: np.ndarray
    quality: np.ndarray
    cost_usd_per_point: np.ndarray

    @property
    def n_submissions(self) -> int:
        """Number of submissions in the plan."""
        return int(self.owner.shape[0])


def poisson_submissions(
    rng: np.random.Generator,
    rows: np.ndarray,
    rate_per_epoch: float,
) -> np.ndarray:
    """Rows repeated once per submission this epoch (Poisson(rate) submissions per row)."""
    if rows.size == 0 or rate_per_epoch <= 0:
        return np.empty(0, dtype=np.int64)
    counts = rng.poisson(rate_per_epoch, size=rows.size)
    return np.repeat(rows, counts)


def plan_for(
    role: str,
    rows: np.ndarray,
    account: np.ndarray,
    datanet: np.ndarray,
    *,
    points_per_submission: int,
    kind: np.ndarray | int,
    quality: np.ndarray | float,
    cost_usd_per_point: float,
) -> SubmissionPlan:
    """A plan with one submission per entry of ``rows`` (rows of a role set whose
    ``account`` and ``datanet`` columns are given), each of ``points_per_submission``
    points (points) costing ``cost_usd_per_point`` (USD/point)."""
    n = rows.size
    return SubmissionPlan(
        role=role,
        rows=rows,
        owner=account[rows],
        datanet=datanet[rows],
        n_points=np.full(n, points_per_submission, dtype=np.int64),
        kind=np.broadcast_to(np.asarray(kind, dtype=np.int8), (n,)).copy(),
        quality=np.broadcast_to(np.asarray(quality, dtype=np.float64), (n,)).copy(),
        cost_usd_per_point=np.full(n, cost_usd_per_point),
    )
