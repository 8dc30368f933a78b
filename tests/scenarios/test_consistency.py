"""Cross-field checks that refuse, at validation, scenarios that would crash mid-run.

Each refused case here was reproduced as a crash of a 3-epoch run before the check existed
(the reproduction is in the check's docstring or message).
"""

import inspect
import textwrap

import pytest

from ledgerlab.economics import attribution
from ledgerlab.scenarios import Scenario, ScenarioError, apply_overrides, loads
from ledgerlab.scenarios.schema import (
    BUILDER_PRICE_FACTOR_MAX,
    LOGISTIC_REFIT_LIMITS,
    POOL_SAFETY_FACTOR,
)


def _lines(text: str) -> list[str]:
    """The problem lines a scenario text produces (fails if it loads)."""
    with pytest.raises(ScenarioError) as info:
        loads(textwrap.dedent(text), source="s.yaml")
    return str(info.value).splitlines()


def _refused(overrides: dict[str, object]) -> str:
    """The message of the scenario the overrides make (fails if it validates)."""
    with pytest.raises(ScenarioError) as info:
        apply_overrides(Scenario(), overrides)
    return str(info.value)


# ------------------------------------------------------------- engine and model kind


def test_knn_shapley_on_a_logistic_datanet_points_at_its_model() -> None:
    lines = _lines(
        """\
        name: x
        datanets:
          - name: a
          - name: b
            model: logistic
        attribution:
          engine: knn_shapley
        """
    )
    assert lines == [
        "s.yaml:5:12: datanets[1].model: attribution.engine knn_shapley values points by kNN "
        "accuracy and needs model: knn, but datanet 'b' has model: logistic; set model: knn, "
        "or choose an engine that values a logistic model (influence)"
    ]


@pytest.mark.parametrize("engine", ["retrieval", "influence", "uniform", "volume"])
def test_engines_that_work_with_a_logistic_model_are_accepted(engine: str) -> None:
    apply_overrides(Scenario(), {"datanets.0.model": "logistic", "attribution.engine": engine})


def test_refitting_engines_on_a_logistic_model_respect_their_refit_limit() -> None:
    logistic = {"datanets.0.model": "logistic"}
    # tmc_shapley: budget × training points refits (100 × 10,000 by default)
    message = _refused({**logistic, "attribution.engine": "tmc_shapley"})
    assert "datanets[0].model: attribution.engine tmc_shapley refits the logistic model" in message
    assert "about 1,000,000 times a valuation" in message and "limit of 20,000" in message
    apply_overrides(
        Scenario(),
        {
            **logistic,
            "attribution.engine": "tmc_shapley",
            "attribution.budget": 10,
            "datanets.0.window_points": 2_000,
        },
    )
    # loo: one refit per training point
    assert "set window_points to at most 1,999" in _refused(
        {**logistic, "attribution.engine": "loo"}
    )
    apply_overrides(
        Scenario(), {**logistic, "attribution.engine": "loo", "datanets.0.window_points": 1_999}
    )
    # banzhaf: one refit per sample
    message = _refused({**logistic, "attribution.engine": "banzhaf", "attribution.budget": 2_001})
    assert "lower attribution.budget to 2,000" in message
    apply_overrides(
        Scenario(), {**logistic, "attribution.engine": "banzhaf", "attribution.budget": 2_000}
    )


def test_a_window_of_zero_counts_the_points_submitted_over_the_horizon() -> None:
    base = {
        "datanets.0.model": "logistic",
        "datanets.0.window_points": 0,
        "datanets.0.seed_points": 100,
        "attribution.engine": "loo",
    }
    # no contributions: the training set stays at the 100 seed points
    apply_overrides(Scenario(), {**base, "population.provider_submissions_per_epoch": 0.0})
    # 200 providers × 1 point an epoch × 365 epochs grow it far past 2,000
    assert "73,100 training points" in _refused(base)


def test_refit_limits_are_the_attribution_engines_own() -> None:
    for engine, limit in LOGISTIC_REFIT_LIMITS.items():
        function = getattr(attribution, engine)
        assert inspect.signature(function).parameters["max_refits"].default == limit


# ------------------------------------------------------------------------------ chain


def test_an_epoch_shorter_than_a_block_is_refused_when_the_chain_is_on() -> None:
    assert _lines("name: x\nepoch_days: 1.0e-9\n") == [
        "s.yaml:2:13: epoch_days: an epoch of 1e-09 days (8.64e-05 s) is shorter than one "
        "block (chain.block_time_seconds = 2 s); the chain settles whole blocks: lengthen the "
        "epoch, shorten the block time, or set chain.enabled: false"
    ]
    off = loads("name: x\nepoch_days: 1.0e-9\nchain: {enabled: false}\n")
    assert off.epoch_days == 1e-9


def test_an_epoch_must_be_a_whole_number_of_blocks() -> None:
    [line] = _lines("name: x\nchain:\n  block_time_seconds: 7\n")
    assert line.startswith(
        "s.yaml:3:23: chain.block_time_seconds: an epoch (86400 s = 86,400 s × epoch_days) "
        "must be a whole number of blocks, but it is 12,342.9 blocks of 7 s"
    )
    assert loads("name: x\nchain: {block_time_seconds: 6}\n").chain.block_time_seconds == 6
    assert loads("name: x\nepoch_days: 0.5\nchain: {block_time_seconds: 4}\n").epoch_days == 0.5


def test_the_base_fee_is_bounded_by_the_chains_ceiling() -> None:
    assert _lines("name: x\nchain: {initial_base_fee_tokens: 1.0e6}\n") == [
        "s.yaml:2:34: chain.initial_base_fee_tokens: must be ≤ 1000 (got 1000000.0)"
    ]
    assert (
        loads("name: x\nchain: {initial_base_fee_tokens: 1000}\n").chain.initial_base_fee_tokens
        == 1000
    )


def test_near_duplicate_jitter_must_be_positive() -> None:
    [line] = _lines("name: x\npopulation: {farmers: {near_duplicate_jitter: 0}}\n")
    assert "population.farmers.near_duplicate_jitter: must be > 0 (got 0)" in line


# ------------------------------------------------------------------------------- pool


def test_a_pool_too_small_for_the_first_purchases_is_refused_with_the_estimate() -> None:
    lines = _lines(
        """\
        name: x
        market:
          pool_liquidity_usd: 50.0
        """
    )
    # 100 consumers × 20 inferences × 0.021 tokens × 1.2 (builders' price factor) = 50.4
    # tokens, which their 500 USD of budgets buy at 0.5 USD/token; 4 × 50.4 × 0.5 = 100.8
    assert lines == [
        "s.yaml:3:23: market.pool_liquidity_usd: the AMM is too small for the population's "
        "first purchases: it holds 100 tokens at launch, and sybil funding (0) + wash fees "
        "(0) + consumers' first inferences (50.4, what 500 USD of budgets buys of the 50.4 "
        "tokens wanted) take about 50.4 tokens; a constant-product pool sells fewer tokens "
        "than it holds, so raise pool_liquidity_usd to at least 100.8 USD (4× the purchases, "
        "a margin for demand noise), or lower the demand"
    ]
    fee = 0.021 * BUILDER_PRICE_FACTOR_MAX
    assert POOL_SAFETY_FACTOR * 100 * 20 * fee * 0.5 == pytest.approx(100.8)
    assert loads("name: x\nmarket: {pool_liquidity_usd: 100.8}\n").market.pool_liquidity_usd


def test_the_suggested_pool_is_accepted_and_runs() -> None:
    from ledgerlab.sim.model import EconomyModel

    message = _refused({"market.pool_liquidity_usd": 1.0, "population.consumers": 20})
    need = float(message.split("at least ")[1].split(" USD")[0].replace(",", ""))
    scenario = apply_overrides(
        Scenario(),
        {
            "market.pool_liquidity_usd": need,
            "population.consumers": 20,
            "population.providers": 30,
            "epochs": 5,
        },
    )
    model = EconomyModel(scenario, check=True)
    while model.running:
        model.step()  # crashed with InsufficientLiquidityError at a pool of 1e-6 or 1 USD


def test_sybil_funding_and_wash_fees_count_in_the_launch_purchases() -> None:
    sybils = {
        "population.farmers.sybil_operators": 1_000,
        "population.farmers.sybil_funding_tokens": 1e3,
    }
    assert "sybil funding (1e+07)" in _refused(sybils)
    wash = {"population.farmers.wash": 100, "population.farmers.wash_inferences_per_epoch": 1e9}
    assert "wash fees (2.52e+09)" in _refused(wash)


def test_a_genesis_the_treasury_cannot_fund_is_refused_at_validate() -> None:
    # Used to pass `validate` and fail only when the model was set up.
    assert "the AMM needs 2e+12 tokens" in _refused({"market.pool_liquidity_usd": 1e12})
    stakes = {"population.validators": 1_000, "population.validator_stake_tokens": 1e9}
    assert "builders and validators stake" in _refused(stakes)


def test_order_flow_growth_must_stay_representable_over_the_horizon() -> None:
    message = _refused({"market.order_flow.growth_per_epoch": 1.0})
    assert "grows to about 10^162 USD per epoch by epoch 364" in message
    assert apply_overrides(Scenario(), {"market.order_flow.growth_per_epoch": 0.1})


def test_a_pool_under_one_usd_is_refused() -> None:
    # 5e-324 USD used to pass and underflow the pool's product of reserves to zero.
    assert "must be ≥ 1" in _refused({"market.pool_liquidity_usd": 5e-324})
