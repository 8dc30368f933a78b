"""Smoke test of ``benchmarks/bench_sweep.py``'s throughput target (issue 15, target 5):
the sweep it times is the baseline year, and the report prints its TARGET line."""

from __future__ import annotations

from benchmarks import bench_sweep as bench


def test_throughput_sweep_is_the_baseline_year() -> None:
    sweep = bench._sweep(bench.THROUGHPUT, 3)
    scenarios = [sweep.scenario(spec) for spec in sweep.specs()]
    assert len(scenarios) == 3 and len({s.seed for s in scenarios}) == 3
    assert all(s.name == "baseline" and s.epochs == 365 for s in scenarios)


def test_report_prints_the_throughput_target() -> None:
    t = {
        "runs": 20,
        "epochs": None,
        "wall_s": 40.0,
        "parallelism": 1.0,
        "runs_per_min": 30.0,
        "runs_per_min_2_cores": 60.0,
        "passed": True,
    }
    text = bench.report({"throughput": t})
    last = text.splitlines()[-1]
    assert last.startswith("TARGET 5: ") and last.endswith("PASS")
    short = bench.report({"throughput": {**t, "epochs": 30, "passed": False}})
    assert "informational" in short.splitlines()[-1]
