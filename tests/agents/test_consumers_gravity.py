"""Behavioural gravity in the role sets: consumers split their demand between the
network's models and the outside option, score the service they got, and leave when the
outside option served them better; builders leave where fee income does not cover their
compute cost and enter where it does."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pytest

from ledgerlab.agents.consumers import (
    OutsideOffer,
    affordable_inferences,
    choice_probabilities,
    pick_models,
)

if TYPE_CHECKING:
    from ledgerlab.sim.model import EconomyModel

Factory = Callable[..., "EconomyModel"]


def test_demand_splits_each_consumers_draws_between_models_and_the_outside_option(
    tiny: Factory,
) -> None:
    model = tiny(None, epochs=2, population__consumers=300)
    c = model.roles.consumers
    pop = model.scenario.population
    acc = np.array([0.62, 0.60, -np.inf])
    price = np.array([0.01, 0.012, 0.01])
    cost_tokens = np.array([0.02, 0.024, 0.02])
    offer = OutsideOffer(accuracy=0.61, price_usd=0.02)
    dem = c.demand(np.random.default_rng(5), acc, price, cost_tokens, offer)
    # By hand, with the same draws: the logit over models + outside option, then one
    # Poisson per consumer capped by budget, one uniform per inference.
    probs = choice_probabilities(
        np.r_[acc, 0.61], np.r_[price, 0.02], pop.consumer_price_weight_per_usd, 0.02
    )
    rng = np.random.default_rng(5)
    rows = c.active_rows()
    wanted = affordable_inferences(
        rng.poisson(c.cols.rate[rows]), c.cols.budget_usd[rows], float(probs @ np.r_[price, 0.02])
    )
    pick = pick_models(rng.random(int(wanted.sum()), dtype=np.float32), probs)
    consumer = np.repeat(np.arange(rows.size), wanted)
    outside = np.bincount(consumer, weights=pick == 3, minlength=rows.size)
    np.testing.assert_array_equal(dem.probs, probs)
    np.testing.assert_array_equal(dem.outside, outside)
    np.testing.assert_array_equal(dem.inferences + dem.outside, wanted)
    np.testing.assert_array_equal(dem.by_model, np.bincount(pick, minlength=4)[:3])
    cost = np.bincount(consumer, weights=np.r_[cost_tokens, 0.0][pick], minlength=rows.size)
    np.testing.assert_allclose(dem.cost, cost, rtol=1e-12)  # the outside option costs no tokens
    assert dem.by_model[2] == 0 and dem.outside.sum() > 0 and dem.by_model.sum() > 0
    np.testing.assert_array_equal(dem.counts().sum(axis=1), dem.inferences)


def test_without_an_outside_option_demand_is_all_on_the_network(tiny: Factory) -> None:
    model = tiny(None, epochs=2, population__consumers=50)
    c = model.roles.consumers
    acc, price = np.array([0.7, 0.6]), np.array([0.01, 0.01])
    dem = c.demand(np.random.default_rng(2), acc, price)
    assert dem.outside.sum() == 0 and dem.probs.size == 2
    assert dem.by_model.sum() == dem.inferences.sum() > 0


def test_service_is_scored_by_realised_accuracy_and_price_against_the_outside_option(
    tiny: Factory,
) -> None:
    model = tiny(None, epochs=2, population__consumers=40)
    c = model.roles.consumers
    w = model.scenario.population.consumer_price_weight_per_usd
    lookback = model.scenario.population.adoption.exit_lookback_epochs
    c.cols.utility_gap_ema[:] = 0.0
    c.cols.budget_usd[:10] = 0.0  # these buy nothing: scored by the expected utility
    acc = np.array([1.0, -np.inf])  # one model for sale, always right
    price = np.array([0.01, 0.05])
    offer = OutsideOffer(accuracy=0.55, price_usd=0.02)
    dem = c.demand(np.random.default_rng(3), acc, price, None, offer)
    assert (dem.inferences == 0).any() and (dem.inferences > 0).any()
    c.record_service(np.random.default_rng(4), dem, acc, price, offer)
    # Served or not, each consumer's gap is (1 − w·0.01) − (0.55 − w·0.02): the model is
    # always right, and the expected network utility is the one model's.
    gap = (1.0 - w * 0.01) - (0.55 - w * 0.02)
    np.testing.assert_allclose(c.cols.utility_gap_ema[dem.rows], gap / lookback, rtol=1e-12)
    # A model that is never right: realised utility −w·price, below the outside option.
    c.cols.utility_gap_ema[:] = 0.0
    bad = np.array([0.0, -np.inf])
    dem = c.demand(np.random.default_rng(3), bad, price, None, offer)
    c.record_service(np.random.default_rng(4), dem, bad, price, offer)
    gap_bad = (0.0 - w * 0.01) - (0.55 - w * 0.02)
    np.testing.assert_allclose(c.cols.utility_gap_ema[dem.rows], gap_bad / lookback, rtol=1e-12)


def test_consumers_leave_after_the_lookback_when_the_outside_option_served_them_better(
    tiny: Factory,
) -> None:
    model = tiny(None, epochs=2, population__consumers=6)
    c = model.roles.consumers
    lookback = model.scenario.population.adoption.exit_lookback_epochs
    model.ledger.epoch = lookback + 5
    c.cols.joined_epoch[:] = [0, 0, 0, 10, 10, 0]  # rows 3, 4 too new to judge
    threshold = model.scenario.population.adoption.exit_below_utility_gap  # −0.02
    c.cols.utility_gap_ema[:] = [threshold - 1e-9, threshold, -0.3, -0.3, 0.1, -0.5]
    c.cols.active[5] = False  # already gone
    assert c.leave_unserved() == 2
    np.testing.assert_array_equal(c.cols.active, [False, True, False, True, True, False])
    np.testing.assert_array_equal(c.cols.left_epoch[[0, 2]], [lookback + 5] * 2)


def test_market_potential_defaults_to_twice_the_launch_consumers(tiny: Factory) -> None:
    assert tiny(None, epochs=1, population__consumers=20).roles.consumers.market_potential == 40
    m = tiny(None, epochs=1, population__consumers=20, population__adoption__market_potential=7)
    assert m.roles.consumers.market_potential == 7


# --------------------------------------------------------------------------- builders


def test_builders_leave_when_compute_cost_exceeds_fee_income(tiny: Factory) -> None:
    model = tiny(None, epochs=1, population__builders=4)
    b = model.roles.builders
    rule = model.scenario.population.builder_churn
    staked = model.ledger.staked[b.cols.account].copy()
    assert (staked > 0).all()
    income = np.array([0.0, 0.4, 0.6, 5.0])  # USD per epoch against a cost of 1 USD
    for epoch in range(rule.lookback_epochs + 1):
        model.ledger.epoch = epoch
        moves = b.churn_by_datanet(rule, income, 1.0, np.random.default_rng(epoch))
        if epoch < rule.lookback_epochs:  # not judged before the lookback
            assert moves.left == 0
    # Income/cost ratios 0, 0.4 (< 0.5: leave), 0.6 and 5 (stay).
    np.testing.assert_array_equal(b.cols.active[:4], [False, False, True, True])
    assert moves.left == 2 and b.left_total == 2
    # Those who left took their stake back.
    acct = b.cols.account[:2]
    assert (model.ledger.staked[acct] == 0).all()
    np.testing.assert_allclose(model.ledger.balance[acct], staked[:2] + 0.0, rtol=0, atol=1e-9)


def test_builders_enter_a_datanet_only_while_one_more_would_earn_above_its_cost(
    tiny: Factory,
) -> None:
    model = tiny(None, epochs=1, population__builders=2)
    b = model.roles.builders
    rule = model.scenario.population.builder_churn.model_copy(
        update={"entry_rate_per_epoch": 50.0, "max_per_datanet": 5}
    )
    model.ledger.epoch = 100
    b.cols.first_cost_epoch[:] = 0  # mature
    b.cols.income_ema_usd[:] = 1.0  # 2 USD a day in all: 2/3 per newcomer < 1.5 × 1
    b.cols.cost_ema_usd[:] = 1.0
    assert b.entrants(rule, 1.0, np.random.default_rng(0)).size == 0
    b.cols.income_ema_usd[:] = 3.0  # 6 USD a day: 2 per newcomer > 1.5: room for 3 more
    new = b.entrants(rule, 1.0, np.random.default_rng(0))
    np.testing.assert_array_equal(new, [0, 0, 0])
    rows = b.spawn_in(new, np.random.default_rng(1))
    assert b.n_active == 5 and len(b.models) == 5
    assert (b.cols.trained_epoch[rows] == -1).all() and (b.cols.datanet[rows] == 0).all()
    assert b.entrants(rule, 1.0, np.random.default_rng(0)).size == 0  # full


def test_builder_rule_refuses_entry_below_exit() -> None:
    from pydantic import ValidationError

    from ledgerlab.scenarios.schema import BuilderChurn

    with pytest.raises(ValidationError, match="exit_below_income_to_cost"):
        BuilderChurn(exit_below_income_to_cost=1.2, enter_above_income_to_cost=1.0)
