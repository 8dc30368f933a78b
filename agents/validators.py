"""Validators: stake tokens, score submissions (used by the ``validator_vote`` defence) and
earn the stakers' share γ of fees and the chain's tips. A colluding fraction of the stake
approves its allied farmers' submissions whatever their quality."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import mesa
import numpy as np

from ledgerlab.agents.base import AccountRegistry, RoleSet

if TYPE_CHECKING:
    from ledgerlab.scenarios.schema import Population


class ValidatorSet(RoleSet):
    """Validators. Columns: ``colluding`` (approves farmers' submissions, flag),
    ``stake_tokens`` (stake at launch, tokens)."""

    role: ClassVar[str] = "validators"
    adversary: ClassVar[bool] = False
    extra_columns: ClassVar[dict[str, object]] = {"colluding": np.bool_, "stake_tokens": np.float64}

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
