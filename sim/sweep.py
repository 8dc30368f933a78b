"""The sweep runner: every run of a sweep, in-process, on a local process pool or on Dask.

``run_sweep(sweep, out)`` runs every run of a :class:`~ledgerlab.scenarios.sweep.Sweep`
(``ledgerlab sweep FILE`` on the command line) through **one code path** with three
places to run it:

* ``workers=1``: in this process, one run after the other;
* ``workers=N`` (default: the cores this process may use): a local process pool
  (``concurrent.futures.ProcessPoolExecutor``; "forkserver" workers on Linux, "spawn"
  elsewhere, one BLAS thread each so N workers on N cores do not oversubscribe);
* ``dask=True`` (an embedded ``distributed.LocalCluster``), ``cluster=ADDRESS`` (an
  existing Dask scheduler; the CLI also reads ``DASK_SCHEDULER_ADDRESS``) or ``client=``
  (a ``distributed.Client`` you made): the same tasks as Dask futures. Dask is the
  optional extra ``cluster`` (``pip install 'ledgerlab[cluster]'``); without it these raise
  :class:`ClusterUnavailableError` saying so.

A worker runs one scenario and returns its files as bytes (Parquet, JSON) with a small
status record; only this process writes to ``OUT``. So a Dask cluster needs no file
system shared with its workers, a worker killed mid-run can never leave half a folder,
and a task Dask happens to run twice writes once.

What ``OUT`` holds::

    OUT/.ledgerlab.json      marker: a ledgerlab folder of kind "sweep"
    OUT/sweep.yaml           the sweep file as given (its text)
    OUT/sweep.json           what was run: digest, counts, seeds, variants, parameters
    OUT/base.resolved.yaml   the base scenario, every field explicit
    OUT/runs/<run_id>/       one folder per finished run, written atomically:
        timeseries.parquet   one row per epoch; run_id, variant, point, replicate, seed
                             and every swept parameter (dotted path) as columns
        summary.parquet      the final KPIs, one row, the same identifying columns
        summary.json         the same, readable
        agents.parquet       agent snapshots (``collect.agent_snapshot_every_epochs``)
        scenario.json        the run's resolved scenario (JSON, which is YAML:
                             ``ledgerlab run OUT/runs/<id>/scenario.json`` reruns it)
        run.json             status record: seconds, host, pid, times
    OUT/manifest.jsonl       one JSON line per finished or failed run, appended as they
                             end (flushed at once, fsynced at most once a second)
    OUT/manifest.parquet     per planned run: id, variant, point, replicate, seed,
                             parameters, status (ok / failed / pending), seconds, error,
                             traceback (written at the start, rewritten at the end)
    OUT/manifest.json        the same runs, readable, with the sweep file, the resolved
                             base scenario, the ledgerlab version, the git commit
    OUT/timeseries/          compacted timeseries of every finished run: Parquet (zstd),
                             one folder per variant (``variant=<name>/``, hive style),
                             runs in point order, row groups of whole runs (at
                             most 256 runs or ~32k rows), so
                             ``pyarrow.dataset`` skips variants by folder and parameter
                             ranges by row-group statistics
    OUT/summary.parquet      compacted summaries, one row per finished run (zstd)

Guarantees:

* **The folder.** ``OUT`` must be new, empty, or a folder ledgerlab wrote (never a user's
  folder: :func:`ledgerlab.sim.output.check_target`). Without ``resume`` an earlier
  ledgerlab folder there is replaced, all or nothing, when the new sweep starts (as
  ``ledgerlab run`` replaces an earlier run folder). With ``resume`` an earlier sweep
  folder is continued; it is refused if it holds a different sweep (its digest: base
  scenario, variants, points and seeds — comments and layout of the file may change).
  One sweep at a time writes a folder (an advisory lock on ``OUT/.lock``).
* **Failures.** A run that raises is recorded (``failed``, its error and traceback) and
  the sweep goes on; the report counts the failures (the CLI's exit status is their
  number, at most 100).
* **A worker killed mid-run.** Its run is redone on a fresh pool (Dask reschedules it
  itself). The runs that were in flight when a pool broke are retried one at a time, so
  the one that kills its worker is found; after two deaths on its own it is recorded as
  failed and the others proceed.
* **Resume.** ``resume=True`` skips the runs whose folder exists (a run folder appears
  only complete) and redoes the others, failed ones included. A sweep killed at any
  moment — SIGKILL included — and resumed ends with every run exactly once.
* **Memory stays flat.** At most a few runs are in flight (2 per worker); results go to
  disk as they arrive and nothing holds all runs. The compaction at the end streams run
  by run.
* **Interrupts.** Ctrl-C or SIGTERM stops the workers, keeps every finished run, writes
  the manifest (unfinished runs ``pending``) and re-raises; resume later.
* **Reproducible.** Run ``r`` of every variant and point has replicate ``r``'s seed
  (common random numbers); a run's outcome depends only on its scenario and seed, so
  serial, pool and Dask give identical tables.
* **Readable while it runs.** ``ledgerlab.load(OUT)`` reads the compacted dataset once the
  sweep has finished, and the finished runs' own files before that (a running or an
  interrupted sweep); ``read_manifest(OUT)`` is current at any moment.

Practicalities: a script that runs a sweep on worker processes must keep that code under
``if __name__ == "__main__":`` (Python's rule for process pools: workers import the
script again; the CLI and notebooks need nothing). Dask workers of a ``cluster=`` must run
the same ledgerlab version (checked on connection). The compacted dataset is rebuilt at
the end of every call, a resumed one included.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback as tb
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from ledgerlab.scenarios import Scenario
from ledgerlab.scenarios.sweep import RunSpec, Sweep, load_sweep
from ledgerlab.sim.output import (
    OutputError,
    _write_marker,
    atomic_dir,
    check_target,
    clean_json,
    read_marker,
    register_entries,
)

if TYPE_CHECKING:
    from ledgerlab.analysis.results import Results

__all__ = [
    "ID_COLUMNS",
    "SWEEP_ENTRIES",
    "ClusterUnavailableError",
    "RunOutcome",
    "RunTask",
    "SweepError",
    "SweepReport",
    "default_folder",
    "execute",
    "git_commit",
    "read_manifest",
    "run_sweep",
    "sweep",
]

ID_COLUMNS = ("run_id", "variant", "point", "replicate", "seed")
"""Columns that identify a run in every sweep table, before the swept parameters."""

SWEEP_ENTRIES = (
    ".lock",
    "sweep.yaml",
    "sweep.json",
    "base.resolved.yaml",
    "runs",
    "manifest.jsonl",
    "manifest.parquet",
    "manifest.json",
    "timeseries",
    "summary.parquet",
    "comparison.csv",
    "comparison.png",
    "summary_by_variant.csv",
)
"""Entries of a sweep folder (registered in its marker, so they count as ledgerlab's)."""

RUN_FILES = (
    "timeseries.parquet",
    "summary.parquet",
    "summary.json",
    "agents.parquet",
    "scenario.json",
    "run.json",
)
"""Files of one run's folder under ``OUT/runs/``."""

LAYOUT = 1
"""Version of the sweep folder layout (in ``sweep.json``)."""

BLAS_THREAD_VARS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
"""Thread-count variables of the BLAS libraries; set to 1 for worker processes."""

MAX_EXIT_FAILURES = 100
"""The CLI's exit status counts failed runs up to this."""

SOLO_DEATHS = 2
"""A run whose worker dies this many times while it runs alone is recorded as failed."""

ROW_GROUP_ROWS = 32_768
"""Compacted timeseries: a row group holds whole runs, about this many rows..."""

ROW_GROUP_RUNS = 256
"""... or this many runs, whichever comes first (bounds the memory of compaction)."""

FILE_ROWS = 2_000_000
"""Compacted timeseries: a new file per variant after about this many rows."""

_FSYNC_SECONDS = 1.0

CONNECT_TIMEOUT = "20s"
"""How long to try reaching a Dask scheduler given by address."""


class SweepError(ValueError):
    """A sweep cannot run (its folder, backend or options); the message says what to do."""


class ClusterUnavailableError(SweepError):
    """The Dask backend was asked for but cannot be used (not installed, unreachable)."""


# ---------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class RunTask(RunSpec):
    """What a worker needs for one run: its identity and parameters (a
    :class:`~ledgerlab.scenarios.sweep.RunSpec`) and its validated scenario."""

    scenario: Scenario


@dataclass
class RunOutcome:
    """What a worker sends back: a small status record and the run's files as bytes.

    Attributes:
        run_id: The run.
        status: ``ok`` or ``failed``.
        seconds: Wall time of the run, files included (s).
        error: ``Type: message`` of a failure, else None.
        traceback: The failure's traceback, else None.
        files: File name → content, for the run folder (empty for a failure).
        host, pid: Where it ran.
        started, finished: UTC ISO times.
    """

    run_id: str
    status: str
    seconds: float
    error: str | None = None
    traceback: str | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    host: str = ""
    pid: int = 0
    started: str = ""
    finished: str = ""

    def record(self) -> dict[str, Any]:
        """The manifest line of this outcome (no files)."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "seconds": round(self.seconds, 6),
            "error": self.error,
            "traceback": self.traceback,
            "host": self.host,
            "pid": self.pid,
            "started": self.started,
            "finished": self.finished,
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def execute(task: RunTask) -> RunOutcome:
    """Run one task and return its outcome; never raises for a failing run (its error and
    traceback are in the outcome). Top-level, so process pools and Dask can pickle it."""
    from ledgerlab.sim.run import run

    started, t0 = _now(), time.perf_counter()
    where = {"host": socket.gethostname(), "pid": os.getpid(), "started": started}
    try:
        result = run(task.scenario, progress=False, run_id=task.run_id)
        files = _run_files(task, result.timeseries, result.agents, result.summary)
        seconds = time.perf_counter() - t0
        status = {
            "run_id": task.run_id,
            "variant": task.variant,
            "point": task.point,
            "replicate": task.replicate,
            "seed": task.seed,
            "params": dict(task.params),
            "status": "ok",
            "seconds": round(seconds, 6),
            **where,
            "finished": _now(),
        }
        files["run.json"] = _json_bytes(status)
        return RunOutcome(task.run_id, "ok", seconds, files=files, **where, finished=_now())
    except Exception as exc:  # every failure of a run is recorded, not raised
        return RunOutcome(
            task.run_id,
            "failed",
            time.perf_counter() - t0,
            error=f"{type(exc).__name__}: {exc}",
            traceback=tb.format_exc(),
            **where,
            finished=_now(),
        )


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(clean_json(data), indent=1, sort_keys=False) + "\n").encode()


def _param_value(value: Any) -> Any:
    """A swept value as a table cell: scalars as they are, lists and mappings as JSON."""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _column(value: Any, n: int) -> pa.Array:
    """``n`` copies of one scalar, typed by the scalar (bool, int64, float64, string)."""
    if isinstance(value, bool):
        return pa.array([value] * n, pa.bool_())
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return pa.array([value] * n, pa.int64())
    if isinstance(value, float):
        return pa.array([value] * n, pa.float64())
    if value is None:
        return pa.nulls(n, pa.float64())
    return pa.array([str(value)] * n, pa.string())


def _id_columns(task: RunTask, n: int) -> dict[str, pa.Array]:
    cols = {
        "run_id": _column(task.run_id, n),
        "variant": _column(task.variant, n),
        "point": _column(task.point, n),
        "replicate": _column(task.replicate, n),
        "seed": _column(task.seed, n),
    }
    for path, value in task.params.items():
        cols[path] = _column(_param_value(value), n)
    return cols


def _with_ids(task: RunTask, table: pa.Table) -> pa.Table:
    """``table`` with the identifying and parameter columns first (replacing any of the
    same name), without pandas metadata."""
    ids = _id_columns(task, table.num_rows)
    rest = [name for name in table.column_names if name not in ids]
    arrays = [*ids.values(), *(table[name] for name in rest)]
    return pa.Table.from_arrays(arrays, names=[*ids, *rest])


def _flat(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flat(value, f"{name}."))
        else:
            out[name] = value
    return out


def _summary_table(task: RunTask, summary: Mapping[str, Any]) -> pa.Table:
    """One row: identifying columns, parameters, then every KPI typed by its value
    (lists of scalars as list<string>, e.g. ``defenses``)."""
    table = pa.table({})
    arrays: dict[str, pa.Array] = {}
    for key, value in _flat(summary).items():
        if hasattr(value, "item") and not isinstance(value, list | tuple):
            value = value.item()
        if isinstance(value, list | tuple):
            arrays[key] = pa.array([[str(v) for v in value]], pa.list_(pa.string()))
        else:
            arrays[key] = _column(value, 1)
    table = pa.Table.from_arrays(list(arrays.values()), names=list(arrays))
    return _with_ids(task, table)


def _parquet(table: pa.Table) -> bytes:
    """A small Parquet file as bytes: snappy, no dictionaries or statistics (the compacted
    dataset has its own; these cost a third of the write for a 100-column table)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy", use_dictionary=False, write_statistics=False)
    return sink.getvalue().to_pybytes()


def _arrow(frame: Any) -> pa.Table:
    """A pandas frame as an Arrow table without pandas metadata (column by column: about
    twice as fast as ``Table.from_pandas`` for the model's wide, short frames)."""
    if frame.empty and len(frame.columns) == 0:
        return pa.table({})
    return pa.table({str(name): column.to_numpy() for name, column in frame.items()})


def _read(file: Path) -> pa.Table:
    """A small Parquet file, read on this thread (6x faster than a threaded read here)."""
    return pq.ParquetFile(file).read(use_threads=False)


def _run_files(
    task: RunTask, timeseries: Any, agents: Any, summary: Mapping[str, Any]
) -> dict[str, bytes]:
    ts, ag = _arrow(timeseries), _arrow(agents)
    ids = {
        "run_id": task.run_id,
        "variant": task.variant,
        "point": task.point,
        "replicate": task.replicate,
        "seed": task.seed,
    }
    readable = {
        **ids,
        **dict(task.params),
        **{k: v for k, v in summary.items() if k not in ids and k not in task.params},
    }
    return {
        "timeseries.parquet": _parquet(_with_ids(task, ts)),
        "summary.parquet": _parquet(_summary_table(task, summary)),
        "summary.json": (json.dumps(clean_json(readable), indent=2) + "\n").encode(),
        "agents.parquet": _parquet(ag),
        "scenario.json": (task.scenario.model_dump_json(indent=1) + "\n").encode(),
    }


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class SweepReport:
    """How a sweep went.

    Attributes:
        out: The sweep folder.
        total: Runs in the sweep.
        ok: Runs finished (including those kept from before a resume).
        failed: Runs that raised.
        skipped: Runs already finished before this call (resume).
        seconds: Wall time of this call (s).
        backend: ``serial``, ``processes`` or ``dask``, with its worker count.
        failures: ``(run_id, error)`` of the failed runs (at most 20).
    """

    out: Path
    total: int
    ok: int
    failed: int
    skipped: int
    seconds: float
    backend: str
    failures: tuple[tuple[str, str], ...] = ()

    @property
    def exit_status(self) -> int:
        """The number of failed runs, at most :data:`MAX_EXIT_FAILURES` (0 = all ok)."""
        return min(self.failed, MAX_EXIT_FAILURES)

    def load(self, **kwargs: Any) -> Results:
        """The sweep's results (``ledgerlab.load(out, **kwargs)``)."""
        from ledgerlab.analysis.results import load

        return load(self.out, **kwargs)


# --------------------------------------------------------------------------- folder


def default_folder(sweep: Sweep) -> Path:
    """``results/<sweep name>-<first 8 hex of its digest>``: one folder per distinct sweep."""
    return Path("results") / f"{sweep.name}-{sweep.digest[:8]}"


def git_commit() -> dict[str, Any]:
    """The git commit of the ledgerlab source tree (None when not a git checkout), and
    whether it had uncommitted changes."""
    here = Path(__file__).resolve().parent
    try:
        top = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.split()
        root = Path(top[0])
        project = (root / "pyproject.toml").read_text(encoding="utf-8")
        if 'name = "ledgerlab"' not in project:
            return {"commit": None, "dirty": None}  # some other repository around an install
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        return {"commit": top[1], "dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        return {"commit": None, "dirty": None}


def _lock(out: Path) -> int:
    """Hold ``OUT/.lock`` for this process (released when the fd closes)."""
    path = out / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            other = os.read(fd, 64).decode(errors="replace").strip() or "?"
        finally:
            os.close(fd)
        raise SweepError(
            f"another ledgerlab sweep (pid {other}) is writing {out} right now; wait for it "
            "to finish or give this one another --out"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _identity(sweep: Sweep) -> dict[str, Any]:
    return {
        "layout": LAYOUT,
        "digest": sweep.digest,
        "name": sweep.name,
        "source": sweep.source,
        "description": sweep.description,
        "runs": sweep.n_runs,
        "variants": list(sweep.variants),
        "points": sweep.n_points,
        "replicates": sweep.replicates,
        "master_seed": sweep.seed,
        "seeds": list(sweep.seeds),
        "parameters": list(sweep.parameters),
        "reference": sweep.reference,
        "overrides": {k: dict(v) for k, v in sweep.overrides.items()},
        "design": sweep.design.record() if sweep.design is not None else None,
    }


def _prepare(sweep: Sweep, out: Path, *, resume: bool, force: bool) -> tuple[int, set[str]]:
    """Create or continue the sweep folder; returns (lock fd, ids of runs already done)."""
    from ledgerlab.scenarios import to_yaml

    state = check_target(out, force=force or resume)
    marker = read_marker(out) if out.is_dir() else None
    kind = marker.get("kind") if marker else None
    if resume and kind == "sweep":
        fd = _lock(out)
        try:
            identity = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            identity = {}
        if identity.get("digest") != sweep.digest:
            os.close(fd)
            raise SweepError(
                f"{out} holds a different sweep (its base scenario, variants, points or seeds "
                "differ from this file's); resume it with its own sweep file, run without "
                "--resume to replace it, or choose another --out"
            )
        register_entries(out, list(SWEEP_ENTRIES))
        runs = out / "runs"
        runs.mkdir(exist_ok=True)
        for entry in runs.iterdir():  # partial folders of a killed sweep (we hold the lock)
            if entry.name.startswith("."):
                shutil.rmtree(entry, ignore_errors=True)
        for entry in out.iterdir():  # temporary files of a sweep killed while finishing
            if entry.name.startswith(".") and entry.name.endswith((".partial", ".tmp")):
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
        for stale in ("timeseries", "summary.parquet", "manifest.json"):
            target = out / stale
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        done = {p.name for p in runs.iterdir() if (p / "run.json").is_file()}
        return fd, done
    if resume and marker is not None:
        raise SweepError(
            f"{out} is a ledgerlab {kind} folder, not a sweep folder: there is nothing to "
            "resume; run without --resume to replace it, or choose another --out"
        )
    old_lock = None
    if kind == "sweep" and (out / ".lock").exists():
        old_lock = _lock(out)  # refuse to replace a sweep that is running
    try:
        with atomic_dir(out, force=force, kind="sweep", state=state) as tmp:
            (tmp / "sweep.yaml").write_text(sweep.text or "# built in Python\n", encoding="utf-8")
            (tmp / "sweep.json").write_text(json.dumps(_identity(sweep), indent=1) + "\n")
            (tmp / "base.resolved.yaml").write_text(to_yaml(sweep.base), encoding="utf-8")
            (tmp / "runs").mkdir()
            (tmp / "manifest.jsonl").touch()
            (tmp / ".lock").touch()
    finally:
        if old_lock is not None:
            os.close(old_lock)
    register_entries(out, list(SWEEP_ENTRIES))
    return _lock(out), set()


def _write_run_folder(runs: Path, outcome: RunOutcome) -> None:
    """Write one finished run's folder all or nothing (temp folder, then rename)."""
    final = runs / outcome.run_id
    tmp = runs / f".{outcome.run_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial"
    try:
        tmp.mkdir()
        for name, data in outcome.files.items():
            (tmp / name).write_bytes(data)
        _write_marker(tmp, "run", uuid.uuid4().hex)
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "run.json").is_file():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # already written (a task run twice)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(
            f"cannot write run folder {final}: {exc.strerror or exc}; the sweep stopped, "
            "finished runs are kept (resume with --resume)"
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class _Journal:
    """``manifest.jsonl``: one JSON line per ended run, flushed at once, fsynced at most
    once a second (a killed process loses nothing; a power cut at most a second, and the
    run folders stay the truth for finished runs)."""

    def __init__(self, path: Path) -> None:
        self.stream = open(path, "a", encoding="utf-8")  # closed in close()
        self.synced = time.monotonic()

    def write(self, record: Mapping[str, Any]) -> None:
        self.stream.write(json.dumps(clean_json(record), separators=(",", ":")) + "\n")
        self.stream.flush()
        if time.monotonic() - self.synced > _FSYNC_SECONDS:
            os.fsync(self.stream.fileno())
            self.synced = time.monotonic()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.stream.flush()
            os.fsync(self.stream.fileno())
        self.stream.close()


# ------------------------------------------------------------------------- manifest


def _read_journal(path: Path) -> dict[str, dict[str, Any]]:
    """The last record of every run in ``manifest.jsonl`` (a torn last line is skipped)."""
    records: dict[str, dict[str, Any]] = {}
    try:
        with open(path, encoding="utf-8") as stream:
            for line in stream:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and "run_id" in record:
                    records[str(record["run_id"])] = record
    except OSError:
        pass
    return records


_MANIFEST_FIELDS = ("status", "seconds", "error", "traceback", "host", "pid", "started", "finished")


def _manifest_rows(
    sweep: Sweep, out: Path, journal: Mapping[str, dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """One row per planned run: identity, parameters, then its status from the run
    folders (finished) and the journal (failed), else ``pending``."""
    runs = out / "runs"
    for spec in sweep.specs():
        row: dict[str, Any] = {
            "run_id": spec.run_id,
            "variant": spec.variant,
            "point": spec.point,
            "replicate": spec.replicate,
            "seed": spec.seed,
            **{k: _param_value(v) for k, v in spec.params.items()},
        }
        record = _status(spec.run_id, journal, runs)
        for name in _MANIFEST_FIELDS:
            row[name] = record.get(name)
        yield row


_MANIFEST_BATCH = 2048


def _manifest_schema(sweep: Sweep) -> pa.Schema:
    """Identity columns, one column per parameter (typed from the points), status fields."""
    fields = [pa.field(name, _MANIFEST_TYPES[name]) for name in ID_COLUMNS]
    for path in sweep.parameters:
        values = [_param_value(point.get(path)) for point in sweep.points]
        inferred = pa.array(values).type
        fields.append(pa.field(path, pa.float64() if pa.types.is_null(inferred) else inferred))
    fields += [pa.field(name, _MANIFEST_TYPES[name]) for name in _MANIFEST_FIELDS]
    return pa.schema(fields)


def _write_manifest(sweep: Sweep, out: Path, extra: Mapping[str, Any]) -> dict[str, int]:
    """Write ``manifest.parquet`` and ``manifest.json`` (each atomically), streaming the
    runs in batches; returns the counts per status."""
    journal = _read_journal(out / "manifest.jsonl")
    counts = {"ok": 0, "failed": 0, "pending": 0}
    for row in _manifest_rows(sweep, out, journal):
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    schema = _manifest_schema(sweep)

    def write_parquet(path: str) -> None:
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            batch: list[dict[str, Any]] = []
            for row in _manifest_rows(sweep, out, journal):
                batch.append(row)
                if len(batch) == _MANIFEST_BATCH:
                    writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                    batch = []
            if batch or not counts:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))

    def write_json(path: str) -> None:
        head = json.dumps(clean_json({**extra, "counts": counts}), indent=1)
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(head[:-2] + ',\n "runs": [')
            for i, row in enumerate(_manifest_rows(sweep, out, journal)):
                kept = {k: v for k, v in row.items() if v is not None}
                stream.write(("\n  " if i == 0 else ",\n  ") + json.dumps(clean_json(kept)))
            stream.write("\n ]\n}\n")

    _replace_file(out / "manifest.parquet", write_parquet)
    _replace_file(out / "manifest.json", write_json)
    return counts


_MANIFEST_TYPES = {
    "run_id": pa.string(),
    "variant": pa.string(),
    "point": pa.int64(),
    "replicate": pa.int64(),
    "seed": pa.int64(),
    "status": pa.string(),
    "seconds": pa.float64(),
    "error": pa.string(),
    "traceback": pa.string(),
    "host": pa.string(),
    "pid": pa.int64(),
    "started": pa.string(),
    "finished": pa.string(),
}


def _replace_file(path: Path, write: Callable[[str], None]) -> None:
    """Write ``path`` through a temporary file renamed into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(str(tmp))
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _header(sweep: Sweep, backend: str) -> dict[str, Any]:
    from ledgerlab import __version__
    from ledgerlab.scenarios import to_yaml

    return {
        "sweep": {
            "file": sweep.source,
            "name": sweep.name,
            "digest": sweep.digest,
            "text": sweep.text,
            "description": sweep.description,
            "variants": list(sweep.variants),
            "parameters": list(sweep.parameters),
            "points": sweep.n_points,
            "replicates": sweep.replicates,
            "master_seed": sweep.seed,
            "seeds": list(sweep.seeds),
        },
        "base_scenario": to_yaml(sweep.base),
        "ledgerlab_version": __version__,
        "git": git_commit(),
        "python": sys.version.split()[0],
        "backend": backend,
        "written": _now(),
    }


def read_manifest(out: str | Path) -> Any:
    """The manifest of a sweep folder as a pandas frame, current even while the sweep runs
    or after it was killed: ``manifest.parquet`` brought up to date from the journal and
    the run folders."""
    folder = Path(out)
    frame = pq.read_table(folder / "manifest.parquet").to_pandas()
    journal = _read_journal(folder / "manifest.jsonl")
    runs = folder / "runs"
    for i, rid in enumerate(frame["run_id"]):
        record = _status(rid, journal, runs)
        for name in _MANIFEST_FIELDS:
            if name in frame.columns:
                frame.at[i, name] = record.get(name)
    return frame


def _status(run_id: str, journal: Mapping[str, dict[str, Any]], runs: Path) -> dict[str, Any]:
    """A run's manifest record: its folder's ``run.json`` if it finished, else its last
    journal record (failed), else pending."""
    record = journal.get(run_id)
    finished = (runs / run_id / "run.json").is_file()
    if finished and (record is None or record.get("status") != "ok"):
        try:
            record = json.loads((runs / run_id / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = {"status": "ok"}
    if record is None or (record.get("status") == "ok" and not finished):
        record = {"status": "pending"}
    return record


# ------------------------------------------------------------------------- backends


class _Serial:
    """Runs each task at once in this process."""

    name = "serial"
    workers = 1

    def __init__(self) -> None:
        self.done: deque[tuple[Any, RunOutcome | BaseException]] = deque()

    def submit(self, task: RunTask) -> Any:
        handle = object()
        self.done.append((handle, execute(task)))
        return handle

    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, RunOutcome | BaseException]]:
        out = list(self.done)
        self.done.clear()
        return out

    def restart(self) -> None:  # pragma: no cover - a serial run cannot lose a worker
        pass

    def close(self, abort: bool = False) -> None:
        pass


def _ping() -> int:
    return os.getpid()


def _init_worker() -> None:
    """Pool worker start: the parent handles Ctrl-C (and stops the workers), one BLAS
    thread (already set in the environment the worker inherited)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for var in BLAS_THREAD_VARS:
        os.environ[var] = "1"


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """BLAS thread variables set to 1 while worker processes start (they inherit them)."""
    saved = {var: os.environ.get(var) for var in BLAS_THREAD_VARS}
    os.environ.update({var: "1" for var in BLAS_THREAD_VARS})
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _context() -> Any:
    """Worker start method: forkserver on Linux (safe with threads, fast restarts, with
    ledgerlab preloaded), spawn elsewhere."""
    if sys.platform.startswith("linux"):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["ledgerlab.sim.sweep", "ledgerlab.sim.run"])
        return ctx
    return multiprocessing.get_context("spawn")


class _Pool:
    """A local ``ProcessPoolExecutor``; a broken pool (a killed worker) is replaced."""

    name = "processes"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool = self._start()

    def _start(self) -> Any:
        from concurrent.futures import ProcessPoolExecutor

        with _one_blas_thread():
            pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=_context(), initializer=_init_worker
            )
            try:
                pool.submit(_ping).result()
            except Exception as exc:
                if not _broken(exc):
                    raise
                pool.shutdown(wait=False, cancel_futures=True)
                raise SweepError(
                    "the worker processes could not start. From a script, put the code that "
                    "runs the sweep under `if __name__ == '__main__':` (worker processes "
                    "import the script again), or run in this process with workers=1"
                ) from None
        return pool

    def submit(self, task: RunTask) -> Any:
        with _one_blas_thread():
            return self.pool.submit(execute, task)

    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, RunOutcome | BaseException]]:
        from concurrent.futures import FIRST_COMPLETED, wait

        done, _ = wait(list(handles), return_when=FIRST_COMPLETED)
        out: list[tuple[Any, RunOutcome | BaseException]] = []
        for future in done:
            try:
                out.append((future, future.result()))
            except Exception as exc:  # BrokenProcessPool and the like
                out.append((future, exc))
        return out

    def restart(self) -> None:
        self.close(abort=True)
        self.pool = self._start()

    def close(self, abort: bool = False) -> None:
        if not abort:
            self.pool.shutdown(wait=True)
            return
        processes = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with contextlib.suppress(Exception):
                process.terminate()
        for process in processes:
            with contextlib.suppress(Exception):
                process.join(5)


def _broken(exc: BaseException) -> bool:
    from concurrent.futures.process import BrokenProcessPool

    return isinstance(exc, BrokenProcessPool)


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterUnavailableError(
            "the Dask backend (--dask / --cluster) needs the optional extra 'cluster': "
            "pip install 'ledgerlab[cluster]'"
        ) from None
    return distributed


def _worker_version() -> str:
    from ledgerlab import __version__

    return __version__


class _Dask:
    """Tasks as Dask futures on a ``distributed.Client`` (given, connected or embedded)."""

    name = "dask"

    def __init__(self, *, client: Any = None, address: str | None = None, workers: int = 0) -> None:
        distributed = _distributed()
        self.own_cluster = None
        self.own_client = client is None
        self.address = address
        if client is not None:
            self.client = client
        elif address:
            try:
                self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError, ValueError) as exc:
                raise ClusterUnavailableError(
                    f"cannot reach the Dask scheduler at {address}: {exc}; check the address "
                    "(tcp://host:8786) and that the scheduler is running"
                ) from None
            self._check_versions()
        else:
            import logging

            self.own_cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            self.client = distributed.Client(self.own_cluster)
        info = self.client.scheduler_info() or {}
        self.workers = max(1, len(info.get("workers", {})) or workers or 1)
        self.completed = distributed.as_completed()
        self.token = uuid.uuid4().hex[:8]

    def _check_versions(self) -> None:
        from ledgerlab import __version__

        try:
            versions = self.client.run(_worker_version)
        except Exception as exc:  # any failure means the workers lack ledgerlab
            raise ClusterUnavailableError(
                f"the Dask workers at {self.address} cannot run ledgerlab ({type(exc).__name__}: "
                f"{exc}); install ledgerlab {__version__} on every worker"
            ) from None
        other = sorted({v for v in versions.values() if v != __version__})
        if other:
            raise ClusterUnavailableError(
                f"the Dask workers at {self.address} run ledgerlab {', '.join(other)}, this is "
                f"{__version__}; install the same version everywhere"
            )

    def submit(self, task: RunTask) -> Any:
        future = self.client.submit(
            execute, task, key=f"ledgerlab-{task.run_id}-{self.token}", pure=False
        )
        self.completed.add(future)
        return future

    def wait(self, handles: Iterable[Any]) -> list[tuple[Any, RunOutcome | BaseException]]:
        future = next(self.completed)
        try:
            result: RunOutcome | BaseException = future.result()
        except BaseException as exc:  # KilledWorker, CancelledError, ...
            if isinstance(exc, KeyboardInterrupt):
                raise
            result = exc
        future.release()
        return [(future, result)]

    def restart(self) -> None:  # Dask reschedules lost tasks itself
        pass

    def close(self, abort: bool = False) -> None:
        with contextlib.suppress(Exception):
            self.completed.clear()
        if self.own_client:
            with contextlib.suppress(Exception):
                self.client.close()
        if self.own_cluster is not None:
            with contextlib.suppress(Exception):
                self.own_cluster.close()


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _check_backend(*, workers: int | None, dask: bool, cluster: str | None, client: Any) -> None:
    """Refuse a choice of more than one Dask backend, or fewer than one worker."""
    if sum(bool(x) for x in (dask, cluster, client is not None)) > 1:
        raise SweepError("choose one Dask backend: dask=True, cluster=ADDRESS or client=")
    if workers is not None and workers < 1:
        raise SweepError(f"workers must be >= 1 (got {workers})")


def _backend(
    *, workers: int | None, dask: bool, cluster: str | None, client: Any, todo: int
) -> Any:
    _check_backend(workers=workers, dask=dask, cluster=cluster, client=client)
    if client is not None or cluster:
        return _Dask(client=client, address=cluster)
    n = workers if workers is not None else _cores()
    if dask:
        return _Dask(workers=max(1, min(n, todo)))
    n = max(1, min(n, todo))
    return _Serial() if n == 1 else _Pool(n)


# --------------------------------------------------------------------------- runner


@dataclass
class _Tally:
    total: int
    skipped: int
    ok: int = 0
    failed: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    @property
    def remaining(self) -> int:
        return self.total - self.skipped - self.ok - self.failed


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    *,
    workers: int | None = None,
    dask: bool = False,
    cluster: str | None = None,
    client: Any = None,
    resume: bool = False,
    force: bool = False,
    progress: bool | None = None,
    on_run: Callable[[RunOutcome], None] | None = None,
) -> SweepReport:
    """Run every run of ``sweep`` into the sweep folder ``out`` (see the module docstring).

    Args:
        sweep: The expanded sweep (:func:`ledgerlab.scenarios.sweep.load_sweep`).
        out: The sweep folder: new, empty, an earlier ledgerlab folder (replaced), or with
            ``resume`` an earlier folder of this sweep (continued).
        workers: Local worker processes (1 = in this process; default: the cores this
            process may use); with ``dask=True`` the LocalCluster's workers.
        dask: Run on an embedded ``distributed.LocalCluster``.
        cluster: Address of a Dask scheduler (``tcp://host:8786``).
        client: A ``distributed.Client`` to submit to (e.g. a test's LocalCluster).
        resume: Continue an earlier sweep folder of the same sweep, skipping finished runs.
        force: Replace an earlier ledgerlab folder that also holds your own files (they are
            kept).
        progress: One progress bar on stderr (default: when stderr is a terminal).
        on_run: Called in this process with each outcome after it is recorded.

    Returns:
        A :class:`SweepReport`; failed runs are counted there, not raised.

    Raises:
        SweepError: The folder cannot be used (another sweep's, locked), a bad option, or
            Dask unavailable (:class:`ClusterUnavailableError`).
        OutputError: The folder cannot be written.
    """
    t0 = time.perf_counter()
    out = Path(out)
    _check_backend(workers=workers, dask=dask, cluster=cluster, client=client)
    if dask or cluster or client is not None:
        _distributed()  # fail before touching the folder
    lock, done = _prepare(sweep, out, resume=resume, force=force)
    tally = _Tally(total=sweep.n_runs, skipped=0)
    try:
        label = _run_all(
            sweep,
            out,
            done,
            tally,
            backend_options={
                "workers": workers,
                "dask": dask,
                "cluster": cluster,
                "client": client,
            },
            progress=progress,
            on_run=on_run,
        )
    finally:
        os.close(lock)
    return SweepReport(
        out=out,
        total=sweep.n_runs,
        ok=tally.ok + tally.skipped,
        failed=tally.failed,
        skipped=tally.skipped,
        seconds=time.perf_counter() - t0,
        backend=label,
        failures=tuple(tally.failures[:20]),
    )


def _run_all(
    sweep: Sweep,
    out: Path,
    done: set[str],
    tally: _Tally,
    *,
    backend_options: Mapping[str, Any],
    progress: bool | None,
    on_run: Callable[[RunOutcome], None] | None,
) -> str:
    """Run the runs not ``done`` on the backend ``backend_options`` choose (see
    :func:`_backend`), journal them, compact the folder and stamp the manifest finished;
    returns the backend's label. On any error or interrupt the backend is aborted, the
    journal closed and the manifest marked interrupted before the error goes on."""
    journal = None
    backend = None
    try:
        todo = [spec for spec in sweep.specs() if spec.run_id not in done]
        tally.skipped = sweep.n_runs - len(todo)
        backend = _backend(**backend_options, todo=max(len(todo), 1))
        label = f"{backend.name} ({backend.workers} worker{'s' if backend.workers != 1 else ''})"
        header = _header(sweep, label)
        _write_manifest(sweep, out, header)
        journal = _Journal(out / "manifest.jsonl")
        bar = _progress_bar(sweep, tally.skipped, progress)
        try:
            _drive(sweep, todo, backend, out, journal, tally, bar, on_run)
        finally:
            bar.close()
        backend.close()
        backend = None
        journal.close()
        journal = None
        _compact(sweep, out)
        header["finished"] = _now()
        _write_manifest(sweep, out, header)
    except BaseException:
        if backend is not None:
            backend.close(abort=True)
        if journal is not None:
            journal.close()
        with contextlib.suppress(Exception):
            _write_manifest(sweep, out, _header(sweep, "interrupted"))
        raise
    return label


def _progress_bar(sweep: Sweep, skipped: int, progress: bool | None) -> Any:
    """One tqdm bar on stderr over all the sweep's runs, the ``skipped`` ones counted done
    (shown when ``progress``; None: when stderr is a terminal)."""
    from tqdm.auto import tqdm

    if progress is None:
        progress = sys.stderr.isatty()
    return tqdm(
        total=sweep.n_runs,
        initial=skipped,
        desc=sweep.name,
        unit="run",
        disable=not progress,
        dynamic_ncols=True,
        leave=True,
    )


def _drive(
    sweep: Sweep,
    todo: list[RunSpec],
    backend: Any,
    out: Path,
    journal: _Journal,
    tally: _Tally,
    bar: Any,
    on_run: Callable[[RunOutcome], None] | None,
) -> None:
    """Submit runs with a bounded window, record outcomes as they come, replace a broken
    pool and retry the runs that were in flight when it broke one at a time."""
    runs = out / "runs"
    order = {spec.run_id: i for i, spec in enumerate(todo)}
    queue: deque[RunSpec] = deque(todo)
    suspects: deque[RunSpec] = deque()  # in flight when a pool broke: retried alone
    deaths: dict[str, int] = {}
    inflight: dict[Any, RunSpec] = {}
    alone: set[str] = set()
    window = 1 if isinstance(backend, _Serial) else 2 * backend.workers

    def record(spec: RunSpec, outcome: RunOutcome) -> None:
        if outcome.status == "ok":
            _write_run_folder(runs, outcome)
            tally.ok += 1
        else:
            tally.failed += 1
            tally.failures.append((spec.run_id, outcome.error or "failed"))
        journal.write(outcome.record())
        outcome.files = {}
        bar.set_postfix_str(
            f"ok {tally.ok + tally.skipped}, failed {tally.failed}, left {tally.remaining}",
            refresh=False,
        )
        bar.update(1)
        if on_run is not None:
            on_run(outcome)

    def submit(spec: RunSpec) -> bool:
        """Submit one run; False if the pool turned out to be broken."""
        task = RunTask(**vars(spec), scenario=sweep.scenario(spec))
        try:
            inflight[backend.submit(task)] = spec
        except Exception as exc:
            if not _broken(exc):
                raise
            suspects.appendleft(spec)
            return False
        return True

    while queue or suspects or inflight:
        broken = False
        if suspects:
            if not inflight:
                spec = suspects.popleft()
                alone.add(spec.run_id)
                broken = not submit(spec)
        else:
            while queue and len(inflight) < window and not broken:
                broken = not submit(queue.popleft())
        if inflight and not broken:
            for handle, result in backend.wait(inflight):
                spec = inflight.pop(handle)
                if isinstance(result, RunOutcome):
                    record(spec, result)
                elif _broken(result):
                    broken = True
                    if spec.run_id in alone:
                        deaths[spec.run_id] = deaths.get(spec.run_id, 0) + 1
                    if deaths.get(spec.run_id, 0) >= SOLO_DEATHS:
                        record(spec, _died(spec, result))
                    else:
                        suspects.append(spec)
                else:
                    record(spec, _died(spec, result))
        if broken:
            suspects.extend(inflight.values())  # every other future of the broken pool
            inflight.clear()
            suspects = deque(sorted(suspects, key=lambda s: order[s.run_id]))
            backend.restart()


def _died(spec: RunSpec, exc: BaseException) -> RunOutcome:
    """The outcome of a run whose worker died (or whose task was lost)."""
    name = type(exc).__name__
    if _broken(exc):
        message = (
            f"{name}: the worker process died {SOLO_DEATHS} times while running this run "
            "alone (killed, out of memory or crashed)"
        )
    else:
        message = f"{name}: {exc}"
    return RunOutcome(
        spec.run_id, "failed", 0.0, error=message, traceback="".join(tb.format_exception(exc))
    )


# ------------------------------------------------------------------------ compaction


def _ok_runs(sweep: Sweep, out: Path) -> list[RunSpec]:
    """Finished runs in compaction order: variant (file order), point, replicate."""
    runs = out / "runs"
    specs = [s for s in sweep.specs() if (runs / s.run_id / "run.json").is_file()]
    order = {name: i for i, name in enumerate(sweep.variants)}
    specs.sort(key=lambda s: (order[s.variant], s.point, s.replicate))
    return specs


def _unified(files: Iterable[Path]) -> pa.Schema | None:
    """One schema for tables whose columns may differ a little (missing columns become
    nulls; ints meeting floats become floats)."""
    distinct: list[pa.Schema] = []
    for file in files:
        schema = pq.read_schema(file)
        if not any(schema.equals(s) for s in distinct):
            distinct.append(schema)
    if not distinct:
        return None
    return pa.unify_schemas(distinct, promote_options="permissive")


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns, in order (missing ones null, types cast)."""
    if table.schema.equals(schema):
        return table
    names = set(table.column_names)
    arrays = []
    for f in schema:
        if f.name in names:
            column = table[f.name]
            arrays.append(column if column.type == f.type else column.cast(f.type))
        else:
            arrays.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _compact(sweep: Sweep, out: Path) -> None:
    """Write ``OUT/timeseries/`` (hive-partitioned by variant) and ``OUT/summary.parquet``
    from the run folders, streaming run by run; each replaces its earlier version."""
    specs = _ok_runs(sweep, out)
    runs = out / "runs"
    for stale in (out / "timeseries", out / "summary.parquet"):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    if not specs:
        return
    ts_schema = _unified(runs / s.run_id / "timeseries.parquet" for s in specs)
    sum_schema = _unified(runs / s.run_id / "summary.parquet" for s in specs)
    assert ts_schema is not None and sum_schema is not None
    part_schema = pa.schema([f for f in ts_schema if f.name != "variant"])
    tmp = out / f".timeseries.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial"
    tmp.mkdir()
    try:
        by_variant: dict[str, list[RunSpec]] = {}
        for spec in specs:
            by_variant.setdefault(spec.variant, []).append(spec)
        for variant, group in by_variant.items():
            folder = tmp / f"variant={variant}"
            folder.mkdir()
            _write_partition(
                folder, [runs / s.run_id / "timeseries.parquet" for s in group], part_schema
            )
        os.rename(tmp, out / "timeseries")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    def write_summary(path: str) -> None:
        with pq.ParquetWriter(path, sum_schema, compression="zstd") as writer:
            batch: list[pa.Table] = []
            for spec in specs:
                batch.append(_conform(_read(runs / spec.run_id / "summary.parquet"), sum_schema))
                if len(batch) >= ROW_GROUP_RUNS:
                    writer.write_table(pa.concat_tables(batch))
                    batch = []
            if batch:
                writer.write_table(pa.concat_tables(batch))

    _replace_file(out / "summary.parquet", write_summary)


def _write_partition(folder: Path, files: list[Path], schema: pa.Schema) -> None:
    writer = None
    part = rows_in_file = 0
    buffer: list[pa.Table] = []
    buffered = 0

    def flush() -> None:
        nonlocal writer, part, rows_in_file, buffer, buffered
        if not buffer:
            return
        if writer is None:
            writer = pq.ParquetWriter(
                folder / f"part-{part:05d}.parquet", schema, compression="zstd"
            )
        table = pa.concat_tables(buffer)
        writer.write_table(table, row_group_size=max(table.num_rows, 1))
        rows_in_file += table.num_rows
        buffer, buffered = [], 0
        if rows_in_file >= FILE_ROWS:
            writer.close()
            writer, part, rows_in_file = None, part + 1, 0

    try:
        for file in files:
            table = _conform(_read(file).drop_columns(["variant"]), schema)
            buffer.append(table)
            buffered += table.num_rows
            if buffered >= ROW_GROUP_ROWS or len(buffer) >= ROW_GROUP_RUNS:
                flush()
        flush()
    finally:
        if writer is not None:
            writer.close()


# ---------------------------------------------------------------------- convenience


def sweep(
    source: Sweep | str | Path,
    out: str | Path | None = None,
    *,
    replicates: int | None = None,
    **kwargs: Any,
) -> SweepReport:
    """Expand (if needed) and run a sweep: ``ledgerlab.sweep("engine_shootout")``.

    ``source`` is a :class:`Sweep`, a sweep file or a shipped sweep's name; ``out``
    defaults to :func:`default_folder`; ``replicates`` overrides the file's; other keyword
    arguments go to :func:`run_sweep`. Load the results with ``report.load()``.
    """
    expanded = source if isinstance(source, Sweep) else load_sweep(source)
    if replicates is not None:
        expanded = expanded.with_replicates(replicates)
    return run_sweep(expanded, out if out is not None else default_folder(expanded), **kwargs)
