"""Tests for scenarios.sweep: expanding sweep files into runs, common-random-number seeds,
and file:line errors that name the point. Nothing is simulated here."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ledgerlab.scenarios import ScenarioError
from ledgerlab.scenarios.library import shipped
from ledgerlab.scenarios.sweep import (
    DEFAULT_VARIANT,
    SampleDesign,
    design_from_text,
    is_sweep_file,
    load_sweep,
    loads_sweep,
    replicate_seeds,
)

FULL = """\
base: baseline
grid:
  tokenomics.emission.tokens_per_epoch: [100, 200]
  population.providers: [10, 20, 30]
zip:
  population.consumers: [5, 6]
  epochs: [2, 3]
sample:
  method: lhs
  n: 4
  ranges:
    market.order_flow.sell_share: {low: 0.1, high: 0.6}
    population.builders: {low: 1, high: 5}
    market.pool_liquidity_usd: {low: 1.0e5, high: 1.0e7, log: true}
variants:
  none: {defenses: []}
  dedup: {defenses: [{kind: dedup}]}
replicates: 3
seed: 7
"""


def _sweep(text: str, tmp_path: Path | None = None, name: str = "s.yaml"):  # type: ignore[no-untyped-def]
    text = textwrap.dedent(text)
    if tmp_path is None:
        return loads_sweep(text, source=name)
    path = tmp_path / name
    path.write_text(text)
    return load_sweep(path)


def _error(text: str, tmp_path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        _sweep(text, tmp_path)
    return info.value


# ------------------------------------------------------------------------- expansion


def test_expansion_counts_grid_zip_sample_variants_replicates() -> None:
    sweep = _sweep(FULL)
    assert sweep.n_points == 2 * 3 * 2 * 4
    assert sweep.n_runs == len(sweep) == 2 * sweep.n_points * 3 == 288
    specs = list(sweep.specs())
    assert len(specs) == 288
    assert len({s.run_id for s in specs}) == 288
    assert sweep.parameters == (
        "tokenomics.emission.tokens_per_epoch",
        "population.providers",
        "population.consumers",
        "epochs",
        "market.order_flow.sell_share",
        "population.builders",
        "market.pool_liquidity_usd",
    )
    assert specs[0].run_id == "none-p00-r0" and specs[-1].run_id == "dedup-p47-r2"
    assert sweep.outline() == "2 variants × 48 points × 3 replicates = 288 runs"
    # the grid's last key varies fastest, then zip rows, then the sample
    first = [dict(p) for p in sweep.points[:9]]
    assert [p["population.providers"] for p in first[::8]] == [10, 20]
    assert [p["epochs"] for p in first[:8:4]] == [2, 3]


def test_points_hold_validated_values_and_each_run_its_scenario() -> None:
    sweep = _sweep(FULL)
    point = sweep.points[0]
    assert point["tokenomics.emission.tokens_per_epoch"] == 100.0
    assert isinstance(point["tokenomics.emission.tokens_per_epoch"], float)  # float field
    assert isinstance(point["population.providers"], int)
    spec = next(s for s in sweep.specs() if s.variant == "dedup" and s.replicate == 2)
    scenario = sweep.scenario(spec)
    assert scenario.name == "baseline_dedup"
    assert [d.kind for d in scenario.defenses] == ["dedup"]
    assert scenario.seed == sweep.seeds[2]
    assert scenario.population.providers == spec.params["population.providers"]
    assert scenario.epochs == spec.params["epochs"]


def test_sampled_values_lie_in_their_ranges_integers_for_integer_fields() -> None:
    text = FULL.replace("method: lhs\n  n: 4", "method: lhs\n  n: 64")
    sweep = _sweep(text)
    share = np.array([p["market.order_flow.sell_share"] for p in sweep.points[:64]])
    builders = [p["population.builders"] for p in sweep.points[:64]]
    liquidity = np.array([p["market.pool_liquidity_usd"] for p in sweep.points[:64]])
    assert ((share >= 0.1) & (share <= 0.6)).all()
    # Latin hypercube: one value in each of the 64 equal slices of the range
    assert sorted(np.floor((share - 0.1) / 0.5 * 64).astype(int)) == list(range(64))
    assert all(isinstance(b, int) and 1 <= b <= 5 for b in builders)
    assert set(builders) == {1, 2, 3, 4, 5}
    assert ((liquidity >= 1e5) & (liquidity <= 1e7)).all()
    logs = np.log10(liquidity)
    assert (logs < 6).sum() > 20 and (logs > 6).sum() > 20  # uniform in log, not in value
    again = _sweep(text)
    assert [dict(p) for p in again.points] == [dict(p) for p in sweep.points]  # deterministic
    other_seed = _sweep(text.replace("seed: 7", "seed: 8"))
    assert [dict(p) for p in other_seed.points] != [dict(p) for p in sweep.points]


@pytest.mark.parametrize("method", ["random", "sobol"])
def test_other_sampling_methods(method: str) -> None:
    sweep = _sweep(
        f"""
        base: baseline
        sample:
          method: {method}
          n: 8
          ranges:
            market.order_flow.sell_share: {{low: 0.2, high: 0.4}}
        """
    )
    values = [p["market.order_flow.sell_share"] for p in sweep.points]
    assert len(values) == 8 and all(0.2 <= v <= 0.4 for v in values)


SALIB_SWEEP = """
base: baseline
grid:
  population.providers: [10, 20]
sample:
  method: {method}
  n: {n}
{extra}  ranges:
    market.order_flow.sell_share: {{low: 0.2, high: 0.4}}
    population.builders: {{low: 1, high: 5}}
    market.pool_liquidity_usd: {{low: 1.0e5, high: 1.0e7, log: true}}
seed: 7
"""


@pytest.mark.parametrize(
    ("method", "n", "extra", "rows"),
    [
        ("saltelli", 4, "", 4 * (2 * 3 + 2)),  # N·(2D+2)
        ("saltelli", 8, "  calc_second_order: false\n", 8 * (3 + 2)),  # N·(D+2)
        ("morris", 5, "", 5 * (3 + 1)),  # trajectories·(D+1)
        ("morris", 3, "  num_levels: 6\n", 3 * (3 + 1)),
    ],
)
def test_saltelli_and_morris_designs(method: str, n: int, extra: str, rows: int) -> None:
    pytest.importorskip("SALib")
    text = SALIB_SWEEP.format(method=method, n=n, extra=extra)
    sweep = _sweep(text)
    design = sweep.design
    assert design is not None and design.method == method and design.n == n
    assert design.rows == rows and sweep.n_points == 2 * rows  # × the grid's 2 values
    assert design.names == (
        "market.order_flow.sell_share",
        "population.builders",
        "market.pool_liquidity_usd",
    )
    assert design.lows == (0.2, 1.0, 1e5) and design.highs == (0.4, 5.0, 1e7)
    assert design.log == (False, False, True) and design.integer == (False, True, False)
    assert design.seed == 7 and design.unit.shape == (rows, 3)
    assert ((design.unit >= 0) & (design.unit <= 1)).all()
    if method == "saltelli":
        assert design.calc_second_order is ("false" not in extra)
        assert design.num_levels is None
    else:
        levels = 6 if "num_levels" in extra else 4
        assert design.num_levels == levels and design.calc_second_order is None
        # one parameter moves per step of a trajectory, on the grid of levels
        steps = np.diff(design.unit.reshape(n, 4, 3), axis=1)
        assert ((steps != 0).sum(axis=2) == 1).all()
        grid = np.round(design.unit * (levels - 1), 9)
        assert np.array_equal(grid, np.round(grid))
    # the sample rows vary fastest; each grid value holds the whole design
    first = [p["market.order_flow.sell_share"] for p in sweep.points[:rows]]
    second = [p["market.order_flow.sell_share"] for p in sweep.points[rows:]]
    assert first == second
    assert [p["population.providers"] for p in sweep.points[rows - 1 : rows + 1]] == [10, 20]
    values = design.values()
    assert [v["market.order_flow.sell_share"] for v in values] == first
    assert all(isinstance(v["population.builders"], int) for v in values)
    # deterministic from the master seed; another seed, another design
    again = _sweep(text)
    np.testing.assert_array_equal(again.design.unit, design.unit)
    assert [dict(p) for p in again.points] == [dict(p) for p in sweep.points]
    assert again.digest == sweep.digest
    other = _sweep(text.replace("seed: 7", "seed: 8"))
    assert not np.array_equal(other.design.unit, design.unit)
    # the record is plain JSON and rebuilds the same design
    record = design.record()
    assert json.loads(json.dumps(record)) == record
    assert record["rows"] == rows and record["bounds"][2] == [1e5, 1e7]
    rebuilt = SampleDesign.from_record(record)
    np.testing.assert_array_equal(rebuilt.unit, design.unit)
    from_text = design_from_text(text, sweep.base, 7)
    assert from_text is not None and from_text.record() == record


def test_every_sampling_method_records_its_design() -> None:
    sweep = _sweep(FULL)
    assert sweep.design is not None and sweep.design.method == "lhs"
    assert sweep.design.rows == 4 and sweep.design.calc_second_order is None
    assert _sweep("base: baseline\ngrid:\n  epochs: [2, 3]\n").design is None


def test_a_salib_design_without_salib_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [m for m in sys.modules if m == "SALib" or m.startswith("SALib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "SALib", None)
    text = SALIB_SWEEP.format(method="morris", n=4, extra="")
    error = _error(text, tmp_path)
    (line,) = _lines(error)
    assert ":6:11: sample.method: method morris draws its design with SALib" in line
    assert line.endswith("pip install 'ledgerlab[sensitivity]'")
    assert _sweep(SALIB_SWEEP.format(method="lhs", n=4, extra="")).n_points == 8  # others work


def test_a_variant_file_is_a_sweep_of_one_point_and_one_replicate(tmp_path: Path) -> None:
    sweep = load_sweep(shipped()["no_slashing_vs_slashing"])
    assert list(sweep.variants) == ["no_slashing", "slashing"]
    assert (sweep.n_points, sweep.replicates, sweep.n_runs) == (1, 1, 2)
    assert sweep.parameters == ()
    assert sweep.variants["slashing"].name == "label_flip_slashing"
    assert is_sweep_file(shipped()["no_slashing_vs_slashing"])
    assert not is_sweep_file(shipped()["baseline"])


def test_a_plain_scenario_is_a_sweep_of_one_run_per_replicate() -> None:
    sweep = load_sweep("baseline").with_replicates(4)
    assert list(sweep.variants) == [DEFAULT_VARIANT]
    assert [s.run_id for s in sweep.specs()] == [f"base-p0-r{r}" for r in range(4)]


def test_every_shipped_sweep_file_expands() -> None:
    for name, path in shipped().items():
        if is_sweep_file(path):
            sweep = load_sweep(path)
            assert sweep.n_runs >= 2, name


# ----------------------------------------------------------------------------- seeds


def test_common_random_numbers_same_seed_across_variants_and_points() -> None:
    sweep = _sweep(FULL)
    by_replicate: dict[int, set[int]] = {}
    for spec in sweep.specs():
        by_replicate.setdefault(spec.replicate, set()).add(spec.seed)
    assert all(len(seeds) == 1 for seeds in by_replicate.values())  # one seed per replicate
    seeds = [next(iter(by_replicate[r])) for r in range(3)]
    assert len(set(seeds)) == 3  # different across replicates
    assert seeds == replicate_seeds(7, 3) == list(sweep.seeds)
    child = np.random.SeedSequence(7).spawn(3)[1]
    assert seeds[1] == int(child.generate_state(1, np.uint64)[0]) >> 1
    assert all(0 <= s < 2**63 for s in seeds)
    # replicate r keeps its seed when more replicates are asked for
    assert replicate_seeds(7, 10)[:3] == seeds
    assert list(sweep.with_replicates(10).seeds[:3]) == seeds


def test_master_seed_defaults_to_the_base_scenarios() -> None:
    sweep = _sweep("base: baseline\nreplicates: 2\n")
    assert sweep.seed == 42 and list(sweep.seeds) == replicate_seeds(42, 2)


def test_digest_ignores_layout_but_not_values() -> None:
    a = _sweep(FULL)
    b = _sweep("# a comment\n" + FULL.replace("[100, 200]", "[100,   200]"))
    c = _sweep(FULL.replace("[100, 200]", "[100, 201]"))
    assert a.digest == b.digest != c.digest
    assert a.with_replicates(4).digest != a.digest


def test_with_overrides_changes_the_base_of_every_run() -> None:
    sweep = _sweep("base: baseline\nvariants:\n  a: {}\n  b: {defenses: [{kind: dedup}]}\n")
    short = sweep.with_overrides({"epochs": 5})
    assert {short.scenario(s).epochs for s in short.specs()} == {5}
    with pytest.raises(ScenarioError, match="epochs"):
        sweep.with_overrides({"epochs": 0})


# ---------------------------------------------------------------------------- errors


def _lines(error: ScenarioError) -> list[str]:
    return [str(p) for p in error.problems]


def test_zip_lists_of_different_lengths(tmp_path: Path) -> None:
    error = _error(
        """\
        base: baseline
        zip:
          population.providers: [1, 2, 3]
          population.consumers: [1, 2]
        """,
        tmp_path,
    )
    [line] = _lines(error)
    assert line.startswith(f"{tmp_path / 's.yaml'}:3:3: zip: ")
    assert "same length" in line and "population.providers: 3" in line


def test_unknown_path_points_at_its_key(tmp_path: Path) -> None:
    error = _error(
        """\
        base: baseline
        grid:
          population.providers: [10, 20]
          population.provders: [1, 2]
        """,
        tmp_path,
    )
    [line] = _lines(error)
    assert line.startswith(f"{tmp_path / 's.yaml'}:4:3: grid.population.provders: point 0 of 4")
    assert "unknown field 'provders'" in line and "did you mean 'providers'" in line
    assert "(and 3 more points)" in line


def test_bad_value_names_the_point_and_its_line(tmp_path: Path) -> None:
    error = _error(
        """\
        base: baseline
        grid:
          population.providers: [10, -5]
        variants:
          a: {}
          b: {defenses: [{kind: dedup}]}
        """,
        tmp_path,
    )
    lines = _lines(error)
    assert lines[0].startswith(f"{tmp_path / 's.yaml'}:3:30: grid.population.providers: ")
    assert "point 1 of 2 (population.providers=-5) in variant a" in lines[0]
    assert "must be ≥ 0" in lines[0] and "(and 1 more point)" in lines[0]


def test_a_cross_field_problem_points_at_the_swept_value(tmp_path: Path) -> None:
    error = _error(
        """\
        base: baseline
        grid:
          tokenomics.fee_split.burn: [0.1, 0.3]
        """,
        tmp_path,
    )
    [line] = _lines(error)
    assert line.startswith(f"{tmp_path / 's.yaml'}:3:36: grid.tokenomics.fee_split.burn: point 1")
    assert "shares must sum to 1" in line


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "base: baseline\nsample:\n  method: lhs\n  n: 4\n  ranges:\n"
            "    market.order_flow.sell_share: {low: 0.5, high: 0.5}\n",
            ":6:35: sample.ranges.market.order_flow.sell_share",
            "low must be < high (got low=0.5, high=0.5)",
        ),
        (
            "base: baseline\nsample:\n  method: latin\n  n: 4\n  ranges:\n"
            "    market.order_flow.sell_share: {low: 0.1, high: 0.5}\n",
            ":3:11: sample.method",
            "unknown method 'latin'",
        ),
        (
            "base: baseline\nsample:\n  method: sobol\n  n: 10\n  ranges:\n"
            "    market.order_flow.sell_share: {low: 0.1, high: 0.5}\n",
            ":4:6: sample.n",
            "use 8 or 16",
        ),
        (
            "base: baseline\nsample:\n  method: lhs\n  n: 4\n  ranges:\n"
            "    market.pool_liquidity_usd: {low: 0, high: 10, log: true}\n",
            ":6:32: sample.ranges.market.pool_liquidity_usd",
            "a log range needs low > 0",
        ),
        (
            "base: baseline\nsample:\n  method: lhs\n  n: 4\n  ranges:\n"
            "    market.order_flow.persistent: {low: 0, high: 1}\n",
            ":6:5: sample.ranges.market.order_flow.persistent",
            "only numeric fields can be sampled",
        ),
        (
            "base: baseline\nsample:\n  method: saltelli\n  n: 6\n  ranges:\n"
            "    market.order_flow.sell_share: {low: 0.1, high: 0.5}\n",
            ":4:6: sample.n",
            "use 4 or 8, or method morris",
        ),
        (
            "base: baseline\nsample:\n  method: morris\n  n: 1\n  ranges:\n"
            "    market.order_flow.sell_share: {low: 0.1, high: 0.5}\n",
            ":4:6: sample.n",
            "at least 2 trajectories",
        ),
        (
            "base: baseline\nsample:\n  method: morris\n  n: 4\n  num_levels: 3\n"
            "  ranges:\n    market.order_flow.sell_share: {low: 0.1, high: 0.5}\n",
            ":5:15: sample.num_levels",
            "must be an even whole number 2..1,000 (got 3)",
        ),
        (
            "base: baseline\nsample:\n  method: lhs\n  n: 4\n  calc_second_order: false\n"
            "  ranges:\n    market.order_flow.sell_share: {low: 0.1, high: 0.5}\n",
            ":5:3: sample.calc_second_order",
            "applies to method saltelli only",
        ),
        (
            "base: baseline\nsample:\n  method: saltelli\n  n: 4\n  num_levels: 4\n"
            "  ranges:\n    market.order_flow.sell_share: {low: 0.1, high: 0.5}\n",
            ":5:3: sample.num_levels",
            "applies to method morris only",
        ),
        (
            "base: baseline\nsample:\n  method: saltelli\n  n: 4\n  calc_second_order: 1\n"
            "  ranges:\n    market.order_flow.sell_share: {low: 0.1, high: 0.5}\n",
            ":5:22: sample.calc_second_order",
            "must be true or false",
        ),
        (
            "base: baseline\nsample:\n  method: lhs\n  n: 4\n  levels: 4\n  ranges:\n"
            "    market.order_flow.sell_share: {low: 0.1, high: 0.5}\n",
            ":5:3: sample.levels",
            "sample holds method, n, ranges, calc_second_order, num_levels",
        ),
        ("base: baseline\ngrid:\n  seed: [1, 2]\n", ":3:3: grid.seed", "cannot be swept"),
        (
            "base: baseline\ngrid:\n  epochs: [2, 3]\nvariants:\n  a: {epochs: 4}\n",
            ":5:7: variants.a.epochs",
            "is also swept",
        ),
        ("base: baseline\ngrid:\n  epochs: []\n", ":3:11: grid.epochs", "non-empty list"),
        ("base: baseline\nreplicate: 3\n", ":2:1: replicate", "did you mean 'replicates'"),
        ("base: baseline\nreplicates: 0\n", ":2:13: replicates", "must be a whole number"),
        ("base: basline\n", ":1:7: base", "did you mean 'baseline'"),
        (
            "base: baseline\nvariants:\n  a: {}\nreference: b\n",
            ":4:12: reference",
            "must name one of the variants (a)",
        ),
        (
            "base: baseline\nvariants:\n  a/b: {}\n",
            ":3:3: variants.a/b",
            "letters, digits",
        ),
        (
            "base: baseline\nvariants:\n  a: {defenses: [{kind: dedupe}]}\n",
            ":3:25: variants.a",
            "defenses[0].kind",
        ),
        (
            "base: {name: x, epochs: 0}\n",
            ":1:25: base.epochs",
            "must be ≥ 1",
        ),
    ],
)
def test_bad_sweep_files_give_file_line_errors(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    error = _error(text, tmp_path)
    lines = _lines(error)
    assert any(where in line and message in line for line in lines), lines
    assert all(line.startswith(str(tmp_path / "s.yaml")) for line in lines)


def test_every_problem_at_once(tmp_path: Path) -> None:
    error = _error(
        "base: baseline\nreplicates: -1\nseed: x\ngrid:\n  epochs: 3\nfoo: 1\n", tmp_path
    )
    assert len(error.problems) == 4


def test_base_is_found_next_to_the_sweep_file_then_by_name(tmp_path: Path) -> None:
    (tmp_path / "world.yaml").write_text("name: world\nepochs: 7\n")
    sweep = _sweep("base: world.yaml\nreplicates: 2\n", tmp_path)
    assert sweep.base.name == "world" and sweep.base.epochs == 7
    assert _sweep("base: label_flip\n", tmp_path).base.name == "label_flip"
    inline = _sweep("base: {name: inline, epochs: 9}\n", tmp_path)
    assert inline.base.epochs == 9 and inline.name == "s"


def test_too_many_runs_are_refused() -> None:
    with pytest.raises(ScenarioError, match="expands to 1,200,000 runs"):
        _sweep(
            "base: baseline\nreplicates: 100000\ngrid:\n  epochs: [1,2,3,4,5,6,7,8,9,10,11,12]\n"
        )


def test_examples_cover_every_variant_at_the_first_and_last_point() -> None:
    sweep = _sweep(FULL)
    examples = sweep.examples()
    assert list(examples) == ["none@p0", "none@p47", "dedup@p0", "dedup@p47"]
    assert examples["dedup@p47"].population.providers == 30
    single = load_sweep(shipped()["no_slashing_vs_slashing"]).examples()
    assert list(single) == ["no_slashing", "slashing"]
