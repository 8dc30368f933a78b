"""Token emission schedules: how many new tokens each epoch issues.

A schedule is a pure function of time. Every schedule is a small frozen dataclass with
two vectorised methods and one attribute:

* ``emitted(t)`` — tokens issued *during* epoch ``t`` (epochs are numbered 0, 1, 2, ...);
* ``cumulative(t)`` — tokens issued over the epochs ``[0, t)``, i.e. by the *start* of
  epoch ``t`` (so ``cumulative(0) == 0`` and ``cumulative(1) == emitted(0)``);
* ``cap_tokens`` — the most the schedule will ever issue (``math.inf`` when unbounded).

Parameter names are the scenario schema's (``tokenomics.emission``), so a schedule is built
from its scenario section as ``make_schedule(**section.model_dump())``.

``t`` may be a Python/numpy integer (the result is a numpy ``float64`` scalar) or an
integer array of any shape (the result is a ``float64`` array of the same shape). Epochs
before 0 issue nothing. Every ``cumulative`` is closed form — no loop over epochs — so a
projection over a million epochs costs one vectorised expression, and
``emitted(t) == cumulative(t + 1) - cumulative(t)`` up to floating-point rounding
(``emitted`` is computed directly rather than as that difference, which keeps it accurate
when the cumulative total is large and the per-epoch issuance tiny).

**Caps.** Issuance never exceeds ``cap_tokens``: the epoch whose issuance would cross the cap
issues exactly the remainder ``cap_tokens - cumulative(t)`` and every later epoch issues 0.
Schedules with a natural limit (halvings, exponential decay, pools) use it as the default
cap, and a cap above the natural limit is lowered to it (so ``cap_tokens`` is always the
true total).

Schedules (the ``kind`` names accepted by :func:`make_schedule` in brackets):

* :class:`Constant` [``constant``] — a fixed reward per epoch.
* :class:`LinearDecay` [``linear_decay``] — a reward falling linearly to a floor.
* :class:`ExponentialDecay` [``exponential_decay``] — a reward halving smoothly every
  ``half_life_epochs``.
* :class:`Halving` [``halving``] — Bitcoin style: a reward per epoch halved every
  ``halving_interval_epochs`` (Bitcoin: 50 BTC per block, halved every 210,000 blocks).
* :class:`SupplyHalving` [``supply_halving``] — Bittensor style: the reward halves each time
  cumulative issuance crosses the next threshold (½, ¾, ⅞ ... of the cap).
* :class:`Table` [``table``] — piecewise-constant rewards from a table.
* :class:`PoolDrip` [``pool_drip``] — a fixed, pre-minted pool released over a duration
  (OpenLedger's model: total supply fixed, rewards paid out of a pool).

Errors a user can hit (bad parameters, non-integer epochs) raise :class:`EmissionError`, a
``ValueError`` whose message names the schedule, the field, the value and the fix.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "KINDS",
    "Constant",
    "EmissionError",
    "EmissionSchedule",
    "ExponentialDecay",
    "Halving",
    "LinearDecay",
    "PoolDrip",
    "SupplyHalving",
    "Table",
    "make_schedule",
]

EpochLike = int | np.integer | npt.ArrayLike
"""An epoch index or an array of them (integers; integral floats are accepted)."""

FloatOrArray = np.float64 | npt.NDArray[np.float64]
"""A float64 scalar for a scalar epoch, a float64 array for an array of epochs."""

# Beyond ~1100 halvings 2**-k is 0.0 in float64; clipping keeps ldexp's exponent in int32.
_MAX_HALVINGS = 2_000

TABLE_EPOCHS = 512
"""Epochs per block of :meth:`EmissionSchedule.emitted_at`'s table (one vectorised
``emitted`` call per block instead of one per epoch)."""


class EmissionError(ValueError):
    """A schedule was given an invalid parameter or epoch; the message says what to fix."""


# --------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------


def _epochs(t: EpochLike, where: str) -> npt.NDArray[np.int64]:
    """Return ``t`` as an int64 array, rejecting non-integral or non-numeric epochs."""
    arr = np.asarray(t)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    if arr.dtype.kind == "f":
        whole = np.isfinite(arr) & (arr == np.floor(arr)) & (np.abs(arr) < 2.0**62)
        if not np.all(whole):
            raise EmissionError(
                f"{where}: epochs must be whole numbers, got {t!r}; "
                "pass integer epoch indices (0, 1, 2, ...)"
            )
        return arr.astype(np.int64)
    raise EmissionError(
        f"{where}: epochs must be integers, got {t!r} (dtype {arr.dtype}); "
        "pass integer epoch indices (0, 1, 2, ...)"
    )


def _out(values: npt.NDArray[np.float64]) -> FloatOrArray:
    """Return a float64 scalar for 0-d results, the array otherwise."""
    if values.ndim == 0:
        return np.float64(values)
    return values


def _check_amount(schedule: str, name: str, value: Any, *, positive: bool = False) -> float:
    """Validate a non-negative (or strictly positive) finite token amount or rate."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise EmissionError(f"{schedule}.{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        need = "a finite number > 0" if positive else "a finite number >= 0"
        raise EmissionError(f"{schedule}.{name} must be {need}, got {value!r}")
    return v


def _check_epoch_count(schedule: str, name: str, value: Any) -> int:
    """Validate a positive whole number of epochs."""
    if isinstance(value, bool):
        raise EmissionError(
            f"{schedule}.{name} must be a whole number of epochs >= 1, got {value!r}"
        )
    if isinstance(value, float | np.floating) and math.isfinite(value) and value == int(value):
        value = int(value)
    if not isinstance(value, int | np.integer) or value < 1:
        raise EmissionError(
            f"{schedule}.{name} must be a whole number of epochs >= 1, got {value!r}"
        )
    return int(value)


def _check_cap(schedule: str, cap: Any) -> float | None:
    """Validate an optional cap: None, a finite number >= 0, or +inf."""
    if cap is None:
        return None
    if isinstance(cap, bool) or not isinstance(cap, int | float | np.integer | np.floating):
        raise EmissionError(
            f"{schedule}.cap_tokens must be a number of tokens or None, got {cap!r}"
        )
    c = float(cap)
    if math.isnan(c) or c < 0:
        raise EmissionError(
            f"{schedule}.cap_tokens must be >= 0 tokens (or None for the natural limit), "
            f"got {cap!r}"
        )
    return c


def _resolve_cap(schedule: EmissionSchedule, natural: float) -> None:
    """Set ``schedule.cap_tokens`` to the given cap lowered to ``natural``, or ``natural``."""
    cap = _check_cap(type(schedule).__name__, schedule.cap_tokens)
    object.__setattr__(schedule, "cap_tokens", natural if cap is None else min(cap, natural))


# --------------------------------------------------------------------------------------
# base class
# --------------------------------------------------------------------------------------


class EmissionSchedule:
    """Base class: turns raw (uncapped) formulas into capped, vectorised methods.

    Subclasses are frozen dataclasses that implement ``_raw_cumulative`` and
    ``_raw_emitted`` on float64 arrays of non-negative epochs and resolve their
    ``cap_tokens`` field to a float in ``__post_init__`` (``math.inf`` = unbounded).
    """

    KIND: ClassVar[str] = ""
    cap_tokens: float | None

    @property
    def _cap(self) -> float:
        return math.inf if self.cap_tokens is None else float(self.cap_tokens)

    def _raw_cumulative(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        raise NotImplementedError

    def _raw_emitted(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        raise NotImplementedError

    def cumulative(self, t: EpochLike) -> FloatOrArray:
        """Tokens issued over epochs ``[0, t)`` (0 for ``t <= 0``), never above the cap."""
        ti = _epochs(t, f"{type(self).__name__}.cumulative")
        tf = np.maximum(ti, 0).astype(np.float64)
        raw = self._raw_cumulative(tf)
        cap = self._cap
        if math.isfinite(cap):
            raw = np.minimum(raw, cap)
        return _out(np.asarray(raw, dtype=np.float64))

    def emitted(self, t: EpochLike) -> FloatOrArray:
        """Tokens issued during epoch ``t`` (0 for ``t < 0``); the epoch that reaches
        the cap issues exactly the remainder and later epochs issue 0."""
        ti = _epochs(t, f"{type(self).__name__}.emitted")
        tf = np.maximum(ti, 0).astype(np.float64)
        out = self._raw_emitted(tf)
        cap = self._cap
        if math.isfinite(cap):
            before = self._raw_cumulative(tf)
            after = self._raw_cumulative(tf + 1.0)
            remainder = np.maximum(cap - before, 0.0)
            out = np.where(after <= cap, out, remainder)
        out = np.where(ti < 0, 0.0, out)
        return _out(np.asarray(out, dtype=np.float64))

    @property
    def _tabulable(self) -> bool:
        """True when :meth:`emitted` uses only exactly rounded operations (arithmetic,
        floor, ldexp, min/max, lookups), which give an epoch the same bits whether it is
        computed alone or in an array; False for schedules calling ``exp``/``expm1``,
        whose vectorised (SIMD) and scalar kernels may differ in the last bit."""
        return True

    def emitted_at(self, epoch: int) -> float:
        """``float(self.emitted(epoch))`` for one whole epoch, bit for bit, as a simulation
        asks for it epoch after epoch: read from a table of :data:`TABLE_EPOCHS` epochs
        computed by one vectorised :meth:`emitted` call (the per-call array set-up costs
        several µs, a table lookup well under one). Schedules that are not
        :attr:`_tabulable`, and negative epochs, are computed directly."""
        if not self._tabulable or epoch < 0:
            return float(self.emitted(epoch))
        start, values = self.__dict__.get("_emitted_table", (-1, []))
        offset = epoch - start
        if start < 0 or not 0 <= offset < TABLE_EPOCHS:
            start = epoch - epoch % TABLE_EPOCHS
            epochs = np.arange(start, start + TABLE_EPOCHS, dtype=np.int64)
            values = self.emitted(epochs).tolist()
            # a cache outside the dataclass fields: equality, hash and repr ignore it
            object.__setattr__(self, "_emitted_table", (start, values))
            offset = epoch - start
        return values[offset]


# --------------------------------------------------------------------------------------
# schedules
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Constant(EmissionSchedule):
    """The same reward every epoch (optionally until a cap is reached)."""

    KIND: ClassVar[str] = "constant"

    tokens_per_epoch: float
    """Tokens issued per epoch (>= 0)."""
    cap_tokens: float | None = None
    """Most tokens ever issued (>= 0); ``None`` = unbounded (``inf``)."""

    def __post_init__(self) -> None:
        rate = _check_amount("Constant", "tokens_per_epoch", self.tokens_per_epoch)
        object.__setattr__(self, "tokens_per_epoch", rate)
        _resolve_cap(self, math.inf)

    def _raw_cumulative(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return self.tokens_per_epoch * t

    def _raw_emitted(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.full_like(t, self.tokens_per_epoch)


@dataclass(frozen=True)
class LinearDecay(EmissionSchedule):
    """A reward that moves linearly from ``initial_tokens_per_epoch`` (epoch 0) to
    ``final_tokens_per_epoch`` (epoch ``decay_epochs``) and stays there afterwards.

    Epoch ``t < decay_epochs`` issues ``initial + (final - initial) * t / decay_epochs``.
    With ``final == 0`` the schedule is finite: ``cap = initial * (decay_epochs + 1) / 2``.
    """

    KIND: ClassVar[str] = "linear_decay"

    initial_tokens_per_epoch: float
    """Tokens issued in epoch 0 (>= 0)."""
    final_tokens_per_epoch: float
    """Tokens per epoch from epoch ``decay_epochs`` onward (>= 0)."""
    decay_epochs: int
    """Epochs the linear ramp lasts (whole number >= 1)."""
    cap_tokens: float | None = None
    """Most tokens ever issued; ``None`` = the natural limit (inf unless ``final == 0``)."""

    def __post_init__(self) -> None:
        initial = _check_amount(
            "LinearDecay", "initial_tokens_per_epoch", self.initial_tokens_per_epoch
        )
        final = _check_amount("LinearDecay", "final_tokens_per_epoch", self.final_tokens_per_epoch)
        duration = _check_epoch_count("LinearDecay", "decay_epochs", self.decay_epochs)
        object.__setattr__(self, "initial_tokens_per_epoch", initial)
        object.__setattr__(self, "final_tokens_per_epoch", final)
        object.__setattr__(self, "decay_epochs", duration)
        _resolve_cap(self, initial * (duration + 1) / 2.0 if final == 0 else math.inf)

    def _raw_cumulative(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        d = float(self.decay_epochs)
        initial, final = self.initial_tokens_per_epoch, self.final_tokens_per_epoch
        n = np.minimum(t, d)
        ramp = n * initial + (final - initial) / d * n * (n - 1.0) / 2.0
        return ramp + np.maximum(t - d, 0.0) * final

    def _raw_emitted(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        d = float(self.decay_epochs)
        initial, final = self.initial_tokens_per_epoch, self.final_tokens_per_epoch
        frac = np.minimum(t, d) / d
        return initial + (final - initial) * frac


@dataclass(frozen=True)
class ExponentialDecay(EmissionSchedule):
    """A geometric reward: epoch ``t`` issues ``initial * 2**(-t / half_life_epochs)``.

    Cumulative issuance ``initial * (1 - q**t) / (1 - q)`` with
    ``q = 2**(-1/half_life_epochs)`` converges to ``cap = initial / (1 - q)``.
    """

    KIND: ClassVar[str] = "exponential_decay"

    initial_tokens_per_epoch: float
    """Tokens issued in epoch 0 (>= 0)."""
    half_life_epochs: float
    """Epochs after which the per-epoch reward has halved (> 0; need not be whole)."""
    cap_tokens: float | None = None
    """Most tokens ever issued; ``None`` = the natural limit ``initial / (1 - q)``."""

    def __post_init__(self) -> None:
        name = "ExponentialDecay"
        initial = _check_amount(name, "initial_tokens_per_epoch", self.initial_tokens_per_epoch)
        half = _check_amount(name, "half_life_epochs", self.half_life_epochs, positive=True)
        object.__setattr__(self, "initial_tokens_per_epoch", initial)
        object.__setattr__(self, "half_life_epochs", half)
        _resolve_cap(self, initial / self._one_minus_q)

    @property
    def _log_q(self) -> float:
        return -math.log(2.0) / self.half_life_epochs

    @property
    def _one_minus_q(self) -> float:
        return -math.expm1(self._log_q)

    @property
    def _tabulable(self) -> bool:
        return False  # exp and expm1: see EmissionSchedule._tabulable

    def _raw_cumulative(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return self.initial_tokens_per_epoch * (-np.expm1(self._log_q * t)) / self._one_minus_q

    def _raw_emitted(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return self.initial_tokens_per_epoch * np.exp(self._log_q * t)


def _geometric_remaining(
    t: npt.NDArray[np.float64], initial: float, period: float, segment_tokens: float
) -> npt.NDArray[np.float64]:
    """Tokens still to be issued at instant ``t`` by a continuous-time halving: rate
    ``initial * 2**-k`` during ``[k*period, (k+1)*period)``, so each segment issues
    ``2**-k * segment_tokens`` (``segment_tokens = initial * period``, passed in exactly)
    and the limit is ``2 * segment_tokens``.

    Written as ``2**-k * ((k + 2) * segment_tokens - initial * t)``: exact whenever the
    inputs are whole numbers below 2**53 (Bitcoin, Bittensor) and monotone in ``t``
    within a segment.
    """
    k = np.clip(np.floor(t / period), 0, _MAX_HALVINGS)
    scale = np.ldexp(1.0, -k.astype(np.int32))
    left = (k + 2.0) * segment_tokens - initial * t
    return scale * np.clip(left, 0.0, 2.0 * segment_tokens)


def _geometric_cumulative(
    t: npt.NDArray[np.float64], initial: float, period: float, segment_tokens: float
) -> npt.NDArray[np.float64]:
    """Tokens issued by instant ``t`` by the continuous-time halving above."""
    return 2.0 * segment_tokens - _geometric_remaining(t, initial, period, segment_tokens)


@dataclass(frozen=True)
class Halving(EmissionSchedule):
    """Bitcoin-style halving: ``initial_tokens_per_epoch``, halved every
    ``halving_interval_epochs``.

    Epoch ``t`` issues ``initial * 2**-(t // interval)``; the issuance converges to the
    natural limit ``2 * initial * interval`` (Bitcoin: 50 × 210,000 × 2 = 21,000,000). A
    lower cap stops issuance earlier, the epoch that reaches it issuing exactly the
    remainder.

    The interval may be fractional (e.g. 730.5 daily epochs = 2 years): the epoch containing
    a halving instant then issues at the old rate up to that instant and at the new rate
    after it, the same partial-epoch rule as :class:`SupplyHalving`.
    """

    KIND: ClassVar[str] = "halving"

    initial_tokens_per_epoch: float
    """Tokens issued per epoch before the first halving (>= 0)."""
    halving_interval_epochs: float
    """Epochs between halvings (> 0; usually a whole number)."""
    cap_tokens: float | None = None
    """Most tokens ever issued; ``None`` = the natural limit ``2 * initial * interval``."""

    def __post_init__(self) -> None:
        initial = _check_amount(
            "Halving", "initial_tokens_per_epoch", self.initial_tokens_per_epoch
        )
        period = _check_amount(
            "Halving", "halving_interval_epochs", self.halving_interval_epochs, positive=True
        )
        object.__setattr__(self, "initial_tokens_per_epoch", initial)
        whole = int(period) if period.is_integer() else period
        object.__setattr__(self, "halving_interval_epochs", whole)
        _resolve_cap(self, 2.0 * initial * period)

    def _raw_cumulative(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        initial, period = self.initial_tokens_per_epoch, self.halving_interval_epochs
        return _geometric_cumulative(t, initial, float(period), initial * period)

    def _raw_emitted(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        initial, period = self.initial_tokens_per_epoch, self.halving_interval_epochs
        if isinstance(period, int):
            k = np.minimum(np.floor(t / period), _MAX_HALVINGS)
            return initial * np.ldexp(1.0, -k.astype(np.int32))
        p, seg = float(period), initial * period
        return _geometric_remaining(t, initial, p, seg) - _geometric_remaining(
            t + 1.0, initial, p, seg
        )


@dataclass(frozen=True)
class SupplyHalving(EmissionSchedule):
    """Bittensor-style halving driven by issuance: ``initial_tokens_per_epoch`` until the
    cumulative issuance reaches half of ``cap_tokens``, then half that rate until it reaches
    ¾ of the cap, a quarter until ⅞, ... towards the cap (Bittensor: 7,200 TAO/day until
    10.5M, 3,600/day until 15.75M, ..., cap 21M).

    **Partial-epoch rule.** The epoch during which issuance crosses a threshold issues at
    the old rate until the threshold is reached and at the new rate for the rest of the
    epoch (issuance is treated as continuous within an epoch). Every rate segment therefore
    lasts exactly ``threshold_tokens / initial`` epochs, so ``cumulative`` is the
    closed-form continuous halving sampled at whole epochs. Bittensor in daily epochs:
    10.5M / 7,200 = 1458⅓ days, so day 1458 issues 2,400 at 7,200/day plus 2,400 at
    3,600/day = 4,800.
    """

    KIND: ClassVar[str] = "supply_halving"

    initial_tokens_per_epoch: float
    """Tokens issued per epoch before the first threshold (> 0)."""
    cap_tokens: float
    """Most tokens ever issued (> 0); the first halving happens at half of it."""

    def __post_init__(self) -> None:
        name = "SupplyHalving"
        initial = _check_amount(
            name, "initial_tokens_per_epoch", self.initial_tokens_per_epoch, positive=True
        )
        cap = _check_amount(name, "cap_tokens", self.cap_tokens, positive=True)
        object.__setattr__(self, "initial_tokens_per_epoch", initial)
        object.__setattr__(self, "cap_tokens", 2.0 * (cap / 2.0))

    @property
    def threshold_tokens(self) -> float:
        """Cumulative issuance at which the first halving happens: half the cap (tokens)."""
        return self.cap_tokens / 2.0

    @property
    def period(self) -> float:
        """Epochs (fractional) between halvings: ``threshold_tokens / initial``."""
        return self.threshold_tokens / self.initial_tokens_per_epoch

    def _raw_cumulative(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        initial = self.initial_tokens_per_epoch
        return _geometric_cumulative(t, initial, self.period, self.threshold_tokens)

    def _raw_emitted(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        initial, p, seg = self.initial_tokens_per_epoch, self.period, self.threshold_tokens
        return _geometric_remaining(t, initial, p, seg) - _geometric_remaining(
            t + 1.0, initial, p, seg
        )


def _table_step(i: int, step: Any) -> tuple[int, float]:
    """One ``(start_epoch, tokens_per_epoch)`` step of a table, from a pair or a mapping
    with those keys (a scenario's ``steps`` entry)."""
    try:
        if isinstance(step, Mapping):
            start, rate = step["start_epoch"], step["tokens_per_epoch"]
        else:
            start, rate = step
    except (KeyError, TypeError, ValueError) as exc:
        raise EmissionError(
            f"Table.steps[{i}] must be (start_epoch, tokens_per_epoch), got {step!r}"
        ) from exc
    if isinstance(start, float | np.floating) and math.isfinite(start) and start == int(start):
        start = int(start)
    if isinstance(start, bool) or not isinstance(start, int | np.integer) or start < 0:
        raise EmissionError(
            f"Table.steps[{i}].start_epoch must be a whole number >= 0, got {start!r}"
        )
    return int(start), _check_amount("Table", f"steps[{i}].tokens_per_epoch", rate)


@dataclass(frozen=True)
class Table(EmissionSchedule):
    """Piecewise-constant rewards: ``steps`` of ``(start_epoch, tokens_per_epoch)``, each
    rate holding from its start epoch until the next step's.

    Start epochs must be strictly increasing whole numbers >= 0; epochs before the first
    issue nothing. The last rate lasts forever (finite cap only if it is 0). Steps may be
    pairs or mappings with the keys ``start_epoch`` and ``tokens_per_epoch``.
    """

    KIND: ClassVar[str] = "table"

    steps: tuple[tuple[int, float], ...]
    """``(start_epoch, tokens_per_epoch)`` of each segment, start epochs increasing."""
    cap_tokens: float | None = None
    """Most tokens ever issued; ``None`` = natural limit (inf unless the last rate is 0)."""
    _starts_cum: tuple[float, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            raw = tuple(self.steps)
        except TypeError as exc:
            raise EmissionError(f"Table.steps must be a sequence, got {self.steps!r}") from exc
        if not raw:
            raise EmissionError("Table needs at least one step (start_epoch, tokens_per_epoch)")
        steps = tuple(_table_step(i, s) for i, s in enumerate(raw))
        ep = tuple(e for e, _ in steps)
        if any(b <= a for a, b in itertools.pairwise(ep)):
            raise EmissionError(f"Table start epochs must be strictly increasing, got {list(ep)}")
        rt = tuple(r for _, r in steps)
        object.__setattr__(self, "steps", steps)
        lengths = np.diff(np.asarray(ep, dtype=np.float64))
        starts = np.concatenate([[0.0], np.cumsum(np.asarray(rt[:-1]) * lengths)])
        object.__setattr__(self, "_starts_cum", tuple(float(x) for x in starts))
        _resolve_cap(self, float(starts[-1]) if rt[-1] == 0 else math.inf)

    @property
    def start_epochs(self) -> npt.NDArray[np.float64]:
        """Start epoch of each step (float64, for the formulas)."""
        return np.asarray([e for e, _ in self.steps], dtype=np.float64)

    @property
    def rates_tokens(self) -> npt.NDArray[np.float64]:
        """Tokens per epoch of each step."""
        return np.asarray([r for _, r in self.steps], dtype=np.float64)

    def _segment(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        return np.searchsorted(self.start_epochs, t, side="right") - 1

    def _raw_cumulative(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        idx = self._segment(t)
        safe = np.maximum(idx, 0)
        starts = np.asarray(self._starts_cum)[safe]
        begin = self.start_epochs[safe]
        rate = self.rates_tokens[safe]
        return np.where(idx < 0, 0.0, starts + rate * (t - begin))

    def _raw_emitted(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        idx = self._segment(t)
        return np.where(idx < 0, 0.0, self.rates_tokens[np.maximum(idx, 0)])


@dataclass(frozen=True)
class PoolDrip(EmissionSchedule):
    """A fixed, pre-minted pool released over ``duration_epochs`` (OpenLedger: the
    supply is fixed and rewards come out of a community pool), for supply projections.

    * ``shape="linear"``: every epoch ``t < duration`` releases ``pool / duration``.
    * ``shape="front_loaded"``: a geometric release, epoch ``t`` releasing
      ``pool * (1 - q) * q**t / (1 - q**duration)`` with ``q = 2**(-1/half_life)``
      (``half_life_epochs`` defaults to ``duration / 4``, so the release rate halves every
      quarter of the period). The factor ``1 / (1 - q**duration)`` renormalises the
      truncated geometric series so that the release sums exactly to ``pool`` at ``duration``.

    Nothing is released from epoch ``duration`` on; ``cap_tokens == pool_tokens``. (The
    simulation's ``pool_drip`` scenario kind pays a constant amount per epoch out of the
    reward pool instead: ``sim.build.emission``.)
    """

    KIND: ClassVar[str] = "pool_drip"
    SHAPES: ClassVar[tuple[str, ...]] = ("linear", "front_loaded")

    pool_tokens: float
    """Tokens in the pre-minted pool (>= 0)."""
    duration_epochs: int
    """Epochs over which the pool is released (whole number >= 1)."""
    shape: str = "linear"
    """Release profile: ``"linear"`` or ``"front_loaded"``."""
    half_life_epochs: float | None = None
    """front_loaded only: epochs for the release rate to halve (> 0); None = duration / 4."""
    cap_tokens: float = field(default=math.inf, init=False)
    """Most tokens ever released: the pool (derived, not a parameter)."""

    def __post_init__(self) -> None:
        pool = _check_amount("PoolDrip", "pool_tokens", self.pool_tokens)
        duration = _check_epoch_count("PoolDrip", "duration_epochs", self.duration_epochs)
        if self.shape not in self.SHAPES:
            raise EmissionError(
                f"PoolDrip.shape must be one of {list(self.SHAPES)}, got {self.shape!r}"
            )
        half = self.half_life_epochs
        if half is not None:
            if self.shape != "front_loaded":
                raise EmissionError(
                    f"PoolDrip.half_life_epochs only applies to shape='front_loaded', got "
                    f"{half!r} with shape={self.shape!r}; drop it or change the shape"
                )
            half = _check_amount("PoolDrip", "half_life_epochs", half, positive=True)
        elif self.shape == "front_loaded":
            half = duration / 4.0
        object.__setattr__(self, "pool_tokens", pool)
        object.__setattr__(self, "duration_epochs", duration)
        object.__setattr__(self, "half_life_epochs", half)
        object.__setattr__(self, "cap_tokens", pool)

    @property
    def _tabulable(self) -> bool:
        return self.shape == "linear"  # front_loaded calls exp and expm1

    def _raw_cumulative(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        d = float(self.duration_epochs)
        n = np.minimum(t, d)
        if self.shape == "linear":
            frac = n / d
        else:
            log_q = -math.log(2.0) / float(self.half_life_epochs)  # type: ignore[arg-type]
            frac = np.expm1(log_q * n) / math.expm1(log_q * d)
        return np.where(t >= d, self.pool_tokens, self.pool_tokens * frac)

    def _raw_emitted(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        d = float(self.duration_epochs)
        pool = self.pool_tokens
        if self.shape == "linear":
            rate = np.full_like(t, pool / d)
        else:
            log_q = -math.log(2.0) / float(self.half_life_epochs)  # type: ignore[arg-type]
            rate = pool * (-math.expm1(log_q)) * np.exp(log_q * t) / -math.expm1(log_q * d)
        return np.where(t < d, rate, 0.0)


KINDS: dict[str, type[EmissionSchedule]] = {
    cls.KIND: cls
    for cls in (Constant, LinearDecay, ExponentialDecay, Halving, SupplyHalving, Table, PoolDrip)
}
"""Schedule classes by the ``kind`` name used in scenarios and :func:`make_schedule`."""


def make_schedule(kind: str, **params: Any) -> EmissionSchedule:
    """Build a schedule from its ``kind`` name and keyword parameters, named as in a
    scenario's ``tokenomics.emission`` section.

    ``make_schedule("halving", initial_tokens_per_epoch=50, halving_interval_epochs=210_000)``
    is ``Halving(50, 210_000)``. Raises :class:`EmissionError` for an unknown kind,
    unknown/missing parameters or invalid values.
    """
    cls = KINDS.get(kind)
    if cls is None:
        raise EmissionError(
            f"unknown emission schedule kind {kind!r}; choose one of {sorted(KINDS)}"
        )
    try:
        return cls(**params)
    except TypeError as exc:
        names = [f.name for f in fields(cls) if f.init]
        raise EmissionError(
            f"emission schedule {kind!r}: bad parameters {sorted(params)} ({exc}); it takes {names}"
        ) from exc
