"""Tests of the scenario schema: defaults, closed/frozen models, bounds, cross-field checks."""

import math
import pickle
import types
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from ledgerlab.scenarios import schema
from ledgerlab.scenarios.schema import (
    DAYS_PER_MONTH,
    BetaQuality,
    Datanet,
    Dedup,
    FeeSplit,
    InferencePricing,
    MeanSpreadQuality,
    PoolDripEmission,
    Population,
    Scenario,
    SchemaConsistencyError,
    SupplyHalvingEmission,
    TableEmission,
)

# ------------------------------------------------------------------------- helpers


def _errors(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Pydantic errors for ``data``, without the ``too_short`` echo pydantic adds to a
    sequence when one of its items fails (the loader drops it too)."""
    with pytest.raises(ValidationError) as info:
        Scenario.model_validate(data)
    errors = info.value.errors(include_url=False)
    return [
        e
        for e in errors
        if not (
            e["type"] == "too_short"
            and any(
                len(o["loc"]) > len(e["loc"]) and o["loc"][: len(e["loc"])] == e["loc"]
                for o in errors
            )
        )
    ]


def _consistency_paths(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Full paths (loc + relative path) of every cross-field problem raised for ``data``."""
    paths = []
    for error in _errors(data):
        cause = (error.get("ctx") or {}).get("error")
        assert isinstance(cause, SchemaConsistencyError), error
        paths.extend((*error["loc"], *relative) for relative, _ in cause.problems)
    return paths


def _all_models() -> set[type[BaseModel]]:
    """Every model reachable from Scenario through its field annotations."""
    found: set[type[BaseModel]] = set()

    def visit(annotation: Any) -> None:
        origin = get_origin(annotation)
        if origin is Annotated or origin in (tuple, list, Union, types.UnionType):
            for arg in get_args(annotation):
                visit(arg)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation not in found:
                found.add(annotation)
                for field in annotation.model_fields.values():
                    visit(field.annotation)

    visit(Scenario)
    return found


def _numeric(annotation: Any) -> bool:
    args = [a for a in get_args(annotation) if a is not type(None)] or [annotation]
    return any(a in (int, float) for a in args)


# ------------------------------------------------------------------------ defaults


def test_defaults_form_a_valid_baseline() -> None:
    scenario = Scenario()
    assert Scenario.model_validate(scenario.model_dump(mode="json")) == scenario
    assert Scenario.model_validate({}) == scenario
    assert scenario.name == "baseline"
    assert scenario.epochs == 365
    assert scenario.epoch_days == 1.0
    assert 100 <= scenario.population.providers <= 1_000
    assert scenario.defenses == ()
    assert len(scenario.datanets) == 1
    assert isinstance(hash(scenario), int)


def test_default_vesting_is_the_openledger_split_in_daily_epochs() -> None:
    buckets = {b.name: b for b in Scenario().tokenomics.vesting}
    assert {n: b.share for n, b in buckets.items()} == {
        "community": 0.6171,
        "investors": 0.1829,
        "team": 0.15,
        "liquidity": 0.05,
    }
    assert DAYS_PER_MONTH == 30.4375
    assert buckets["community"].tge_fraction * 617_100_000 == pytest.approx(165_500_000)
    launch = sum(b.share * b.tge_fraction for b in buckets.values())
    assert launch == pytest.approx(0.2155, abs=1e-12)  # published circulating at launch
    assert buckets["community"].cliff_epochs == 0.0
    assert buckets["community"].linear_epochs == 1461.0  # 48 months
    for name in ("investors", "team"):
        assert buckets[name].cliff_epochs == 365.25  # 12 months
        assert buckets[name].linear_epochs == 1095.75  # 36 months
        assert buckets[name].recipient == "holders"
    assert buckets["liquidity"].tge_fraction == 1.0
    assert buckets["liquidity"].recipient == "liquidity"
    assert isinstance(Scenario().tokenomics.emission, PoolDripEmission)
    assert Scenario().tokenomics.emission.pool_bucket == "community"


def test_every_model_is_closed_frozen_strict_and_fully_described() -> None:
    models = _all_models()
    assert len(models) >= 30
    for model in models:
        assert model.model_config.get("extra") == "forbid", model
        assert model.model_config.get("frozen") is True, model
        assert model.model_config.get("strict") is True, model
        model()  # every field has a default, and the defaults are valid
        for name, field in model.model_fields.items():
            where = f"{model.__name__}.{name}"
            assert not field.is_required(), where
            text = field.description or ""
            assert text.rstrip(".").endswith(")") and "(" in text, f"{where}: no unit"
            if _numeric(field.annotation):
                bounds = {type(m) for m in field.metadata}
                assert bounds & {annotated_types.Ge, annotated_types.Gt}, f"{where}: no min"
                assert bounds & {annotated_types.Le, annotated_types.Lt}, f"{where}: no max"


def test_models_are_immutable() -> None:
    scenario = Scenario()
    with pytest.raises(ValidationError):
        scenario.epochs = 10  # type: ignore[misc]
    with pytest.raises(ValidationError):
        scenario.population.providers = 10  # type: ignore[misc]


def test_empty_sections_take_their_defaults() -> None:
    scenario = Scenario.model_validate({"population": None, "defenses": None, "datanets": None})
    assert scenario == Scenario()
    # a scalar written empty is still an error (no silent defaults for values)
    assert _errors({"epochs": None})[0]["loc"] == ("epochs",)


# -------------------------------------------------------------------------- bounds

BAD_VALUES = [
    ({"seed": -1}, ("seed",)),
    ({"epochs": 0}, ("epochs",)),
    ({"epochs": 100_001}, ("epochs",)),
    ({"epoch_days": 0.0}, ("epoch_days",)),
    ({"name": ""}, ("name",)),
    ({"name": "has space"}, ("name",)),
    ({"population": {"providers": -1}}, ("population", "providers")),
    ({"population": {"validator_colluding_fraction": 1.5}}, ("population", "validator_colluding_fraction")),
    ({"population": {"provider_quality": {"kind": "beta", "a": 0}}}, ("population", "provider_quality", "beta", "a")),
    ({"population": {"farmers": {"identities_per_operator": 0}}}, ("population", "farmers", "identities_per_operator")),
    ({"population": {"poisoners": {"backdoor_trigger_features": []}}}, ("population", "poisoners", "backdoor_trigger_features")),
    ({"population": {"churn": {"entry_rate_per_epoch": 2}}}, ("population", "churn", "entry_rate_per_epoch")),
    ({"datanets": [{"name": f"d{i}"} for i in range(1_001)]}, ("datanets",)),  # [] is allowed
    ({"datanets": [{"n_classes": 1}]}, ("datanets", 0, "n_classes")),
    ({"datanets": [{"model": "forest"}]}, ("datanets", 0, "model")),
    ({"datanets": [{"pricing": {"rate_in_per_1k": -1}}]}, ("datanets", 0, "pricing", "rate_in_per_1k")),
    ({"tokenomics": {"total_supply_tokens": 0}}, ("tokenomics", "total_supply_tokens")),
    ({"tokenomics": {"fee_split": {"burn": 1.5}}}, ("tokenomics", "fee_split", "burn")),
    ({"tokenomics": {"emission": {"kind": "halving", "halving_interval_epochs": 0}}}, ("tokenomics", "emission", "halving", "halving_interval_epochs")),
    ({"tokenomics": {"staking": {"initial_staked_fraction": -0.1}}}, ("tokenomics", "staking", "initial_staked_fraction")),
    ({"market": {"amm_fee": 0.2}}, ("market", "amm_fee")),
    ({"market": {"initial_price_usd": 0}}, ("market", "initial_price_usd")),
    ({"market": {"order_flow": {"drift": 1.5}}}, ("market", "order_flow", "drift")),
    ({"market": {"order_flow": {"shocks": [{"epoch": -1}]}}}, ("market", "order_flow", "shocks", 0, "epoch")),
    ({"chain": {"base_fee_max_change": 0}}, ("chain", "base_fee_max_change")),
    ({"chain": {"payout_policy": "lazy"}}, ("chain", "payout_policy")),
    ({"attribution": {"engine": "magic"}}, ("attribution", "engine")),
    ({"attribution": {"every_epochs": 0}}, ("attribution", "every_epochs")),
    ({"attribution": {"ground_truth": {"k": 0}}}, ("attribution", "ground_truth", "k")),
    ({"defenses": [{"kind": "reputation", "decay": 1.0}]}, ("defenses", 0, "reputation", "decay")),
    ({"defenses": [{"kind": "validator_vote", "kappa": 0}]}, ("defenses", 0, "validator_vote", "kappa")),
    ({"defenses": [{"kind": "stake_slash", "slash_to": "void"}]}, ("defenses", 0, "stake_slash", "slash_to")),
    ({"defenses": [{"kind": "sybil_graph", "iterations": 0}]}, ("defenses", 0, "sybil_graph", "iterations")),
    ({"collect": {"metrics_every_epochs": 0}}, ("collect", "metrics_every_epochs")),
    ({"collect": {"formats": ["xlsx"]}}, ("collect", "formats", 0)),
]  # fmt: skip


@pytest.mark.parametrize(("data", "loc"), BAD_VALUES)
def test_out_of_range_values_are_rejected_at_their_field(
    data: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    assert [e["loc"] for e in _errors(data)] == [loc]


GOOD_EDGES = [
    {"epochs": 1},
    {"epochs": 100_000},
    {"seed": 0},
    {"seed": 2**63 - 1},
    {"defenses": [{"kind": "reputation", "decay": 0.0}]},
    {"defenses": [{"kind": "validator_vote", "kappa": 1.0}]},
    {"market": {"amm_fee": 0.0}},
    {"defenses": [{"kind": "sybil_graph", "discount": 0.0, "iterations": None}]},
    {"defenses": [{"kind": "sybil_graph", "discount": "one_identity", "iterations": 5}]},
    {"population": {"validator_colluding_fraction": 1.0}},
]


@pytest.mark.parametrize("data", GOOD_EDGES)
def test_bound_edges_are_accepted(data: dict[str, Any]) -> None:
    Scenario.model_validate(data)


@pytest.mark.parametrize(
    ("data", "loc"),
    [
        ({"epochs": True}, ("epochs",)),  # YAML true is not a count
        ({"epochs": 2.5}, ("epochs",)),
        ({"epochs": 365.0}, ("epochs",)),
        ({"epochs": "365"}, ("epochs",)),
        ({"epoch_days": math.nan}, ("epoch_days",)),
        ({"epoch_days": math.inf}, ("epoch_days",)),
        ({"chain": {"enabled": "yes"}}, ("chain", "enabled")),
        ({"name": 5}, ("name",)),
        ({"population": 5}, ("population",)),
    ],
)
def test_types_are_strict(data: dict[str, Any], loc: tuple[Any, ...]) -> None:
    assert [e["loc"] for e in _errors(data)] == [loc]


def test_integers_are_accepted_for_float_fields() -> None:
    assert Scenario.model_validate({"epoch_days": 2}).epoch_days == 2.0


# ------------------------------------------------------------------ fee split etc.


def test_fee_split_must_sum_to_one() -> None:
    FeeSplit(builder=0.25, stakers=0.25, contributors=0.25, burn=0.25)
    with pytest.raises(ValidationError, match=r"shares must sum to 1 .*= 1\.1"):
        FeeSplit(builder=0.3, stakers=0.1, contributors=0.5, burn=0.2)
    assert _consistency_paths({"tokenomics": {"fee_split": {"burn": 0.0}}}) == [
        ("tokenomics", "fee_split")
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=4, max_size=4))
def test_fee_split_accepts_any_normalised_shares_and_rejects_scaled_ones(
    weights: list[float],
) -> None:
    total = sum(weights)
    if total < 1e-3:
        weights, total = [1.0, 1.0, 1.0, 1.0], 4.0
    shares = [w / total for w in weights]
    FeeSplit(builder=shares[0], stakers=shares[1], contributors=shares[2], burn=shares[3])
    scaled = [s * 0.9 for s in shares]
    with pytest.raises(ValidationError):
        FeeSplit(builder=scaled[0], stakers=scaled[1], contributors=scaled[2], burn=scaled[3])


def test_vesting_checks() -> None:
    shares = {"tokenomics": {"vesting": [{"name": "a", "share": 0.5, "holders": 1}]}}
    assert ("tokenomics", "vesting") in _consistency_paths(shares)
    twice = {
        "tokenomics": {
            "vesting": [
                {"name": "a", "share": 0.5, "holders": 1},
                {"name": "a", "share": 0.5, "holders": 1},
            ],
            "sell_policies": [],
            "emission": {"kind": "constant"},
        }
    }
    assert _consistency_paths(twice) == [("tokenomics", "vesting", 1, "name")]
    nobody = {"tokenomics": {"vesting": [{"name": "a", "recipient": "holders", "holders": 0}]}}
    assert _consistency_paths(nobody) == [("tokenomics", "vesting", 0, "holders")]


def test_pool_drip_needs_a_reward_pool_bucket() -> None:
    data = {"tokenomics": {"emission": {"kind": "pool_drip", "pool_bucket": "team"}}}
    assert _consistency_paths(data) == [("tokenomics", "emission", "pool_bucket")]


def test_sell_policies_name_known_groups_once() -> None:
    data = {
        "tokenomics": {
            "sell_policies": [
                {"holder": "investors"},
                {"holder": "whales"},
                {"holder": "investors"},
                {"holder": "providers"},
            ]
        }
    }
    assert sorted(_consistency_paths(data)) == [
        ("tokenomics", "sell_policies", 1, "holder"),
        ("tokenomics", "sell_policies", 2, "holder"),
    ]


# ----------------------------------------------------------------------- emission


@pytest.mark.parametrize(
    "kind",
    [
        "constant",
        "linear_decay",
        "exponential_decay",
        "halving",
        "supply_halving",
        "table",
        "pool_drip",
    ],
)
def test_each_emission_kind_validates_with_its_own_fields(kind: str) -> None:
    scenario = Scenario.model_validate({"tokenomics": {"emission": {"kind": kind}}})
    assert scenario.tokenomics.emission.kind == kind
    # a field of another kind is not accepted
    foreign = "pool_bucket" if kind != "pool_drip" else "half_life_epochs"
    errors = _errors({"tokenomics": {"emission": {"kind": kind, foreign: 1}}})
    assert [e["type"] for e in errors] == ["extra_forbidden"]


def test_table_emission_steps_start_at_zero_and_increase() -> None:
    assert TableEmission().steps[0].start_epoch == 0
    with pytest.raises(ValidationError) as info:
        TableEmission.model_validate(
            {"steps": [{"start_epoch": 5}, {"start_epoch": 9}, {"start_epoch": 9}]}
        )
    cause = info.value.errors()[0]["ctx"]["error"]
    assert [p for p, _ in cause.problems] == [
        ("steps", 0, "start_epoch"),
        ("steps", 2, "start_epoch"),
    ]


def test_supply_halving_needs_a_positive_cap() -> None:
    with pytest.raises(ValidationError):
        SupplyHalvingEmission(cap_tokens=0)
    assert SupplyHalvingEmission().cap_tokens > 0


# ---------------------------------------------------------- quality and pricing


def test_beta_quality_mean() -> None:
    assert BetaQuality(a=8, b=2).mean == 0.8
    assert BetaQuality(a=8, b=2).beta_ab() == (8.0, 2.0)


@settings(max_examples=80, deadline=None)
@given(st.floats(min_value=0.05, max_value=0.95), st.floats(min_value=0.01, max_value=0.99))
def test_mean_spread_quality_gives_a_beta_with_that_mean_and_std(mean: float, frac: float) -> None:
    spread = frac * math.sqrt(mean * (1 - mean))
    if spread >= 0.5:
        return
    a, b = MeanSpreadQuality(mean=mean, spread=spread).beta_ab()
    assert a > 0 and b > 0
    assert a / (a + b) == pytest.approx(mean, rel=1e-9)
    variance = a * b / ((a + b) ** 2 * (a + b + 1))
    assert math.sqrt(variance) == pytest.approx(spread, rel=1e-9)


def test_mean_spread_quality_rejects_an_impossible_spread() -> None:
    with pytest.raises(ValidationError, match="too large"):
        MeanSpreadQuality(mean=0.9, spread=0.31)  # sqrt(0.09) = 0.3


def test_inference_fee_formula() -> None:
    pricing = InferencePricing(
        tokens_in=500,
        tokens_out=200,
        rate_in_per_1k=0.01,
        rate_out_per_1k=0.03,
        platform_fee_tokens=0.01,
    )
    # 500/1000·0.01 + 200/1000·0.03 = 0.005 + 0.006
    assert pricing.net_fee_tokens() == pytest.approx(0.011, abs=1e-15)
    assert pricing.fee_tokens() == pytest.approx(0.021, abs=1e-15)


# ----------------------------------------------------------------------- defences


def test_all_eight_defences_compose_in_one_list() -> None:
    kinds = [
        "stake_slash",
        "reputation",
        "dedup",
        "quality_filter",
        "sybil_graph",
        "rate_limit",
        "wash_guard",
        "validator_vote",
    ]
    scenario = Scenario.model_validate({"defenses": [{"kind": k} for k in kinds]})
    assert [d.kind for d in scenario.defenses] == kinds
    assert isinstance(scenario.defenses[2], Dedup)


def test_a_defence_kind_may_appear_only_once() -> None:
    data = {"defenses": [{"kind": "dedup"}, {"kind": "rate_limit"}, {"kind": "dedup"}]}
    assert _consistency_paths(data) == [("defenses", 2, "kind")]


def test_unknown_defence_kind_is_rejected() -> None:
    errors = _errors({"defenses": [{"kind": "firewall"}]})
    assert [(e["type"], e["loc"]) for e in errors] == [("union_tag_invalid", ("defenses", 0))]


def test_quality_filter_needs_at_least_k_reference_points() -> None:
    data = {"defenses": [{"kind": "quality_filter", "knn_k": 9, "min_reference_points": 3}]}
    assert _consistency_paths(data) == [("defenses", 0, "quality_filter", "min_reference_points")]


def test_validator_vote_needs_validators() -> None:
    data = {"population": {"validators": 0}, "defenses": [{"kind": "validator_vote"}]}
    assert _consistency_paths(data) == [("defenses", 0, "kind")]


# ------------------------------------------------------------------ cross checks


def test_poisoner_classes_and_features_must_exist_in_every_datanet() -> None:
    poisoners = {
        "label_flip": 2,
        "label_flip_target_class": 3,
        "backdoor": 1,
        "backdoor_target_class": 2,
        "backdoor_trigger_features": [0, 4],
    }
    data = {
        "population": {"poisoners": poisoners},
        "datanets": [
            {"name": "a", "n_classes": 5, "n_features": 8},
            {"name": "b", "n_classes": 3, "n_features": 4},
        ],
    }
    assert _consistency_paths(data) == [
        ("population", "poisoners", "label_flip_target_class"),
        ("population", "poisoners", "backdoor_trigger_features", 1),
    ]
    # the same settings are fine while nobody uses them
    quiet = {**poisoners, "label_flip": 0, "backdoor": 0}
    Scenario.model_validate({**data, "population": {"poisoners": quiet}})


def test_trigger_features_are_distinct() -> None:
    data = {"population": {"poisoners": {"backdoor_trigger_features": [1, 2, 1]}}}
    assert _consistency_paths(data) == [("population", "poisoners", "backdoor_trigger_features", 2)]


def test_attribution_point_counts_fit_the_datanets() -> None:
    data = {
        "datanets": [{"validation_points": 100, "ground_truth_points": 300}],
        "attribution": {"test_points": 150, "ground_truth": {"validation_points": 400}},
    }
    assert _consistency_paths(data) == [
        ("attribution", "ground_truth", "validation_points"),
        ("attribution", "test_points"),
    ]


def test_datanet_names_are_unique() -> None:
    data = {"datanets": [{"name": "a"}, {"name": "b"}, {"name": "a"}]}
    assert _consistency_paths(data) == [("datanets", 2, "name")]


def test_chain_base_fee_floor_below_initial() -> None:
    data = {"chain": {"initial_base_fee_tokens": 1e-6, "min_base_fee_tokens": 1e-3}}
    assert _consistency_paths(data) == [("chain", "min_base_fee_tokens")]


def test_consistency_error_message_names_paths() -> None:
    error = SchemaConsistencyError([(("a", 0, "b"), "bad"), ((), "worse")])
    assert str(error) == "a.0.b: bad; worse"
    assert isinstance(error, ValueError)


def test_module_exports_exist() -> None:
    for name in schema.__all__:
        assert hasattr(schema, name), name


def test_consistency_error_survives_pickling() -> None:
    error = SchemaConsistencyError([(("a", 1), "bad")])
    assert pickle.loads(pickle.dumps(error)).problems == [(("a", 1), "bad")]


def test_sections_can_be_given_as_model_instances() -> None:
    scenario = Scenario(
        population=Population(providers=3),
        defenses=[Dedup(near_duplicate_distance=0.2)],
        datanets=(Datanet(name="x"),),
    )
    assert scenario.population.providers == 3
    assert scenario.defenses == (Dedup(near_duplicate_distance=0.2),)
    assert pickle.loads(pickle.dumps(scenario)) == scenario
    assert "properties" in Scenario.model_json_schema()
