"""Token emission schedules: how many new tokens each epoch issues.

A schedule is a pure function of time. Every schedule is a small frozen dataclass with
two vectorised methods and one attribute:

* ``emitted(t)`` — tokens issued *during* epoch ``t`` (epochs are numbered 0, 1, 2, ...);
* ``cumulative(t)`` — tokens issued over the epochs ``[0, t)``, i.e. by the *start* of
  epoch ``t`` (so ``cumulative(0) == 0`` and ``cumulative(1) == emitted(0)``);
* ``cap`` — the most the schedule will ever issue, in tokens (``math.inf`` when unbounded).

``t`` may be a Python/numpy integer (the result is a numpy ``float64`` scalar) or an
integer array of any shape (the result is a ``float64`` array of the same shape). Epochs
before 0 issue nothing. Every ``cumulative`` is closed form — no loop over epochs — so a
projection over a million epochs costs one vectorised expression, and
``emitted(t) == cumulative(t + 1) - cumulative(t)`` up to floating-point rounding
(``emitted`` is computed directly rather than as that difference, which keeps it accurate
when the cumulative total is large and the per-epoch issuance tiny).

**Caps.** Issuance never exceeds ``cap``: the epoch whose issuance would cross the cap issues
exactly the remainder ``cap - cumulative(t)`` and every later epoch issues 0. Schedules
with a natural limit (halvings, exponential decay, pools) use it as the default cap, and
a ``cap`` above the natural limit is lowered to it (so ``cap`` is always the true total).

Schedules (the ``kind`` names accepted by :func:`make_schedule` in brackets):

* :class:`Constant` [``constant``] — a fixed reward per epoch.
* :class:`LinearDecay` [``linear_decay``] — a reward falling linearly to a floor.
* :class:`ExponentialDecay` [``exponential_decay``] — a reward halving smoothly every
  ``half_life`` epochs.
* :class:`Halving` [``halving``] — Bitcoin style: a reward per epoch halved every
  ``period`` epochs (Bitcoin: 50 BTC per block, halved every 210,000 blocks).
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
        raise EmissionError(f"{schedule}.cap must be a number of tokens or None, got {cap!r}")
    c = float(cap)
    if math.isnan(c) or c < 0:
        raise EmissionError(
            f"{schedule}.cap must be >= 0 tokens (or None for the natural limit), got {cap!r}"
        )
    return c


# --------------------------------------------------------------------------------------
# base class
# --------------------------------------------------------------------------------------


class EmissionSchedule:
    """Base class: turns raw (uncapped) formulas into capped, vectorised methods.

    Subclasses are frozen dataclasses that implement ``_raw_cumulative`` and
    ``_raw_emitted`` on float64 arrays of non-negative epochs and resolve their ``cap``
    field (tokens) to a float in ``__post_init__`` (``math.inf`` = unbounded).
    """

    KIND: ClassVar[str] = ""
    cap: float | None

    @property
    def _cap(self) -> float:
        return math.inf if self.cap is None else float(self.cap)

    def _raw_cumulative(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        raise NotImplementedError

    def _raw_emitted(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        raise NotImplementedError

    def cumulative(self, t: EpochLike) -> FloatOrArray:
        """Tokens issued over epochs ``[0, t)`` (0 for ``t <= 0``), never above ``cap``."""
        ti = _epochs(t, f"{type(self).__name__}.cumulative")
        tf = np.maximum(ti, 0).astype(np.float64)
        raw = self._raw_cumulative(tf)
        cap = self._cap
        if math.isfinite(cap):
            raw = np.minimum(raw, cap)
        return _out(np.asarray(raw, dtype=np.float64))

    def emitted(self, t: EpochLike) -> FloatOrArray:
        """Tokens issued during epoch ``t`` (0 for ``t < 0``); the epoch that reaches
        ``cap`` issues exactly the remainder and later epochs issue 0."""
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


# --------------------------------------------------------------------------------------
# schedules
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Constant(EmissionSchedule):
    """The same reward every epoch (optionally until a cap is reached)."""

    KIND: ClassVar[str] = "constant"

    rate: float
    """Tokens issued per epoch (>= 0)."""
    cap: float | None = None
    """Most tokens ever issued (>= 0); ``None`` = unbounded (``inf``)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", _check_amount("Constant", "rate", self.rate))
        cap = _check_cap("Constant", self.cap)
        object.__setattr__(self, "cap", math.inf if cap is None else cap)

    def _raw_cumulative(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return self.rate * t

    def _raw_emitted(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.full_like(t, self.rate)


@dataclass(frozen=True)
class LinearDecay(EmissionSchedule):
    """A reward that moves linearly from ``initial`` (epoch 0) to ``final`` (epoch
    ``duration``) and stays at ``final`` afterwards.

    Epoch ``t < duration`` issues ``initial + (final - initial) * t / duration``.
    With ``final == 0`` the schedule is finite: ``cap = initial * (duration + 1) / 2``.
    """

    KIND: ClassVar[str] = "linear_decay"

    initial: float
    """Tokens issued in epoch 0 (>= 0)."""
    final: float
    """Tokens per epoch from epoch ``duration`` onward (>= 0)."""
    duration: int
    """Epochs the linear ramp lasts (whole number >= 1)."""
    cap: float | None = None
    """Most tokens ever issued; ``None`` = the natural limit (inf unless ``final == 0``)."""

    def __post_init__(self) -> None:
        initial = _check_amount("LinearDecay", "initial", self.initial)
        final = _check_amount("LinearDecay", "final", self.final)
        duration = _check_epoch_count("LinearDecay", "duration", self.duration)
        object.__setattr__(self, "initial", initial)
        object.__setattr__(self, "final", final)
        object.__setattr__(self, "duration", duration)
        natural = initial * (duration + 1) / 2.0 if final == 0 else math.inf
        cap = _check_cap("LinearDecay", self.cap)
        object.__setattr__(self, "cap", natural if cap is None else min(cap, natural))

    def _raw_cumulative(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        d = float(self.duration)
        n = np.minimum(t, d)
        ramp = n * self.initial + (self.final - self.initial) / d * n * (n - 1.0) / 2.0
        return ramp + np.maximum(t - d, 0.0) * self.final

    def _raw_emitted(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        d = float(self.duration)
        frac = np.minimum(t, d) / d
        return self.initial + (self.final - self.initial) * frac


@dataclass(frozen=True)
class ExponentialDecay(EmissionSchedule):
    """A geometric reward: epoch ``t`` issues ``initial * 2**(-t / half_life)``.

    Cumulative issuance ``initial * (1 - q**t) / (1 - q)`` with ``q = 2**(-1/half_life)``
    converges to ``cap = initial / (1 - q)``.
    """

    KIND: ClassVar[str] = "exponential_decay"

    initial: float
    """Tokens issued in epoch 0 (>= 0)."""
    half_life: float
    """Epochs after which the per-epoch reward has halved (> 0; need not be whole)."""
    cap: float | None = None
    """Most tokens ever issued; ``None`` = the natural limit ``initial / (1 - q)``."""

    def __post_init__(self) -> None:
        initial = _check_amount("ExponentialDecay", "initial", self.initial)
        half = _check_amount("ExponentialDecay", "half_life", self.half_life, positive=True)
        object.__setattr__(self, "initial", initial)
        object.__setattr__(self, "half_life", half)
        natural = initial / self._one_minus_q
        cap = _check_cap("ExponentialDecay", self.cap)
        object.__setattr__(self, "cap", natural if cap is None else min(cap, natural))

    @property
    def _log_q(self) -> float:
        return -math.log(2.0) / self.half_life

    @property
    def _one_minus_q(self) -> float:
        return -math.expm1(self._log_q)

    def _raw_cumulative(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return self.initial * (-np.expm1(self._log_q * t)) / self._one_minus_q

    def _raw_emitted(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return self.initial * np.exp(self._log_q * t)


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
    """Bitcoin-style halving: ``initial`` tokens per epoch, halved every ``period``.

    Epoch ``t`` issues ``initial * 2**-(t // period)``; the issuance converges to the natural
    limit ``2 * initial * period`` (Bitcoin: 50 × 210,000 × 2 = 21,000,000). A lower ``cap``
    stops issuance earlier, the epoch that reaches it issuing exactly the remainder.

    ``period`` may be fractional (e.g. 730.5 daily epochs = 2 years): the epoch containing
    a halving instant then issues at the old rate up to that instant and at the new rate
    after it, the same partial-epoch rule as :class:`SupplyHalving`.
    """

    KIND: ClassVar[str] = "halving"

    initial: float
    """Tokens issued per epoch before the first halving (>= 0)."""
    period: float
    """Epochs between halvings (> 0; usually a whole number)."""
    cap: float | None = None
    """Most tokens ever issued; ``None`` = the natural limit ``2 * initial * period``."""

    def __post_init__(self) -> None:
        initial = _check_amount("Halving", "initial", self.initial)
        period = _check_amount("Halving", "period", self.period, positive=True)
        object.__setattr__(self, "initial", initial)
        object.__setattr__(self, "period", int(period) if period.is_integer() else period)
        natural = 2.0 * initial * period
        cap = _check_cap("Halving", self.cap)
        object.__setattr__(self, "cap", natural if cap is None else min(cap, natural))

    def _raw_cumulative(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return _geometric_cumulative(
            t, self.initial, float(self.period), self.initial * self.period
        )

    def _raw_emitted(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if isinstance(self.period, int):
            k = np.minimum(np.floor(t / self.period), _MAX_HALVINGS)
            return self.initial * np.ldexp(1.0, -k.astype(np.int32))
        p, seg = float(self.period), self.initial * self.period
        return _geometric_remaining(t, self.initial, p, seg) - _geometric_remaining(
            t + 1.0, self.initial, p, seg
        )


@dataclass(frozen=True)
class SupplyHalving(EmissionSchedule):
    """Bittensor-style halving driven by issuance: ``initial`` tokens per epoch until the
    cumulative issuance reaches ``threshold``, then ``initial / 2`` until it reaches
    ``1.5 * threshold``, ``initial / 4`` until ``1.75 * threshold``, ... towards
    ``2 * threshold`` (Bittensor: 7,200 TAO/day until 10.5M, 3,600/day until 15.75M, ...,
    limit 21M).

    **Partial-epoch rule.** The epoch during which issuance crosses a threshold issues at
    the old rate until the threshold is reached and at the new rate for the rest of the
    epoch (issuance is treated as continuous within an epoch). Every rate segment therefore
    lasts exactly ``threshold / initial`` epochs, so ``cumulative`` is the closed-form
    continuous halving sampled at whole epochs. Bittensor in daily epochs: 10.5M / 7,200 =
    1458⅓ days, so day 1458 issues 2,400 at 7,200/day plus 2,400 at 3,600/day = 4,800.
    """

    KIND: ClassVar[str] = "supply_halving"

    initial: float
    """Tokens issued per epoch before the first threshold (> 0)."""
    threshold: float
    """Cumulative issuance (tokens) at which the first halving happens (> 0)."""
    cap: float | None = None
    """Most tokens ever issued; ``None`` = the natural limit ``2 * threshold``."""

    def __post_init__(self) -> None:
        initial = _check_amount("SupplyHalving", "initial", self.initial, positive=True)
        threshold = _check_amount("SupplyHalving", "threshold", self.threshold, positive=True)
        object.__setattr__(self, "initial", initial)
        object.__setattr__(self, "threshold", threshold)
        natural = 2.0 * threshold
        cap = _check_cap("SupplyHalving", self.cap)
        object.__setattr__(self, "cap", natural if cap is None else min(cap, natural))

    @property
    def period(self) -> float:
        """Epochs (fractional) between halvings: ``threshold / initial``."""
        return self.threshold / self.initial

    def _raw_cumulative(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return _geometric_cumulative(t, self.initial, self.period, self.threshold)

    def _raw_emitted(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        p, seg = self.period, self.threshold
        return _geometric_remaining(t, self.initial, p, seg) - _geometric_remaining(
            t + 1.0, self.initial, p, seg
        )


@dataclass(frozen=True)
class Table(EmissionSchedule):
    """Piecewise-constant rewards: ``rates_tokens[i]`` per epoch from ``epochs[i]`` onward.

    ``epochs`` must be strictly increasing whole numbers >= 0; epochs before ``epochs[0]``
    issue nothing. The last rate lasts forever (finite ``cap`` only if it is 0).
    """

    KIND: ClassVar[str] = "table"

    epochs: tuple[int, ...]
    """Start epoch of each segment (strictly increasing whole numbers >= 0)."""
    rates: tuple[float, ...]
    """Tokens per epoch in each segment (>= 0), one per start epoch."""
    cap: float | None = None
    """Most tokens ever issued; ``None`` = natural limit (inf unless the last rate is 0)."""
    _starts_cum: tuple[float, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            epochs = tuple(self.epochs)
            rates = tuple(self.rates)
        except TypeError as exc:
            raise EmissionError(
                f"Table.epochs and Table.rates must be sequences, got {self.epochs!r} and "
                f"{self.rates!r}"
            ) from exc
        if len(epochs) == 0 or len(epochs) != len(rates):
            raise EmissionError(
                f"Table needs as many start epochs as rates (and at least one), got "
                f"{len(epochs)} epochs and {len(rates)} rates"
            )
        ep = tuple(_check_start("Table", i, e) for i, e in enumerate(epochs))
        if any(b <= a for a, b in itertools.pairwise(ep)):
            raise EmissionError(f"Table.epochs must be strictly increasing, got {list(ep)}")
        rt = tuple(_check_amount("Table", f"rates[{i}]", r) for i, r in enumerate(rates))
        object.__setattr__(self, "epochs", ep)
        object.__setattr__(self, "rates", rt)
        lengths = np.diff(np.asarray(ep, dtype=np.float64))
        starts = np.concatenate([[0.0], np.cumsum(np.asarray(rt[:-1]) * lengths)])
        object.__setattr__(self, "_starts_cum", tuple(float(x) for x in starts))
        natural = starts[-1] if rt[-1] == 0 else math.inf
        cap = _check_cap("Table", self.cap)
        object.__setattr__(self, "cap", float(natural) if cap is None else min(cap, natural))

    def _segment(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        return np.searchsorted(np.asarray(self.epochs, dtype=np.float64), t, side="right") - 1

    def _raw_cumulative(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        idx = self._segment(t)
        safe = np.maximum(idx, 0)
        starts = np.asarray(self._starts_cum)[safe]
        begin = np.asarray(self.epochs, dtype=np.float64)[safe]
        rate = np.asarray(self.rates)[safe]
        return np.where(idx < 0, 0.0, starts + rate * (t - begin))

    def _raw_emitted(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        idx = self._segment(t)
        return np.where(idx < 0, 0.0, np.asarray(self.rates)[np.maximum(idx, 0)])


def _check_start(schedule: str, i: int, value: Any) -> int:
    """Validate one start epoch of a table (whole number >= 0)."""
    if isinstance(value, float | np.floating) and math.isfinite(value) and value == int(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise EmissionError(f"{schedule}.epochs[{i}] must be a whole number >= 0, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class PoolDrip(EmissionSchedule):
    """A fixed, pre-minted pool released over ``duration`` epochs (OpenLedger: the
    supply is fixed and rewards come out of a community pool).

    * ``shape="linear"``: every epoch ``t < duration`` releases ``pool / duration``.
    * ``shape="front_loaded"``: a geometric release, epoch ``t`` releasing
      ``pool * (1 - q) * q**t / (1 - q**duration)`` with ``q = 2**(-1/half_life)``
      (``half_life`` defaults to ``duration / 4``, so the release rate halves every
      quarter of the period). The factor ``1 / (1 - q**duration)`` renormalises the
      truncated geometric series so that the release sums exactly to ``pool`` at ``duration``.

    Nothing is released from epoch ``duration`` on; ``cap == pool``.
    """

    KIND: ClassVar[str] = "pool_drip"
    SHAPES: ClassVar[tuple[str, ...]] = ("linear", "front_loaded")

    pool: float
    """Tokens in the pre-minted pool (>= 0)."""
    duration: int
    """Epochs over which the pool is released (whole number >= 1)."""
    shape: str = "linear"
    """Release profile: ``"linear"`` or ``"front_loaded"``."""
    half_life: float | None = None
    """front_loaded only: epochs for the release rate to halve (> 0); None = duration / 4."""
    cap: float = field(default=math.inf, init=False)
    """Most tokens ever released: the pool (derived, not a parameter)."""

    def __post_init__(self) -> None:
        pool = _check_amount("PoolDrip", "pool", self.pool)
        duration = _check_epoch_count("PoolDrip", "duration", self.duration)
        if self.shape not in self.SHAPES:
            raise EmissionError(
                f"PoolDrip.shape must be one of {list(self.SHAPES)}, got {self.shape!r}"
            )
        half = self.half_life
        if half is not None:
            if self.shape != "front_loaded":
                raise EmissionError(
                    f"PoolDrip.half_life only applies to shape='front_loaded', got "
                    f"{half!r} with shape={self.shape!r}; drop it or change the shape"
                )
            half = _check_amount("PoolDrip", "half_life", half, positive=True)
        elif self.shape == "front_loaded":
            half = duration / 4.0
        object.__setattr__(self, "pool", pool)
        object.__setattr__(self, "duration", duration)
        object.__setattr__(self, "half_life", half)
        object.__setattr__(self, "cap", pool)

    def _raw_cumulative(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        d = float(self.duration)
        n = np.minimum(t, d)
        if self.shape == "linear":
            frac = n / d
        else:
            log_q = -math.log(2.0) / float(self.half_life)  # type: ignore[arg-type]
            frac = np.expm1(log_q * n) / math.expm1(log_q * d)
        return np.where(t >= d, self.pool, self.pool * frac)

    def _raw_emitted(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        d = float(self.duration)
        if self.shape == "linear":
            rate = np.full_like(t, self.pool / d)
        else:
            log_q = -math.log(2.0) / float(self.half_life)  # type: ignore[arg-type]
            rate = self.pool * (-math.expm1(log_q)) * np.exp(log_q * t) / -math.expm1(log_q * d)
        return np.where(t < d, rate, 0.0)


KINDS: dict[str, type[EmissionSchedule]] = {
    cls.KIND: cls
    for cls in (Constant, LinearDecay, ExponentialDecay, Halving, SupplyHalving, Table, PoolDrip)
}
"""Schedule classes by the ``kind`` name used in scenarios and :func:`make_schedule`."""


def make_schedule(kind: str, **params: Any) -> EmissionSchedule:
    """Build a schedule from its ``kind`` name and keyword parameters (as in a scenario).

    ``make_schedule("halving", initial=50, period=210_000)`` is
    ``Halving(initial=50, period=210_000)``. Raises :class:`EmissionError` for an
    unknown kind, unknown/missing parameters or invalid values.
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
