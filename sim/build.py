"""Scenario sections → economics objects.

Every mechanism in ``economics/`` takes its parameters under the scenario schema's names, so
an object is built from its section as ``Params(**section.model_dump())``: a parameter keeps
one name from the YAML file to the formula. What this module adds is only what the schema
cannot say: derived quantities (the AMM's epoch length in seconds, a bucket's tokens) and
the model's representability bounds (:data:`MIN_HALF_LIFE_EPOCHS`,
:data:`MAX_FLOW_TREND_USD`), each named and documented.

It also checks, once at import, that the schema's attribution engines are the engines
registered in ``economics.attribution.ENGINES``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, get_args

import numpy as np

from ledgerlab.agents.base import ChurnRule
from ledgerlab.economics import defenses as D
from ledgerlab.economics.attribution import ENGINES, EngineSpec
from ledgerlab.economics.demand import OutsideOption
from ledgerlab.economics.emission import Constant, EmissionSchedule, make_schedule
from ledgerlab.economics.fees import SPLIT_TOLERANCE, FeeSplit, inference_fee_tokens
from ledgerlab.economics.market import MarketShock, OrderFlow
from ledgerlab.economics.vesting import Bucket, VestingSchedule
from ledgerlab.scenarios import Scenario
from ledgerlab.scenarios import schema as S
from ledgerlab.sim.chain import Chain, ChainParams, ChainParamsError

MIN_HALF_LIFE_EPOCHS = 1e-290
"""Shortest emission half-life the model uses (epochs). Any half-life this short issues
everything in epoch 0 and nothing after; shorter ones (the schema allows down to 5e-324)
make log(2)/half-life overflow to infinity, and infinity × epoch 0 is NaN. At this bound
the exponent stays finite for any epoch up to 1e10."""

MAX_FLOW_TREND_USD = 1e60
"""Largest expected exogenous flow per epoch the model accepts (USD): the trend
``mean_usd_per_epoch · exp(growth_per_epoch · t)`` times shock multipliers, over the
horizon. The AMM's price is cash² / k; with cash reserves up to ~1e65 USD and
k >= ``sim.genesis.MIN_POOL_K`` it stays a finite float64 (and the noise around the trend
has ~1e240 of headroom before exp overflows)."""

MIN_TIP_TOKENS = 1e-12
"""Median tip the chain is given when the scenario's ``chain.tip_tokens`` is 0 (tokens per
transaction; the tips then have no spread, so every transaction tips this much)."""

DEFENSE_PARAMS: dict[str, type] = {
    "stake_slash": D.StakeSlashParams,
    "reputation": D.ReputationParams,
    "dedup": D.DedupParams,
    "quality_filter": D.QualityFilterParams,
    "sybil_graph": D.SybilGraphParams,
    "rate_limit": D.RateLimitParams,
    "wash_guard": D.WashGuardParams,
    "validator_vote": D.ValidatorVoteParams,
}
"""The economics parameter class of each defence ``kind``."""


class ModelSetupError(ValueError):
    """The scenario cannot be set up (e.g. the treasury cannot fund the AMM or stakes)."""


def check_engine_registry() -> None:
    """Raise if the schema's ``attribution.engine`` names are not exactly the engines of
    ``economics.attribution.ENGINES`` (an engine added to one list and not the other)."""
    schema = set(get_args(S.Attribution.model_fields["engine"].annotation))
    if schema != set(ENGINES):
        raise RuntimeError(
            "scenarios.schema.Attribution.engine and economics.attribution.ENGINES disagree: "
            f"only in the schema {sorted(schema - set(ENGINES))}, only in the registry "
            f"{sorted(set(ENGINES) - schema)}; register the engine in both"
        )


check_engine_registry()


def engine(scenario: Scenario) -> EngineSpec:
    """The registry entry of the scenario's attribution engine."""
    return ENGINES[scenario.attribution.engine]


def outside_option(spec: S.OutsideOption) -> OutsideOption:
    """The centralised alternative (``market.outside_option``), its scheduled changes as
    columns (NaN where a change leaves a value as it was)."""
    nan = float("nan")
    return OutsideOption(
        enabled=spec.enabled,
        accuracy=spec.accuracy,
        price_usd_per_inference=spec.price_usd_per_inference,
        change_epochs=tuple(c.at_epoch for c in spec.changes),
        change_prices_usd=tuple(
            nan if c.price_usd_per_inference is None else c.price_usd_per_inference
            for c in spec.changes
        ),
        change_accuracies=tuple(nan if c.accuracy is None else c.accuracy for c in spec.changes),
    )


def churn_rule(population: S.Population) -> ChurnRule:
    """The churn rule every contributing role follows (``population.churn``)."""
    return ChurnRule(**population.churn.model_dump())


def fee_split(spec: S.FeeSplit) -> FeeSplit:
    """The net fee split (``tokenomics.fee_split``). The schema accepts shares summing to 1
    within 1e-9, the fee formulas within 1e-12: shares outside the latter are renormalised
    to sum to 1, so no fee is created or lost in the split."""
    split = spec.model_dump()
    total = math.fsum(split.values())
    if abs(total - 1.0) > SPLIT_TOLERANCE:
        split = {name: v / total for name, v in split.items()}
    return FeeSplit(**split)


def inference_fees(datanets: tuple[S.Datanet, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per datanet, the list fee of one inference and its net (split) part (tokens):
    ``economics.fees.inference_fee_tokens`` of its ``pricing`` section, with and without
    the platform fee."""
    fee = [inference_fee_tokens(**d.pricing.model_dump()) for d in datanets]
    net = [
        inference_fee_tokens(**{**d.pricing.model_dump(), "platform_fee_tokens": 0.0})
        for d in datanets
    ]
    return np.array(fee, dtype=np.float64), np.array(net, dtype=np.float64)


@dataclass(frozen=True)
class Emission:
    """The epoch rewards: a schedule, minted into the reward pool, or (``pool_drip``)
    paid out of the pool's balance, never more than it holds.

    Attributes:
        schedule: Tokens per epoch.
        from_pool: True for ``pool_drip``: nothing is minted, the pool pays.
        without_contributors: Where the emission goes in an epoch with no active
            contributor (``tokenomics.emission.without_contributors``).
    """

    schedule: EmissionSchedule
    from_pool: bool = False
    without_contributors: str = "auto"


def emission(spec: Any) -> Emission:
    """The epoch rewards of ``tokenomics.emission`` (its ``kind`` picks the schedule)."""
    params = spec.model_dump()
    kind = params.pop("kind")
    routing = params.pop("without_contributors")
    return replace(_emission_of(kind, spec, params), without_contributors=routing)


def _emission_of(kind: str, spec: Any, params: dict[str, Any]) -> Emission:
    """The schedule of one emission ``kind`` from its parameters."""
    if kind == "pool_drip":
        return Emission(Constant(tokens_per_epoch=spec.tokens_per_epoch), from_pool=True)
    if kind == "exponential_decay":
        params["half_life_epochs"] = max(spec.half_life_epochs, MIN_HALF_LIFE_EPOCHS)
    elif kind == "halving":  # whole epochs between halvings (the schema allows fractions)
        params["halving_interval_epochs"] = max(1, round(spec.halving_interval_epochs))
    elif kind == "supply_halving" and (
        spec.initial_tokens_per_epoch == 0 or spec.cap_tokens / 2 == 0
    ):
        return Emission(Constant(tokens_per_epoch=0.0))  # nothing to issue, ever
    return Emission(make_schedule(kind, **params))


def order_flow(scenario: Scenario) -> OrderFlow:
    """The exogenous order flow (``market.order_flow``), refused at setup if its expected
    size outgrows :data:`MAX_FLOW_TREND_USD` within the horizon (drawn epoch by epoch, such
    a flow would otherwise fail only when it got there)."""
    flow = OrderFlow(**scenario.market.order_flow.model_dump())
    worst = flow.peak_log_trend(scenario.epochs)
    if worst > math.log(MAX_FLOW_TREND_USD):
        raise ModelSetupError(
            f"market.order_flow grows to about e^{worst:.0f} USD per epoch within "
            f"{scenario.epochs} epochs (mean_usd_per_epoch · exp(growth_per_epoch · epoch) · "
            f"shock multipliers), beyond the {MAX_FLOW_TREND_USD:g} USD the model can "
            "trade; lower growth_per_epoch, the shock multipliers or the horizon"
        )
    return flow


def market_shocks(scenario: Scenario) -> tuple[MarketShock, ...]:
    """The scheduled price and demand shocks (``market.shocks``)."""
    return tuple(MarketShock(**s.model_dump()) for s in scenario.market.shocks)


def vesting(tokenomics: S.Tokenomics) -> VestingSchedule:
    """The genesis allocation's buckets (``tokenomics.vesting``), in tokens."""
    supply = tokenomics.total_supply_tokens
    return VestingSchedule(
        [
            Bucket(
                name=b.name,
                amount_tokens=b.share * supply,
                tge_fraction=b.tge_fraction,
                cliff_epochs=b.cliff_epochs,
                linear_epochs=b.linear_epochs,
            )
            for b in tokenomics.vesting
        ]
    )


def chain(scenario: Scenario, rng: np.random.Generator) -> Chain | None:
    """The settlement chain (``chain``), or None when disabled."""
    c = scenario.chain
    if not c.enabled:
        return None
    params = {
        **c.model_dump(exclude={"enabled"}),
        "epoch_seconds": 86_400.0 * scenario.epoch_days,
        # The ceiling is a safety bound of the fee market, not a scenario field: it must
        # not sit below the fees the scenario starts from.
        "max_base_fee_tokens": max(ChainParams.max_base_fee_tokens, c.initial_base_fee_tokens),
        "tip_tokens": max(c.tip_tokens, MIN_TIP_TOKENS),
        "tip_sigma": 0.0 if c.tip_tokens == 0 else 1.0,
    }
    try:
        return Chain(ChainParams(**params), rng)
    except ChainParamsError as error:  # e.g. an epoch that is not a whole number of blocks
        raise ModelSetupError(
            f"the chain cannot be set up: {error} (set chain.block_time_seconds and "
            "epoch_days so that an epoch holds a whole number of blocks)"
        ) from None


def defense_params(spec: Any) -> Any:
    """The economics parameters of one ``defenses`` entry (its ``kind`` picks the class)."""
    return DEFENSE_PARAMS[spec.kind](**spec.model_dump(exclude={"kind"}))
