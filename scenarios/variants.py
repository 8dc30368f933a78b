"""Variant files: one base scenario run under several named sets of overrides.

A variant file is how a mechanism comparison is written down::

    base: antifarming_world.yaml          # a scenario file, relative to this file
    variants:
      none: {defenses: []}
      dedup: {defenses: [{kind: dedup}]}
      all: {defenses: [{kind: dedup}, {kind: quality_filter}]}

Every variant keeps the base's seed, so variants differ only by their overrides (common
random numbers): a difference in outcome is the mechanism's, not the dice's. The file is
read with the same safe loader as scenarios (no tags, no aliases, no duplicate keys) and
every problem is reported as ``file:line:column: path: message``.

Every file is read once and bounded (:func:`~ledgerlab.scenarios.loader.read_text_bounded`).
:func:`load_any` reads a path once and returns whichever it holds, a scenario or a variant
set: the way to accept a pipe (``ledgerlab validate /dev/stdin``), which cannot be read a
second time after :func:`is_variant_file` has looked at it (so that function leaves pipes
and devices unread).
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ledgerlab.scenarios.loader import (
    Problem,
    ScenarioError,
    _parse,
    _Positions,
    _scenario_from_data,
    _top_level_keys,
    read_text_bounded,
)
from ledgerlab.scenarios.schema import Scenario

__all__ = [
    "VARIANT_KEYS",
    "VariantSet",
    "is_variant_file",
    "is_variant_text",
    "load_any",
    "load_variants",
    "loads_any",
    "loads_variants",
]

VARIANT_KEYS = ("base", "variants")


class _VariantFileLayout(BaseModel):
    """The keys a variant file may hold, for the loader's unknown-key scan (the file is
    checked by :func:`loads_variants`, not validated by this model)."""

    base: str
    variants: dict[str, dict[str, Any] | None]


@dataclass(frozen=True)
class VariantSet:
    """A base scenario and its named variants (each a fully validated Scenario).

    Attributes:
        source: The variant file.
        base: The base scenario.
        variants: Variant name → scenario, in file order.
    """

    source: Path
    base: Scenario
    variants: dict[str, Scenario]


def is_variant_text(text: str) -> bool:
    """True if the YAML text's top level has a ``variants`` key (a cheap text check, then
    the top-level keys from the YAML events); False for anything that does not parse."""
    return "variants" in text and "variants" in (_top_level_keys(text) or [])


def is_variant_file(path: str | PathLike[str]) -> bool:
    """True if the YAML file's top level has a ``variants`` key.

    Only regular files are looked at: a pipe (``/dev/stdin``) or a device can be read
    only once, or never ends, so it is left unread for :func:`load` (False). To read any
    path once and get whichever it holds, use :func:`load_any`. A file that cannot be
    read or parsed is not a variant file (False): loading it reports why.
    """
    p = Path(path)
    try:
        if not p.is_file():
            return False
        text = read_text_bounded(p)
    except (OSError, ScenarioError):
        return False
    return is_variant_text(text)


def load_variants(path: str | PathLike[str]) -> VariantSet:
    """Load and validate a variant file (read once, bounded); raises
    :class:`ScenarioError` listing every problem (unknown keys, a missing base, bad
    overrides in any variant)."""
    p = Path(path)
    return loads_variants(read_text_bounded(p), source=str(p), base_dir=_folder_of(p))


def loads_variants(
    text: str, source: str = "<string>", base_dir: str | PathLike[str] = "."
) -> VariantSet:
    """Validate variant-file text; ``base:`` is a scenario file relative to ``base_dir``
    (the variant file's folder)."""
    data, positions = _parse(text, source, _VariantFileLayout)
    return _variant_set(data, positions, source, Path(base_dir))


def load_any(path: str | PathLike[str]) -> Scenario | VariantSet:
    """A scenario or a variant set, whichever the file holds, reading it once (bounded).

    The way to accept a pipe or device (``/dev/stdin``): read once, decide, parse.
    Raises :class:`ScenarioError` for either kind of problem.
    """
    p = Path(path)
    return loads_any(read_text_bounded(p), source=str(p), base_dir=_folder_of(p))


def _folder_of(path: Path) -> Path:
    """Where a variant file's ``base:`` is looked for: the file's folder, or the current
    folder for a pipe or device (``/dev/stdin`` has no folder of its own)."""
    return path.parent if path.is_file() else Path(".")


def loads_any(
    text: str, source: str = "<string>", base_dir: str | PathLike[str] = "."
) -> Scenario | VariantSet:
    """A scenario or a variant set from YAML text, whichever it holds (a top-level
    ``variants`` key makes a variant file); the text is parsed once."""
    if is_variant_text(text):
        return loads_variants(text, source, base_dir)
    return _scenario_from_data(*_parse(text, source, Scenario), source)


def _variant_set(data: Any, pos: _Positions, src: str, base_dir: Path) -> VariantSet:
    """A variant file is a sweep file (``ledgerlab.scenarios.sweep``): the same rules and
    messages, a base by path, shipped name or inline; its variants keep the base's seed."""
    from ledgerlab.scenarios.sweep import sweep_from_data

    sweep = sweep_from_data(data, pos, src, base_dir)
    if sweep.parameters:
        line, col = pos.locate(())
        raise ScenarioError(
            [
                Problem(
                    src,
                    line,
                    col,
                    "",
                    "this sweep file has points (grid:, zip: or sample:): run it with "
                    "`ledgerlab sweep` or `ledgerlab compare`; it has no single scenario per "
                    "variant",
                )
            ]
        )
    return VariantSet(source=Path(src), base=sweep.base, variants=dict(sweep.variants))
