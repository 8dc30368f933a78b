"""The validated scenario schema: one pydantic model per YAML section.

A scenario fully describes one simulated economy: who takes part (``population``), the
learning tasks (``datanets``), the token (``tokenomics``), the exchange (``market``), the
ledger's chain (``chain``), how value is attributed (``attribution``), which anti-farming
mechanisms are on (``defenses``) and what is recorded (``collect``).

Design rules, enforced for every model here (they all derive from :class:`_Section`):

* every field has a default, so ``Scenario()`` is the baseline and a YAML file only states
  what differs from it;
* unknown keys are errors (``extra="forbid"``), models are immutable (``frozen=True``)
  and hashable (sequences are tuples);
* numbers are strict: ``true`` is not an integer, ``2.5`` is not a count, NaN and
  infinities are refused, and every number has a lower and an upper bound;
* every field's description ends with its unit in parentheses;
* a section or list left empty in YAML (``defenses:`` with its entries commented out,
  i.e. null) takes its default; an empty scalar is still an error.

Sections that come in several flavours (provider quality, emission schedule, defences)
are discriminated unions on a ``kind`` key, one model per kind with only its own fields.

Durations are in epochs; ``epoch_days`` converts them to calendar time (the defaults
assume one-day epochs, with ``1 month = 30.4375 days``).

Checks that span several fields raise :class:`SchemaConsistencyError`, which carries the
exact field path of every problem so the loader can point at the offending YAML line.
Besides consistency proper, the whole scenario is checked for what would otherwise fail
only once running: an attribution engine the datanets' model kind cannot serve, an epoch
that is not a whole number of chain blocks, an AMM too small for the population's first
purchases, and a world too large for memory (:mod:`ledgerlab.scenarios.size`).
"""

import importlib.util
import math
import types
from typing import Annotated, Any, Literal, Self, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, Strict, model_validator

from ledgerlab.economics.tasks import DIGITS_CLASSES, DIGITS_FEATURES, DIGITS_POINTS
from ledgerlab.scenarios.size import (
    MEMORY_LIMIT_BYTES,
    estimate_memory_bytes,
    max_training_points,
    memory_terms,
)

__all__ = [
    "ADVERSARY_COUNT_FIELDS",
    "BUILDER_PRICE_FACTOR_MAX",
    "DAYS_PER_MONTH",
    "DEFAULT_VESTING",
    "HOLDER_ROLES",
    "KNN_ONLY_ENGINES",
    "LOGISTIC_REFIT_LIMITS",
    "POOL_SAFETY_FACTOR",
    "Adoption",
    "Arbitrage",
    "Attribution",
    "BetaQuality",
    "BuilderChurn",
    "Buyback",
    "Chain",
    "Churn",
    "Collect",
    "ConstantEmission",
    "Datanet",
    "Dedup",
    "Defense",
    "Emission",
    "EmissionStep",
    "ExponentialDecayEmission",
    "Farmers",
    "FeeSplit",
    "GroundTruth",
    "HalvingEmission",
    "InferencePricing",
    "LinearDecayEmission",
    "Market",
    "MarketShock",
    "MeanSpreadQuality",
    "OrderFlow",
    "OutsideChange",
    "OutsideOption",
    "Poisoners",
    "PoolDripEmission",
    "Population",
    "ProviderQuality",
    "QualityFilter",
    "RateLimit",
    "ReferencePoint",
    "Reputation",
    "Scenario",
    "SchemaConsistencyError",
    "SellPolicy",
    "Shock",
    "StakeSlash",
    "Staking",
    "SupplyHalvingEmission",
    "SybilGraph",
    "TableEmission",
    "Tokenomics",
    "ValidatorVote",
    "ValueTrader",
    "VestingBucket",
    "WashGuard",
    "adversary_count",
]

DAYS_PER_MONTH = 30.4375
"""Average Gregorian month (365.25 / 12 days), used to turn vesting months into epochs."""

HOLDER_ROLES = ("providers", "builders", "validators", "farmers", "poisoners")
"""Role names a sell policy may target besides vesting buckets (they sell earned rewards)."""

_MAX_COUNT = 10_000_000  # individuals per role
_MAX_EPOCHS = 100_000
_MAX_TOKENS = 1e15
_MAX_USD = 1e13
_MAX_BASE_FEE_TOKENS = 1_000.0  # sim.chain.ChainParams.max_base_fee_tokens, which the model uses

_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class SchemaConsistencyError(ValueError):
    """A check spanning several fields failed.

    Raised from model validators; pydantic wraps it in its ``ValidationError`` and keeps
    the instance in the error's context, so the loader can read :attr:`problems` — each
    a field path *relative to the model that raised* and a message — and point at the
    exact YAML position of each offending field.
    """

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        self.problems = list(problems)
        text = "; ".join(
            (".".join(str(p) for p in path) + ": " if path else "") + message
            for path, message in self.problems
        )
        super().__init__(text)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.problems,))


def _check(problems: list[tuple[tuple[str | int, ...], str]]) -> None:
    """Raise :class:`SchemaConsistencyError` when ``problems`` is not empty."""
    if problems:
        raise SchemaConsistencyError(problems)


def _duplicates(values: list[Any]) -> list[int]:
    """Indices of the items that repeat an earlier item of ``values``."""
    seen: set[Any] = set()
    repeated: list[int] = []
    for index, value in enumerate(values):
        if value in seen:
            repeated.append(index)
        seen.add(value)
    return repeated


def _is_section_type(annotation: Any) -> bool:
    """Whether a field holds a sub-model, a union of sub-models or a tuple (not a scalar)."""
    origin = get_origin(annotation)
    if origin is tuple:
        return True
    if origin in (Union, types.UnionType):
        return all(isinstance(a, type) and issubclass(a, BaseModel) for a in get_args(annotation))
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _seq(default: tuple[Any, ...], description: str, **bounds: Any) -> Any:
    """A tuple field that accepts YAML lists (the models are otherwise strict)."""
    return Field(default=default, description=description, strict=False, **bounds)


class _Section(BaseModel):
    """Base of every scenario model: closed, immutable, strictly typed, finite numbers."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        allow_inf_nan=False,
        validate_default=False,
    )

    @model_validator(mode="before")
    @classmethod
    def _empty_sections_mean_defaults(cls, data: Any) -> Any:
        """A sub-section or list written empty (``defenses:`` with nothing under it, i.e.
        null) takes its default, so commenting out a section's contents is harmless."""
        if isinstance(data, dict) and None in data.values():
            sections = {
                name
                for name, field in cls.model_fields.items()
                if _is_section_type(field.annotation)
            }
            data = {k: v for k, v in data.items() if not (v is None and k in sections)}
        return data


# --------------------------------------------------------------------------- population


class BetaQuality(_Section):
    """Honest provider quality q ~ Beta(a, b); q is the chance each submitted label is right."""

    kind: Literal["beta"] = Field("beta", description="Distribution selector (label).")
    a: float = Field(8.0, gt=0, le=10_000, description="Beta shape α (dimensionless).")
    b: float = Field(2.0, gt=0, le=10_000, description="Beta shape β (dimensionless).")

    def beta_ab(self) -> tuple[float, float]:
        """The Beta shape parameters (α, β) to draw qualities from (dimensionless)."""
        return (self.a, self.b)

    @property
    def mean(self) -> float:
        """Mean provider quality α / (α + β) (probability)."""
        return self.a / (self.a + self.b)


class MeanSpreadQuality(_Section):
    """Honest provider quality as a Beta distribution given by its mean and standard deviation."""

    kind: Literal["mean_spread"] = Field(
        "mean_spread", description="Distribution selector (label)."
    )
    mean: float = Field(0.8, gt=0, lt=1, description="Mean label accuracy (probability).")
    spread: float = Field(
        0.12, gt=0, lt=0.5, description="Standard deviation of label accuracy (probability)."
    )

    @model_validator(mode="after")
    def _feasible(self) -> Self:
        if self.spread**2 >= self.mean * (1.0 - self.mean):
            limit = (self.mean * (1.0 - self.mean)) ** 0.5
            _check(
                [
                    (
                        ("spread",),
                        f"spread {self.spread} is too large for mean {self.mean}: a Beta "
                        f"distribution needs spread < sqrt(mean·(1−mean)) = {limit:.4g}",
                    )
                ]
            )
        return self

    def beta_ab(self) -> tuple[float, float]:
        """The Beta shape parameters (α, β) with this mean and standard deviation."""
        m, s = self.mean, self.spread
        nu = m * (1.0 - m) / (s * s) - 1.0
        return (m * nu, (1.0 - m) * nu)


ProviderQuality = Annotated[BetaQuality | MeanSpreadQuality, Field(discriminator="kind")]
"""Provider quality distribution: ``kind: beta`` (a, b) or ``kind: mean_spread``."""


class Farmers(_Section):
    """Reward farmers: identities that try to earn rewards without contributing value.

    Every count is a number of individuals (a sybil operator counts once, its identities
    are ``sybil_operators × identities_per_operator``).
    """

    duplicate: int = Field(
        0, ge=0, le=_MAX_COUNT, description="Farmers re-uploading others' points (individuals)."
    )
    near_duplicate: int = Field(
        0,
        ge=0,
        le=_MAX_COUNT,
        description="Farmers uploading jittered copies of others' points (individuals).",
    )
    near_duplicate_jitter: float = Field(
        0.01,
        gt=0,
        le=1_000,
        description="Std of the Gaussian jitter added to copied features, > 0 (exact copies "
        "are the `duplicate` farmers') (feature units).",
    )
    sybil_operators: int = Field(
        0,
        ge=0,
        le=_MAX_COUNT,
        description="Operators each running many identities, funded as `sybil_funding` says "
        "(operators).",
    )
    identities_per_operator: int = Field(
        10, ge=1, le=100_000, description="Identities run by each sybil operator (identities)."
    )
    sybil_funding_tokens: float = Field(
        10.0,
        ge=0,
        le=_MAX_TOKENS,
        description="Tokens each new identity is funded with; the operator's transfers "
        "(`fan`, `chain`, `tree`) are the funding-graph edges (tokens per identity).",
    )
    sybil_funding: Literal["fan", "chain", "tree", "exchange"] = Field(
        "fan",
        description="How an operator's identities are funded: `fan` (its wallet funds each "
        "identity), `chain` (wallet → identity → identity …, each passing on the rest), "
        "`tree` (each identity funds `sybil_tree_branching` more), `exchange` (each identity "
        "buys its funding on the market, like any consumer: no on-chain link to the "
        "operator or to each other) (topology).",
    )
    sybil_tree_branching: int = Field(
        3,
        ge=2,
        le=1_000,
        description="Children each funder pays in the `tree` topology (identities).",
    )
    sybil_content: Literal["duplicate", "near_duplicate", "fresh"] = Field(
        "near_duplicate",
        description="What each sybil identity uploads: copies, jittered copies, or freshly "
        "drawn points labelled at `sybil_label_quality` (strategy).",
    )
    sybil_label_quality: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Label accuracy of freshly drawn sybil points (probability).",
    )
    wash: int = Field(
        0,
        ge=0,
        le=_MAX_COUNT,
        description="Wash consumers paying for inference on a model they own or collude "
        "with, to farm attribution rewards (individuals).",
    )
    wash_inferences_per_epoch: float = Field(
        200.0,
        ge=0,
        le=1e9,
        description="Poisson mean of self-dealt inferences per wash consumer per epoch "
        "(inferences/epoch).",
    )
    wash_run_by_builder: bool = Field(
        False,
        description="The builder whose model the wash consumers query runs them: it passes "
        "its fee share of their inferences back to them each epoch, so the ring recovers "
        "part of what it pays (flag).",
    )
    submissions_per_epoch: float = Field(
        1.0,
        ge=0,
        le=10_000,
        description="Poisson mean of submissions per uploading farmer identity per epoch "
        "(submissions/epoch).",
    )
    points_per_submission: int = Field(
        10, ge=1, le=1_000_000, description="Points in each farmer submission (points)."
    )
    cost_usd_per_point: float = Field(
        0.001, ge=0, le=_MAX_USD, description="Farmer's cost to produce one point (USD/point)."
    )


class Poisoners(_Section):
    """Data poisoners: label flippers, backdoor planters and junk uploaders (individuals)."""

    label_flip: int = Field(
        0, ge=0, le=_MAX_COUNT, description="Poisoners submitting flipped labels (individuals)."
    )
    label_flip_targeted: bool = Field(
        False,
        description="Flip every label to `label_flip_target_class` instead of to a random "
        "other class (flag).",
    )
    label_flip_target_class: int = Field(
        0, ge=0, le=999, description="Class that targeted flips map to (class index)."
    )
    backdoor: int = Field(
        0, ge=0, le=_MAX_COUNT, description="Poisoners planting a backdoor trigger (individuals)."
    )
    backdoor_trigger_features: tuple[Annotated[int, Strict(), Field(ge=0, le=99_999)], ...] = _seq(
        (0, 1),
        "Feature indices set to `backdoor_trigger_value` in backdoored points (feature indices).",
        min_length=1,
        max_length=1_000,
    )
    backdoor_trigger_value: float = Field(
        4.0,
        ge=-1e6,
        le=1e6,
        description="Value written into the trigger features (feature units).",
    )
    backdoor_target_class: int = Field(
        0, ge=0, le=999, description="Label given to triggered points (class index)."
    )
    noise: int = Field(
        0,
        ge=0,
        le=_MAX_COUNT,
        description="Junk uploaders: random features, random labels (individuals).",
    )
    noise_scale: float = Field(
        3.0, gt=0, le=1e6, description="Std of junk features around zero (feature units)."
    )
    submissions_per_epoch: float = Field(
        1.0,
        ge=0,
        le=10_000,
        description="Poisson mean of submissions per poisoner per epoch (submissions/epoch).",
    )
    points_per_submission: int = Field(
        10, ge=1, le=1_000_000, description="Points in each poisoner submission (points)."
    )
    cost_usd_per_point: float = Field(
        0.001,
        ge=0,
        le=_MAX_USD,
        description="Poisoner's cost to produce one point (USD/point).",
    )

    @model_validator(mode="after")
    def _distinct_trigger_features(self) -> Self:
        _check(
            [
                (
                    ("backdoor_trigger_features", i),
                    f"feature {self.backdoor_trigger_features[i]} is listed twice; "
                    "list each trigger feature once",
                )
                for i in _duplicates(list(self.backdoor_trigger_features))
            ]
        )
        return self


class Churn(_Section):
    """Entry and exit of individuals by their recent return on cost."""

    enabled: bool = Field(True, description="Let individuals join and leave (flag).")
    lookback_epochs: int = Field(
        30,
        ge=1,
        le=_MAX_EPOCHS,
        description="Window over which earnings and costs are compared (epochs).",
    )
    exit_below_return_on_cost: float = Field(
        -0.5,
        ge=-1,
        le=1_000,
        description="An individual leaves when (earnings − costs) / costs over the lookback "
        "window falls below this; −0.5 = it lost half of what it spent (dimensionless).",
    )
    entry_rate_per_epoch: float = Field(
        0.005,
        ge=0,
        le=1,
        description="Poisson mean of newcomers per epoch as a fraction of the role's initial "
        "size, while the role's mean return on cost is above the exit threshold "
        "(fraction/epoch).",
    )


AdversaryStrategy = Literal[
    "duplicate", "near_duplicate", "sybil", "wash", "label_flip", "backdoor", "junk", "leave"
]
"""The strategies an adaptive adversary chooses among (``agents.plans.STRATEGIES``)."""


class Adaptation(_Section):
    """Adversaries that adapt: each adversary operator (a plain farmer, wash consumer or
    poisoner, or a sybil operator for all its identities) plays its open strategies by
    multiplicative weights (Hedge) on their realised return on cost; ``enabled: false``
    keeps every adversary on its launch strategy (the fixed strategies of earlier
    versions, draw for draw)."""

    enabled: bool = Field(
        True,
        description="Let adversaries choose their strategy by realised return; false = each "
        "keeps its launch strategy (flag).",
    )
    learning_rate: float = Field(
        2.0,
        ge=0,
        le=100,
        description="Hedge learning rate η: log-weight change of a strategy per unit of its "
        "estimated return on cost at each review (per unit return).",
    )
    exploration: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="Share of the play probability spread evenly over the open strategies, so "
        "stale estimates are re-tested (fraction).",
    )
    review_every_epochs: int = Field(
        10,
        ge=1,
        le=_MAX_EPOCHS,
        description="Epochs between an operator's reviews: it plays a strategy for this "
        "long, then updates its weights on what the strategy returned (epochs).",
    )
    estimate_weight: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Weight of a review's observed return in a strategy's return estimate; "
        "1 = the last observation only (fraction).",
    )
    return_cap: float = Field(
        5.0,
        gt=0,
        le=1e6,
        description="Upper clip of an observed return on cost, (income − cost) / cost; the "
        "lower end is −1 (dimensionless).",
    )
    initial_share: float = Field(
        0.9,
        ge=0,
        lt=1,
        description="Probability with which an operator first plays its launch strategy (the "
        "rest spread over its other open strategies) (fraction).",
    )
    exit_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="An operator leaves for good once its probability of playing `leave` "
        "reaches this (fraction).",
    )
    strategies: tuple[AdversaryStrategy, ...] | None = _seq(
        None,
        "Strategies open to adversaries (`sybil` only to sybil operators' identities, `wash` "
        "only to wash consumers); null = the strategies the launch population uses, plus "
        "`leave`. Backdoor attack success is measured only with backdoor poisoners at "
        "launch (strategies).",
        max_length=8,
    )
    identities_added_per_review: int = Field(
        2,
        ge=0,
        le=100_000,
        description="Identities a sybil operator adds at a review while its identities' "
        "sybil farming returned more than `grow_above_return` (identities).",
    )
    grow_above_return: float = Field(
        0.0,
        ge=-1,
        le=1e6,
        description="Return on cost of sybil farming above which an operator adds identities "
        "(dimensionless).",
    )
    max_identities_per_operator: int = Field(
        100,
        ge=1,
        le=100_000,
        description="Most identities a sybil operator runs, launch identities included "
        "(identities).",
    )

    @model_validator(mode="after")
    def _distinct_strategies(self) -> Self:
        listed = list(self.strategies or ())
        _check(
            [
                (("strategies", i), f"strategy {listed[i]!r} is listed twice; list each once")
                for i in _duplicates(listed)
            ]
        )
        return self


class Adoption(_Section):
    """Consumers who arrive and leave (``economics.demand``): arrivals follow a Bass
    diffusion whose imitation is driven by the network's current users; an arrival adopts
    with the logit share the network holds against the outside option; a consumer leaves
    once the outside option has served it better over the lookback window. ``enabled:
    false`` keeps the launch consumers for good (no arrival, no exit)."""

    enabled: bool = Field(
        True, description="Let consumers arrive by Bass diffusion and leave (flag)."
    )
    market_potential: int | None = Field(
        None,
        ge=0,
        le=_MAX_COUNT,
        description="Market potential M of the Bass diffusion: consumers who could ever use "
        "the network; null = twice population.consumers (individuals).",
    )
    innovation_per_epoch: float = Field(
        0.001,
        ge=0,
        le=1,
        description="Bass innovation rate p: share of the untapped market that adopts per "
        "epoch on its own (1/epoch).",
    )
    imitation_per_epoch: float = Field(
        0.01,
        ge=0,
        le=1,
        description="Bass imitation rate q: arrivals per epoch are (p + q·N/M)·(M − N) with N "
        "the active consumers (1/epoch).",
    )
    exit_lookback_epochs: int = Field(
        30,
        ge=1,
        le=_MAX_EPOCHS,
        description="Horizon of a consumer's moving average of the utility the network gave "
        "it minus the outside option's; it is judged only after this long in the network "
        "(epochs).",
    )
    exit_below_utility_gap: float = Field(
        -0.02,
        ge=-1,
        le=1,
        description="A consumer leaves when that average falls below this; −0.02 = once the "
        "outside option served it better by 0.02 accuracy (a switching cost, so sampling "
        "noise alone rarely moves a consumer whose network is as good); 0 = as soon as it "
        "served it better at all (accuracy units).",
    )


class BuilderChurn(_Section):
    """Builders who enter and leave a datanet by their fee income against their compute
    cost (``population.builder_compute_cost_usd_per_epoch``), with hysteresis: a builder
    leaves when its income over the lookback falls below ``exit_below_income_to_cost`` of
    its cost; a newcomer enters a datanet while the income it would earn there (the
    datanet's builder income split over one more builder) exceeds
    ``enter_above_income_to_cost`` times the cost."""

    enabled: bool = Field(True, description="Let builders enter and leave (flag).")
    lookback_epochs: int = Field(
        30,
        ge=1,
        le=_MAX_EPOCHS,
        description="Horizon of the income and cost moving averages; a builder is judged "
        "only after this long in business (epochs).",
    )
    exit_below_income_to_cost: float = Field(
        0.5,
        ge=0,
        le=1_000,
        description="A builder leaves when its average fee income / compute cost falls "
        "below this (dimensionless).",
    )
    enter_above_income_to_cost: float = Field(
        1.5,
        ge=0,
        le=1_000,
        description="Newcomers enter a datanet while the income one more builder would earn "
        "there / compute cost is above this; above exit_below_income_to_cost for "
        "hysteresis (dimensionless).",
    )
    entry_rate_per_epoch: float = Field(
        0.05,
        ge=0,
        le=100,
        description="Poisson mean of newcomers per epoch in a datanet where entry pays "
        "(builders/epoch per datanet).",
    )
    max_per_datanet: int = Field(
        12, ge=0, le=10_000, description="Most active builders in one datanet (builders)."
    )

    @model_validator(mode="after")
    def _hysteresis(self) -> Self:
        if self.enter_above_income_to_cost < self.exit_below_income_to_cost:
            _check(
                [
                    (
                        ("enter_above_income_to_cost",),
                        "must be at least exit_below_income_to_cost, or builders would enter "
                        "where they would leave",
                    )
                ]
            )
        return self


class Population(_Section):
    """Who takes part: honest roles, validators, adversaries and churn.

    Holders are not listed here: they are the individuals of the vesting buckets with
    ``recipient: holders`` (see :class:`VestingBucket`).
    """

    providers: int = Field(
        200, ge=0, le=_MAX_COUNT, description="Honest data providers at launch (individuals)."
    )
    provider_quality: ProviderQuality = Field(
        BetaQuality(), description="Distribution of provider label accuracy (probability)."
    )
    provider_submissions_per_epoch: float = Field(
        0.1,
        ge=0,
        le=10_000,
        description="Poisson mean of submissions per provider per epoch (submissions/epoch).",
    )
    provider_points_per_submission: int = Field(
        10, ge=1, le=1_000_000, description="Points in each provider submission (points)."
    )
    provider_cost_usd_per_point: float = Field(
        2.0,
        ge=0,
        le=_MAX_USD,
        description="Honest provider's cost to collect and label one point (USD/point).",
    )
    builders: int = Field(
        4, ge=0, le=1_000_000, description="Model builders at launch (individuals)."
    )
    builder_stake_tokens: float = Field(
        10_000.0,
        ge=0,
        le=_MAX_TOKENS,
        description="Tokens each builder stakes on its model (tokens per builder).",
    )
    consumers: int = Field(
        100, ge=0, le=_MAX_COUNT, description="Consuming agents at launch (individuals)."
    )
    consumer_inferences_per_epoch: float = Field(
        20.0,
        ge=0,
        le=1e9,
        description="Poisson mean of inferences each consumer wants per epoch (inferences/epoch).",
    )
    consumer_budget_usd_per_epoch: float = Field(
        5.0,
        ge=0,
        le=_MAX_USD,
        description="Cash each consumer may spend on inference per epoch (USD/epoch).",
    )
    consumer_price_weight_per_usd: float = Field(
        1.0,
        ge=0,
        le=1e6,
        description="Accuracy a consumer gives up per USD of inference price when choosing "
        "a model: utility = accuracy − weight·price_usd (accuracy/USD).",
    )
    consumer_choice_temperature: float = Field(
        0.02,
        gt=0,
        le=100,
        description="Softmax temperature of model choice over utility; small = always the "
        "best model (accuracy units).",
    )
    validators: int = Field(
        8, ge=0, le=1_000_000, description="Validators at launch (individuals)."
    )
    validator_stake_tokens: float = Field(
        50_000.0,
        ge=0,
        le=_MAX_TOKENS,
        description="Tokens each validator stakes (tokens per validator).",
    )
    validator_colluding_fraction: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Fraction of validator stake that colludes with farmers and approves "
        "their submissions (fraction of stake).",
    )
    validator_bribe_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of its rewards each farmer and wash consumer pays the colluding "
        "validators every epoch, the price of their approval (fraction of rewards).",
    )
    farmers: Farmers = Field(Farmers(), description="Reward farmers (individuals).")
    poisoners: Poisoners = Field(Poisoners(), description="Data poisoners (individuals).")
    adaptation: Adaptation = Field(
        Adaptation(), description="How adversaries choose their strategies (rules)."
    )
    churn: Churn = Field(Churn(), description="Entry and exit by return on cost (rules).")
    adoption: Adoption = Field(
        Adoption(), description="Consumers' arrival by Bass diffusion and exit (rules)."
    )
    builder_compute_cost_usd_per_epoch: float = Field(
        0.25,
        ge=0,
        le=_MAX_USD,
        description="Each builder's cost of training and serving its model, what its fee "
        "income must cover; 0.25 USD is a small GPU share, a third of a baseline builder's "
        "fee income at launch (about 0.8 USD a day) (USD/epoch per builder).",
    )
    builder_churn: BuilderChurn = Field(
        BuilderChurn(), description="Builders' entry and exit by income over cost (rules)."
    )


# ----------------------------------------------------------------------------- datanets


class InferencePricing(_Section):
    """Price of one inference: fee = tokens_in/1000·rate_in + tokens_out/1000·rate_out + platform fee.

    ``tokens_in``/``tokens_out`` count model (LLM) tokens; rates and fees are in ledger
    tokens. The platform fee is kept by the platform; the rest (the net fee) is split by
    ``tokenomics.fee_split``.
    """

    tokens_in: int = Field(
        500, ge=0, le=100_000_000, description="Model input tokens per inference (LLM tokens)."
    )
    tokens_out: int = Field(
        200, ge=0, le=100_000_000, description="Model output tokens per inference (LLM tokens)."
    )
    rate_in_per_1k: float = Field(
        0.01,
        ge=0,
        le=1e9,
        description="Fee per 1,000 input tokens (ledger tokens per 1k LLM tokens).",
    )
    rate_out_per_1k: float = Field(
        0.03,
        ge=0,
        le=1e9,
        description="Fee per 1,000 output tokens (ledger tokens per 1k LLM tokens).",
    )
    platform_fee_tokens: float = Field(
        0.01,
        ge=0,
        le=1e9,
        description="Flat platform fee per inference, not split (ledger tokens/inference).",
    )

    def net_fee_tokens(self) -> float:
        """Usage part of the fee, split by ``fee_split`` (ledger tokens per inference)."""
        return (
            self.tokens_in / 1000.0 * self.rate_in_per_1k
            + self.tokens_out / 1000.0 * self.rate_out_per_1k
        )

    def fee_tokens(self) -> float:
        """Total fee a consumer pays for one inference (ledger tokens per inference)."""
        return self.net_fee_tokens() + self.platform_fee_tokens


class Datanet(_Section):
    """One datanet: a learning task (a synthetic Gaussian mixture, optionally drifting, or
    scikit-learn's handwritten digits) and the model built on it."""

    @model_validator(mode="before")
    @classmethod
    def _digits_defaults(cls, data: Any) -> Any:
        """The digits task fixes its classes and features and has only 1,797 images:
        unset sizes take the digits defaults (:data:`DIGITS_DEFAULTS`)."""
        if isinstance(data, dict) and data.get("task") == "digits":
            data = {**DIGITS_DEFAULTS, **data}
        return data

    name: str = Field(
        "main",
        min_length=1,
        max_length=64,
        pattern=_NAME_PATTERN,
        description="Datanet name, unique in the scenario (identifier).",
    )
    task: Literal["mixture", "digits"] = Field(
        "mixture",
        description="The learning task: mixture = synthetic Gaussian mixture (regions and "
        "drift below); digits = scikit-learn's bundled handwritten digits (10 classes, 64 "
        "features, pixels ÷ 4; needs the extra 'datasets') (task kind).",
    )
    n_classes: int = Field(8, ge=2, le=1_000, description="Number of classes (classes).")
    n_features: int = Field(12, ge=1, le=100_000, description="Feature dimension (features).")
    class_separation: float = Field(
        4.0,
        gt=0,
        le=1_000,
        description="Mixture task: distance between class means in units of the std of a "
        "region (feature std units).",
    )
    regions_per_class: int = Field(
        4,
        ge=1,
        le=1_000,
        description="Mixture task: Gaussian regions per class once all are active; 1 = one "
        "Gaussian per class (regions).",
    )
    region_spread: float = Field(
        3.0,
        ge=0,
        le=1_000,
        description="Mixture task: distance of each region's centre from its class mean, in a "
        "random direction, in units of the std of a region (feature std units).",
    )
    launch_regions: int = Field(
        2,
        ge=1,
        le=1_000,
        description="Mixture task: regions per class active at launch (at most "
        "regions_per_class: a larger value means all); the seed data covers only these "
        "(regions).",
    )
    drift_every_epochs: int = Field(
        0,
        ge=0,
        le=_MAX_EPOCHS,
        description="Mixture task, concept drift: each class gains one more active region "
        "every this many epochs until all regions_per_class are active; contributions and "
        "queries come from the active regions, held-out sets from all; 0 = all active from "
        "launch (epochs).",
    )
    digits_jitter: float = Field(
        0.25,
        ge=0,
        le=100,
        description="Digits task: std of the Gaussian noise added to every pixel of each "
        "drawn image, so repeated draws of one image are not exact copies (feature units).",
    )
    seed_points: int = Field(
        200,
        ge=0,
        le=100_000_000,
        description="Clean points in the datanet at launch, owned by the protocol (points).",
    )
    validation_points: int = Field(
        300,
        ge=10,
        le=10_000_000,
        description="Clean held-out points that measure model quality; no agent sees them "
        "(points).",
    )
    ground_truth_points: int = Field(
        2_000,
        ge=10,
        le=100_000_000,
        description="Size of the large clean set drawn from the true generator for "
        "ground-truth values (points).",
    )
    model: Literal["knn", "logistic"] = Field(
        "knn", description="Model kind trained on the accepted points (model family)."
    )
    k: int = Field(5, ge=1, le=10_000, description="Neighbours per kNN inference (points).")
    retrain_every_epochs: int = Field(
        7, ge=1, le=_MAX_EPOCHS, description="Builder retraining cadence (epochs)."
    )
    window_points: int = Field(
        10_000,
        ge=0,
        le=100_000_000,
        description="Models train on, and engines value, only the most recent this many "
        "active points; 0 = all (points).",
    )
    pricing: InferencePricing = Field(
        InferencePricing(), description="Price of one inference (ledger tokens)."
    )

    @model_validator(mode="after")
    def _task_consistent(self) -> Self:
        """The digits task's fixed shape, its image budget and its optional dependency."""
        if self.task == "digits":
            _check(_digits_problems(self))
        return self


DIGITS_DEFAULTS: dict[str, Any] = {
    "n_classes": DIGITS_CLASSES,
    "n_features": DIGITS_FEATURES,
    "validation_points": 300,
    "ground_truth_points": 500,
}
"""Defaults of a digits datanet's sizes (classes, features, points): what the task fixes,
and held-out sets that leave 997 of the 1,797 images for contributors to draw from."""

DIGITS_MIN_POOL = 100
"""Fewest digits images left for contributors after the held-out sets (points)."""


def _digits_problems(d: Datanet) -> list[tuple[tuple[str | int, ...], str]]:
    """A digits datanet: 10 classes, 64 features, held-out sets within the image budget,
    scikit-learn installed."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for name, fixed in (("n_classes", DIGITS_CLASSES), ("n_features", DIGITS_FEATURES)):
        if getattr(d, name) != fixed:
            problems.append(((name,), f"the digits task has {fixed}; leave it unset"))
    held = d.validation_points + d.ground_truth_points
    if held > DIGITS_POINTS - DIGITS_MIN_POOL:
        problems.append(
            (
                ("ground_truth_points",),
                f"validation_points + ground_truth_points = {held}, but digits has "
                f"{DIGITS_POINTS} images and contributors need {DIGITS_MIN_POOL}: at most "
                f"{DIGITS_POINTS - DIGITS_MIN_POOL} held out",
            )
        )
    if importlib.util.find_spec("sklearn") is None:
        problems.append(
            (
                ("task",),
                "task 'digits' needs scikit-learn: pip install 'ledgerlab[datasets]'",
            )
        )
    return problems


# --------------------------------------------------------------------------- tokenomics


class VestingBucket(_Section):
    """A share of the genesis supply released by a TGE fraction, a cliff and a linear unlock.

    Unlocked(t) = share·supply·(tge_fraction + (1 − tge_fraction)·clip((t − cliff) /
    linear, 0, 1)) for t ≥ cliff (a zero ``linear_epochs`` releases everything at the cliff).
    """

    name: str = Field(
        "bucket",
        min_length=1,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="Bucket name, unique, lower-case (identifier).",
    )
    share: float = Field(
        1.0, gt=0, le=1, description="Fraction of total supply in this bucket (fraction)."
    )
    tge_fraction: float = Field(
        0.0, ge=0, le=1, description="Fraction of the bucket unlocked at launch (fraction)."
    )
    cliff_epochs: float = Field(
        0.0,
        ge=0,
        le=1e7,
        description="Time before the linear unlock starts (epochs).",
    )
    linear_epochs: float = Field(
        0.0,
        ge=0,
        le=1e7,
        description="Duration of the linear unlock after the cliff (epochs).",
    )
    recipient: Literal["holders", "reward_pool", "liquidity"] = Field(
        "holders",
        description="Where unlocked tokens go: individual holders, the reward pool that "
        "emission draws from, or the AMM pool (destination).",
    )
    holders: int = Field(
        1,
        ge=0,
        le=_MAX_COUNT,
        description="Individuals sharing the bucket equally when recipient is `holders` "
        "(individuals).",
    )

    @model_validator(mode="after")
    def _holders_present(self) -> Self:
        if self.recipient == "holders" and self.holders < 1:
            _check(
                [
                    (
                        ("holders",),
                        f"bucket '{self.name}' goes to holders but has holders: 0; "
                        "set holders ≥ 1 or choose another recipient",
                    )
                ]
            )
        return self


_MONTH = DAYS_PER_MONTH
OPENLEDGER_COMMUNITY_TGE_TOKENS = 165_500_000.0
"""Community tokens unlocked at launch: 21.55 % published circulating − 5 % liquidity (tokens)."""
DEFAULT_VESTING = (
    VestingBucket(
        name="community",
        share=0.6171,
        tge_fraction=OPENLEDGER_COMMUNITY_TGE_TOKENS / 617_100_000.0,
        linear_epochs=48 * _MONTH,
        recipient="reward_pool",
        holders=0,
    ),
    VestingBucket(
        name="investors",
        share=0.1829,
        cliff_epochs=12 * _MONTH,
        linear_epochs=36 * _MONTH,
        holders=20,
    ),
    VestingBucket(
        name="team",
        share=0.15,
        cliff_epochs=12 * _MONTH,
        linear_epochs=36 * _MONTH,
        holders=10,
    ),
    VestingBucket(name="liquidity", share=0.05, tge_fraction=1.0, recipient="liquidity", holders=0),
)
"""OpenLedger's OPEN split in one-day epochs: community & ecosystem 61.71 % (the reward
pool; 165.5M tokens at launch, the rest linear over 48 months), investors 18.29 % and team
15 % on a 12-month cliff + 36 months linear, liquidity 5 % at launch. With the community
launch unlock, 21.55 % of the supply circulates at launch, as OpenLedger published; set the
community ``tge_fraction`` to 0 for a purely linear community release."""


def _cap_field() -> Any:
    return Field(
        None,
        ge=0,
        le=_MAX_TOKENS,
        description="Maximum cumulative issuance, honoured exactly; null = no cap (tokens).",
    )


EmissionRouting = Literal["auto", "stakers", "holders", "reward_pool"]
"""Where an epoch's emission goes when no contributor is active (a tokenomics-only world)."""


def _routing_field() -> Any:
    return Field(
        "auto",
        description="Where the epoch's emission goes in an epoch with no active contributor "
        "(no datanet, or every contributing role empty): `stakers` pro rata to stake, "
        "`holders` pro rata to liquid balance (every non-protocol account), `reward_pool` "
        "kept in the reward pool (a pool drip then stays undripped); `auto` = stakers if "
        "anyone stakes, else holders (destination).",
    )


class ConstantEmission(_Section):
    """The same issuance every epoch."""

    kind: Literal["constant"] = Field("constant", description="Schedule selector (label).")
    tokens_per_epoch: float = Field(
        500.0, ge=0, le=_MAX_TOKENS, description="Issuance per epoch (tokens/epoch)."
    )
    cap_tokens: float | None = _cap_field()
    without_contributors: EmissionRouting = _routing_field()


class LinearDecayEmission(_Section):
    """Issuance falling linearly from an initial to a final rate, then flat."""

    kind: Literal["linear_decay"] = Field("linear_decay", description="Schedule selector (label).")
    initial_tokens_per_epoch: float = Field(
        1_000.0, ge=0, le=_MAX_TOKENS, description="Issuance at epoch 0 (tokens/epoch)."
    )
    final_tokens_per_epoch: float = Field(
        0.0,
        ge=0,
        le=_MAX_TOKENS,
        description="Issuance once the decay is over (tokens/epoch).",
    )
    decay_epochs: int = Field(
        1461, ge=1, le=10_000_000, description="Duration of the decay (epochs)."
    )
    cap_tokens: float | None = _cap_field()
    without_contributors: EmissionRouting = _routing_field()


class ExponentialDecayEmission(_Section):
    """Issuance r₀·2^(−t / half_life)."""

    kind: Literal["exponential_decay"] = Field(
        "exponential_decay", description="Schedule selector (label)."
    )
    initial_tokens_per_epoch: float = Field(
        1_000.0, ge=0, le=_MAX_TOKENS, description="Issuance at epoch 0 (tokens/epoch)."
    )
    half_life_epochs: float = Field(
        365.25, gt=0, le=1e7, description="Time for issuance to halve (epochs)."
    )
    cap_tokens: float | None = _cap_field()
    without_contributors: EmissionRouting = _routing_field()


class HalvingEmission(_Section):
    """Bitcoin-style: issuance r₀ halved every ``halving_interval_epochs``."""

    kind: Literal["halving"] = Field("halving", description="Schedule selector (label).")
    initial_tokens_per_epoch: float = Field(
        1_000.0,
        ge=0,
        le=_MAX_TOKENS,
        description="Issuance before the first halving (tokens/epoch).",
    )
    halving_interval_epochs: float = Field(
        4 * 365.25, gt=0, le=1e7, description="Time between halvings (epochs)."
    )
    cap_tokens: float | None = _cap_field()
    without_contributors: EmissionRouting = _routing_field()


class SupplyHalvingEmission(_Section):
    """Bittensor-style: issuance halves each time cumulative issuance crosses cap·(1 − 2⁻ⁿ)."""

    kind: Literal["supply_halving"] = Field(
        "supply_halving", description="Schedule selector (label)."
    )
    initial_tokens_per_epoch: float = Field(
        1_000.0,
        ge=0,
        le=_MAX_TOKENS,
        description="Issuance before the first halving (tokens/epoch).",
    )
    cap_tokens: float = Field(
        1_000_000.0,
        gt=0,
        le=_MAX_TOKENS,
        description="Issuance cap; halvings at 1/2, 3/4, 7/8 … of it (tokens).",
    )
    without_contributors: EmissionRouting = _routing_field()


class EmissionStep(_Section):
    """One row of a piecewise-constant emission table."""

    start_epoch: int = Field(
        0, ge=0, le=10_000_000, description="First epoch of this rate (epoch index)."
    )
    tokens_per_epoch: float = Field(
        0.0, ge=0, le=_MAX_TOKENS, description="Issuance from start_epoch on (tokens/epoch)."
    )


class TableEmission(_Section):
    """Piecewise-constant issuance: each step's rate holds until the next step starts."""

    kind: Literal["table"] = Field("table", description="Schedule selector (label).")
    steps: tuple[EmissionStep, ...] = _seq(
        (
            EmissionStep(start_epoch=0, tokens_per_epoch=1_000.0),
            EmissionStep(start_epoch=365, tokens_per_epoch=500.0),
            EmissionStep(start_epoch=730, tokens_per_epoch=250.0),
        ),
        "Rate changes, first at epoch 0, start epochs strictly increasing (steps).",
        min_length=1,
        max_length=100_000,
    )
    cap_tokens: float | None = _cap_field()
    without_contributors: EmissionRouting = _routing_field()

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.steps[0].start_epoch != 0:
            problems.append(
                (
                    ("steps", 0, "start_epoch"),
                    f"the first step must start at epoch 0 (got {self.steps[0].start_epoch})",
                )
            )
        for i in range(1, len(self.steps)):
            if self.steps[i].start_epoch <= self.steps[i - 1].start_epoch:
                problems.append(
                    (
                        ("steps", i, "start_epoch"),
                        f"start epochs must increase strictly (step {i} starts at "
                        f"{self.steps[i].start_epoch}, step {i - 1} at "
                        f"{self.steps[i - 1].start_epoch})",
                    )
                )
        _check(problems)
        return self


class PoolDripEmission(_Section):
    """Fixed supply (OpenLedger's OPEN): rewards drip from a pre-minted pool, nothing is minted.

    Each epoch pays ``tokens_per_epoch`` out of the unlocked balance of the vesting bucket
    ``pool_bucket`` (at most what is unlocked and unspent).
    """

    kind: Literal["pool_drip"] = Field("pool_drip", description="Schedule selector (label).")
    pool_bucket: str = Field(
        "community",
        min_length=1,
        description="Vesting bucket (recipient: reward_pool) the rewards come from (bucket name).",
    )
    tokens_per_epoch: float = Field(
        500.0,
        ge=0,
        le=_MAX_TOKENS,
        description="Rewards paid from the pool per epoch, at most its unlocked balance "
        "(tokens/epoch).",
    )
    without_contributors: EmissionRouting = _routing_field()


Emission = Annotated[
    ConstantEmission
    | LinearDecayEmission
    | ExponentialDecayEmission
    | HalvingEmission
    | SupplyHalvingEmission
    | TableEmission
    | PoolDripEmission,
    Field(discriminator="kind"),
]
"""Epoch reward schedule, selected by ``kind``."""


class FeeSplit(_Section):
    """Split of the net inference fee: builder β, stakers γ, contributors δ, burn φ; sums to 1."""

    builder: float = Field(0.3, ge=0, le=1, description="Share to the model builder (fraction).")
    stakers: float = Field(0.1, ge=0, le=1, description="Share to stakers (fraction).")
    contributors: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Share to data contributors by attribution, positive part only (fraction).",
    )
    burn: float = Field(0.1, ge=0, le=1, description="Share burned (fraction).")

    @model_validator(mode="after")
    def _sums_to_one(self) -> Self:
        total = self.builder + self.stakers + self.contributors + self.burn
        if abs(total - 1.0) > 1e-9:
            _check(
                [
                    (
                        (),
                        f"shares must sum to 1 (builder {self.builder} + stakers {self.stakers}"
                        f" + contributors {self.contributors} + burn {self.burn} = {total:.6g});"
                        " adjust them",
                    )
                ]
            )
        return self


class Staking(_Section):
    """Staking at launch."""

    initial_staked_fraction: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Fraction of each holder's unlocked balance staked at launch (fraction).",
    )


class SellPolicy(_Section):
    """How one group of holders sells: a fraction of its unlocked balance per epoch above a price."""

    holder: str = Field(
        "investors",
        min_length=1,
        description="A vesting bucket name, or one of the roles "
        + ", ".join(HOLDER_ROLES)
        + " (who sells their earned rewards) (group name).",
    )
    fraction_per_epoch: float = Field(
        0.01,
        ge=0,
        le=1,
        description="Fraction of the group's unlocked liquid balance sold each epoch "
        "(fraction/epoch).",
    )
    min_price_usd: float = Field(
        0.0,
        ge=0,
        le=_MAX_USD,
        description="Sell only while the token price is at least this (USD/token).",
    )


class Tokenomics(_Section):
    """The token: genesis supply, vesting, emission schedule, fee split, staking, sell policies."""

    total_supply_tokens: float = Field(
        1e9,
        gt=0,
        le=_MAX_TOKENS,
        description="Genesis supply minted at launch and split over the vesting buckets (tokens).",
    )
    vesting: tuple[VestingBucket, ...] = _seq(
        DEFAULT_VESTING,
        "Vesting buckets; shares sum to 1 (buckets).",
        min_length=1,
        max_length=100,
    )
    emission: Emission = Field(
        PoolDripEmission(), description="Epoch reward schedule, by kind (tokens/epoch)."
    )
    fee_split: FeeSplit = Field(FeeSplit(), description="Net inference fee split (fractions).")
    staking: Staking = Field(Staking(), description="Staking at launch (fractions).")
    sell_policies: tuple[SellPolicy, ...] = _seq(
        (
            SellPolicy(holder="investors", fraction_per_epoch=0.01),
            SellPolicy(holder="team", fraction_per_epoch=0.005),
            SellPolicy(holder="providers", fraction_per_epoch=0.1),
            SellPolicy(holder="builders", fraction_per_epoch=0.05),
            SellPolicy(holder="farmers", fraction_per_epoch=0.5),
        ),
        "Sell policies, at most one per group; groups without one never sell (policies).",
        max_length=1_000,
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        names = [b.name for b in self.vesting]
        for i in _duplicates(names):
            problems.append((("vesting", i, "name"), f"bucket name '{names[i]}' is used twice"))
        total = sum(b.share for b in self.vesting)
        if abs(total - 1.0) > 1e-6:
            problems.append(
                (
                    ("vesting",),
                    f"bucket shares must sum to 1 (got {total:.6g}); adjust the shares",
                )
            )
        holder_buckets = [b.name for b in self.vesting if b.recipient == "holders"]
        allowed = holder_buckets + list(HOLDER_ROLES)
        holders = [p.holder for p in self.sell_policies]
        for i, holder in enumerate(holders):
            if holder not in allowed:
                problems.append(
                    (
                        ("sell_policies", i, "holder"),
                        f"unknown holder group '{holder}'; expected a bucket with recipient "
                        f"holders or a role: {', '.join(allowed)}",
                    )
                )
        for i in _duplicates(holders):
            problems.append(
                (
                    ("sell_policies", i, "holder"),
                    f"holder group '{holders[i]}' has two sell policies; keep one",
                )
            )
        if isinstance(self.emission, PoolDripEmission):
            pools = [b.name for b in self.vesting if b.recipient == "reward_pool"]
            if self.emission.pool_bucket not in pools:
                problems.append(
                    (
                        ("emission", "pool_bucket"),
                        f"pool bucket '{self.emission.pool_bucket}' is not a vesting bucket "
                        "with recipient reward_pool (have: "
                        f"{', '.join(pools) if pools else 'none'})",
                    )
                )
        _check(problems)
        return self


# ------------------------------------------------------------------------------- market


class Shock(_Section):
    """A one-epoch disturbance of the exogenous order flow."""

    epoch: int = Field(0, ge=0, le=10_000_000, description="Epoch of the shock (epoch index).")
    multiplier: float = Field(
        1.0, ge=0, le=1e6, description="Factor on that epoch's flow size (dimensionless)."
    )
    net_usd: float = Field(
        0.0,
        ge=-_MAX_USD,
        le=_MAX_USD,
        description="Extra one-off net flow that epoch, negative = sell-off (USD).",
    )


class OrderFlow(_Section):
    """Exogenous net order flow on the AMM, a seeded stochastic process
    (``economics.market.OrderFlow``).

    Each epoch the net flow's magnitude is log-normal around
    ``mean_usd_per_epoch · exp(growth_per_epoch · t)`` (volatility = std of the log-noise,
    a random walk if ``persistent``), its sign a sell with probability ``sell_share``;
    shocks multiply one epoch's magnitude and add ``net_usd``. Positive flow buys tokens,
    negative flow sells tokens worth that many USD (at most what outside holders own).
    """

    mean_usd_per_epoch: float = Field(
        25_000.0,
        ge=0,
        le=_MAX_USD,
        description="Expected magnitude of the net flow at launch; 25 k USD is 1 % of the "
        "default pool, about 2 % of price per epoch (USD/epoch).",
    )
    growth_per_epoch: float = Field(
        0.0,
        ge=-1,
        le=1,
        description="Log-growth rate of the expected flow magnitude (1/epoch).",
    )
    volatility: float = Field(
        0.5,
        ge=0,
        le=10,
        description="Std of the log-magnitude noise per epoch (dimensionless per √epoch).",
    )
    sell_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Probability that an epoch's net flow is a sell; 0.5 = mean-zero noise "
        "trading (probability).",
    )
    persistent: bool = Field(
        False,
        description="Random-walk log-noise, so demand regimes persist (flag).",
    )
    shocks: tuple[Shock, ...] = _seq((), "One-epoch shocks (shocks).", max_length=100_000)


class ValueTrader(_Section):
    """A long-only value trader (``economics.market.value_trader_order``): it values a token
    at the present value of the protocol's fee revenue per token and buys below that value,
    sells above it.

    Fundamental value (USD/token): ``V = R · A / S`` where ``R`` is the mean fee revenue of
    the last ``revenue_window_epochs`` epochs (the fees consumers paid into the treasury in
    an epoch, tokens, × the price after they were paid, USD/epoch; wash fees included, as an
    outside trader cannot tell them apart), projected flat; ``A = Σ_{h=1..H} (1+r)^−h`` with
    ``H = horizon_epochs`` and ``r`` the per-epoch rate of ``discount_rate_per_year``; and
    ``S`` the total supply (minted − burned: fully diluted). Each epoch it holds a share
    ``clip(aggressiveness · ln(V/P), 0, 1)`` of its wealth (cash + tokens × P) in tokens and
    closes ``adjustment_per_epoch`` of the gap to it. It starts with ``capital_usd`` in cash
    and no tokens; it keeps its tokens in the outside market's account.
    """

    capital_usd: float = Field(
        1_000_000.0,
        ge=0,
        le=_MAX_USD,
        description="Cash the trader starts with; 0 = no value trader (USD).",
    )
    discount_rate_per_year: float = Field(
        0.2,
        ge=0,
        le=10,
        description="Yearly rate future fee revenue is discounted at; 0.2 prices in the risk "
        "of a young protocol (fraction/year).",
    )
    horizon_epochs: int = Field(
        1461,
        ge=1,
        le=_MAX_EPOCHS,
        description="Epochs of future fee revenue counted in the value; 1461 = 4 years of "
        "daily epochs (epochs).",
    )
    revenue_window_epochs: int = Field(
        30,
        ge=1,
        le=10_000,
        description="Recent epochs whose mean fee revenue is projected (epochs).",
    )
    aggressiveness: float = Field(
        1.0,
        ge=0,
        le=1_000,
        description="Share of its wealth held in tokens per unit of ln(value / price), capped "
        "at 1 (fraction per log-point).",
    )
    adjustment_per_epoch: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Fraction of the gap to its target holding traded per epoch (fraction/epoch).",
    )


class ReferencePoint(_Section):
    """One point of the reference exchange's price path."""

    epoch: int = Field(0, ge=0, le=10_000_000, description="Epoch of the point (epoch index).")
    price_usd: float = Field(
        0.5, gt=0, le=1e9, description="Reference price at that epoch (USD/token)."
    )


class Arbitrage(_Section):
    """An arbitrageur between the AMM and a reference exchange
    (``economics.market.arbitrage_order``): each epoch it moves the AMM price
    ``gap_closed_per_epoch`` of the way (in pool reserves) to the reference price, buying
    with its own cash or selling tokens from the outside market's holdings; it stays out
    while the gap is within twice the AMM fee."""

    enabled: bool = Field(False, description="Trade against the reference exchange (flag).")
    reference: tuple[ReferencePoint, ...] = _seq(
        (),
        "Reference price path: points interpolated log-linearly, flat before the first and "
        "after the last; empty = flat at initial_price_usd (points).",
        max_length=100_000,
    )
    gap_closed_per_epoch: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Fraction of the way to the reference price traded per epoch (fraction/epoch).",
    )

    @model_validator(mode="after")
    def _sorted(self) -> Self:
        epochs = [p.epoch for p in self.reference]
        if epochs != sorted(set(epochs)):
            _check([(("reference",), "points must have strictly increasing epochs")])
        return self


class Buyback(_Section):
    """Buybacks from fee revenue (``economics.market.buyback_usd``): each epoch the protocol
    spends ``share`` of the previous epoch's fee revenue (fees paid into the treasury,
    tokens, × the price after they were paid: USD) on tokens on the AMM, netted with the
    epoch's other orders. The model keeps no USD account for the protocol: the USD is the
    revenue a protocol charging USD-equivalent fees would hold."""

    share: float = Field(
        0.0, ge=0, le=1, description="Share of fee revenue spent; 0 = no buyback (fraction)."
    )
    destination: Literal["burn", "treasury"] = Field(
        "burn", description="Where the bought tokens go: burned or kept (destination)."
    )


class MarketShock(_Section):
    """A scheduled shock (``economics.market.MarketShock``).

    ``kind: price`` — the outside market trades ``size`` of the AMM pool, spread evenly
    over ``duration_epochs``: ``size < 0`` sells ``|size|`` × the token reserve (a sell of
    0.3 alone divides the price by about 1.3² = 1.69), ``size > 0`` buys ``size`` × the
    cash reserve; the tokens sold come from the outside market and the genesis holders'
    liquid balances, pro rata. ``kind: demand`` — consumers' demand is multiplied by
    ``size`` in each epoch of the duration (0.4 = a 60 % fall).
    """

    at_epoch: int = Field(0, ge=0, le=10_000_000, description="First epoch (epoch index).")
    kind: Literal["price", "demand"] = Field("price", description="What is shocked (kind).")
    size: float = Field(
        -0.3,
        ge=-10,
        le=1_000,
        description="Price: signed fraction of the pool traded, < 0 = a sell; demand: factor "
        "on demand, >= 0 (fraction of pool, or factor).",
    )
    duration_epochs: int = Field(
        1, ge=1, le=10_000_000, description="Epochs the shock lasts (epochs)."
    )

    @model_validator(mode="after")
    def _size_fits_kind(self) -> Self:
        if self.kind == "demand" and self.size < 0:
            _check([(("size",), "a demand shock's size is a factor on demand: use >= 0")])
        if self.kind == "price" and abs(self.size) > 10:
            _check([(("size",), "a price shock trades at most 10 × the pool: |size| <= 10")])
        return self


class OutsideChange(_Section):
    """A scheduled change of the outside option, in force from ``at_epoch`` on."""

    at_epoch: int = Field(
        0, ge=0, le=10_000_000, description="Epoch the change takes effect (epoch index)."
    )
    price_usd_per_inference: float | None = Field(
        None,
        ge=0,
        le=1e6,
        description="New price; null = unchanged (USD/inference).",
    )
    accuracy: float | None = Field(
        None, ge=0, le=1, description="New accuracy; null = unchanged (fraction)."
    )


class OutsideOption(_Section):
    """A centralised alternative to the network (an API sold for USD), one for the whole
    network: consumers are not tied to a datanet, so they weigh every model of every
    datanet and this one alternative in one multinomial logit on utility = accuracy −
    population.consumer_price_weight_per_usd × USD price, at temperature
    population.consumer_choice_temperature (token fees converted at the current price).
    The defaults sit clearly below an honest network (accuracy 0.62-0.70, fee about 0.01
    USD at launch), so sampling noise alone does not drive its users away: a poisoned
    network (accuracy 0.33), or one whose fees rise by about 0.08 USD per inference (the
    token price × 8), loses its users to it."""

    enabled: bool = Field(True, description="Consumers can buy the outside option (flag).")
    accuracy: float = Field(
        0.55,
        ge=0,
        le=1,
        description="Accuracy of the outside option: a general model not trained on the "
        "datanets' data (fraction).",
    )
    price_usd_per_inference: float = Field(
        0.02, ge=0, le=1e6, description="Price of one outside inference (USD/inference)."
    )
    changes: tuple[OutsideChange, ...] = _seq(
        (),
        "Scheduled changes of its price or accuracy, at strictly increasing epochs, e.g. a "
        "competitor halving its price (changes).",
        max_length=10_000,
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        epochs = [c.at_epoch for c in self.changes]
        if epochs != sorted(set(epochs)):
            _check([(("changes",), "changes must have strictly increasing at_epoch")])
        return self


class Market(_Section):
    """A constant-product AMM between the token and a USD numéraire, plus exogenous flow."""

    initial_price_usd: float = Field(
        0.5, gt=0, le=1e9, description="Token price at launch (USD/token)."
    )
    pool_liquidity_usd: float = Field(
        2_500_000.0,
        ge=1,
        le=_MAX_USD,
        description="USD reserve of the AMM at launch; the token reserve is this / price. "
        "The default is a plausible launch: 0.5 % of the 500 M USD fully diluted value "
        "(1e9 tokens × 0.5 USD) and about 2.3 % of the 108 M USD market cap of the 21.55 % "
        "circulating at launch (DEX launch pools hold a few % of the launch market cap); its "
        "5 M tokens are a tenth of the liquidity bucket, and a 25 k USD trade moves the price "
        "about 2 %. At least 1 USD: a smaller pool's product of reserves leaves floating "
        "point (USD).",
    )
    amm_fee: float = Field(
        0.003, ge=0, le=0.1, description="Swap fee on the input amount (fraction)."
    )
    outside_inventory_multiple: float = Field(
        1.0,
        ge=0,
        le=100,
        description="Tokens the outside market (noise traders, arbitrageur) holds at launch, "
        "as a multiple of the AMM's launch token reserve: lent from the treasury's liquidity "
        "bucket like a market maker's loan, at most half what the treasury keeps after the "
        "AMM and the launch stakes. Without it the outside market could sell only what it had "
        "bought, and mean-zero noise would execute as net buying (multiple).",
    )
    order_flow: OrderFlow = Field(OrderFlow(), description="Exogenous order flow (USD/epoch).")
    value_trader: ValueTrader = Field(
        ValueTrader(), description="Value trader on fee revenue (USD)."
    )
    arbitrage: Arbitrage = Field(
        Arbitrage(), description="Arbitrage to a reference price path (USD/token)."
    )
    buyback: Buyback = Field(Buyback(), description="Buybacks from fee revenue (fraction).")
    shocks: tuple[MarketShock, ...] = _seq(
        (), "Scheduled price and demand shocks (shocks).", max_length=10_000
    )
    outside_option: OutsideOption = Field(
        OutsideOption(), description="The centralised alternative to the network (USD)."
    )


# -------------------------------------------------------------------------------- chain


class Chain(_Section):
    """The settlement chain (simpy): blocks, capacity, EIP-1559 base fee, payout policy."""

    enabled: bool = Field(True, description="Settle each epoch's transactions on-chain (flag).")
    block_time_seconds: float = Field(
        2.0, gt=0, le=3_600, description="Time between blocks (seconds)."
    )
    block_capacity_tx: int = Field(
        1_000, ge=1, le=100_000_000, description="Transactions per block (transactions)."
    )
    initial_base_fee_tokens: float = Field(
        1e-4,
        gt=0,
        le=_MAX_BASE_FEE_TOKENS,
        description="Base fee at launch, at most the chain's base-fee ceiling of 1,000 "
        "(tokens/transaction).",
    )
    min_base_fee_tokens: float = Field(
        1e-9,
        ge=0,
        le=_MAX_BASE_FEE_TOKENS,
        description="Floor of the base fee, at most the ceiling of 1,000 (tokens/transaction).",
    )
    base_fee_max_change: float = Field(
        0.125,
        gt=0,
        lt=1,
        description="Largest base-fee change per block, at empty or full blocks (fraction).",
    )
    target_fullness: float = Field(
        0.5, gt=0, le=1, description="Block fullness at which the base fee is stable (fraction)."
    )
    tip_tokens: float = Field(
        0.0, ge=0, le=1e6, description="Priority tip per transaction (tokens/transaction)."
    )
    payout_policy: Literal["stream", "batch"] = Field(
        "batch",
        description="stream: one transfer per inference per contributor; batch: one claim "
        "per contributor per epoch (policy).",
    )
    max_events_per_epoch: int = Field(
        100,
        ge=1,
        le=10_000_000,
        description="Bound on simpy events per epoch; blocks are aggregated to stay under "
        "it (events/epoch).",
    )

    @model_validator(mode="after")
    def _fee_floor(self) -> Self:
        if self.min_base_fee_tokens > self.initial_base_fee_tokens:
            _check(
                [
                    (
                        ("min_base_fee_tokens",),
                        f"floor {self.min_base_fee_tokens} is above the initial base fee "
                        f"{self.initial_base_fee_tokens}; lower it",
                    )
                ]
            )
        return self


# -------------------------------------------------------------------------- attribution


class GroundTruth(_Section):
    """The simulator's yardstick (``sim.fairness``): each accepted point is valued once, as it
    arrives, by exact KNN-Shapley of the chance-centred kNN utility on a clean set no agent
    sees — what it adds to the training window that existed — with copies of earlier points
    worth zero; the fairness rank statistics are measured on a cadence."""

    every_epochs: int = Field(
        30,
        ge=0,
        le=_MAX_EPOCHS,
        description="Cadence of the fairness rank statistics (Spearman, Kendall, gaps); "
        "values and fair rewards are kept every epoch; 0 = only at the last epoch (epochs).",
    )
    k: int = Field(5, ge=1, le=10_000, description="K of the ground-truth KNN-Shapley (points).")
    validation_points: int | None = Field(
        None,
        ge=1,
        le=100_000_000,
        description="Clean points of each datanet's ground-truth set the values are measured "
        "on, at most its ground_truth_points; null = 1,000 or all of them if fewer (points).",
    )
    backdoor_probe_share: float = Field(
        0.2,
        ge=0,
        lt=1,
        description="With backdoor poisoners: share of the ground-truth validation set made "
        "of triggered probes (clean points of the non-target classes with the trigger set, "
        "labelled with their true class), so backdoor points are valued by the harm they do "
        "(fraction).",
    )
    copy_distance: float | None = Field(
        None,
        gt=0,
        le=1e6,
        description="A point within this distance of an earlier point with the same label is "
        "a copy, worth zero; null = the dedup defence's near_duplicate_distance when it is "
        "configured and > 0, else 0.05 (feature units).",
    )


class Attribution(_Section):
    """The attribution engine under test and its cadence."""

    engine: Literal[
        "uniform",
        "volume",
        "retrieval",
        "loo",
        "knn_shapley",
        "tmc_shapley",
        "banzhaf",
        "influence",
    ] = Field("retrieval", description="Attribution engine (engine name).")
    every_epochs: int = Field(
        7,
        ge=1,
        le=_MAX_EPOCHS,
        description="Cadence of valuation engines; fees in between use the latest values (epochs).",
    )
    k: int = Field(5, ge=1, le=10_000, description="K of kNN-based utilities (points).")
    budget: int = Field(
        100,
        ge=1,
        le=100_000_000,
        description="Permutations (tmc_shapley) or subset samples (banzhaf) per valuation "
        "(samples).",
    )
    test_points: int = Field(
        200,
        ge=1,
        le=100_000_000,
        description="Points of each datanet's validation set the engine values data "
        "against, at most its validation_points (points).",
    )
    max_queries_per_model: int = Field(
        64,
        ge=1,
        le=10_000_000,
        description="Inferences per model and epoch whose queries are simulated for the "
        "retrieval trail; more inferences are represented by this sample, each query "
        "weighted by inferences / sample (queries).",
    )
    trail_every_epochs: int = Field(
        0,
        ge=0,
        le=_MAX_EPOCHS,
        description="Cadence of the simulated retrieval trail: queries are simulated every "
        "this many epochs (and when a model retrains); on the epochs between, each model's "
        "fees are credited in the proportions of its last simulated trail. 0 = once per "
        "model version (only when the model retrains: a model answers the same way until "
        "then, so the credit's expectation is that of a fresh trail every epoch, its "
        "variance higher; one trail per retrain instead of one per epoch); 1 = every "
        "epoch (epochs).",
    )
    retrieval_weights: Literal["equal", "inverse_distance"] = Field(
        "equal",
        description="How an inference's credit splits over its K neighbours (weighting).",
    )
    ground_truth: GroundTruth = Field(
        GroundTruth(), description="Ground-truth valuation settings (cadence, points)."
    )


# ----------------------------------------------------------------------------- defences


class StakeSlash(_Section):
    """Bond b₀ + b₁·points per submission, slashed slash_fraction·severity·bond on failure."""

    kind: Literal["stake_slash"] = Field("stake_slash", description="Defence selector (label).")
    bond_base_tokens: float = Field(
        10.0, ge=0, le=_MAX_TOKENS, description="Fixed bond b₀ per submission (tokens)."
    )
    bond_per_point_tokens: float = Field(
        1.0, ge=0, le=_MAX_TOKENS, description="Bond b₁ per submitted point (tokens/point)."
    )
    challenge_window_epochs: int = Field(
        7,
        ge=0,
        le=_MAX_EPOCHS,
        description="Time a bond stays locked before release (epochs).",
    )
    slash_fraction: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Fraction of the bond slashed at full severity (fraction).",
    )
    severity_exponent: float = Field(
        1.0,
        ge=0,
        le=100,
        description="p in f(s) = slash_fraction·s^p for severity s in (0, 1]; 0 = all or "
        "nothing, 1 = proportional (dimensionless).",
    )
    slash_to: Literal["burn", "treasury"] = Field(
        "burn", description="Where slashed tokens go (destination)."
    )


class Reputation(_Section):
    """r ← λ·r + (1 − λ)·s each epoch; rewards × r^γ, stopped below a penalty threshold."""

    kind: Literal["reputation"] = Field("reputation", description="Defence selector (label).")
    decay: float = Field(
        0.9, ge=0, lt=1, description="Memory λ of the reputation average (fraction/epoch)."
    )
    gamma: float = Field(
        2.0, ge=0, le=100, description="Exponent γ of the reward multiplier (dimensionless)."
    )
    penalty_threshold: float = Field(
        0.2,
        ge=0,
        le=1,
        description="Reputation below which rewards stop (reputation, 0–1).",
    )
    initial_reputation: float = Field(
        0.5, ge=0, le=1, description="Reputation of a newcomer (reputation, 0–1)."
    )


class Dedup(_Section):
    """Exact duplicates by content hash; near-duplicates within ε of other owners' points."""

    kind: Literal["dedup"] = Field("dedup", description="Defence selector (label).")
    near_duplicate_distance: float = Field(
        0.05,
        ge=0,
        le=1e6,
        description="ε: a point closer than this to an earlier point of another owner is a "
        "near-duplicate; 0 = exact duplicates only (feature units).",
    )
    exact: bool = Field(True, description="Reject exact duplicates by content hash (flag).")
    near: bool = Field(
        True, description="Reject near-duplicates within near_duplicate_distance (flag)."
    )


class QualityFilter(_Section):
    """Reject points whose label disagrees with the kNN majority or whose features are outliers."""

    kind: Literal["quality_filter"] = Field(
        "quality_filter", description="Defence selector (label)."
    )
    knn_k: int = Field(
        5, ge=1, le=10_000, description="Neighbours consulted in the accepted set (points)."
    )
    min_label_agreement: float = Field(
        0.4,
        ge=0,
        le=1,
        description="Minimum fraction of the k neighbours sharing the point's label (fraction).",
    )
    max_robust_z: float = Field(
        6.0,
        gt=0,
        le=1e6,
        description="Maximum |x − median| / (1.4826·MAD) of any feature (robust z-score).",
    )
    min_reference_points: int = Field(
        50,
        ge=1,
        le=100_000_000,
        description="Accepted points needed before screening starts; fewer = accept all, "
        "at least knn_k (points).",
    )

    @model_validator(mode="after")
    def _enough_reference(self) -> Self:
        if self.min_reference_points < self.knn_k:
            _check(
                [
                    (
                        ("min_reference_points",),
                        f"{self.min_reference_points} is below knn_k = {self.knn_k}; "
                        "screening needs at least k reference points",
                    )
                ]
            )
        return self


class SybilGraph(_Section):
    """Detect sybil clusters on the funding graph and discount their rewards."""

    kind: Literal["sybil_graph"] = Field("sybil_graph", description="Defence selector (label).")
    method: Literal["sybilrank", "clusters"] = Field(
        "sybilrank",
        description="SybilRank trust propagation from honest seeds, or clusters funded from "
        "one wallet (algorithm).",
    )
    every_epochs: int = Field(7, ge=1, le=_MAX_EPOCHS, description="Detection cadence (epochs).")
    discount: Literal["one_identity"] | Annotated[float, Field(ge=0, le=1)] = Field(
        "one_identity",
        description="Reward rule for flagged identities: one_identity = each flagged cluster "
        "is paid what its best-paid member earned, shared pro rata; or a number in [0, 1], the "
        "share of its reward a flagged identity keeps (rule or fraction).",
    )
    trust_seeds: int = Field(
        10,
        ge=1,
        le=_MAX_COUNT,
        description="Known-honest identities seeding SybilRank (identities).",
    )
    iterations: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="SybilRank power iterations; null = ⌈log₂ n⌉ over funded identities "
        "(iterations).",
    )
    trust_threshold: float = Field(
        0.2,
        ge=0,
        le=1e6,
        description="SybilRank flags identities whose degree-normalised trust relative to "
        "the stationary trust is below this (dimensionless).",
    )
    lazy_walk: bool = Field(
        True,
        description="SybilRank: lazy walk t ← ½t + ½·(propagated t), which avoids the plain "
        "walk's oscillation on tree-shaped funding graphs (flag).",
    )
    min_cluster_size: int = Field(
        3,
        ge=2,
        le=_MAX_COUNT,
        description="clusters method: smallest funding cluster flagged, funder included "
        "(identities).",
    )


class RateLimit(_Section):
    """Cap submissions per identity per epoch; newcomers earn only after a minimum age."""

    kind: Literal["rate_limit"] = Field("rate_limit", description="Defence selector (label).")
    max_submissions_per_epoch: int = Field(
        5,
        ge=1,
        le=10_000_000,
        description="Submissions accepted per identity per epoch (submissions/epoch).",
    )
    min_age_epochs: int = Field(
        0, ge=0, le=_MAX_EPOCHS, description="Age before an identity earns (epochs)."
    )


class WashGuard(_Section):
    """Ocean Data Farming's rule: rewards capped at m × fees paid by independent consumers."""

    kind: Literal["wash_guard"] = Field("wash_guard", description="Defence selector (label).")
    multiplier: float = Field(
        1.0,
        gt=0,
        le=1e6,
        description="m: reward cap per unit of independent fees (tokens per fee token).",
    )


class ValidatorVote(_Section):
    """Yuma-style stake-weighted κ-clipped consensus of validator scores on submissions."""

    kind: Literal["validator_vote"] = Field(
        "validator_vote", description="Defence selector (label)."
    )
    kappa: float = Field(
        0.5,
        gt=0,
        le=1,
        description="κ: stake share that must support a weight for it to count (fraction).",
    )
    approve_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Consensus score at or above which a submission is accepted (score, 0–1).",
    )
    noise_std: float = Field(
        0.1,
        ge=0,
        le=100,
        description="Std of each honest validator's scoring noise around the true quality "
        "(score units).",
    )


Defense = Annotated[
    StakeSlash
    | Reputation
    | Dedup
    | QualityFilter
    | SybilGraph
    | RateLimit
    | WashGuard
    | ValidatorVote,
    Field(discriminator="kind"),
]
"""One anti-farming / anti-poisoning mechanism, selected by ``kind``."""


# ------------------------------------------------------------------------------ collect


class Collect(_Section):
    """What the run records and how often."""

    metrics_every_epochs: int = Field(
        1,
        ge=1,
        le=_MAX_EPOCHS,
        description="Cadence of timeseries rows: one every this many epochs and one after "
        "the last; flow columns (tokens, points, inferences, transactions) sum the epochs "
        "since the previous row, other columns are the row epoch's values (epochs).",
    )
    agent_snapshot_every_epochs: int = Field(
        30,
        ge=0,
        le=_MAX_EPOCHS,
        description="Cadence of per-individual snapshots; 0 = only after the last epoch (epochs).",
    )
    journal: bool = Field(
        False,
        description="Keep the ledger's per-operation journal in memory (flag; costs memory "
        "proportional to transfers, about 40 bytes each).",
    )
    formats: tuple[Literal["parquet", "csv"], ...] = _seq(
        ("parquet",),
        "Table formats written for timeseries and agents; Parquet is always written, "
        "csv adds .csv copies (file formats).",
        min_length=1,
        max_length=2,
    )

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        _check(
            [
                (("formats", i), f"format '{self.formats[i]}' is listed twice")
                for i in _duplicates(list(self.formats))
            ]
        )
        return self


# ----------------------------------------------------------------------------- scenario


class Scenario(_Section):
    """A whole simulated economy. ``Scenario()`` is the baseline: one year of daily epochs,
    a few hundred honest individuals, no adversaries, no defences."""

    name: str = Field(
        "baseline",
        min_length=1,
        max_length=100,
        pattern=_NAME_PATTERN,
        description="Scenario name, used in run folders (identifier).",
    )
    description: str = Field(
        "", max_length=10_000, description="The question this scenario answers (free text)."
    )
    seed: int = Field(
        42,
        ge=0,
        le=2**63 - 1,
        description="Master seed every random stream derives from (integer).",
    )
    epochs: int = Field(365, ge=1, le=_MAX_EPOCHS, description="Simulated horizon (epochs).")
    epoch_days: float = Field(1.0, gt=0, le=366, description="Calendar length of one epoch (days).")
    population: Population = Field(Population(), description="Who takes part (individuals).")
    datanets: tuple[Datanet, ...] = _seq(
        (Datanet(),),
        "Datanets, names unique; empty (`[]`) for a tokenomics-only world, which then has no "
        "providers, builders, consumers, farmers or poisoners (datanets).",
        min_length=0,
        max_length=1_000,
    )
    tokenomics: Tokenomics = Field(Tokenomics(), description="The token (tokens).")
    market: Market = Field(Market(), description="The token's AMM market (USD).")
    chain: Chain = Field(Chain(), description="The settlement chain (blocks).")
    attribution: Attribution = Field(
        Attribution(), description="Attribution engine and ground truth (engine settings)."
    )
    defenses: tuple[Defense, ...] = _seq(
        (),
        "Defences applied in the listed order, each kind at most once (mechanisms).",
        max_length=8,
    )
    collect: Collect = Field(Collect(), description="Recording cadence (epochs).")
    counterfactuals: tuple[Literal["honest_only", "no_defense"], ...] | None = Field(
        None,
        strict=False,
        max_length=2,
        description="Counterfactual twins stepped in lockstep with the world, same seed and "
        "random streams: honest_only = the adversaries removed, no_defense = the defences "
        "removed; null = honest_only when the population has adversaries, plus no_defense "
        "when it also has defences; [] = none (twin kinds).",
    )

    @property
    def twin_kinds(self) -> tuple[str, ...]:
        """The counterfactual twins this scenario runs: ``counterfactuals``, or when null,
        honest_only if the population has adversaries, plus no_defense if it also has
        defences (twin kinds)."""
        if self.counterfactuals is not None:
            return tuple(self.counterfactuals)
        if adversary_count(self.population) == 0:
            return ()
        return ("honest_only", "no_defense") if self.defenses else ("honest_only",)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        """Cross-field checks: everything a run would otherwise trip over mid-run. The size
        estimate runs last, on an otherwise consistent scenario."""
        if not self.datanets:
            _check(_no_datanet_problems(self))
        problems = [
            *_listing_problems(self),
            *_class_and_feature_problems(self),
            *_point_count_problems(self),
            *_engine_model_problems(self),
            *_chain_problems(self),
            *_market_problems(self),
            *_genesis_problems(self),
            *_order_flow_problems(self),
            *_counterfactual_problems(self),
        ]
        if not problems:
            problems = _size_problems(self)
        _check(problems)
        return self


# ------------------------------------------------------------- whole-scenario checks

_Problems = list[tuple[tuple[str | int, ...], str]]

LOGISTIC_REFIT_LIMITS = {"loo": 2_000, "tmc_shapley": 20_000, "banzhaf": 2_000}
"""Most refits of a logistic model one valuation may take, per engine (refits): the
``max_refits`` defaults of ``economics.attribution.loo``, ``tmc_shapley`` and ``banzhaf``,
which the simulation uses (a test keeps the two equal). Above it the engine raises."""

KNN_ONLY_ENGINES = ("knn_shapley",)
"""Engines whose utility is kNN accuracy only: they fail on a datanet with a logistic model
(``retrieval`` needs the builders' kNN index, which is fitted for every model kind, and
``influence`` always uses a logistic model)."""

BUILDER_PRICE_FACTOR_MAX = 1.2
"""Largest factor a builder applies to its datanet's fee (``agents.builders``: uniform in
[0.8, 1.2]) (dimensionless)."""

POOL_SAFETY_FACTOR = 4.0
"""How much larger than the expected launch purchases the AMM's token reserve must be
(dimensionless): covers the log-normal spread of consumers' rates and budgets (σ = 0.5,
so one consumer in twenty wants twice the mean), Poisson noise in the number of
inferences, and the first epoch's order flow."""


def _listing_problems(s: Scenario) -> _Problems:
    """Defence kinds and datanet names listed twice."""
    problems: _Problems = []
    kinds = [d.kind for d in s.defenses]
    for i in _duplicates(kinds):
        first = kinds.index(kinds[i])
        problems.append(
            (
                ("defenses", i, "kind"),
                f"defence '{kinds[i]}' is listed twice (entries {first} and {i}); "
                "each kind may appear once",
            )
        )
    names = [d.name for d in s.datanets]
    for i in _duplicates(names):
        problems.append((("datanets", i, "name"), f"datanet name '{names[i]}' is used twice"))
    return problems


DATA_ROLE_COUNTS = (
    ("providers",),
    ("builders",),
    ("consumers",),
    ("farmers", "duplicate"),
    ("farmers", "near_duplicate"),
    ("farmers", "sybil_operators"),
    ("farmers", "wash"),
    ("poisoners", "label_flip"),
    ("poisoners", "backdoor"),
    ("poisoners", "noise"),
)
"""Population counts (paths under ``population``) of the roles that need a datanet: they
contribute data, train models on it or pay for inferences."""


def _no_datanet_problems(s: Scenario) -> _Problems:
    """A tokenomics-only world (no datanet) has no role that contributes, trains or
    consumes; the checks below that read the datanets then have nothing to check."""
    problems: _Problems = []
    for path in DATA_ROLE_COUNTS:
        count: Any = s.population
        for key in path:
            count = getattr(count, key)
        if count > 0:
            problems.append(
                (
                    ("population", *path),
                    f"{count:,} individuals need a datanet (to contribute data to, train on "
                    "or buy inferences from), but datanets is empty; set it to 0 for a "
                    "tokenomics-only world or add a datanet",
                )
            )
    return problems


def _class_and_feature_problems(s: Scenario) -> _Problems:
    """Poisoners' target classes and trigger features must exist in every datanet."""
    problems: _Problems = []
    if not s.datanets:
        return problems
    min_classes = min(d.n_classes for d in s.datanets)
    min_features = min(d.n_features for d in s.datanets)
    poison = s.population.poisoners
    base = ("population", "poisoners")
    if poison.label_flip > 0 and poison.label_flip_target_class >= min_classes:
        problems.append(
            (
                (*base, "label_flip_target_class"),
                f"class {poison.label_flip_target_class} does not exist: a datanet has "
                f"only {min_classes} classes (0–{min_classes - 1})",
            )
        )
    if poison.backdoor > 0:
        if poison.backdoor_target_class >= min_classes:
            problems.append(
                (
                    (*base, "backdoor_target_class"),
                    f"class {poison.backdoor_target_class} does not exist: a datanet has "
                    f"only {min_classes} classes (0–{min_classes - 1})",
                )
            )
        for i, feature in enumerate(poison.backdoor_trigger_features):
            if feature >= min_features:
                problems.append(
                    (
                        (*base, "backdoor_trigger_features", i),
                        f"feature {feature} does not exist: a datanet has only "
                        f"{min_features} features (0–{min_features - 1})",
                    )
                )
    return problems


def _point_count_problems(s: Scenario) -> _Problems:
    """Engines and ground truth draw their points from the datanets' held-out sets; a
    validator vote needs validators."""
    problems: _Problems = []
    if not s.datanets:
        return problems
    gt_points = min(d.ground_truth_points for d in s.datanets)
    gt_validation = s.attribution.ground_truth.validation_points
    if gt_validation is not None and gt_validation > gt_points:
        problems.append(
            (
                ("attribution", "ground_truth", "validation_points"),
                f"{s.attribution.ground_truth.validation_points} exceeds a datanet's "
                f"ground_truth_points ({gt_points}); lower it or raise ground_truth_points",
            )
        )
    val_points = min(d.validation_points for d in s.datanets)
    if s.attribution.test_points > val_points:
        problems.append(
            (
                ("attribution", "test_points"),
                f"{s.attribution.test_points} exceeds a datanet's validation_points "
                f"({val_points}); lower it or raise validation_points",
            )
        )
    kinds = [d.kind for d in s.defenses]
    if "validator_vote" in kinds and s.population.validators == 0:
        problems.append(
            (
                ("defenses", kinds.index("validator_vote"), "kind"),
                "validator_vote needs validators: set population.validators ≥ 1",
            )
        )
    return problems


def _logistic_refits(engine: str, budget: int, points: float) -> float:
    """Refits of a logistic model one valuation of ``engine`` takes on ``points`` training
    points (refits; 0 for engines that do not refit)."""
    if points < 1:
        return 0.0
    if engine == "loo":
        return points + 1
    if engine == "tmc_shapley":
        return budget * points
    if engine == "banzhaf":
        return float(budget)
    return 0.0


def _engine_model_problems(s: Scenario) -> _Problems:
    """The attribution engine must work with each datanet's model kind: kNN-only engines
    fail on a logistic model, and refitting engines have a refit limit."""
    problems: _Problems = []
    a = s.attribution
    for i, d in enumerate(s.datanets):
        if d.model != "logistic":
            continue
        where = ("datanets", i, "model")
        if a.engine in KNN_ONLY_ENGINES:
            problems.append(
                (
                    where,
                    f"attribution.engine {a.engine} values points by kNN accuracy and needs "
                    f"model: knn, but datanet '{d.name}' has model: logistic; set model: knn, "
                    "or choose an engine that values a logistic model (influence)",
                )
            )
            continue
        limit = LOGISTIC_REFIT_LIMITS.get(a.engine)
        points = max_training_points(s, i)
        refits = _logistic_refits(a.engine, a.budget, points)
        if limit is not None and refits > limit:
            fix = {
                "loo": f"set window_points to at most {limit - 1:,}",
                "tmc_shapley": f"lower attribution.budget × window_points to {limit:,}",
                "banzhaf": f"lower attribution.budget to {limit:,}",
            }[a.engine]
            problems.append(
                (
                    where,
                    f"attribution.engine {a.engine} refits the logistic model of datanet "
                    f"'{d.name}' about {refits:,.0f} times a valuation (up to "
                    f"{points:,.0f} training points), above the engine's limit of "
                    f"{limit:,}; {fix}, use model: knn, or the influence engine",
                )
            )
    return problems


def _chain_problems(s: Scenario) -> _Problems:
    """With the chain on, an epoch must be a whole number (≥ 1) of blocks
    (``sim.chain.ChainParams``)."""
    c = s.chain
    if not c.enabled:
        return []
    epoch_seconds = 86_400.0 * s.epoch_days
    if epoch_seconds < c.block_time_seconds:
        return [
            (
                ("epoch_days",),
                f"an epoch of {s.epoch_days:g} days ({epoch_seconds:.6g} s) is shorter than "
                f"one block (chain.block_time_seconds = {c.block_time_seconds:g} s); the "
                "chain settles whole blocks: lengthen the epoch, shorten the block time, or "
                "set chain.enabled: false",
            )
        ]
    blocks = epoch_seconds / c.block_time_seconds
    if abs(blocks - round(blocks)) > 1e-9 * blocks:
        return [
            (
                ("chain", "block_time_seconds"),
                f"an epoch ({epoch_seconds:.6g} s = 86,400 s × epoch_days) must be a whole "
                f"number of blocks, but it is {blocks:,.6g} blocks of {c.block_time_seconds:g}"
                " s; choose a block time that divides it (e.g. 1, 2, 3, 4 or 5 s for "
                "whole-day epochs)",
            )
        ]
    return []


def _market_problems(s: Scenario) -> _Problems:
    """The AMM must hold more tokens than the population buys from it at launch.

    A constant-product pool sells fewer tokens than it holds, at any price. At launch the
    sybil operators buy their identities' funding, and in the first epoch wash consumers
    buy the tokens for their self-dealt fees and consumers those for their inferences (at
    most what their budgets buy at the launch price). Before the simulation rationed
    purchases from a thin pool, a smaller pool crashed the run
    (``InsufficientLiquidityError``, e.g. ``pool_liquidity_usd: 1e-6``); a pool that
    cannot serve the first purchases is refused rather than simulated as rationed.
    """
    pop, mk = s.population, s.market
    if not s.datanets:  # nobody buys at launch (no consumers, farmers or wash consumers)
        return []
    fee_tokens = BUILDER_PRICE_FACTOR_MAX * max(d.pricing.fee_tokens() for d in s.datanets)
    price = mk.initial_price_usd
    reserve_tokens = mk.pool_liquidity_usd / price
    wanted_tokens = pop.consumers * pop.consumer_inferences_per_epoch * fee_tokens
    budget_usd = pop.consumers * pop.consumer_budget_usd_per_epoch
    first_tokens = min(wanted_tokens, budget_usd / price)
    f = pop.farmers
    wash_tokens = f.wash * f.wash_inferences_per_epoch * fee_tokens
    sybil_tokens = f.sybil_operators * f.identities_per_operator * f.sybil_funding_tokens
    launch_tokens = sybil_tokens + wash_tokens + first_tokens
    need_usd = POOL_SAFETY_FACTOR * launch_tokens * price
    if mk.pool_liquidity_usd >= need_usd:
        return []
    return [
        (
            ("market", "pool_liquidity_usd"),
            f"the AMM is too small for the population's first purchases: it holds "
            f"{reserve_tokens:,.4g} tokens at launch, and sybil funding ({sybil_tokens:,.4g})"
            f" + wash fees ({wash_tokens:,.4g}) + consumers' first inferences "
            f"({first_tokens:,.4g}, what {budget_usd:,.4g} USD of budgets buys of the "
            f"{wanted_tokens:,.4g} tokens wanted) take about {launch_tokens:,.4g} tokens; a "
            "constant-product pool sells fewer tokens than it holds, so raise "
            f"pool_liquidity_usd to at least {need_usd:,.4g} USD ({POOL_SAFETY_FACTOR:g}× "
            "the purchases, a margin for demand noise), or lower the demand",
        )
    ]


MAX_FLOW_USD = 1e60
"""Largest expected exogenous order flow in one epoch the market can represent (USD/epoch);
beyond it the AMM's arithmetic leaves float64."""


ADVERSARY_COUNT_FIELDS = (
    ("farmers", "duplicate"),
    ("farmers", "near_duplicate"),
    ("farmers", "sybil_operators"),
    ("farmers", "wash"),
    ("poisoners", "label_flip"),
    ("poisoners", "backdoor"),
    ("poisoners", "noise"),
)
"""Population fields counting individuals of adversarial roles (farmers, sybil operators,
wash consumers, poisoners: the role sets marked ``adversary``), as paths under
``population``; the honest_only twin sets them all to 0."""


def adversary_count(p: Population) -> int:
    """Adversarial individuals (or sybil operators) at launch (individuals)."""
    return sum(getattr(getattr(p, section), name) for section, name in ADVERSARY_COUNT_FIELDS)


def _counterfactual_problems(s: Scenario) -> _Problems:
    """A twin must differ from the world: honest_only needs adversaries, no_defense needs
    defences; each kind at most once."""
    if s.counterfactuals is None:
        return []
    kinds = list(s.counterfactuals)
    problems: _Problems = [
        (("counterfactuals", i), f"twin '{kinds[i]}' is listed twice") for i in _duplicates(kinds)
    ]
    if "honest_only" in kinds and adversary_count(s.population) == 0:
        problems.append(
            (
                ("counterfactuals", kinds.index("honest_only")),
                "honest_only needs adversaries (farmers, sybil operators, wash consumers or "
                "poisoners in population) to remove; drop it or set counterfactuals: []",
            )
        )
    if "no_defense" in kinds and not s.defenses:
        problems.append(
            (
                ("counterfactuals", kinds.index("no_defense")),
                "no_defense needs defences to remove: the scenario has none; drop it or set "
                "counterfactuals: []",
            )
        )
    return problems


def _order_flow_problems(s: Scenario) -> _Problems:
    """Exponential growth of the order flow must stay representable over the horizon."""
    of = s.market.order_flow
    if of.mean_usd_per_epoch <= 0:
        return []
    by_epoch: dict[int, float] = {}
    for shock in of.shocks:  # shocks on the same epoch multiply
        by_epoch[shock.epoch] = by_epoch.get(shock.epoch, 0.0) + math.log(
            max(shock.multiplier, 1.0)
        )
    log_spike = max(by_epoch.values(), default=0.0)
    log_peak = (
        math.log(of.mean_usd_per_epoch) + max(of.growth_per_epoch, 0.0) * (s.epochs - 1)
    ) + log_spike
    if log_peak <= math.log(MAX_FLOW_USD):
        return []
    growth = max(of.growth_per_epoch, 0.0) * (s.epochs - 1)
    field = "shocks" if log_spike > growth else "growth_per_epoch"
    return [
        (
            ("market", "order_flow", field),
            f"the expected order flow grows to about 10^{log_peak / math.log(10):.0f} USD per "
            f"epoch by epoch {s.epochs - 1} (mean_usd_per_epoch · e^(growth · epochs), times "
            f"the largest product of shock multipliers on one epoch), beyond the {MAX_FLOW_USD:g} USD the market can represent; "
            "lower growth_per_epoch, the horizon, the shocks or the mean",
        )
    ]


def _genesis_problems(s: Scenario) -> _Problems:
    """At launch the treasury holds the liquidity buckets' TGE share; it must seed the AMM's
    token reserve and then fund the builders' and validators' stakes (``sim`` genesis)."""
    tk, mk, pop = s.tokenomics, s.market, s.population
    supply = tk.total_supply_tokens
    treasury = sum(
        b.share * supply * b.tge_fraction for b in tk.vesting if b.recipient == "liquidity"
    )
    reserve = mk.pool_liquidity_usd / mk.initial_price_usd
    if reserve > treasury:
        return [
            (
                ("market", "pool_liquidity_usd"),
                f"the AMM needs {reserve:,.4g} tokens (pool_liquidity_usd / initial_price_usd)"
                f" but the liquidity buckets unlock only {treasury:,.4g} at launch; lower "
                "pool_liquidity_usd, raise initial_price_usd, or raise the liquidity bucket's "
                "share or tge_fraction",
            )
        ]
    stakes = pop.builders * pop.builder_stake_tokens + pop.validators * pop.validator_stake_tokens
    if stakes > treasury - reserve:
        return [
            (
                ("population", "builder_stake_tokens"),
                f"builders and validators stake {stakes:,.4g} tokens at launch but the "
                f"treasury holds {treasury - reserve:,.4g} after seeding the AMM (the liquidity "
                "buckets' TGE share minus the pool's reserve); lower the stakes, the number of "
                "builders or validators, or the pool",
            )
        ]
    return []


def _field_path(path: tuple[str | int, ...]) -> str:
    """A field path as users write it: ``tokenomics.vesting[1].holders``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _size_problems(s: Scenario) -> _Problems:
    """Refuse a run whose estimated memory exceeds the limit, naming what drives it."""
    estimate = estimate_memory_bytes(s)
    if estimate <= MEMORY_LIMIT_BYTES:
        return []
    terms = memory_terms(s)
    gib = 2.0**30
    drivers = "; ".join(
        f"{_field_path(t.path)}: {t.what} ≈ {t.bytes / gib:,.3g} GiB" for t in terms[:3]
    )
    return [
        (
            terms[0].path,
            f"this run needs about {estimate / gib:,.3g} GiB of memory, above the limit of "
            f"{MEMORY_LIMIT_BYTES / gib:g} GiB (ledgerlab.scenarios.size); it is driven by "
            f"{drivers}; make these smaller",
        )
    ]
