"""Writing a run's outputs atomically.

A run folder is complete or absent: everything is written into a hidden temporary
folder beside the target and renamed into place at the very end. An error (or Ctrl-C)
part-way removes the temporary folder, so a half-written run can never be mistaken for a
finished one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledgerlab.sim.run import RunResult


class OutputError(ValueError):
    """The output folder cannot be written (exists and is not replaceable, not writable)."""


@contextlib.contextmanager
def atomic_dir(target: Path | str, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``target`` when the block ends cleanly.

    If ``target`` exists it is replaced only when ``overwrite`` is true; the old folder is
    removed only after the new one is complete.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise OutputError(f"output folder {target} already exists; choose another --out")
    if target.exists() and not target.is_dir():
        raise OutputError(f"output path {target} exists and is not a folder")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {parent}: {exc}") from exc
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; a run folder gets the usual mode
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if target.exists():
        old = parent / f".{target.name}.old-{tmp.name}"
        target.rename(old)
    tmp.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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


def write_run(
    result: RunResult,
    out: Path | str,
    *,
    extra: Mapping[str, Callable[[Path], None]] | None = None,
) -> Path:
    """Write ``timeseries.parquet``, ``agents.parquet``, ``summary.json`` and
    ``scenario.resolved.yaml`` (plus ``extra`` files, each written by its callable into
    the given path) into ``out`` atomically. Returns the final folder.
    """
    from ledgerlab.scenarios import to_yaml

    out = Path(out)
    with atomic_dir(out) as tmp:
        # Parquet is always written (``analysis.load`` reads it); ``collect.formats: [csv]``
        # adds CSV copies for tools that want text.
        result.timeseries.to_parquet(tmp / "timeseries.parquet", index=False)
        result.agents.to_parquet(tmp / "agents.parquet", index=False)
        if "csv" in result.scenario.collect.formats:
            result.timeseries.to_csv(tmp / "timeseries.csv", index=False)
            result.agents.to_csv(tmp / "agents.csv", index=False)
        (tmp / "summary.json").write_text(
            json.dumps(clean_json(result.summary), indent=2, sort_keys=True) + "\n"
        )
        (tmp / "scenario.resolved.yaml").write_text(to_yaml(result.scenario))
        for name, writer in (extra or {}).items():
            writer(tmp / name)
    return out
