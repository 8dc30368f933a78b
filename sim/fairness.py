"""The simulator's yardstick: ground-truth values, fair rewards and fairness KPIs.

The value of a contribution is measured by the simulator, never by the engine under test:
exact KNN-Shapley (``economics.metrics.ground_truth_values``) of every training point
against each datanet's large clean set no agent sees, summed per account. On its cadence
(``attribution.ground_truth.every_epochs``, and after the last epoch) the rewards paid since
the previous valuation are split by the positive part of those values: the *fair* rewards.
Fairness KPIs compare cumulative rewards with cumulative fair rewards, so early contributors
whose points have left the training window stay in the picture.

The counterfactual accuracy (a kNN trained on honest contributors' points only) is measured
on the same cadence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledgerlab.economics import metrics as M
from ledgerlab.economics.attribution import per_owner
from ledgerlab.scenarios.schema import GroundTruth as GroundTruthSpec
from ledgerlab.sim.accounts import Accounts
from ledgerlab.sim.world import DatanetState

FAIRNESS_KPIS = (
    "spearman",
    "kendall_tau",
    "adversary_capture",
    "proportionality_gap",
    "envy_rate",
    "gini_rewards",
    "nakamoto_rewards",
)
"""Fairness KPIs, measured on ground-truth epochs only (NaN in between)."""


@dataclass
class GroundTruth:
    """The ground-truth valuation's state across epochs.

    Attributes:
        spec: The scenario's ``attribution.ground_truth`` section.
        horizon_epochs: The run's epochs (the last one is always valued).
        rewards_since_tokens: Rewards paid since the last valuation (tokens).
        valued_epoch: Epoch of the last valuation (-1: none yet).
        honest_only_accuracy: Clean accuracy of the honest-only counterfactual at the last
            valuation, mean over datanets (fraction; NaN before any).
    """

    spec: GroundTruthSpec
    horizon_epochs: int
    rewards_since_tokens: float = 0.0
    valued_epoch: int = -1
    honest_only_accuracy: float = float("nan")

    def due(self, epoch: int) -> bool:
        """Whether ``epoch`` is a valuation epoch (on the cadence, or the last)."""
        every = self.spec.every_epochs
        return bool(every and epoch % every == 0) or epoch == self.horizon_epochs - 1

    def value(self, epoch: int, datanets: list[DatanetState], accounts: Accounts) -> None:
        """Value every account's training points, add the fair split of the rewards paid
        since the previous valuation, and measure the honest-only counterfactual."""
        honest = ~accounts.cols.adversary
        accs = [s.honest_only_accuracy_at(epoch, s.spec.k, honest) for s in datanets]
        finite = [a for a in accs if np.isfinite(a)]
        self.honest_only_accuracy = float(np.mean(finite)) if finite else np.nan
        value = np.zeros(accounts.n)
        for state in datanets:
            rows = state.training_rows()
            if rows.size == 0:
                continue
            n = min(self.spec.validation_points, state.x_gt.shape[0])
            v = M.ground_truth_values(
                state.store.x[rows],
                state.store.y[rows],
                state.x_gt[:n],
                state.y_gt[:n],
                self.spec.k,
            )
            value += per_owner(v, state.store.owner[rows], value.size)
        value[accounts.protocol.ids] = 0.0
        accounts.cols.ground_truth_value[:] = value
        self.valued_epoch = epoch
        pos = np.maximum(value, 0.0)
        if pos.sum() > 0 and self.rewards_since_tokens > 0:
            accounts.cols.fair_reward_tokens[:] += self.rewards_since_tokens * pos / pos.sum()
        self.rewards_since_tokens = 0.0


def fairness_kpis(epoch: int, truth: GroundTruth, accounts: Accounts) -> dict[str, float]:
    """Fairness of cumulative rewards against cumulative fair rewards, over every individual
    with at least one accepted point (:data:`FAIRNESS_KPIS`; NaN unless ``epoch`` was a
    valuation epoch with two contributors or more)."""
    cols = accounts.cols
    contrib = np.flatnonzero(cols.points_accepted > 0)
    contrib = contrib[~np.isin(contrib, accounts.protocol.ids)]
    if truth.valued_epoch != epoch or contrib.size < 2:
        return dict.fromkeys(FAIRNESS_KPIS, np.nan)
    r = cols.reward_tokens[contrib]
    v = cols.fair_reward_tokens[contrib]
    adv = cols.adversary[contrib]
    total = r.sum()
    return {
        "spearman": M.spearman(r, v),
        "kendall_tau": M.kendall_tau_b(r, v),
        "adversary_capture": (
            M.adversary_capture(r, v, adv, min_value_share=1e-3) if adv.any() else np.nan
        ),
        "proportionality_gap": M.proportionality_gap(r, v),
        "envy_rate": M.envy_rate(r, v),
        "gini_rewards": M.gini(r),
        "nakamoto_rewards": M.nakamoto(r / total) if total > 0 else np.nan,
    }
