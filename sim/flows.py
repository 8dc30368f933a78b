"""What one epoch moved: a typed record made fresh each epoch.

:class:`EpochFlows` is the only way the phases of an epoch hand data to each other. Each
phase reads the parts it needs and returns the part it adds, which ``EconomyModel.step``
stores in the record; nothing is kept on the model between phases. At the end of the epoch
``phases.collect`` derives the KPI row from the record and the state, then the record is
dropped (the model keeps the last one, :attr:`EconomyModel.flows`, for inspection only).

Amounts carry their unit in their name (``_tokens``, ``_usd``); per-account arrays are
indexed by ledger account id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ledgerlab.agents.plans import SubmissionPlan
from ledgerlab.sim.chain import EpochChainStats

_NO_ROWS = np.zeros(0, dtype=np.int64)


def _no_rows() -> np.ndarray:
    return _NO_ROWS.copy()


@dataclass
class MarketFlows:
    """Phase 1: vesting unlocks and the epoch's netted AMM trade.

    Attributes:
        exogenous_flow_usd: The noise traders' drawn order (USD; < 0 = a sell).
        noise_flow_usd, value_trader_flow_usd, arbitrage_flow_usd, shock_flow_usd: What
            each outside participant executed: USD paid for buys − USD received for sells.
        buyback_usd, buyback_tokens: USD spent on buybacks and the tokens they bought.
        fundamental_value_usd: The value trader's value of a token (USD/token; NaN without).
        value_trader_tokens, value_trader_cash_usd: Its holdings after the trade.
        demand_multiplier: Factor on consumers' demand this epoch from scheduled demand
            shocks (1 = none); the consume phase multiplies demand by it.
    """

    unlocked_tokens: float
    sold_tokens: float
    sales_usd: float
    exogenous_flow_usd: float
    noise_flow_usd: float = 0.0
    value_trader_flow_usd: float = 0.0
    arbitrage_flow_usd: float = 0.0
    shock_flow_usd: float = 0.0
    buyback_usd: float = 0.0
    buyback_tokens: float = 0.0
    fundamental_value_usd: float = float("nan")
    value_trader_tokens: float = 0.0
    value_trader_cash_usd: float = 0.0
    demand_multiplier: float = 1.0


@dataclass
class ContributionFlows:
    """Phase 2: what was submitted, accepted and refused, and what it cost.

    Attributes:
        plans: Each contributing role set's submission plan, in phase order.
        cost_usd: Per role: (rows, production cost in USD) of its submissions.
        points_submitted, points_accepted, points_rejected: Points over all datanets.
    """

    plans: list[SubmissionPlan]
    cost_usd: dict[str, tuple[np.ndarray, np.ndarray]]
    points_submitted: int = 0
    points_accepted: int = 0
    points_rejected: int = 0

    @property
    def n_submissions(self) -> int:
        """Submissions over all roles (one chain transaction each)."""
        return sum(p.n_submissions for p in self.plans)


@dataclass
class DatanetFees:
    """Phase 4, per datanet: the contributors' share of its fees and where it landed.

    Attributes:
        contributors_tokens: Contributor share δ of the net fees paid on its models.
        independent_tokens: The part of it paid by independent (non-wash) consumers.
        credit: Retrieval credit per stored point (tokens of fees; per-inference engines).
        credit_independent: The part of ``credit`` from independent consumers.
    """

    contributors_tokens: float
    independent_tokens: float
    credit: np.ndarray
    credit_independent: np.ndarray

    @classmethod
    def none(cls, n_points: int) -> DatanetFees:
        """No fees and no credit on a datanet of ``n_points`` stored points."""
        return cls(0.0, 0.0, np.zeros(n_points), np.zeros(n_points))


@dataclass
class FeeRouting:
    """Phase 4: how the epoch's net fees were split out of the treasury (tokens)."""

    builder_income_tokens: float
    stakers_fees_tokens: float
    fees_burned_tokens: float


@dataclass
class ConsumptionFlows:
    """Phase 4: inferences sold and fees paid.

    Attributes:
        inferences, wash_inferences: Inferences bought by independent and wash consumers.
        fees_tokens: Fees paid into the treasury (tokens), by independent and wash consumers.
        organic_fees_tokens: The part of ``fees_tokens`` paid by independent consumers
            (tokens); the rest was paid by wash consumers on their own points.
        organic_stakers_fees_tokens: The part of the stakers' fee share γ that came from
            independent consumers' fees (tokens).
        n_payers: Payers this epoch (one fee transaction each, one swap each).
        wash_cost_usd: (wash rows, USD each spent on its own fees): a wash consumer's cost.
        owner_pairs: Expected (inference, contributor) pairs credited by the retrieval trail
            (the transfers a ``stream`` payout policy needs with a per-inference engine).
        routing: The fee split, or None when no model was for sale (nothing routed).
        datanets: Per datanet: contributor fees and retrieval credit.
        outside_inferences: Inferences consumers bought from the outside option instead.
        network_share: The network's logit choice share against the outside option this
            epoch (probability; 1 without an outside option).
        builder_fees_tokens: Builder share β each builder row earned (tokens per row).
        outside_price_usd: The outside option's price this epoch (USD/inference; NaN
            without one).
    """

    inferences: float = 0.0
    wash_inferences: float = 0.0
    fees_tokens: float = 0.0
    organic_fees_tokens: float = 0.0
    organic_stakers_fees_tokens: float = 0.0
    n_payers: int = 0
    wash_cost_usd: tuple[np.ndarray, np.ndarray] = field(
        default_factory=lambda: (_no_rows(), np.zeros(0))
    )
    owner_pairs: float = 0.0
    routing: FeeRouting | None = None
    datanets: list[DatanetFees] = field(default_factory=list)
    outside_inferences: float = 0.0
    network_share: float = 1.0
    builder_fees_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0))
    outside_price_usd: float = float("nan")

    @property
    def contributors_tokens(self) -> float:
        """The contributors' share of the epoch's fees over all datanets (tokens)."""
        return sum(d.contributors_tokens for d in self.datanets)

    @property
    def organic_contributors_tokens(self) -> float:
        """The contributors' share of independent consumers' fees over all datanets
        (tokens): what the emission split follows, so wash fees cannot steer it."""
        return sum(d.independent_tokens for d in self.datanets)


@dataclass
class RewardFlows:
    """Phase 5: what attribution and emission paid.

    Attributes:
        emission_tokens: Tokens added to the rewards this epoch (minted or dripped).
        paid_tokens: Reward paid to each account (tokens, per account id).
        total_tokens: Sum of ``paid_tokens``.
        recipients: Accounts paid (one batch claim each).
        by_role_tokens: Reward per contributing role (tokens).
        fair_tokens: The fair split of ``total_tokens`` by true value (tokens per account;
            zeros without a ground truth).
        routed_tokens: Emission paid in an epoch with no active contributor, to stakers or
            holders (``tokenomics.emission.without_contributors``; tokens). Not a reward: not
            in ``paid_tokens``; its recipients are counted in ``recipients``.
    """

    emission_tokens: float
    paid_tokens: np.ndarray
    total_tokens: float
    recipients: int
    by_role_tokens: dict[str, float]
    fair_tokens: np.ndarray
    routed_tokens: float = 0.0


@dataclass
class SettlementFlows:
    """Phase 6: the epoch's transactions on the chain and who paid the gas.

    Attributes:
        stats: The chain's account of the epoch (counts, fees, latency, backlog).
        payout_tx: Payout transactions sent (by the payout policy).
        gas_unpaid_tokens: Gas neither the treasury nor the reward pool could pay.
    """

    stats: EpochChainStats
    payout_tx: int
    gas_unpaid_tokens: float


@dataclass
class ChurnFlows:
    """Phase 7: individuals who left and joined, per contributing role."""

    left: dict[str, int]
    joined: dict[str, int]

    @classmethod
    def none(cls, roles: Iterable[str]) -> ChurnFlows:
        """Nobody left or joined any of ``roles`` (a world without contributing roles)."""
        names = tuple(roles)
        return cls(left=dict.fromkeys(names, 0), joined=dict.fromkeys(names, 0))


@dataclass
class DefenseFlows:
    """What the defences caught and cost this epoch (written in phases 2 and 5).

    Attributes:
        rejected_points, rejected_honest_points, rejected_adversary_points: Points refused.
        submitted_honest_points: Honest points screened.
        withheld_tokens: Rewards held back by the sybil discount and the wash cap.
        tx: Defence transactions (bonds posted, bonds settled).
        slashed_tokens, slashed_honest_tokens: Bonds slashed, and the honest part.
        sybil_flagged_accounts: Accounts the sybil defence flags (NaN: not measured).
        flagged_points: Per screening defence: points it flagged.
        precision, recall: Per screening defence: of its flags, on the last batch screened.
        cost_usd: Per account: what the defences cost it (slashed bonds, USD).
    """

    rejected_points: float = 0.0
    rejected_honest_points: float = 0.0
    rejected_adversary_points: float = 0.0
    submitted_honest_points: float = 0.0
    withheld_tokens: float = 0.0
    tx: float = 0.0
    slashed_tokens: float = 0.0
    slashed_honest_tokens: float = 0.0
    sybil_flagged_accounts: float = 0.0
    flagged_points: dict[str, float] = field(default_factory=dict)
    precision: dict[str, float] = field(default_factory=dict)
    recall: dict[str, float] = field(default_factory=dict)
    cost_usd: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def add_cost(self, accounts: np.ndarray, usd: np.ndarray, n_accounts: int) -> None:
        """Book a defence's cost to individuals (USD, e.g. slashed bonds)."""
        if self.cost_usd.size < n_accounts:
            grown = np.zeros(n_accounts)
            grown[: self.cost_usd.size] = self.cost_usd
            self.cost_usd = grown
        np.add.at(self.cost_usd, accounts, usd)


@dataclass
class EpochFlows:
    """Everything one epoch moved, phase by phase (None: the phase has not run, or had
    nothing to do, e.g. no chain)."""

    epoch: int
    market: MarketFlows | None = None
    contribution: ContributionFlows | None = None
    consumption: ConsumptionFlows | None = None
    rewards: RewardFlows | None = None
    settlement: SettlementFlows | None = None
    churn: ChurnFlows | None = None
    defense: DefenseFlows = field(default_factory=DefenseFlows)
