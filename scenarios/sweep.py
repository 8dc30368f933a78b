"""Sweep files: one base scenario expanded into many runs (points × variants × replicates).

A sweep file says what to vary and how often to repeat it::

    # Question: how do emission and the contributors' fee share trade off?
    base: baseline                  # inline mapping, a shipped name, or a path
    grid:                           # cartesian product over dotted field paths
      tokenomics.emission.tokens_per_epoch: [0, 500, 2000]
      tokenomics.fee_split.contributors: [0.3, 0.5]
    zip:                            # paired lists of equal length (one point per row)
      population.providers: [50, 100, 200]
      population.consumers: [25, 50, 100]
    sample:                         # random | lhs | sobol | saltelli | morris over ranges
      method: lhs
      n: 16
      ranges:
        market.order_flow.sell_share: {low: 0.1, high: 0.6}
        market.pool_liquidity_usd: {low: 1.0e5, high: 1.0e7, log: true}
    variants:                       # named override blocks
      none: {defenses: []}
      dedup: {defenses: [{kind: dedup}]}
    replicates: 10                  # seeds per point
    seed: 7                         # master seed (default: the base scenario's seed)
    reference: none                 # the variant comparisons are made against (optional)

Expansion. The **points** are the cartesian product of the grid (last key varies
fastest) × the zip rows × the sample rows; a section left out counts once. Every
variant runs every point, and every (variant, point) runs ``replicates`` times: ``V × P × R``
runs. A point's values are applied after its variant's overrides. Sampled values of
integer fields are integers: uniform over ``low..high`` (both included) on a linear
range, rounded on a log range. A Sobol' sample needs ``n`` a power of 2 (its balance
properties hold only then). The sample's random stream derives from the master seed, so a
sweep file always expands to the same points.

Designs for sensitivity analysis (``ledgerlab sensitivity``, SALib: the extra
``sensitivity``, ``pip install 'ledgerlab[sensitivity]'``):

* ``method: saltelli`` — Saltelli's extension of a scrambled Sobol' sequence
  (``SALib.sample.sobol``) for Sobol' indices. ``n`` is the base sample size N (a power of
  2, at least 2); the sample has ``N·(2D+2)`` rows for D ranges, or ``N·(D+2)`` with
  ``calc_second_order: false`` (no second-order indices).
* ``method: morris`` — Morris elementary-effect trajectories (``SALib.sample.morris``) for
  screening. ``n`` is the number of trajectories (at least 2); the sample has ``n·(D+1)``
  rows. ``num_levels`` (even, default 4) is the grid each parameter moves on.

Both are drawn in the unit cube and mapped onto the ranges like the other methods (a log
range on its log scale, so indices are per unit of log). The sweep records the design that
produced its sampled values (:attr:`Sweep.design`: method, parameter names, bounds, log,
integer fields, ``calc_second_order``, ``num_levels``, the seed), so a finished sweep can
be analysed without guessing. The rows of the sample vary fastest among the points: with a
grid, zip or variants, every grid/zip row and variant holds one complete design.

Seeds (common random numbers). The replicate seeds come from one
``numpy.random.SeedSequence(seed).spawn(replicates)``: seed ``r`` is the first 63 bits of
child ``r``'s state. Replicate ``r`` runs with the same seed in every variant and every
point, so differences between variants (or points) are paired: the dice are the same, only
the mechanism differs. Seed ``r`` does not depend on how many replicates there are, so
raising ``replicates`` keeps the earlier replicates' seeds. ``seed`` may not be set by a
variant or swept: it belongs to the replicates.

Run ids are ``<variant>-p<point>-r<replicate>`` with zero-padded numbers
(``dedup-p03-r07``): stable for a given sweep file, readable, and used as folder names.
Without ``variants:`` the one variant is called ``base``. A variant's scenario ``name`` is
``<base name>_<variant>``, as in variant files.

Validation. The file is read with the scenario loader's safe YAML path (no tags, aliases
or duplicate keys) and every expanded (variant, point) is validated as a full
:class:`~ledgerlab.scenarios.schema.Scenario` before anything runs. Every problem is
reported at once as ``file:line:column: section.path: message``, naming the point (its
index and values) and the variant. A variant file (``base:`` + ``variants:``) is a sweep
file with one point and one replicate; a plain scenario file is a sweep of one run.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from os import PathLike
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import numpy as np
from pydantic import BaseModel

from ledgerlab.scenarios.loader import (
    Problem,
    ScenarioError,
    _parse,
    _Positions,
    _scenario_from_data,
    _split_path,
    _suggest,
    _unwrap,
    apply_overrides,
    load,
    read_text_bounded,
)
from ledgerlab.scenarios.schema import Scenario

__all__ = [
    "DEFAULT_VARIANT",
    "MAX_RUNS",
    "SALIB_HINT",
    "SALIB_METHODS",
    "SAMPLE_METHODS",
    "SWEEP_KEYS",
    "RunSpec",
    "SampleDesign",
    "Sweep",
    "design_from_text",
    "design_rows",
    "is_sweep_file",
    "is_sweep_text",
    "load_sweep",
    "loads_sweep",
    "replicate_seeds",
    "salib_available",
    "sweep_from_data",
]

SWEEP_KEYS = (
    "base",
    "description",
    "grid",
    "zip",
    "sample",
    "variants",
    "replicates",
    "seed",
    "reference",
)
"""Top-level keys a sweep file may hold."""

SAMPLE_METHODS = ("random", "lhs", "sobol", "saltelli", "morris")
"""Sampling methods of ``sample.method``."""

SALIB_METHODS = ("saltelli", "morris")
"""Sampling methods that need SALib (the extra ``sensitivity``)."""

SALIB_HINT = "pip install 'ledgerlab[sensitivity]'"
"""How to install SALib, for error messages."""

SAMPLE_KEYS = ("method", "n", "ranges", "calc_second_order", "num_levels")
SAMPLE_REQUIRED = ("method", "n", "ranges")

MAX_NUM_LEVELS = 1_000
"""Most grid levels of a Morris design (levels)."""
RANGE_KEYS = ("low", "high", "log")

DEFAULT_VARIANT = "base"
"""The variant name of a sweep file without ``variants:``."""

MAX_RUNS = 1_000_000
"""Most runs one sweep may expand to (runs)."""

MAX_REPLICATES = 100_000
"""Most replicates per point (runs)."""

MAX_SAMPLE = 1_000_000
"""Most sampled points (points)."""

_SAMPLE_STREAM = 0x534D504C
"""Spawn key of the sampling stream under the master seed (far above any replicate index,
so the sample never shares a stream with a replicate)."""

_VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

_RESERVED = {"seed": "the seed is set per replicate from the sweep's master `seed:`"}
"""Fields a variant or a swept parameter may not set, and why."""


# ----------------------------------------------------------------- file layout (scan)


class _RangeLayout(BaseModel):
    low: float
    high: float
    log: bool = False


class _SampleLayout(BaseModel):
    method: str
    n: int
    ranges: dict[str, _RangeLayout]
    calc_second_order: bool = True
    num_levels: int = 4


class _SweepFileLayout(BaseModel):
    """The keys of a sweep file, for the loader's unknown-key scan (not validated by it)."""

    base: Scenario
    description: str
    grid: dict[str, list[Any]]
    zip: dict[str, list[Any]]
    sample: _SampleLayout
    variants: dict[str, dict[str, Any] | None]
    replicates: int
    seed: int
    reference: str


# ----------------------------------------------------------------------------- types


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep, without its scenario (build it with :meth:`Sweep.scenario`).

    Attributes:
        run_id: ``<variant>-p<point>-r<replicate>``, unique in the sweep (folder name).
        variant: Variant name (``base`` when the file has no variants).
        point: Index of the point (0-based, in expansion order).
        replicate: Replicate index (0-based).
        seed: The replicate's seed (the same in every variant and point).
        params: Swept dotted path → value at this point (values as validated; lists and
            mappings stay as they are here and become JSON text in tables).
    """

    run_id: str
    variant: str
    point: int
    replicate: int
    seed: int
    params: Mapping[str, Any]


def design_rows(method: str, n: int, d: int, calc_second_order: bool = True) -> int:
    """Rows of a sample of ``method`` with ``n`` and ``d`` ranges (see the module docstring)."""
    if method == "saltelli":
        return n * (2 * d + 2 if calc_second_order else d + 2)
    if method == "morris":
        return n * (d + 1)
    return n


def _salib(method: str) -> Any:
    """SALib's sampler module for ``method``; ImportError when SALib is not installed."""
    if method == "saltelli":
        from SALib.sample import sobol

        return sobol
    from SALib.sample import morris

    return morris


def salib_available() -> bool:
    """True if SALib (the extra ``sensitivity``) can be imported."""
    try:
        _salib("saltelli")
        _salib("morris")
    except ImportError:
        return False
    return True


def _unit_design(
    method: str, n: int, d: int, seed: int, calc_second_order: bool, num_levels: int
) -> np.ndarray:
    """The sample in the unit cube, ``(rows, d)``, drawn from the master seed's sample
    stream (the same rows for the same arguments, on any machine)."""
    from scipy.stats import qmc

    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SAMPLE_STREAM,)))

    def engine(kind: Any, **kwargs: Any) -> Any:
        try:
            return kind(d, rng=rng, **kwargs)  # scipy >= 1.15
        except TypeError:  # pragma: no cover - older scipy names it seed
            return kind(d, seed=rng, **kwargs)

    if method == "random":
        return rng.random((n, d))
    if method == "lhs":
        return engine(qmc.LatinHypercube).random(n)
    if method == "sobol":
        return engine(qmc.Sobol, scramble=True).random_base2(int(math.log2(n)))
    problem = {"num_vars": d, "names": [f"x{j}" for j in range(d)], "bounds": [[0.0, 1.0]] * d}
    if method == "saltelli":
        unit = _salib(method).sample(
            problem, n, calc_second_order=calc_second_order, scramble=True, seed=rng
        )
    elif method == "morris":
        unit = _salib(method).sample(problem, n, num_levels=num_levels, seed=rng)
    else:
        raise ValueError(f"unknown sample method {method!r}")  # pragma: no cover
    return np.clip(np.asarray(unit, dtype=np.float64), 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class SampleDesign:
    """The design that produced a sweep's sampled values (its ``sample:`` section).

    Enough to analyse a finished sweep without guessing: :meth:`record` is plain JSON and
    :meth:`from_record` rebuilds the same design (the unit sample is drawn again from the
    seed).

    Attributes:
        method: ``random``, ``lhs``, ``sobol``, ``saltelli`` or ``morris``.
        n: The file's ``n``: sample size; Saltelli's base size N; Morris trajectories.
        names: The D sampled parameters (dotted paths), in column order.
        lows, highs: Each parameter's range (its own units).
        log: Whether each range is sampled on a log scale.
        integer: Whether each parameter is an integer field (values rounded).
        seed: The master seed the sample stream derives from.
        calc_second_order: Saltelli only: whether the design supports second-order
            indices (``N·(2D+2)`` rows, else ``N·(D+2)``); None for other methods.
        num_levels: Morris only: grid levels per parameter; None for other methods.
        unit: The sample in the unit cube, ``(rows, D)``: row i is sample row i (a value
            0..1 of the range, on the log scale for a log range).
    """

    method: str
    n: int
    names: tuple[str, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    log: tuple[bool, ...]
    integer: tuple[bool, ...]
    seed: int
    calc_second_order: bool | None = None
    num_levels: int | None = None
    unit: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.unit is None:
            unit = _unit_design(
                self.method,
                self.n,
                self.d,
                self.seed,
                bool(self.calc_second_order) if self.calc_second_order is not None else True,
                self.num_levels or 4,
            )
            object.__setattr__(self, "unit", unit)
        self.unit.setflags(write=False)

    @property
    def d(self) -> int:
        """Number of sampled parameters D."""
        return len(self.names)

    @property
    def rows(self) -> int:
        """Rows of the sample (points per grid/zip row and variant)."""
        return design_rows(self.method, self.n, self.d, self.calc_second_order is not False)

    def values(self) -> list[dict[str, Any]]:
        """The sampled rows mapped onto the ranges: one mapping name → value per row
        (integers for integer fields, uniform over ``low..high`` on a linear range and
        rounded on a log range)."""
        rows: list[dict[str, Any]] = [{} for _ in range(self.unit.shape[0])]
        for j, name in enumerate(self.names):
            u = self.unit[:, j]
            low, high, integer = self.lows[j], self.highs[j], self.integer[j]
            if self.log[j]:
                values = np.exp(np.log(low) + u * (np.log(high) - np.log(low)))
                if integer:
                    values = np.clip(np.rint(values), math.ceil(low), math.floor(high))
            elif integer:
                lo, hi = math.ceil(low), math.floor(high)
                values = np.minimum(np.floor(lo + u * (hi - lo + 1)), hi)
            else:
                values = low + u * (high - low)
            for i, value in enumerate(values):
                rows[i][name] = int(value) if integer else float(value)
        return rows

    def problem(self) -> dict[str, Any]:
        """SALib's problem definition over the unit cube (names, ``bounds`` [0, 1]): the
        design's indices are per unit of each range (of its log for a log range)."""
        return {"num_vars": self.d, "names": list(self.names), "bounds": [[0.0, 1.0]] * self.d}

    def record(self) -> dict[str, Any]:
        """The design as plain JSON data (e.g. for ``sweep.json``)."""
        return {
            "method": self.method,
            "n": self.n,
            "rows": self.rows,
            "names": list(self.names),
            "bounds": [[lo, hi] for lo, hi in zip(self.lows, self.highs, strict=True)],
            "log": list(self.log),
            "integer": list(self.integer),
            "calc_second_order": self.calc_second_order,
            "num_levels": self.num_levels,
            "seed": self.seed,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SampleDesign:
        """The design of a :meth:`record` (its unit sample drawn again from the seed).

        Raises ImportError for a Saltelli or Morris design without SALib."""
        bounds = [tuple(map(float, b)) for b in record["bounds"]]
        return cls(
            method=str(record["method"]),
            n=int(record["n"]),
            names=tuple(map(str, record["names"])),
            lows=tuple(b[0] for b in bounds),
            highs=tuple(b[1] for b in bounds),
            log=tuple(bool(v) for v in record["log"]),
            integer=tuple(bool(v) for v in record["integer"]),
            seed=int(record["seed"]),
            calc_second_order=record.get("calc_second_order"),
            num_levels=record.get("num_levels"),
        )


@dataclass(frozen=True, eq=False)
class Sweep:
    """An expanded, validated sweep.

    Attributes:
        source: The sweep file (or ``<string>``).
        name: A short name (the file's stem, else the base scenario's name).
        text: The sweep file's text ("" when built in Python).
        base: The base scenario.
        variants: Variant name → its validated scenario (one ``base`` entry without
            ``variants:``), in file order.
        overrides: Variant name → its overrides (dotted path → value), in file order.
        parameters: Swept dotted paths, in column order (grid, zip, then sample).
        points: One mapping per point: dotted path → value.
        replicates: Seeds per point.
        seed: The master seed.
        reference: The variant ``ledgerlab compare`` compares the others with (the file's
            ``reference:``), or None.
        description: The file's ``description:`` (free text).
        has_variants: Whether the file lists variants.
        replicates_given: Whether the file sets ``replicates:`` (else it is 1).
        design: The design of the ``sample:`` section (None without one): its method,
            parameters, bounds and unit sample. Its rows are the fastest-varying part of
            the points: point ``p`` holds sample row ``p % design.rows``.
    """

    source: str
    name: str
    text: str
    base: Scenario
    variants: Mapping[str, Scenario]
    overrides: Mapping[str, Mapping[str, Any]]
    parameters: tuple[str, ...]
    points: tuple[Mapping[str, Any], ...]
    replicates: int
    seed: int
    reference: str | None = None
    description: str = ""
    has_variants: bool = False
    replicates_given: bool = False
    design: SampleDesign | None = None
    seeds: tuple[int, ...] = field(init=False)
    _point_width: int = field(init=False, repr=False)
    _replicate_width: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "seeds", tuple(replicate_seeds(self.seed, self.replicates)))
        object.__setattr__(self, "_point_width", len(str(max(len(self.points) - 1, 0))))
        object.__setattr__(self, "_replicate_width", len(str(max(self.replicates - 1, 0))))

    # ------------------------------------------------------------------ counts & ids

    @property
    def n_points(self) -> int:
        """Points per variant."""
        return len(self.points)

    @property
    def n_runs(self) -> int:
        """Runs in the sweep: variants × points × replicates."""
        return len(self.variants) * len(self.points) * self.replicates

    def __len__(self) -> int:
        return self.n_runs

    def run_id(self, variant: str, point: int, replicate: int) -> str:
        """``<variant>-p<point>-r<replicate>``, zero-padded to the sweep's sizes."""
        return f"{variant}-p{point:0{self._point_width}d}-r{replicate:0{self._replicate_width}d}"

    def specs(self) -> Iterator[RunSpec]:
        """Every run, replicate-major: replicate 0 of every variant and point first, so an
        interrupted sweep holds complete, paired replicates."""
        for replicate, seed in enumerate(self.seeds):
            for variant in self.variants:
                for point, params in enumerate(self.points):
                    yield RunSpec(
                        self.run_id(variant, point, replicate),
                        variant,
                        point,
                        replicate,
                        seed,
                        params,
                    )

    def scenario(self, spec: RunSpec) -> Scenario:
        """The validated scenario of one run: its variant, its point's values, its seed."""
        return apply_overrides(
            self.variants[spec.variant],
            {**spec.params, "seed": spec.seed},
            source=f"{self.source}: {spec.run_id}",
        )

    def variant_scenarios(self) -> dict[str, Scenario]:
        """Each variant at point 0 with replicate 0's seed (e.g. to run one alone)."""
        out = {}
        for variant in self.variants:
            spec = RunSpec(self.run_id(variant, 0, 0), variant, 0, 0, self.seeds[0], self.points[0])
            out[variant] = self.scenario(spec)
        return out

    def examples(self) -> dict[str, Scenario]:
        """A few runs' scenarios to check a sweep file quickly (e.g. the shipped-scenario
        tests): every variant at the first and the last point, replicate 0's seed;
        labelled ``variant`` (one point) or ``variant@p<i>``."""
        last = len(self.points) - 1
        out = {}
        for variant in self.variants:
            for point in dict.fromkeys((0, last)):
                spec = RunSpec(
                    self.run_id(variant, point, 0),
                    variant,
                    point,
                    0,
                    self.seeds[0],
                    self.points[point],
                )
                label = variant if last == 0 else f"{variant}@p{point}"
                out[label] = self.scenario(spec)
        return out

    # ---------------------------------------------------------------- derived sweeps

    def with_replicates(self, replicates: int) -> Sweep:
        """The same sweep with another number of replicates (seeds r < n are unchanged)."""
        if not 1 <= replicates <= MAX_REPLICATES:
            raise _error(
                self.source, "replicates", f"must be 1..{MAX_REPLICATES:,} (got {replicates})"
            )
        _check_size(self.source, len(self.variants), len(self.points), replicates)
        return replace(self, replicates=replicates, replicates_given=True)

    def with_overrides(self, overrides: Mapping[str, Any], *, source: str = "<overrides>") -> Sweep:
        """The same sweep over a changed base (e.g. ``{"epochs": 30}``); every variant and
        point is validated again."""
        if not overrides:
            return self
        base = apply_overrides(self.base, overrides, source=source)
        variants = {
            name: apply_overrides(sc, overrides, source=source)
            for name, sc in self.variants.items()
        }
        swept = set(self.parameters)
        clash = [p for p in _normalised_keys(overrides) if p in swept]
        if clash:
            raise _error(source, clash[0], "is swept by the sweep file; it cannot be overridden")
        sweep = replace(self, base=base, variants=variants)
        problems, _ = _validate_points(sweep, None, {}, None)
        if problems:
            raise ScenarioError(problems)
        return sweep

    # ----------------------------------------------------------------- identity

    @property
    def digest(self) -> str:
        """SHA-256 of what the sweep runs (base, variants, points, seeds), not of the file's
        text: comments and layout may change, the runs may not, for ``--resume``."""
        cached = self.__dict__.get("_digest")
        if cached is None:
            plan = {
                "layout": 1,
                "base": self.base.model_dump(mode="json"),
                "variants": {k: v.model_dump(mode="json") for k, v in self.variants.items()},
                "parameters": list(self.parameters),
                "points": [dict(p) for p in self.points],
                "seeds": list(self.seeds),
            }
            text = json.dumps(plan, sort_keys=True, default=str, separators=(",", ":"))
            cached = hashlib.sha256(text.encode()).hexdigest()
            object.__setattr__(self, "_digest", cached)
        return cached

    def outline(self) -> str:
        """``V variants × P points × R replicates = N runs``."""

        def count(n: int, word: str) -> str:
            return f"{n:,} {word}" + ("" if n == 1 else "s")

        return (
            f"{count(len(self.variants), 'variant')} × {count(len(self.points), 'point')} × "
            f"{count(self.replicates, 'replicate')} = {count(self.n_runs, 'run')}"
        )


# ------------------------------------------------------------------------- seeds


def replicate_seeds(master: int, replicates: int) -> list[int]:
    """Seed of each replicate: the first 63 bits of ``SeedSequence(master).spawn(n)[r]``."""
    children = np.random.SeedSequence(int(master)).spawn(int(replicates))
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]


# ------------------------------------------------------------------------- loading


def is_sweep_text(text: str) -> bool:
    """True if the YAML text's top level has a ``base`` key (a sweep or variant file);
    False for a scenario and for anything that does not parse."""
    if "base" not in text:
        return False
    try:
        data, _ = _parse(text, "<text>")
    except ScenarioError:
        return False
    return isinstance(data, Mapping) and "base" in data


def is_sweep_file(path: str | PathLike[str]) -> bool:
    """True if ``path`` is a regular file holding a sweep (or variant) file. Pipes and
    devices are not read (False); unreadable files are not sweep files (False)."""
    p = Path(path)
    try:
        if not p.is_file():
            return False
        return is_sweep_text(read_text_bounded(p))
    except (OSError, ScenarioError):
        return False


def load_sweep(ref: str | PathLike[str]) -> Sweep:
    """Read (once, bounded) and expand a sweep file: a path or a shipped name
    (``engine_shootout``). A plain scenario file is a sweep of one run.

    Raises :class:`ScenarioError` listing every problem with its file, line and point.
    """
    from ledgerlab.scenarios.library import resolve

    path = resolve(ref)
    text = read_text_bounded(path)
    folder = path.parent if path.is_file() else Path(".")
    name = path.stem if path.is_file() else ""
    return loads_sweep(text, source=str(path), base_dir=folder, name=name)


def loads_sweep(
    text: str,
    source: str = "<string>",
    base_dir: str | PathLike[str] = ".",
    *,
    name: str = "",
) -> Sweep:
    """Expand sweep-file text; a ``base:`` path is relative to ``base_dir`` (the sweep
    file's folder), then a shipped scenario's name."""
    data, positions = _parse(text, source, _SweepFileLayout)
    if not (isinstance(data, Mapping) and "base" in data):
        scenario = _scenario_from_data(data, positions, source)  # a plain scenario
        return _build(_Spec(source, text, name or scenario.name, scenario, positions), {}, False)
    return _from_data(data, positions, source, text, Path(base_dir), name)


def sweep_from_data(
    data: Any,
    positions: _Positions,
    source: str,
    base_dir: str | PathLike[str] = ".",
    *,
    text: str = "",
    name: str = "",
) -> Sweep:
    """Expand data already parsed by the loader's ``_parse`` (with its positions): for a
    caller that read a file once and found ``base:`` in it (e.g. a variant-file reader)."""
    if not (isinstance(data, Mapping) and "base" in data):
        line, col = positions.locate(())
        raise ScenarioError(
            [Problem(source, line, col, "base", "missing: a sweep file names its base scenario")]
        )
    return _from_data(data, positions, source, text, Path(base_dir), name)


def design_from_text(
    text: str, base: Scenario, seed: int, source: str = "<string>"
) -> SampleDesign | None:
    """The design of the ``sample:`` section of sweep-file ``text`` (None without one),
    drawn from master ``seed`` as when the sweep was expanded: for analysing a finished
    sweep folder from its ``sweep.yaml``, ``base.resolved.yaml`` and ``sweep.json``'s
    master seed, wherever the base file was. Only ``sample:`` is read.

    Raises :class:`ScenarioError` (file:line) if the section is invalid.
    """
    data, positions = _parse(text, source, _SweepFileLayout)
    if not isinstance(data, Mapping) or "sample" not in data:
        return None
    spec = _Spec(source, text, "", base, positions)
    _read_sample(data, spec)
    if spec.problems:
        raise ScenarioError(spec.problems)
    return _design(spec, seed)


# ---------------------------------------------------------------- parsing helpers


@dataclass
class _Spec:
    """What the file says, as read (before expansion)."""

    source: str
    text: str
    name: str
    base: Scenario
    positions: _Positions | None
    description: str = ""
    grid: dict[str, tuple[str, list[Any]]] = field(default_factory=dict)
    zip: dict[str, tuple[str, list[Any]]] = field(default_factory=dict)
    sample: dict[str, tuple[str, float, float, bool]] = field(default_factory=dict)
    sample_method: str = "lhs"
    sample_n: int = 0
    sample_calc_second_order: bool | None = None
    sample_num_levels: int | None = None
    replicates: int = 1
    replicates_given: bool = False
    seed: int | None = None
    reference: str | None = None
    problems: list[Problem] = field(default_factory=list)
    seen: dict[str, str] = field(default_factory=dict)

    def at(
        self, path: tuple[Any, ...], message: str, *, key: bool = False, shown: str = ""
    ) -> None:
        line, col = self.positions.locate(path, key=key) if self.positions else (None, None)
        label = shown or ".".join(str(p) for p in path)
        self.problems.append(Problem(self.source, line, col, label, message))


def _error(source: str, path: str, message: str) -> ScenarioError:
    return ScenarioError([Problem(source, None, None, path, message)])


def _dotted(raw: str) -> str:
    return ".".join(str(p) for p in _split_path(raw))


def _normalised_keys(overrides: Mapping[str, Any]) -> list[str]:
    out = []
    for raw in overrides:
        try:
            out.append(_dotted(str(raw)))
        except ValueError:
            out.append(str(raw))
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _from_data(
    data: Mapping[str, Any],
    pos: _Positions,
    source: str,
    text: str,
    base_dir: Path,
    name: str,
) -> Sweep:
    problems: list[Problem] = []

    def at(path: tuple[Any, ...], message: str, *, key: bool = False) -> None:
        line, col = pos.locate(path, key=key)
        problems.append(Problem(source, line, col, ".".join(map(str, path)), message))

    for key in data:
        if key not in SWEEP_KEYS:
            at(
                (key,),
                f"unknown key '{key}'{_suggest(str(key), SWEEP_KEYS)}; a sweep file holds "
                + ", ".join(SWEEP_KEYS),
                key=True,
            )
    base = _base_scenario(data["base"], pos, source, base_dir, problems)
    if base is None:
        raise ScenarioError(problems)
    spec = _Spec(source, text, name or f"{base.name}_sweep", base, pos)
    spec.problems = problems
    description = data.get("description", "")
    if not isinstance(description, str):
        spec.at(("description",), "must be text")
    else:
        spec.description = description
    _read_counts(data, spec)
    _read_lists(data, "grid", spec)
    _read_lists(data, "zip", spec)
    _read_sample(data, spec)
    variants_data = data.get("variants")
    overrides: dict[str, dict[str, Any]] = {}
    if "variants" in data:
        overrides = _read_variants(variants_data, spec)
    if "reference" in data:
        ref = data["reference"]
        names = list(overrides) if "variants" in data else [DEFAULT_VARIANT]
        if not isinstance(ref, str) or ref not in names:
            spec.at(
                ("reference",),
                f"must name one of the variants ({', '.join(names)}){_suggest(str(ref), names)}",
            )
        else:
            spec.reference = ref
    if spec.problems:
        raise ScenarioError(spec.problems)
    return _build(spec, overrides, "variants" in data)


def _base_scenario(
    ref: Any, pos: _Positions, source: str, base_dir: Path, problems: list[Problem]
) -> Scenario | None:
    """The base scenario: inline, a file next to the sweep file, or a shipped name."""
    line, col = pos.locate(("base",))
    if isinstance(ref, Mapping):
        sub = _Positions()
        sub.values = {p[1:]: v for p, v in pos.values.items() if p[:1] == ("base",)}
        sub.keys = {p[1:]: v for p, v in pos.keys.items() if p[:1] == ("base",)}
        try:
            return _scenario_from_data(dict(ref), sub, source)
        except ScenarioError as error:
            problems.extend(
                replace(p, path=f"base.{p.path}" if p.path else "base") for p in error.problems
            )
            return None
    if not isinstance(ref, str) or not ref.strip():
        problems.append(
            Problem(
                source,
                line,
                col,
                "base",
                "must be a scenario: an inline mapping, a shipped scenario's name or a path "
                "relative to this file",
            )
        )
        return None
    from ledgerlab.scenarios.library import _shipped_name, shipped

    candidate = base_dir / ref
    if candidate.is_file():
        return load(candidate)  # its problems name that file
    shipped_name = _shipped_name(ref)
    if shipped_name is not None:
        return load(shipped()[shipped_name])
    problems.append(
        Problem(
            source,
            line,
            col,
            "base",
            f"no scenario file '{ref}' next to this file (looked for {candidate.absolute()}) "
            f"and no shipped scenario of that name{_suggest(ref, list(shipped()))}; shipped: "
            + ", ".join(shipped()),
        )
    )
    return None


def _read_counts(data: Mapping[str, Any], spec: _Spec) -> None:
    if "replicates" in data:
        value = data["replicates"]
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not 1 <= value <= MAX_REPLICATES
        ):
            spec.at(
                ("replicates",), f"must be a whole number 1..{MAX_REPLICATES:,} (got {value!r})"
            )
        else:
            spec.replicates = value
            spec.replicates_given = True
    if "seed" in data:
        value = data["seed"]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 2**63 - 1:
            spec.at(("seed",), f"must be a whole number 0..2**63-1 (got {value!r})")
        else:
            spec.seed = value


def _param_key(raw: Any, section: tuple[Any, ...], spec: _Spec, seen: dict[str, str]) -> str | None:
    """The normalised dotted path of a swept key, or None (problem recorded)."""
    where = (*section, raw)
    try:
        path = _dotted(str(raw))
    except ValueError as error:
        spec.at(where, str(error), key=True)
        return None
    if path in _RESERVED:
        spec.at(where, f"cannot be swept: {_RESERVED[path]}", key=True)
        return None
    if path in seen:
        spec.at(where, f"is already swept in {seen[path]}; sweep each field once", key=True)
        return None
    seen[path] = ".".join(map(str, section))
    return path


def _read_lists(data: Mapping[str, Any], section: str, spec: _Spec) -> None:
    if section not in data:
        return
    block = data[section]
    if not isinstance(block, Mapping) or not block:
        spec.at((section,), "must map dotted field paths to lists of values")
        return
    seen = spec.seen
    target = spec.grid if section == "grid" else spec.zip
    lengths: dict[str, int] = {}
    for raw, values in block.items():
        path = _param_key(raw, (section,), spec, seen)
        if path is None:
            continue
        if not isinstance(values, list) or not values:
            spec.at((section, raw), f"must be a non-empty list of values (got {_shown(values)})")
            continue
        target[path] = (str(raw), values)
        lengths[str(raw)] = len(values)
    if section == "zip" and len(set(lengths.values())) > 1:
        detail = ", ".join(f"{k}: {n}" for k, n in lengths.items())
        spec.at(
            ("zip",),
            f"zip lists must have the same length, one value per point ({detail}); "
            "use grid: for a cartesian product",
        )


def _shown(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    return repr(value)


def _read_sample(data: Mapping[str, Any], spec: _Spec) -> None:
    """The ``sample:`` section into ``spec`` (method, n, design options, ranges); every
    problem found is recorded on ``spec``."""
    if "sample" not in data:
        return
    block = data["sample"]
    if not isinstance(block, Mapping):
        spec.at(("sample",), "must be a mapping with method, n and ranges")
        return
    for key in block:
        if key not in SAMPLE_KEYS:
            spec.at(
                ("sample", key),
                f"unknown key '{key}'{_suggest(str(key), SAMPLE_KEYS)}; sample holds "
                + ", ".join(SAMPLE_KEYS),
                key=True,
            )
    for key in SAMPLE_REQUIRED:
        if key not in block:
            spec.at(("sample",), f"missing '{key}'", shown=f"sample.{key}")
    method = block.get("method")
    if method is not None:
        _read_sample_method(method, spec)
    n = block.get("n")
    if n is not None:
        _read_sample_n(n, method, spec)
    _read_design_options(block, method, spec)
    ranges = block.get("ranges")
    if ranges is None:
        return
    if not isinstance(ranges, Mapping) or not ranges:
        spec.at(("sample", "ranges"), "must map dotted field paths to {low, high, log}")
        return
    seen = spec.seen
    for raw, rng in ranges.items():
        path = _param_key(raw, ("sample", "ranges"), spec, seen)
        if path is None:
            continue
        checked = _read_range(raw, rng, spec)
        if checked is not None:
            spec.sample[path] = (str(raw), *checked)


def _read_sample_method(method: Any, spec: _Spec) -> None:
    """``sample.method``: a known method whose sampler is installed."""
    if method not in SAMPLE_METHODS:
        spec.at(
            ("sample", "method"),
            f"unknown method {method!r}{_suggest(str(method), SAMPLE_METHODS)}; use one of "
            + ", ".join(SAMPLE_METHODS),
        )
    elif method in SALIB_METHODS and not salib_available():
        spec.at(
            ("sample", "method"),
            f"method {method} draws its design with SALib, which is not installed: {SALIB_HINT}",
        )
    else:
        spec.sample_method = method


def _read_sample_n(n: Any, method: Any, spec: _Spec) -> None:
    """``sample.n``: a whole number in range, at least 2 for designs with confidence
    intervals, a power of 2 for Sobol'-based methods."""
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_SAMPLE:
        spec.at(("sample", "n"), f"must be a whole number 1..{MAX_SAMPLE:,} (got {n!r})")
    elif method in ("saltelli", "morris") and n < 2:
        what = "base samples N" if method == "saltelli" else "trajectories"
        spec.at(
            ("sample", "n"),
            f"a {method} design needs at least 2 {what} for confidence intervals (got {n})",
        )
    elif method in ("sobol", "saltelli") and n & (n - 1):
        low = 1 << (n.bit_length() - 1)
        what = "Sobol'" if method == "sobol" else "Saltelli (Sobol'-based)"
        other = "method lhs" if method == "sobol" else "method morris for fewer runs"
        spec.at(
            ("sample", "n"),
            f"a {what} sample needs n a power of 2 for its balance properties (got {n}); "
            f"use {low} or {low * 2}, or {other}",
        )
    else:
        spec.sample_n = n


def _read_range(raw: Any, rng: Any, spec: _Spec) -> tuple[float, float, bool] | None:
    """(low, high, log) of the range ``sample.ranges.<raw>`` of a numeric field, or None
    with its problems recorded on ``spec``."""
    where = ("sample", "ranges", raw)
    if not isinstance(rng, Mapping):
        spec.at(where, "must be a mapping {low: ..., high: ..., log: false}")
        return None
    bad = False
    for key in rng:
        if key not in RANGE_KEYS:
            spec.at(
                (*where, key),
                f"unknown key '{key}'{_suggest(str(key), RANGE_KEYS)}; a range holds low, "
                "high and log",
                key=True,
            )
            bad = True
    low, high, log = rng.get("low"), rng.get("high"), rng.get("log", False)
    for key, value in (("low", low), ("high", high)):
        if value is None:
            spec.at(where, f"missing '{key}'", shown=f"sample.ranges.{raw}.{key}")
            bad = True
        elif not _is_number(value) or not math.isfinite(value):
            spec.at((*where, key), f"must be a finite number (got {value!r})")
            bad = True
    if not isinstance(log, bool):
        spec.at((*where, "log"), f"must be true or false (got {log!r})")
        bad = True
    if bad:
        return None
    if not low < high:
        spec.at(where, f"low must be < high (got low={low}, high={high})")
        return None
    if log and low <= 0:
        spec.at(where, f"a log range needs low > 0 (got low={low})")
        return None
    kind = _field_kind(spec.base, _split_path(str(raw)))
    if kind in ("bool", "other"):
        spec.at(where, "only numeric fields can be sampled; sweep others with grid:", key=True)
        return None
    return float(low), float(high), bool(log)


def _read_design_options(block: Mapping[str, Any], method: Any, spec: _Spec) -> None:
    """``calc_second_order`` (saltelli) and ``num_levels`` (morris)."""
    if "calc_second_order" in block:
        value = block["calc_second_order"]
        if method != "saltelli":
            spec.at(
                ("sample", "calc_second_order"),
                f"applies to method saltelli only (this sample's method is {method!r}); remove it",
                key=True,
            )
        elif not isinstance(value, bool):
            spec.at(("sample", "calc_second_order"), f"must be true or false (got {value!r})")
        else:
            spec.sample_calc_second_order = value
    elif method == "saltelli":
        spec.sample_calc_second_order = True
    if "num_levels" in block:
        value = block["num_levels"]
        if method != "morris":
            spec.at(
                ("sample", "num_levels"),
                f"applies to method morris only (this sample's method is {method!r}); remove it",
                key=True,
            )
        elif (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not 2 <= value <= MAX_NUM_LEVELS
            or value % 2
        ):
            spec.at(
                ("sample", "num_levels"),
                f"must be an even whole number 2..{MAX_NUM_LEVELS:,} (got {value!r}); "
                "Morris designs are unbiased only on an even number of levels",
            )
        else:
            spec.sample_num_levels = value
    elif method == "morris":
        spec.sample_num_levels = 4


def _read_variants(block: Any, spec: _Spec) -> dict[str, dict[str, Any]]:
    if not isinstance(block, Mapping) or not block:
        spec.at(("variants",), "must map variant names to override blocks")
        return {}
    swept = {**spec.grid, **spec.zip, **spec.sample}
    out: dict[str, dict[str, Any]] = {}
    for name, overrides in block.items():
        where = ("variants", name)
        label = str(name)
        if not isinstance(name, str) or not _VARIANT_NAME.match(name):
            spec.at(
                where,
                f"variant name {label!r} must be 1-64 letters, digits, '_' or '-' and start "
                "with a letter or digit (it names run folders)",
                key=True,
            )
            continue
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, Mapping):
            spec.at(where, "must be a mapping of field paths to values")
            continue
        clean: dict[str, Any] = {}
        for raw, value in overrides.items():
            try:
                path = _dotted(str(raw))
            except ValueError as error:
                spec.at((*where, raw), str(error), key=True)
                continue
            if path in _RESERVED:
                spec.at((*where, raw), f"cannot be set by a variant: {_RESERVED[path]}", key=True)
                continue
            if path in swept:
                spec.at(
                    (*where, raw),
                    f"is also swept ({swept[path][0]}); the swept value would replace this "
                    "one at every point: remove one",
                    key=True,
                )
                continue
            clean[str(raw)] = value
        out[name] = clean
    return out


# ------------------------------------------------------------------ field types


def _field_kind(scenario: Scenario, parts: list[str | int]) -> str:
    """``int``, ``float``, ``bool``, ``other`` or ``unknown`` for the field at ``parts``
    (list entries by index or by their kind/name/holder, as in overrides)."""
    node: Any = scenario
    annotation: Any = type(scenario)
    for part in parts:
        if isinstance(node, BaseModel) and isinstance(part, str):
            info = type(node).model_fields.get(part)
            if info is None:
                return "unknown"
            annotation, node = info.annotation, getattr(node, part)
        elif isinstance(node, tuple | list):
            index = _entry(node, part)
            if index is None:
                return "unknown"
            args = get_args(_unwrap(annotation))
            annotation, node = (args[0] if args else None), node[index]
        else:
            return "unknown"
    current = _unwrap(annotation)
    if current is bool:
        return "bool"
    if current is int:
        return "int"
    if current is float:
        return "float"
    if get_origin(current) in (Union, types.UnionType):
        plain = [_unwrap(a) for a in get_args(current) if get_origin(a) is not Literal]
        if float in plain:
            return "float"
        if int in plain:
            return "int"
    return "other"


def _entry(items: Sequence[Any], part: str | int) -> int | None:
    if isinstance(part, int):
        return part if 0 <= part < len(items) else None
    for index, item in enumerate(items):
        for key in ("kind", "name", "holder"):
            if getattr(item, key, None) == part:
                return index
    return None


# ------------------------------------------------------------------------ expansion


def _design(spec: _Spec, seed: int) -> SampleDesign | None:
    """The design of the ``sample:`` section (None without one)."""
    if not spec.sample:
        return None
    entries = list(spec.sample.values())
    return SampleDesign(
        method=spec.sample_method,
        n=spec.sample_n,
        names=tuple(spec.sample),
        lows=tuple(low for _, low, _, _ in entries),
        highs=tuple(high for _, _, high, _ in entries),
        log=tuple(log for *_, log in entries),
        integer=tuple(_field_kind(spec.base, _split_path(raw)) == "int" for raw, *_ in entries),
        seed=int(seed),
        calc_second_order=spec.sample_calc_second_order,
        num_levels=spec.sample_num_levels,
    )


def _check_size(source: str, variants: int, points: int, replicates: int) -> None:
    total = variants * points * replicates
    if total > MAX_RUNS:
        raise _error(
            source,
            "",
            f"this sweep expands to {total:,} runs ({variants:,} variants × {points:,} points × "
            f"{replicates:,} replicates), more than the {MAX_RUNS:,} allowed; split it",
        )


def _build(spec: _Spec, overrides: dict[str, dict[str, Any]], has_variants: bool) -> Sweep:
    seed = spec.seed if spec.seed is not None else spec.base.seed
    grid_paths = list(spec.grid)
    grid_values = [spec.grid[p][1] for p in grid_paths]
    zip_paths = list(spec.zip)
    zip_rows = list(zip(*(spec.zip[p][1] for p in zip_paths), strict=True)) if zip_paths else [()]
    n_grid = math.prod(len(v) for v in grid_values)
    n_sample = (
        design_rows(
            spec.sample_method,
            spec.sample_n,
            len(spec.sample),
            spec.sample_calc_second_order is not False,
        )
        if spec.sample
        else 1
    )
    n_points = n_grid * len(zip_rows) * n_sample
    _check_size(spec.source, max(len(overrides), 1), n_points, spec.replicates)
    design = _design(spec, seed)
    sample_rows = design.values() if design is not None else [{}]
    points: list[dict[str, Any]] = []
    origins: list[dict[str, tuple[Any, ...]]] = []  # per point: path -> YAML path of its value
    for g_index in itertools.product(*(range(len(v)) for v in grid_values)):
        grid_part = {
            p: grid_values[k][i] for k, (p, i) in enumerate(zip(grid_paths, g_index, strict=True))
        }
        grid_where = {
            p: ("grid", spec.grid[p][0], i) for p, i in zip(grid_paths, g_index, strict=True)
        }
        for z, row in enumerate(zip_rows):
            zip_part = dict(zip(zip_paths, row, strict=True))
            zip_where = {p: ("zip", spec.zip[p][0], z) for p in zip_paths}
            for sampled in sample_rows:
                points.append({**grid_part, **zip_part, **sampled})
                origins.append({**grid_where, **zip_where})
    parameters = (*grid_paths, *zip_paths, *spec.sample)

    variants: dict[str, Scenario] = {}
    clean: dict[str, dict[str, Any]] = {}
    if has_variants:
        for name, block in overrides.items():
            try:
                variants[name] = apply_overrides(
                    spec.base, {"name": f"{spec.base.name}_{name}", **block}, source=spec.source
                )
                clean[name] = block
            except ScenarioError as error:
                spec.problems.extend(_variant_problems(error, name, block, spec))
        if spec.problems:
            raise ScenarioError(spec.problems)
    else:
        variants[DEFAULT_VARIANT] = spec.base
        clean[DEFAULT_VARIANT] = {}
    sweep = Sweep(
        source=spec.source,
        name=spec.name,
        text=spec.text,
        base=spec.base,
        variants=variants,
        overrides=clean,
        parameters=tuple(parameters),
        points=tuple(points),
        replicates=spec.replicates,
        seed=seed,
        reference=spec.reference,
        description=spec.description,
        has_variants=has_variants,
        replicates_given=spec.replicates_given,
        design=design,
    )
    sections = {
        **{p: ("grid", raw) for p, (raw, _) in spec.grid.items()},
        **{p: ("zip", raw) for p, (raw, _) in spec.zip.items()},
        **{p: ("sample", "ranges", raw) for p, (raw, *_) in spec.sample.items()},
    }
    problems, typed = _validate_points(sweep, spec.positions, sections, origins)
    if problems:
        raise ScenarioError(problems)
    return replace(sweep, points=typed)


_MISSING = object()


def _value_at(data: Any, parts: list[str | int]) -> Any:
    """The value at an override path in dumped scenario data, or ``_MISSING``."""
    node = data
    for part in parts:
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
        elif isinstance(node, list):
            index = None
            if isinstance(part, int) and 0 <= part < len(node):
                index = part
            else:
                for i, item in enumerate(node):
                    if isinstance(item, dict) and part in (
                        item.get("kind"),
                        item.get("name"),
                        item.get("holder"),
                    ):
                        index = i
                        break
            if index is None:
                return _MISSING
            node = node[index]
        else:
            return _MISSING
    return node


_SET_BY = re.compile(r" \(set by override '(?P<key>.+?)'\)$")


def _cause(problem: Problem, keys: Mapping[str, Any]) -> tuple[str, Any]:
    """A problem's message without its "(set by override ...)" suffix, and the override
    key (as in ``keys``) that caused it, or None."""
    message = problem.message
    match = _SET_BY.search(message)
    if match:
        return message[: match.start()], keys.get(_dotted_or_raw(match.group("key")))
    if problem.path in keys:
        return message, problem.path
    dotted = _dotted_or_raw(problem.path) if problem.path else ""
    if dotted in keys:
        return message, keys[dotted]
    if dotted:  # a check over a section (e.g. shares summing to 1): the key inside it
        for path, raw in keys.items():
            if path.startswith(dotted + ".") or dotted.startswith(path + "."):
                return message, raw
    return message, None


def _is_unknown(message: str) -> bool:
    return message.startswith("unknown field") or " has no entry " in message


def _variant_problems(
    error: ScenarioError, name: str, block: Mapping[str, Any], spec: _Spec
) -> list[Problem]:
    """A variant's override problems, each at the line of the override that caused it."""
    keys = {_dotted_or_raw(raw): raw for raw in block}
    out = []
    for p in error.problems:
        if p.message.startswith("… and "):
            out.append(replace(p, file=spec.source))
            continue
        message, raw = _cause(p, keys)
        where: tuple[Any, ...] = ("variants", name) if raw is None else ("variants", name, raw)
        key = raw is not None and _is_unknown(message)
        if raw is not None and p.path and not key:
            try:  # the value inside the override that is wrong, e.g. defenses[0].kind
                inner, outer = _split_path(p.path), _split_path(str(raw))
            except ValueError:
                inner, outer = [], [None]
            if inner[: len(outer)] == outer:
                where = (*where, *inner[len(outer) :])
        line, col = (
            spec.positions.locate(where, key=key) if spec.positions is not None else (None, None)
        )
        field_path = p.path or (str(raw) if raw is not None else "")
        text = f"{field_path}: {message}" if field_path else message
        out.append(Problem(spec.source, line, col, f"variants.{name}", text))
    return out


def _dotted_or_raw(raw: Any) -> str:
    try:
        return _dotted(str(raw))
    except ValueError:
        return str(raw)


def _point_label(sweep: Sweep, index: int, variant: str) -> str:
    values = ", ".join(f"{k}={_short(v)}" for k, v in sweep.points[index].items())
    where = f"point {index} of {len(sweep.points)}" + (f" ({values})" if values else "")
    if sweep.has_variants:
        where += f" in variant {variant}"
    return where


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if isinstance(value, dict | list) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _validate_points(
    sweep: Sweep,
    positions: _Positions | None,
    sections: Mapping[str, tuple[Any, ...]],
    origins: Sequence[Mapping[str, tuple[Any, ...]]] | None,
) -> tuple[list[Problem], tuple[dict[str, Any], ...]]:
    """Validate every (variant, point).

    Returns the problems — each at the line of the swept value (or key, for an unknown
    path) that caused it, reported once with the first point it occurs at and a count of
    the others — and the points with scalar values as validated (a float field given 5
    holds 5.0, so a parameter column has one type).
    """
    if not sweep.parameters:
        return [], sweep.points
    found: dict[tuple[Any, ...], list[Any]] = {}
    typed: list[dict[str, Any]] = [dict(p) for p in sweep.points]
    for v, (variant, scenario) in enumerate(sweep.variants.items()):
        for index, point in enumerate(sweep.points):
            try:
                done = apply_overrides(scenario, point, source=sweep.source)
            except ScenarioError as error:
                for p in error.problems:
                    if not p.message.startswith("… and "):
                        _record(found, p, sweep, index, variant, sections, origins, positions)
                continue
            if v == 0:
                data = done.model_dump(mode="json")
                for path, value in point.items():
                    if not isinstance(value, dict | list):
                        got = _value_at(data, _split_path(path))
                        if got is not _MISSING:
                            typed[index][path] = got
    problems = []
    for problem, more in found.values():
        if more:
            noun = "point" if more == 1 else "points"
            problem = replace(problem, message=f"{problem.message} (and {more:,} more {noun})")
        problems.append(problem)
    return problems, tuple(typed)


def _record(
    found: dict[tuple[Any, ...], list[Any]],
    p: Problem,
    sweep: Sweep,
    index: int,
    variant: str,
    sections: Mapping[str, tuple[Any, ...]],
    origins: Sequence[Mapping[str, tuple[Any, ...]]] | None,
    positions: _Positions | None,
) -> None:
    """Add one point problem to ``found`` (or count a repeat of it)."""
    keys = {path: path for path in sweep.points[index]}
    message, key = _cause(p, keys)
    unknown = _is_unknown(message)
    section = sections.get(key, ()) if key is not None else ()
    label = ".".join(str(part) for part in section) if section else (key or p.path)
    where = section
    if key is not None and not unknown and origins is not None and key in origins[index]:
        where = origins[index][key]
    slot = (where, p.path, message)
    if slot in found:
        found[slot][1] += 1
        return
    text = f"{_point_label(sweep, index, variant)}: "
    if p.path and p.path != key:
        text += f"{p.path}: "
    text += message
    line, col = (None, None)
    if positions is not None and where:
        line, col = positions.locate(where, key=unknown)
    found[slot] = [Problem(sweep.source, line, col, label, text), 0]
