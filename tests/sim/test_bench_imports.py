"""Smoke test of ``benchmarks/bench_imports.py``: it times imports in fresh processes and
prints one TARGET line per target (timings are not asserted: the machine may be shared)."""

from __future__ import annotations

from benchmarks import bench_imports as bench


def test_time_import_reports_the_heavy_modules_loaded() -> None:
    r = bench.time_import("import json", runs=1)
    assert r["median_s"] >= 0 and r["cpu_s"] >= 0 and r["loaded"] == []
    r = bench.time_import("import scipy.spatial", runs=1)
    assert "scipy.spatial" in r["loaded"]


def test_a_run_does_not_import_scipy_stats() -> None:
    """``rankdata`` is numpy now: importing what a run needs leaves ``scipy.stats`` out."""
    r = bench.time_import(bench.RUN_IMPORTS, runs=1)
    assert "scipy.stats" not in r["loaded"]
    assert "matplotlib" not in r["loaded"]


def test_report_prints_a_target_line_per_target() -> None:
    imp = {"stmt": "x", "median_s": 1.0, "min_s": 1.0, "max_s": 1.0, "cpu_s": 1.0, "loaded": []}
    floor = {**imp, "stmt": "y", "median_s": 0.5, "cpu_s": 0.5}
    run = {
        "scenario": "baseline",
        "runs": 1,
        "wall_s": 5.0,
        "wall_min_s": 5.0,
        "wall_max_s": 5.0,
        "cpu_s": 4.5,
    }
    lines = bench.report(imp, floor, run).splitlines()
    targets = [line for line in lines if line.startswith("TARGET")]
    assert targets[0].startswith("TARGET 1b: ") and targets[0].endswith("PASS")
    assert targets[1].startswith("TARGET 1c: ") and targets[1].endswith("FAIL")
    assert len(bench.report(imp, floor, None).splitlines()) < len(lines)
