"""Tests of ``sim.build``: every economics object is built from its scenario section by
name (one name per parameter from YAML to formula), and the engine registry is the
schema's engine list."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, get_args

import numpy as np
import pytest

from ledgerlab.economics.attribution import ENGINES
from ledgerlab.economics.emission import Constant, Halving, SupplyHalving, Table
from ledgerlab.economics.fees import inference_fee_tokens
from ledgerlab.scenarios import Scenario, apply_overrides
from ledgerlab.scenarios import schema as S
from ledgerlab.sim import build
from ledgerlab.sim.build import ModelSetupError
from ledgerlab.sim.defenses import KINDS


def test_the_schema_engines_are_the_registered_engines() -> None:
    assert set(get_args(S.Attribution.model_fields["engine"].annotation)) == set(ENGINES)
    build.check_engine_registry()
    knn_only = tuple(n for n, spec in ENGINES.items() if spec.model_kind == "knn")
    assert knn_only == S.KNN_ONLY_ENGINES


@pytest.mark.parametrize("kind", KINDS)
def test_every_defence_takes_its_schema_section_by_name(kind: str) -> None:
    section = apply_overrides(Scenario(), {"defenses": [{"kind": kind}]}).defenses[0]
    params = build.defense_params(section)
    fields = {f.name for f in dataclasses.fields(params)}
    for name, value in section.model_dump(exclude={"kind"}).items():
        assert name in fields, f"{kind}.{name} has another name in economics"
        assert getattr(params, name) == value or (
            isinstance(value, float) and getattr(params, name) == pytest.approx(value)
        )


@pytest.mark.parametrize(
    ("emission", "expected"),
    [
        ({"kind": "constant", "tokens_per_epoch": 7.0}, Constant(7.0)),
        (
            {"kind": "halving", "initial_tokens_per_epoch": 8.0, "halving_interval_epochs": 6.6},
            Halving(8.0, 7),  # whole epochs between halvings
        ),
        (
            {"kind": "supply_halving", "initial_tokens_per_epoch": 3.0, "cap_tokens": 90.0},
            SupplyHalving(3.0, 90.0),
        ),
        (
            {"kind": "supply_halving", "initial_tokens_per_epoch": 0.0, "cap_tokens": 90.0},
            Constant(0.0),  # nothing to issue, ever
        ),
        (
            {"kind": "table", "steps": [{"start_epoch": 0, "tokens_per_epoch": 2.0}]},
            Table(((0, 2.0),)),
        ),
    ],
)
def test_emission_schedules_from_their_section(emission: dict[str, Any], expected: Any) -> None:
    sc = apply_overrides(Scenario(), {"tokenomics.emission": emission})
    built = build.emission(sc.tokenomics.emission)
    assert built.schedule == expected and not built.from_pool


def test_a_pool_drip_pays_from_the_pool() -> None:
    sc = apply_overrides(Scenario(), {"tokenomics.emission": {"kind": "pool_drip"}})
    built = build.emission(sc.tokenomics.emission)
    assert built.from_pool
    assert built.schedule.emitted(3) == sc.tokenomics.emission.tokens_per_epoch


def test_a_tiny_half_life_is_floored_where_float64_ends() -> None:
    sc = apply_overrides(
        Scenario(),
        {"tokenomics.emission": {"kind": "exponential_decay", "half_life_epochs": 1e-320}},
    )
    schedule = build.emission(sc.tokenomics.emission).schedule
    assert schedule.half_life_epochs == build.MIN_HALF_LIFE_EPOCHS
    assert math.isfinite(float(schedule.emitted(0)))


def test_fees_per_inference_are_the_economics_formula() -> None:
    sc = Scenario()
    fee, net = build.inference_fees(sc.datanets)
    pricing = sc.datanets[0].pricing
    assert fee[0] == inference_fee_tokens(**pricing.model_dump())
    assert net[0] == fee[0] - pricing.platform_fee_tokens or net[0] == pytest.approx(
        fee[0] - pricing.platform_fee_tokens, rel=1e-15
    )


def test_a_fee_split_within_the_schema_tolerance_is_renormalised() -> None:
    spec = S.FeeSplit.model_construct(builder=0.3, stakers=0.1, contributors=0.5, burn=0.1 + 5e-10)
    split = build.fee_split(spec)
    assert math.fsum(dataclasses.astuple(split)) == pytest.approx(1.0, abs=1e-15)


def test_the_chain_gets_the_schema_names_and_the_epoch_length() -> None:
    sc = apply_overrides(Scenario(), {"chain.tip_tokens": 0.002, "epoch_days": 2.0})
    chain = build.chain(sc, np.random.default_rng(0))
    assert chain is not None
    p = chain.params
    assert p.tip_tokens == 0.002 and p.tip_sigma == 1.0
    assert p.epoch_seconds == 2 * 86_400.0
    assert p.payout_policy == sc.chain.payout_policy
    assert (
        build.chain(apply_overrides(sc, {"chain.enabled": False}), np.random.default_rng(0)) is None
    )


def test_an_order_flow_that_outgrows_float64_is_refused_at_setup() -> None:
    """The schema refuses it too; the model's own check guards unvalidated scenarios."""
    base = Scenario()
    flow = base.market.order_flow.model_copy(update={"growth_per_epoch": 1.0})
    sc = base.model_copy(update={"market": base.market.model_copy(update={"order_flow": flow})})
    with pytest.raises(ModelSetupError, match="growth_per_epoch"):
        build.order_flow(sc)
    assert build.order_flow(sc.model_copy(update={"epochs": 10})).growth_per_epoch == 1.0


def test_the_churn_rule_is_the_schema_section() -> None:
    pop = Scenario().population
    rule = build.churn_rule(pop)
    assert rule.lookback_epochs == pop.churn.lookback_epochs
    assert rule.exit_ratio == 1.0 + pop.churn.exit_below_return_on_cost
