"""Stake-and-slash: a submission bond that is returned after a challenge window, or slashed.

Why: a bond makes farming and poisoning cost money up front. Every submission of ``n`` points
posts a bond ``b = b₀ + b₁·n`` tokens (moved on the ledger from balance to ``bonded``). The bond
sits in escrow for a challenge window; validation (dedup, quality filter, validator vote …)
records a severity ``s`` in [0, 1] for the submission; when the window closes the bond is
split into a slashed part ``f(s)·b`` — burned or sent to a treasury (``slash_to``) — and a
released part ``b − f(s)·b`` returned to the owner's balance, with

    f(s) = slash_fraction · s ** severity_exponent   for s > 0,      f(0) = 0.

A submission that passed validation (s = 0) is never slashed, whatever the exponent; with
``severity_exponent = 0`` any failure (s > 0) costs the full ``slash_fraction`` (a binary rule);
exponent 1 is proportional; exponents > 1 forgive borderline failures (small s) and punish
clear ones. Honest contributors pay the opportunity cost of the locked bond and lose tokens
whenever a false-positive validation gives their submission s > 0: the false-slash cost.

This module is pure bookkeeping: :class:`BondBook` says *what* to release and slash; the
simulation applies it to the ledger (:meth:`BondBook.ledger_settlement` gives one row per
account for ``Ledger.slash_many(..., to=None or treasury)`` and then
``Ledger.release_bond_many``), then calls :meth:`BondBook.settle`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from ledgerlab.economics.defenses.base import (
    BoolArray,
    DefenseInputError,
    FloatArray,
    IntArray,
    as_float_vector,
    as_int_vector,
    check_choice,
    check_float,
    check_int,
    prefix_sums_within_groups,
    rank_within_groups,
    same_length,
)

__all__ = [
    "BondBook",
    "DueBonds",
    "LedgerSettlement",
    "StakeSlashParams",
    "affordable",
    "bond_required",
    "slash_amounts",
    "slash_factor",
]

SLASH_DESTINATIONS: tuple[str, ...] = ("burn", "treasury")
"""Allowed values of :attr:`StakeSlashParams.slash_to`."""


@dataclass(frozen=True)
class StakeSlashParams:
    """Parameters of the submission bond and its slashing rule (defaults match the scenario
    schema's ``stake_slash`` section)."""

    bond_base_tokens: float = 10.0
    """Fixed part b₀ of the bond per submission (tokens, >= 0)."""
    bond_per_point_tokens: float = 1.0
    """Part b₁ of the bond per submitted data point (tokens per point, >= 0)."""
    challenge_window_epochs: int = 7
    """Epochs a bond stays in escrow before it is released or slashed (epochs, integer >= 0)."""
    slash_fraction: float = 0.5
    """Share of the bond slashed at severity 1 (dimensionless, in [0, 1])."""
    severity_exponent: float = 1.0
    """Exponent p of f(s) = slash_fraction · s**p for s > 0, f(0) = 0 (dimensionless, >= 0;
    0 = binary rule, 1 = proportional, > 1 = lenient on borderline failures)."""
    slash_to: Literal["burn", "treasury"] = "burn"
    """Where slashed tokens go: ``"burn"`` (destroyed) or ``"treasury"`` (credited to the
    treasury account) — the simulation passes ``to=None`` or the treasury id to the ledger."""

    def __post_init__(self) -> None:
        cls = type(self).__name__
        fields = (
            ("bond_base_tokens", check_float(cls, "bond_base_tokens", self.bond_base_tokens, 0.0)),
            (
                "bond_per_point_tokens",
                check_float(cls, "bond_per_point_tokens", self.bond_per_point_tokens, 0.0),
            ),
            (
                "challenge_window_epochs",
                check_int(cls, "challenge_window_epochs", self.challenge_window_epochs, 0),
            ),
            ("slash_fraction", check_float(cls, "slash_fraction", self.slash_fraction, 0.0, 1.0)),
            (
                "severity_exponent",
                check_float(cls, "severity_exponent", self.severity_exponent, 0.0),
            ),
            ("slash_to", check_choice(cls, "slash_to", self.slash_to, SLASH_DESTINATIONS)),
        )
        for name, value in fields:
            object.__setattr__(self, name, value)

    @property
    def burns(self) -> bool:
        """True when slashed tokens are burned, False when they go to the treasury."""
        return self.slash_to == "burn"


# --------------------------------------------------------------------------------------
# formulas
# --------------------------------------------------------------------------------------


def bond_required(n_points: npt.ArrayLike, params: StakeSlashParams) -> FloatArray:
    """Bond of each submission: ``b₀ + b₁·n_points`` tokens.

    Cost O(n). Known false-positive mode: none (a bond refuses nobody by itself), but honest
    providers with small balances are priced out (see :func:`affordable`).

    Args:
        n_points: points in each submission (int[n], >= 0).
        params: the bond parameters.

    Returns:
        float64[n] tokens.
    """
    n = as_int_vector("bond_required", "n_points", np.atleast_1d(np.asarray(n_points)))
    return params.bond_base_tokens + params.bond_per_point_tokens * n.astype(np.float64)


def slash_factor(severity: npt.ArrayLike, params: StakeSlashParams) -> FloatArray:
    """Share of a bond slashed at each severity: f(s) = slash_fraction · s**p, f(0) = 0.

    Cost O(n). Args: ``severity`` float[n] in [0, 1]. Returns float64[n] in [0, 1].
    """
    s = as_float_vector("slash_factor", "severity", np.atleast_1d(severity), 0.0, 1.0)
    return np.where(s > 0.0, params.slash_fraction * s**params.severity_exponent, 0.0)


def slash_amounts(
    bonds_tokens: npt.ArrayLike, severity: npt.ArrayLike, params: StakeSlashParams
) -> FloatArray:
    """Tokens slashed from each bond: ``f(s)·b`` (see :func:`slash_factor`).

    The result is rounded so that ``b − slash`` and ``slash`` add up to ``b`` exactly in
    floating point (computed as ``b − (b − f·b)``; exact by Sterbenz's lemma), so a bond is
    always fully accounted for by its released and slashed parts. The price: the slash is
    rounded to the bond's precision (a slash below half a unit in the last place of ``b``
    becomes 0).

    Cost O(n). Known false-positive mode: any honest submission given s > 0 by a mistaken
    validation loses ``f(s)·b`` (the false-slash cost).

    Args:
        bonds_tokens: bond of each submission (tokens, float[n], >= 0).
        severity: validation severity of each submission (dimensionless, float[n] in [0, 1]).
        params: the slashing parameters.

    Returns:
        float64[n] tokens, each in [0, slash_fraction·b].
    """
    op = "slash_amounts"
    b = as_float_vector(op, "bonds_tokens", np.atleast_1d(bonds_tokens), 0.0)
    f = slash_factor(severity, params)
    same_length(op, bonds_tokens=b, severity=f)
    return _exact_split(b, f)[1]


def _exact_split(amounts: FloatArray, factor: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(released, slashed) with released + slashed == amounts exactly (per element)."""
    released = amounts - amounts * factor
    slashed = amounts - released
    return released, slashed


def affordable(
    balances_tokens: npt.ArrayLike,
    required_tokens: npt.ArrayLike,
    owners: npt.ArrayLike | None = None,
) -> BoolArray:
    """Which submissions' bonds their submitters can pay (the others are refused).

    Without ``owners``: element-wise ``balances_tokens >= required_tokens`` (one balance per
    submission). With ``owners``: ``balances_tokens`` is indexed by account id and an owner's
    submissions are paid in the given order out of one balance, so submission j is affordable
    when the owner's cumulative requirement up to and including j is covered — once one fails,
    the owner's later submissions fail too. This is what ``Ledger.bond_many`` will accept.

    Prefix sums are accumulated per owner in submission order, exactly as the ledger adds up
    an account's rows, so the accepted set is exactly what ``Ledger.bond_many`` accepts.

    Cost O(n log n) (a stable sort by owner). Known false-positive mode: honest providers with
    small balances cannot submit at all (a bond is a barrier to entry, not only to farmers).

    Args:
        balances_tokens: liquid balance (tokens, float >= 0): per submission, or per account
            when ``owners`` is given.
        required_tokens: bond of each submission (tokens, float[n] >= 0), see
            :func:`bond_required`.
        owners: account id of each submission (int[n]) or None.

    Returns:
        bool[n], True where the bond can be posted.
    """
    op = "affordable"
    req = as_float_vector(op, "required_tokens", required_tokens, 0.0)
    bal = as_float_vector(op, "balances_tokens", balances_tokens, 0.0)
    if owners is None:
        same_length(op, balances_tokens=bal, required_tokens=req)
        return bal >= req
    own = as_int_vector(op, "owners", owners)
    same_length(op, owners=own, required_tokens=req)
    if own.size and own.max() >= len(bal):
        raise DefenseInputError(
            f"{op}: owner id {int(own.max())} has no balance (balances_tokens has {len(bal)} "
            "entries); pass one balance per ledger account"
        )
    order, rank = rank_within_groups(own)
    return prefix_sums_within_groups(req, order, rank) <= bal[own]


# --------------------------------------------------------------------------------------
# escrow book
# --------------------------------------------------------------------------------------


class DueBonds(NamedTuple):
    """Bonds to settle: per bond, its owner, the tokens to return and the tokens to slash.

    ``release_tokens + slash_tokens`` equals the posted amount exactly for every bond.
    """

    ids: IntArray
    """Bond ids (int64[m])."""
    owners: IntArray
    """Owner account of each bond (int64[m])."""
    release_tokens: FloatArray
    """Tokens returned to the owner's balance (float64[m])."""
    slash_tokens: FloatArray
    """Tokens slashed — burned or sent to the treasury per ``slash_to`` (float64[m])."""


class LedgerSettlement(NamedTuple):
    """One row per account for the ledger: slash first, then release (see
    :meth:`BondBook.ledger_settlement`)."""

    accounts: IntArray
    """Accounts touched, sorted and unique (int64[a])."""
    slash_tokens: FloatArray
    """Tokens to pass to ``Ledger.slash_many(accounts, slash_tokens, ...)`` (float64[a])."""
    release_tokens: FloatArray
    """Tokens to pass afterwards to ``Ledger.release_bond_many(accounts, release_tokens)``
    (float64[a])."""


_COLUMNS: tuple[tuple[str, type], ...] = (
    ("owner", np.int64),
    ("amount", np.float64),
    ("posted", np.int64),
    ("release", np.int64),
    ("severity", np.float64),
    ("settled", np.bool_),
)


class BondBook:
    """Columnar escrow of submission bonds: post, record severity, find due bonds, settle.

    Each bond is a row with a stable integer id (assigned in posting order): owner account,
    amount (tokens), posted epoch, release epoch (= posted + window) and the severity its
    submission received (0 until :meth:`set_severity`). Columns are numpy arrays that grow by
    doubling; rows of settled bonds at the front are dropped (compaction keeps memory
    proportional to the outstanding bonds), so memory does not grow with history.

    Protocol per epoch: ``ids = post(...)`` when submissions are bonded (after the ledger's
    ``bond_many``); ``set_severity(ids, result.slash_severity)`` once validated;
    ``d = due(epoch)``; ``s = ledger_settlement(d, ledger.bonded)``; apply ``s`` to the
    ledger (slash, then release); ``settle(d.ids)``. :meth:`due` does not change the book, so
    a failed ledger operation leaves everything consistent. Use :meth:`ledger_settlement`
    rather than the per-bond amounts of ``d`` for the ledger: it absorbs floating-point dust
    in the ledger's ``bonded`` column that would otherwise overdraw it.

    Conservation: every posted token is eventually either released or slashed —
    ``posted_tokens == released_tokens + slashed_tokens + outstanding_tokens`` (up to the
    rounding of the running sums; each bond's split is exact).
    """

    def __init__(self, params: StakeSlashParams, initial_capacity: int = 1024) -> None:
        """Empty book for ``params``; ``initial_capacity`` rows are allocated up front."""
        if not isinstance(params, StakeSlashParams):
            raise DefenseInputError(
                f"BondBook: params must be a StakeSlashParams, got {type(params).__name__}"
            )
        cap = check_int("BondBook", "initial_capacity", initial_capacity, 1, exc=DefenseInputError)
        self.params = params
        self._cols: dict[str, np.ndarray] = {name: np.zeros(cap, dtype=dt) for name, dt in _COLUMNS}
        self._base = 0  # id of storage row 0
        self._size = 0  # rows in use
        self._posted_tokens = 0.0
        self._released_tokens = 0.0
        self._slashed_tokens = 0.0
        self._n_posted = 0

    # ------------------------------------------------------------------ read-only views

    @property
    def n_posted(self) -> int:
        """Bonds ever posted (also the next bond id)."""
        return self._n_posted

    @property
    def n_outstanding(self) -> int:
        """Bonds posted and not yet settled."""
        return int(np.count_nonzero(~self._cols["settled"][: self._size]))

    @property
    def posted_tokens(self) -> float:
        """Tokens ever posted as bonds."""
        return self._posted_tokens

    @property
    def released_tokens(self) -> float:
        """Tokens returned to owners by :meth:`settle` so far."""
        return self._released_tokens

    @property
    def slashed_tokens(self) -> float:
        """Tokens slashed by :meth:`settle` so far."""
        return self._slashed_tokens

    @property
    def outstanding_tokens(self) -> float:
        """Tokens currently in escrow (unsettled bonds)."""
        live = ~self._cols["settled"][: self._size]
        return float(np.sum(self._cols["amount"][: self._size][live]))

    def outstanding_by_owner(self, n_accounts: int) -> FloatArray:
        """Escrowed tokens per account (float64[n_accounts]); O(outstanding + n_accounts)."""
        op = "BondBook.outstanding_by_owner"
        n_acc = check_int(op, "n_accounts", n_accounts, exc=DefenseInputError)
        live = ~self._cols["settled"][: self._size]
        owners = self._cols["owner"][: self._size][live]
        if owners.size and owners.max() >= n_acc:
            raise DefenseInputError(
                f"{op}: a bond belongs to account {int(owners.max())}, not below "
                f"n_accounts={n_acc}; pass the ledger's number of accounts"
            )
        amounts = self._cols["amount"][: self._size][live]
        return np.bincount(owners, weights=amounts, minlength=n_acc).astype(np.float64)

    def outstanding(self) -> dict[str, np.ndarray]:
        """Copies of the outstanding bonds' columns: ``id``, ``owner``, ``amount_tokens``,
        ``posted_epoch``, ``release_epoch``, ``severity``."""
        live = ~self._cols["settled"][: self._size]
        c = {k: v[: self._size][live].copy() for k, v in self._cols.items()}
        return {
            "id": self._base + np.flatnonzero(live).astype(np.int64),
            "owner": c["owner"],
            "amount_tokens": c["amount"],
            "posted_epoch": c["posted"],
            "release_epoch": c["release"],
            "severity": c["severity"],
        }

    # ------------------------------------------------------------------ operations

    def post(
        self,
        owners: npt.ArrayLike,
        amounts_tokens: npt.ArrayLike,
        epoch: int,
        window_epochs: int | None = None,
    ) -> IntArray:
        """Record new bonds posted at ``epoch``; they become due at ``epoch + window``.

        Cost O(m) amortised. Args: ``owners`` int[m] account ids; ``amounts_tokens`` float[m]
        tokens >= 0; ``epoch`` (epochs, >= 0); ``window_epochs`` (epochs, >= 0; default
        ``params.challenge_window_epochs``). Returns the new bond ids (int64[m]).
        """
        op = "BondBook.post"
        own = as_int_vector(op, "owners", owners)
        amt = as_float_vector(op, "amounts_tokens", amounts_tokens, 0.0)
        same_length(op, owners=own, amounts_tokens=amt)
        ep = check_int(op, "epoch", epoch, 0, exc=DefenseInputError)
        win = (
            self.params.challenge_window_epochs
            if window_epochs is None
            else check_int(op, "window_epochs", window_epochs, 0, exc=DefenseInputError)
        )
        m = len(own)
        self._reserve(m)
        rows = slice(self._size, self._size + m)
        c = self._cols
        c["owner"][rows] = own
        c["amount"][rows] = amt
        c["posted"][rows] = ep
        c["release"][rows] = ep + win
        c["severity"][rows] = 0.0
        c["settled"][rows] = False
        ids = np.arange(self._base + self._size, self._base + self._size + m, dtype=np.int64)
        self._size += m
        self._n_posted += m
        self._posted_tokens += float(np.sum(amt))
        return ids

    def set_severity(self, ids: npt.ArrayLike, severity: npt.ArrayLike) -> None:
        """Record the validation severity (dimensionless, in [0, 1]) of outstanding bonds.

        Replaces any earlier value; to combine several validations pass their maximum
        (``economics.defenses.combine``). Pass ``ScreenResult.slash_severity`` so that only
        flagged submissions are slashed. Cost O(m). Raises if an id is unknown, repeated
        or already settled.
        """
        op = "BondBook.set_severity"
        rows = self._rows(op, ids)
        sev = as_float_vector(op, "severity", severity, 0.0, 1.0)
        same_length(op, ids=rows, severity=sev)
        self._cols["severity"][rows] = sev

    def due(self, epoch: int) -> DueBonds:
        """Outstanding bonds whose release epoch is ``<= epoch``, with their release/slash split.

        Does not modify the book (call :meth:`settle` after applying it to the ledger).
        Cost O(outstanding). Slash per bond = ``f(severity)·amount`` (see :func:`slash_amounts`).
        """
        ep = check_int("BondBook.due", "epoch", epoch, 0, exc=DefenseInputError)
        n = self._size
        c = self._cols
        rows = np.flatnonzero(~c["settled"][:n] & (c["release"][:n] <= ep))
        return self._split(rows)

    def settle(self, ids: npt.ArrayLike) -> DueBonds:
        """Mark bonds as settled (released/slashed) and return the split that was settled.

        Settling is allowed before the release epoch (e.g. an early slash after a decisive
        challenge). Cost O(m + outstanding). Raises if an id is unknown, repeated or already
        settled; then nothing changes.
        """
        op = "BondBook.settle"
        rows = self._rows(op, ids)
        out = self._split(rows)
        self._cols["settled"][rows] = True
        self._released_tokens += float(np.sum(out.release_tokens))
        self._slashed_tokens += float(np.sum(out.slash_tokens))
        self._compact()
        return out

    def ledger_settlement(self, due: DueBonds, bonded_tokens: npt.ArrayLike) -> LedgerSettlement:
        """Per-account amounts that the ledger is guaranteed to accept for settling ``due``.

        Why: the ledger's ``bonded`` column adds and subtracts many bonds per account in
        floating point, so after a while it differs from the exact per-bond amounts by a few
        units in the last place, and debiting the book's amounts can overdraw it by that dust
        (a ``LedgerError``). This aggregates ``due`` to one row per account and fits it to the
        ledger's current ``bonded_tokens`` (tokens, indexed by account id): slash
        ``min(Σ slash, bonded)``; then release ``min(Σ release, bonded − slash)`` — or all of
        ``bonded − slash`` when the account has no other outstanding bond, which sweeps the
        accumulated dust so an account's bonded returns to exactly 0. With one row per account
        the ledger computes exactly ``bonded − slash`` and accepts both operations.

        Apply in this order: ``Ledger.slash_many(s.accounts, s.slash_tokens, to=...)``, then
        ``Ledger.release_bond_many(s.accounts, s.release_tokens)``, then
        ``settle(due.ids)``. Cost O(outstanding + m log m).
        """
        op = "BondBook.ledger_settlement"
        bonded = as_float_vector(op, "bonded_tokens", bonded_tokens, 0.0)
        owners = np.asarray(due.owners, dtype=np.int64)
        if owners.size == 0:
            empty = np.zeros(0, dtype=np.float64)
            return LedgerSettlement(np.zeros(0, dtype=np.int64), empty, empty.copy())
        if owners.max() >= len(bonded):
            raise DefenseInputError(
                f"{op}: a bond belongs to account {int(owners.max())} but bonded_tokens has "
                f"{len(bonded)} entries; pass the ledger's bonded column"
            )
        accounts, inverse = np.unique(owners, return_inverse=True)
        m = len(accounts)
        slash_sum = np.bincount(inverse, weights=due.slash_tokens, minlength=m)
        release_sum = np.bincount(inverse, weights=due.release_tokens, minlength=m)
        n_due = np.bincount(inverse, minlength=m)
        live = ~self._cols["settled"][: self._size]
        live_owners = self._cols["owner"][: self._size][live]
        pos = np.minimum(np.searchsorted(accounts, live_owners), m - 1)
        mine = accounts[pos] == live_owners
        n_live = np.bincount(pos[mine], minlength=m)
        last = n_live <= n_due  # no other outstanding bond of this account
        b = bonded[accounts]
        slash = np.minimum(slash_sum, b)
        after = b - slash  # exactly what the ledger computes for a one-row-per-account slash
        release = np.where(last, after, np.minimum(release_sum, after))
        return LedgerSettlement(accounts.astype(np.int64), slash, release)

    # ------------------------------------------------------------------ internals

    def _split(self, rows: IntArray) -> DueBonds:
        c = self._cols
        amounts = c["amount"][rows]
        factor = slash_factor(c["severity"][rows], self.params)
        release, slash = _exact_split(amounts, factor)
        return DueBonds(
            ids=self._base + rows.astype(np.int64),
            owners=c["owner"][rows].copy(),
            release_tokens=release,
            slash_tokens=slash,
        )

    def _rows(self, op: str, ids: npt.ArrayLike) -> IntArray:
        """Storage rows of outstanding bond ``ids`` (validated: known, unique, unsettled)."""
        idv = as_int_vector(op, "ids", ids, low=None)
        if idv.size == 0:
            return idv
        unknown = (idv < 0) | (idv >= self._base + self._size)
        if unknown.any():
            bad = int(idv[unknown][0])
            raise DefenseInputError(
                f"{op}: unknown bond id {bad} (ids run from 0 to {self._n_posted - 1}); "
                "pass ids returned by BondBook.post"
            )
        srt = np.sort(idv)
        if bool(np.any(srt[1:] == srt[:-1])):
            raise DefenseInputError(f"{op}: ids must not repeat; pass each bond id once")
        gone = idv < self._base
        rows = idv - self._base
        if not gone.any():
            gone = self._cols["settled"][rows]
        if gone.any():
            bad = int(idv[np.argmax(gone)])
            raise DefenseInputError(
                f"{op}: bond id {bad} is already settled; pass only outstanding bonds "
                "(e.g. the ids from BondBook.due)"
            )
        return rows

    def _reserve(self, m: int) -> None:
        cap = len(self._cols["owner"])
        need = self._size + m
        if need <= cap:
            return
        new_cap = max(need, 2 * cap)
        for name, arr in self._cols.items():
            grown = np.zeros(new_cap, dtype=arr.dtype)
            grown[: self._size] = arr[: self._size]
            self._cols[name] = grown

    def _compact(self) -> None:
        """Drop the settled prefix once it is at least half of the rows in use (amortised O(1))."""
        n = self._size
        live = ~self._cols["settled"][:n]
        k = int(np.argmax(live)) if live.any() else n
        if k == 0 or 2 * k < n:
            return
        for arr in self._cols.values():
            arr[: n - k] = arr[k:n]
        self._base += k
        self._size = n - k
