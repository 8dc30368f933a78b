"""A hypothesis property test: random *valid* scenarios, run with the ledger's full
invariant check every epoch (DESIGN.md, "Reliability").

Scenarios are drawn from the schema's own ranges (``scenarios/schema.py``): every role with
0–20 individuals, at most 15 epochs, every emission kind, every attribution engine, every
defence kind, and market values at and near their legal bounds (pool liquidity, prices,
order flow, fees, stakes, emission). Each example stays small — it is the range of the
values, not the size of the world, that finds bugs. They are built as plain dicts and
validated with :func:`ledgerlab.scenarios.apply_overrides`.

Properties: the only exceptions are documented user errors (``ScenarioError`` at
validation, ``ModelSetupError`` at setup — anything else, and anything raised while
stepping, is a bug); after every epoch the AMM's reserves are positive and its token
reserve is the AMM account's ledger balance; stock columns are finite, ``price_usd > 0``
and ``supply_tokens == minted_tokens − burned_tokens``.

Every failure found while building this became a plain regression test in
``tests/sim/test_extremes.py``. Legal values the model cannot represent are refused at
setup with a ``ModelSetupError`` naming the fields (an AMM whose k = tokens × USD is below
``sim.model.MIN_POOL_K``; an order-flow trend beyond ``sim.model.MAX_FLOW_TREND_USD``):
the strategies draw them, and they are candidates for schema bounds. The strategies keep
away from a few legal corners only to stay fast, each with a comment: logistic models
with refitting engines, very well separated classes, large per-individual rates.
:func:`fit_pool` sizes the AMM for the drawn world most of the time, as a user would, so
that most examples get past the schema's cross-field checks.

In CI (``CI`` set) hypothesis is derandomised by the ``ci`` profile of
``tests/conftest.py``: the same examples every run. ``max_examples`` is sized for about a
minute on one core; marked ``slow`` (``-m "not slow"`` skips it locally).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from ledgerlab.scenarios import Scenario, ScenarioError, apply_overrides
from ledgerlab.sim.model import EconomyModel, ModelSetupError
from tests.sim.test_extremes import STOCKS

MAX_TOKENS = 1e15
MAX_USD = 1e13

DEFENCE_KINDS = (
    "stake_slash",
    "reputation",
    "dedup",
    "quality_filter",
    "sybil_graph",
    "rate_limit",
    "wash_guard",
    "validator_vote",
)
EXPENSIVE_ENGINES = ("loo", "tmc_shapley", "banzhaf", "influence")
KNN_HERE = ("knn_shapley", "loo", "tmc_shapley", "banzhaf")
ENGINES = (
    "uniform",
    "volume",
    "retrieval",
    "loo",
    "knn_shapley",
    "tmc_shapley",
    "banzhaf",
    "influence",
)


def extreme(lo: float, hi: float, *, lo_open: bool = False) -> st.SearchStrategy[float]:
    """A float in [lo, hi] (``(lo, hi]`` with ``lo_open``), often exactly at a bound or
    spread over orders of magnitude (log-uniform), sometimes anywhere in between."""
    bounds = [hi] if lo_open else [lo, hi]
    low = max(lo, 1e-12) if lo_open or lo <= 0 else lo
    log_spread = st.floats(np.log10(low), np.log10(hi)).map(lambda e: float(min(10.0**e, hi)))
    return st.one_of(
        st.sampled_from(bounds),
        log_spread,
        st.floats(lo, hi, exclude_min=lo_open, allow_nan=False, allow_infinity=False),
    )


def mostly_moderate(hi: float) -> st.SearchStrategy[float]:
    """A float in [0, hi], seven times in eight below 1e6 (e.g. stakes: the schema allows
    1e15 each, which a treasury can rarely fund for twenty stakers: refused, drawn less)."""
    moderate = extreme(0.0, 1e6)
    return st.one_of(*[moderate] * 7, extreme(0.0, hi))


def counts(hi: int = 20) -> st.SearchStrategy[int]:
    """Individuals of one role: 0–``hi``, often 0 or 1."""
    return st.one_of(st.sampled_from([0, 1]), st.integers(0, hi))


@st.composite
def populations(draw: st.DrawFn, n_classes: int, n_features: int) -> dict[str, Any]:
    """``population``: every role 0–20 individuals, extreme stakes and budgets."""
    quality = draw(
        st.one_of(
            st.builds(
                lambda a, b: {"kind": "beta", "a": a, "b": b},
                extreme(0.0, 10_000, lo_open=True),
                extreme(0.0, 10_000, lo_open=True),
            ),
            st.just({"kind": "mean_spread", "mean": 0.7, "spread": 0.1}),
        )
    )
    # Per-individual rates (submissions, points, inferences) stay small: they set the
    # size of the world, which is not under test here (the schema's size estimate is).
    return {
        "providers": draw(counts()),
        "provider_quality": quality,
        "provider_submissions_per_epoch": draw(extreme(0.0, 1.0)),
        "provider_points_per_submission": draw(st.integers(1, 5)),
        "provider_cost_usd_per_point": draw(extreme(0.0, MAX_USD)),
        "builders": draw(counts()),
        "builder_stake_tokens": draw(mostly_moderate(MAX_TOKENS)),
        "consumers": draw(counts()),
        "consumer_inferences_per_epoch": draw(extreme(0.0, 200.0)),
        "consumer_budget_usd_per_epoch": draw(extreme(0.0, MAX_USD)),
        "consumer_price_weight_per_usd": draw(extreme(0.0, 1e6)),
        "consumer_choice_temperature": draw(extreme(0.0, 100.0, lo_open=True)),
        "validators": draw(counts()),
        "validator_stake_tokens": draw(mostly_moderate(MAX_TOKENS)),
        "validator_colluding_fraction": draw(extreme(0.0, 1.0)),
        "farmers": draw(farmers()),
        "poisoners": draw(poisoners(n_classes, n_features)),
        "churn": {
            "enabled": draw(st.booleans()),
            "lookback_epochs": draw(st.integers(1, 5)),
            "exit_below_return_on_cost": draw(extreme(-1.0, 1_000.0)),
            "entry_rate_per_epoch": draw(extreme(0.0, 1.0)),
        },
    }


@st.composite
def farmers(draw: st.DrawFn) -> dict[str, Any]:
    """``population.farmers``: every strategy, extreme sybil funding."""
    return {
        "duplicate": draw(counts()),
        "near_duplicate": draw(counts()),
        "near_duplicate_jitter": draw(extreme(0.0, 1_000.0, lo_open=True)),
        "sybil_operators": draw(counts(3)),
        "identities_per_operator": draw(st.integers(1, 6)),
        "sybil_funding_tokens": draw(extreme(0.0, MAX_TOKENS)),
        "sybil_content": draw(st.sampled_from(["duplicate", "near_duplicate", "fresh"])),
        "wash": draw(counts()),
        "wash_inferences_per_epoch": draw(extreme(0.0, 200.0)),
        "submissions_per_epoch": draw(extreme(0.0, 1.0)),
        "points_per_submission": draw(st.integers(1, 5)),
        "cost_usd_per_point": draw(extreme(0.0, MAX_USD)),
    }


@st.composite
def poisoners(draw: st.DrawFn, n_classes: int, n_features: int) -> dict[str, Any]:
    """``population.poisoners``: every strategy; classes and trigger features that exist."""
    return {
        "label_flip": draw(counts()),
        "label_flip_targeted": draw(st.booleans()),
        "label_flip_target_class": draw(st.integers(0, n_classes - 1)),
        "backdoor": draw(counts()),
        "backdoor_trigger_features": draw(
            st.lists(st.integers(0, n_features - 1), min_size=1, max_size=3, unique=True)
        ),
        "backdoor_trigger_value": draw(extreme(-1e6, 1e6)),
        "backdoor_target_class": draw(st.integers(0, n_classes - 1)),
        "noise": draw(counts()),
        "noise_scale": draw(extreme(0.0, 1e6, lo_open=True)),
        "submissions_per_epoch": draw(extreme(0.0, 1.0)),
        "points_per_submission": draw(st.integers(1, 5)),
        "cost_usd_per_point": draw(extreme(0.0, MAX_USD)),
    }


moderate_pricing = st.fixed_dictionaries(
    {
        "tokens_in": st.sampled_from([0, 500]),
        "tokens_out": st.sampled_from([0, 200]),
        "rate_in_per_1k": extreme(0.0, 1.0),
        "rate_out_per_1k": extreme(0.0, 1.0),
        "platform_fee_tokens": extreme(0.0, 1.0),
    }
)
extreme_pricing = st.fixed_dictionaries(
    {
        "tokens_in": st.sampled_from([0, 500, 100_000_000]),
        "tokens_out": st.sampled_from([0, 200, 100_000_000]),
        "rate_in_per_1k": extreme(0.0, 1e9),
        "rate_out_per_1k": extreme(0.0, 1e9),
        "platform_fee_tokens": extreme(0.0, 1e9),
    }
)
"""Inference pricing: ordinary fees two times in three, fees up to the schema's bounds
(2e14 tokens per inference) otherwise — which the schema's AMM-size check refuses as soon
as anyone buys inferences, so they run in worlds without consumers."""


@st.composite
def datanets(draw: st.DrawFn, n_classes: int, n_features: int, engine: str) -> list[dict[str, Any]]:
    """One or two small datanets (tens of points), extreme pricing. The engines that refit
    a model per point (``loo``, ``tmc_shapley``, ``banzhaf``, ``influence``) get a training
    window, so an example stays fast."""
    windows = [10, 60] if engine in EXPENSIVE_ENGINES else [0, 10, 60]
    # knn_shapley needs kNN (the schema says so); loo, tmc_shapley and banzhaf would refit
    # a logistic model per point. A logistic fit costs 2-200 ms (L-BFGS iterations, slow
    # with multi-threaded BLAS on tiny problems): one datanet in four is logistic here.
    models = ["knn"] if engine in KNN_HERE else ["knn", "knn", "knn", "logistic"]
    out = []
    for i in range(draw(st.integers(1, 2))):
        out.append(
            {
                "name": f"d{i}",
                "n_classes": n_classes,
                "n_features": n_features,
                # well-separated classes make logistic fits run to their iteration cap
                "class_separation": draw(extreme(0.0, 10.0, lo_open=True)),
                "seed_points": draw(st.integers(0, 40)),
                "validation_points": 30,
                "ground_truth_points": 40,
                "model": draw(st.sampled_from(models)),
                "k": draw(st.integers(1, 8)),
                "retrain_every_epochs": draw(st.integers(1, 4)),
                "window_points": draw(st.sampled_from(windows)),
                "pricing": draw(st.one_of(moderate_pricing, moderate_pricing, extreme_pricing)),
            }
        )
    return out


@st.composite
def emissions(draw: st.DrawFn) -> dict[str, Any]:
    """Every emission kind, rates up to the schema's 1e15 tokens per epoch."""
    rate = extreme(0.0, MAX_TOKENS)
    cap = st.one_of(st.none(), extreme(0.0, MAX_TOKENS))
    kind = draw(
        st.sampled_from(
            [
                "constant",
                "linear_decay",
                "exponential_decay",
                "halving",
                "supply_halving",
                "table",
                "pool_drip",
            ]
        )
    )
    if kind == "constant":
        return {"kind": kind, "tokens_per_epoch": draw(rate), "cap_tokens": draw(cap)}
    if kind == "linear_decay":
        return {
            "kind": kind,
            "initial_tokens_per_epoch": draw(rate),
            "final_tokens_per_epoch": draw(rate),
            "decay_epochs": draw(st.integers(1, 20)),
            "cap_tokens": draw(cap),
        }
    if kind in ("exponential_decay", "halving"):
        period = "half_life_epochs" if kind == "exponential_decay" else "halving_interval_epochs"
        return {
            "kind": kind,
            "initial_tokens_per_epoch": draw(rate),
            period: draw(extreme(0.0, 1e7, lo_open=True)),
            "cap_tokens": draw(cap),
        }
    if kind == "supply_halving":
        return {
            "kind": kind,
            "initial_tokens_per_epoch": draw(rate),
            "cap_tokens": draw(extreme(0.0, MAX_TOKENS, lo_open=True)),
        }
    if kind == "table":
        starts = sorted(draw(st.sets(st.integers(1, 14), max_size=3)))
        steps = [{"start_epoch": e, "tokens_per_epoch": draw(rate)} for e in [0, *starts]]
        return {"kind": kind, "steps": steps, "cap_tokens": draw(cap)}
    return {"kind": kind, "pool_bucket": "community", "tokens_per_epoch": draw(rate)}


@st.composite
def tokenomics(draw: st.DrawFn) -> dict[str, Any]:
    """Supply, the default vesting (a community pool, investors, team, liquidity) with
    extreme launch unlocks, every emission kind, a random fee split, extreme selling."""
    shares = draw(st.lists(st.integers(1, 100), min_size=4, max_size=4))
    total = sum(shares)
    vesting = [
        {
            "name": name,
            "share": s / total,
            "tge_fraction": draw(st.sampled_from([0.0, 0.5, 1.0])) if name != "liquidity" else 1.0,
            "cliff_epochs": draw(st.sampled_from([0.0, 3.0])),
            "linear_epochs": draw(st.sampled_from([0.0, 5.0, 1e7])),
            "recipient": recipient,
            "holders": holders,
        }
        for (name, recipient, holders), s in zip(
            [
                ("community", "reward_pool", 0),
                ("investors", "holders", draw(st.integers(1, 20))),
                ("team", "holders", draw(st.integers(1, 20))),
                ("liquidity", "liquidity", 0),
            ],
            shares,
            strict=True,
        )
    ]
    vesting[-1]["share"] = 1.0 - sum(v["share"] for v in vesting[:-1])
    split = np.array(draw(st.lists(st.integers(0, 10), min_size=4, max_size=4)), float) + 1e-3
    split /= split.sum()
    groups = ["investors", "team", "providers", "builders", "validators", "farmers", "poisoners"]
    policies = [
        {
            "holder": g,
            "fraction_per_epoch": draw(extreme(0.0, 1.0)),
            "min_price_usd": draw(st.sampled_from([0.0, 1e-6, MAX_USD])),
        }
        for g in draw(st.lists(st.sampled_from(groups), unique=True, max_size=4))
    ]
    return {
        "total_supply_tokens": draw(extreme(0.0, MAX_TOKENS, lo_open=True)),
        "vesting": vesting,
        "emission": draw(emissions()),
        "fee_split": dict(
            zip(("builder", "stakers", "contributors", "burn"), split.tolist(), strict=True)
        ),
        "staking": {"initial_staked_fraction": draw(extreme(0.0, 1.0))},
        "sell_policies": policies,
    }


@st.composite
def markets(draw: st.DrawFn, epochs: int) -> dict[str, Any]:
    """The AMM and the exogenous order flow at and near their bounds (the pool's size is
    then often fitted to the world by :func:`fit_pool`)."""
    shocks = [
        {
            "epoch": draw(st.integers(0, epochs + 2)),
            "multiplier": draw(extreme(0.0, 1e6)),
            "net_usd": draw(
                st.one_of(extreme(0.0, MAX_USD), extreme(0.0, MAX_USD).map(lambda v: -v))
            ),
        }
        for _ in range(draw(st.integers(0, 3)))
    ]
    return {
        "initial_price_usd": draw(extreme(0.0, 1e9, lo_open=True)),
        "pool_liquidity_usd": draw(extreme(0.0, MAX_USD, lo_open=True)),
        "amm_fee": draw(extreme(0.0, 0.1)),
        "order_flow": {
            "mean_usd_per_epoch": draw(extreme(0.0, MAX_USD)),
            "growth_per_epoch": draw(extreme(-1.0, 1.0)),
            "volatility": draw(extreme(0.0, 10.0)),
            "sell_share": draw(extreme(0.0, 1.0)),
            "persistent": draw(st.booleans()),
            "shocks": shocks,
        },
    }


def fit_pool(data: dict[str, Any], margin: float) -> None:
    """Size the AMM for the world in ``data`` (in place), as a user would: a pool holding
    ``margin`` times the tokens the population buys at launch (sybil funding, wash fees,
    consumers' first inferences; the schema refuses a pool smaller than that), and a
    genesis supply whose liquidity bucket can seed it (setup refuses a pool the bucket
    cannot fill). Both stay within the schema's bounds: an extreme world may still be
    refused, which the test accepts."""
    pop, mk = data["population"], data["market"]
    fee = 1.2 * max(
        p["tokens_in"] / 1000 * p["rate_in_per_1k"]
        + p["tokens_out"] / 1000 * p["rate_out_per_1k"]
        + p["platform_fee_tokens"]
        for p in (d["pricing"] for d in data["datanets"])
    )
    price = mk["initial_price_usd"]
    wanted = pop["consumers"] * pop["consumer_inferences_per_epoch"] * fee
    budget = pop["consumers"] * pop["consumer_budget_usd_per_epoch"]
    f = pop["farmers"]
    launch = (
        f["sybil_operators"] * f["identities_per_operator"] * f["sybil_funding_tokens"]
        + f["wash"] * f["wash_inferences_per_epoch"] * fee
        + min(wanted, budget / price)
    )
    need_usd = max(margin * launch * price, margin * np.sqrt(wanted * budget * price))
    liquidity = min(max(mk["pool_liquidity_usd"], need_usd), MAX_USD)
    mk["pool_liquidity_usd"] = liquidity
    tk = data["tokenomics"]
    share = next(b["share"] for b in tk["vesting"] if b["name"] == "liquidity")
    stakes = (
        pop["builders"] * pop["builder_stake_tokens"]
        + pop["validators"] * pop["validator_stake_tokens"]
    )
    need_supply = (2.0 * liquidity / price + 1.1 * stakes) / share
    tk["total_supply_tokens"] = min(max(tk["total_supply_tokens"], need_supply), MAX_TOKENS)


@st.composite
def defences(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A subset of the defence kinds (each at most once), with extreme parameters."""
    kinds = draw(st.lists(st.sampled_from(DEFENCE_KINDS), unique=True, max_size=4))
    params: dict[str, dict[str, Any]] = {
        "stake_slash": {
            "bond_base_tokens": draw(extreme(0.0, MAX_TOKENS)),
            "bond_per_point_tokens": draw(extreme(0.0, MAX_TOKENS)),
            "challenge_window_epochs": draw(st.integers(0, 3)),
            "slash_fraction": draw(extreme(0.0, 1.0)),
            "slash_to": draw(st.sampled_from(["burn", "treasury"])),
        },
        "reputation": {"decay": draw(st.sampled_from([0.0, 0.9])), "gamma": draw(extreme(0, 100))},
        "dedup": {"near_duplicate_distance": draw(extreme(0.0, 1e6))},
        "quality_filter": {"knn_k": 3, "min_reference_points": draw(st.integers(3, 40))},
        "sybil_graph": {
            "method": draw(st.sampled_from(["sybilrank", "clusters"])),
            "every_epochs": draw(st.integers(1, 3)),
            "discount": draw(st.sampled_from(["one_identity", 0.0, 0.5])),
        },
        "rate_limit": {"max_submissions_per_epoch": draw(st.integers(1, 3))},
        "wash_guard": {"multiplier": draw(extreme(0.0, 1e6, lo_open=True))},
        "validator_vote": {"noise_std": draw(extreme(0.0, 100.0))},
    }
    return [{"kind": k, **params[k]} for k in kinds]


@st.composite
def chains(draw: st.DrawFn) -> dict[str, Any]:
    """The chain: block times that divide every drawn epoch length (0.5, 1 or 7 days),
    capacities from one transaction per block up, fee-market parameters at their bounds
    (the base fee at most the chain model's ceiling of 1,000 tokens)."""
    base_fee = draw(extreme(1e-9, 1_000.0))
    return {
        "enabled": draw(st.booleans()),
        "block_time_seconds": draw(st.sampled_from([1.0, 2.0, 5.0, 3_600.0])),
        "block_capacity_tx": draw(st.sampled_from([1, 1_000, 100_000_000])),
        "initial_base_fee_tokens": base_fee,
        "min_base_fee_tokens": draw(st.sampled_from([0.0, base_fee])),
        "base_fee_max_change": draw(st.sampled_from([1e-9, 0.125, 0.999])),
        "target_fullness": draw(st.sampled_from([1e-9, 0.5, 1.0])),
        "tip_tokens": draw(extreme(0.0, 1e6)),
        "payout_policy": draw(st.sampled_from(["stream", "batch"])),
        "max_events_per_epoch": draw(st.sampled_from([1, 100])),
    }


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A whole scenario as plain data (sections as dicts)."""
    epochs = draw(st.integers(1, 15))
    n_classes = draw(st.integers(2, 4))
    n_features = draw(st.integers(1, 5))
    engine = draw(st.sampled_from(ENGINES))
    data = {
        "seed": draw(st.integers(0, 2**63 - 1)),
        "epochs": epochs,
        "epoch_days": draw(st.sampled_from([1.0, 7.0, 0.5])),
        "population": draw(populations(n_classes, n_features)),
        "datanets": draw(datanets(n_classes, n_features, engine)),
        "tokenomics": draw(tokenomics()),
        "market": draw(markets(epochs)),
        "chain": draw(chains()),
        "attribution": {
            "engine": engine,
            "every_epochs": draw(st.integers(3 if engine == "influence" else 1, 4)),
            "k": draw(st.integers(1, 8)),
            "budget": draw(st.integers(1, 8)),
            "test_points": draw(st.integers(1, 30)),
            "max_queries_per_model": draw(st.integers(1, 64)),
            "trail_every_epochs": draw(st.integers(1, 3)),
            "retrieval_weights": draw(st.sampled_from(["equal", "inverse_distance"])),
            "ground_truth": {
                "every_epochs": draw(st.integers(0, 4)),
                "k": draw(st.integers(1, 8)),
                "validation_points": draw(st.integers(1, 40)),
            },
        },
        "defenses": draw(defences()),
        "collect": {
            "metrics_every_epochs": draw(st.integers(1, 4)),
            "agent_snapshot_every_epochs": draw(st.integers(0, 5)),
        },
    }
    if any(d["kind"] == "validator_vote" for d in data["defenses"]):
        data["population"]["validators"] = max(data["population"]["validators"], 1)
    margin = draw(st.sampled_from([0.0, 5.0, 5.0, 5.0, 1e3]))  # 0: the pool as drawn
    fit_pool(data, margin)
    return data


def build(data: dict[str, Any]) -> Scenario | None:
    """The validated scenario, or None when the schema refuses it (a documented user
    error: ``ScenarioError``)."""
    try:
        return apply_overrides(Scenario(), data)
    except ScenarioError:
        event("refused by the schema (ScenarioError)")
        return None


def simulate(scenario: Scenario) -> EconomyModel | None:
    """Set the model up and run every epoch with the full ledger check, asserting the
    AMM's state after each; None when setup refuses the scenario (``ModelSetupError``)."""
    try:
        model = EconomyModel(scenario, check=True)
    except ModelSetupError as error:
        event("refused at setup (ModelSetupError)")
        note(f"ModelSetupError: {error}")
        return None
    while model.running:
        model.step()  # any exception here is a bug
        pool = model.exchange.pool
        assert pool.token_reserve_tokens > 0 and pool.cash_reserve_usd > 0
        assert np.isfinite(pool.token_reserve_tokens) and np.isfinite(pool.cash_reserve_usd)
        assert pool.token_reserve_tokens == float(model.ledger.balance[model.accounts.protocol.amm])
    return model


@pytest.mark.slow
@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=scenarios())
def test_random_valid_scenarios_keep_every_invariant(data: dict[str, Any]) -> None:
    """Only documented user errors; finite stocks, a positive price and positive AMM
    reserves in every row; supply = minted − burned; the ledger's full check each epoch."""
    scenario = build(data)
    if scenario is None:
        return
    model = simulate(scenario)
    if model is None:
        return
    event("ran")
    ts = model.timeseries()
    assert np.isfinite(ts[list(STOCKS)].to_numpy()).all()
    assert (ts["price_usd"] > 0).all()
    assert (ts["amm_token_reserve"] > 0).all() and (ts["amm_cash_reserve_usd"] > 0).all()
    np.testing.assert_allclose(
        ts["supply_tokens"], ts["minted_tokens"] - ts["burned_tokens"], rtol=1e-9
    )
