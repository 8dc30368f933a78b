"""Benchmark: start-up — what importing ledgerlab costs, and a whole ``ledgerlab run``.

Why: a sweep of short runs and every CLI call pay the imports before any epoch; issue 15
measured 3.4 s of imports on a quiet machine (``scipy.stats`` for one ``rankdata``,
Mesa's ``batchrunner``, ``matplotlib`` loaded for every run). Targets (issue 15, target
1), each measured in fresh processes, median of ``--runs``:

1. **imports** — ``import ledgerlab.analysis.cli`` plus what a run imports
   (``ledgerlab.sim.run``, ``ledgerlab.sim.model``): <= 1.5 s. The floor measured in the
   same run (``import numpy, pandas, mesa``: what any run needs) is printed with the
   ratio, and which heavy modules the import pulled in (``scipy.stats``,
   ``matplotlib``, ``mesa.batchrunner``; Mesa's own ``__init__`` imports its batchrunner,
   so that one is out of our hands).
2. **run** — ``ledgerlab run baseline --quiet`` as a whole process (imports, the year's
   simulation, the output files and the dashboard): <= 4 s. This is the installed
   ``ledgerlab`` command as a user starts it, with the environment as it is (the command
   picks one BLAS thread itself unless told otherwise, ``ledgerlab/__main__.py``).

The verdicts are on CPU seconds (user + system; on a quiet machine wall time is the same
for these single-threaded processes), with wall time printed beside them: the machine may
be shared, and other work stretches wall time, not CPU time.

Run: ``python benchmarks/bench_imports.py [--runs 5] [--run-runs 3] [--strict]``. The
import timings start every process with one BLAS thread. Each target prints a summary line
``TARGET <n>: ... PASS|FAIL`` (``make bench`` collects them).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_IMPORT_S = 1.5  # imports of a run, at most (seconds)
TARGET_RUN_S = 4.0  # whole ``ledgerlab run baseline`` process, at most (wall seconds)
HEAVY = ("scipy.stats", "matplotlib", "mesa.batchrunner", "pyarrow.parquet", "scipy.spatial")
"""Modules whose presence after the import is reported."""

RUN_IMPORTS = "import ledgerlab.analysis.cli, ledgerlab.sim.run, ledgerlab.sim.model"
"""What ``ledgerlab run`` imports before its first epoch."""
FLOOR_IMPORTS = "import numpy, pandas, mesa"
"""What any run needs whatever ledgerlab does: the reference floor."""

_CHILD = """
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
{stmt}
dt, dc = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({{"s": dt, "cpu": dc, "loaded": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def time_import(stmt: str, runs: int) -> dict[str, Any]:
    """Median wall seconds (and min, max) and median CPU seconds of ``stmt`` in ``runs``
    fresh interpreters, timed inside the child around the statement only; the heavy
    modules it left loaded."""
    times: list[float] = []
    cpus: list[float] = []
    loaded: list[str] = []
    code = _CHILD.format(stmt=stmt, heavy=HEAVY)
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True
        )
        got = json.loads(done.stdout.strip().splitlines()[-1])
        times.append(float(got["s"]))
        cpus.append(float(got["cpu"]))
        loaded = got["loaded"]
    return {
        "stmt": stmt,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "cpu_s": statistics.median(cpus),
        "loaded": loaded,
    }


def _children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def time_run(scenario: str, runs: int) -> dict[str, Any]:
    """Whole-process wall and CPU seconds of ``ledgerlab run SCENARIO --quiet`` (median of
    ``runs``; each writes a fresh folder, removed after)."""
    command = Path(sys.executable).with_name("ledgerlab")  # the console script, as installed
    cli = [str(command)] if command.exists() else [sys.executable, "-m", "ledgerlab"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPROFILEIMPORTTIME"}
    walls: list[float] = []
    cpus: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench_imports-") as tmp:
        for i in range(runs):
            out = Path(tmp) / f"run{i}"
            cpu0 = _children_cpu_s()
            t0 = time.perf_counter()
            subprocess.run(
                [*cli, "run", scenario, "--out", str(out), "--quiet"],
                capture_output=True,
                env=env,
                check=True,
            )
            walls.append(time.perf_counter() - t0)
            cpus.append(_children_cpu_s() - cpu0)
    return {
        "scenario": scenario,
        "runs": runs,
        "wall_s": statistics.median(walls),
        "wall_min_s": min(walls),
        "wall_max_s": max(walls),
        "cpu_s": statistics.median(cpus),
    }


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(imp: dict[str, Any], floor: dict[str, Any], run: dict[str, Any] | None) -> str:
    """The measurements as lines, then one ``TARGET`` summary line per target."""
    lines = [
        f"imports of a run ({imp['stmt']}): median {imp['median_s']:.2f} s wall "
        f"(min {imp['min_s']:.2f}, max {imp['max_s']:.2f}), {imp['cpu_s']:.2f} s CPU",
        f"  heavy modules loaded: {', '.join(imp['loaded']) or 'none'}",
        f"floor ({floor['stmt']}): median {floor['median_s']:.2f} s wall, "
        f"{floor['cpu_s']:.2f} s CPU; ledgerlab adds {imp['cpu_s'] - floor['cpu_s']:.2f} s "
        f"CPU ({imp['cpu_s'] / floor['cpu_s']:.2f}x the floor)",
    ]
    ok_imp = imp["cpu_s"] <= TARGET_IMPORT_S
    summary = [
        f"TARGET 1b: imports of a run {imp['cpu_s']:.2f} s CPU (wall {imp['median_s']:.2f} s; "
        f"{imp['cpu_s'] / floor['cpu_s']:.2f}x numpy+pandas+mesa) "
        f"<= {TARGET_IMPORT_S:g} s {_verdict(ok_imp)}"
    ]
    if run is not None:
        lines.append(
            f"ledgerlab run {run['scenario']} (whole process, {run['runs']} runs): wall median "
            f"{run['wall_s']:.2f} s (min {run['wall_min_s']:.2f}, max {run['wall_max_s']:.2f}); "
            f"CPU median {run['cpu_s']:.2f} s"
        )
        ok_run = run["cpu_s"] <= TARGET_RUN_S
        summary.append(
            f"TARGET 1c: ledgerlab run baseline, whole process {run['cpu_s']:.2f} s CPU "
            f"(wall {run['wall_s']:.2f} s; {run['cpu_s'] / imp['cpu_s']:.1f}x its imports) "
            f"<= {TARGET_RUN_S:g} s {_verdict(ok_run)}"
        )
    return "\n".join(lines + summary)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per import")
    parser.add_argument("--run-runs", type=int, default=3, help="whole runs (0: skip)")
    parser.add_argument("--scenario", default="baseline", help="scenario of the whole run")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.run_runs < 0:
        parser.error("--runs must be >= 1 and --run-runs >= 0")
    print(f"bench_imports: load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    imp = time_import(RUN_IMPORTS, args.runs)
    floor = time_import(FLOOR_IMPORTS, args.runs)
    run = time_run(args.scenario, args.run_runs) if args.run_runs else None
    text = report(imp, floor, run)
    print(text)
    missed = "FAIL" in text.split("TARGET", 1)[-1]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
