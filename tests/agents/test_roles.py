"""Tests of the role sets (``agents/``): who each role creates, what it submits and buys,
and the plain-int point kinds shared with ``sim.datanet``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ledgerlab.agents import plans
from ledgerlab.agents.consumers import choice_probabilities, pick_models
from ledgerlab.agents.farmers import (
    STRAT_DUPLICATE,
    STRAT_NEAR_DUPLICATE,
    STRAT_OPERATOR,
    STRAT_SYBIL,
)
from ledgerlab.agents.plans import Kind
from ledgerlab.agents.poisoners import STRATEGY_KIND
from ledgerlab.sim import datanet
from ledgerlab.sim.accounts import ONBOARDING_TOKENS
from ledgerlab.sim.model import EconomyModel

Factory = Callable[..., EconomyModel]


# ---------------------------------------------------------------------------------- plans


def test_point_kinds_are_defined_once() -> None:
    assert datanet.Kind is Kind  # the generators make the kinds the roles plan
    assert [k.value for k in Kind] == list(range(6))


def test_poisson_submissions() -> None:
    rng = np.random.default_rng(0)
    assert plans.poisson_submissions(rng, np.zeros(0, np.int64), 3.0).size == 0
    assert plans.poisson_submissions(rng, np.arange(5), 0.0).size == 0
    rows = np.arange(20_000)
    subs = plans.poisson_submissions(rng, rows, 0.3)
    assert subs.dtype == np.int64
    assert np.all(np.diff(subs) >= 0)  # each row repeated in place
    assert abs(subs.size - 6_000) < 5 * np.sqrt(6_000)  # Poisson(0.3) per row
    counts = np.bincount(subs, minlength=rows.size)
    assert abs(np.mean(counts == 0) - np.exp(-0.3)) < 0.02


# ------------------------------------------------------------------------------ consumers


@settings(max_examples=80, deadline=None)
@given(
    acc=arrays(np.float64, st.integers(1, 8), elements=st.floats(0, 1)),
    shift=st.floats(-1, 1),
    weight=st.floats(0, 5),
    temperature=st.floats(0.01, 10),
)
def test_choice_probabilities_are_a_softmax_over_utility(
    acc: np.ndarray, shift: float, weight: float, temperature: float
) -> None:
    price = np.linspace(0.0, 0.1, acc.size)
    p = choice_probabilities(acc, price, weight, temperature)
    assert p.shape == acc.shape
    assert np.all(p >= 0) and p.sum() == pytest.approx(1.0)
    # Only utility differences matter.
    np.testing.assert_allclose(choice_probabilities(acc + shift, price, weight, temperature), p)
    u = acc - weight * price
    order = np.argsort(u, kind="stable")
    assert np.all(np.diff(p[order]) >= -1e-12)  # higher utility, higher probability


def test_choice_trades_accuracy_for_price_and_skips_untrained_models() -> None:
    acc = np.array([0.9, 0.8, -np.inf])
    cheap_second = choice_probabilities(acc, np.array([0.5, 0.0, 0.0]), 1.0, 0.02)
    assert cheap_second[1] > 0.99  # 0.8 − 0 beats 0.9 − 0.5
    sharp = choice_probabilities(acc, np.zeros(3), 1.0, 1e-3)
    np.testing.assert_allclose(sharp, [1.0, 0.0, 0.0], atol=1e-12)
    assert choice_probabilities(acc, np.zeros(3), 1.0, 100.0)[2] == 0.0


def test_consumers_buy_within_budget(tiny: Factory) -> None:
    model = tiny(None, epochs=2, population__consumers=200)
    c = model.roles.consumers
    assert len(c) == 200 and c.founders == 200
    pop = model.scenario.population
    # One log-normal spread scales both the rate and the budget of each consumer.
    np.testing.assert_allclose(
        c.cols.budget_usd / c.cols.rate,
        pop.consumer_budget_usd_per_epoch / pop.consumer_inferences_per_epoch,
    )
    assert c.cols.rate.mean() == pytest.approx(pop.consumer_inferences_per_epoch, rel=0.2)
    c.cols.active[:50] = False
    acc = np.array([0.9, 0.7, -np.inf])
    price = np.array([0.3, 0.1, 0.2])
    dem = c.demand(np.random.default_rng(1), acc, price)
    rows, counts = dem.rows, dem.counts()
    np.testing.assert_array_equal(rows, np.arange(50, 200))
    assert counts.shape == (150, 3) and counts.dtype == np.int64
    assert (counts >= 0).all() and counts[:, 2].sum() == 0
    probs = choice_probabilities(acc, price, pop.consumer_price_weight_per_usd, 0.02)
    affordable = np.floor(c.cols.budget_usd[rows] / float(probs @ price))
    assert (counts.sum(axis=1) <= affordable).all()
    assert counts.sum() > 0
    broke = c.cols.budget_usd.copy()
    c.cols.budget_usd[:] = 0.0
    none = c.demand(np.random.default_rng(1), acc, price)
    assert none.inferences.sum() == 0 and none.by_model.sum() == 0 and none.cost.sum() == 0
    c.cols.budget_usd[:] = broke
    free = c.demand(np.random.default_rng(1), acc, np.zeros(3))  # free: no budget cap
    assert free.inferences.sum() >= counts.sum()


@settings(max_examples=60, deadline=None)
@given(
    probs=arrays(np.float64, st.integers(1, 40), elements=st.floats(0.0, 1.0)).filter(
        lambda p: p.sum() > 1e-3
    ),
    seed=st.integers(0, 2**32 - 1),
)
def test_pick_models_never_picks_a_zero_probability_model(probs: np.ndarray, seed: int) -> None:
    probs = probs / probs.sum()
    u = np.random.default_rng(seed).random(500)
    u[:2] = (0.0, np.nextafter(1.0, 0.0))  # both ends of [0, 1)
    picked = pick_models(u, probs)
    assert picked.dtype == (np.int8 if probs.size <= 32 else np.int64)
    assert picked.shape == u.shape
    assert ((picked >= 0) & (picked < probs.size)).all()
    assert (probs[picked] > 0).all()
    # Inverse CDF: u falls in the picked model's interval [cdf[b-1], cdf[b]).
    cdf = np.cumsum(probs)
    cdf /= cdf[-1]  # as pick_models normalises it: the last edge is exactly 1
    lower = np.concatenate([[0.0], cdf])[picked]
    assert (u >= lower).all() and (u < cdf[picked]).all()


def test_pick_models_agrees_with_binary_search_and_the_probabilities() -> None:
    rng = np.random.default_rng(3)
    for n_models in (3, 8, 32, 33, 100):  # the comparison passes and the binary search
        probs = rng.dirichlet(np.ones(n_models))
        probs[0] = 0.0
        probs /= probs.sum()
        u = rng.random(200_000)
        picked = pick_models(u, probs)
        cdf = np.cumsum(probs)
        cdf /= cdf[-1]
        np.testing.assert_array_equal(picked, np.searchsorted(cdf[:-1], u, side="right"))
        share = np.bincount(picked, minlength=n_models) / u.size
        np.testing.assert_allclose(share, probs, atol=5 * np.sqrt(0.25 / u.size))
        assert share[0] == 0.0
        # float32 uniforms (what demand draws): float32 edges, the same interval rule.
        u32 = u.astype(np.float32)
        picked32 = pick_models(u32, probs)
        edges32 = cdf[:-1].astype(np.float32)
        np.testing.assert_array_equal(picked32, np.searchsorted(edges32, u32, side="right"))
        assert not (picked32 == 0).any()
        assert np.mean(picked32 != picked) < 1e-4  # only draws within 2^-24 of an edge move


def test_demand_splits_each_consumer_like_a_multinomial(tiny: Factory) -> None:
    """Per consumer, the inference-by-inference split must have the multinomial's mean and
    covariance given its total N: E[n_b] = N p_b, Cov[n_a, n_b] = N (p_b 1[a=b] - p_a p_b)."""
    model = tiny(None, epochs=2, population__consumers=400)
    pop = model.scenario.population
    c = model.roles.consumers
    c.cols.rate[:] = 6.0
    c.cols.budget_usd[:] = 1e9
    acc = np.array([0.9, 0.8, 0.7])
    price = np.array([0.01, 0.02, 0.01])
    fee = np.array([2.0, 3.0, 5.0])
    rng = np.random.default_rng(11)
    draws = []
    for _ in range(100):
        dem = c.demand(rng, acc, price, fee)
        counts = dem.counts()
        np.testing.assert_array_equal(counts.sum(axis=1), dem.inferences)
        np.testing.assert_array_equal(counts.sum(axis=0), dem.by_model)
        np.testing.assert_allclose(dem.cost, counts @ fee)
        draws.append(counts)
    counts = np.concatenate(draws).astype(np.float64)  # 40,000 consumer-epochs
    n = counts.sum(axis=1)
    p = choice_probabilities(
        acc, price, pop.consumer_price_weight_per_usd, pop.consumer_choice_temperature
    )
    resid = counts - n[:, None] * p[None, :]  # residuals from the conditional mean
    se = np.sqrt(n.sum() * p * (1 - p)) / n.size
    assert (np.abs(resid.mean(axis=0)) < 5 * se).all()
    cov = resid.T @ resid / n.sum()  # per inference: diag(p) - p p^T
    np.testing.assert_allclose(cov, np.diag(p) - np.outer(p, p), atol=0.02)


# ------------------------------------------------------------------------------ providers


def test_provider_quality_distributions(tiny: Factory) -> None:
    rng = np.random.default_rng(5)
    beta = tiny(None, epochs=2, population__provider_quality={"kind": "beta", "a": 8, "b": 2})
    q = beta.roles.providers.draw_quality(20_000, rng)
    assert q.mean() == pytest.approx(0.8, abs=0.01)
    assert q.min() > 0 and q.max() < 1
    flat = tiny(
        None,
        epochs=2,
        population__provider_quality={"kind": "mean_spread", "mean": 0.7, "spread": 0.2},
    )
    q = flat.roles.providers.draw_quality(20_000, rng)
    assert q.min() >= 0.5 and q.max() <= 0.9
    assert q.mean() == pytest.approx(0.7, abs=0.01)


def test_providers_plan_honest_submissions_from_active_rows(tiny: Factory) -> None:
    model = tiny(None, epochs=2, population__provider_submissions_per_epoch=2.0)
    p = model.roles.providers
    pop = model.scenario.population
    p.cols.active[:10] = False
    plan = p.plan(np.random.default_rng(2))
    assert plan.role == "providers" and plan.n_submissions == plan.rows.size > 0
    assert (plan.rows >= 10).all()
    np.testing.assert_array_equal(plan.owner, p.cols.account[plan.rows])
    np.testing.assert_array_equal(plan.quality, p.cols.quality[plan.rows])
    np.testing.assert_array_equal(plan.datanet, p.cols.datanet[plan.rows])
    assert (plan.kind == Kind.HONEST).all()
    assert (plan.n_points == pop.provider_points_per_submission).all()
    assert (plan.cost_usd_per_point == pop.provider_cost_usd_per_point).all()


def test_new_providers_receive_the_onboarding_grant(tiny: Factory) -> None:
    model = tiny(None, epochs=2)
    p = model.roles.providers
    treasury = float(model.ledger.balance[model.accounts.protocol.treasury])
    rows = p.spawn(4, np.random.default_rng(0))
    acct = p.cols.account[rows]
    assert (model.ledger.balance[acct] == 0).all()  # a role set opens accounts, moves no tokens
    model.accounts.onboard(acct)  # the protocol's grant (the churn phase gives it)
    np.testing.assert_allclose(model.ledger.balance[acct], ONBOARDING_TOKENS)
    assert float(model.ledger.balance[model.accounts.protocol.treasury]) == pytest.approx(
        treasury - 4 * ONBOARDING_TOKENS
    )
    src, dst, amount = model.accounts.funding_edges[-1]
    assert (src == model.accounts.protocol.treasury).all() and dst.tolist() == acct.tolist()
    assert (amount == ONBOARDING_TOKENS).all()
    assert set(p.cols.datanet[rows]) <= set(range(len(model.datanets)))


# -------------------------------------------------------------------------------- farmers


def test_sybil_operators_fund_their_identities_from_one_wallet(tiny: Factory) -> None:
    model = tiny(
        None,
        epochs=2,
        datanets=[{"name": "a"}, {"name": "b"}],
        population__farmers__duplicate=2,
        population__farmers__near_duplicate=3,
        population__farmers__sybil_operators=2,
        population__farmers__identities_per_operator=4,
        population__farmers__sybil_funding_tokens=5.0,
    )
    f = model.roles.farmers
    cols = f.cols
    assert len(f) == f.founders == 2 + 3 + 2 * (1 + 4)
    strategy = cols.strategy
    assert [int((strategy == s).sum()) for s in range(4)] == [2, 3, 8, 2]
    ops = np.flatnonzero(strategy == STRAT_OPERATOR)
    for op in ops:
        wallet = cols.account[op]
        assert cols.operator[op] == wallet
        ids = np.flatnonzero((strategy == STRAT_SYBIL) & (cols.operator == wallet))
        assert ids.size == 4
        assert np.unique(cols.datanet[ids]).size == 1  # one target datanet per operator
        edges = [
            (dst, amt) for src, dst, amt in model.accounts.funding_edges if (src == wallet).all()
        ]
        assert len(edges) == 1
        assert sorted(edges[0][0].tolist()) == sorted(cols.account[ids].tolist())
        assert (edges[0][1] == 5.0).all()
        np.testing.assert_allclose(model.ledger.balance[cols.account[ids]], 5.0)
    assert (cols.operator[strategy < STRAT_SYBIL] == -1).all()
    assert model.accounts.cols.adversary[cols.account].all()
    model.ledger.check_invariants()


def test_farmers_plan_by_strategy_and_operators_do_not_upload(tiny: Factory) -> None:
    model = tiny(
        None,
        epochs=2,
        population__farmers__duplicate=3,
        population__farmers__near_duplicate=3,
        population__farmers__sybil_operators=1,
        population__farmers__identities_per_operator=6,
        population__farmers__sybil_content="fresh",
        population__farmers__submissions_per_epoch=5.0,
    )
    f = model.roles.farmers
    plan = f.plan(np.random.default_rng(0))
    strategy = f.cols.strategy[plan.rows]
    assert STRAT_OPERATOR not in set(strategy.tolist())
    assert set(strategy.tolist()) == {STRAT_DUPLICATE, STRAT_NEAR_DUPLICATE, STRAT_SYBIL}
    expect = {
        STRAT_DUPLICATE: Kind.DUPLICATE,
        STRAT_NEAR_DUPLICATE: Kind.NEAR_DUPLICATE,
        STRAT_SYBIL: Kind.HONEST,  # fresh points
    }
    np.testing.assert_array_equal(plan.kind, [expect[int(s)] for s in strategy])
    sybil = strategy == STRAT_SYBIL
    assert (plan.quality[sybil] == model.scenario.population.farmers.sybil_label_quality).all()


def test_an_operator_leaving_takes_its_identities_and_newcomers_are_plain(
    tiny: Factory,
) -> None:
    model = tiny(
        None,
        epochs=2,
        population__farmers__duplicate=1,
        population__farmers__near_duplicate=1,
        population__farmers__sybil_operators=2,
        population__farmers__identities_per_operator=3,
    )
    f = model.roles.farmers
    cols = f.cols
    op = int(np.flatnonzero(cols.strategy == STRAT_OPERATOR)[0])
    wallet = cols.account[op]
    model.ledger.epoch = 9
    cols.active[op] = False
    f.on_leave(np.array([op]))
    mine = cols.operator == wallet
    assert not cols.active[mine].any() and (cols.left_epoch[mine & (cols.strategy == 2)] == 9).all()
    others = (cols.strategy == STRAT_SYBIL) & ~mine
    assert cols.active[others].all()
    rows = f.spawn(50, np.random.default_rng(0))
    assert set(cols.strategy[rows].tolist()) == {STRAT_DUPLICATE, STRAT_NEAR_DUPLICATE}
    assert (cols.operator[rows] == -1).all()


def test_only_the_newcomers_created_count_as_joined(tiny: Factory) -> None:
    """When every founding farmer is a sybil identity or operator, newcomers have no plain
    strategy to copy and none is created, however profitable farming is: none joined."""
    model = tiny(
        None,
        epochs=2,
        population__farmers__sybil_operators=2,
        population__farmers__identities_per_operator=3,
        population__churn__entry_rate_per_epoch=1.0,
    )
    f = model.roles.farmers
    before = len(f)
    model.ledger.epoch = 100
    f.cols.first_cost_epoch[:] = 0
    f.cols.income_ema_usd[:] = 50.0
    f.cols.cost_ema_usd[:] = 1.0  # a Poisson mean of 1 x 8 x 9 = 72 newcomers drawn
    out = f.churn(np.random.default_rng(0))
    assert out.new_rows.size == 0 and out.joined == 0
    assert len(f) == before and f.joined_total == 0


def test_wash_consumers_collude_with_a_builder(tiny: Factory) -> None:
    model = tiny(
        None,
        epochs=2,
        datanets=[{"name": "a"}, {"name": "b"}],
        population__builders=4,
        population__farmers__wash=12,
        population__farmers__wash_inferences_per_epoch=3.0,
    )
    w = model.roles.wash
    assert len(w) == 12 and w.adversary
    b = w.cols.builder
    assert ((b >= 0) & (b < len(model.roles.builders))).all()
    np.testing.assert_array_equal(w.cols.datanet, model.roles.builders.cols.datanet[b])
    plan = w.plan(np.random.default_rng(0))
    assert (plan.kind == Kind.NEAR_DUPLICATE).all()
    w.cols.active[:4] = False
    rows, counts = w.demand(np.random.default_rng(0))
    assert (rows >= 4).all() and (counts > 0).all() and rows.size == counts.size


# ------------------------------------------------------------------------------ poisoners


def test_poisoners_submit_their_strategy_and_newcomers_copy_the_founders(
    tiny: Factory,
) -> None:
    model = tiny(
        None,
        epochs=2,
        population__poisoners__label_flip=4,
        population__poisoners__backdoor=3,
        population__poisoners__noise=2,
        population__poisoners__submissions_per_epoch=5.0,
    )
    p = model.roles.poisoners
    assert np.bincount(p.cols.strategy, minlength=3).tolist() == [4, 3, 2]
    plan = p.plan(np.random.default_rng(0))
    np.testing.assert_array_equal(plan.kind, np.asarray(STRATEGY_KIND)[p.cols.strategy[plan.rows]])
    assert STRATEGY_KIND == (Kind.LABEL_FLIP, Kind.BACKDOOR, Kind.NOISE)
    assert set(plan.kind.tolist()) == {Kind.LABEL_FLIP, Kind.BACKDOOR, Kind.NOISE}
    only_flip = tiny(None, epochs=2, population__poisoners__label_flip=3)
    rows = only_flip.roles.poisoners.spawn(20, np.random.default_rng(0))
    assert (only_flip.roles.poisoners.cols.strategy[rows] == 0).all()


# ------------------------------------------------------ builders, validators and holders


def test_builders_spread_over_datanets_and_retrain_on_their_cadence(tiny: Factory) -> None:
    model = tiny(
        None,
        epochs=2,
        population__builders=5,
        datanets=[{"name": "a", "retrain_every_epochs": 3}, {"name": "b"}],
    )
    b = model.roles.builders
    cols = b.cols
    assert cols.datanet.tolist() == [0, 1, 0, 1, 0]
    assert cols.retrain_every_epochs.tolist() == [3, 7, 3, 7, 3]
    assert ((cols.retrain_offset >= 0) & (cols.retrain_offset < cols.retrain_every_epochs)).all()
    assert ((cols.price_factor >= 0.8) & (cols.price_factor <= 1.2)).all()
    np.testing.assert_array_equal(b.due(17), np.arange(5))  # never trained: all due
    cols.trained_epoch[:] = 0
    for epoch in range(20):
        due = (epoch - cols.retrain_offset) % cols.retrain_every_epochs == 0
        np.testing.assert_array_equal(b.due(epoch), np.flatnonzero(due))
    cols.active[0] = False
    assert 0 not in b.due(int(cols.retrain_offset[0]))


def test_validators_stake_and_a_fraction_colludes(tiny: Factory) -> None:
    model = tiny(
        None,
        epochs=2,
        population__validators=10,
        population__validator_colluding_fraction=0.34,
        population__validator_stake_tokens=1_000.0,
    )
    v = model.roles.validators
    assert len(v) == 10 and int(v.cols.colluding.sum()) == 3
    np.testing.assert_allclose(model.ledger.staked[v.cols.account], 1_000.0)
    np.testing.assert_allclose(v.cols.stake_tokens, 1_000.0)


def test_holders_are_the_vesting_buckets_individuals(tiny: Factory) -> None:
    model = tiny(None, epochs=2)
    h = model.roles.holders
    vesting = model.scenario.tokenomics.vesting
    seen = 0
    for i, bucket in enumerate(vesting):
        rows = h.rows_of_bucket(i)
        if bucket.recipient != "holders":
            assert rows.size == 0
            continue
        assert rows.size == bucket.holders
        seen += rows.size
        acct = h.cols.account[rows]
        led = model.ledger
        held = led.balance[acct] + led.staked[acct] + led.locked[acct]
        np.testing.assert_allclose(held, held[0])  # shared equally
        total = bucket.share * model.scenario.tokenomics.total_supply_tokens
        assert held.sum() == pytest.approx(total, rel=1e-12)
    assert seen == len(h) > 0
