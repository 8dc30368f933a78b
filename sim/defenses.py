"""Where the defences plug into the epoch loop.

``DefensePipeline`` holds the scenario's defences in the order listed and is called at
three points of an epoch:

* ``screen`` (phase 2): each datanet's submitted points → accept mask;
* ``adjust_weights`` / ``cap_rewards`` (phase 5): per-account reward weights and rewards;
* ``after_rewards`` (phase 5): bookkeeping once rewards are paid (bonds, reputation).

The formulas live in ``economics/defenses/``; this module only wires them to the model's
arrays and records what each defence did (its benefit and its cost).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sim import datanet as dn

if TYPE_CHECKING:
    from sim.model import EconomyModel
    from sim.world import DatanetState


@dataclass
class ScreenContext:
    """One datanet's submissions of one epoch, as the screening defences see them.

    Attributes:
        datanet: Datanet index.
        state: The datanet's state (accepted points so far).
        batch: Submitted points (``batch.y_true`` and ``batch.kind`` are simulator truth
            and must not be read by a defence).
        submission: Submission index of every point (into the ``submission_*`` arrays).
        submission_owner: Ledger account of each submission's submitter.
        submission_role: Role code of each submission's submitter.
    """

    datanet: int
    state: DatanetState
    batch: dn.Batch
    submission: np.ndarray
    submission_owner: np.ndarray
    submission_role: np.ndarray


class DefensePipeline:
    """The scenario's defences, applied in order. With no defences every call is the
    identity: everything is accepted and rewards are paid as attributed."""

    KPI_NAMES: ClassVar[tuple[str, ...]] = ()

    def __init__(self, model: EconomyModel, specs: Sequence[Any]) -> None:
        self.model = model
        self.specs = tuple(specs)

    def screen(self, ctx: ScreenContext) -> np.ndarray:
        """Accept mask over ``ctx.batch``'s points."""
        return np.ones(ctx.batch.size, dtype=bool)

    def adjust_weights(self, state: DatanetState, weights: np.ndarray) -> np.ndarray:
        """Per-account reward weights of one datanet after the defences' multipliers."""
        return weights

    def cap_rewards(self, paid: np.ndarray) -> np.ndarray:
        """Per-account rewards after caps (unpaid tokens stay in their pools)."""
        return paid

    def after_rewards(self, paid: np.ndarray) -> None:
        """Bookkeeping once the epoch's rewards are known."""

    def kpis(self) -> dict[str, float]:
        """This epoch's defence measurements (columns of ``timeseries``)."""
        return {}

    def summary(self) -> dict[str, Any]:
        """Whole-run defence measurements (entries of ``summary.json``)."""
        return {}
