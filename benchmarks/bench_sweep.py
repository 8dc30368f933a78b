"""Benchmark: the sweep runner — parallel speed-up, overhead per run, flat memory, Dask.

Why: a sweep must use the cores it is given, cost little beyond the runs themselves, keep
its memory flat however many runs it has, and run on Dask at a known price. In one run:

1. **speed-up** — 40 short runs (~1 s each) with ``workers=2`` and ``workers=1``; the wall
   time of each whole sweep, the pool's start-up from cold included (shown apart, measured
   in a fresh process). Target >= 1.8x.
2. **overhead** — tiny runs (~0.1 s) through ``run_sweep(workers=1)`` against calling
   ``ledgerlab.sim.run.run`` on the same scenarios: (sweep wall − direct wall) / runs,
   setup, files, manifest and compaction included. Target <= 20 ms per run.
3. **memory** — sweeps of 1,000 and 10,000 tiny runs (2 workers), each in a fresh
   process; the peak RSS of the sweep process (the one that collects and writes every
   run) and of its largest worker. Target: the 10k peak within 10 % of the 1k peak.
4. **dask** — the same tiny runs on the process pool and on an embedded Dask
   ``LocalCluster`` (2 worker processes): overhead per run of Dask over the pool, and the
   cluster's start-up apart.
5. **throughput** (issue 15, target 5) — ``ledgerlab sweep`` of the baseline year, 20
   replicates, ``--workers 2``, as a whole command (its start-up, the pool's and the
   files included): runs per minute. Target >= 40 runs/min on 2 free cores; the verdict is
   on the rate scaled to 2 free cores by the probe below (rate x 2 / cores free), the raw
   rate printed beside it.

The machine's load is printed first, and the speed-up section probes how many cores two
CPU-bound processes actually get at the time (2.00 on an idle 2-core machine): other work
on the cores changes every figure, the speed-up most.

Run: ``python benchmarks/bench_sweep.py [--quick] [--sections ...] [--strict]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TARGET_SPEEDUP = 1.8
TARGET_OVERHEAD_MS = 20.0
TARGET_MEMORY_GROWTH = 0.10
TARGET_RUNS_PER_MIN = 40.0  # baseline-year runs per minute on 2 cores, at least (issue 15)
SECTIONS = ("speedup", "overhead", "memory", "dask", "throughput")

TINY = """\
base:
  name: tiny
  seed: 5
  epochs: 3
  population:
    providers: 6
    consumers: 4
    builders: 1
    validators: 1
    farmers: {duplicate: 1}
  datanets:
    - {seed_points: 30, validation_points: 40}
  attribution: {test_points: 30, ground_truth: {every_epochs: 3}}
  collect: {agent_snapshot_every_epochs: 0}
"""
"""A world that runs in ~0.1 s: what a sweep of many runs is made of."""

SHORT = """\
base: baseline
zip:
  epochs: [120]
  population.providers: [80]
  population.consumers: [60]
"""
"""A short run (~1 s): the baseline economy over four months."""


THROUGHPUT = """\
base: baseline
"""
"""The baseline year as a sweep: one run per replicate (issue 15, target 5)."""


@dataclass(frozen=True)
class Sizes:
    short_runs: int
    overhead_runs: int
    memory_runs: tuple[int, int]
    dask_runs: int
    throughput_runs: int = 20
    throughput_epochs: int | None = None  # None: the baseline's own year


FULL = Sizes(short_runs=40, overhead_runs=100, memory_runs=(1_000, 10_000), dask_runs=80)
QUICK = Sizes(
    short_runs=8,
    overhead_runs=20,
    memory_runs=(100, 400),
    dask_runs=16,
    throughput_runs=4,
    throughput_epochs=30,
)


def _sweep(text: str, replicates: int, *, points: int = 1) -> Any:
    from ledgerlab.scenarios.sweep import loads_sweep

    if points > 1:
        text += (
            f"sample:\n  method: random\n  n: {points}\n  ranges:\n"
            "    market.order_flow.sell_share: {low: 0.05, high: 0.95}\n"
        )
    return loads_sweep(text + f"replicates: {replicates}\nseed: 1\n", source="<bench>")


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# ------------------------------------------------------------------------- sections


def _startup_cold() -> float:
    """Seconds a fresh process takes to start a 2-worker pool (forkserver included)."""
    code = (
        "import time; from ledgerlab.sim.sweep import _Pool; t = time.perf_counter(); "
        "_Pool(2).close(); print(time.perf_counter() - t)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def _burn(n: int) -> float:
    """Seconds of pure-Python work (a CPU probe that shares nothing)."""
    t0 = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - t0


def parallelism_now(n: int = 15_000_000) -> float:
    """How many cores two CPU-bound processes get right now, compared with one (2.0 on an
    idle 2-core machine; less when other work shares the cores)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as pool:
        list(pool.map(_burn, [1000, 1000]))  # started
        one = pool.submit(_burn, n).result()
        t0 = time.perf_counter()
        list(pool.map(_burn, [n, n]))
        both = time.perf_counter() - t0
    return 2 * one / both


def speedup(runs: int, work: Path) -> dict[str, Any]:
    """Whole-sweep wall times of ``runs`` short runs on 2 workers (first: worker start-up
    from cold, as a command pays it) and on 1 worker."""
    from ledgerlab.sim.sweep import run_sweep

    sweep = _sweep(SHORT, runs)
    before = parallelism_now()
    t0 = time.perf_counter()
    report = run_sweep(sweep, work / "pool", workers=2, progress=False)
    parallel = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_sweep(sweep, work / "serial", workers=1, progress=False)
    serial = time.perf_counter() - t0
    after = parallelism_now()
    assert report.ok == runs
    ratio = serial / parallel
    return {
        "runs": runs,
        "parallelism": (before + after) / 2,
        "serial_s": serial,
        "parallel_s": parallel,
        "startup_s": _startup_cold(),
        "per_run_s": serial / runs,
        "speedup": ratio,
        "passed": ratio >= TARGET_SPEEDUP,
    }


def overhead(runs: int, work: Path) -> dict[str, Any]:
    """Per-run cost of the runner over calling ``run`` on the same scenarios."""
    from ledgerlab.sim.run import run
    from ledgerlab.sim.sweep import run_sweep

    sweep = _sweep(TINY, runs)
    scenarios = [sweep.scenario(spec) for spec in sweep.specs()]
    run(scenarios[0], progress=False)  # warm caches and imports

    def direct() -> float:
        t0 = time.perf_counter()
        for scenario in scenarios:
            run(scenario, progress=False)
        return time.perf_counter() - t0

    before = direct()
    t0 = time.perf_counter()
    report = run_sweep(sweep, work / "overhead", workers=1, progress=False)
    through = time.perf_counter() - t0
    after = direct()
    base = (before + after) / 2
    per_run_ms = (through - base) / runs * 1000
    assert report.ok == runs
    return {
        "runs": runs,
        "direct_s": base,
        "direct_spread_s": abs(before - after),
        "sweep_s": through,
        "run_ms": base / runs * 1000,
        "overhead_ms": per_run_ms,
        "passed": per_run_ms <= TARGET_OVERHEAD_MS,
    }


def _child_memory(runs: int, out: str) -> None:
    """In a fresh process: a sweep of ``runs`` tiny runs on 2 workers; prints JSON."""
    from ledgerlab.sim.sweep import run_sweep

    points = 100
    sweep = _sweep(TINY, max(1, runs // points), points=points)
    worker_peak = [0]
    stop = threading.Event()

    def watch() -> None:
        try:
            import psutil
        except ImportError:
            return
        me = psutil.Process()
        while not stop.is_set():
            for child in me.children(recursive=True):
                try:
                    worker_peak[0] = max(worker_peak[0], child.memory_info().rss)
                except psutil.Error:
                    pass
            stop.wait(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    t0 = time.perf_counter()
    report = run_sweep(sweep, out, workers=2, progress=False)
    wall = time.perf_counter() - t0
    stop.set()
    print(
        json.dumps(
            {
                "runs": report.ok,
                "failed": report.failed,
                "wall_s": wall,
                "peak_rss_bytes": _peak_rss_bytes(),
                "worker_peak_rss_bytes": worker_peak[0],
            }
        )
    )


def memory(sizes: tuple[int, int], work: Path) -> dict[str, Any]:
    """Peak RSS of the sweep process at two sweep sizes, each in a fresh process."""
    results = []
    for runs in sizes:
        out = work / f"memory-{runs}"
        done = subprocess.run(
            [sys.executable, __file__, "--child-memory", str(runs), str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"memory child ({runs} runs) failed:\n{done.stderr[-3000:]}")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        shutil.rmtree(out, ignore_errors=True)
    small, large = results
    growth = large["peak_rss_bytes"] / small["peak_rss_bytes"] - 1
    return {
        "small": small,
        "large": large,
        "growth": growth,
        "passed": growth <= TARGET_MEMORY_GROWTH and small["failed"] == large["failed"] == 0,
    }


def dask(runs: int, work: Path) -> dict[str, Any]:
    """The same tiny runs on the process pool and on an embedded LocalCluster, both with
    their workers started (start-ups reported apart)."""
    from ledgerlab.sim.sweep import _Pool, run_sweep

    try:
        import distributed
    except ImportError:
        return {"skipped": "dask[distributed] is not installed (extra 'cluster')"}
    import logging

    sweep = _sweep(TINY, runs)
    run_sweep(sweep, work / "warm", workers=2, progress=False)  # forkserver started
    t0 = time.perf_counter()
    _Pool(2).close()
    pool_start = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_sweep(sweep, work / "pool", workers=2, progress=False)
    pool = time.perf_counter() - t0 - pool_start
    t0 = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    client = distributed.Client(cluster)
    startup = time.perf_counter() - t0
    try:
        run_sweep(sweep, work / "dask-warm", client=client, progress=False)  # imports done
        t0 = time.perf_counter()
        report = run_sweep(sweep, work / "dask", client=client, progress=False)
        on_dask = time.perf_counter() - t0
    finally:
        client.close()
        cluster.close()
    assert report.ok == runs
    return {
        "runs": runs,
        "pool_s": pool,
        "dask_s": on_dask,
        "pool_start_s": pool_start,
        "startup_s": startup,
        "pool_ms": pool / runs * 1000,
        "dask_ms": on_dask / runs * 1000,
        "extra_ms": (on_dask - pool) / runs * 1000,
    }


def throughput(runs: int, work: Path, epochs: int | None = None) -> dict[str, Any]:
    """Runs per minute of ``ledgerlab sweep`` over ``runs`` replicates of the baseline
    (``epochs`` shortens each run: then informational) on 2 workers, timed as a whole
    command, with the free cores probed before and after."""
    text = THROUGHPUT + (f"zip:\n  epochs: [{epochs}]\n" if epochs else "")
    text += f"replicates: {runs}\nseed: 1\n"
    sweep_file = work / "throughput.yaml"
    sweep_file.write_text(text)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "ledgerlab.analysis.cli", "sweep", str(sweep_file)]
    cmd += ["--out", str(work / "throughput"), "--workers", "2"]
    before = parallelism_now()
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - t0
    after = parallelism_now()
    if done.returncode != 0:
        raise RuntimeError(f"throughput sweep failed:\n{done.stderr[-3000:]}")
    cores = (before + after) / 2
    rate = runs / wall * 60.0
    at_two = rate * 2.0 / max(cores, 1e-9)
    return {
        "runs": runs,
        "epochs": epochs,
        "wall_s": wall,
        "parallelism": cores,
        "runs_per_min": rate,
        "runs_per_min_2_cores": at_two,
        "passed": bool(at_two >= TARGET_RUNS_PER_MIN),
    }


# --------------------------------------------------------------------------- report


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(results: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str, str]] = []
    s = results.get("speedup")
    if s:
        tag = f"speed-up, {s['runs']} runs of {s['per_run_s']:.2f} s"
        rows.append((tag, "1 worker (in-process)", f"{s['serial_s']:.1f} s", "", ""))
        rows.append((tag, "2 workers (process pool)", f"{s['parallel_s']:.1f} s", "", ""))
        rows.append((tag, "  (2-worker pool start-up, cold)", f"{s['startup_s']:.1f} s", "", ""))
        rows.append(
            (
                tag,
                "speed-up without the cold start-up",
                f"{s['serial_s'] / max(s['parallel_s'] - s['startup_s'], 1e-9):.2f}x",
                "",
                "",
            )
        )
        rows.append(
            (
                tag,
                "cores free for 2 CPU-bound processes",
                f"{s['parallelism']:.2f} (2.00 = idle machine; before/after probe)",
                "",
                "",
            )
        )
        rows.append(
            (
                tag,
                "speed-up",
                f"{s['speedup']:.2f}x",
                f">= {TARGET_SPEEDUP}x",
                _verdict(s["passed"]),
            )
        )
    o = results.get("overhead")
    if o:
        tag = f"overhead, {o['runs']} runs of {o['run_ms']:.0f} ms"
        rows.append(
            (
                tag,
                "run() called directly",
                f"{o['direct_s']:.2f} s (two passes differ by {o['direct_spread_s']:.2f} s)",
                "",
                "",
            )
        )
        rows.append((tag, "run_sweep(workers=1), all included", f"{o['sweep_s']:.2f} s", "", ""))
        rows.append(
            (
                tag,
                "runner overhead per run",
                f"{o['overhead_ms']:.1f} ms",
                f"<= {TARGET_OVERHEAD_MS:g} ms",
                _verdict(o["passed"]),
            )
        )
    m = results.get("memory")
    if m:
        for key in ("small", "large"):
            r = m[key]
            tag = f"memory, {r['runs']:,} runs, 2 workers"
            rows.append((tag, "wall time", f"{r['wall_s']:.0f} s", "", ""))
            rows.append(
                (tag, "peak RSS, sweep process", f"{r['peak_rss_bytes'] / 2**20:.0f} MiB", "", "")
            )
            rows.append(
                (
                    tag,
                    "peak RSS, largest worker",
                    f"{r['worker_peak_rss_bytes'] / 2**20:.0f} MiB",
                    "",
                    "",
                )
            )
        rows.append(
            (
                "memory",
                "peak RSS growth, large vs small",
                f"{m['growth'] * 100:+.1f} %",
                f"<= {TARGET_MEMORY_GROWTH * 100:g} %",
                _verdict(m["passed"]),
            )
        )
    d = results.get("dask")
    if d:
        if "skipped" in d:
            rows.append(("dask", "skipped", d["skipped"], "", ""))
        else:
            tag = f"dask, {d['runs']} tiny runs, 2 workers"
            rows.append((tag, "process pool per run", f"{d['pool_ms']:.1f} ms", "", ""))
            rows.append((tag, "process pool start-up (warm)", f"{d['pool_start_s']:.2f} s", "", ""))
            rows.append((tag, "Dask LocalCluster per run", f"{d['dask_ms']:.1f} ms", "", ""))
            rows.append((tag, "Dask extra per run", f"{d['extra_ms']:+.1f} ms", "", ""))
            rows.append((tag, "LocalCluster start-up", f"{d['startup_s']:.1f} s", "", ""))
    t = results.get("throughput")
    summary: list[str] = []
    if t:
        tag = f"throughput, {t['runs']} baseline runs, 2 workers"
        rows.append((tag, "ledgerlab sweep, whole command", f"{t['wall_s']:.1f} s", "", ""))
        rows.append((tag, "cores free (probe)", f"{t['parallelism']:.2f}", "", ""))
        rows.append((tag, "runs per minute", f"{t['runs_per_min']:.1f}", "", ""))
        rows.append(
            (
                tag,
                "runs per minute at 2 free cores",
                f"{t['runs_per_min_2_cores']:.1f}",
                f">= {TARGET_RUNS_PER_MIN:g}",
                _verdict(t["passed"]),
            )
        )
        short = f" (runs shortened to {t['epochs']} epochs: informational)" if t["epochs"] else ""
        summary.append(
            f"TARGET 5: sweep of {t['runs']} baseline runs on 2 workers "
            f"{t['runs_per_min_2_cores']:.1f} runs/min at 2 free cores ({t['runs_per_min']:.1f} "
            f"measured with {t['parallelism']:.2f} cores free) >= {TARGET_RUNS_PER_MIN:g} "
            f"{_verdict(t['passed'])}{short}"
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)] if rows else [0] * 5
    return "\n".join(
        ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
        + summary
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a minute)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--child-memory", nargs=2, metavar=("RUNS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_memory:
        _child_memory(int(args.child_memory[0]), args.child_memory[1])
        return 0
    sizes = QUICK if args.quick else FULL
    print(f"bench_sweep: {_load()}" + ("; quick sizes" if args.quick else ""), flush=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench_sweep-") as tmp:
        work = Path(tmp)
        if "speedup" in args.sections:
            results["speedup"] = speedup(sizes.short_runs, work)
            print(f"  speed-up done ({_load()})", flush=True)
        if "overhead" in args.sections:
            results["overhead"] = overhead(sizes.overhead_runs, work)
            print(f"  overhead done ({_load()})", flush=True)
        if "memory" in args.sections:
            results["memory"] = memory(sizes.memory_runs, work)
            print(f"  memory done ({_load()})", flush=True)
        if "dask" in args.sections:
            results["dask"] = dask(sizes.dask_runs, work)
            print(f"  dask done ({_load()})", flush=True)
        if "throughput" in args.sections:
            results["throughput"] = throughput(sizes.throughput_runs, work, sizes.throughput_epochs)
            print(f"  throughput done ({_load()})", flush=True)
    print(report(results))
    missed = [k for k, v in results.items() if isinstance(v, dict) and v.get("passed") is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
