"""The scenarios shipped with ledgerlab, found by name.

``ledgerlab run baseline`` and ``ledgerlab.run("baseline")`` accept a shipped scenario's
name as well as a path: :func:`resolve` turns either into a file. An existing file wins;
otherwise a bare name (``baseline`` or ``baseline.yaml``) is looked up among the YAML
files inside the installed ``ledgerlab.scenarios`` package, wherever it was installed.
"""

from __future__ import annotations

import shutil
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from ledgerlab.scenarios.loader import Problem, ScenarioError, loads, read_text_bounded
from ledgerlab.scenarios.schema import Scenario

if TYPE_CHECKING:
    from ledgerlab.scenarios.sweep import Sweep

__all__ = [
    "SHIPPED_DIR",
    "copy_scenario",
    "load_scenario",
    "load_scenario_or_sweep",
    "resolve",
    "shipped",
]

SHIPPED_DIR = Path(__file__).resolve().parent
"""The folder holding the shipped scenario and sweep files."""


def shipped() -> dict[str, Path]:
    """Shipped scenario files by name (file name without ``.yaml``), sorted by name."""
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.yaml"))}


def _shipped_name(ref: str) -> str | None:
    """The shipped name ``ref`` refers to, or None (a path, or no such scenario)."""
    if "/" in ref or "\\" in ref:
        return None
    name = ref[:-5] if ref.endswith(".yaml") else ref
    return name if name in shipped() else None


def resolve(ref: str | PathLike[str]) -> Path:
    """The file a scenario reference names: an existing path, else a shipped scenario.

    Raises :class:`ScenarioError` naming the shipped scenarios when ``ref`` is neither.
    """
    path = Path(ref)
    if path.exists():
        return path
    name = _shipped_name(str(ref))
    if name is not None:
        return shipped()[name]
    names = ", ".join(shipped())
    hint = f"; shipped scenarios: {names}" if "/" not in str(ref) else ""
    raise ScenarioError(
        [
            Problem(
                str(ref),
                None,
                None,
                "",
                f"no such file (looked for {path.absolute()}) and no shipped scenario of that "
                f"name{hint}",
            )
        ]
    )


def load_scenario_or_sweep(ref: str | PathLike[str]) -> Scenario | Sweep:
    """A scenario, or a sweep file (variant files are sweep files), from a shipped name or a
    path; the file is read once (so a pipe works) and validated."""
    from ledgerlab.scenarios.sweep import is_sweep_text, loads_sweep

    path = resolve(ref)
    text = read_text_bounded(path)
    if is_sweep_text(text):
        folder = path.parent if path.is_file() else Path(".")
        return loads_sweep(text, source=str(path), base_dir=folder, name=path.stem)
    return loads(text, source=str(path))


def load_scenario(ref: str | PathLike[str] | Scenario) -> Scenario:
    """A validated :class:`Scenario` from a shipped name, a YAML path, or a Scenario."""
    if isinstance(ref, Scenario):
        return ref
    loaded = load_scenario_or_sweep(ref)
    if not isinstance(loaded, Scenario):
        raise ScenarioError(
            [
                Problem(
                    str(ref),
                    None,
                    None,
                    "base",
                    f"is a sweep file ({loaded.outline()}), not one scenario: run it with "
                    "`ledgerlab sweep` or `ledgerlab compare`, or one variant with "
                    "`ledgerlab run FILE --variant NAME`",
                )
            ]
        )
    return loaded


def copy_scenario(name: str, folder: str | PathLike[str] = ".") -> Path:
    """Copy the shipped scenario ``name`` into ``folder`` (created if missing) to edit it.

    Refuses to overwrite an existing file. Returns the new file's path.
    """
    shipped_name = _shipped_name(name)
    if shipped_name is None:
        raise ScenarioError(
            [
                Problem(
                    name,
                    None,
                    None,
                    "",
                    f"no shipped scenario of that name; choose one of {', '.join(shipped())}",
                )
            ]
        )
    src = shipped()[shipped_name]
    dest_dir = Path(folder)
    dest = dest_dir / src.name
    if dest.exists():
        raise ScenarioError([Problem(str(dest), None, None, "", "already exists; not overwritten")])
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    except OSError as exc:
        raise ScenarioError(
            [Problem(str(dest), None, None, "", f"cannot write: {exc.strerror or exc}")]
        ) from None
    return dest
