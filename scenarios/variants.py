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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from ledgerlab.scenarios.loader import Problem, ScenarioError, _parse, apply_overrides, load
from ledgerlab.scenarios.schema import Scenario

VARIANT_KEYS = ("base", "variants")


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


def is_variant_file(path: str | PathLike[str]) -> bool:
    """True if the YAML file's top level has a ``variants`` key (cheap text check first,
    then a safe parse)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError:
        return False
    if "variants" not in text:
        return False
    try:
        data, _ = _parse(text, str(p))
    except ScenarioError:
        return False
    return isinstance(data, Mapping) and "variants" in data


def load_variants(path: str | PathLike[str]) -> VariantSet:
    """Load and validate a variant file; raises :class:`ScenarioError` listing every
    problem (unknown keys, a missing base, bad overrides in any variant)."""
    p = Path(path)
    src = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([Problem(src, None, None, "", f"cannot read: {exc}")]) from None
    data, pos = _parse(text, src)
    if not isinstance(data, Mapping):
        raise ScenarioError(
            [Problem(src, 1, 1, "", "a variant file is a mapping with keys 'base' and 'variants'")]
        )
    problems: list[Problem] = []
    for key in data:
        if key not in VARIANT_KEYS:
            line, col = pos.locate((key,), key=True)
            problems.append(
                Problem(
                    src, line, col, str(key), f"unknown key; expected {', '.join(VARIANT_KEYS)}"
                )
            )
    for key in VARIANT_KEYS:
        if key not in data:
            problems.append(Problem(src, 1, 1, key, "missing"))
    if problems:
        raise ScenarioError(problems)
    base_ref = data["base"]
    if not isinstance(base_ref, str):
        line, col = pos.locate(("base",))
        raise ScenarioError([Problem(src, line, col, "base", "must be a scenario file path")])
    base = load(p.parent / base_ref)
    variants_data = data["variants"]
    if not isinstance(variants_data, Mapping) or not variants_data:
        line, col = pos.locate(("variants",))
        raise ScenarioError(
            [Problem(src, line, col, "variants", "must map variant names to overrides")]
        )
    variants: dict[str, Scenario] = {}
    for name, overrides in variants_data.items():
        line, col = pos.locate(("variants", name))
        where = f"{src}:{line}:{col}: variants.{name}"
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, Mapping):
            problems.append(
                Problem(
                    src, line, col, f"variants.{name}", "must be a mapping of field paths to values"
                )
            )
            continue
        try:
            variants[str(name)] = apply_overrides(
                base, {"name": f"{base.name}_{name}", **overrides}, source=where
            )
        except ScenarioError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ScenarioError(problems)
    return VariantSet(source=p, base=base, variants=variants)
