"""Regression tests at the schema's extremes: the model survives values users may legally
write (DESIGN.md, "Reliability": no unbounded float→int casts; ledger/AMM agreement holds at
the schema's extremes). Each test names the failure it pins down.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ledgerlab.agents.consumers import choice_probabilities
from ledgerlab.scenarios import Scenario, ScenarioError, apply_overrides
from ledgerlab.scenarios.schema import Shock
from ledgerlab.sim.model import EconomyModel, ModelSetupError
from ledgerlab.sim.phases.settle import MAX_TX_PER_KIND_PER_EPOCH, tx_count

Factory = Callable[..., EconomyModel]

MAX_EMISSION: dict[str, Any] = {
    "tokenomics.emission": {"kind": "constant", "tokens_per_epoch": 1e15},
}
"""Constant emission at the schema's maximum (1e15 tokens per epoch)."""

STOCKS = (
    "price_usd",
    "supply_tokens",
    "minted_tokens",
    "burned_tokens",
    "circulating_tokens",
    "locked_tokens",
    "staked_tokens",
    "bonded_tokens",
    "reward_pool_tokens",
    "treasury_tokens",
    "market_cap_usd",
    "fdv_usd",
    "amm_token_reserve",
    "amm_cash_reserve_usd",
)
"""Stock columns of the timeseries: finite whatever happens to the price."""


def run_checked(model: EconomyModel) -> pd.DataFrame:
    """Run ``model`` to the end; after every epoch the AMM's reserves are positive and its
    token reserve is exactly the AMM account's ledger balance."""
    while model.running:
        model.step()
        assert (
            model.exchange.pool.token_reserve_tokens > 0
            and model.exchange.pool.cash_reserve_usd > 0
        )
        assert model.exchange.pool.token_reserve_tokens == float(
            model.ledger.balance[model.accounts.protocol.amm]
        )
    return model.timeseries()


def assert_sane(ts: pd.DataFrame) -> None:
    """Finite stocks, a positive price and supply = minted − burned."""
    assert np.isfinite(ts[list(STOCKS)].to_numpy()).all()
    assert (ts["price_usd"] > 0).all()
    np.testing.assert_allclose(
        ts["supply_tokens"], ts["minted_tokens"] - ts["burned_tokens"], rtol=1e-9
    )


def test_max_emission_collapses_the_price_without_an_int_overflow(tiny: Factory) -> None:
    """Case 1: 1e15 tokens per epoch crash the price to ~1e-16 USD; consumers' affordable
    inferences (budget / price ≈ 1e17+) were cast to int64 unbounded, wrapped to INT64_MIN
    and ``np.add.reduceat`` raised at epoch 4."""
    model = tiny(None, epochs=6, population__providers=20, **MAX_EMISSION)
    ts = run_checked(model)
    assert_sane(ts)
    assert ts["price_usd"].min() < 1e-12  # the collapse did happen
    assert (ts["inferences"] >= 0).all() and ts["inferences"].sum() > 0


def test_consumer_demand_stays_bounded_when_the_price_is_near_zero(tiny: Factory) -> None:
    """Case 1, at the role set: with a price of 1e-300 USD, ``budget / price`` overflows
    int64 (and float64, to inf); the demand is then what consumers want (Poisson), never
    a negative or wrapped count."""
    model = tiny(None, epochs=1, population__consumers=50)
    c = model.roles.consumers
    acc = np.array([0.9, 0.8])
    for price in (1e-300, 5e-324, 0.0):
        dem = c.demand(np.random.default_rng(3), acc, np.full(2, price))
        assert dem.inferences.dtype == np.int64
        assert (dem.inferences >= 0).all() and dem.inferences.sum() > 0
        assert dem.by_model.sum() == dem.inferences.sum() == dem.model.size
        assert np.isfinite(dem.cost).all() and (dem.cost >= 0).all()
    wanted = c.demand(np.random.default_rng(3), acc, np.zeros(2)).inferences
    tiny_price = c.demand(np.random.default_rng(3), acc, np.full(2, 1e-300)).inferences
    np.testing.assert_array_equal(wanted, tiny_price)  # the budget cap cannot bind


def test_amm_reserve_and_ledger_agree_at_max_emission(tiny: Factory) -> None:
    """Case 2: amounts near 1e15 made the pool's token reserve and the AMM account's
    balance drift apart by rounding (~0.25 token on 2.5e8) until ``_check_invariants``
    raised ``LedgerError … (please report)`` at epoch 8. The reserve now lives in one
    place (the ledger; the pool adopts it after each trade) and the ledger's full check
    runs every epoch."""
    model = tiny(
        None,
        epochs=14,
        population__providers=20,
        population__consumers=20,
        check=True,
        **MAX_EMISSION,
    )
    ts = run_checked(model)
    assert_sane(ts)
    assert ts["minted_tokens"].iloc[-1] >= 14e15


@pytest.mark.parametrize("consumers", [5, 50])
def test_amm_reserve_and_ledger_agree_when_everyone_sells(tiny: Factory, consumers: int) -> None:
    """Case 2, other paths: heavy selling by rewarded providers and investors at 1e15
    tokens per epoch (the drift reached 1 token on 2.5e8 at epoch 8 or 12)."""
    model = tiny(
        None,
        epochs=14,
        population__providers=20,
        population__consumers=consumers,
        tokenomics__sell_policies=[
            {"holder": "providers", "fraction_per_epoch": 1.0},
            {"holder": "investors", "fraction_per_epoch": 0.5},
        ],
        **MAX_EMISSION,
    )
    assert_sane(run_checked(model))


# --------------------------------------------------- found by tests/sim/test_properties.py

SMALL_WORLD: dict[str, Any] = {
    "population.providers": 5,
    "population.consumers": 0,
    "population.builders": 1,
    "population.validators": 1,
    "epochs": 6,
}
"""A few individuals, no consumers: the market and the ledger are what is tested."""


def small(**overrides: Any) -> EconomyModel:
    """An EconomyModel of :data:`SMALL_WORLD` plus ``overrides`` (dotted paths), with the
    ledger's full check every epoch."""
    return EconomyModel(None, check=True, **{**SMALL_WORLD, **overrides})


def with_unvalidated(sc: Scenario, path: str, value: Any) -> Scenario:
    """``sc`` with the field at dotted ``path`` set to ``value`` without validation: a value
    the schema now refuses, handed to the model anyway (defence in depth)."""

    def put(model: Any, parts: list[str]) -> Any:
        if len(parts) == 1:
            return model.model_copy(update={parts[0]: value})
        return model.model_copy(update={parts[0]: put(getattr(model, parts[0]), parts[1:])})

    return put(sc, path.split("."))


def unvalidated(model_overrides: dict[str, Any], **fields: Any) -> Scenario:
    """A scenario with ``fields`` of the ``chain`` or ``population.farmers`` section set
    without validation: values an earlier schema accepted and the current one refuses
    (its cross-field checks); the model must still not crash if handed one."""
    sc = apply_overrides(Scenario(), {**SMALL_WORLD, **model_overrides})
    section, values = next(iter(fields.items()))
    if section == "chain":
        return sc.model_copy(update={"chain": sc.chain.model_copy(update=values)})
    farmers = sc.population.farmers.model_copy(update=values)
    population = sc.population.model_copy(update={"farmers": farmers})
    return sc.model_copy(update={"population": population})


def test_heavy_selling_into_a_thin_pool_is_bounded_not_a_crash() -> None:
    """A pool of 0.05 USD at 1e8 USD/token (5e-10 tokens) and investors selling their whole
    unlocked balance: the netted sell was 1e16+ times the reserve, the swap's USD output
    rounded to the whole cash reserve and ``execute_net`` raised
    InsufficientLiquidityError at epoch 2. Orders are now bounded by
    MAX_ORDER_TO_RESERVE times the reserve, and the AMM's ledger balance moves only by the
    pool's net change."""
    model = small(
        **{
            "market.pool_liquidity_usd": 1.0,  # the schema's minimum: 1e-9 tokens at 1e9 USD
            "market.initial_price_usd": 1e9,
            "tokenomics.sell_policies": [{"holder": "investors", "fraction_per_epoch": 1.0}],
            "tokenomics.vesting.investors.cliff_epochs": 0,
            "tokenomics.vesting.investors.tge_fraction": 1.0,
        }
    )
    ts = run_checked(model)
    assert_sane(ts)
    assert ts["sold_tokens"].max() > 1e12 * 5e-10  # the bound did bind


def test_fee_buyers_are_served_pro_rata_when_the_pool_runs_thin() -> None:
    """Strong outside buying drains a small pool (1,000 USD) to a fraction of a token,
    then wash consumers needed more fee tokens than the pool held and
    ``buy_tokens_exact`` raised InsufficientLiquidityError at epoch 0. One purchase now
    takes at most MAX_EXACT_BUY_SHARE of the reserve; payers pay what they got, and only
    fees actually paid are routed."""
    model = small(
        **{
            "population.farmers.wash": 3,
            "population.farmers.wash_inferences_per_epoch": 200,
            "market.pool_liquidity_usd": 1_000.0,
            "market.order_flow.mean_usd_per_epoch": 1e7,
            "market.order_flow.sell_share": 0.0,
            "market.order_flow.volatility": 0.0,
        }
    )
    ts = run_checked(model)
    assert_sane(ts)
    assert ts["wash_inferences"].sum() > 0
    assert (ts["fees_tokens"] >= 0).all()


def test_a_pool_too_small_for_float64_is_a_setup_error() -> None:
    """``pool_liquidity_usd`` = 5e-324 at 1e9 USD/token gives a reserve of 0 tokens: the
    pool constructor raised MarketError (not a documented user error). Reserves whose
    product underflows are now refused at setup with a message."""
    for liquidity in (5e-324, 1e-300):
        with pytest.raises(ScenarioError, match="pool_liquidity_usd: must be ≥ 1"):
            small(**{"market.pool_liquidity_usd": liquidity, "market.initial_price_usd": 1e9})
        # refused by the schema now; the model still refuses one handed to it unvalidated
        sc = apply_overrides(Scenario(), {**SMALL_WORLD, "market.initial_price_usd": 1e9})
        with pytest.raises(ModelSetupError, match="pool_liquidity_usd"):
            EconomyModel(with_unvalidated(sc, "market.pool_liquidity_usd", liquidity))


def test_supply_halving_with_nothing_to_issue_runs() -> None:
    """``supply_halving`` with ``initial_tokens_per_epoch: 0`` (legal) raised EmissionError
    at setup: the economics schedule needs a positive rate. Nothing is ever issued."""
    model = small(
        **{"tokenomics.emission": {"kind": "supply_halving", "initial_tokens_per_epoch": 0.0}}
    )
    ts = run_checked(model)
    assert (ts["emission_tokens"] == 0).all()
    assert_sane(ts)


def test_a_base_fee_above_the_chain_ceiling_is_not_a_crash() -> None:
    """``chain.initial_base_fee_tokens`` up to 1e6 was legal while the chain model's base-fee
    ceiling is 1,000: ChainParamsError at setup. (The schema now bounds it at 1,000.)"""
    sc = unvalidated({}, chain={"initial_base_fee_tokens": 5e5, "tip_tokens": 0.0})
    ts = run_checked(EconomyModel(sc, check=True))
    assert ts["chain_base_fee_tokens"].iloc[0] > 0
    assert_sane(ts)


def test_near_duplicates_without_jitter_are_exact_copies() -> None:
    """``population.farmers.near_duplicate_jitter: 0`` was legal, and the generator
    refuses a zero jitter: DatanetError mid-run. Zero jitter now means exact copies. (The
    schema now requires a jitter > 0.)"""
    sc = unvalidated(
        {"population.farmers.near_duplicate": 3, "population.farmers.submissions_per_epoch": 1.0},
        farmers={"near_duplicate_jitter": 0.0},
    )
    ts = run_checked(EconomyModel(sc, check=True))
    assert ts["points_submitted"].sum() > 0
    assert_sane(ts)


def test_annualised_inflation_overflows_to_inf_without_a_warning(tiny: Factory) -> None:
    """1e15 tokens minted per epoch on a 1e9 supply: compounding the epoch's inflation
    over a year overflows float64. The model raised numpy's overflow RuntimeWarning (an
    error under this project's pytest settings); the rate is now +inf, silently."""
    model = tiny(None, epochs=3, population__providers=5, population__consumers=0, **MAX_EMISSION)
    ts = run_checked(model)
    assert np.isinf(ts["circulating_inflation_annualised"]).any()


def test_a_vanishing_emission_half_life_issues_nothing_after_epoch_0() -> None:
    """``exponential_decay`` with ``half_life_epochs: 5e-324`` (legal: > 0): log(2)/half-life
    overflowed to -inf and -inf × epoch 0 gave NaN (RuntimeWarning, an error here). The
    half-life is floored at MIN_HALF_LIFE_EPOCHS, which issues the same: everything in
    epoch 0 (the whole cap of initial / (1 − q) = initial), nothing after."""
    for initial in (0.0, 1e6):
        model = small(
            **{
                "tokenomics.emission": {
                    "kind": "exponential_decay",
                    "initial_tokens_per_epoch": initial,
                    "half_life_epochs": 5e-324,
                }
            }
        )
        ts = run_checked(model)
        assert ts["emission_tokens"].tolist() == [initial] + [0.0] * 5
        assert_sane(ts)


def test_an_order_flow_that_outgrows_float64_is_a_setup_error() -> None:
    """``growth_per_epoch: 1`` (legal) over 1,000 epochs: the expected flow reaches e^999
    USD. Drawn for the whole horizon at setup it raised OrderFlowError (not a documented
    user error); drawn epoch by epoch it would fail only at epoch ~680. Setup now refuses
    a trend beyond MAX_FLOW_TREND_USD, naming the fields to change."""
    with pytest.raises(ScenarioError, match="growth_per_epoch"):  # refused at validate now
        small(**{"epochs": 1_000, "market.order_flow.growth_per_epoch": 1.0})
    sc = apply_overrides(Scenario(), {**SMALL_WORLD, "epochs": 1_000})
    with pytest.raises(ModelSetupError, match="growth_per_epoch"):  # and by the model
        EconomyModel(with_unvalidated(sc, "market.order_flow.growth_per_epoch", 1.0))
    spikes = {
        "market.order_flow.mean_usd_per_epoch": 1e13,
        "market.order_flow.shocks": [{"epoch": 1, "multiplier": 1e6}] * 9,
    }
    with pytest.raises(ScenarioError, match="shocks: the expected order flow grows"):
        small(**spikes)
    sc = apply_overrides(Scenario(), {**SMALL_WORLD, "market.order_flow.mean_usd_per_epoch": 1e13})
    shocks = (Shock(epoch=1, multiplier=1e6),) * 9
    with pytest.raises(ModelSetupError, match="shock multipliers"):
        EconomyModel(with_unvalidated(sc, "market.order_flow.shocks", shocks))
    small(**{"epochs": 15, "market.order_flow.growth_per_epoch": 1.0})  # e^14: fine


@pytest.mark.parametrize("rate", [7e-321, 1e-320, 3e-320])
def test_rewards_paid_from_subnormal_dust_never_overdraw(rate: float) -> None:
    """Emission of 3e-320 tokens per epoch (legal: >= 0) into an otherwise empty reward
    pool: the payout, scaled to the pool's balance by a relative margin, still exceeded
    it by one subnormal step (their spacing is absolute) and the ledger refused the
    transfer (LedgerError). Payouts are now nudged down until the ledger's own sum fits."""
    model = EconomyModel(
        None,
        check=True,
        **{
            "epochs": 6,
            "population.providers": 9,
            "population.consumers": 0,
            "population.provider_submissions_per_epoch": 1.0,
            "tokenomics.emission": {"kind": "constant", "tokens_per_epoch": rate},
            "tokenomics.vesting.community.cliff_epochs": 1e7,
            "attribution.engine": "volume",
        },
    )
    ts = run_checked(model)
    assert ts["rewards_tokens"].sum() > 0
    assert_sane(ts)


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_a_vanishing_choice_temperature_picks_the_best_model(tiny: Factory) -> None:
    """``consumer_choice_temperature: 5e-324`` (legal: > 0): utility / temperature
    overflowed to ±inf, inf − inf gave NaN choice probabilities, and every inference went
    to model 0, for sale or not. The softmax now shifts before dividing."""
    acc = np.array([-np.inf, 0.7, 0.9, 0.8])
    probs = choice_probabilities(acc, np.zeros(4), 1.0, 5e-324)
    np.testing.assert_array_equal(probs, [0.0, 0.0, 1.0, 0.0])
    expensive = choice_probabilities(acc[1:], np.full(3, 1e308), 1e6, 0.02)  # all −inf
    np.testing.assert_allclose(expensive, 1 / 3)
    model = tiny(None, epochs=4, population__consumer_choice_temperature=5e-324)
    ts = run_checked(model)
    assert ts["inferences"].sum() > 0
    assert_sane(ts)


def test_transaction_counts_are_bounded_before_the_int_cast() -> None:
    """Counts derived from floats (e.g. inferences × payout recipients under ``stream``)
    are bounded before they become the chain's int64 counts; NaN counts 0."""
    assert tx_count(3.4) == 3 and tx_count(0.0) == 0 and tx_count(-2.0) == 0
    assert tx_count(math.nan) == 0
    for huge in (1e30, math.inf):
        assert tx_count(huge) == MAX_TX_PER_KIND_PER_EPOCH
    assert 5 * MAX_TX_PER_KIND_PER_EPOCH * 100_000 < np.iinfo(np.int64).max
