"""A tokenomics-only world (no datanet) is a first-class scenario: it validates, runs and
writes its outputs; the emission with no contributor goes where
``tokenomics.emission.without_contributors`` says, pro rata and conserved; and the radCAD
peer of ``benchmarks/bench_tokenomics.py`` computes the same price, circulating supply and
market float (skipped without radCAD)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ledgerlab import load_scenario, run
from ledgerlab.economics.ledger import Ledger
from ledgerlab.scenarios import Scenario
from ledgerlab.scenarios.schema import DATA_ROLE_COUNTS, SchemaConsistencyError
from ledgerlab.sim.accounts import Accounts
from ledgerlab.sim.model import EconomyModel
from ledgerlab.sim.phases import reward
from ledgerlab.sim.phases.reward import RoutedEmission, route_emission
from ledgerlab.sim.resolve import resolve_scenario

SMALL = {
    "epochs": 40,
    "tokenomics.vesting.airdrop.holders": 40,
    "tokenomics.vesting.investors.holders": 12,
    "tokenomics.vesting.team.holders": 5,
    # the investors' and team's cliffs inside the horizon, so every bucket unlocks
    "tokenomics.vesting.investors.cliff_epochs": 10,
    "tokenomics.vesting.team.cliff_epochs": 20,
}
"""The shipped scenario at test size (57 holders, 40 epochs)."""

NO_DATA_ROLES = {
    "population.providers": 0,
    "population.builders": 0,
    "population.consumers": 0,
}


def small(**extra: Any) -> Scenario:
    """The shipped tokenomics-only scenario at test size, with ``extra`` overrides."""
    return resolve_scenario("tokenomics_only", {**SMALL, **extra})


def stepped(sc: Scenario, check: bool = True) -> EconomyModel:
    """A model of ``sc`` run to its horizon (with the ledger's full check every epoch)."""
    model = EconomyModel(sc, check=check)
    for _ in range(sc.epochs):
        model.step()
    return model


# ----------------------------------------------------------------------------- schema


def test_the_shipped_scenario_has_no_datanet_and_10000_holders() -> None:
    sc = load_scenario("tokenomics_only")
    assert sc.datanets == ()
    assert sum(b.holders for b in sc.tokenomics.vesting if b.recipient == "holders") == 10_000
    assert sc.epochs == 3_650
    assert sc.tokenomics.emission.without_contributors == "stakers"
    assert sc.description  # says what it answers


def test_no_datanet_validates_without_data_roles() -> None:
    sc = Scenario(datanets=(), population={**{k.split(".")[1]: 0 for k in NO_DATA_ROLES}})
    assert sc.datanets == ()


@pytest.mark.parametrize("path", DATA_ROLE_COUNTS)
def test_a_data_role_without_a_datanet_is_refused_at_its_field(path: tuple[str, ...]) -> None:
    population: dict[str, Any] = {"providers": 0, "builders": 0, "consumers": 0}
    section = population
    for key in path[:-1]:
        section = section.setdefault(key, {})
    section[path[-1]] = 3
    with pytest.raises(ValidationError) as err:
        Scenario(datanets=(), population=population)
    cause = err.value.errors()[0]["ctx"]["error"]
    assert isinstance(cause, SchemaConsistencyError)
    assert [p for p, _ in cause.problems] == [("population", *path)]
    assert "need a datanet" in str(cause)


def test_the_routing_field_keeps_across_emission_kinds() -> None:
    sc = small(**{"tokenomics.emission": {"kind": "constant", "without_contributors": "holders"}})
    assert sc.tokenomics.emission.without_contributors == "holders"
    assert Scenario().tokenomics.emission.without_contributors == "auto"


# ----------------------------------------------------------------------------- runs


def test_runs_and_writes_outputs_with_data_kpis_empty(tmp_path: Any) -> None:
    result = run(small(), out=tmp_path / "run")
    ts = result.timeseries
    assert len(ts) == SMALL["epochs"]
    for name in ("timeseries.parquet", "agents.parquet", "summary.json"):
        assert (tmp_path / "run" / name).exists()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["epochs"] == SMALL["epochs"]
    assert (ts["points_submitted"] == 0).all() and (ts["inferences"] == 0).all()
    assert ts["accuracy"].isna().all() and ts["spearman"].isna().all()
    assert (ts["price_usd"] > 0).all() and (ts["sold_tokens"] > 0).any()
    assert ts["unlocked_tokens"].sum() > 0


class Spy:
    """Wraps ``reward.route_emission`` to record, each epoch, the stakes and liquid
    balances it saw and what it paid."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[np.ndarray, np.ndarray, RoutedEmission]] = []
        original = reward.route_emission

        def spy(emitted: float, routing: str, accounts: Accounts) -> RoutedEmission:
            led = accounts.ledger
            staked, balance = led.staked.copy(), led.balance.copy()
            out = original(emitted, routing, accounts)
            self.calls.append((staked, balance, out))
            return out

        monkeypatch.setattr(reward, "route_emission", spy)


def test_stakers_receive_the_drip_pro_rata_to_stake_and_nothing_is_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sc = small()
    spy = Spy(monkeypatch)
    model = stepped(sc)  # check=True: the ledger's full invariant after every epoch
    ts = model.timeseries()
    drip = sc.tokenomics.emission.tokens_per_epoch
    np.testing.assert_allclose(ts["emission_tokens"], drip, rtol=0)
    np.testing.assert_allclose(ts["emission_routed_tokens"], drip, rtol=1e-12)
    assert (ts["rewards_tokens"] == 0).all()  # nobody earned an attribution reward
    # the drip leaves the reward pool for the market: the float's growth shows it
    np.testing.assert_array_equal(
        ts["market_float_growth_rewards_tokens"], ts["emission_routed_tokens"]
    )
    assert (model.accounts.cols.reward_tokens == 0).all()
    assert len(spy.calls) == sc.epochs
    for staked, _, out in spy.calls:
        np.testing.assert_allclose(out.paid_tokens, drip * staked / staked.sum(), rtol=1e-9)
        assert out.recipients == int(np.count_nonzero(staked))
    pool = model.ledger.balance[model.accounts.protocol.reward_pool]
    unlocked = model.vesting.unlocked_tokens[0]  # the community bucket, minus what it paid
    assert pool == pytest.approx(unlocked - drip * sc.epochs, rel=1e-12)


def test_holders_routing_pays_by_liquid_balance(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    model = stepped(small(**{"tokenomics.emission.without_contributors": "holders"}))
    role = model.accounts.cols.role
    for _, balance, out in spy.calls:
        n = balance.size
        liquid = np.where(role[:n] != 0, balance, 0.0)  # individuals only, not the pool
        expected = min(20_000.0, balance[model.accounts.protocol.reward_pool])
        np.testing.assert_allclose(out.paid_tokens, expected * liquid / liquid.sum(), rtol=1e-9)
    paid_outside = [out.paid_tokens[model.accounts.protocol.outside] for _, _, out in spy.calls]
    assert paid_outside == [0.0] * len(spy.calls)


def test_auto_routing_goes_to_holders_when_nobody_stakes(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    auto = {"tokenomics.emission.without_contributors": "auto", "epochs": 3}
    stepped(small(**auto))
    stepped(small(**auto, **{"tokenomics.staking.initial_staked_fraction": 0.0}))
    (staked_world, unstaked_world) = spy.calls[:3], spy.calls[3:]
    for staked, _, out in staked_world:
        assert ((out.paid_tokens > 0) == (staked > 0)).all()
    for staked, balance, out in unstaked_world:
        assert not staked.any()
        assert out.total_tokens == pytest.approx(20_000.0, rel=1e-12)
        assert out.paid_tokens[balance > 0].size > 0
        assert out.recipients == int(np.count_nonzero(out.paid_tokens))


def test_reward_pool_routing_keeps_the_drip_in_the_pool() -> None:
    model = stepped(small(**{"tokenomics.emission.without_contributors": "reward_pool"}))
    ts = model.timeseries()
    assert (ts["rewards_tokens"] == 0).all() and (ts["emission_routed_tokens"] == 0).all()
    assert (ts["payout_recipients"] == 0).all()
    pool = model.ledger.balance[model.accounts.protocol.reward_pool]
    assert pool == pytest.approx(model.vesting.unlocked_tokens[0], rel=1e-12)


def test_minted_emission_without_contributors_is_minted_and_paid() -> None:
    sc = small(**{"tokenomics.emission": {"kind": "constant", "tokens_per_epoch": 250.0}})
    model = stepped(sc)
    ts = model.timeseries()
    assert model.ledger.minted == pytest.approx(sc.tokenomics.total_supply_tokens + 250.0 * 40)
    np.testing.assert_allclose(ts["emission_routed_tokens"], 250.0, rtol=1e-12)
    pool = model.ledger.balance[model.accounts.protocol.reward_pool]
    assert pool == pytest.approx(model.vesting.unlocked_tokens[0], rel=1e-12)


def test_a_world_with_datanets_but_no_contributor_routes_the_emission() -> None:
    sc = resolve_scenario(
        "baseline", {"epochs": 3, "population.providers": 0, "population.churn.enabled": False}
    )
    model = stepped(sc)
    ts = model.timeseries()
    assert (ts["emission_tokens"] > 0).all()
    np.testing.assert_allclose(ts["emission_routed_tokens"], ts["emission_tokens"], rtol=1e-12)
    assert (ts["rewards_tokens"] == 0).all()


def test_same_seed_same_run_and_a_shorter_run_is_a_prefix() -> None:
    a = stepped(small(epochs=25), check=False).timeseries()
    b = stepped(small(), check=False).timeseries()
    c = stepped(small(), check=False).timeseries()
    assert b.equals(c)
    assert a.equals(b.iloc[:25].reset_index(drop=True))


# ----------------------------------------------------------------------------- routing unit


def _world(balances: list[float], stakes: list[float], pool: float) -> Accounts:
    """A registry with the protocol accounts and one holder per entry."""
    acc = Accounts(Ledger(capacity=8, journal=False))
    n = len(balances)
    ids = acc.register(n, role="holders", adversary=False, rows=np.arange(n))
    led = acc.ledger
    led.mint_many(ids, np.asarray(balances) + np.asarray(stakes))
    led.stake_many(ids, np.asarray(stakes))
    if pool:
        led.mint(acc.protocol.reward_pool, pool)
    return acc


amounts = st.floats(0.0, 1e9, allow_nan=False, allow_subnormal=False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(amounts, amounts), min_size=1, max_size=30),
    st.floats(0.0, 1e9, allow_nan=False, allow_subnormal=False),
    st.floats(0.0, 2e9, allow_nan=False, allow_subnormal=False),
    st.sampled_from(["stakers", "holders", "auto"]),
)
def test_routing_is_pro_rata_and_conserves_tokens(
    holdings: list[tuple[float, float]], emitted: float, pool: float, routing: str
) -> None:
    acc = _world([b for b, _ in holdings], [s for _, s in holdings], pool)
    led = acc.ledger
    before = led.balance.copy()
    weights = led.staked.copy() if routing == "stakers" else None
    if routing == "auto":
        weights = led.staked.copy() if led.staked.any() else None
    if weights is None:
        weights = np.where(acc.cols.role[: led.n_accounts] != 0, before, 0.0)
    out = route_emission(emitted, routing, acc)
    led.check_invariants()
    pool_id = acc.protocol.reward_pool
    assert led.balance[pool_id] == pytest.approx(before[pool_id] - out.total_tokens, abs=1e-6)
    others = np.arange(before.size) != pool_id
    gained = out.paid_tokens[others] if out.paid_tokens.size else 0.0
    np.testing.assert_allclose(led.balance[others], before[others] + gained, rtol=1e-15)
    expected = min(emitted, pool) if weights.sum() > 0 else 0.0
    assert out.total_tokens == pytest.approx(expected, rel=1e-9, abs=1e-9)
    if expected > 0:
        paid = out.paid_tokens
        np.testing.assert_allclose(paid, expected * weights / weights.sum(), rtol=1e-9, atol=1e-9)
        assert (paid[weights == 0] == 0).all()
    assert out.recipients == int(np.count_nonzero(out.paid_tokens))
    assert (acc.cols.reward_tokens == 0).all()  # not an attribution reward


# ----------------------------------------------------------------------------- radCAD peer


def test_the_radcad_peer_computes_the_same_world() -> None:
    pytest.importorskip("radcad")
    from benchmarks import bench_tokenomics as bench

    for extra in ({}, {"tokenomics.emission.without_contributors": "holders"}):
        sc = small(**extra)
        _, lab = bench.run_ledgerlab(sc)
        _, cad = bench.run_radcad(sc)
        assert bench.compare(lab, cad) == []
        assert (np.diff(lab["price_usd"]) != 0).all()  # a market that moves, not a flat one


def test_the_benchmark_runs_and_checks_its_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("radcad")
    from benchmarks import bench_tokenomics as bench

    assert bench.main(["--epochs", "20", "--repeats", "1", "--idle-epochs", "5"]) == 0
    out = capsys.readouterr().out
    assert "equal to rtol 1e-9  PASS" in out
    for line in ("ledgerlab", "radCAD", "ratio", "fixed cost", "by phase"):
        assert line in out
