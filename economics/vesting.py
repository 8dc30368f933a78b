"""Token allocation buckets and their vesting (unlock) schedules.

A fixed-supply token is allocated at launch (the token generation event, TGE) to buckets
— community, investors, team, liquidity, ... — each of which becomes transferable on its
own schedule: a share at TGE, then nothing until a cliff, then a linear release. This
module turns such a table into vectorised functions of time, so a simulation can ask "how
much unlocks this epoch?" for every epoch at once.

**Time convention** (the same as :mod:`economics.emission`): epochs are numbered 0, 1, 2,
...; ``unlocked(t)`` is the amount unlocked over epochs ``[0, t)``, i.e. by the *start* of
epoch ``t`` (equivalently through the end of epoch ``t - 1``); ``unlocks(t)`` is the amount
unlocked *during* epoch ``t``, so ``unlocks(t) == unlocked(t + 1) - unlocked(t)`` and
``unlocked(0) == 0``. The TGE share unlocks during epoch 0. The linear part vests
continuously from instant ``cliff_epochs`` to instant ``cliff_epochs + linear_epochs`` and
is sampled at epoch boundaries: ``unlocked_linear(t) = clip((t - cliff) / linear, 0, 1)``.
With a 12-epoch cliff and 36 linear epochs, epochs 0-11 unlock nothing, epoch 12 unlocks
the first 1/36 and ``unlocked(48)`` is the full bucket. Cliffs and durations may be
fractional (a 12-month cliff is 365.25 daily epochs), which is what lets the same preset
run in monthly or daily epochs.

Errors a user can hit raise :class:`VestingError` (a ``ValueError``) naming the bucket, the
field, the value and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "DAYS_PER_MONTH",
    "OPENLEDGER_COMMUNITY_TGE_TOKENS",
    "OPENLEDGER_SUPPLY_TOKENS",
    "PRESETS",
    "Bucket",
    "VestingError",
    "VestingSchedule",
    "openledger",
]

DAYS_PER_MONTH = 30.4375
"""Days per month when a monthly schedule is run in daily epochs (365.25 / 12)."""

OPENLEDGER_SUPPLY_TOKENS = 1_000_000_000.0
"""OpenLedger's fixed OPEN supply, tokens."""

OPENLEDGER_COMMUNITY_TGE_TOKENS = 165_500_000.0
"""Community & ecosystem tokens unlocked at TGE in the OpenLedger preset (16.55 % of supply).

OpenLedger's published tokenomics (OPEN launch, September 2025) put 21.55 % of the supply
in circulation at launch. Team and investors are fully locked for 12 months and liquidity
is 5 %, so the other 16.55 % (165.5M OPEN) can only come from the community & ecosystem
bucket; the rest of that bucket vests linearly over 48 months. Pass
``community_tge_tokens=0`` to :func:`openledger` for a purely linear community release.
"""


class VestingError(ValueError):
    """A bucket or schedule was given an invalid value; the message says what to fix."""


def _epochs(t: Any, where: str) -> npt.NDArray[np.float64]:
    """Return integer epoch(s) ``t`` as a float64 array; reject non-integral values."""
    arr = np.asarray(t)
    if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.floor(arr)):
        return arr.astype(np.float64)
    if arr.dtype.kind in "iu":
        return arr.astype(np.float64)
    raise VestingError(
        f"{where}: epochs must be whole numbers, got {t!r}; pass integer epoch indices"
    )


def _number(bucket: str, name: str, value: Any, low: float, high: float = math.inf) -> float:
    """Validate a finite number in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise VestingError(f"bucket {bucket!r}: {name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < low or v > high:
        bounds = f"between {low:g} and {high:g}" if math.isfinite(high) else f">= {low:g}"
        raise VestingError(f"bucket {bucket!r}: {name} must be a finite number {bounds}, got {v!r}")
    return v


@dataclass(frozen=True)
class Bucket:
    """One allocation: an amount released as a TGE share, then (after a cliff) linearly."""

    name: str
    """Bucket name, e.g. ``"team"`` (non-empty, unique within a schedule)."""
    amount_tokens: float
    """Tokens allocated to the bucket (>= 0)."""
    tge_fraction: float = 0.0
    """Share of ``amount_tokens`` unlocked at TGE, during epoch 0 (0..1)."""
    cliff_epochs: float = 0.0
    """Epochs after TGE before the linear release starts (>= 0, may be fractional)."""
    linear_epochs: float = 0.0
    """Epochs over which the rest vests linearly after the cliff (>= 0; 0 = all at the
    cliff, i.e. during the epoch that contains instant ``cliff_epochs``)."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise VestingError(f"bucket name must be a non-empty string, got {self.name!r}")
        n = self.name
        object.__setattr__(
            self, "amount_tokens", _number(n, "amount_tokens", self.amount_tokens, 0)
        )
        object.__setattr__(
            self, "tge_fraction", _number(n, "tge_fraction", self.tge_fraction, 0, 1)
        )
        object.__setattr__(self, "cliff_epochs", _number(n, "cliff_epochs", self.cliff_epochs, 0))
        object.__setattr__(
            self, "linear_epochs", _number(n, "linear_epochs", self.linear_epochs, 0)
        )

    @property
    def tge_tokens(self) -> float:
        """Tokens unlocked at TGE (during epoch 0)."""
        return self.amount_tokens * self.tge_fraction

    @property
    def fully_unlocked_epoch(self) -> int:
        """The smallest epoch ``t`` with ``unlocked(t) == amount_tokens``."""
        if self.tge_fraction == 1.0 or self.amount_tokens == 0.0:
            return 1
        if self.linear_epochs == 0.0:
            return max(1, math.floor(self.cliff_epochs) + 1)
        end = max(1, math.ceil(self.cliff_epochs + self.linear_epochs))
        # cliff + linear may round down (e.g. a tiny linear part): step to the first epoch
        # at which the sampled ramp really reaches 1 (at most a step or two).
        while self._unlocked(np.float64(end)) < self.amount_tokens:
            end += 1
        return end

    def unlocked(self, t: Any) -> npt.NDArray[np.float64] | np.float64:
        """Tokens of this bucket unlocked over epochs ``[0, t)`` (vectorised over ``t``)."""
        tf = _epochs(t, f"bucket {self.name!r} unlocked")
        out = self._unlocked(tf)
        return np.float64(out) if out.ndim == 0 else out

    def _unlocked(self, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        if self.linear_epochs > 0.0:
            with np.errstate(over="ignore"):  # a tiny duration overflows to inf: ramp = 1
                ramp = np.clip((t - self.cliff_epochs) / self.linear_epochs, 0.0, 1.0)
        else:
            ramp = (t > self.cliff_epochs).astype(np.float64)
        started = t >= 1.0
        tge = self.tge_tokens
        partial = np.where(started, tge, 0.0) + (self.amount_tokens - tge) * ramp
        # Exactly the allocation once fully vested (no rounding residue from tge + rest).
        return np.where(started & (ramp >= 1.0), self.amount_tokens, partial)


@dataclass(frozen=True)
class VestingSchedule:
    """A set of allocation buckets with vectorised unlock queries.

    Per-bucket results are 2-D: ``(n_buckets, *t.shape)`` in the order of ``names``.
    """

    buckets: tuple[Bucket, ...]
    """The allocation buckets (at least one, unique names)."""

    def __post_init__(self) -> None:
        if isinstance(self.buckets, Bucket) or not isinstance(self.buckets, Iterable):
            raise VestingError(
                f"VestingSchedule.buckets must be a sequence of Bucket, got {self.buckets!r}"
            )
        buckets = tuple(self.buckets)
        if not buckets:
            raise VestingError("VestingSchedule needs at least one bucket, got none")
        for b in buckets:
            if not isinstance(b, Bucket):
                raise VestingError(f"VestingSchedule.buckets must hold Bucket objects, got {b!r}")
        names = [b.name for b in buckets]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise VestingError(f"VestingSchedule: bucket names must be unique, repeated: {dupes}")
        object.__setattr__(self, "buckets", buckets)

    @property
    def names(self) -> tuple[str, ...]:
        """Bucket names, in order (the row order of per-bucket arrays)."""
        return tuple(b.name for b in self.buckets)

    @property
    def amounts_tokens(self) -> npt.NDArray[np.float64]:
        """Allocated tokens per bucket, in ``names`` order."""
        return np.array([b.amount_tokens for b in self.buckets], dtype=np.float64)

    @property
    def total_tokens(self) -> float:
        """Tokens allocated over all buckets."""
        return float(self.amounts_tokens.sum())

    @property
    def fully_unlocked_epoch(self) -> int:
        """The first epoch ``t`` by whose start every bucket is fully unlocked."""
        return max(b.fully_unlocked_epoch for b in self.buckets)

    def bucket(self, name: str) -> Bucket:
        """The bucket called ``name``."""
        for b in self.buckets:
            if b.name == name:
                return b
        raise VestingError(f"no bucket named {name!r}; buckets are {list(self.names)}")

    def unlocked_by_bucket(self, t: Any) -> npt.NDArray[np.float64]:
        """Tokens unlocked over ``[0, t)`` per bucket: shape ``(n_buckets, *shape(t))``."""
        tf = _epochs(t, "VestingSchedule.unlocked_by_bucket")
        return np.stack([b._unlocked(tf) for b in self.buckets])

    def unlocked(self, t: Any) -> npt.NDArray[np.float64] | np.float64:
        """Tokens unlocked over ``[0, t)`` summed over buckets (shape of ``t``)."""
        out = self.unlocked_by_bucket(t).sum(axis=0)
        return np.float64(out) if out.ndim == 0 else out

    def unlocks_by_bucket(self, t: Any) -> npt.NDArray[np.float64]:
        """Tokens unlocked during epoch ``t`` per bucket: shape ``(n_buckets, *shape(t))``."""
        tf = _epochs(t, "VestingSchedule.unlocks_by_bucket")
        return np.stack([b._unlocked(tf + 1.0) - b._unlocked(tf) for b in self.buckets])

    def unlocks(self, t: Any) -> npt.NDArray[np.float64] | np.float64:
        """Tokens unlocked during epoch ``t`` summed over buckets (shape of ``t``)."""
        out = self.unlocks_by_bucket(t).sum(axis=0)
        return np.float64(out) if out.ndim == 0 else out

    def locked(self, t: Any) -> npt.NDArray[np.float64] | np.float64:
        """Tokens still locked at the start of epoch ``t`` (``total - unlocked(t)``)."""
        out = self.total_tokens - np.asarray(self.unlocked(t))
        return np.float64(out) if out.ndim == 0 else out


def openledger(
    epoch: str = "month", *, community_tge_tokens: float = OPENLEDGER_COMMUNITY_TGE_TOKENS
) -> VestingSchedule:
    """The OpenLedger (OPEN) allocation: 1,000,000,000 tokens, fixed supply.

    | bucket | share | tokens | schedule |
    |---|---|---|---|
    | ``community_ecosystem`` | 61.71 % | 617,100,000 | ``community_tge_tokens`` at TGE, the rest linear over 48 months |
    | ``investors`` | 18.29 % | 182,900,000 | 12-month cliff, then 36 months linear |
    | ``team`` | 15 % | 150,000,000 | 12-month cliff, then 36 months linear |
    | ``liquidity`` | 5 % | 50,000,000 | all at TGE |

    Shares and schedules follow DESIGN.md and OpenLedger's published OPEN tokenomics,
    which also state 21.55 % circulating at launch; see
    :data:`OPENLEDGER_COMMUNITY_TGE_TOKENS` for how that fixes the community TGE share.
    Everything is unlocked by the start of month 48.

    ``epoch="month"`` gives monthly epochs; ``epoch="day"`` gives daily epochs with
    :data:`DAYS_PER_MONTH` = 30.4375 days per month (12 months = 365.25 days, 48 months =
    1,461 days), so the cliff ends mid-day and the daily schedule samples the same
    continuous vesting curve as the monthly one.
    """
    scale = {"month": 1.0, "day": DAYS_PER_MONTH}.get(epoch)
    if scale is None:
        raise VestingError(f"openledger preset: epoch must be 'month' or 'day', got {epoch!r}")
    community = 617_100_000.0
    tge = _number("community_ecosystem", "community_tge_tokens", community_tge_tokens, 0, community)
    return VestingSchedule(
        (
            Bucket("community_ecosystem", community, tge / community, 0.0, 48 * scale),
            Bucket("investors", 182_900_000.0, 0.0, 12 * scale, 36 * scale),
            Bucket("team", 150_000_000.0, 0.0, 12 * scale, 36 * scale),
            Bucket("liquidity", 50_000_000.0, 1.0, 0.0, 0.0),
        )
    )


PRESETS: dict[str, Callable[..., VestingSchedule]] = {"openledger": openledger}
"""Allocation presets by name; each takes ``epoch="month"|"day"`` and returns a schedule."""
