"""Writing result folders so that a user's files are never lost and nothing is half-written.

Every folder ledgerlab writes (a run, a sweep, a comparison, a tokenomics projection) goes
through :func:`atomic_dir`:

* **Only our own folders are replaced.** The target may be absent, an empty folder, or a
  folder an earlier ledgerlab command wrote — recognised by the marker file
  :data:`MARKER` it holds, which lists the entries that command wrote. Anything else that
  exists is refused with a one-line :class:`OutputError`: the working folder, a parent of
  it, a mount point, a symbolic link, a file, a non-empty folder of the user's. An earlier
  run folder that also holds files ledgerlab did not write is refused too, unless
  ``force``; then only ledgerlab's own entries are replaced, one by one, and the user's
  files stay where they are (``force`` never deletes a file ledgerlab did not write).
* **All or nothing.** Files are written into a hidden ``.NAME.PID.XXXX.partial`` folder
  beside the target, which is renamed into place at the very end. An error, Ctrl-C or
  SIGTERM (the CLI turns it into an exception) removes the partial folder; one left by a
  killed process is removed by the next write into the same parent once its writer is gone.
* **One writer wins.** The final swap happens under an advisory lock on the parent
  folder; if another command wrote the target after this one started, this one stops with
  a clean message instead of overwriting it.
* **One-line errors.** Unwritable places, special file systems and a full disk raise
  :class:`OutputError` naming the folder and the reason, never a traceback.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledgerlab.sim.run import RunResult

__all__ = [
    "MARKER",
    "OutputError",
    "atomic_dir",
    "check_target",
    "clean_json",
    "is_ledgerlab_folder",
    "read_marker",
    "register_entries",
    "unique_name",
    "write_run",
    "write_run_files",
]

MARKER = ".ledgerlab.json"
"""Marker file in every folder ledgerlab writes: its kind, writer id, version and entries."""

_PARTIAL = ".partial"
_OLD = ".old"


class OutputError(ValueError):
    """An output folder cannot be written; the message says which folder and why."""


# ----------------------------------------------------------------------------- markers


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of a folder ledgerlab wrote, or None (no marker, or not readable)."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("entries"), list) else None


def is_ledgerlab_folder(folder: Path) -> bool:
    """True if ``folder`` holds a ledgerlab marker file."""
    return read_marker(Path(folder)) is not None


def _write_marker(folder: Path, kind: str, writer: str) -> None:
    from ledgerlab import __version__

    entries = sorted(p.name for p in folder.iterdir() if p.name != MARKER)
    text = json.dumps(
        {"kind": kind, "writer": writer, "version": __version__, "entries": entries}, indent=1
    )
    (folder / MARKER).write_text(text + "\n", encoding="utf-8")


def register_entries(folder: Path, names: list[str]) -> None:
    """Record extra entries a later command added to a ledgerlab folder (e.g. a report), so
    that they count as ledgerlab's own when the folder is replaced."""
    marker = read_marker(folder)
    if marker is None:
        raise OutputError(f"{folder} is not a folder ledgerlab wrote (no {MARKER})")
    marker["entries"] = sorted(set(marker["entries"]) | set(names))
    (folder / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------ target checks


@dataclass(frozen=True)
class TargetState:
    """What an output target was when a write began.

    Attributes:
        path: The target, made absolute.
        writer: Writer id in the target's marker (None: absent or empty folder).
        foreign: Entries of an earlier ledgerlab folder that ledgerlab did not write.
    """

    path: Path
    writer: str | None
    foreign: tuple[str, ...]


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _forbidden(path: Path) -> str | None:
    """Why ``path`` can never be an output folder, or None."""
    try:
        cwd = Path.cwd().resolve()
    except OSError:
        cwd = None
    resolved = path.resolve()
    if cwd is not None and (resolved == cwd or resolved in cwd.parents):
        return (
            "is the working folder or one of its parents; name a new subfolder, e.g. results/run1"
        )
    if resolved == Path(resolved.anchor):
        return "is the root of the file system; name a new folder"
    if path.is_symlink():
        return "is a symbolic link; give the folder it points to, or a new folder"
    if path.exists() and not path.is_dir():
        return "exists and is not a folder; choose a new folder"
    if path.is_dir() and os.path.ismount(path):
        return "is a mount point; name a new folder inside it"
    return None


def _count(n: int) -> str:
    return "1 entry" if n == 1 else f"{n} entries"


def check_target(target: Path | str, *, force: bool = False) -> TargetState:
    """Check that ``target`` may be written (see the module docstring) and return its state.

    Call it before long work, so a refused folder is reported before the run, not after.
    """
    path = Path(os.path.abspath(Path(target).expanduser()))
    why = _forbidden(path)
    if why:
        raise OutputError(f"output folder {target}: {why}")
    if not path.exists():
        return TargetState(path, None, ())
    try:
        entries = sorted(p.name for p in path.iterdir())
    except OSError as exc:
        raise OutputError(f"output folder {target}: cannot read it: {_reason(exc)}") from None
    if not entries:
        return TargetState(path, None, ())
    marker = read_marker(path)
    if marker is None:
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise OutputError(
            f"output folder {target} exists, is not empty ({_count(len(entries))}: {shown}) and "
            "was not written by ledgerlab; nothing was changed. Choose a new folder"
        )
    own = set(marker["entries"]) | {MARKER}
    foreign = tuple(e for e in entries if e not in own)
    if foreign and not force:
        raise OutputError(
            f"output folder {target} is an earlier ledgerlab run but also holds files ledgerlab "
            f"did not write ({', '.join(foreign[:3])}); move them, choose a new folder, or pass "
            "--force to replace only ledgerlab's files and keep yours"
        )
    return TargetState(path, str(marker.get("writer")), foreign)


# ---------------------------------------------------------------------- stale partials


def _process_started_after(pid: int, when: float) -> bool:
    """True if process ``pid`` is not running, or started after ``when`` (a reused pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        return os.stat(f"/proc/{pid}").st_ctime > when + 1.0
    except OSError:
        return False


def _clean_stale(parent: Path) -> None:
    """Remove partial and superseded folders left in ``parent`` by writers that are gone."""
    try:
        candidates = [p for p in parent.iterdir() if p.name.startswith(".")]
    except OSError:
        return
    for p in candidates:
        if not (p.name.endswith(_PARTIAL) or p.name.endswith(_OLD)):
            continue
        parts = p.name.split(".")
        try:
            pid = int(parts[-3])
            created = p.stat().st_mtime
        except (ValueError, IndexError, OSError):
            continue
        if _process_started_after(pid, created):
            shutil.rmtree(p, ignore_errors=True)


# ------------------------------------------------------------------------- the writer


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``folder`` (held briefly, for the final swap)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _sibling(parent: Path, name: str, suffix: str) -> Path:
    return parent / f".{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{suffix}"


def _swap(tmp: Path, state: TargetState) -> None:
    """Put the complete folder ``tmp`` in place of the target (caller holds the lock)."""
    target = state.path
    if state.foreign:  # --force: replace ledgerlab's entries one by one, keep the user's
        marker = target / MARKER
        marker.unlink(missing_ok=True)  # first: an interruption leaves no false marker
        for entry in sorted(tmp.iterdir(), key=lambda p: p.name == MARKER):
            dest = target / entry.name
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            os.replace(entry, dest)
        tmp.rmdir()
        return
    if target.exists() and any(target.iterdir()):
        old = _sibling(target.parent, target.name, _OLD)
        os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            os.replace(old, target)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)  # onto an empty folder or nothing


def _current_writer(path: Path) -> str | None:
    marker = read_marker(path) if path.is_dir() else None
    return None if marker is None else str(marker.get("writer"))


@contextlib.contextmanager
def atomic_dir(
    target: Path | str, *, force: bool = False, kind: str = "run", state: TargetState | None = None
) -> Iterator[Path]:
    """Yield a fresh hidden folder that becomes ``target`` when the block ends cleanly.

    Args:
        target: The folder to write (see the module docstring for what may be replaced).
        force: Replace only ledgerlab's own entries of an earlier folder that also holds
            the user's files, keeping those files.
        kind: What is written (``run``, ``sweep``, ``comparison``, ``tokenomics``), recorded
            in the marker.
        state: The target's state from an earlier :func:`check_target` (taken before a
            long computation); checked again here.
    """
    state = state or check_target(target, force=force)
    parent = state.path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _clean_stale(parent)
        tmp = _sibling(parent, state.path.name, _PARTIAL)
        tmp.mkdir()  # honours the umask, unlike tempfile.mkdtemp
    except OSError as exc:
        raise OutputError(f"cannot create output folder {target}: {_reason(exc)}") from None
    try:
        try:
            yield tmp
            _write_marker(tmp, kind, uuid.uuid4().hex)
            with _locked(parent):
                if _current_writer(state.path) != state.writer:
                    raise OutputError(
                        f"another ledgerlab command wrote {target} while this one was running; "
                        "it was left as the other one wrote it and this result was not saved. "
                        "Give each command its own folder"
                    )
                _swap(tmp, state)
        except OSError as exc:
            raise OutputError(f"cannot write output folder {target}: {_reason(exc)}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ------------------------------------------------------------------------------ runs


def _json_default(value: Any) -> Any:
    """Make numpy scalars and non-finite floats JSON-friendly."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)


def clean_json(obj: Any) -> Any:
    """Recursively replace NaN/inf by None and numpy scalars by Python ones."""
    if isinstance(obj, Mapping):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean_json(v) for v in obj]
    return _json_default(obj)


def write_run_files(
    result: RunResult, folder: Path, extra: Mapping[str, Callable[[Path], None]] | None = None
) -> None:
    """Write a run's tables, summary and resolved scenario into an existing ``folder``."""
    from ledgerlab.scenarios import to_yaml

    # Parquet is always written (``ledgerlab.load`` reads it); ``collect.formats: [csv]``
    # adds CSV copies for tools that want text.
    result.timeseries.to_parquet(folder / "timeseries.parquet", index=False)
    result.agents.to_parquet(folder / "agents.parquet", index=False)
    if "csv" in result.scenario.collect.formats:
        result.timeseries.to_csv(folder / "timeseries.csv", index=False)
        result.agents.to_csv(folder / "agents.csv", index=False)
    (folder / "summary.json").write_text(
        json.dumps(clean_json(result.summary), indent=2, sort_keys=True) + "\n"
    )
    (folder / "scenario.resolved.yaml").write_text(to_yaml(result.scenario))
    for name, writer in (extra or {}).items():
        writer(folder / name)


def write_run(
    result: RunResult,
    out: Path | str,
    *,
    extra: Mapping[str, Callable[[Path], None]] | None = None,
    force: bool = False,
    state: TargetState | None = None,
) -> Path:
    """Write ``timeseries.parquet``, ``agents.parquet``, ``summary.json`` and
    ``scenario.resolved.yaml`` (plus ``extra`` files, each written by its callable into
    the given path) into the run folder ``out``, all or nothing. Returns the folder."""
    with atomic_dir(out, force=force, kind="run", state=state) as tmp:
        write_run_files(result, tmp, extra)
    return Path(out)


def unique_name(stem: str, text: str) -> str:
    """``stem-xxxxxxxx``: a folder name unique to ``text`` (e.g. a resolved scenario)."""
    import hashlib

    return f"{stem}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
