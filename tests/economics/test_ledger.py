"""Tests for economics.ledger: invariants, atomicity, batch netting, journal, capacity.

A plain-Python reference ledger (dicts, a loop over rows: test code, not product) predicts
the outcome of every operation; hypothesis drives random operation sequences through both,
checking the invariant after every step, exact agreement of the columns, the journal, and
that every refused operation leaves the ledger bit-identical.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledgerlab.economics.ledger import JOURNAL_KINDS, NO_ACCOUNT, Ledger, LedgerError

COLS = ("balance", "staked", "locked", "bonded")

# single op name -> (debited column or None = mint, credited column or None = burn)
MOVES: dict[str, tuple[str | None, str | None]] = {
    "mint": (None, "balance"),
    "burn": ("balance", None),
    "stake": ("balance", "staked"),
    "unstake": ("staked", "balance"),
    "lock": ("balance", "locked"),
    "unlock": ("locked", "balance"),
    "mint_locked": (None, "locked"),
    "bond": ("balance", "bonded"),
    "release_bond": ("bonded", "balance"),
}
DEBITING = [name for name, (frm, _) in MOVES.items() if frm is not None]


# ---------------------------------------------------------------------------- helpers


def state_key(ledger: Ledger) -> tuple:
    """Everything observable about a ledger, bit-exact (float.hex keeps -0.0 and ulps)."""
    snap = ledger.snapshot()
    journal = ledger.journal_columns()
    return (
        ledger.n_accounts,
        ledger.capacity,
        tuple(snap[c].tobytes() for c in COLS),
        tuple(v.hex() for v in ledger.totals.values()),
        ledger.minted.hex(),
        ledger.burned.hex(),
        ledger.journal_size,
        *(journal[k].tobytes() for k in ("epoch", "kind", "src", "dst", "amount")),
    )


def funded(n: int = 3, **kwargs) -> Ledger:
    """n accounts, each with balance 10, staked 5, locked 5, bonded 5 tokens."""
    ledger = Ledger(**kwargs)
    ids = ledger.open_accounts(n)
    ledger.mint_many(ids, np.full(n, 25.0))
    ledger.stake_many(ids, np.full(n, 5.0))
    ledger.lock_many(ids, np.full(n, 5.0))
    ledger.bond_many(ids, np.full(n, 5.0))
    return ledger


def assert_refused(ledger: Ledger, fn, op: str, *fragments: str) -> str:
    """fn(ledger) must raise LedgerError naming op (and fragments) and change nothing."""
    before = state_key(ledger)
    with pytest.raises(LedgerError) as info:
        fn(ledger)
    msg = str(info.value)
    assert msg.startswith(f"{op}:"), msg
    for frag in fragments:
        assert frag in msg, (frag, msg)
    assert state_key(ledger) == before
    ledger.check_invariants()
    return msg


class RefLedger:
    """Plain-Python model of the ledger's documented semantics (simultaneous batches)."""

    def __init__(self) -> None:
        self.cols: dict[str, list[float]] = {c: [] for c in COLS}
        self.minted = 0.0
        self.burned = 0.0
        self.journal: list[tuple[int, str, int, int, float]] = []

    @property
    def n(self) -> int:
        return len(self.cols["balance"])

    def open(self, k: int) -> None:
        for c in COLS:
            self.cols[c].extend([0.0] * k)

    def valid_id(self, a: object) -> bool:
        return isinstance(a, int) and 0 <= a < self.n

    @staticmethod
    def valid_amount(x: float) -> bool:
        return math.isfinite(x) and x >= 0

    def apply(self, kind: str, rows: list, *, batch: bool, epoch: int, journal: bool) -> bool:
        """rows: (debit cell | None, credit cell | None, amount, jsrc, jdst); a cell is
        (column, account). Returns False (and changes nothing) when an account would be
        overdrawn."""
        debits: dict[tuple[str, int], float] = {}
        credits: dict[tuple[str, int], float] = {}
        for d, c, x, _, _ in rows:
            if d is not None:
                debits[d] = debits.get(d, 0.0) + x
            if c is not None:
                credits[c] = credits.get(c, 0.0) + x
        new = {}
        for cell in set(debits) | set(credits):
            col, acct = cell
            old = self.cols[col][acct]
            inflow = old + credits[cell] if cell in credits else old
            out = debits.get(cell, 0.0)
            if not inflow >= out:
                return False
            new[cell] = inflow - out if cell in debits else inflow
        for (col, acct), v in new.items():
            self.cols[col][acct] = v
        amounts = [x for _, _, x, _, _ in rows]
        total = float(np.sum(np.array(amounts, dtype=np.float64))) if batch else amounts[0]
        if rows and rows[0][0] is None:
            self.minted += total
        if rows and rows[0][1] is None:
            self.burned += total
        if journal:
            self.journal.extend((epoch, kind, s, t, x) for _, _, x, s, t in rows)
        return True


def cells_for(op: str, acct: int) -> tuple:
    frm, to = MOVES[op]
    return (
        None if frm is None else (frm, acct),
        None if to is None else (to, acct),
        NO_ACCOUNT if frm is None else acct,
        NO_ACCOUNT if to is None else acct,
    )


# ---------------------------------------------------------------------------- state machine

bad_amounts = st.sampled_from([math.nan, math.inf, -math.inf, -1.0, -1e-300])
fractions = st.floats(min_value=0.0, max_value=1.3, allow_nan=False)


class LedgerMachine(RuleBasedStateMachine):
    """Random operation sequences on the ledger and the reference, compared every step."""

    @initialize(
        capacity=st.integers(1, 4),
        chunk=st.integers(1, 5),
        funds=st.lists(st.integers(0, 1000).map(lambda k: k / 8), min_size=0, max_size=5),
    )
    def setup(self, capacity: int, chunk: int, funds: list[float]) -> None:
        """Open one account per entry of ``funds``; mint it and put shares in every column."""
        self.ledger = Ledger(capacity=capacity, journal_chunk_rows=chunk)
        self.ref = RefLedger()
        n0 = len(funds)
        ids = self.ledger.open_accounts(n0)
        self.ref.open(n0)
        steps = [
            ("mint", funds),
            *((op, [x / 4 for x in funds]) for op in ("stake", "lock", "bond")),
        ]
        for op, amounts in steps:
            getattr(self.ledger, f"{op}_many")(ids, amounts)
            rows = []
            for a, x in zip(ids.tolist(), amounts, strict=True):
                debit, credit, js, jd = cells_for(op, a)
                rows.append((debit, credit, x, js, jd))
            assert self.ref.apply(op, rows, batch=True, epoch=0, journal=True)

    def _acct(self, data, bad_one_in: int = 10) -> int:
        """Mostly an open account id; one time in ``bad_one_in`` an unknown one."""
        n = self.ref.n
        # hypothesis favours the low end of a range, so the common case is the low end
        if n and data.draw(st.integers(1, bad_one_in)) < bad_one_in:
            return data.draw(st.integers(0, n - 1))
        return data.draw(st.sampled_from([-2, -1, n, n + 3]))

    def _amount(self, data, cell: tuple[str, int] | None, bad_one_in: int = 10) -> float:
        """One time in ``bad_one_in`` a bad amount; else mostly a fraction (0..1.3) of the
        debited cell (an overdraft above 1), or a fixed amount."""
        if data.draw(st.integers(1, bad_one_in)) == bad_one_in:
            return data.draw(bad_amounts)
        if cell is not None and 0 <= cell[1] < self.ref.n and data.draw(st.integers(0, 3)) < 3:
            return data.draw(fractions) * self.ref.cols[cell[0]][cell[1]]
        return data.draw(st.sampled_from([0.0, 1.0, 0.1, 3.5, 1e3, 12345.678]))

    def _run(self, fn, kind: str, rows: list, *, batch: bool, expect_valid: bool) -> None:
        before = state_key(self.ledger)
        try:
            fn()
        except LedgerError as err:
            assert str(err).split(":")[0]  # names the operation
            assert state_key(self.ledger) == before
            if expect_valid:  # only an overdraft may refuse valid inputs
                probe = RefLedger()
                probe.cols = {c: list(v) for c, v in self.ref.cols.items()}
                assert not probe.apply(kind, rows, batch=batch, epoch=0, journal=False), err
            return
        assert expect_valid, "invalid input accepted"
        ok = self.ref.apply(
            kind,
            rows,
            batch=batch,
            epoch=self.ledger.epoch,
            journal=self.ledger.journal_enabled,
        )
        assert ok, "ledger accepted an overdraft"

    @rule(k=st.integers(0, 3))
    def open_accounts(self, k: int) -> None:
        ids = self.ledger.open_accounts(k)
        assert ids.dtype == np.int64
        assert ids.tolist() == list(range(self.ref.n, self.ref.n + k))
        self.ref.open(k)

    @rule(epoch=st.integers(0, 50))
    def set_epoch(self, epoch: int) -> None:
        self.ledger.epoch = epoch

    @rule()
    def toggle_journal(self) -> None:
        self.ledger.journal_enabled = not self.ledger.journal_enabled

    @rule(op=st.sampled_from(sorted(MOVES)), data=st.data())
    def single(self, op: str, data) -> None:
        acct = self._acct(data)
        debit, credit, js, jd = cells_for(op, acct)
        x = self._amount(data, debit)
        valid = self.ref.valid_id(acct) and self.ref.valid_amount(x)
        rows = [(debit, credit, x + 0.0, js, jd)]
        self._run(
            lambda: getattr(self.ledger, op)(acct, x), op, rows, batch=False, expect_valid=valid
        )

    @rule(data=st.data())
    def transfer(self, data) -> None:
        src, dst = self._acct(data), self._acct(data)
        x = self._amount(data, ("balance", src))
        valid = self.ref.valid_id(src) and self.ref.valid_id(dst) and self.ref.valid_amount(x)
        rows = [(("balance", src), ("balance", dst), x + 0.0, src, dst)]
        self._run(
            lambda: self.ledger.transfer(src, dst, x),
            "transfer",
            rows,
            batch=False,
            expect_valid=valid,
        )

    @rule(source=st.sampled_from(["bonded", "staked"]), data=st.data())
    def slash(self, source: str, data) -> None:
        acct = self._acct(data)
        to = None if data.draw(st.booleans()) else self._acct(data)
        x = self._amount(data, (source, acct))
        valid = (
            self.ref.valid_id(acct)
            and (to is None or self.ref.valid_id(to))
            and self.ref.valid_amount(x)
        )
        credit = None if to is None else ("balance", to)
        rows = [((source, acct), credit, x + 0.0, acct, NO_ACCOUNT if to is None else to)]
        self._run(
            lambda: self.ledger.slash(acct, x, source=source, to=to),
            f"slash_{source}",
            rows,
            batch=False,
            expect_valid=valid,
        )

    @precondition(lambda self: self.ref.n > 0)
    @rule(op=st.sampled_from(sorted(MOVES)), data=st.data())
    def many(self, op: str, data) -> None:
        m = data.draw(st.integers(0, 6))
        accts = [self._acct(data, 30) for _ in range(m)]
        rows, amounts = [], []
        for a in accts:
            debit, credit, js, jd = cells_for(op, a)
            # shares of the cell: duplicated accounts may overdraw
            x = self._amount(data, debit, 30) / max(1, m // 2)
            amounts.append(x)
            rows.append((debit, credit, x, js, jd))
        valid = all(self.ref.valid_id(a) for a in accts) and all(
            self.ref.valid_amount(x) for x in amounts
        )
        self._run(
            lambda: getattr(self.ledger, f"{op}_many")(np.array(accts, dtype=np.int64), amounts),
            op,
            rows,
            batch=True,
            expect_valid=valid,
        )

    @precondition(lambda self: self.ref.n > 0)
    @rule(data=st.data())
    def transfer_many(self, data) -> None:
        m = data.draw(st.integers(0, 8))
        src = [self._acct(data, 40) for _ in range(m)]
        dst = [self._acct(data, 40) for _ in range(m)]
        amounts = [self._amount(data, ("balance", s), 30) for s in src]
        valid = all(self.ref.valid_id(a) for a in src + dst) and all(
            self.ref.valid_amount(x) for x in amounts
        )
        rows = [
            (("balance", s), ("balance", d), x, s, d)
            for s, d, x in zip(src, dst, amounts, strict=True)
        ]
        self._run(
            lambda: self.ledger.transfer_many(src, dst, np.array(amounts)),
            "transfer",
            rows,
            batch=True,
            expect_valid=valid,
        )

    @precondition(lambda self: self.ref.n > 0)
    @rule(source=st.sampled_from(["bonded", "staked"]), data=st.data())
    def slash_many(self, source: str, data) -> None:
        to = None if data.draw(st.booleans()) else self._acct(data, 30)
        m = data.draw(st.integers(0, 5))
        accts = [self._acct(data, 30) for _ in range(m)]
        amounts = [self._amount(data, (source, a), 30) / 2 for a in accts]
        valid = (
            all(self.ref.valid_id(a) for a in accts)
            and all(self.ref.valid_amount(x) for x in amounts)
            and (to is None or self.ref.valid_id(to))
        )
        credit = None if to is None else ("balance", to)
        rows = [
            ((source, a), credit, x, a, NO_ACCOUNT if to is None else to)
            for a, x in zip(accts, amounts, strict=True)
        ]
        self._run(
            lambda: self.ledger.slash_many(accts, amounts, source=source, to=to),
            f"slash_{source}",
            rows,
            batch=True,
            expect_valid=valid,
        )

    @precondition(lambda self: self.ref.n > 1)
    @rule(data=st.data())
    def cycle(self, data) -> None:
        """k distinct accounts pay the next one the same amount: nets to zero for all, so it
        must pass even where the amount exceeds a balance (simultaneous semantics)."""
        k = data.draw(st.integers(2, self.ref.n))
        accts = data.draw(st.permutations(range(self.ref.n)))[:k]
        top = max(self.ref.cols["balance"][a] for a in accts)
        x = data.draw(st.floats(0.0, 3.0)) * top
        src, dst = accts, accts[1:] + accts[:1]
        rows = [(("balance", s), ("balance", d), x, s, d) for s, d in zip(src, dst, strict=True)]
        self._run(
            lambda: self.ledger.transfer_many(src, dst, np.full(k, x)),
            "transfer",
            rows,
            batch=True,
            expect_valid=True,
        )

    @invariant()
    def agrees_with_reference(self) -> None:
        led, ref = self.ledger, self.ref
        led.check_invariants()
        assert led.n_accounts == ref.n
        assert led.capacity >= ref.n
        for c in COLS:
            col = getattr(led, c)
            assert np.array_equal(col, np.array(ref.cols[c], dtype=np.float64)), c
            assert col.min(initial=0.0) >= 0.0
        assert led.minted == ref.minted
        assert led.burned == ref.burned
        assert led.supply == ref.minted - ref.burned
        journal = led.journal_columns()
        assert len(journal["amount"]) == len(ref.journal) == led.journal_size
        if ref.journal:
            epoch, kind, src, dst, amount = zip(*ref.journal, strict=True)
            assert journal["epoch"].tolist() == list(epoch)
            assert [JOURNAL_KINDS[k] for k in journal["kind"].tolist()] == list(kind)
            assert journal["src"].tolist() == list(src)
            assert journal["dst"].tolist() == list(dst)
            assert np.array_equal(journal["amount"], np.array(amount))


LedgerMachine.TestCase.settings = settings(
    max_examples=80,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLedgerMachine = LedgerMachine.TestCase


# ---------------------------------------------------------------------------- seeded long run


def test_seeded_random_batches_keep_invariants_and_match_reference() -> None:
    """3,000 random batch operations on 40 accounts (seeded), checked after every one."""
    rng = np.random.default_rng(7)
    n = 40
    led = Ledger(capacity=8, journal_chunk_rows=97)
    ref = RefLedger()
    led.open_accounts(n)
    ref.open(n)
    ops = [*sorted(MOVES), "transfer"]
    refused = 0
    for step in range(3000):
        led.epoch = step // 100
        op = ops[rng.integers(len(ops))]
        m = int(rng.integers(1, 30))
        a = rng.integers(0, n, m)
        scale = 200.0 if op in ("mint", "mint_locked") else 8.0
        x = np.round(rng.exponential(scale, m), 3)
        if op == "transfer":
            b = rng.integers(0, n, m)
            rows = [
                (("balance", s), ("balance", d), v, s, d)
                for s, d, v in zip(a.tolist(), b.tolist(), x.tolist(), strict=True)
            ]
            call = lambda a=a, b=b, x=x: led.transfer_many(a, b, x)  # noqa: E731
        else:
            rows = []
            for s, v in zip(a.tolist(), x.tolist(), strict=True):
                debit, credit, js, jd = cells_for(op, s)
                rows.append((debit, credit, v, js, jd))
            call = lambda op=op, a=a, x=x: getattr(led, f"{op}_many")(a, x)  # noqa: E731
        before = state_key(led) if step % 10 == 0 else None
        try:
            call()
        except LedgerError:
            refused += 1
            probe = RefLedger()
            probe.cols = {c: list(v) for c, v in ref.cols.items()}
            assert not probe.apply(op, rows, batch=True, epoch=0, journal=False)
            if before is not None:
                assert state_key(led) == before
        else:
            assert ref.apply(op, rows, batch=True, epoch=led.epoch, journal=True)
        led.check_invariants()
    assert 100 < refused < 2900  # both outcomes exercised
    for c in COLS:
        assert np.array_equal(getattr(led, c), np.array(ref.cols[c]))
    frame = led.journal_frame()
    assert len(frame) == len(ref.journal)
    assert frame["amount"].tolist() == [r[4] for r in ref.journal]
    assert frame["epoch"].tolist() == [r[0] for r in ref.journal]


# ---------------------------------------------------------------------------- equivalences


@settings(max_examples=100, deadline=None)
@given(
    op=st.sampled_from([*sorted(MOVES), "transfer", "slash"]),
    acct=st.integers(0, 3),
    other=st.integers(0, 3),
    frac=st.floats(0.0, 1.0),
)
def test_single_op_equals_batch_of_one(op: str, acct: int, other: int, frac: float) -> None:
    """A single operation and the one-row batch give bit-identical columns and journal rows."""
    a, b = funded(4), funded(4)
    for led in (a, b):
        led.transfer(0, 1, 3.3)
        led.unstake(2, 1.7)
    src_col = {"transfer": "balance", "slash": "bonded"}.get(op, MOVES.get(op, (None,))[0])
    x = 7.0 if src_col is None else frac * float(getattr(a, src_col)[acct])
    if op == "transfer":
        a.transfer(acct, other, x)
        b.transfer_many([acct], [other], [x])
    elif op == "slash":
        a.slash(acct, x, to=other)
        b.slash_many([acct], [x], to=other)
    else:
        getattr(a, op)(acct, x)
        getattr(b, f"{op}_many")([acct], [x])
    for c in COLS:
        assert getattr(a, c).tobytes() == getattr(b, c).tobytes()
    assert a.minted == b.minted and a.burned == b.burned
    fa, fb = a.journal_frame(), b.journal_frame()
    pd.testing.assert_frame_equal(fa, fb)


def test_dense_and_sparse_batch_paths_agree() -> None:
    """Small batches on many accounts use np.unique; large ones a full bincount: same result."""
    rng = np.random.default_rng(3)
    dense, sparse = funded(6), funded(6)
    sparse.open_accounts(5_000)  # 20 rows * 8 < 5006 accounts -> sparse path
    src, dst = rng.integers(0, 6, 20), rng.integers(0, 6, 20)
    x = rng.uniform(0, 1.5, 20)
    dense.transfer_many(src, dst, x)
    sparse.transfer_many(src, dst, x)
    assert dense.balance.tobytes() == sparse.balance[:6].tobytes()
    assert not sparse.balance[6:].any()
    dense.slash_many(src, x / 4, source="staked", to=5)
    sparse.slash_many(src, x / 4, source="staked", to=5)
    assert dense.staked.tobytes() == sparse.staked[:6].tobytes()
    assert dense.balance.tobytes() == sparse.balance[:6].tobytes()
    sparse.check_invariants()


# ---------------------------------------------------------------------------- error unit tests

BAD_IDS = [-1, 3, 1.0, "0", True, None]
BAD_AMOUNTS = [-1.0, -1e-300, math.nan, math.inf, -math.inf, "1", None, True, 10**400]


@pytest.mark.parametrize("op", sorted(MOVES))
@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_single_op_unknown_account(op: str, bad: object) -> None:
    assert_refused(funded(), lambda led: getattr(led, op)(bad, 1.0), op, "id")


@pytest.mark.parametrize("op", sorted(MOVES))
@pytest.mark.parametrize("bad", BAD_AMOUNTS, ids=repr)
def test_single_op_bad_amount(op: str, bad: object) -> None:
    assert_refused(funded(), lambda led: getattr(led, op)(1, bad), op, "account 1", "amount")


@pytest.mark.parametrize("op", DEBITING)
def test_single_op_overdraft(op: str) -> None:
    msg = assert_refused(funded(), lambda led: getattr(led, op)(2, 10.5), op, "account 2", "10.5")
    assert MOVES[op][0] in msg


@pytest.mark.parametrize("op", sorted(MOVES))
def test_batch_op_errors(op: str) -> None:
    name = f"{op}_many"
    led = funded()
    call = lambda ids, xs: lambda led: getattr(led, name)(ids, xs)  # noqa: E731
    assert_refused(led, call([0, 3], [1.0, 1.0]), name, "unknown", "[3]")
    assert_refused(led, call([0, -1], [1.0, 1.0]), name, "unknown", "[-1]")
    assert_refused(led, call([0.0, 1.0], [1.0, 1.0]), name, "integer")
    assert_refused(led, call([0, 1], [1.0]), name, "equal lengths", "(2,)", "(1,)")
    assert_refused(led, call([[0, 1]], [[1.0, 1.0]]), name, "1-D")
    assert_refused(led, call([0, 1], [[1.0, 1.0]]), name, "1-D")
    assert_refused(led, call([0, 1], ["a", "b"]), name, "real numbers")
    for bad in (-1.0, math.nan, math.inf):
        assert_refused(led, call([0, 1], [1.0, bad]), name, "row 1", "account 1", repr(bad))
    if MOVES[op][0] is not None:
        # each row alone is affordable (5 of 5/10), together they overdraw account 1
        msg = assert_refused(led, call([1, 0, 1, 1], [5.0, 1.0, 5.0, 5.0]), name, "account 1")
        assert "account 0" not in msg
    # zero rows and zero amounts are valid no-ops (zero amounts are journaled)
    before = led.snapshot()
    size = led.journal_size
    getattr(led, name)([], [])
    getattr(led, name)(np.array([0, 2]), np.zeros(2))
    assert all(np.array_equal(before[c], led.snapshot()[c]) for c in COLS)
    assert led.journal_size == size + 2


def test_transfer_errors() -> None:
    led = funded()
    assert_refused(led, lambda L: L.transfer(-1, 0, 1.0), "transfer", "src id -1")
    assert_refused(led, lambda L: L.transfer(0, 3, 1.0), "transfer", "dst id 3")
    assert_refused(led, lambda L: L.transfer(0, 1, math.nan), "transfer", "nan")
    assert_refused(led, lambda L: L.transfer(0, 1, -2.0), "transfer", "-2.0")
    assert_refused(led, lambda L: L.transfer(0, 1, 10.000001), "transfer", "account 0", "10.0")
    t = lambda s, d, x: lambda L: L.transfer_many(s, d, x)  # noqa: E731
    assert_refused(led, t([0, 1], [1], [1.0, 1.0]), "transfer_many", "equal lengths")
    assert_refused(led, t([0, 1], [1, 2], [1.0]), "transfer_many", "equal lengths")
    assert_refused(led, t([0, 1], [1, 7], [1.0, 1.0]), "transfer_many", "dst", "[7]")
    assert_refused(led, t([9, 1], [1, 2], [1.0, 1.0]), "transfer_many", "src", "[9]")
    assert_refused(led, t([0, 1], [1, 2], [1.0, math.inf]), "transfer_many", "inf")
    msg = assert_refused(
        led, t([0, 0, 1], [1, 2, 2], [6.0, 6.0, 1.0]), "transfer_many", "account 0", "12.0"
    )
    assert "1 account(s)" in msg


def test_slash_errors() -> None:
    led = funded()
    assert_refused(led, lambda L: L.slash(0, 1.0, source="balance"), "slash", "source")
    assert_refused(led, lambda L: L.slash(0, 1.0, to=5), "slash", "to id 5")
    assert_refused(led, lambda L: L.slash(0, 5.5), "slash", "bonded", "5.5")
    assert_refused(led, lambda L: L.slash(0, 5.5, source="staked"), "slash", "staked")
    assert_refused(led, lambda L: L.slash_many([0], [1.0], source="x"), "slash_many", "source")
    assert_refused(led, lambda L: L.slash_many([0], [1.0], to=-1), "slash_many", "to id -1")
    assert_refused(led, lambda L: L.slash_many([0, 0], [3.0, 3.0]), "slash_many", "account 0")


def test_overflow_and_precision_loss_are_refused() -> None:
    led = Ledger()
    led.open_accounts(3)
    led.mint(0, 1e308)
    assert_refused(led, lambda L: L.mint(0, 1e308), "mint", "overflow")
    assert_refused(led, lambda L: L.mint(1, 1e308), "mint", "overflow")
    assert_refused(led, lambda L: L.mint_many([1, 2], [1e308, 1e308]), "mint_many", "overflow")
    small = Ledger()
    small.open_accounts(2)
    small.mint_many([0, 1], [1.0, 1.0])
    # a->b and b->a of 1e20 on balances of 1 would round both balances to 0: 2 tokens lost
    assert_refused(
        small,
        lambda L: L.transfer_many([0, 1], [1, 0], [1e20, 1e20]),
        "transfer_many",
        "supply invariant",
    )
    assert_refused(small, lambda L: L.transfer(0, 0, 1e20), "transfer", "supply invariant")


def test_constructor_and_open_accounts_errors() -> None:
    for kwargs in (
        {"capacity": 0},
        {"capacity": 2.5},
        {"rtol": 0.0},
        {"rtol": math.nan},
        {"rtol": 1.5},
        {"journal_chunk_rows": 0},
    ):
        with pytest.raises(LedgerError, match=r"Ledger\("):
            Ledger(**kwargs)
    led = Ledger()
    for bad in (-1, 1.5, None):
        assert_refused(led, lambda L, bad=bad: L.open_accounts(bad), "open_accounts", "n must")


def test_ledger_error_is_value_error() -> None:
    assert issubclass(LedgerError, ValueError)


# ---------------------------------------------------------------------------- semantics


def test_transfer_many_nets_simultaneously() -> None:
    led = Ledger()
    a, b, c = led.open_accounts(3).tolist()
    # swap on empty accounts: each account's balance + net change = 0 >= 0
    led.transfer_many([a, b], [b, a], [10.0, 10.0])
    assert led.balance.tolist() == [0.0, 0.0, 0.0]
    # chain a->b->c where only a holds 10: b receives and forwards in the same batch
    led.mint(a, 10.0)
    led.transfer_many([b, a], [c, b], [10.0, 10.0])
    assert led.balance.tolist() == [0.0, 0.0, 10.0]
    # net outflow: c pays 15, receives 5 -> 10 - 15 + 5 = 0 passes; receiving 4 fails
    led.mint(b, 5.0)
    assert_refused(led, lambda L: L.transfer_many([c, b], [a, c], [15.0, 4.0]), "transfer_many")
    led.transfer_many([c, b], [a, c], [15.0, 5.0])
    assert led.balance.tolist() == [15.0, 0.0, 0.0]
    # duplicates of the same pair add up
    led.transfer_many([a, a, a], [b, b, c], [1.0, 2.0, 3.0])
    assert led.balance.tolist() == [9.0, 3.0, 3.0]
    # self-transfers net to zero
    led.transfer_many([b], [b], [100.0])
    led.transfer(c, c, 50.0)
    assert led.balance.tolist() == [9.0, 3.0, 3.0]
    assert led.supply == 15.0
    led.check_invariants()


def test_column_moves_and_supply() -> None:
    led = Ledger()
    a, b = led.open_accounts(2).tolist()
    led.mint(a, 100.0)
    led.mint_locked(b, 40.0)
    led.stake(a, 30.0)
    led.bond(a, 20.0)
    led.lock(a, 10.0)
    led.unlock_many([b, b], [5.0, 10.0])
    led.unstake(a, 5.0)
    led.release_bond(a, 2.5)
    assert led.balance.tolist() == [47.5, 15.0]
    assert led.staked.tolist() == [25.0, 0.0]
    assert led.locked.tolist() == [10.0, 25.0]
    assert led.bonded.tolist() == [17.5, 0.0]
    assert led.minted == 140.0 and led.burned == 0.0 and led.supply == 140.0
    assert led.totals == {"balance": 62.5, "staked": 25.0, "locked": 35.0, "bonded": 17.5}
    led.burn(a, 7.5)
    led.burn_many([b, b], [5.0, 5.0])
    assert led.burned == 17.5 and led.supply == 122.5
    led.check_invariants()


def test_slash_burns_or_pays_recipient() -> None:
    led = funded(3)
    led.slash(0, 2.0)  # burned from bonded
    assert led.bonded[0] == 3.0 and led.burned == 2.0 and led.supply == 73.0
    led.slash(1, 1.5, to=2)  # bonded of 1 -> balance of 2, supply unchanged
    assert led.bonded[1] == 3.5 and led.balance[2] == 11.5 and led.supply == 73.0
    led.slash(2, 5.0, source="staked", to=0)
    assert led.staked[2] == 0.0 and led.balance[0] == 15.0 and led.supply == 73.0
    led.slash_many([0, 1, 0], [1.0, 1.0, 1.0])
    assert led.bonded.tolist() == [1.0, 2.5, 5.0] and led.burned == 5.0
    led.slash_many([1, 2], [0.5, 2.0], source="bonded", to=1)  # slashed account may receive
    assert led.bonded.tolist() == [1.0, 2.0, 3.0]
    assert led.balance.tolist() == [15.0, 12.5, 11.5]
    assert led.burned == 5.0 and led.supply == 70.0
    tail = led.journal_frame().iloc[-8:]
    assert (
        tail["kind"].astype(str).tolist()
        == ["slash_bonded"] * 2 + ["slash_staked"] + ["slash_bonded"] * 5
    )
    assert tail["src"].tolist() == [0, 1, 2, 0, 1, 0, 1, 2]
    assert tail["dst"].tolist() == [NO_ACCOUNT, 2, 0, NO_ACCOUNT, NO_ACCOUNT, NO_ACCOUNT, 1, 1]
    assert tail["amount"].tolist() == [2.0, 1.5, 5.0, 1.0, 1.0, 1.0, 0.5, 2.0]
    led.check_invariants()


# ---------------------------------------------------------------------------- journal


def test_journal_contents_and_dtypes() -> None:
    led = Ledger(journal_chunk_rows=2)
    a, b, c = led.open_accounts(3).tolist()
    empty = led.journal_frame()
    assert list(empty.columns) == ["epoch", "kind", "src", "dst", "amount"] and empty.empty
    led.mint(a, 10.0)
    led.epoch = 1
    led.transfer_many([a, a, b], [b, c, c], [1.0, 2.0, 0.5])
    led.stake(b, 0.25)
    led.epoch = 2
    led.burn(c, 1.0)
    led.mint_locked(c, 3.0)
    led.unlock(c, 3.0)
    led.bond(a, 1.0)
    led.release_bond(a, 1.0)
    frame = led.journal_frame()
    assert frame.dtypes.to_dict() == {
        "epoch": np.dtype("int64"),
        "kind": pd.CategoricalDtype(list(JOURNAL_KINDS)),
        "src": np.dtype("int64"),
        "dst": np.dtype("int64"),
        "amount": np.dtype("float64"),
    }
    expected = [
        (0, "mint", -1, a, 10.0),
        (1, "transfer", a, b, 1.0),
        (1, "transfer", a, c, 2.0),
        (1, "transfer", b, c, 0.5),
        (1, "stake", b, b, 0.25),
        (2, "burn", c, -1, 1.0),
        (2, "mint_locked", -1, c, 3.0),
        (2, "unlock", c, c, 3.0),
        (2, "bond", a, a, 1.0),
        (2, "release_bond", a, a, 1.0),
    ]
    got = list(frame.astype({"kind": str}).itertuples(index=False, name=None))
    assert got == expected
    assert led.journal_size == len(expected)
    # the frame is a copy: mutating it does not touch the journal
    frame.loc[0, "amount"] = 99.0
    assert led.journal_frame()["amount"].iloc[0] == 10.0


def test_journal_grows_by_chunks_and_can_be_switched_off() -> None:
    led = Ledger(journal_chunk_rows=4, journal=False)
    ids = led.open_accounts(10)
    led.mint_many(ids, np.full(10, 5.0))
    assert led.journal_size == 0 and led.journal_frame().empty
    led.journal_enabled = True
    rng = np.random.default_rng(0)
    sizes = [3, 1, 4, 9, 0, 2]
    for step, m in enumerate(sizes):
        led.epoch = step
        led.transfer_many(rng.integers(0, 10, m), rng.integers(0, 10, m), np.full(m, 0.125))
        led.transfer(0, 1, 0.0)  # zero amounts are valid and journaled
    total = sum(sizes) + len(sizes)
    assert led.journal_size == total
    assert led._journal.n_chunks == -(-total // 4)  # memory grows one chunk at a time
    frame = led.journal_frame()
    expected_epochs = np.repeat(np.arange(len(sizes)), np.array(sizes) + 1)
    assert np.array_equal(frame["epoch"].to_numpy(), expected_epochs)
    assert frame["amount"].tolist() == [x for m in sizes for x in [0.125] * m + [0.0]]
    led.journal_enabled = False
    led.transfer(0, 1, 1.0)
    assert led.journal_size == total
    # journal_columns(start) returns the tail, across chunk and run boundaries
    full = led.journal_columns()
    assert full["kind"].dtype == np.int8 and set(full["kind"].tolist()) == {2}
    for start in range(total + 1):
        tail = led.journal_columns(start)
        for key in ("epoch", "kind", "src", "dst", "amount"):
            assert np.array_equal(tail[key], full[key][start:]), (start, key)
    for bad in (-1, total + 1, 1.5):
        with pytest.raises(LedgerError, match="journal_columns: start"):
            led.journal_columns(bad)


# ---------------------------------------------------------------------------- accounts & views


def test_capacity_doubles_and_keeps_balances() -> None:
    led = Ledger(capacity=1)
    assert led.capacity == 1 and led.n_accounts == 0
    assert led.open_accounts(0).tolist() == []
    assert led.open_accounts(1).tolist() == [0]
    led.mint(0, 3.0)
    led.stake(0, 1.0)
    assert led.open_accounts(1).tolist() == [1]
    assert led.capacity == 2
    assert led.open_accounts(3).tolist() == [2, 3, 4]
    assert led.capacity == 8
    assert led.open_accounts(10).tolist() == list(range(5, 15))
    assert led.capacity == 16
    assert led.n_accounts == 15 and len(led.balance) == 15
    assert led.balance[0] == 2.0 and led.staked[0] == 1.0 and not led.balance[1:].any()
    led.mint(14, 1.0)
    led.check_invariants()


def test_views_are_read_only_and_snapshots_are_copies() -> None:
    led = funded(2)
    for c in COLS:
        view = getattr(led, c)
        assert len(view) == 2
        with pytest.raises(ValueError, match="read-only"):
            view[0] = 1.0
    snap = led.snapshot()
    snap["balance"][0] = 1e9
    assert led.balance[0] == 10.0
    led.mint(0, 1.0)
    assert led.balance[0] == 11.0  # views read the live column


def test_check_invariants_detects_corruption() -> None:
    for corrupt, match in (
        (lambda L: L._cols[0].__setitem__(1, -1.0), "negative"),
        (lambda L: L._cols[2].__setitem__(0, math.nan), "not finite"),
        (lambda L: L._cols[3].__setitem__(0, 6.0), "running total"),
        (lambda L: setattr(L, "_minted", L.minted + 1.0), "minted - burned"),
    ):
        led = funded(2)
        led.check_invariants()
        corrupt(led)
        with pytest.raises(LedgerError, match=match):
            led.check_invariants()


def test_invariant_holds_within_rtol_after_many_fractional_ops() -> None:
    """Float drift: 200k fractional transfers stay within rtol of minted - burned."""
    rng = np.random.default_rng(11)
    led = Ledger()
    ids = led.open_accounts(1000)
    led.mint_many(ids, rng.uniform(0, 1e6, 1000))
    for _ in range(20):
        src = rng.integers(0, 1000, 10_000)
        dst = rng.integers(0, 1000, 10_000)
        led.transfer_many(src, dst, led.balance[src] * rng.uniform(0, 0.1, 10_000) / 20)
        led.stake_many(src[:500], led.balance[src[:500]] / 50)
    led.check_invariants()
    held = sum(math.fsum(getattr(led, c).tolist()) for c in COLS)
    assert abs(held - led.supply) <= 1e-9 * led.minted


# ---------------------------------------------------------------------------- benchmark


def test_benchmark_run_executes_at_small_size() -> None:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_ledger.py"
    spec = importlib.util.spec_from_file_location("bench_ledger", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    res = bench.run(n=2000, accounts=50, repeats=1)
    assert res["n"] == 2000 and res["accounts"] == 50
    for key in ("journal_on", "journal_off"):
        r = res[key]
        assert r["agree"] is True
        assert r["batch_s"] > 0 and r["loop_s"] > 0 and r["ratio"] > 0
        assert r["loop_timed"] == 2000 and r["loop_scaled"] is False
    assert res["journal_on"]["journal_rows"] == 2000 + 50  # transfers + funding mints
    assert res["journal_off"]["journal_rows"] == 0
    assert isinstance(res["passed"], bool)
    sub = bench.run(n=25_000, accounts=50, repeats=1, loop_budget_s=0.0, loop_subsample=1)
    for key in ("journal_on", "journal_off"):
        r = sub[key]
        assert r["loop_scaled"] is True and r["loop_timed"] == 10_000  # one block, scaled
        assert r["agree"] is True
    assert bench.main(["--n", "500", "--accounts", "20"]) == 0
