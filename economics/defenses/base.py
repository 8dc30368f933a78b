"""Shared small types of the defences: the screening result, typed errors, input checks.

Why: every defence (dedup, quality filter, rate limit, …) answers the same question for a
batch of submissions — which are accepted, which look suspicious and how badly — so they
all return one :class:`ScreenResult`. Results of several defences compose with
:func:`combine` (accepted only if every defence accepts; severity is the worst one), and
:meth:`ScreenResult.by_owner` turns per-submission decisions into per-individual counts
(what the defence did to whom, including to honest contributors: its false-positive cost).

The ``check_*`` / ``as_*`` helpers validate parameters and arrays for every defence module and
raise :class:`DefenseParamError` / :class:`DefenseInputError` (both ``ValueError``) naming the
operation or field, the offending value and what to do.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "DefenseError",
    "DefenseInputError",
    "DefenseParamError",
    "OwnerTally",
    "ScreenResult",
    "combine",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class DefenseError(ValueError):
    """Base class of every error raised by a defence mechanism."""


class DefenseParamError(DefenseError):
    """A defence parameter is out of range or of the wrong type (the message names the field)."""


class DefenseInputError(DefenseError):
    """An array passed to a defence has the wrong shape, dtype or values."""


# --------------------------------------------------------------------------------------
# parameter checks (used in the params dataclasses' __post_init__)
# --------------------------------------------------------------------------------------


def check_float(
    owner: str,
    field: str,
    value: Any,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
    exc: type[DefenseError] = DefenseParamError,
) -> float:
    """``value`` as a finite float in the interval [low, high] (ends open on request).

    Raises ``exc`` (default :class:`DefenseParamError`; pass :class:`DefenseInputError` for
    function arguments) naming ``owner.field``, the value and the bounds.
    """
    lo_b = "(" if low_open else "["
    hi_b = ")" if high_open else "]"
    bounds = f"in {lo_b}{low:g}, {high:g}{hi_b}"
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise exc(
            f"{owner}.{field} must be a real number {bounds}, got {value!r} "
            f"of type {type(value).__name__}"
        )
    v = float(value)
    bad = (
        not math.isfinite(v)
        or (v <= low if low_open else v < low)
        or (v >= high if high_open else v > high)
    )
    if bad:
        raise exc(f"{owner}.{field} must be a finite number {bounds}, got {v!r}")
    return v


def check_int(
    owner: str,
    field: str,
    value: Any,
    low: int = 0,
    *,
    exc: type[DefenseError] = DefenseParamError,
) -> int:
    """``value`` as a Python int >= ``low`` (bools and floats are refused); raises ``exc``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise exc(
            f"{owner}.{field} must be an integer >= {low}, got {value!r} "
            f"of type {type(value).__name__}"
        )
    v = int(value)
    if v < low:
        raise exc(f"{owner}.{field} must be an integer >= {low}, got {v}")
    return v


def check_bool(owner: str, field: str, value: Any) -> bool:
    """``value`` as a bool (only ``True``/``False``; 0/1 or strings are refused)."""
    if not isinstance(value, bool | np.bool_):
        raise DefenseParamError(
            f"{owner}.{field} must be true or false, got {value!r} of type {type(value).__name__}"
        )
    return bool(value)


def check_choice(owner: str, field: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` as one of the strings in ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise DefenseParamError(f"{owner}.{field} must be one of {list(choices)}, got {value!r}")
    return value


# --------------------------------------------------------------------------------------
# array checks (used by the vectorised functions)
# --------------------------------------------------------------------------------------


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> str:
    idx = np.unravel_index(int(np.argmax(bad)), bad.shape)
    return f"{arr[idx].item()!r} at index {tuple(int(i) for i in idx)}"


def as_float_vector(
    op: str,
    name: str,
    value: npt.ArrayLike,
    low: float = -math.inf,
    high: float = math.inf,
) -> FloatArray:
    """1-D finite float64 array with every entry in [low, high]."""
    arr = np.asarray(value)
    if arr.ndim == 1 and arr.size == 0:
        return np.zeros(0, dtype=np.float64)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "fiu":
        raise DefenseInputError(f"{op}: {name} must be a real-valued array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim != 1:
        raise DefenseInputError(f"{op}: {name} must be a 1-D array, got shape {arr.shape}")
    bad = ~np.isfinite(arr) | (arr < low) | (arr > high)
    if bad.any():
        raise DefenseInputError(
            f"{op}: {name} must be finite and in [{low:g}, {high:g}], got {_first_bad(arr, bad)}"
        )
    return arr


def as_int_vector(op: str, name: str, value: npt.ArrayLike, low: int | None = 0) -> IntArray:
    """1-D int64 array (entries >= ``low`` unless ``low`` is None); empty input is accepted."""
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise DefenseInputError(f"{op}: {name} must be a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise DefenseInputError(
            f"{op}: {name} must hold integers, got dtype {arr.dtype}; pass an int array"
        )
    arr = arr.astype(np.int64, copy=False)
    if low is not None:
        bad = arr < low
        if bad.any():
            raise DefenseInputError(
                f"{op}: {name} must be integers >= {low}, got {_first_bad(arr, bad)}"
            )
    return arr


def as_bool_vector(op: str, name: str, value: npt.ArrayLike) -> BoolArray:
    """1-D bool array (only dtype bool is accepted, to catch index arrays passed as masks)."""
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise DefenseInputError(f"{op}: {name} must be a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.bool_)
    if arr.dtype != np.bool_:
        raise DefenseInputError(
            f"{op}: {name} must be a boolean mask, got dtype {arr.dtype}; "
            "pass e.g. `values > 0`, not indices"
        )
    return arr


def as_features(
    op: str, name: str, value: npt.ArrayLike, n_features: int | None = None
) -> FloatArray:
    """2-D finite float64 array [n, d] (a 1-D input of length 0 is read as [0, n_features])."""
    arr = np.asarray(value)
    if arr.size == 0 and n_features is not None and arr.ndim <= 2:
        if arr.ndim < 2 or arr.shape[1] in (0, n_features):
            return np.zeros((0, n_features), dtype=np.float64)
    if arr.ndim != 2:
        raise DefenseInputError(
            f"{op}: {name} must be a 2-D array [n_points, n_features], got shape {arr.shape}"
        )
    if arr.dtype == np.bool_ or arr.dtype.kind not in "fiu":
        raise DefenseInputError(f"{op}: {name} must be real-valued, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if arr.shape[1] == 0 and arr.shape[0] > 0:
        raise DefenseInputError(f"{op}: {name} has no feature columns; need at least one")
    if n_features is not None and arr.shape[1] != n_features:
        raise DefenseInputError(
            f"{op}: {name} has {arr.shape[1]} features, expected {n_features} "
            "(old and new points must share one feature space)"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DefenseInputError(f"{op}: {name} must be finite, got {_first_bad(arr, bad)}")
    return arr


def same_length(op: str, **arrays: np.ndarray) -> int:
    """The common length of ``arrays`` (first axis); raises if they differ."""
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k}={n}" for k, n in lengths.items())
        raise DefenseInputError(f"{op}: arrays must have the same length, got {listed}")
    return next(iter(lengths.values()), 0)


# --------------------------------------------------------------------------------------
# grouping helpers (vectorised "per owner, in submission order")
# --------------------------------------------------------------------------------------


def rank_within_groups(keys: IntArray) -> tuple[IntArray, IntArray]:
    """Stable grouping of ``keys``: ``(order, rank)``.

    ``order`` sorts ``keys`` stably (equal keys keep their input order); ``rank[i]`` is the
    position of element ``i`` among the elements with the same key, counted in input order
    (0 for the first). Cost O(n log n), no Python loop.
    """
    n = len(keys)
    order = np.argsort(keys, kind="stable")
    rank = np.zeros(n, dtype=np.int64)
    if n == 0:
        return order.astype(np.int64), rank
    k_sorted = keys[order]
    starts = np.ones(n, dtype=np.bool_)
    starts[1:] = k_sorted[1:] != k_sorted[:-1]
    pos = np.arange(n, dtype=np.int64)
    group_start = np.maximum.accumulate(np.where(starts, pos, 0))
    rank[order] = pos - group_start
    return order.astype(np.int64), rank


def prefix_sums_within_groups(values: FloatArray, order: IntArray, rank: IntArray) -> FloatArray:
    """Running sum of ``values`` within each group, in input order, as :func:`rank_within_groups`
    defines groups: ``out[i] = Σ values[j]`` over ``j`` in ``i``'s group with ``rank[j] <= rank[i]``.

    Each group is accumulated sequentially from 0.0 (``np.cumsum`` along padded rows), so the
    result is bit-identical to adding the group's values one by one in input order — the
    order ``np.bincount`` and the ledger use — with no rounding leaking between groups.
    Groups are bucketed by size (powers of two), a loop over at most log₂(n)+1 buckets;
    padding at most doubles the work. Cost O(n).
    """
    n = len(values)
    out = np.zeros(n, dtype=np.float64)
    if n == 0:
        return out
    r_sorted = rank[order]
    starts = np.flatnonzero(r_sorted == 0)
    sizes = np.diff(np.append(starts, n))
    group_of = np.repeat(np.arange(len(starts), dtype=np.int64), sizes)  # per sorted element
    # ceil(log2(size)) == bit_length(size - 1): size 1 -> 0, 2 -> 1, 3..4 -> 2, 5..8 -> 3, ...
    bucket = np.frexp((sizes - 1).astype(np.float64))[1].astype(np.int64)
    elem_bucket = bucket[group_of]
    v_sorted = values[order]
    row_of_group = np.zeros(len(starts), dtype=np.int64)
    for b in np.unique(bucket):  # a handful of size buckets, never one per group
        groups = np.flatnonzero(bucket == b)
        row_of_group[groups] = np.arange(len(groups))
        sel = np.flatnonzero(elem_bucket == b)
        rows = row_of_group[group_of[sel]]
        cols = r_sorted[sel]
        pad = np.zeros((len(groups), 1 << int(b)), dtype=np.float64)
        pad[rows, cols] = v_sorted[sel]
        out[order[sel]] = np.cumsum(pad, axis=1)[rows, cols]
    return out


# --------------------------------------------------------------------------------------
# result types
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerTally:
    """Per-account counts of what a screening did (index = ledger account id)."""

    submitted: IntArray
    """Submissions (points) screened per account (count)."""
    flagged: IntArray
    """Submissions flagged as suspicious per account (count)."""
    rejected: IntArray
    """Submissions refused per account (count)."""


NO_REASON = ""
"""The reason label of code 0: the submission was neither flagged nor refused."""


@dataclass(frozen=True)
class ScreenResult:
    """The outcome of one defence (or a composition) on a batch of n submissions.

    ``accept`` is the decision; ``flagged`` says the defence found the submission suspicious
    (usually the same as ``~accept``, but a defence may flag and still accept, or refuse
    without suspicion — e.g. a rate limit refuses but does not accuse). ``severity`` is a
    continuous suspicion score in [0, 1] defined for every submission (0 = clean); only
    flagged submissions should be slashed, see :attr:`slash_severity`.

    Why each submission was flagged or refused is stored as a small integer code per
    submission into ``reason_labels`` (one byte per submission instead of a string; code 0 =
    ``""`` = no reason), e.g. labels ``("", "exact", "near")``; :attr:`reason` decodes it.
    Build results with :meth:`from_masks`. Arrays are copied and made read-only.
    """

    defense: str
    """Name of the defence (or ``"a+b"`` for a composition)."""
    accept: BoolArray
    """True where the submission is accepted (bool[n])."""
    flagged: BoolArray
    """True where the defence found the submission suspicious (bool[n])."""
    severity: FloatArray
    """Suspicion score per submission, dimensionless in [0, 1] (float64[n])."""
    reason_code: npt.NDArray[np.int8]
    """Index into ``reason_labels`` per submission, 0 = no reason (int8[n])."""
    reason_labels: tuple[str, ...] = (NO_REASON,)
    """Reason names; ``reason_labels[0] == ""``, the others non-empty and distinct (<= 127)."""

    def __post_init__(self) -> None:
        op = f"ScreenResult({self.defense!r})"
        if not isinstance(self.defense, str) or not self.defense:
            raise DefenseInputError(
                f"ScreenResult.defense must be a non-empty string, got {self.defense!r}"
            )
        labels = tuple(self.reason_labels)
        if (
            not labels
            or labels[0] != NO_REASON
            or not all(isinstance(x, str) and x for x in labels[1:])
            or len(set(labels)) != len(labels)
            or len(labels) > 127
        ):
            raise DefenseInputError(
                f"{op}: reason_labels must start with '' followed by up to 126 distinct "
                f"non-empty strings, got {labels!r}"
            )
        accept = as_bool_vector(op, "accept", self.accept).copy()
        flagged = as_bool_vector(op, "flagged", self.flagged).copy()
        severity = as_float_vector(op, "severity", self.severity, 0.0, 1.0).copy()
        code = as_int_vector(op, "reason_code", self.reason_code)
        if code.size and code.max() >= len(labels):
            raise DefenseInputError(
                f"{op}: reason_code {int(code.max())} has no label (reason_labels has "
                f"{len(labels)} entries)"
            )
        code = code.astype(np.int8)
        same_length(op, accept=accept, flagged=flagged, severity=severity, reason_code=code)
        for name, arr in (
            ("accept", accept),
            ("flagged", flagged),
            ("severity", severity),
            ("reason_code", code),
        ):
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "reason_labels", labels)

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_masks(
        cls,
        defense: str,
        accept: npt.ArrayLike,
        flagged: npt.ArrayLike,
        severity: npt.ArrayLike,
        reasons: Sequence[tuple[str, npt.ArrayLike]] = (),
    ) -> ScreenResult:
        """Build a result from masks; ``reasons`` lists ``(label, bool mask)`` pairs in
        priority order (a submission gets the first label whose mask is True). O(n·len)."""
        n = len(np.asarray(accept))
        code = np.zeros(n, dtype=np.int8)
        for i, (_, mask) in enumerate(reversed(reasons)):  # a handful of reasons
            m = as_bool_vector(f"ScreenResult({defense!r}).from_masks", "reason mask", mask)
            code[m] = len(reasons) - i
        return cls(
            defense=defense,
            accept=accept,
            flagged=flagged,
            severity=severity,
            reason_code=code,
            reason_labels=(NO_REASON, *(label for label, _ in reasons)),
        )

    @classmethod
    def passthrough(cls, n: int, defense: str) -> ScreenResult:
        """Everything accepted, nothing flagged (e.g. a defence with nothing to compare to)."""
        n = check_int("ScreenResult.passthrough", "n", n, exc=DefenseInputError)
        return cls(
            defense=defense,
            accept=np.ones(n, dtype=np.bool_),
            flagged=np.zeros(n, dtype=np.bool_),
            severity=np.zeros(n, dtype=np.float64),
            reason_code=np.zeros(n, dtype=np.int8),
        )

    # ------------------------------------------------------------------ views

    @property
    def n(self) -> int:
        """Number of submissions screened."""
        return len(self.accept)

    @property
    def rejected(self) -> BoolArray:
        """True where the submission is refused (``~accept``)."""
        return ~self.accept

    @property
    def reason(self) -> npt.NDArray[np.str_]:
        """Decoded reason per submission, ``""`` where none (str[n]; O(n), for inspection)."""
        return np.asarray(self.reason_labels)[self.reason_code]

    def has_reason(self, label: str) -> BoolArray:
        """True where the submission's reason is ``label`` (bool[n]; False if unknown label)."""
        if label not in self.reason_labels:
            return np.zeros(self.n, dtype=np.bool_)
        return self.reason_code == self.reason_labels.index(label)

    @property
    def slash_severity(self) -> FloatArray:
        """Severity where flagged, 0 elsewhere: what a bond should be slashed by
        (:meth:`economics.defenses.stake_slash.BondBook.set_severity`)."""
        return np.where(self.flagged, self.severity, 0.0)

    def counts(self) -> dict[str, int]:
        """Number of submissions per non-empty reason label, plus ``"accepted"``,
        ``"rejected"`` and ``"flagged"`` totals. O(n)."""
        per_code = np.bincount(self.reason_code, minlength=len(self.reason_labels))
        out = {label: int(per_code[i]) for i, label in enumerate(self.reason_labels) if i}
        out["accepted"] = int(np.count_nonzero(self.accept))
        out["rejected"] = self.n - out["accepted"]
        out["flagged"] = int(np.count_nonzero(self.flagged))
        return out

    def by_owner(self, owners: npt.ArrayLike, n_accounts: int) -> OwnerTally:
        """Per-account counts of screened / flagged / rejected submissions (O(n + n_accounts)).

        Args:
            owners: account id of each submission (int[n], each in [0, n_accounts)).
            n_accounts: length of the output arrays (number of ledger accounts).
        """
        op = f"ScreenResult({self.defense!r}).by_owner"
        n_acc = check_int(op, "n_accounts", n_accounts, exc=DefenseInputError)
        own = as_int_vector(op, "owners", owners)
        same_length(op, owners=own, accept=self.accept)
        if own.size and own.max() >= n_acc:
            raise DefenseInputError(
                f"{op}: owner id {int(own.max())} is not below n_accounts={n_acc}; "
                "pass the ledger's number of accounts"
            )
        return OwnerTally(
            submitted=np.bincount(own, minlength=n_acc).astype(np.int64),
            flagged=np.bincount(own[self.flagged], minlength=n_acc).astype(np.int64),
            rejected=np.bincount(own[~self.accept], minlength=n_acc).astype(np.int64),
        )


def combine(results: Sequence[ScreenResult]) -> ScreenResult:
    """Compose defences applied to the same batch, in the order given.

    A submission is accepted only if every defence accepts it, flagged if any flags it; its
    severity is the maximum; its reason is that of the first defence (in ``results`` order)
    that gave one. Reason labels are merged (first appearance order). Cost
    O(n · len(results)).
    """
    op = "combine"
    if len(results) == 0:
        raise DefenseInputError(f"{op}: pass at least one ScreenResult")
    n = same_length(op, **{f"{r.defense}#{i}": r.accept for i, r in enumerate(results)})
    labels: list[str] = [NO_REASON]
    for r in results:
        labels.extend(x for x in r.reason_labels if x not in labels)
    accept = np.ones(n, dtype=np.bool_)
    flagged = np.zeros(n, dtype=np.bool_)
    severity = np.zeros(n, dtype=np.float64)
    code = np.zeros(n, dtype=np.int8)
    for r in results:  # a handful of defences, never a loop over submissions
        remap = np.array([labels.index(x) for x in r.reason_labels], dtype=np.int8)
        fill = (code == 0) & (r.reason_code != 0)
        code[fill] = remap[r.reason_code[fill]]
        accept &= r.accept
        flagged |= r.flagged
        np.maximum(severity, r.severity, out=severity)
    return ScreenResult(
        defense="+".join(r.defense for r in results),
        accept=accept,
        flagged=flagged,
        severity=severity,
        reason_code=code,
        reason_labels=tuple(labels),
    )
