"""Tests of the scenario loader: safe YAML, positioned errors, overrides, round trip."""

import pickle
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlab import scenarios
from ledgerlab.scenarios import (
    Problem,
    Scenario,
    ScenarioError,
    apply_overrides,
    load,
    loads,
    parse_set_option,
    to_yaml,
)
from ledgerlab.scenarios.schema import HalvingEmission, RateLimit


def _lines(text: str, source: str = "s.yaml") -> list[str]:
    """The problem lines a scenario text produces (fails if it loads)."""
    with pytest.raises(ScenarioError) as info:
        loads(textwrap.dedent(text), source=source)
    lines = str(info.value).splitlines()
    assert lines == [str(p) for p in info.value.problems]
    return lines


# --------------------------------------------------------------------- happy path


def test_loads_a_small_scenario_over_the_defaults() -> None:
    scenario = loads(
        textwrap.dedent(
            """\
            # which defence stops sybils?
            name: small
            epochs: 30
            population:
              providers: 50
              provider_quality: {kind: mean_spread, mean: 0.9, spread: 0.05}
              farmers:
                sybil_operators: 2
            tokenomics:
              emission:
                kind: halving
                halving_interval_epochs: 10
            defenses:
              - kind: sybil_graph
                method: sybilrank
              - kind: rate_limit
                max_submissions_per_epoch: 2
            """
        )
    )
    assert scenario.name == "small"
    assert scenario.epochs == 30
    assert scenario.population.providers == 50
    assert scenario.population.farmers.sybil_operators == 2
    assert scenario.population.consumers == Scenario().population.consumers
    assert isinstance(scenario.tokenomics.emission, HalvingEmission)
    assert scenario.tokenomics.emission.halving_interval_epochs == 10.0
    assert [d.kind for d in scenario.defenses] == ["sybil_graph", "rate_limit"]
    assert scenario.defenses[1] == RateLimit(max_submissions_per_epoch=2)


def test_yaml_1_2_semantics_yes_no_are_strings() -> None:
    assert loads("name: x\ndescription: no\n").description == "no"
    assert _lines("chain:\n  enabled: yes\n") == [
        "s.yaml:2:12: chain.enabled: must be true or false (got 'yes')"
    ]
    assert loads("chain: {enabled: false}\n").chain.enabled is False
    assert loads("tokenomics: {total_supply_tokens: 1e9}\n").tokenomics.total_supply_tokens == 1e9


def test_an_emptied_section_takes_its_defaults() -> None:
    scenario = loads("name: x\ndefenses:\n#  - kind: dedup\npopulation:\n")
    assert scenario.defenses == ()
    assert scenario.population == Scenario().population


def test_load_reads_a_file_and_names_it_in_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("name: from_file\nepochs: 12\n", encoding="utf-8")
    assert load(good).epochs == 12
    assert load(str(good)).name == "from_file"
    bom = tmp_path / "bom.yaml"
    bom.write_bytes("\ufeffname: bom\n".encode())
    assert load(bom).name == "bom"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nepochs: 0\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load(bad)
    assert str(info.value) == f"{bad}:2:9: epochs: must be ≥ 1 (got 0)"


def test_the_package_re_exports_the_public_api() -> None:
    for name in ("load", "loads", "Scenario", "ScenarioError", "apply_overrides"):
        assert hasattr(scenarios, name)
    assert issubclass(ScenarioError, ValueError)


# ------------------------------------------------------------------ error classes


def test_unknown_key_points_at_the_key_with_did_you_mean() -> None:
    text = """\
        name: x
        population:
          providerz: 3
          farmers:
              sybil_operator: 2
        """
    assert _lines(text) == [
        "s.yaml:3:3: population.providerz: unknown key 'providerz'; did you mean 'providers'?",
        "s.yaml:5:7: population.farmers.sybil_operator: unknown key 'sybil_operator'; "
        "did you mean 'sybil_operators'?",
    ]


def test_unknown_key_without_a_close_match_lists_the_allowed_keys() -> None:
    [line] = _lines("chain:\n  zzz: 1\n")
    assert line.startswith("s.yaml:2:3: chain.zzz: unknown key 'zzz'; allowed keys: enabled, ")
    assert "payout_policy" in line


def test_wrong_types_name_the_value() -> None:
    text = """\
        epochs: many
        seed: 1.5
        population: [1, 2]
        datanets:
          - name: a
            n_classes: true
        """
    assert _lines(text) == [
        "s.yaml:1:9: epochs: must be a whole number (got 'many')",
        "s.yaml:2:7: seed: must be a whole number (got 1.5)",
        "s.yaml:3:13: population: must be a mapping of keys to values (got a list)",
        "s.yaml:6:16: datanets[0].n_classes: must be a whole number (got true)",
    ]


def test_out_of_range_values_give_the_bound() -> None:
    text = """\
        epochs: 200000
        market:
          amm_fee: 0.5
        defenses:
          - {kind: reputation, decay: 1.0}
        """
    assert _lines(text) == [
        "s.yaml:1:9: epochs: must be ≤ 100000 (got 200000)",
        "s.yaml:3:12: market.amm_fee: must be ≤ 0.1 (got 0.5)",
        "s.yaml:5:31: defenses[0].decay: must be < 1 (got 1.0)",
    ]


def test_infinities_are_refused() -> None:
    assert _lines("epoch_days: .inf\n") == [
        "s.yaml:1:13: epoch_days: must be a finite number (no .inf or .nan) (got inf)"
    ]


def test_fee_split_not_summing_to_one_points_at_the_section() -> None:
    text = """\
        tokenomics:
          fee_split:
            builder: 0.3
            burn: 0.3
        """
    assert _lines(text) == [
        "s.yaml:3:5: tokenomics.fee_split: shares must sum to 1 (builder 0.3 + stakers 0.1 "
        "+ contributors 0.5 + burn 0.3 = 1.2); adjust them"
    ]


def test_unknown_kind_and_missing_kind() -> None:
    text = """\
        tokenomics:
          emission:
            kind: halvng
        defenses:
          - near_duplicate_distance: 0.1
          - dedup
        """
    lines = _lines(text)
    assert lines[0].startswith("s.yaml:3:11: tokenomics.emission.kind: unknown kind 'halvng'")
    assert lines[0].endswith("did you mean 'halving'?")
    assert lines[1].startswith("s.yaml:5:5: defenses[0]: missing key 'kind' (one of: stake_slash")
    assert lines[2].startswith("s.yaml:6:5: defenses[1]: must be a mapping with a 'kind' key")


def test_errors_inside_a_kind_do_not_show_the_discriminator() -> None:
    text = """\
        tokenomics:
          emission:
            kind: table
            steps:
              - {start_epoch: 0, tokens_per_epoch: 5}
              - {start_epoch: 0, tokens_per_epoch: 3}
            half_life_epochs: 3
        """
    # the ordering check runs once the section's own fields are valid
    assert _lines(text) == [
        "s.yaml:7:5: tokenomics.emission.half_life_epochs: unknown key 'half_life_epochs'; "
        "allowed keys: kind, steps, cap_tokens, without_contributors"
    ]
    only_order = text.replace("half_life_epochs: 3", "")
    assert _lines(only_order) == [
        "s.yaml:6:23: tokenomics.emission.steps[1].start_epoch: start epochs must increase "
        "strictly (step 1 starts at 0, step 0 at 0)"
    ]


def test_misspelled_choice_gets_did_you_mean() -> None:
    assert _lines("attribution:\n  engine: knn_shapely\n") == [
        "s.yaml:2:11: attribution.engine: must be one of 'uniform', 'volume', 'retrieval', "
        "'loo', 'knn_shapley', 'tmc_shapley', 'banzhaf', 'influence' (got 'knn_shapely'); "
        "did you mean 'knn_shapley'?"
    ]


def test_a_value_matching_no_alternative_is_reported_once() -> None:
    assert _lines("defenses:\n  - {kind: sybil_graph, discount: one_identiy}\n") == [
        "s.yaml:2:35: defenses[0].discount: must be one of 'one_identity' or a number "
        "(got 'one_identiy'); did you mean 'one_identity'?"
    ]
    assert _lines("defenses:\n  - {kind: sybil_graph, discount: 2}\n") == [
        "s.yaml:2:35: defenses[0].discount: must be one of 'one_identity' or ≤ 1 (got 2)"
    ]
    assert _lines("tokenomics: {emission: {kind: constant, cap_tokens: -1}}\n") == [
        "s.yaml:1:53: tokenomics.emission.cap_tokens: must be ≥ 0 (got -1)"
    ]


def test_cross_field_problems_point_at_the_offending_entry() -> None:
    text = """\
        defenses:
          - kind: dedup
          - kind: rate_limit
          - kind: dedup
        """
    assert _lines(text) == [
        "s.yaml:4:11: defenses[2].kind: defence 'dedup' is listed twice (entries 0 and 2); "
        "each kind may appear once"
    ]


def test_a_defaulted_field_in_a_cross_check_points_at_its_section() -> None:
    text = """\
        population:
          poisoners:
            label_flip: 5
            label_flip_target_class: 4
        datanets:
          - n_classes: 2
        """
    assert _lines(text) == [
        "s.yaml:4:30: population.poisoners.label_flip_target_class: class 4 does not exist: "
        "a datanet has only 2 classes (0–1)"
    ]
    # label_flip_target_class not written (default 0) with one class too few: no problem;
    # with a written count but a defaulted field, the problem points at its section
    assert loads(textwrap.dedent(text).replace("    label_flip_target_class: 4\n", ""))
    defaulted = """\
        population:
          poisoners:
            backdoor: 1
        datanets:
          - n_features: 1
        """
    assert _lines(defaulted) == [
        "s.yaml:3:5: population.poisoners.backdoor_trigger_features[1]: feature 1 does not "
        "exist: a datanet has only 1 features (0–0)"
    ]
    assert _lines("population:\n  validators: 0\ndefenses:\n  - kind: validator_vote\n") == [
        "s.yaml:4:11: defenses[0].kind: validator_vote needs validators: set "
        "population.validators ≥ 1"
    ]


def test_duplicate_keys_are_refused() -> None:
    text = """\
        name: x
        population:
          providers: 3
          providers: 4
        """
    assert _lines(text) == [
        "s.yaml:4:3: duplicate key 'providers' (in the mapping starting at line 3); each key "
        "may appear once, remove one"
    ]


def test_python_object_tags_are_refused_and_never_constructed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f'name: x\nseed: !!python/object/apply:os.system ["touch {marker}"]\n'
    assert _lines(text) == [
        "s.yaml:2:7: YAML tag '!!python/object/apply:os.system' is not allowed: scenarios hold "
        "plain values only; remove the tag (quote the value if it is text)"
    ]
    assert not marker.exists()
    [line] = _lines("name: !!python/name:os.system\n")
    assert line.startswith("s.yaml:1:7: YAML tag '!!python/name:os.system' is not allowed")


@pytest.mark.parametrize(
    ("text", "tag"),
    [("name: !foo bar\n", "!foo"), ("name: !!str 12\n", "!!str"), ("epochs: !!int '3'\n", "!!int")],
)
def test_every_explicit_tag_is_refused(text: str, tag: str) -> None:
    [line] = _lines(text)
    assert f"YAML tag '{tag}' is not allowed" in line


def test_alias_bomb_is_refused_quickly() -> None:
    levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        levels.append(f"a{i}: &a{i} [{refs}]")
    text = "\n".join(levels) + "\n"  # 9**9 ≈ 387 million strings if expanded
    start = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        loads(text, source="bomb.yaml")
    assert time.perf_counter() - start < 2.0
    first = info.value.problems[0]
    assert (first.file, first.line, first.column) == ("bomb.yaml", 1, 5)
    assert "anchor '&a0' is not allowed" in first.message
    assert any("alias '*a0' is not allowed" in p.message for p in info.value.problems)
    # 91 anchors and aliases: 50 listed, then one line counting the rest
    assert len(info.value.problems) == 51
    assert str(info.value.problems[-1]) == "bomb.yaml: … and 41 more problems"


def test_a_single_alias_is_refused() -> None:
    text = "datanets:\n  - &d {name: a}\n  - *d\n"
    assert [line[:30] for line in _lines(text)] == [
        "s.yaml:2:5: YAML anchor '&d' i",
        "s.yaml:3:5: YAML alias '*d' is",
    ]


def test_empty_and_comment_only_texts_are_refused() -> None:
    message = (
        "the scenario is empty; write at least `name: my_scenario` (every other field has "
        "a default)"
    )
    assert _lines("") == [f"s.yaml:1:1: {message}"]
    assert _lines("# nothing here\n\n") == [f"s.yaml:1:1: {message}"]


def test_syntax_errors_give_the_parser_position() -> None:
    assert _lines("name: x\n  bad: indent\n") == [
        "s.yaml:2:6: invalid YAML: mapping values are not allowed here"
    ]
    assert _lines("name: x\npopulation: {providers: 3\n") == [
        "s.yaml:3:1: invalid YAML: expected ',' or '}', but got '<stream end>' "
        "(while parsing a flow mapping)"
    ]


def test_the_top_level_must_be_a_mapping() -> None:
    assert _lines("- a\n- b\n") == [
        "s.yaml:1:1: the top level must be a mapping of sections (name:, population:, "
        "datanets:, ...), got a list"
    ]
    [line] = _lines("just text\n")
    assert line.endswith("got 'just text'")


def test_several_documents_and_deep_nesting_are_refused() -> None:
    assert _lines("name: a\n---\nname: b\n") == [
        "s.yaml:2:1: a scenario file holds one YAML document; remove the extra '---'"
    ]
    [line] = _lines("name: " + "[" * 100 + "]" * 100 + "\n")
    assert "nesting deeper than 64 levels" in line


def test_dates_are_reported_as_dates() -> None:
    assert _lines("name: 2024-01-01\n") == [
        "s.yaml:1:7: name: must be text (got the date 2024-01-01 (quote it if you meant text))"
    ]


def test_every_problem_is_listed_in_file_order() -> None:
    text = """\
        seed: -3
        epochz: 4
        population:
          providers: -1
          consumers: lots
        market: {amm_fee: 2, initial_price_usd: 0}
        defenses:
          - {kind: dedup, near_duplicate_distance: -1}
        """
    lines = _lines(text)
    assert [line.split(": ")[0] + ": " + line.split(": ")[1] for line in lines] == [
        "s.yaml:1:7: seed",
        "s.yaml:2:1: epochz",
        "s.yaml:4:14: population.providers",
        "s.yaml:5:14: population.consumers",
        "s.yaml:6:19: market.amm_fee",
        "s.yaml:6:41: market.initial_price_usd",
        "s.yaml:8:44: defenses[0].near_duplicate_distance",
    ]


def test_file_problems(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(ScenarioError) as info:
        load(missing)
    assert str(info.value) == f"{missing}: file not found (looked for {missing}); check the path"
    with pytest.raises(ScenarioError, match="is a directory"):
        load(tmp_path)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ScenarioError) as info:
        load(latin)
    assert str(info.value) == (
        f"{latin}: is not UTF-8 text (undecodable byte at offset 9); save it as UTF-8"
    )


def test_problem_rendering() -> None:
    assert str(Problem("f.yaml", 3, 7, "a.b", "bad")) == "f.yaml:3:7: a.b: bad"
    assert str(Problem("f.yaml", None, None, "", "gone")) == "f.yaml: gone"
    assert str(Problem("<overrides>", None, None, "a.b", "bad")) == "<overrides>: a.b: bad"
    error = ScenarioError([Problem("f", 1, 1, "x", "one"), Problem("f", 2, 1, "y", "two")])
    assert str(error) == "f:1:1: x: one\nf:2:1: y: two"


# ---------------------------------------------------------------------- overrides


def test_overrides_by_dotted_and_double_underscore_paths() -> None:
    base = Scenario()
    changed = apply_overrides(
        base,
        {
            "population__providers": 500,
            "population.farmers.wash": 3,
            "datanets[0].k": 9,
            "datanets.0.n_features": 4,
            "tokenomics.vesting.team.cliff_epochs": 100,
            "epochs": np.int64(20),
            "market__initial_price_usd": np.float64(2.5),
        },
    )
    assert changed.population.providers == 500
    assert changed.population.farmers.wash == 3
    assert changed.datanets[0].k == 9
    assert changed.datanets[0].n_features == 4
    assert changed.tokenomics.vesting[2].cliff_epochs == 100.0
    assert changed.epochs == 20 and type(changed.epochs) is int
    assert changed.market.initial_price_usd == 2.5
    assert base == Scenario()  # the original is untouched
    assert apply_overrides(base, {}) is base


def test_setting_a_kind_switches_the_section_to_that_kind() -> None:
    changed = apply_overrides(
        Scenario(),
        {
            "tokenomics.emission.initial_tokens_per_epoch": 7,  # applied after the kind
            "tokenomics__emission__kind": "halving",
            "population.provider_quality.kind": "mean_spread",
        },
    )
    assert changed.tokenomics.emission == HalvingEmission(initial_tokens_per_epoch=7)
    assert changed.population.provider_quality.kind == "mean_spread"


def test_overrides_replace_and_then_address_list_entries() -> None:
    changed = apply_overrides(
        Scenario(),
        {
            "defenses": [{"kind": "dedup"}, RateLimit(max_submissions_per_epoch=2)],
            "defenses.dedup.near_duplicate_distance": 0.5,
            "defenses[1].min_age_epochs": 3,
        },
    )
    assert [d.kind for d in changed.defenses] == ["dedup", "rate_limit"]
    assert changed.defenses[0].near_duplicate_distance == 0.5
    assert changed.defenses[1] == RateLimit(max_submissions_per_epoch=2, min_age_epochs=3)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"population.providerz": 1},
            "<overrides>: population.providerz: unknown field 'providerz' in population; "
            "did you mean 'providers'?",
        ),
        (
            {"populaton__providers": 1},
            "<overrides>: populaton__providers: unknown field 'populaton' in the scenario; "
            "did you mean 'population'?",
        ),
        (
            {"defenses.dedup.near_duplicate_distance": 1},
            "<overrides>: defenses.dedup.near_duplicate_distance: defenses has no entry "
            "'dedup' (have: none); select entries by index or by kind/name, or set the whole "
            "list",
        ),
        (
            {"datanets.2.k": 1},
            "<overrides>: datanets.2.k: index 2 is out of range: datanets has 1 item(s)",
        ),
        (
            {"epochs.value": 1},
            "<overrides>: epochs.value: epochs is a single value, not a section; it has no 'value'",
        ),
        (
            {"population..providers": 1},
            "<overrides>: population..providers: malformed path; write dotted field names "
            "like population.providers (or population__providers)",
        ),
        (
            {"population.providers": -5},
            "<overrides>: population.providers: must be ≥ 0 (got -5) (set by override "
            "'population.providers')",
        ),
        (
            {"tokenomics.fee_split.burn": 0.5},
            "<overrides>: tokenomics.fee_split: shares must sum to 1 (builder 0.3 + stakers "
            "0.1 + contributors 0.5 + burn 0.5 = 1.4); adjust them",
        ),
    ],
)
def test_bad_overrides(overrides: dict[str, object], expected: str) -> None:
    with pytest.raises(ScenarioError) as info:
        apply_overrides(Scenario(), overrides)
    assert str(info.value) == expected


def test_override_errors_use_the_given_source() -> None:
    with pytest.raises(ScenarioError) as info:
        apply_overrides(Scenario(), {"epochs": 0}, source="--set")
    assert str(info.value) == "--set: epochs: must be ≥ 1 (got 0) (set by override 'epochs')"


def test_parse_set_option_reads_yaml_scalars() -> None:
    assert parse_set_option("population.providers=500") == ("population.providers", 500)
    assert parse_set_option("market.amm_fee=0.01") == ("market.amm_fee", 0.01)
    assert parse_set_option("chain.enabled=false") == ("chain.enabled", False)
    assert parse_set_option("description=yes") == ("description", "yes")
    assert parse_set_option("tokenomics.emission.kind = halving") == (
        "tokenomics.emission.kind",
        "halving",
    )
    assert parse_set_option("x=a=b") == ("x", "a=b")
    assert parse_set_option("x=") == ("x", None)
    assert parse_set_option("defenses=[{kind: dedup}]") == ("defenses", [{"kind": "dedup"}])
    _, value = parse_set_option("tokenomics.total_supply_tokens=1e9")
    assert value == 1e9 and type(value) is float


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("noequals", "--set: expected PATH=VALUE, e.g. population.providers=500 (got 'noequals')"),
        ("=3", "--set: expected PATH=VALUE, e.g. population.providers=500 (got '=3')"),
        (
            "seed=!!python/object/apply:os.system [ls]",
            "--set seed:1:1: YAML tag '!!python/object/apply:os.system' is not allowed: "
            "scenarios hold plain values only; remove the tag (quote the value if it is text)",
        ),
        ("a=[1,", "--set a:1:4: invalid YAML: expected the node content, but found '<stream end>'"),
    ],
)
def test_parse_set_option_errors(option: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_set_option(option)
    assert str(info.value).startswith(expected)


def test_set_options_feed_overrides() -> None:
    options = ["population.providers=42", "tokenomics.emission.kind=constant"]
    changed = apply_overrides(Scenario(), dict(parse_set_option(o) for o in options))
    assert changed.population.providers == 42
    assert changed.tokenomics.emission.kind == "constant"


# --------------------------------------------------------------------- round trip


def test_resolved_yaml_round_trips() -> None:
    assert loads(to_yaml(Scenario())) == Scenario()
    busy = apply_overrides(
        Scenario(),
        {
            "name": "busy",
            "description": "Line one: with a colon\n# not a comment\n'quoted' and \"double\"",
            "datanets": [{"name": "a", "model": "logistic"}, {"name": "b", "n_classes": 7}],
            "tokenomics.emission": {"kind": "table", "cap_tokens": 1e7},
            "market.order_flow.shocks": [{"epoch": 3, "multiplier": 4, "net_usd": -1e6}],
            "defenses": [{"kind": k} for k in ("stake_slash", "dedup", "validator_vote")],
            "collect.formats": ["csv", "parquet"],
            "chain.min_base_fee_tokens": 1e-12,
        },
    )
    text = to_yaml(busy)
    assert text.startswith("# Resolved scenario 'busy'")
    assert loads(text) == busy


@settings(max_examples=15, deadline=None)
@given(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=30),
    st.floats(min_value=1e-6, max_value=1e9),
    st.integers(min_value=0, max_value=2**63 - 1),
)
def test_round_trip_property(description: str, price: float, seed: int) -> None:
    # the pool holds 10M tokens (clipped to the schema's bounds), which the liquidity
    # bucket can always seed
    pool = min(max(price * 1e7, 1.0), 1e13)
    scenario = apply_overrides(
        Scenario(),
        {
            "description": description,
            "market.initial_price_usd": price,
            "market.pool_liquidity_usd": pool,
            "seed": seed,
        },
    )
    assert loads(to_yaml(scenario)) == scenario


def test_scenario_error_survives_pickling() -> None:
    # runs in process pools / Dask workers send exceptions back pickled
    with pytest.raises(ScenarioError) as info:
        loads("epochs: 0\nseed: -1\n", source="p.yaml")
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.problems == info.value.problems
    assert str(copy) == str(info.value)
