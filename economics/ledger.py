"""The token ledger: integer accounts in numpy columns, atomic operations, a columnar journal.

Why this shape: the simulation moves tokens between hundreds of thousands of individuals
every epoch (fees, rewards, unlocks, bonds, slashes), so balances live in four float64
numpy columns indexed by account id, and every operation has a vectorised ``*_many``
form that applies a whole batch with ``np.bincount`` (no Python loop over rows).

Columns (all amounts are float64 **tokens**):

* ``balance`` — liquid tokens;
* ``staked`` — tokens staked (``stake`` / ``unstake``; slashable with ``source="staked"``);
* ``locked`` — tokens still vesting (``lock`` / ``unlock``; ``mint_locked`` for genesis);
* ``bonded`` — submission bonds (``bond`` / ``release_bond``; slashable, the default source).

Invariant, checked on every operation before anything is written::

    Σ (balance + staked + locked + bonded)  ==  minted − burned

within ``rtol · max(minted, 1 token)``, and no entry negative or non-finite.

The per-operation check is O(touched accounts): the ledger keeps a running total per column,
updated by the *actual* change of the touched entries, so a batch that would lose tokens to
floating-point cancellation is refused like any other bad operation. :meth:`Ledger.check_invariants`
recomputes everything from the columns in O(N).

Atomicity: every operation validates all of its inputs (known account ids, finite amounts
``>= 0``, equal array lengths, no overdraft, no overflow) and computes the would-be new values
before it writes anything. A failing operation raises :class:`LedgerError` naming the
operation, the accounts and the amounts, and leaves every column, total and the journal
bit-identical. Zero amounts are valid (they change no balance but are journaled).

Batch semantics (``*_many``): all debits and credits of a batch are applied
*simultaneously*. Rows naming the same account net: for each touched account and column,
``(old + Σ credits) − Σ debits`` must be ``>= 0``. The order of rows therefore never matters:
``a→b 10`` and ``b→a 10`` succeed even when both balances are zero, and so does the chain
``a→b 10, b→c 10`` when only ``a`` holds 10. A self-transfer ``a→a x`` nets to zero and
passes (unless ``x`` is so much larger than the balance that float64 rounding would lose
tokens: that is refused by the supply check). A single-row batch gives bit-identical columns
to the matching single operation.

Journal: every successful operation appends one row per (account, amount) pair to columnar,
chunked numpy buffers; memory grows one chunk at a time, never per entry. ``src``, ``dst`` and
``amount`` are stored per row; ``epoch`` and ``kind`` are constant over an operation (and
usually over many), so they are stored run-length encoded and expanded on read, which keeps a
batch append to three array copies. Read it with :meth:`Ledger.journal_frame` (pandas) or
:meth:`Ledger.journal_columns` (numpy, optionally from a row offset, e.g. one epoch's rows).
``src``/``dst`` conventions (``-1`` = :data:`NO_ACCOUNT`):

========================  ===========  ============
kind                      src          dst
========================  ===========  ============
mint, mint_locked         -1           account
burn                      account      -1
transfer                  sender       receiver
stake, unstake, lock,     account      account
unlock, bond,
release_bond
slash_bonded,             slashed      ``to`` or -1 (burned)
slash_staked              account
========================  ===========  ============
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final, NamedTuple

import numpy as np
import pandas as pd

__all__ = [
    "JOURNAL_KINDS",
    "NO_ACCOUNT",
    "Ledger",
    "LedgerError",
]

#: The ``src``/``dst`` value the journal uses for "no account" (the mint or burn side).
NO_ACCOUNT: Final[int] = -1

#: Journal ``kind`` names; the journal stores the position in this tuple as an int8 code.
JOURNAL_KINDS: Final[tuple[str, ...]] = (
    "mint",
    "burn",
    "transfer",
    "stake",
    "unstake",
    "lock",
    "unlock",
    "mint_locked",
    "bond",
    "release_bond",
    "slash_bonded",
    "slash_staked",
)
_KIND: Final[dict[str, int]] = {name: code for code, name in enumerate(JOURNAL_KINDS)}

# Column indices into Ledger._cols.
_BAL, _STK, _LCK, _BND = 0, 1, 2, 3
_COLUMN_NAMES: Final[tuple[str, ...]] = ("balance", "staked", "locked", "bonded")
_SLASH_SOURCES: Final[dict[str, int]] = {"bonded": _BND, "staked": _STK}

_MAX_LISTED: Final[int] = 5  # offending rows/accounts quoted in an error message

#: Account ids accepted by the ``*_many`` operations: a 1-D integer array or sequence.
IdsLike = np.ndarray | Sequence[int]
#: Token amounts accepted by the ``*_many`` operations: a 1-D real array or sequence (tokens).
AmountsLike = np.ndarray | Sequence[float]


class Stakers(NamedTuple):
    """The accounts with a positive stake and their stakes (read-only arrays)."""

    accounts: np.ndarray
    """Account ids, ascending."""
    staked_tokens: np.ndarray
    """Each one's stake (tokens)."""
    total_tokens: float
    """Σ stake over every account (tokens)."""


class LedgerError(ValueError):
    """A ledger operation was refused; the ledger is unchanged.

    The message names the operation, the offending account(s) and amount(s), and what to do.
    """


def _distinct_sel(ids: np.ndarray) -> slice | np.ndarray | None:
    """``ids`` as an index of distinct accounts when they are strictly increasing (a role
    set's or a vesting bucket's accounts, recipients found by ``flatnonzero``): a slice
    when they are also contiguous, else the ids; None otherwise (the general netting)."""
    n = ids.size
    if n == 0 or (n > 1 and not bool((ids[1:] > ids[:-1]).all())):
        return None
    first, last = int(ids[0]), int(ids[-1])
    return slice(first, last + 1) if last - first + 1 == n else ids


def _selects(sel: slice | np.ndarray, account: int) -> bool:
    """Whether ``sel`` (from :func:`_distinct_sel`) includes ``account``."""
    if isinstance(sel, slice):
        return bool(sel.start <= account < sel.stop)
    i = int(np.searchsorted(sel, account))
    return i < sel.size and int(sel[i]) == account


def _fmt_list(values: Sequence[object] | np.ndarray, total: int | None = None) -> str:
    """Render at most ``_MAX_LISTED`` items of ``values`` for an error message."""
    items = [v.item() if isinstance(v, np.generic) else v for v in list(values)[:_MAX_LISTED]]
    count = len(values) if total is None else total
    more = f" (and {count - len(items)} more)" if count > len(items) else ""
    return f"{items}{more}"


class _Chunked:
    """Equal-length columns stored as lists of fixed-size numpy chunks.

    Memory grows by ``chunk_rows`` rows at a time, never per entry; appending a batch
    copies it slice by slice into the current chunk and as many new chunks as it needs
    (a loop over chunks, not rows).
    """

    __slots__ = ("_chunk_rows", "_chunks", "_dtypes", "_fill")

    def __init__(self, dtypes: tuple[type, ...], chunk_rows: int) -> None:
        self._dtypes = dtypes
        self._chunk_rows = chunk_rows
        self._chunks: list[list[np.ndarray]] = [[] for _ in dtypes]
        self._fill = chunk_rows  # rows used in the last chunk; "full" forces a first chunk

    def __len__(self) -> int:
        n_chunks = len(self._chunks[0])
        return 0 if n_chunks == 0 else (n_chunks - 1) * self._chunk_rows + self._fill

    @property
    def n_chunks(self) -> int:
        """Number of chunks allocated per column."""
        return len(self._chunks[0])

    def _new_chunk(self) -> None:
        for chunks, dtype in zip(self._chunks, self._dtypes, strict=True):
            chunks.append(np.empty(self._chunk_rows, dtype=dtype))
        self._fill = 0

    def append_one(self, *values: float) -> None:
        """Append one row (one value per column)."""
        if self._fill == self._chunk_rows:
            self._new_chunk()
        i = self._fill
        for chunks, value in zip(self._chunks, values, strict=True):
            chunks[-1][i] = value
        self._fill = i + 1

    def append_many(self, m: int, *values: np.ndarray | int | float) -> None:
        """Append ``m`` rows; each value is an array of length ``m`` or a scalar."""
        if m == 0:
            return
        c = self._chunk_rows
        free = c - self._fill if self._chunks[0] else 0
        ci = len(self._chunks[0]) - 1
        fill = self._fill
        # Allocate every chunk the batch needs first, so the copy below cannot fail midway.
        for _ in range(0 if m <= free else -(-(m - free) // c)):
            self._new_chunk()
        if free == 0:  # the batch starts at the top of the first new chunk
            ci, fill = ci + 1, 0
        done = 0
        while True:  # one iteration per chunk touched
            take = min(c - fill, m - done)
            for chunks, value in zip(self._chunks, values, strict=True):
                chunks[ci][fill : fill + take] = (
                    value[done : done + take] if isinstance(value, np.ndarray) else value
                )
            done += take
            fill += take
            if done == m:
                break
            ci, fill = ci + 1, 0
        self._fill = fill

    def columns(self, start: int = 0) -> list[np.ndarray]:
        """Each column's rows ``start..`` as one contiguous array (a copy); chunks wholly
        before ``start`` are skipped."""
        first = start // self._chunk_rows
        skip = start - first * self._chunk_rows
        out = []
        for chunks, dtype in zip(self._chunks, self._dtypes, strict=True):
            if first >= len(chunks):
                out.append(np.empty(0, dtype=dtype))
                continue
            parts = chunks[first:]
            parts[-1] = parts[-1][: self._fill]
            parts[0] = parts[0][skip:]
            out.append(np.concatenate(parts))
        return out


class _Journal:
    """The ledger's columnar journal.

    Per row: ``src``, ``dst`` (int64) and ``amount`` (float64) in chunked buffers. ``epoch``
    and ``kind`` are constant within an operation (and usually across many consecutive
    operations), so they are stored run-length encoded: one ``(epoch, kind, n_rows)`` record
    per run of consecutive rows sharing both, also in chunked buffers. This keeps a
    batch append to three array copies; :meth:`frame` expands the runs with ``np.repeat``.
    """

    __slots__ = ("_rows", "_run_epoch", "_run_kind", "_run_rows", "_runs")

    def __init__(self, chunk_rows: int) -> None:
        self._rows = _Chunked((np.int64, np.int64, np.float64), chunk_rows)
        self._runs = _Chunked((np.int64, np.int8, np.int64), chunk_rows)
        self._run_epoch = 0
        self._run_kind = -1
        self._run_rows = 0  # rows in the open run (not yet in self._runs)

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def n_chunks(self) -> int:
        """Number of per-row chunks allocated."""
        return self._rows.n_chunks

    def _extend_run(self, epoch: int, kind: int, m: int) -> None:
        if epoch == self._run_epoch and kind == self._run_kind:
            self._run_rows += m
        else:
            if self._run_rows:
                self._runs.append_one(self._run_epoch, self._run_kind, self._run_rows)
            self._run_epoch, self._run_kind, self._run_rows = epoch, kind, m

    def append_one(self, epoch: int, kind: int, src: int, dst: int, amount: float) -> None:
        """Append one row."""
        self._rows.append_one(src, dst, amount)
        self._extend_run(epoch, kind, 1)

    def append_many(
        self,
        epoch: int,
        kind: int,
        src: np.ndarray | int,
        dst: np.ndarray | int,
        amount: np.ndarray,
    ) -> None:
        """Append ``len(amount)`` rows; ``src``/``dst`` are arrays of that length or scalars."""
        m = len(amount)
        if m:
            self._rows.append_many(m, src, dst, amount)
            self._extend_run(epoch, kind, m)

    def columns(self, start: int = 0) -> dict[str, np.ndarray]:
        """Rows ``start..`` as numpy arrays (copies): epoch, kind (int8 codes), src, dst,
        amount. Cost O(rows returned + runs)."""
        src, dst, amount = self._rows.columns(start)
        run_epoch, run_kind, run_rows = self._runs.columns()
        if self._run_rows:
            run_epoch = np.append(run_epoch, np.int64(self._run_epoch))
            run_kind = np.append(run_kind, np.int8(self._run_kind))
            run_rows = np.append(run_rows, np.int64(self._run_rows))
        if start:
            ends = np.cumsum(run_rows)
            r = int(np.searchsorted(ends, start, side="right"))  # the run holding row `start`
            run_epoch, run_kind, run_rows = run_epoch[r:], run_kind[r:], run_rows[r:].copy()
            if len(run_rows):
                run_rows[0] = ends[r] - start
        return {
            "epoch": np.repeat(run_epoch, run_rows),
            "kind": np.repeat(run_kind, run_rows),
            "src": src,
            "dst": dst,
            "amount": amount,
        }


class Ledger:
    """Token accounts in four float64 columns with atomic, journaled, vectorised operations.

    Why: every token movement of the simulation (fees, rewards, unlocks, bonds, slashes)
    goes through one object that enforces conservation of supply and non-negativity, so a
    mechanism bug shows up as a :class:`LedgerError` at the operation that caused it, and
    the journal explains every balance afterwards.

    Args:
        capacity: initial number of account rows allocated (>= 1); doubles as needed.
        journal: whether operations are journaled from the start (see ``journal_enabled``).
        rtol: relative tolerance (dimensionless, in (0, 1)) of the supply invariant, applied
            to ``max(minted, 1 token)``.
        journal_chunk_rows: rows per journal chunk (>= 1); the journal grows by this many rows.

    Attributes:
        epoch: the current epoch (int, in epochs), set by the simulation and stamped on
            every journal row.
        journal_enabled: when False, operations are not journaled (faster).
    """

    def __init__(
        self,
        capacity: int = 1024,
        *,
        journal: bool = True,
        rtol: float = 1e-9,
        journal_chunk_rows: int = 65_536,
    ) -> None:
        capacity = self._positive_int("Ledger(capacity)", capacity)
        journal_chunk_rows = self._positive_int("Ledger(journal_chunk_rows)", journal_chunk_rows)
        if isinstance(rtol, bool) or not isinstance(rtol, (int, float, np.integer, np.floating)):
            raise LedgerError(f"Ledger(rtol): expected a number in (0, 1), got {rtol!r}")
        rtol = float(rtol)
        if not 0.0 < rtol < 1.0:
            raise LedgerError(
                f"Ledger(rtol): relative tolerance must be in (0, 1), got {rtol!r}; "
                "the default 1e-9 suits float64 token amounts"
            )
        self.epoch: int = 0
        self.journal_enabled: bool = bool(journal)
        self._rtol = rtol
        self._n = 0
        self._cols: list[np.ndarray] = [np.zeros(capacity, dtype=np.float64) for _ in range(4)]
        self._tot: list[float] = [0.0, 0.0, 0.0, 0.0]  # running Σ of each column, tokens
        self._writes: list[int] = [0, 0, 0, 0]  # committed writes per column (versions)
        self._stakers: tuple[tuple[int, int], Stakers] | None = None  # stakers(), by version
        self._minted = 0.0
        self._burned = 0.0
        self._journal = _Journal(journal_chunk_rows)

    # ------------------------------------------------------------------ introspection

    @staticmethod
    def _positive_int(what: str, value: object) -> int:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise LedgerError(f"{what}: expected a positive integer, got {value!r}")
        if int(value) < 1:
            raise LedgerError(f"{what}: expected a positive integer, got {int(value)}")
        return int(value)

    @property
    def n_accounts(self) -> int:
        """Number of open accounts; valid ids are ``0 .. n_accounts - 1``."""
        return self._n

    @property
    def capacity(self) -> int:
        """Number of account rows allocated (doubles when ``open_accounts`` needs more)."""
        return len(self._cols[_BAL])

    @property
    def rtol(self) -> float:
        """Relative tolerance of the supply invariant (dimensionless)."""
        return self._rtol

    def _view(self, col: int) -> np.ndarray:
        v = self._cols[col][: self._n]
        v.flags.writeable = False
        return v

    @property
    def balance(self) -> np.ndarray:
        """Liquid tokens per account (read-only view; stale after the capacity grows)."""
        return self._view(_BAL)

    @property
    def staked(self) -> np.ndarray:
        """Staked tokens per account (read-only view; stale after the capacity grows)."""
        return self._view(_STK)

    @property
    def locked(self) -> np.ndarray:
        """Vesting (locked) tokens per account (read-only view; stale after growth)."""
        return self._view(_LCK)

    @property
    def bonded(self) -> np.ndarray:
        """Submission-bond tokens per account (read-only view; stale after growth)."""
        return self._view(_BND)

    def version(self, column: str) -> tuple[int, int]:
        """A value that changes whenever ``column`` (``balance``, ``staked``, ``locked``
        or ``bonded``) may have changed: its committed writes and the number of accounts.
        Lets a caller keep what it derived from a column (e.g. who stakes) until then."""
        return (self._writes[_COLUMN_NAMES.index(column)], self._n)

    def stakers(self) -> Stakers:
        """Who stakes now (:class:`Stakers`), recomputed only after the staked column
        changed (:meth:`version`): an emission routed to stakers every epoch then scans
        the accounts once per change of the stakes, not once per epoch."""
        key = self.version("staked")
        if self._stakers is None or self._stakers[0] != key:
            staked = self._view(_STK)
            accounts = np.flatnonzero(staked)
            weights = staked[accounts]
            accounts.flags.writeable = weights.flags.writeable = False  # shared while cached
            self._stakers = (key, Stakers(accounts, weights, float(staked.sum())))
        return self._stakers[1]

    @property
    def minted(self) -> float:
        """Cumulative tokens minted (``mint``, ``mint_locked`` and their ``*_many``)."""
        return self._minted

    @property
    def burned(self) -> float:
        """Cumulative tokens burned (``burn``, ``burn_many`` and slashes with ``to=None``)."""
        return self._burned

    @property
    def supply(self) -> float:
        """Tokens in existence: ``minted - burned``."""
        return self._minted - self._burned

    @property
    def totals(self) -> dict[str, float]:
        """Running total of each column in tokens (O(1); ``check_invariants`` verifies them)."""
        return dict(zip(_COLUMN_NAMES, self._tot, strict=True))

    @property
    def journal_size(self) -> int:
        """Number of journal rows recorded so far."""
        return len(self._journal)

    def snapshot(self) -> dict[str, np.ndarray]:
        """Copies of the four columns (length ``n_accounts``), keyed by column name."""
        return {name: self._cols[i][: self._n].copy() for i, name in enumerate(_COLUMN_NAMES)}

    def journal_frame(self) -> pd.DataFrame:
        """The journal as a DataFrame.

        Columns: ``epoch`` (int64, epochs), ``kind`` (categorical over :data:`JOURNAL_KINDS`),
        ``src`` and ``dst`` (int64 account ids, :data:`NO_ACCOUNT` = -1 for the mint/burn
        side), ``amount`` (float64 tokens). One row per (account, amount) pair of every
        successful operation, in the order applied.
        """
        cols = self._journal.columns()
        cols["kind"] = pd.Categorical.from_codes(cols["kind"], categories=list(JOURNAL_KINDS))
        return pd.DataFrame(cols)

    def journal_columns(self, start: int = 0) -> dict[str, np.ndarray]:
        """Journal rows ``start, start + 1, ...`` as numpy arrays (copies), without pandas.

        Keys as in :meth:`journal_frame`, but ``kind`` holds int8 codes into
        :data:`JOURNAL_KINDS`. Pass the ``journal_size`` seen at the start of an epoch to
        fetch only that epoch's rows (e.g. for the chain model); cost O(rows returned).
        """
        if isinstance(start, (bool, np.bool_)) or not isinstance(start, (int, np.integer)):
            raise LedgerError(f"journal_columns: start must be an integer row, got {start!r}")
        if not 0 <= int(start) <= len(self._journal):
            raise LedgerError(
                f"journal_columns: start must be in 0..{len(self._journal)} (journal_size), "
                f"got {int(start)}"
            )
        return self._journal.columns(int(start))

    # ------------------------------------------------------------------ accounts

    def open_accounts(self, n: int) -> np.ndarray:
        """Open ``n`` new empty accounts and return their ids (int64, contiguous).

        The column capacity doubles as often as needed; earlier views from the column
        properties stop tracking the ledger after a growth.
        """
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
            raise LedgerError(f"open_accounts: n must be an integer >= 0, got {n!r}")
        n = int(n)
        if n < 0:
            raise LedgerError(f"open_accounts: n must be an integer >= 0, got {n}")
        start, need = self._n, self._n + n
        cap = self.capacity
        if need > cap:
            while cap < need:
                cap *= 2
            grown = []
            for col in self._cols:
                new = np.zeros(cap, dtype=np.float64)
                new[:start] = col[:start]
                grown.append(new)
            self._cols = grown
        self._n = need
        return np.arange(start, need, dtype=np.int64)

    # ------------------------------------------------------------------ validation

    def _id(self, op: str, account: object, role: str = "account") -> int:
        if isinstance(account, (bool, np.bool_)) or not isinstance(account, (int, np.integer)):
            raise LedgerError(
                f"{op}: {role} id must be an integer account id, got {account!r}; "
                "pass an id returned by open_accounts()"
            )
        a = int(account)
        if not 0 <= a < self._n:
            raise LedgerError(
                f"{op}: unknown {role} id {a} (open accounts are 0..{self._n - 1}); "
                "open it with open_accounts() first"
            )
        return a

    @staticmethod
    def _amt(op: str, amount: object, account: int) -> float:
        if type(amount) is float:
            a = amount
        elif isinstance(amount, (bool, np.bool_)) or not isinstance(
            amount, (int, float, np.integer, np.floating)
        ):
            raise LedgerError(
                f"{op}: amount for account {account} must be a number of tokens, got {amount!r}"
            )
        else:
            try:
                a = float(amount)
            except OverflowError:
                a = math.inf
        if not (a >= 0.0 and a < math.inf):  # also rejects NaN
            raise LedgerError(
                f"{op}: amount for account {account} must be a finite number >= 0 tokens, got {a!r}"
            )
        return a + 0.0  # normalise -0.0

    @staticmethod
    def _id_array(op: str, name: str, values: object) -> np.ndarray:
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise LedgerError(
                f"{op}: {name} must be a 1-D array of account ids, got shape {arr.shape}"
            )
        if arr.dtype.kind not in "iu":
            if arr.size:
                raise LedgerError(
                    f"{op}: {name} must hold integer account ids, got dtype {arr.dtype} "
                    f"(first values {_fmt_list(arr)})"
                )
        return arr.astype(np.int64, copy=False)

    @staticmethod
    def _amount_array(op: str, values: object) -> np.ndarray:
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise LedgerError(f"{op}: amounts must be a 1-D array of tokens, got shape {arr.shape}")
        if arr.dtype.kind not in "iuf" and arr.size:
            raise LedgerError(
                f"{op}: amounts must be real numbers of tokens, got dtype {arr.dtype} "
                f"(first values {_fmt_list(arr)})"
            )
        return arr.astype(np.float64, copy=False)

    def _check_ids(self, op: str, name: str, ids: np.ndarray) -> None:
        if ids.size and (ids.min() < 0 or ids.max() >= self._n):
            bad = np.unique(ids[(ids < 0) | (ids >= self._n)])
            raise LedgerError(
                f"{op}: unknown {name} id(s) {_fmt_list(bad)} (open accounts are "
                f"0..{self._n - 1}); open them with open_accounts() first"
            )

    @staticmethod
    def _check_amounts(op: str, amounts: np.ndarray, accounts: np.ndarray) -> None:
        if amounts.size and not (np.isfinite(amounts).all() and amounts.min() >= 0.0):
            rows = np.flatnonzero(~(np.isfinite(amounts) & (amounts >= 0.0)))
            listed = [
                f"row {r}: account {accounts[r].item()} amount {amounts[r].item()!r}"
                for r in rows[:_MAX_LISTED].tolist()
            ]
            raise LedgerError(
                f"{op}: amounts must be finite numbers >= 0 tokens; bad rows: "
                f"{_fmt_list(listed, len(rows))}"
            )

    def _check_identity(
        self, op: str, totals: Sequence[float], minted: float, burned: float, where: str
    ) -> None:
        """Refuse a would-be state whose Σ columns differs from minted − burned."""
        held = totals[0] + totals[1] + totals[2] + totals[3]
        supply = minted - burned
        if not (math.isfinite(held) and math.isfinite(minted) and math.isfinite(burned)):
            raise LedgerError(
                f"{op}: {where}: the token totals would overflow float64 "
                f"(minted {minted!r}, burned {burned!r}, held {held!r}); use smaller amounts"
            )
        tol = self._rtol * max(minted, 1.0)
        if not abs(held - supply) <= tol:
            raise LedgerError(
                f"{op}: {where}: the supply invariant would break: columns would hold "
                f"{held!r} tokens but minted - burned = {supply!r} (difference "
                f"{held - supply!r} > tolerance {tol!r}); floating-point cancellation from "
                "amounts far larger than the balances involved - split the batch or use "
                "smaller amounts"
            )

    # ------------------------------------------------------------------ core appliers

    def _apply_one(
        self,
        op: str,
        kind: int,
        amount: float,
        debit: tuple[int, int] | None,
        credit: tuple[int, int] | None,
        j_src: int,
        j_dst: int,
    ) -> None:
        """Validate and apply one movement of ``amount`` tokens.

        ``debit``/``credit`` are ``(account, column)`` or None (None debit = mint,
        None credit = burn). Everything is checked before the first write.
        """
        cols = self._cols
        tot = self._tot
        new_tot = tot.copy()
        minted, burned = self._minted, self._burned
        writes: list[tuple[int, int, float]] = []
        if debit is not None and credit is not None and debit == credit:
            # same cell (a self-transfer): nets to zero, as in a batch
            acct, c = debit
            old = cols[c].item(acct)
            new = (old + amount) - amount
            if not math.isfinite(new):
                raise LedgerError(
                    f"{op}: {_COLUMN_NAMES[c]} of account {acct} ({old!r} tokens) would "
                    f"overflow with amount {amount!r}; use a smaller amount"
                )
            new_tot[c] += new - old
            writes.append((c, acct, new))
        else:
            if debit is not None:
                acct, c = debit
                old = cols[c].item(acct)
                if amount > old:
                    raise LedgerError(
                        f"{op}: account {acct} has {old!r} tokens {_COLUMN_NAMES[c]}, cannot "
                        f"take {amount!r}; reduce the amount or fund the account first"
                    )
                new = old - amount
                new_tot[c] += new - old
                writes.append((c, acct, new))
            else:
                minted = minted + amount
            if credit is not None:
                acct, c = credit
                old = cols[c].item(acct)
                new = old + amount
                if new == math.inf:
                    raise LedgerError(
                        f"{op}: {_COLUMN_NAMES[c]} of account {acct} ({old!r} tokens) would "
                        f"overflow with amount {amount!r}; use a smaller amount"
                    )
                new_tot[c] += new - old
                writes.append((c, acct, new))
            else:
                burned = burned + amount
        self._check_identity(op, new_tot, minted, burned, f"account(s) {j_src}->{j_dst}")
        # ---- commit (nothing below can fail)
        for c, acct, new in writes:
            cols[c][acct] = new
            self._writes[c] += 1
        self._tot = new_tot
        self._minted, self._burned = minted, burned
        if self.journal_enabled:
            self._journal.append_one(int(self.epoch), kind, j_src, j_dst, amount)

    def _net(self, pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[slice | np.ndarray, list]:
        """Sum each (ids, weights) pair per account, over the accounts the batch touches.

        Returns ``(sel, sums)`` where ``sel`` indexes the touched accounts (a slice over all
        accounts when the batch is large relative to ``n_accounts``, else the sorted unique
        ids, so the cost is O(batch) either way) and ``sums[k]`` is aligned with ``sel``.
        Weights are added in row order, so results do not depend on the path taken.
        """
        ids0 = pairs[0][0]
        if all(ids is ids0 for ids, _ in pairs):  # one set of accounts (a column move)
            distinct = _distinct_sel(ids0)
            if distinct is not None:  # each account once: its sum is its weight
                return distinct, [w for _, w in pairs]
        rows = sum(len(ids) for ids, _ in pairs)
        if rows * 8 >= self._n:
            sel: slice | np.ndarray = slice(0, self._n)
            sums = [np.bincount(ids, weights=w, minlength=self._n) for ids, w in pairs]
        else:
            touched, inverse = np.unique(
                np.concatenate([ids for ids, _ in pairs]), return_inverse=True
            )
            sums, off = [], 0
            for ids, w in pairs:
                k = len(ids)
                sums.append(np.bincount(inverse[off : off + k], weights=w, minlength=len(touched)))
                off += k
            sel = touched
        return sel, sums

    @staticmethod
    def _ids_of(sel: slice | np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask) + (sel.start or 0) if isinstance(sel, slice) else sel[mask]

    def _apply_many(
        self,
        op: str,
        kind: int,
        amounts: np.ndarray,
        debit: tuple[np.ndarray, int] | None,
        credit: tuple[np.ndarray, int] | None,
        j_src: np.ndarray | int,
        j_dst: np.ndarray | int,
    ) -> None:
        """Validate and apply a batch: row i moves ``amounts[i]`` from ``debit[0][i]``'s
        column ``debit[1]`` to ``credit[0][i]``'s column ``credit[1]`` (None = mint/burn),
        all rows simultaneously. Ids and amounts are already validated."""
        if len(amounts) == 0:
            return
        pairs = [(d[0], amounts) for d in (debit, credit) if d is not None]
        sel, sums = self._net(pairs)
        out = sums[0] if debit is not None else None
        inc = sums[-1] if credit is not None else None
        cols = self._cols
        new_tot = self._tot.copy()
        minted, burned = self._minted, self._burned
        writes: list[tuple[int, np.ndarray]] = []
        with np.errstate(over="ignore", invalid="ignore"):
            if debit is not None and credit is not None and debit[1] == credit[1]:
                c = debit[1]
                old = cols[c][sel]
                inflow = old + inc
                short = ~(inflow >= out)
                if short.any():
                    bad = self._ids_of(sel, short)
                    listed = [
                        f"account {a}: {_COLUMN_NAMES[c]} {o!r} + incoming {i!r} < outgoing {d!r}"
                        for a, o, i, d in zip(
                            bad[:_MAX_LISTED].tolist(),
                            old[short][:_MAX_LISTED].tolist(),
                            inc[short][:_MAX_LISTED].tolist(),
                            out[short][:_MAX_LISTED].tolist(),
                            strict=True,
                        )
                    ]
                    raise LedgerError(
                        f"{op}: {len(bad)} account(s) would be overdrawn (all rows apply "
                        f"simultaneously; nothing was applied): {_fmt_list(listed, len(bad))}; "
                        "reduce the amounts or fund these accounts first"
                    )
                new = inflow - out
                self._check_finite(op, c, sel, new)
                new_tot[c] += float(np.sum(new - old))
                writes.append((c, new))
            else:
                if debit is not None:
                    c = debit[1]
                    old = cols[c][sel]
                    short = ~(old >= out)
                    if short.any():
                        bad = self._ids_of(sel, short)
                        listed = [
                            f"account {a}: {_COLUMN_NAMES[c]} {o!r} < requested {d!r}"
                            for a, o, d in zip(
                                bad[:_MAX_LISTED].tolist(),
                                old[short][:_MAX_LISTED].tolist(),
                                out[short][:_MAX_LISTED].tolist(),
                                strict=True,
                            )
                        ]
                        raise LedgerError(
                            f"{op}: {len(bad)} account(s) would be overdrawn (rows of the same "
                            f"account add up; nothing was applied): "
                            f"{_fmt_list(listed, len(bad))}; reduce the amounts or fund these "
                            "accounts first"
                        )
                    new = old - out
                    new_tot[c] += float(np.sum(new - old))
                    writes.append((c, new))
                else:
                    minted = minted + float(np.sum(amounts))
                if credit is not None:
                    c = credit[1]
                    old = cols[c][sel]
                    new = old + inc
                    self._check_finite(op, c, sel, new)
                    new_tot[c] += float(np.sum(new - old))
                    writes.append((c, new))
                else:
                    burned = burned + float(np.sum(amounts))
        self._check_identity(op, new_tot, minted, burned, f"batch of {len(amounts)} row(s)")
        # ---- commit (nothing below can fail, short of running out of memory)
        if self.journal_enabled:
            self._journal.append_many(int(self.epoch), kind, j_src, j_dst, amounts)
        for c, new in writes:
            cols[c][sel] = new
            self._writes[c] += 1
        self._tot = new_tot
        self._minted, self._burned = minted, burned

    def _transfer_star(
        self, op: str, src: np.ndarray, dst: np.ndarray, amounts: np.ndarray
    ) -> bool:
        """Fast path of :meth:`transfer_many` between one account and many distinct others
        (a pool paying its recipients, sellers paying the outside market): no per-account
        netting, and the validation folded into the passes the transfer makes anyway.
        Applies the batch and returns True, or returns False having changed nothing (the
        batch is not of that shape, or it is invalid: the general path then words the
        error). The result is bit for bit the general path's: the one account's total is
        the row-order sum of the amounts (``cumsum``, as ``bincount`` adds them), every
        other account moves by its own amount, and the same conditions hold (known
        accounts, amounts finite and >= 0, no overdraft, finite balances, the supply
        identity)."""
        n = amounts.size
        if n == 0 or not (src[0] == src[-1] or dst[0] == dst[-1]):
            return False
        one_pays = bool((src == src[0]).all())
        if not one_pays and not bool((dst == dst[0]).all()):
            return False
        one, many = (int(src[0]), dst) if one_pays else (int(dst[0]), src)
        sel = _distinct_sel(many)
        if (
            sel is None
            or _selects(sel, one)
            or not 0 <= one < self._n
            or not (many[0] >= 0 and many[-1] < self._n)
            or not amounts.min() >= 0.0  # NaN fails too; inf is caught below
        ):
            return False
        col = self._cols[_BAL]
        total = float(np.cumsum(amounts)[-1])
        old, old_one = col[sel], col.item(one)
        with np.errstate(over="ignore", invalid="ignore"):
            if one_pays:
                if not old_one >= total:
                    return False
                new, new_one = old + amounts, old_one - total
            else:
                if (old < amounts).any() or math.isinf(total):
                    return False
                new, new_one = old - amounts, old_one + total
            delta = float(np.sum(new - old)) + (new_one - old_one)
        if not (math.isfinite(delta) and math.isfinite(new_one)):
            return False
        new_tot = self._tot.copy()
        new_tot[_BAL] += delta
        self._check_identity(op, new_tot, self._minted, self._burned, f"batch of {n} row(s)")
        if self.journal_enabled:
            self._journal.append_many(int(self.epoch), _KIND["transfer"], src, dst, amounts)
        col[sel] = new
        col[one] = new_one
        self._writes[_BAL] += 1
        self._tot = new_tot
        return True

    def _check_finite(self, op: str, c: int, sel: slice | np.ndarray, new: np.ndarray) -> None:
        if not np.isfinite(new).all():
            bad = self._ids_of(sel, ~np.isfinite(new))
            raise LedgerError(
                f"{op}: {_COLUMN_NAMES[c]} of account(s) {_fmt_list(bad)} would overflow "
                "float64; use smaller amounts"
            )

    def _batch(self, op: str, accounts: object, amounts: object) -> tuple[np.ndarray, np.ndarray]:
        """Convert and validate (accounts, amounts) of a one-account-per-row batch."""
        ids = self._id_array(op, "accounts", accounts)
        amt = self._amount_array(op, amounts)
        if ids.shape != amt.shape:
            raise LedgerError(
                f"{op}: accounts and amounts must have equal lengths, got shapes "
                f"{ids.shape} and {amt.shape}"
            )
        self._check_ids(op, "account", ids)
        self._check_amounts(op, amt, ids)
        return ids, amt

    def _move_many(
        self,
        op: str,
        kind: str,
        accounts: object,
        amounts: object,
        from_col: int | None,
        to_col: int | None,
    ) -> None:
        ids, amt = self._batch(op, accounts, amounts)
        self._apply_many(
            op,
            _KIND[kind],
            amt,
            None if from_col is None else (ids, from_col),
            None if to_col is None else (ids, to_col),
            NO_ACCOUNT if from_col is None else ids,
            NO_ACCOUNT if to_col is None else ids,
        )

    # ------------------------------------------------------------------ mint / burn / transfer

    def mint(self, account: int, amount: float) -> None:
        """Create ``amount`` tokens in ``account``'s balance (``minted`` grows)."""
        a = self._id("mint", account)
        amt = self._amt("mint", amount, a)
        self._apply_one("mint", _KIND["mint"], amt, None, (a, _BAL), NO_ACCOUNT, a)

    def mint_many(self, accounts: IdsLike, amounts: AmountsLike) -> None:
        """Vectorised :meth:`mint`: row i mints ``amounts[i]`` tokens to ``accounts[i]``;
        repeated accounts receive the sum of their rows."""
        self._move_many("mint_many", "mint", accounts, amounts, None, _BAL)

    def mint_locked(self, account: int, amount: float) -> None:
        """Create ``amount`` tokens directly in ``account``'s locked column (genesis vesting
        allocations; release them with :meth:`unlock`)."""
        a = self._id("mint_locked", account)
        amt = self._amt("mint_locked", amount, a)
        self._apply_one("mint_locked", _KIND["mint_locked"], amt, None, (a, _LCK), NO_ACCOUNT, a)

    def mint_locked_many(self, accounts: IdsLike, amounts: AmountsLike) -> None:
        """Vectorised :meth:`mint_locked` (repeated accounts receive the sum of their rows)."""
        self._move_many("mint_locked_many", "mint_locked", accounts, amounts, None, _LCK)

    def burn(self, account: int, amount: float) -> None:
        """Destroy ``amount`` tokens from ``account``'s balance (``burned`` grows)."""
        a = self._id("burn", account)
        amt = self._amt("burn", amount, a)
        self._apply_one("burn", _KIND["burn"], amt, (a, _BAL), None, a, NO_ACCOUNT)

    def burn_many(self, accounts: IdsLike, amounts: AmountsLike) -> None:
        """Vectorised :meth:`burn`; an account's rows add up and must not exceed its balance."""
        self._move_many("burn_many", "burn", accounts, amounts, _BAL, None)

    def transfer(self, src: int, dst: int, amount: float) -> None:
        """Move ``amount`` tokens from ``src``'s balance to ``dst``'s balance.

        ``src == dst`` is a valid no-op movement (journaled), exactly as in a batch.
        """
        s = self._id("transfer", src, "src")
        d = self._id("transfer", dst, "dst")
        amt = self._amt("transfer", amount, s)
        self._apply_one("transfer", _KIND["transfer"], amt, (s, _BAL), (d, _BAL), s, d)

    def transfer_many(
        self,
        src: IdsLike,
        dst: IdsLike,
        amounts: AmountsLike,
    ) -> None:
        """Apply many balance transfers at once, all-or-nothing (row i: ``src[i]`` pays
        ``amounts[i]`` tokens to ``dst[i]``).

        All debits and credits apply simultaneously: for each account,
        ``balance + Σ incoming − Σ outgoing`` must be ``>= 0``, so row order never matters
        (``a→b`` and ``b→a`` of the same amount pass on empty accounts; so does a chain
        ``a→b→c``). One journal row per transfer row.
        """
        op = "transfer_many"
        s = self._id_array(op, "src", src)
        d = self._id_array(op, "dst", dst)
        amt = self._amount_array(op, amounts)
        if not s.shape == d.shape == amt.shape:
            raise LedgerError(
                f"{op}: src, dst and amounts must have equal lengths, got shapes "
                f"{s.shape}, {d.shape} and {amt.shape}"
            )
        if self._transfer_star(op, s, d, amt):
            return
        self._check_ids(op, "src", s)
        self._check_ids(op, "dst", d)
        self._check_amounts(op, amt, s)
        self._apply_many(op, _KIND["transfer"], amt, (s, _BAL), (d, _BAL), s, d)

    # ------------------------------------------------------------------ column moves

    def _move_one(self, op: str, account: int, amount: float, frm: int, to: int) -> None:
        a = self._id(op, account)
        amt = self._amt(op, amount, a)
        self._apply_one(op, _KIND[op], amt, (a, frm), (a, to), a, a)

    def stake(self, account: int, amount: float) -> None:
        """Move ``amount`` tokens from ``account``'s balance to its stake."""
        self._move_one("stake", account, amount, _BAL, _STK)

    def unstake(self, account: int, amount: float) -> None:
        """Move ``amount`` tokens from ``account``'s stake back to its balance."""
        self._move_one("unstake", account, amount, _STK, _BAL)

    def stake_many(self, accounts: IdsLike, amounts: AmountsLike) -> None:
        """Vectorised :meth:`stake` (an account's rows add up)."""
        self._move_many("stake_many", "stake", accounts, amounts, _BAL, _STK)

    def unstake_many(self, accounts: IdsLike, amounts: AmountsLike) -> None:
        """Vectorised :meth:`unstake` (an account's rows add up)."""
        self._move_many("unstake_many", "unstake", accounts, amounts, _STK, _BAL)

    def lock(self, account: int, amount: float) -> None:
        """Move ``amount`` tokens from ``account``'s balance into its locked (vesting) column."""
        self._move_one("lock", account, amount, _BAL, _LCK)

    def unlock(self, account: int, amount: float) -> None:
        """Release ``amount`` vested tokens from ``account``'s locked column to its balance."""
        self._move_one("unlock", account, amount, _LCK, _BAL)

    def lock_many(self, accounts: IdsLike, amounts: AmountsLike) -> None:
        """Vectorised :meth:`lock` (an account's rows add up)."""
        self._move_many("lock_many", "lock", accounts, amounts, _BAL, _LCK)

    def unlock_many(self, accounts: IdsLike, amounts: AmountsLike) -> None:
        """Vectorised :meth:`unlock` (an account's rows add up)."""
        self._move_many("unlock_many", "unlock", accounts, amounts, _LCK, _BAL)

    def bond(self, account: int, amount: float) -> None:
        """Move ``amount`` tokens from ``account``'s balance into a submission bond."""
        self._move_one("bond", account, amount, _BAL, _BND)

    def release_bond(self, account: int, amount: float) -> None:
        """Return ``amount`` bonded tokens of ``account`` to its balance."""
        self._move_one("release_bond", account, amount, _BND, _BAL)

    def bond_many(self, accounts: IdsLike, amounts: AmountsLike) -> None:
        """Vectorised :meth:`bond` (an account's rows add up)."""
        self._move_many("bond_many", "bond", accounts, amounts, _BAL, _BND)

    def release_bond_many(self, accounts: IdsLike, amounts: AmountsLike) -> None:
        """Vectorised :meth:`release_bond` (an account's rows add up)."""
        self._move_many("release_bond_many", "release_bond", accounts, amounts, _BND, _BAL)

    # ------------------------------------------------------------------ slashing

    @staticmethod
    def _slash_source(op: str, source: object) -> int:
        if not isinstance(source, str) or source not in _SLASH_SOURCES:
            raise LedgerError(
                f"{op}: source must be one of {sorted(_SLASH_SOURCES)}, got {source!r}"
            )
        return _SLASH_SOURCES[source]

    def slash(
        self, account: int, amount: float, *, source: str = "bonded", to: int | None = None
    ) -> None:
        """Take ``amount`` tokens from ``account``'s ``source`` column (``"bonded"`` or
        ``"staked"``); burn them when ``to`` is None, else credit ``to``'s balance."""
        op = "slash"
        c = self._slash_source(op, source)
        a = self._id(op, account)
        t = None if to is None else self._id(op, to, "to")
        amt = self._amt(op, amount, a)
        kind = _KIND["slash_bonded" if c == _BND else "slash_staked"]
        credit = None if t is None else (t, _BAL)
        self._apply_one(op, kind, amt, (a, c), credit, a, NO_ACCOUNT if t is None else t)

    def slash_many(
        self,
        accounts: IdsLike,
        amounts: AmountsLike,
        *,
        source: str = "bonded",
        to: int | None = None,
    ) -> None:
        """Vectorised :meth:`slash`: row i takes ``amounts[i]`` tokens from ``accounts[i]``'s
        ``source`` column (an account's rows add up); all burned, or all credited to ``to``'s
        balance. One journal row per row."""
        op = "slash_many"
        c = self._slash_source(op, source)
        t = None if to is None else self._id(op, to, "to")
        ids, amt = self._batch(op, accounts, amounts)
        kind = _KIND["slash_bonded" if c == _BND else "slash_staked"]
        credit = None if t is None else (np.full(len(ids), t, dtype=np.int64), _BAL)
        self._apply_many(op, kind, amt, (ids, c), credit, ids, NO_ACCOUNT if t is None else t)

    # ------------------------------------------------------------------ full check

    def check_invariants(self) -> None:
        """Full O(N) audit; raises :class:`LedgerError` on the first violation.

        Checks: every entry finite and ``>= 0``; each column's recomputed sum matches its
        running total; Σ of all columns (``np.sum`` per column, ``math.fsum`` across) equals
        ``minted − burned`` within ``rtol · max(minted, 1 token)``; minted/burned finite, >= 0.
        """
        op = "check_invariants"
        if not (math.isfinite(self._minted) and math.isfinite(self._burned)):
            raise LedgerError(f"{op}: minted {self._minted!r} / burned {self._burned!r} not finite")
        if self._minted < 0 or self._burned < 0:
            raise LedgerError(f"{op}: minted {self._minted!r} / burned {self._burned!r} negative")
        tol = self._rtol * max(self._minted, 1.0)
        sums = []
        for c, name in enumerate(_COLUMN_NAMES):
            col = self._cols[c][: self._n]
            finite = np.isfinite(col)
            if not finite.all():
                bad = np.flatnonzero(~finite)
                raise LedgerError(f"{op}: {name} not finite for account(s) {_fmt_list(bad)}")
            if col.size and col.min() < 0.0:
                bad = np.flatnonzero(col < 0.0)
                raise LedgerError(
                    f"{op}: {name} negative for account(s) {_fmt_list(bad)}: {_fmt_list(col[bad])}"
                )
            s = float(np.sum(col))
            if not abs(s - self._tot[c]) <= tol:
                raise LedgerError(
                    f"{op}: {name} sums to {s!r} tokens but its running total is "
                    f"{self._tot[c]!r} (tolerance {tol!r})"
                )
            sums.append(s)
        held = math.fsum(sums)
        supply = self._minted - self._burned
        if not abs(held - supply) <= tol:
            raise LedgerError(
                f"{op}: accounts hold {held!r} tokens but minted - burned = {supply!r} "
                f"(difference {held - supply!r} > tolerance {tol!r})"
            )
