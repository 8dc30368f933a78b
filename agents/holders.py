"""Token holders fed by vesting unlocks: investors, team and any bucket whose recipient is
``holders``. Each bucket's tokens are shared equally by its individuals; they sell a
fraction of their liquid balance per epoch while the price is above their trigger (the
sell policies in ``scenario.tokenomics.sell_policies``)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ledgerlab.agents.base import RoleSet


class HolderSet(RoleSet):
    """Vesting holders. Column ``bucket``: index of the vesting bucket they belong to."""

    role: ClassVar[str] = "holders"
    adversary: ClassVar[bool] = False
    extra_columns: ClassVar[dict[str, object]] = {"bucket": np.int64}

    def rows_of_bucket(self, bucket: int) -> np.ndarray:
        """Rows of the individuals of one bucket."""
        return np.flatnonzero(self.cols.bucket == bucket)
