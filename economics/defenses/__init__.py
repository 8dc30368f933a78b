"""Anti-farming and anti-poisoning defences: pure, vectorised mechanisms (no Mesa).

One module per defence; each has a frozen parameters dataclass (units in every field's
docstring) and vectorised functions over submissions or individuals. Screening defences
return a :class:`ScreenResult`; results compose with :func:`combine`.
"""

from ledgerlab.economics.defenses.base import (
    DefenseError,
    DefenseInputError,
    DefenseParamError,
    OwnerTally,
    ScreenResult,
    combine,
)
from ledgerlab.economics.defenses.dedup import (
    CopyIndex,
    DedupParams,
    content_hash,
    screen_duplicates,
)
from ledgerlab.economics.defenses.quality_filter import (
    QualityFilterParams,
    RobustStats,
    label_agreement,
    robust_stats,
    robust_z,
    screen_quality,
)
from ledgerlab.economics.defenses.rate_limit import RateLimitParams, earning_mask, screen_rate
from ledgerlab.economics.defenses.reputation import (
    ReputationParams,
    initial_reputation,
    owner_scores,
)
from ledgerlab.economics.defenses.reputation import multiplier as reputation_multiplier
from ledgerlab.economics.defenses.reputation import update as update_reputation
from ledgerlab.economics.defenses.stake_slash import (
    BondBook,
    DueBonds,
    LedgerSettlement,
    StakeSlashParams,
    affordable,
    bond_required,
    slash_amounts,
    slash_factor,
)
from ledgerlab.economics.defenses.sybil_graph import (
    FundingGraph,
    SybilGraphDefense,
    SybilGraphParams,
    cluster_discount,
    funding_clusters,
    pick_seeds,
    sybilrank,
)
from ledgerlab.economics.defenses.sybil_graph import detect as detect_sybils
from ledgerlab.economics.defenses.validator_vote import (
    ValidatorVoteParams,
    assign_colluders,
    vote_and_screen,
    vote_submissions,
    yuma_consensus,
)
from ledgerlab.economics.defenses.validator_vote import approve as approve_submissions
from ledgerlab.economics.defenses.validator_vote import screen as screen_votes
from ledgerlab.economics.defenses.wash_guard import (
    WashGuardParams,
    attributed_independent_fees,
    cap_rewards,
    independent_fees,
)

__all__ = [
    "BondBook",
    "CopyIndex",
    "DedupParams",
    "DefenseError",
    "DefenseInputError",
    "DefenseParamError",
    "DueBonds",
    "FundingGraph",
    "LedgerSettlement",
    "OwnerTally",
    "QualityFilterParams",
    "RateLimitParams",
    "ReputationParams",
    "RobustStats",
    "ScreenResult",
    "StakeSlashParams",
    "SybilGraphDefense",
    "SybilGraphParams",
    "ValidatorVoteParams",
    "WashGuardParams",
    "affordable",
    "approve_submissions",
    "assign_colluders",
    "attributed_independent_fees",
    "bond_required",
    "cap_rewards",
    "cluster_discount",
    "combine",
    "content_hash",
    "detect_sybils",
    "earning_mask",
    "funding_clusters",
    "independent_fees",
    "initial_reputation",
    "label_agreement",
    "owner_scores",
    "pick_seeds",
    "reputation_multiplier",
    "robust_stats",
    "robust_z",
    "screen_duplicates",
    "screen_quality",
    "screen_rate",
    "screen_votes",
    "slash_amounts",
    "slash_factor",
    "sybilrank",
    "update_reputation",
    "vote_and_screen",
    "vote_submissions",
    "yuma_consensus",
]
