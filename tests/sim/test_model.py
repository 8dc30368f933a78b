"""Tests of the Mesa economy model (``sim.model.EconomyModel``).

Every run here is tiny (tens of individuals, 5-15 epochs) so the whole file stays fast;
the full ledger invariant check runs at the end of every epoch (``check=True``).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mesa
import numpy as np
import pandas as pd
import pytest

from ledgerlab.agents.base import ROLE_NAMES, RoleSet
from ledgerlab.economics.ledger import Ledger
from ledgerlab.scenarios import Scenario, ScenarioError, apply_overrides
from ledgerlab.sim.kpis import KPI_NAMES, SIGNED_KPIS
from ledgerlab.sim.model import EconomyModel, ModelSetupError
from tests.conftest import ROOT, TINY_OVERRIDES

Factory = Callable[..., EconomyModel]

PHASES = (
    ("market", "unlock_and_trade"),
    ("contribute", "submit_and_screen"),
    ("train", "retrain"),
    ("consume", "serve_inferences"),
    ("reward", "attribute_and_pay"),
    ("settle", "settle_transactions"),
    ("churn", "churn_roles"),
    ("collect", "collect"),
)
"""The eight phases of an epoch, in the documented order (DESIGN.md): module of
``sim.phases`` and its entry function."""

CONTRIBUTING = ("providers", "farmers", "wash", "poisoners")
"""Role sets paid by attribution."""

EVERY_ADVERSARY: dict[str, Any] = {
    "population__farmers__duplicate": 2,
    "population__farmers__near_duplicate": 2,
    "population__farmers__sybil_operators": 1,
    "population__farmers__identities_per_operator": 5,
    "population__farmers__wash": 2,
    "population__poisoners__label_flip": 2,
    "population__poisoners__backdoor": 2,
    "population__poisoners__noise": 2,
    "attribution__ground_truth__every_epochs": 5,
}
"""A world with one or two individuals of every adversarial strategy."""

ALL_DEFENCES = [
    {"kind": k}
    for k in (
        "stake_slash",
        "reputation",
        "dedup",
        "quality_filter",
        "sybil_graph",
        "rate_limit",
        "wash_guard",
        "validator_vote",
    )
]


def run_to_end(model: EconomyModel, each: Callable[[EconomyModel], None] | None = None) -> None:
    """Step ``model`` until it stops, calling ``each(model)`` after every epoch."""
    while model.running:
        model.step()
        if each is not None:
            each(model)


def amm_reserve_is_amm_balance(model: EconomyModel) -> None:
    """The AMM's token reserve is exactly what the AMM account holds on the ledger."""
    reserve = model.exchange.pool.token_reserve_tokens
    balance = float(model.ledger.balance[model.accounts.protocol.amm])
    assert reserve == pytest.approx(balance, rel=1e-9, abs=1e-6), f"epoch {model.epoch - 1}"


def assert_consistent(model: EconomyModel) -> None:
    """Cross-checks between the timeseries, the role sets and the account registry."""
    ts = model.timeseries()
    n = model.scenario.epochs
    assert len(ts) == n
    np.testing.assert_array_equal(ts["epoch"].to_numpy(), np.arange(n))
    # Unlocked + locked supply is the whole supply, every epoch.
    np.testing.assert_allclose(
        ts["circulating_tokens"] + ts["locked_tokens"], ts["supply_tokens"], rtol=1e-12
    )
    np.testing.assert_allclose(ts["supply_tokens"], ts["minted_tokens"] - ts["burned_tokens"])
    np.testing.assert_array_equal(
        ts["points_submitted"], ts["points_accepted"] + ts["points_rejected"]
    )
    # Every token paid out went to a contributing role.
    by_role = sum(ts[f"reward_{r}_tokens"] for r in CONTRIBUTING)
    np.testing.assert_allclose(ts["rewards_tokens"], by_role, rtol=1e-9, atol=1e-9)
    total = float(ts["rewards_tokens"].sum())
    assert float(model.accounts.cols.reward_tokens.sum()) == pytest.approx(
        total, rel=1e-9, abs=1e-9
    )
    for role in CONTRIBUTING:
        rs = getattr(model.roles, role)
        col = float(rs.cols.reward_tokens.sum())
        assert col == pytest.approx(float(ts[f"reward_{role}_tokens"].sum()), rel=1e-9, abs=1e-9)
        assert ts[f"active_{role}"].iloc[-1] == rs.n_active
        assert ts[f"{role}_joined"].sum() == len(rs) - rs.founders == rs.joined_total
    # Amounts of tokens and prices are never negative.
    for col in ts.columns:
        if col.endswith(("_tokens", "_usd")) and col not in SIGNED_KPIS:
            assert (ts[col].dropna() >= -1e-9).all(), col
    assert (ts["price_usd"] > 0).all()
    # The account registry maps every individual back to its role set and row.
    for rs in model.roles.all:
        acct = rs.cols.account
        assert (model.accounts.cols.role[acct] == ROLE_NAMES.index(rs.role)).all(), rs.role
        np.testing.assert_array_equal(model.accounts.cols.row[acct], np.arange(len(rs)))
        assert (model.accounts.cols.adversary[acct] == rs.adversary).all(), rs.role
    assert (model.accounts.cols.role[model.accounts.protocol.ids] == 0).all()


def run_checked(
    model: EconomyModel, monkeypatch: pytest.MonkeyPatch
) -> tuple[EconomyModel, list[int]]:
    """Run ``model`` to the end, asserting the AMM reserve after every epoch and counting
    the ledger's full invariant checks (each one raises if an invariant is broken)."""
    calls: list[int] = []
    original = Ledger.check_invariants

    def counting(self: Ledger) -> None:
        calls.append(model.epoch)
        original(self)

    monkeypatch.setattr(Ledger, "check_invariants", counting)
    run_to_end(model, amm_reserve_is_amm_balance)
    return model, calls


# ------------------------------------------------------------------------------ invariants


def test_invariants_hold_every_epoch_of_every_shipped_scenario(
    shipped_scenario_file: Path, tiny: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, calls = run_checked(tiny(shipped_scenario_file), monkeypatch)
    assert calls == list(range(TINY_OVERRIDES["epochs"]))  # the full check, every epoch
    assert_consistent(model)


def test_invariants_hold_every_epoch_of_every_shipped_variant(
    shipped_variant: Scenario, tiny: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, calls = run_checked(tiny(shipped_variant, epochs=12), monkeypatch)
    assert calls == list(range(12))
    assert_consistent(model)


def test_invariants_with_every_adversary_and_every_defence(
    tiny: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, calls = run_checked(tiny(None, defenses=ALL_DEFENCES, **EVERY_ADVERSARY), monkeypatch)
    assert len(calls) == TINY_OVERRIDES["epochs"]
    assert_consistent(model)
    ts = model.timeseries()
    assert ts["points_rejected"].sum() > 0  # the defences did screen something


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"attribution__engine": e, "attribution__budget": 5}, id=e)
        for e in ("uniform", "volume", "loo", "knn_shapley", "tmc_shapley", "banzhaf", "influence")
    ]
    + [
        pytest.param({"chain__enabled": False}, id="no-chain"),
        pytest.param({"chain__payout_policy": "batch"}, id="batch-payouts"),
        pytest.param({"tokenomics__emission__kind": "halving"}, id="halving"),
        pytest.param({"datanets": [{"name": "a"}, {"name": "b", "n_classes": 4}]}, id="2-datanets"),
        pytest.param({"population__validators": 0}, id="no-validators"),
        pytest.param({"population__consumers": 0}, id="no-consumers"),
        pytest.param({"population__builders": 0}, id="no-builders"),
        pytest.param(
            {"datanets": [{"seed_points": 0}], "population__provider_submissions_per_epoch": 0.0},
            id="no-data-at-all",
        ),
        pytest.param({"datanets": [{"seed_points": 0}]}, id="no-seed-points"),
    ],
)
def test_engines_and_edge_worlds_keep_the_invariants(
    overrides: dict[str, Any], tiny: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, calls = run_checked(tiny(None, epochs=8, **overrides), monkeypatch)
    assert len(calls) == 8
    assert_consistent(model)


def test_points_and_fees_are_accounted(tiny: Factory) -> None:
    model = tiny(None)
    run_to_end(model)
    ts = model.timeseries()
    seed = sum(d.seed_points for d in model.scenario.datanets)
    # Without defences nothing leaves a datanet: its points are the seed plus all accepted.
    np.testing.assert_array_equal(ts["datanet_points"], seed + ts["points_accepted"].cumsum())
    last = model.snapshots[-1]
    assert last["points_accepted"].sum() == ts["points_accepted"].sum()
    # The net fee is split builder : stakers : burn in the scenario's proportions.
    split = model.scenario.tokenomics.fee_split
    paying = ts["fees_tokens"] > 0
    assert paying.all()
    np.testing.assert_allclose(
        ts["builder_income_tokens"] / ts["fees_burned_tokens"], split.builder / split.burn
    )
    np.testing.assert_allclose(
        ts["stakers_fees_tokens"] / ts["fees_burned_tokens"], split.stakers / split.burn
    )


@pytest.mark.parametrize("every", [0, 1, 4])
def test_retrieval_trail_credits_the_fees_on_its_cadence(every: int, tiny: Factory) -> None:
    """The trail credits exactly the contributors' share of the fees every epoch; with
    ``trail_every_epochs`` > 1 it re-simulates queries only on its cadence or after a
    retrain (0: only after a retrain), and in between credits each model's fees in its
    last trail's proportions."""
    model = tiny(
        None,
        epochs=14,
        population__builders=1,
        attribution__trail_every_epochs=every,
        datanets__0__retrain_every_epochs=6,
    )
    b = model.roles.builders
    simulated: list[bool] = []
    calls = 0
    real = model.trail.simulate

    def counting(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(*args)

    model.trail.simulate = counting  # type: ignore[method-assign]
    prev_credit: np.ndarray | None = None
    prev_trained = -2
    for _ in range(model.scenario.epochs):
        before = calls
        model.step()
        assert model.flows is not None and model.flows.consumption is not None
        fees = model.flows.consumption.datanets[0]
        credit = fees.credit.copy()
        if b.models[0] is None or credit.sum() == 0:
            prev_credit = None
            continue
        # Every epoch: the credit is the contributor share of this epoch's fees.
        assert credit.sum() == pytest.approx(fees.contributors_tokens, rel=1e-9)
        epoch = model.epoch - 1
        trained = int(b.cols.trained_epoch[0])
        due = every == 1 or (every > 0 and epoch % every == 0) or trained != prev_trained
        simulated.append(calls > before)
        assert (calls > before) == due, (epoch, every, trained, prev_trained)
        if not due and prev_credit is not None:
            n = min(prev_credit.size, credit.size)
            np.testing.assert_allclose(
                credit[:n] / credit.sum(), prev_credit[:n] / prev_credit.sum(), rtol=1e-9
            )
        prev_credit, prev_trained = credit, trained
    assert any(simulated)
    if every > 1:
        assert not all(simulated)


def test_fairness_metrics_are_recorded_on_the_ground_truth_cadence(tiny: Factory) -> None:
    model = tiny(None, attribution__ground_truth__every_epochs=5)
    run_to_end(model)
    ts = model.timeseries()
    valued = set(ts.index[ts["spearman"].notna()])
    assert valued <= {0, 5, 10, 14}
    assert 14 in valued
    assert ts["spearman"].dropna().between(-1, 1).all()
    assert ts["gini_rewards"].dropna().between(0, 1).all()


# ---------------------------------------------------------------------------- determinism


def _outputs(model: EconomyModel) -> tuple[pd.DataFrame, pd.DataFrame]:
    run_to_end(model)
    return model.timeseries(), pd.concat(model.snapshots, ignore_index=True)


def test_same_seed_gives_identical_outputs_and_another_seed_does_not(tiny: Factory) -> None:
    world = {"defenses": ALL_DEFENCES, **EVERY_ADVERSARY}
    ts_a, agents_a = _outputs(tiny(None, check=False, **world))
    ts_b, agents_b = _outputs(tiny(None, check=False, **world))
    pd.testing.assert_frame_equal(ts_a, ts_b, check_exact=True)
    pd.testing.assert_frame_equal(agents_a, agents_b, check_exact=True)
    ts_c, _ = _outputs(tiny(None, check=False, seed=43, **world))
    changed = [c for c in ts_a.columns if not ts_a[c].equals(ts_c[c])]
    assert {"price_usd", "rewards_tokens", "points_submitted"} <= set(changed)


def test_seed_rng_and_scenario_seed_are_the_same_run(tiny: Factory) -> None:
    base = Scenario()
    by_kwarg = tiny(base, check=False, epochs=4, seed=5)
    by_rng = tiny(base, check=False, epochs=4, rng=5)
    by_field = tiny(apply_overrides(base, {"seed": 5}), check=False, epochs=4)
    assert by_kwarg.scenario.seed == by_rng.scenario.seed == by_field.scenario.seed == 5
    ts = [_outputs(m)[0] for m in (by_kwarg, by_rng, by_field)]
    pd.testing.assert_frame_equal(ts[0], ts[1], check_exact=True)
    pd.testing.assert_frame_equal(ts[0], ts[2], check_exact=True)
    gen_a = tiny(base, check=False, epochs=4, rng=np.random.default_rng(9))
    gen_b = tiny(base, check=False, epochs=4, rng=np.random.default_rng(9))
    assert gen_a.scenario.seed == gen_b.scenario.seed  # drawn once from the Generator
    pd.testing.assert_frame_equal(_outputs(gen_a)[0], _outputs(gen_b)[0], check_exact=True)


_CHILD = """
import json, sys
import pandas as pd
from ledgerlab.sim.model import EconomyModel
m = EconomyModel(None, **json.loads(sys.argv[1]))
while m.running:
    m.step()
h = pd.util.hash_pandas_object(m.timeseries(), index=False)
print(json.dumps([int(x) for x in h]))
"""


def test_identical_in_another_process_with_another_hash_seed(tiny: Factory) -> None:
    """Same seed, other interpreter and ``PYTHONHASHSEED``: the same timeseries bits (no
    dependence on set/dict iteration order, e.g. in the sybil funding graph)."""
    world = {**TINY_OVERRIDES, "epochs": 8, "defenses": ALL_DEFENCES, **EVERY_ADVERSARY}
    ts, _ = _outputs(EconomyModel(None, **world))
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(world)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    child = json.loads(done.stdout.strip().splitlines()[-1])
    assert child == [int(x) for x in pd.util.hash_pandas_object(ts, index=False)]


# ------------------------------------------------------------------------------- mesa API


def test_mesa_batch_run_covers_every_combination() -> None:
    rows = mesa.batch_run(
        EconomyModel,
        parameters={"population__providers": [20, 40], "seed": [1, 2], "epochs": [5]},
        max_steps=5,
        number_processes=1,
        display_progress=False,
    )
    frame = pd.DataFrame(rows)
    assert len(frame) == 4
    combos = set(zip(frame["population__providers"], frame["seed"], strict=True))
    assert combos == {(20, 1), (20, 2), (40, 1), (40, 2)}
    assert set(KPI_NAMES) <= set(frame.columns)
    assert (frame["epoch"] == 4).all()  # the last of the 5 epochs
    np.testing.assert_array_equal(frame["active_providers"], frame["population__providers"])
    for _, same_size in frame.groupby("population__providers"):
        assert same_size["price_usd"].nunique() == 2  # the seed matters


def test_mesa_batch_run_with_a_metrics_cadence() -> None:
    """The DataCollector holds one record per epoch (its own values), as ``batch_run``
    expects at any ``data_collection_period``; the cadence applies to ``timeseries()``.
    (With rows only every N epochs, batch_run indexed past the records: IndexError.)"""
    params = {
        "population__providers": [20],
        "population__consumers": [10],
        "epochs": [7],
        "collect__metrics_every_epochs": [3],
    }
    rows = mesa.batch_run(
        EconomyModel,
        parameters=params,
        max_steps=7,
        data_collection_period=1,
        number_processes=1,
        display_progress=False,
    )
    frame = pd.DataFrame(rows)
    assert frame["epoch"].tolist() == list(range(7)) == frame["Step"].tolist()
    model = EconomyModel(None, **{k: v[0] for k, v in params.items()})
    run_to_end(model)
    per_epoch = model.datacollector.get_model_vars_dataframe()
    pd.testing.assert_frame_equal(
        per_epoch.reset_index(drop=True), frame[list(KPI_NAMES)], check_dtype=False
    )
    ts = model.timeseries()
    assert ts["epoch"].tolist() == [0, 3, 6]
    assert ts["inferences"].sum() == per_epoch["inferences"].sum()
    last_only = mesa.batch_run(
        EconomyModel, parameters=params, max_steps=7, number_processes=1, display_progress=False
    )
    assert [r["epoch"] for r in last_only] == [6]


def test_the_model_is_a_few_mesa_agents_one_per_role(tiny: Factory) -> None:
    model = tiny(None, epochs=3)
    assert len(model.agents) == len(model.roles.all) == 8
    assert all(isinstance(a, RoleSet) for a in model.agents)
    assert len({rs.role for rs in model.roles.all}) == 8
    assert {type(rs) for rs in model.roles.all} == set(model.agents_by_type)
    individuals = sum(len(rs) for rs in model.roles.all)
    assert individuals > 10 * len(model.agents)
    run_to_end(model)
    assert model.steps == 3 and model.epoch == 3 and not model.running


def test_kpi_names_are_the_timeseries_columns(tiny: Factory) -> None:
    model = tiny(None, epochs=3)
    run_to_end(model)
    ts = model.timeseries()
    assert len(set(KPI_NAMES)) == len(KPI_NAMES)
    assert list(ts.columns) == list(KPI_NAMES)
    assert ts["epoch"].dtype == np.int64
    assert all(ts[c].dtype == np.float64 for c in KPI_NAMES if c != "epoch")


def test_an_epoch_runs_the_eight_phases_in_order(
    tiny: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledgerlab.sim import phases

    model = tiny(None, epochs=2)
    order: list[str] = []
    for module_name, func_name in PHASES:
        module = importlib.import_module(f"ledgerlab.sim.phases.{module_name}")
        func = getattr(module, func_name)

        def record(*args: Any, func: Any = func, name: str = module_name) -> Any:
            order.append(name)
            return func(*args)

        monkeypatch.setattr(module, func_name, record)
        assert module.__doc__ and len(module.__doc__.split()) > 10, module_name
        assert func.__doc__ and len(func.__doc__.split()) > 5, func_name
    model.step()
    assert tuple(order) == phases.ORDER == tuple(m for m, _ in PHASES)


def test_agent_snapshots_follow_their_cadence(tiny: Factory) -> None:
    model = tiny(None, epochs=12, collect__agent_snapshot_every_epochs=5)
    run_to_end(model)
    assert [int(s["epoch"].iloc[0]) for s in model.snapshots] == [0, 5, 10, 11]
    last = model.snapshots[-1]
    assert len(last) == sum(len(rs) for rs in model.roles.all)
    acct = last["account"].to_numpy()
    np.testing.assert_array_equal(last["balance_tokens"], model.ledger.balance[acct])
    assert not last["account"].duplicated().any()


# ---------------------------------------------------------------------------------- churn


def _epoch_income_and_cost(model: EconomyModel, role: str) -> tuple[np.ndarray, np.ndarray]:
    """This epoch's income (rewards at the epoch price) and production cost per row (USD)."""
    rs = getattr(model.roles, role)
    assert model.flows is not None and model.flows.rewards and model.flows.contribution
    income = model.flows.rewards.paid_tokens[rs.cols.account] * model.exchange.price_usd
    rows, cost = model.flows.contribution.cost_usd[role]
    per_row = np.bincount(rows, weights=cost, minlength=len(rs))
    return income, per_row


@pytest.mark.parametrize("lookback", [1, 4])
def test_churn_moving_averages_take_one_observation_per_epoch(lookback: int, tiny: Factory) -> None:
    """income_ema ← income_ema + α·(income − income_ema) once per epoch, α = 1/lookback
    (ChurnRule.ema_epochs); with lookback 1 the average is this epoch's income."""
    model = tiny(
        None,
        epochs=10,
        population__churn__lookback_epochs=lookback,
        population__churn__entry_rate_per_epoch=0.0,
        population__provider_submissions_per_epoch=1.0,
    )
    p = model.roles.providers
    alpha = 1.0 / lookback
    inc_ema = np.zeros(len(p))
    cost_ema = np.zeros(len(p))
    while model.running:
        active = p.cols.active.copy()
        model.step()
        income, cost = _epoch_income_and_cost(model, "providers")
        inc_ema[active] += alpha * (income[active] - inc_ema[active])
        cost_ema[active] += alpha * (cost[active] - cost_ema[active])
        np.testing.assert_allclose(p.cols.income_ema_usd, inc_ema, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(p.cols.cost_ema_usd, cost_ema, rtol=1e-9, atol=1e-12)


def test_providers_without_production_cost_never_leave(tiny: Factory) -> None:
    """With zero cost the return ratio is never below 1 (the exit threshold is 0.5)."""
    model = tiny(
        None,
        epochs=12,
        population__churn__lookback_epochs=1,
        population__provider_cost_usd_per_point=0.0,
        population__provider_submissions_per_epoch=1.0,
    )
    run_to_end(model)
    ts = model.timeseries()
    assert ts["providers_left"].sum() == 0
    assert model.roles.providers.cols.active.all()
    assert (model.roles.providers.cols.income_usd > 0).sum() >= 10  # and they were paid


def test_providers_whose_income_stays_below_cost_leave_after_the_minimum_age(
    tiny: Factory,
) -> None:
    lookback = 5
    model = tiny(
        None,
        epochs=12,
        population__churn__lookback_epochs=lookback,
        population__churn__entry_rate_per_epoch=0.0,
        population__provider_cost_usd_per_point=1_000.0,
        population__provider_submissions_per_epoch=1.0,
    )
    run_to_end(model)
    ts = model.timeseries()
    assert (ts["providers_left"].iloc[:lookback] == 0).all()  # nobody leaves while young
    assert ts["providers_left"].sum() > 0
    assert ts["active_providers"].iloc[-1] < ts["active_providers"].iloc[0]
    assert (ts["active_providers"].diff().dropna() <= 0).all()
    cols = model.roles.providers.cols
    gone = ~cols.active
    assert gone.sum() == ts["providers_left"].sum()
    assert (cols.left_epoch[gone] - cols.joined_epoch[gone] >= lookback).all()
    assert (cols.cost_usd[gone] > cols.income_usd[gone]).all()
    assert (cols.left_epoch[~gone] == -1).all()


def test_newcomers_join_when_the_return_is_high(tiny: Factory) -> None:
    lookback = 3
    model = tiny(
        None,
        epochs=10,
        population__churn__lookback_epochs=lookback,
        population__churn__entry_rate_per_epoch=0.2,
        population__provider_cost_usd_per_point=0.0,
    )
    run_to_end(model)
    ts = model.timeseries()
    p = model.roles.providers
    founders = TINY_OVERRIDES["population__providers"]
    assert (ts["providers_joined"].iloc[:lookback] == 0).all()  # nobody mature yet
    assert ts["providers_joined"].sum() == len(p) - founders > 0
    assert ts["active_providers"].iloc[-1] > founders
    new = np.arange(founders, len(p))
    assert (p.cols.joined_epoch[new] >= lookback).all()
    assert (model.accounts.cols.role[p.cols.account[new]] == ROLE_NAMES.index("providers")).all()
    # Newcomers receive the onboarding grant from the treasury (a funding-graph edge).
    grants = [
        dst
        for src, dst, _ in model.accounts.funding_edges
        if (src == model.accounts.protocol.treasury).all()
    ]
    funded = np.concatenate(grants)
    assert np.isin(p.cols.account[new], funded).all()


# --------------------------------------------------------------------------------- errors


def test_setup_errors_are_typed_and_say_what_to_change() -> None:
    # Genesis that cannot be funded is refused when the scenario is validated (not at setup).
    with pytest.raises(ScenarioError, match="pool_liquidity_usd: the AMM needs"):
        EconomyModel(None, market__pool_liquidity_usd=1e12)
    with pytest.raises(ScenarioError, match="builder_stake_tokens: builders and validators stake"):
        EconomyModel(None, population__validator_stake_tokens=1e9, population__validators=1000)
    with pytest.raises(ModelSetupError, match="scenario must be"):
        EconomyModel(3)  # type: ignore[arg-type]
    with pytest.raises(ModelSetupError, match="rng must be"):
        EconomyModel(None, rng="seven")
    with pytest.raises(ScenarioError, match="did you mean 'providers'"):
        EconomyModel(None, population__providerz=3)
    with pytest.raises(ScenarioError, match=r"population\.providers"):
        EconomyModel(None, population__providers="many")
    assert issubclass(ModelSetupError, ValueError)


def test_metrics_cadence_sums_flows_and_samples_stocks(tiny: Factory) -> None:
    """Rows every 4 epochs (and after the last) carry the interval's flow sums, so column
    totals match the every-epoch run; stocks are the row epoch's values."""
    from ledgerlab.sim.kpis import FLOW_KPIS, KPI_NAMES

    assert set(KPI_NAMES) >= FLOW_KPIS  # every flow is a column (no misspelt name)

    scen = "sybil_farming"
    path = Path(__file__).resolve().parents[2] / "scenarios" / f"{scen}.yaml"
    every = tiny(path, epochs=15, collect__metrics_every_epochs=1)
    sparse = tiny(path, epochs=15, collect__metrics_every_epochs=4)
    run_to_end(every)
    run_to_end(sparse)
    full, rows = every.timeseries(), sparse.timeseries()
    assert rows["epoch"].tolist() == [0, 4, 8, 12, 14]
    flows = sorted(FLOW_KPIS & set(full.columns))
    assert {"inferences", "rewards_tokens", "emission_tokens"} <= set(flows)
    interval = np.searchsorted(rows["epoch"].to_numpy(), full["epoch"].to_numpy())
    np.testing.assert_allclose(
        rows[flows].to_numpy(), full[flows].groupby(interval).sum(min_count=1).to_numpy()
    )
    at_rows = full.set_index("epoch").loc[rows["epoch"]].reset_index()
    for col in ("supply_tokens", "price_usd", "circulating_tokens", "accuracy"):
        np.testing.assert_array_equal(rows[col].to_numpy(), at_rows[col].to_numpy())
    summary_every, summary_sparse = every.summary(), sparse.summary()
    assert summary_sparse["epochs"] == summary_every["epochs"] == 15
    for key in ("total_rewards_tokens", "total_inferences", "total_points_accepted"):
        assert summary_sparse[key] == pytest.approx(summary_every[key], rel=1e-12)
