"""The market has two sides (issue 14 §2): mean-zero noise, a value trader on fee revenue,
an arbitrageur, buybacks and scheduled shocks, in whole simulations.

Each direction is a paired comparison over five seeds (common random numbers: the twin
differs in one lever only): every seed must point the right way and the 95 % bootstrap
interval of the mean paired difference (``analysis.compare.bootstrap_interval``, as in
``ledgerlab compare``) must exclude zero.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ledgerlab.analysis.compare import bootstrap_interval
from ledgerlab.sim.model import EconomyModel
from tests.sim.test_horizon import assert_prefix

SEEDS = (1, 2, 3, 4, 5)

WORLD: dict[str, Any] = {
    "epochs": 120,
    "population.providers": 20,
    "population.consumers": 50,
    "population.builders": 2,
    "population.validators": 2,
    "population.builder_stake_tokens": 1_000.0,
    "population.validator_stake_tokens": 1_000.0,
    "population.adoption.enabled": False,
    "population.builder_churn.enabled": False,
    "market.outside_option.enabled": False,
    "chain.enabled": False,
    "attribution.ground_truth.every_epochs": 0,
    "collect.agent_snapshot_every_epochs": 0,
    "tokenomics.total_supply_tokens": 5e6,
    "market.pool_liquidity_usd": 50_000.0,
    "market.order_flow.mean_usd_per_epoch": 500.0,
}
"""A small world with a small token (5 M tokens, a 50 k USD pool, noise of 1 % of the pool
per epoch); consumers have no outside option and builders stay, so fees follow demand."""

FEES: dict[str, Any] = {
    **WORLD,
    "datanets.main.pricing.rate_in_per_1k": 2.0,
    "datanets.main.pricing.rate_out_per_1k": 5.0,
    "datanets.main.pricing.platform_fee_tokens": 0.5,
    "population.consumer_budget_usd_per_epoch": 50.0,
    "market.value_trader.discount_rate_per_year": 0.05,
    "market.value_trader.horizon_epochs": 3650,
    "market.value_trader.capital_usd": 50_000.0,
}
"""Fees that matter: 2.5 tokens an inference, about 2,500 tokens an epoch at full demand,
so the fee revenue over ten years discounted at 5 % (× 2,890) is worth about the supply."""

GROWING = [
    {"at_epoch": 0, "kind": "demand", "size": 0.2, "duration_epochs": 30},
    {"at_epoch": 30, "kind": "demand", "size": 0.5, "duration_epochs": 30},
    {"at_epoch": 60, "kind": "demand", "size": 1.0, "duration_epochs": 30},
    {"at_epoch": 90, "kind": "demand", "size": 1.6, "duration_epochs": 30},
]
"""Demand, hence fees, growing in steps over the four months."""


def simulate(seed: int, world: dict[str, Any], check: bool = False, **over: Any) -> pd.DataFrame:
    """The timeseries of the baseline under ``world`` and ``over``."""
    model = EconomyModel("baseline", seed=seed, check=check, **{**world, **over})
    for _ in range(model.scenario.epochs):
        model.step()
    return model.timeseries()


def assert_paired_positive(differences: list[float]) -> None:
    """Every paired difference is > 0 and so is its bootstrap interval."""
    d = np.array(differences)
    assert (d > 0).all(), d
    low, high = bootstrap_interval(d, np.random.default_rng(0))
    assert 0 < low <= high, (low, high)


def log_price_end(ts: pd.DataFrame, epochs: int = 10) -> float:
    """Mean log price over the last ``epochs`` rows (less noisy than the last one)."""
    return float(np.log(ts["price_usd"].iloc[-epochs:]).mean())


@pytest.mark.slow
def test_without_fees_steady_unlocks_push_the_price_down() -> None:
    """No consumers, so no fees; investors unlock linearly from launch and sell 5 % of
    their liquid balance an epoch. Against the twin whose investors stay locked, the price
    ends lower on every seed, and below the launch price; the value trader, seeing no fee
    revenue, never buys."""
    world = {
        **WORLD,
        "population.consumers": 0,
        "tokenomics.sell_policies.investors.fraction_per_epoch": 0.05,
        "tokenomics.vesting.investors.linear_epochs": 365.0,
    }
    drops = []
    for seed in SEEDS:
        unlocking = simulate(seed, world, **{"tokenomics.vesting.investors.cliff_epochs": 0.0})
        locked = simulate(seed, world)  # the default 12-month cliff: nothing unlocks
        assert unlocking["fees_tokens"].sum() == 0.0
        # Both unlock the reward pool's community bucket; only one unlocks investors.
        assert unlocking["unlocked_tokens"].sum() > locked["unlocked_tokens"].sum()
        assert (unlocking["value_trader_flow_usd"] == 0).all()
        assert unlocking["price_usd"].iloc[-1] < 0.5
        drops.append(log_price_end(locked) - log_price_end(unlocking))
    assert_paired_positive(drops)


@pytest.mark.slow
def test_with_growing_fees_the_value_trader_lifts_the_price() -> None:
    """Demand grows in steps (0.2 → 1.6 × the base); against the twin without a value
    trader the price ends higher on every seed, and the trader ends holding tokens."""
    lifts = []
    for seed in SEEDS:
        fees = {"market.shocks": GROWING}
        with_trader = simulate(seed, FEES, **fees)
        without = simulate(seed, FEES, **fees, **{"market.value_trader.capital_usd": 0.0})
        assert with_trader["value_trader_flow_usd"].sum() > 0
        assert with_trader["value_trader_tokens"].iloc[-1] > 0
        assert (without["value_trader_flow_usd"] == 0).all()
        assert (
            with_trader["fees_tokens"].iloc[-10:].mean()
            > 2 * with_trader["fees_tokens"].iloc[5:15].mean()
        )
        lifts.append(log_price_end(with_trader) - log_price_end(without))
    assert_paired_positive(lifts)


@pytest.mark.slow
@pytest.mark.parametrize("destination", ["burn", "treasury"])
def test_a_buyback_raises_the_price_against_its_twin(destination: str) -> None:
    """Half the fee revenue buys tokens back; the twin has buyback share 0. The price ends
    higher on every seed; the tokens bought are burned (or reach the treasury), and the
    ledger's invariants hold every epoch."""
    world = {**FEES, "market.value_trader.capital_usd": 0.0}
    lifts = []
    for seed in SEEDS:
        bought = simulate(
            seed, world, check=seed == 1, **{
                "market.buyback.share": 0.5, "market.buyback.destination": destination,
            },
        )  # fmt: skip
        twin = simulate(seed, world)
        assert (twin["buyback_usd"] == 0).all() and (twin["buyback_tokens"] == 0).all()
        assert bought["buyback_tokens"].sum() > 0
        # Each epoch spends half the previous epoch's fees at the price after they were paid.
        revenue = (bought["fees_tokens"] * bought["price_usd"]).shift(1, fill_value=0.0)
        np.testing.assert_allclose(bought["buyback_usd"], 0.5 * revenue, rtol=1e-12)
        if destination == "burn":
            assert bought["burned_tokens"].iloc[-1] > twin["burned_tokens"].iloc[-1]
        else:
            assert bought["treasury_tokens"].iloc[-1] > twin["treasury_tokens"].iloc[-1]
        lifts.append(log_price_end(bought) - log_price_end(twin))
    assert_paired_positive(lifts)


def test_a_price_shock_sells_its_share_of_the_pool_on_its_epoch() -> None:
    """A sell of 30 % of the pool at epoch 40, by the outside market and the genesis
    holders (investors hold a fifth of their bucket liquid from launch, enough to fill it):
    the run equals its twin before, and at epoch 40 the price is about 1/1.3² of the twin's
    (the rest of the epoch's netted flow is the same in both)."""
    world = {**WORLD, "tokenomics.vesting.investors.tge_fraction": 0.2, "epochs": 45}
    shock = {"market.shocks": [{"at_epoch": 40, "kind": "price", "size": -0.3}]}
    shocked = simulate(3, world, **shock)
    twin = simulate(3, world)
    pd.testing.assert_frame_equal(shocked.iloc[:40], twin.iloc[:40], check_exact=True)
    ratio = shocked["price_usd"].iloc[40] / twin["price_usd"].iloc[40]
    assert ratio == pytest.approx(1 / 1.3**2, rel=0.05)
    assert shocked["shock_flow_usd"].iloc[40] < 0
    assert (shocked["shock_flow_usd"].drop(index=40) == 0).all()


def test_a_demand_shock_multiplies_demand_while_it_lasts() -> None:
    """Demand × 0.4 over epochs 30–49: identical before, inferences about 40 % of the
    twin's during the shock (Poisson noise aside), the multiplier recorded."""
    shock = {
        "market.shocks": [{"at_epoch": 30, "kind": "demand", "size": 0.4, "duration_epochs": 20}]
    }
    shocked = simulate(4, WORLD, epochs=60, **shock)  # budgets far above what they buy
    twin = simulate(4, WORLD, epochs=60)
    pd.testing.assert_frame_equal(shocked.iloc[:30], twin.iloc[:30], check_exact=True)
    during = slice(30, 50)
    assert (shocked["demand_multiplier"].iloc[during] == 0.4).all()
    assert (shocked["demand_multiplier"].drop(index=range(30, 50)) == 1.0).all()
    ratio = shocked["inferences"].iloc[during].sum() / twin["inferences"].iloc[during].sum()
    assert ratio == pytest.approx(0.4, abs=0.05)


def test_the_arbitrageur_pulls_the_price_to_the_reference_path() -> None:
    """A reference price of 1 USD (twice the launch price): with the arbitrageur the AMM
    price stays within 10 % of it after 20 epochs (4 % on average: the noise keeps pushing
    it off); without, it stays far below."""
    arb = {
        "market.arbitrage.enabled": True,
        "market.arbitrage.reference": [{"epoch": 0, "price_usd": 1.0}],
        "epochs": 40,
    }
    pulled = simulate(5, WORLD, **arb)
    twin = simulate(5, WORLD, epochs=40)
    gap = np.abs(np.log(pulled["price_usd"].iloc[20:]))
    assert gap.mean() < 0.04 and gap.max() < math.log(1.1)
    assert twin["price_usd"].iloc[20:].max() < 0.8
    assert pulled["arbitrage_flow_usd"].iloc[:5].sum() > 0


def test_every_market_side_keeps_a_shorter_run_the_start_of_a_longer_one() -> None:
    """Value trader, arbitrage on a moving path, buyback, price and demand shocks inside
    and beyond the short horizon: the 30-epoch run is the start of the 50-epoch one."""
    world = {
        **FEES,
        "market.arbitrage.enabled": True,
        "market.arbitrage.reference": [
            {"epoch": 0, "price_usd": 0.5},
            {"epoch": 60, "price_usd": 2.0},
        ],
        "market.buyback.share": 0.2,
        "market.shocks": [
            {"at_epoch": 10, "kind": "price", "size": -0.5, "duration_epochs": 3},
            {"at_epoch": 20, "kind": "demand", "size": 1.5, "duration_epochs": 40},
            {"at_epoch": 40, "kind": "price", "size": 0.4},
        ],
    }
    short = simulate(6, world, epochs=30)
    long = simulate(6, world, epochs=50)
    assert_prefix(short, long, metrics_every=1)


def test_the_outside_market_borrows_its_launch_inventory_so_noise_sells_fill() -> None:
    """At launch the outside market holds the AMM's token reserve × the multiple, lent by
    the treasury (at most half its spare tokens). With it every noise sell fills (what it fetches is its drawn size less
    the fee and slippage); with none, the noise traders can sell only what they bought and
    some sells go unfilled, so mean-zero orders execute as net buying."""
    # The liquidity bucket's 250,000 tokens seed the AMM with 100,000; stakes take 4,000;
    # the outside market may borrow half of the 146,000 left: 73,000 < the multiple's 100,000.
    lent = EconomyModel("baseline", seed=2, **{**WORLD, "epochs": 60})
    assert float(lent.ledger.balance[lent.exchange.outside]) == pytest.approx(73_000.0)
    half = EconomyModel("baseline", seed=2, **{**WORLD, "market.outside_inventory_multiple": 0.5})
    assert float(half.ledger.balance[half.exchange.outside]) == pytest.approx(50_000.0)
    none = EconomyModel(
        "baseline", seed=2, **{**WORLD, "epochs": 60, "market.outside_inventory_multiple": 0.0}
    )
    assert float(none.ledger.balance[none.exchange.outside]) == 0.0
    filled = {}
    for name, model in (("lent", lent), ("none", none)):
        for _ in range(60):
            model.step()
        ts = model.timeseries()
        sells = ts[ts["exogenous_flow_usd"] < 0]
        filled[name] = (sells["noise_flow_usd"] / sells["exogenous_flow_usd"]).to_numpy()
    assert filled["lent"].min() > 0.95
    assert filled["none"].min() < 0.5
