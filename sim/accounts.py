"""The account registry: who each ledger account is, and what it has earned.

Ledger accounts are integer ids (``economics.ledger``). Beside the ledger's token columns the
registry keeps one row per account in a :class:`~agents.base.ColumnStore`: the account's
role, the row of its individual in that role set, whether it is an adversary, the epoch it
joined, and its cumulative outcomes (rewards, fair rewards, accepted points, ground-truth
values of its points in the window and of all its accepted points). Role sets open their
accounts here (:meth:`Accounts.register`), sybil operators fund their identities here
(:meth:`Accounts.fund`: the funding graph a sybil defence analyses), and the protocol's own
five accounts are the first opened.

The registry implements ``agents.base.AccountRegistry``, all that role sets see of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledgerlab.agents.base import ROLE_NAMES, ColumnStore
from ledgerlab.economics.ledger import Ledger

ONBOARDING_TOKENS = 1.0
"""Grant each new honest provider receives from the treasury at joining (tokens)."""

REGISTRY_COLUMNS: dict[str, type] = {
    "role": np.int8,  # ROLE_NAMES.index(role); 0 = a protocol account
    "adversary": np.bool_,  # counts as an adversary in the fairness metrics
    "row": np.int64,  # row of the individual in its role set (-1: protocol)
    "joined_epoch": np.int64,
    "reward_tokens": np.float64,  # cumulative rewards paid
    "fair_reward_tokens": np.float64,  # cumulative rewards it would have been paid by true value
    "points_accepted": np.int64,  # cumulative accepted points
    "ground_truth_value": np.float64,  # arrival value of its points in the training window
    "ground_truth_value_accepted": np.float64,  # arrival value of all its accepted points
}
"""The registry's per-account columns (the snapshot's columns of the same names)."""

FundingEdges = tuple[np.ndarray, np.ndarray, np.ndarray]
"""One batch of funding transfers: (source, destination, amount in tokens) arrays."""


@dataclass(frozen=True)
class ProtocolAccounts:
    """The protocol's accounts, opened before any individual's.

    Attributes:
        treasury: Receives fees, pays routing, gas and grants.
        reward_pool: Holds the emission (or the pre-minted community pool).
        amm: The AMM's token reserve (its balance is the pool's reserve, exactly).
        outside: The outside market: exogenous buyers and sellers.
        escrow: Holds the contributors' share of fees until attribution pays it out.
    """

    treasury: int
    reward_pool: int
    amm: int
    outside: int
    escrow: int

    @property
    def ids(self) -> np.ndarray:
        """The accounts the protocol holds (the outside market is not one of them):
        never contributors, never paid by attribution, never part of a funding cluster."""
        return np.array([self.treasury, self.reward_pool, self.amm, self.escrow], np.int64)


class Accounts:
    """The per-account registry beside a ledger (see the module docstring).

    Args:
        ledger: The ledger whose accounts are registered; its ``epoch`` is the clock new
            accounts are stamped with.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.cols = ColumnStore(REGISTRY_COLUMNS, capacity=1024)
        self.funding_edges: list[FundingEdges] = []
        """Funding transfers between identities, one batch per call of :meth:`fund`."""
        ids = self.register(5, role="protocol", adversary=False, rows=np.full(5, -1))
        self.protocol = ProtocolAccounts(*(int(a) for a in ids))

    @property
    def epoch(self) -> int:
        """The current epoch (the ledger's clock, set by the model each epoch)."""
        return self.ledger.epoch

    @property
    def n(self) -> int:
        """Accounts registered (= the ledger's accounts)."""
        return len(self.cols)

    def register(self, n: int, *, role: str, adversary: bool, rows: np.ndarray) -> np.ndarray:
        """Open ``n`` ledger accounts for individuals of ``role`` at ``rows`` of its role set
        and record who they are. Returns the account ids."""
        accounts = self.ledger.open_accounts(n)
        self.cols.append(
            n,
            role=ROLE_NAMES.index(role),
            adversary=adversary,
            row=rows,
            joined_epoch=self.epoch,
        )
        return accounts

    def of_role(self, role: str) -> np.ndarray:
        """Mask over accounts: those of ``role``."""
        return self.cols.role == ROLE_NAMES.index(role)

    def fund(self, src: int, dst: np.ndarray, amount_each_tokens: float) -> None:
        """Funding transfers of ``amount_each_tokens`` from ``src`` to each of ``dst``,
        recorded as funding-graph edges for the sybil defence."""
        amounts = np.full(dst.size, amount_each_tokens)
        self.ledger.transfer_many(np.full(dst.size, src), dst, amounts)
        self.funding_edges.append((np.full(dst.size, src), dst.copy(), amounts))

    def onboard(self, accounts: np.ndarray) -> None:
        """New honest providers receive :data:`ONBOARDING_TOKENS` each from the treasury
        (if it can pay them all); the grants are funding-graph edges (the honest region a
        sybil defence sees)."""
        treasury = self.protocol.treasury
        if accounts.size and self.ledger.balance[treasury] >= ONBOARDING_TOKENS * accounts.size:
            self.fund(treasury, accounts, ONBOARDING_TOKENS)

    def affordable_each(self, account: int, n: int, want_tokens: float) -> float:
        """What each of ``n`` equal transfers from ``account`` can carry (tokens):
        ``want_tokens`` if the balance covers the ledger's sum of the ``n`` transfers,
        else the balance over ``n`` less the worst-case rounding of a sum of ``n`` terms,
        so the batch never overdraws the account."""
        if n <= 0:
            return 0.0
        balance = float(self.ledger.balance[account])
        if ledger_sum(np.full(n, want_tokens)) <= balance:
            return want_tokens
        return float(fit_sum(np.full(n, balance / n), balance)[0])


def pay_out(ledger: Ledger, src: int, dst: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """Transfer ``amounts`` from ``src`` to ``dst``; if rounding makes them exceed its
    balance by a few ulps, scale them down so the transfer never overdraws. Returns what
    was paid (``amounts`` itself when nothing had to change)."""
    total = float(amounts.sum())
    balance = float(ledger.balance[src])
    limit = balance * (1.0 - 1e-12)  # the ledger sums in another order: keep a margin
    if total > limit:
        amounts = amounts * (limit / total)
        total = float(amounts.sum())
    # The ledger's row-order sum differs from numpy's by under n·eps of the total, so well
    # below the balance it cannot overdraw: fit_sum (a sequential sum) is needed only near it.
    if not total * (1.0 + 4.0 * SUM_EPS * amounts.size) < balance:
        amounts = fit_sum(amounts, balance)  # a no-op unless the balance is dust
    ledger.transfer_many(np.full(dst.size, src), dst, amounts)
    return amounts


SUM_EPS = float(np.finfo(np.float64).eps)
"""Machine epsilon of float64 (dimensionless): the bound on summation-order differences
per term that :func:`pay_out` keeps clear of."""


def ledger_sum(amounts: np.ndarray) -> float:
    """Σ ``amounts`` added as the ledger nets a batch's rows of one account: a sequential
    ``np.bincount`` (tokens)."""
    if amounts.size == 0:
        return 0.0
    return float(np.bincount(np.zeros(amounts.size, np.int64), weights=amounts)[0])


def fit_sum(amounts: np.ndarray, balance: float) -> np.ndarray:
    """``amounts`` (tokens, >= 0), already scaled to about ``balance``, nudged down until
    the ledger's own sum of them fits in ``balance``. A relative margin cannot do it for
    subnormal dust (e.g. 2e-320 tokens left in a pool), whose spacing is absolute: each
    step lowers every amount by one ulp, and a step or two suffices."""
    out = np.asarray(amounts, dtype=np.float64)
    while ledger_sum(out) > balance:
        out = np.nextafter(out, 0.0)
    return out
