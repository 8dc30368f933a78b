"""Tests for sim.sweep, the sweep runner, and ``ledgerlab sweep``: one code path in-process,
on a process pool and on Dask with identical results; failures recorded; resume; killed
workers and killed sweeps; the sweep folder's files; loading with filters.

Every sweep here is a tiny world (4 epochs, a dozen individuals: ~70 ms a run)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.dataset as ds
import pytest
from typer.testing import CliRunner

from ledgerlab.analysis.cli import app, is_user_error
from ledgerlab.analysis.results import load
from ledgerlab.scenarios.sweep import load_sweep
from ledgerlab.sim.output import MARKER, OutputError, read_marker
from ledgerlab.sim.sweep import (
    ClusterUnavailableError,
    RunOutcome,
    SweepError,
    read_manifest,
    run_sweep,
)

TINY_BASE = """\
base:
  name: tiny
  seed: 5
  epochs: 4
  population:
    providers: 8
    consumers: 6
    builders: 1
    validators: 2
    farmers: {duplicate: 2, near_duplicate: 1}
    poisoners: {label_flip: 1}
  datanets:
    - {seed_points: 40, validation_points: 60}
  attribution: {test_points: 40, ground_truth: {every_epochs: 2}}
"""

SWEEP = (
    "# Question: a tiny sweep for the tests\n"
    + TINY_BASE
    + """\
grid:
  population.providers: [6, 9]
variants:
  none: {defenses: []}
  dedup: {defenses: [{kind: dedup}]}
replicates: 2
seed: 11
"""
)

TIMING = ["seconds", "host", "pid", "started", "finished"]
runner = CliRunner()


@pytest.fixture
def sweep_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny_sweep.yaml"
    path.write_text(SWEEP)
    return path


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _frames(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    res = load(out)
    return res.timeseries, res.summary, res.manifest.drop(columns=TIMING)


def _run_ids(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "runs").iterdir())


# ------------------------------------------------------------------------ backends


def test_serial_pool_and_dask_give_identical_frames(
    sweep_file: Path, tmp_path: Path, dask_client: Any
) -> None:
    sweep = load_sweep(sweep_file)
    serial = run_sweep(sweep, tmp_path / "serial", workers=1, progress=False)
    pool = run_sweep(sweep, tmp_path / "pool", workers=2, progress=False)
    on_dask = run_sweep(sweep, tmp_path / "dask", client=dask_client, progress=False)
    assert (serial.ok, pool.ok, on_dask.ok) == (8, 8, 8)
    assert serial.backend.startswith("serial") and pool.backend.startswith("processes")
    assert on_dask.backend.startswith("dask")
    reference = _frames(tmp_path / "serial")
    for other in ("pool", "dask"):
        for a, b in zip(reference, _frames(tmp_path / other), strict=True):
            pd.testing.assert_frame_equal(a, b)
    ts, summary, manifest = reference
    assert list(ts.columns[:6]) == [
        "run_id",
        "variant",
        "point",
        "replicate",
        "seed",
        "population.providers",
    ]
    assert len(summary) == 8 and summary["run_id"].is_unique
    assert set(manifest["status"]) == {"ok"}
    assert ts.groupby("run_id").size().eq(4).all()  # 4 epochs, every run once
    # the swept value is stored, not parsed back out of the id
    assert (summary["population.providers"] == summary["point"].map({0: 6, 1: 9})).all()
    # common random numbers: one seed per replicate across variants and points
    assert summary.groupby("replicate")["seed"].nunique().eq(1).all()
    assert summary["seed"].nunique() == 2


def test_the_sweep_folder_holds_what_the_docs_say(sweep_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_sweep(load_sweep(sweep_file), out, workers=1, progress=False)
    assert read_marker(out)["kind"] == "sweep"
    names = {p.name for p in out.iterdir()}
    assert {
        MARKER,
        "sweep.yaml",
        "sweep.json",
        "base.resolved.yaml",
        "runs",
        "manifest.jsonl",
        "manifest.parquet",
        "manifest.json",
        "timeseries",
        "summary.parquet",
    } <= names
    assert (out / "sweep.yaml").read_text() == SWEEP
    run = out / "runs" / "dedup-p1-r0"
    assert {p.name for p in run.iterdir()} >= {
        "timeseries.parquet",
        "summary.parquet",
        "summary.json",
        "agents.parquet",
        "scenario.json",
        "run.json",
        MARKER,
    }
    # a run folder loads on its own, and its scenario reruns it
    alone = load(run)
    assert alone.summary["population.providers"].iloc[0] == 9
    from ledgerlab.scenarios import load as load_scenario

    scenario = load_scenario(run / "scenario.json")
    assert scenario.population.providers == 9 and [d.kind for d in scenario.defenses] == ["dedup"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"ok": 8, "failed": 0, "pending": 0}
    assert manifest["sweep"]["file"] == str(sweep_file)
    assert manifest["sweep"]["parameters"] == ["population.providers"]
    assert "name: tiny" in manifest["base_scenario"]
    assert manifest["ledgerlab_version"] and "commit" in manifest["git"]
    assert len(manifest["runs"]) == 8 and manifest["runs"][0]["run_id"] == "none-p0-r0"
    # partitioned: one folder per variant
    assert sorted(p.name for p in (out / "timeseries").iterdir()) == [
        "variant=dedup",
        "variant=none",
    ]


def test_load_filters_by_a_parameter_and_reads_only_what_it_needs(
    sweep_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run_sweep(load_sweep(sweep_file), out, workers=1, progress=False)
    res = load(out, filters=[("population.providers", "=", 9)], columns=["epoch", "price_usd"])
    assert set(res.summary["population.providers"]) == {9}
    assert len(res.summary) == 4 and len(res.timeseries) == 16
    assert list(res.timeseries.columns) == [
        "run_id",
        "variant",
        "point",
        "replicate",
        "seed",
        "population.providers",
        "epoch",
        "price_usd",
    ]
    assert set(res.manifest["population.providers"]) == {9}
    dedup = load(out, filters=[("variant", "=", "dedup"), ("epoch", ">=", 2)])
    assert set(dedup.summary["variant"]) == {"dedup"} and len(dedup.summary) == 4
    assert set(dedup.timeseries["epoch"]) == {2, 3}
    # the variant filter prunes whole partitions: only the dedup folder is opened
    dataset = ds.dataset(out / "timeseries", format="parquet", partitioning="hive")
    fragments = list(dataset.get_fragments(filter=ds.field("variant") == "dedup"))
    assert fragments and all("variant=dedup" in f.path for f in fragments)
    assert load(out, agents=True).agents["run_id"].nunique() == 8
    assert load(out).agents.empty  # agents are read only when asked for


def test_finished_models_are_freed_so_memory_stays_flat(sweep_file: Path, tmp_path: Path) -> None:
    import gc
    import weakref

    from ledgerlab.sim.model import EconomyModel

    alive: list[weakref.ref[Any]] = []
    worlds = 0
    original = EconomyModel.__init__

    def tracked(self: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal worlds
        original(self, *args, **kwargs)
        alive.append(weakref.ref(self))  # worlds and their counterfactual twins
        worlds += not self.is_twin

    EconomyModel.__init__ = tracked  # type: ignore[method-assign]
    try:
        run_sweep(load_sweep(sweep_file), tmp_path / "out", workers=1, progress=False)
    finally:
        EconomyModel.__init__ = original  # type: ignore[method-assign]
    gc.collect()
    assert worlds == 8 and len(alive) >= worlds
    assert [ref for ref in alive if ref() is not None] == []  # Mesa's Agent._ids let go


# ------------------------------------------------------------------------ failures


def test_a_run_that_raises_is_recorded_and_the_others_complete(
    sweep_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledgerlab.sim.run as run_module

    real = run_module.run

    def flaky(scenario: Any, **kwargs: Any) -> Any:
        if kwargs.get("run_id") == "dedup-p0-r1":
            raise RuntimeError("boom in the model")
        return real(scenario, **kwargs)

    monkeypatch.setattr(run_module, "run", flaky)
    out = tmp_path / "out"
    report = run_sweep(load_sweep(sweep_file), out, workers=1, progress=False)
    assert (report.ok, report.failed, report.exit_status) == (7, 1, 1)
    assert report.failures == (("dedup-p0-r1", "RuntimeError: boom in the model"),)
    manifest = read_manifest(out).set_index("run_id")
    assert manifest.loc["dedup-p0-r1", "status"] == "failed"
    assert "boom in the model" in manifest.loc["dedup-p0-r1", "traceback"]
    assert "Traceback" in manifest.loc["dedup-p0-r1", "traceback"]
    assert (manifest.drop(index="dedup-p0-r1")["status"] == "ok").all()
    assert "dedup-p0-r1" not in _run_ids(out)  # no folder for a failed run
    res = load(out)
    assert len(res.summary) == 7 and "dedup-p0-r1" not in set(res.timeseries["run_id"])
    assert list(res.manifest.loc[res.manifest["status"] == "failed", "run_id"]) == ["dedup-p0-r1"]
    # --resume retries the failed run only
    monkeypatch.setattr(run_module, "run", real)
    seen: list[str] = []
    again = run_sweep(
        load_sweep(sweep_file),
        out,
        workers=1,
        resume=True,
        progress=False,
        on_run=lambda o: seen.append(o.run_id),
    )
    assert seen == ["dedup-p0-r1"] and (again.ok, again.failed, again.skipped) == (8, 0, 7)


def test_resume_after_deleting_runs_redoes_only_those(sweep_file: Path, tmp_path: Path) -> None:
    import shutil

    sweep = load_sweep(sweep_file)
    out = tmp_path / "out"
    run_sweep(sweep, out, workers=1, progress=False)
    before = _frames(out)
    kept = out / "runs" / "none-p0-r0" / "run.json"
    stamp = kept.stat().st_mtime_ns
    for rid in ("none-p1-r1", "dedup-p0-r0"):
        shutil.rmtree(out / "runs" / rid)
    # leftovers of a sweep killed while writing a run or compacting
    (out / "runs" / ".none-p1-r1.999.ab12cd34.partial").mkdir()
    (out / ".timeseries.999.ab12cd34.partial").mkdir()
    (out / ".summary.parquet.999.ab12cd34.tmp").write_text("half")
    seen: list[str] = []
    report = run_sweep(
        sweep, out, workers=1, resume=True, progress=False, on_run=lambda o: seen.append(o.run_id)
    )
    assert sorted(seen) == ["dedup-p0-r0", "none-p1-r1"]
    assert (report.ok, report.skipped, report.failed) == (8, 6, 0)
    assert kept.stat().st_mtime_ns == stamp  # finished runs are not touched
    for a, b in zip(before, _frames(out), strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert not [p for p in out.iterdir() if p.name.endswith((".partial", ".tmp"))]
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]


def test_resume_refuses_a_folder_of_another_sweep(sweep_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    sweep = load_sweep(sweep_file)
    run_sweep(sweep.with_replicates(1), out, workers=1, progress=False)
    with pytest.raises(SweepError, match="holds a different sweep") as info:
        run_sweep(sweep, out, workers=1, resume=True, progress=False)
    assert is_user_error(info.value)
    # without --resume the earlier sweep folder is replaced
    report = run_sweep(sweep, out, workers=1, progress=False)
    assert report.ok == 8 and len(_run_ids(out)) == 8


def test_a_users_folder_is_never_used(sweep_file: Path, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match="was not written by ledgerlab"):
        run_sweep(load_sweep(sweep_file), mine, workers=1, progress=False)
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_one_sweep_at_a_time_per_folder(sweep_file: Path, tmp_path: Path) -> None:
    from ledgerlab.sim.sweep import _lock

    out = tmp_path / "out"
    run_sweep(load_sweep(sweep_file).with_replicates(1), out, workers=1, progress=False)
    fd = _lock(out)  # as if another sweep were running there
    try:
        with pytest.raises(SweepError, match="another ledgerlab sweep"):
            run_sweep(load_sweep(sweep_file), out, workers=1, resume=True, progress=False)
        with pytest.raises(SweepError, match="another ledgerlab sweep"):
            run_sweep(load_sweep(sweep_file), out, workers=1, progress=False)
    finally:
        os.close(fd)


# ----------------------------------------------------------------------- killing


def test_a_worker_killed_mid_sweep_is_redone_exactly_once(sweep_file: Path, tmp_path: Path) -> None:
    sweep = load_sweep(sweep_file).with_replicates(3)  # 12 runs
    killed: list[int] = []

    def kill_once(outcome: RunOutcome) -> None:
        if not killed and outcome.pid != os.getpid():
            killed.append(outcome.pid)
            os.kill(outcome.pid, signal.SIGKILL)  # a worker dies with runs in flight

    out = tmp_path / "killed"
    report = run_sweep(sweep, out, workers=2, progress=False, on_run=kill_once)
    assert killed and (report.ok, report.failed) == (12, 0)
    assert _run_ids(out) == sorted(s.run_id for s in sweep.specs())
    assert not any(p.name.startswith(".") for p in (out / "runs").iterdir())
    clean = tmp_path / "clean"
    run_sweep(sweep, clean, workers=1, progress=False)
    for a, b in zip(_frames(clean), _frames(out), strict=True):
        pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("after", [1, 5])
def test_a_sweep_killed_at_any_moment_resumes_to_every_run_exactly_once(
    sweep_file: Path, tmp_path: Path, after: int
) -> None:
    out = tmp_path / "out"
    cli = [sys.executable, "-m", "ledgerlab.analysis.cli"]
    command = [*cli, "sweep", str(sweep_file), "--out", str(out), "--workers", "1"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        runs = out / "runs"
        if runs.is_dir() and sum(1 for p in runs.iterdir() if not p.name.startswith(".")) >= after:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)  # no cleanup at all
    process.wait()
    done = [p.name for p in (out / "runs").iterdir() if not p.name.startswith(".")]
    assert after <= len(done) < 8
    sweep = load_sweep(sweep_file)
    report = run_sweep(sweep, out, workers=1, resume=True, progress=False)
    assert (report.ok, report.failed, report.skipped) == (8, 0, len(done))
    assert _run_ids(out) == sorted(s.run_id for s in sweep.specs())
    res = load(out)
    assert res.summary["run_id"].is_unique and len(res.summary) == 8
    assert res.timeseries.groupby("run_id").size().eq(4).all()
    assert set(res.manifest["status"]) == {"ok"}


# --------------------------------------------------------------------- backends


def test_without_dask_the_cluster_backend_says_how_to_install_it(
    sweep_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ClusterUnavailableError, match=r"pip install 'ledgerlab\[cluster\]'"):
        run_sweep(load_sweep(sweep_file), tmp_path / "o", cluster="tcp://127.0.0.1:1")
    assert not (tmp_path / "o").exists()  # refused before touching the folder


def test_an_unreachable_cluster_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("distributed")
    from ledgerlab.sim import sweep as sweep_module

    monkeypatch.setattr(sweep_module, "CONNECT_TIMEOUT", "0.5s")
    with pytest.raises(ClusterUnavailableError, match="cannot reach the Dask scheduler"):
        sweep_module._Dask(address="tcp://127.0.0.1:1")


# ------------------------------------------------------------------ command line


def test_cli_dry_run_prints_the_count_and_the_first_runs(sweep_file: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["sweep", str(sweep_file), "--dry-run", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{sweep_file}: 2 variants × 2 points × 2 replicates = 8 runs"
    assert lines[1].split() == [
        "run_id",
        "variant",
        "point",
        "replicate",
        "seed",
        "population.providers",
    ]
    assert lines[2].split()[:4] == ["none-p0-r0", "none", "0", "0"]
    assert not (tmp_path / "o").exists()


def test_cli_sweep_runs_and_exit_status_counts_failures(
    sweep_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledgerlab.sim.run as run_module

    real = run_module.run

    def flaky(scenario: Any, **kwargs: Any) -> Any:
        if kwargs.get("run_id", "").startswith("dedup-p1"):
            raise ValueError("bad region")
        return real(scenario, **kwargs)

    monkeypatch.setattr(run_module, "run", flaky)
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["sweep", str(sweep_file), "--out", str(out), "--workers", "1", "--no-progress"]
    )
    assert result.exit_code == 2, result.output  # two failed runs
    assert "8 runs: 6 ok, 2 failed" in result.stdout
    assert "failed: dedup-p1-r0: ValueError: bad region" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout.rstrip().endswith(f"wrote {out}")


@pytest.mark.parametrize(
    ("options", "status", "message"),
    [
        (["--dask", "--cluster", "tcp://x:1"], 2, "alternatives; choose one"),
        (["--workers", "2", "--cluster", "tcp://x:1"], 2, "brings its own workers"),
        (["--workers", "0"], 2, "--workers"),
    ],
)
def test_cli_usage_errors(sweep_file: Path, options: list[str], status: int, message: str) -> None:
    result = runner.invoke(app, ["sweep", str(sweep_file), *options])
    assert result.exit_code == status, result.output
    assert result.stderr.startswith("error: ") and message in result.stderr


def test_cli_bad_sweep_file_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: baseline\nzip:\n  epochs: [1, 2]\n  population.providers: [5]\n")
    result = runner.invoke(app, ["sweep", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {bad}:3:3: zip: zip lists must have the same length")
    assert not (tmp_path / "o").exists()


def test_cli_environment_cluster_yields_to_explicit_workers(
    sweep_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:1")
    result = runner.invoke(
        app,
        [
            "sweep",
            str(sweep_file),
            "--workers",
            "1",
            "--replicates",
            "1",
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "4 runs: 4 ok, 0 failed" in result.stdout


def test_interrupted_sweep_keeps_finished_runs(
    sweep_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledgerlab.sim.run as run_module

    real = run_module.run
    calls = []

    def interrupt_third(scenario: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(scenario, **kwargs)

    monkeypatch.setattr(run_module, "run", interrupt_third)
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["sweep", str(sweep_file), "--out", str(out), "--workers", "1", "--no-progress"]
    )
    assert result.exit_code == 130, result.output
    assert "2 finished runs are kept" in result.stderr and "--resume" in result.stderr
    manifest = read_manifest(out)
    assert list(manifest["status"]).count("ok") == 2
    assert list(manifest["status"]).count("pending") == 6
    assert load(out).summary["run_id"].tolist() == ["none-p0-r0", "none-p1-r0"]  # readable
