"""Smoke test of ``benchmarks/bench_model.py`` and its per-individual reference
(``benchmarks/reference_consumers.py``) at toy sizes, so the bench never rots.

Timings are not asserted (the machine may be shared); what is asserted is that every
section runs, reports sane numbers, and that the vectorised consumer role and the
one-Mesa-agent-per-consumer reference produce statistically equal demand.
"""

from __future__ import annotations

import os

import mesa
import numpy as np
import pytest

from benchmarks import bench_model as bench
from benchmarks.reference_consumers import (
    ConsumerAgent,
    ReferenceConsumerModel,
    ReferenceInputError,
)


def _reference(n: int, seed: int = 1, **kw: object) -> ReferenceConsumerModel:
    rng = np.random.default_rng(seed)
    args: dict[str, object] = {
        "rate": np.full(n, 4.0),
        "budget_usd": np.full(n, 100.0),
        "accuracy": np.array([0.8, 0.9]),
        "price_usd": np.array([0.01, 0.02]),
        "price_weight_per_usd": 1.0,
        "temperature": 0.05,
        "rng": rng,
    }
    args.update(kw)
    return ReferenceConsumerModel(**args)  # type: ignore[arg-type]


def test_reference_is_one_mesa_agent_per_consumer_and_records_demand() -> None:
    ref = _reference(50)
    assert len(ref.agents) == 50
    assert all(isinstance(a, ConsumerAgent) and isinstance(a, mesa.Agent) for a in ref.agents)
    for _ in range(3):
        ref.step()
    per = ref.inferences_per_consumer()
    spent = ref.spent_per_consumer()
    assert per.shape == (50,) and spent.shape == (50,)
    assert ref.inferences_by_model.sum() == per.sum()
    # Each inference costs one of the two list prices.
    lo, hi = ref.price_usd.min(), ref.price_usd.max()
    assert (spent >= per * lo - 1e-12).all() and (spent <= per * hi + 1e-12).all()
    # softmax: exp((0.9 - 0.02 - 0.8 + 0.01) / 0.05) = exp(1.8) more likely to pick model 1
    assert ref.inferences_by_model[1] > ref.inferences_by_model[0]


def test_reference_caps_demand_by_budget() -> None:
    # Budget 0.05 USD at a mean price of at least 0.01 USD buys at most 5 inferences.
    ref = _reference(40, rate=np.full(40, 50.0), budget_usd=np.full(40, 0.05))
    ref.step()
    cap = np.floor(0.05 / ref.mean_price_usd)
    assert 0 < ref.inferences_per_consumer().max() <= cap


def test_reference_is_reproducible_from_its_generator() -> None:
    a, b = _reference(30, seed=7), _reference(30, seed=7)
    for m in (a, b):
        m.step()
        m.step()
    np.testing.assert_array_equal(a.spent_per_consumer(), b.spent_per_consumer())
    np.testing.assert_array_equal(a.inferences_per_consumer(), b.inferences_per_consumer())


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"budget_usd": np.ones(3)}, "equal length"),
        ({"accuracy": np.array([0.5])}, "one value per model"),
        ({"rate": np.full(5, -1.0)}, ">= 0"),
    ],
)
def test_reference_rejects_inconsistent_inputs(kw: dict[str, object], fragment: str) -> None:
    with pytest.raises(ReferenceInputError, match=fragment):
        _reference(5, **kw)


def test_paired_z_is_zero_for_equal_draws_and_large_for_shifted_ones() -> None:
    rng = np.random.default_rng(3)
    a = rng.poisson(10.0, 5_000)
    assert bench.paired_z(a, a) == 0.0
    assert abs(bench.paired_z(a, rng.poisson(10.0, 5_000))) < bench.Z_MAX
    assert bench.paired_z(a + 1, rng.poisson(10.0, 5_000)) > 10.0


def test_compare_reference_runs_and_both_paths_agree() -> None:
    r = bench.compare_reference(consumers=200, epochs=3)
    assert r["consumers"] == 200 and r["epochs"] == 3 and r["n_models"] >= 1
    for key in ("vectorised_eps", "reference_eps", "model_eps", "ratio"):
        assert r[key] > 0
    assert r["equal"] is True
    assert abs(r["mean_vectorised"] - r["mean_reference"]) <= bench.Z_MAX * r["se_diff"]
    assert 5.0 < r["mean_vectorised"] < 40.0  # baseline consumers want ~20 per epoch
    assert isinstance(r["passed"], bool)


def test_scale_scenario_has_the_requested_individuals() -> None:
    sc = bench.scale_scenario(individuals=3_000, epochs=4)
    from ledgerlab.sim.model import EconomyModel

    model = EconomyModel(sc)
    assert sum(len(rs) for rs in model.roles.all) == 3_000
    assert sc.epochs == 4 and sc.datanets[0].window_points == 10_000
    assert sc.attribution.ground_truth.every_epochs == 100
    assert sc.collect.agent_snapshot_every_epochs == 0 and sc.chain.enabled
    assert sc.population.churn.enabled and sc.population.churn.entry_rate_per_epoch == 0.0
    assert not sc.population.adoption.enabled and sc.twin_kinds == ()
    assert bench.scale_scenario(3_000, 4, 0.005).population.churn.entry_rate_per_epoch == 0.005
    with pytest.raises(bench.BenchError, match="individuals"):
        bench.scale_scenario(individuals=10)


def test_run_and_report_every_section_at_toy_size() -> None:
    sizes = bench.Sizes(
        consumers=(100,),
        reference_epochs=2,
        individuals=2_000,
        scale_epochs=3,
        defence_epochs=2,
        baseline_epochs=2,
    )
    res = bench.run(sizes, bench.SECTIONS, profile_top=5)
    s = res["scale"]
    assert s["epochs"] == 3 and s["individuals"] == 2_000
    assert s["wall_s"] > 0 and s["peak_rss_bytes"] > 1 << 20
    assert "tottime" in s["profile"]
    d = res["defences"]
    assert d["kinds"] == list(bench.KINDS) and d["on_ms"] > 0 and d["off_ms"] > 0
    bl = res["baseline"]
    assert bl["epochs"] == 2 and not bl["full"] and bl["wall_s"] >= bl["epochs_s"] > 0
    text = bench.report(res)
    for needle in (
        "speed-up",
        "z: inferences | spend",
        "wall time",
        "peak RSS",
        "baseline.yaml x 2 epochs",
        "ratio on / off",
    ):
        assert needle in text
    assert "PASS" in text or "FAIL" in text
    with pytest.raises(bench.BenchError, match="unknown sections"):
        bench.run(sizes, ("nope",))


def test_main_runs_a_quick_section_and_restores_cpu_affinity(
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = os.sched_getaffinity(0)
    assert bench.main(["--quick", "--sections", "defences", "--defence-epochs", "2"]) == 0
    assert os.sched_getaffinity(0) == before
    out = capsys.readouterr().out
    assert "pinned to CPU core" in out and "ratio on / off" in out
    assert bench.main(["--sections", "defences", "--defence-epochs", "1", "--all-cores"]) == 0
    assert "all cores" in capsys.readouterr().out


def test_empty_world_has_only_holders_and_times_each_phase() -> None:
    from ledgerlab.sim.model import EconomyModel

    model = EconomyModel(bench.empty_scenario(holders=500))
    sizes = {rs.role: len(rs) for rs in model.roles.all}
    assert sizes.pop("holders") == 500 and not any(sizes.values())
    assert model.datanets == [] and not model.scenario.chain.enabled
    e = bench.time_empty(epochs=5, holders=500)
    assert e["holders"] == 500 and e["epochs"] == 5 and e["us_per_epoch"] > 0
    assert {"market", "collect", "model"} <= set(e["phases_us"])
    assert isinstance(e["passed"], bool)
    lines = bench.target_lines({"empty": e})
    assert lines and lines[0].startswith("TARGET 3: ") and lines[0].endswith(("PASS", "FAIL"))


def test_target_lines_name_each_measured_target() -> None:
    bl = {
        "cpu_s": 2.0,
        "wall_s": 2.1,
        "ratio": 1.5,
        "full": True,
        "passed": True,
    }
    sc = {
        "individuals": 100_000,
        "epochs": 1_000,
        "cpu_s": 40.0,
        "wall_s": 41.0,
        "peak_rss_bytes": 900 << 20,
        "passed_time": False,
        "passed_memory": True,
    }
    lines = bench.target_lines({"baseline": bl, "scale": sc})
    assert lines[0].startswith("TARGET 1a: ") and lines[0].endswith("PASS")
    assert lines[1].startswith("TARGET 4: ") and lines[1].endswith("FAIL")
    assert bench.target_lines({"baseline": {**bl, "full": False}})[0].endswith("(shortened)")
