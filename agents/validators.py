"""Validators: stake tokens, score submissions (used by the ``validator_vote`` defence) and
earn the stakers' share γ of fees and the chain's tips. A colluding fraction of the stake
approves its allied farmers' submissions whatever their quality, for a share of the ring's
rewards (``population.validator_bribe_share``): :meth:`ValidatorSet.take_bribes`."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from ledgerlab.agents.base import AccountRegistry, RoleSet

if TYPE_CHECKING:
    from ledgerlab.scenarios.schema import Population


class ValidatorSet(RoleSet):
    """Validators. Columns: ``colluding`` (approves farmers' submissions, flag),
    ``stake_tokens`` (stake at launch, tokens), ``bribes_tokens`` (bribes received from
    the ring they approve, cumulative, tokens)."""

    role: ClassVar[str] = "validators"
    adversary: ClassVar[bool] = False
    extra_columns: ClassVar[dict[str, object]] = {
        "colluding": np.bool_,
        "stake_tokens": np.float64,
        "bribes_tokens": np.float64,
    }

    def __init__(
        self, model: mesa.Model, accounts: AccountRegistry, population: Population
    ) -> None:
        super().__init__(model, accounts)
        self.params = population

    def populate(self, rng: np.random.Generator) -> None:
        """Equal-stake validators; the first ``colluding_fraction`` of stake colludes."""
        p = self.params
        n = p.validators
        if n == 0:
            return
        n_colluding = round(p.validator_colluding_fraction * n)
        colluding = np.zeros(n, dtype=bool)
        colluding[rng.permutation(n)[:n_colluding]] = True
        self.add(n, colluding=colluding, stake_tokens=p.validator_stake_tokens)
        self.founders = n

    def take_bribes(self, payers: np.ndarray, rewards_tokens: np.ndarray) -> np.ndarray:
        """The ring's payment for approval: each of ``payers`` (ledger accounts) sends
        ``validator_bribe_share`` of its ``rewards_tokens`` this epoch (at most its balance)
        to the active colluding validators, split evenly among them, in one batch of
        transfers. Returns what each payer paid (tokens); nothing without colluders."""
        share = self.params.validator_bribe_share
        cols = self.cols
        colluders = np.flatnonzero(cols.active & cols.colluding)
        paid = np.zeros(payers.size)
        if share <= 0 or colluders.size == 0 or payers.size == 0:
            return paid
        ledger = self.accounts.ledger
        paid = np.minimum(share * rewards_tokens, ledger.balance[payers])
        paid[~(paid > 0)] = 0.0
        paying = np.flatnonzero(paid > 0)
        if paying.size == 0:
            return paid
        k = colluders.size
        src = np.repeat(payers[paying], k)
        dst = np.tile(cols.account[colluders], paying.size)
        # Each payer's k parts sum to at most what it paid (nudged down an ulp if needed).
        amounts = np.repeat(paid[paying] / k, k) * (1.0 - 1e-12)
        ledger.transfer_many(src, dst, amounts)
        paid[paying] = amounts.reshape(paying.size, k).sum(axis=1)
        cols.bribes_tokens[colluders] += np.bincount(
            np.tile(np.arange(k), paying.size), weights=amounts, minlength=k
        )
        return paid
