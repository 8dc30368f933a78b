"""The simulator's yardstick: ground-truth values, fair rewards and fairness KPIs.

**The value of a contribution is what it adds to a clean model at the time it arrived,
judged on data no agent sees** (DESIGN.md, "Ground truth and fairness"). Never the engine
under test:

* **Provenance.** Each epoch's accepted batch is valued once, when it is accepted, against
  the training window that existed when it was submitted (the accepted points before the
  batch, restricted to the datanet's ``window_points``): exact Shapley values of the batch's
  points in what they add to that window (``economics.attribution.knn_shapley_arrivals``).
  A point within ``copy_distance`` of any earlier point with the same label — another
  owner's or its own, in the window or long gone — is a copy: worth zero and not a player
  (the later point of two in one batch is the copy). Values are stored per point.
* **Chance-centred utility.** u(S) = mean over validation points of (1/K)·Σ over the K
  nearest of (1[label = y] − 1/C): a label right only by chance is worth 0 in expectation,
  and u(∅) = 0 means "no better than guessing". A point that *displaces* a correct neighbour
  with a coin-flip label is worth less than 0 in expectation — it makes the model worse;
  only where it displaces nothing (or a neighbour no better than chance) is a random label
  worth exactly 0 in expectation.
* **Backdoors count.** With backdoor poisoners in the scenario, the validation set includes
  triggered probes (``backdoor_probe_share`` of it): clean points of the non-target classes
  with the trigger written in, labelled with their true class — the queries attack success
  counts — so a backdoor point is worth less than nothing.

**Fair rewards.** Each epoch the rewards actually paid are split, per datanet in proportion
to its reward pool, by the positive part of each individual's value v⁺, where an
individual's value is the sum of the arrival values of its points **in the training window
now**: those are the points any engine could pay for this epoch (models train on the window,
engines value it, retrieval credits it), so a point that has aged out earns its owner nothing
in the fair counterfactual either. Cumulative fair rewards are kept per account.

Fairness rank statistics compare cumulative rewards with cumulative fair rewards on the
``every_epochs`` cadence and at the last epoch (:func:`fairness_kpis`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledgerlab.agents.base import ROLE_NAMES
from ledgerlab.economics import metrics as M
from ledgerlab.economics.attribution import knn_shapley_arrivals_given, per_owner
from ledgerlab.economics.defenses import CopyIndex
from ledgerlab.economics.learning import KNearestTable, apply_trigger, close_pairs
from ledgerlab.scenarios.schema import GroundTruth as GroundTruthSpec
from ledgerlab.scenarios.schema import Poisoners
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
    "spearman_honest",
    "kendall_tau_honest",
    "proportionality_gap_honest",
)
"""Fairness KPIs, measured on the fairness cadence only (NaN in between)."""

REWARD_KPIS = (
    "adversary_reward_share",
    "adversary_reward_share_epoch",
    "adversary_fair_share",
    "excess_share",
    "excess_share_epoch",
    "overpayment_tokens",
    "overpayment_usd",
    "honest_income_usd",
)
"""Rewards against fair rewards, measured every epoch (:func:`reward_kpis`)."""

CAPTURE_MIN_VALUE_SHARE = 0.01
"""Below this adversary share of fair rewards, ``adversary_capture`` is NaN: a ratio whose
denominator can vanish must not rank mechanisms (a floor would dominate it instead)."""

DEFAULT_VALIDATION_POINTS = 1_000
"""Clean validation points of the ground truth when the scenario sets none (points): each
point is valued where it enters one of their K nearest, so more points give smoother values
at a cost linear in their number."""

DEFAULT_COPY_DISTANCE = 0.05
"""Copy distance when the scenario sets none and has no dedup defence with a positive
``near_duplicate_distance`` (feature units): the dedup defence's default."""


@dataclass
class DatanetTruth:
    """The yardstick's state for one datanet.

    Attributes:
        x_val, y_val: The ground-truth validation set: clean points, then triggered probes.
        base: Each validation point's K nearest points of the window last valued against,
            kept up to date as the window changes.
        copies: Every point accepted so far, for the copy check.
        values: Arrival value of each stored point (utility units: chance-centred kNN
            accuracy), 0 for copies and the seed data; aligned with the store's rows.
        copy: Whether each stored point is a copy.
    """

    x_val: np.ndarray
    y_val: np.ndarray
    base: KNearestTable
    copies: CopyIndex
    values: np.ndarray
    copy: np.ndarray

    def grow(self, n: int) -> None:
        """Make room for ``n`` stored points (new rows start at 0, not copies)."""
        if self.values.size < n:
            size = max(n, 2 * self.values.size)
            self.values = np.concatenate([self.values, np.zeros(size - self.values.size)])
            self.copy = np.concatenate([self.copy, np.zeros(size - self.copy.size, dtype=bool)])


def validation_set(
    state: DatanetState, spec: GroundTruthSpec, poisoners: Poisoners
) -> tuple[np.ndarray, np.ndarray]:
    """A datanet's ground-truth validation set: ``spec.validation_points`` clean points
    (:data:`DEFAULT_VALIDATION_POINTS` or all, if fewer, when null), plus — with backdoor poisoners — triggered probes making up
    ``backdoor_probe_share`` of the set: the first clean points of the non-target classes
    with the trigger written in, labelled with their true class (as attack success counts
    them). The simulator knows the attack; the engine under test never sees this set."""
    n = spec.validation_points or min(DEFAULT_VALIDATION_POINTS, state.x_gt.shape[0])
    x, y = state.x_gt[:n], state.y_gt[:n]
    share = spec.backdoor_probe_share
    if poisoners.backdoor <= 0 or share <= 0:
        return x, y
    source = np.flatnonzero(y != poisoners.backdoor_target_class)
    n_probe = min(source.size, round(share * n / (1.0 - share)))
    probe = source[:n_probe]
    x_probe = apply_trigger(
        x[probe], poisoners.backdoor_trigger_features, poisoners.backdoor_trigger_value
    )
    return np.vstack([x, x_probe]), np.concatenate([y, y[probe]])


def copy_distance(spec: GroundTruthSpec, defenses: tuple[object, ...]) -> float:
    """The copy distance: the scenario's, else the dedup defence's positive
    ``near_duplicate_distance``, else :data:`DEFAULT_COPY_DISTANCE` (feature units)."""
    if spec.copy_distance is not None:
        return float(spec.copy_distance)
    for d in defenses:
        eps = getattr(d, "near_duplicate_distance", None)
        if getattr(d, "kind", None) == "dedup" and eps:
            return float(eps)
    return DEFAULT_COPY_DISTANCE


class GroundTruth:
    """The ground-truth valuation across epochs (see the module docstring).

    Args:
        spec: The scenario's ``attribution.ground_truth`` section.
        horizon_epochs: The run's epochs (the last one is always measured).
        datanets: The datanets, with their seed data already stored (indexed for the copy
            check, valued 0: the protocol's).
        poisoners: The scenario's poisoners (the backdoor's trigger, for the probes).
        radius: The copy distance (feature units).
    """

    def __init__(
        self,
        spec: GroundTruthSpec,
        horizon_epochs: int,
        datanets: list[DatanetState],
        poisoners: Poisoners,
        radius: float,
    ) -> None:
        self.spec = spec
        self.horizon_epochs = horizon_epochs
        self.datanets: list[DatanetTruth] = []
        for state in datanets:
            x_val, y_val = validation_set(state, spec, poisoners)
            n = state.store.size
            truth = DatanetTruth(
                x_val,
                y_val,
                KNearestTable(x_val, spec.k),
                CopyIndex(radius),
                np.zeros(n),
                np.zeros(n, dtype=bool),
            )
            truth.copies.add(state.store.x, state.store.y)
            self.datanets.append(truth)

    def due(self, epoch: int) -> bool:
        """Whether ``epoch`` is a fairness epoch (on the cadence, or the last)."""
        every = self.spec.every_epochs
        return bool(every and epoch % every == 0) or epoch == self.horizon_epochs - 1

    def value_arrivals(
        self, d: int, state: DatanetState, rows: np.ndarray, accounts: Accounts
    ) -> None:
        """Value datanet ``d``'s points just stored at ``rows`` (one batch, consecutive rows)
        against the window that existed before them; copies are worth 0. Adds each owner's
        arrival values to its ``ground_truth_value_accepted``."""
        truth = self.datanets[d]
        store = state.store
        truth.grow(store.size)
        if rows.size == 0:
            return
        x, y = store.x[rows], store.y[rows]
        copy = truth.copies.copies(x, y)
        truth.copies.add(x, y)
        truth.copy[rows] = copy
        table = truth.base
        table.sync(state.training_rows(before=int(rows[0])), store.x)
        pairs = close_pairs(truth.x_val, x, table.limit())  # every batch point, copies too
        if not copy.all():
            q, j, dist = pairs
            player = ~copy[j]
            position = np.cumsum(~copy) - 1  # a batch point's index among the non-copies
            k = self.spec.k
            near = table.ids[:, :k]
            labels = np.where(near >= 0, store.y[np.maximum(near, 0)], -1)
            truth.values[rows[~copy]] = knn_shapley_arrivals_given(
                table.dist[:, :k],
                labels,
                x[~copy],
                y[~copy],
                truth.x_val,
                truth.y_val,
                k,
                n_classes=state.spec.n_classes,
                pairs=(q[player], position[j[player]], dist[player]),
            )
        table.merge(rows, pairs)  # the next batch's base: this window and this batch
        value = per_owner(truth.values[rows], store.owner[rows], accounts.n)
        value[accounts.protocol.ids] = 0.0
        accounts.cols.ground_truth_value_accepted[:] += value

    def window_values(self, datanets: list[DatanetState], accounts: Accounts) -> np.ndarray:
        """Per datanet and account [datanets, accounts]: the arrival values of the account's
        points in the training window now (protocol accounts 0)."""
        out = np.zeros((len(datanets), accounts.n))
        for d, state in enumerate(datanets):
            truth = self.datanets[d]
            truth.grow(state.store.size)
            rows = state.training_rows()
            out[d] = per_owner(truth.values[rows], state.store.owner[rows], accounts.n)
        out[:, accounts.protocol.ids] = 0.0
        return out

    def split_rewards(
        self,
        paid_tokens: float,
        pool_share: np.ndarray,
        datanets: list[DatanetState],
        accounts: Accounts,
    ) -> np.ndarray:
        """The fair split of this epoch's rewards (tokens per account): ``paid_tokens``
        shared over datanets by ``pool_share`` (each datanet's share of the reward pools),
        then within each by v⁺ of the window values. A datanet where nobody has positive
        value assigns nothing. Updates the registry's ``ground_truth_value`` (window values
        summed over datanets) and ``fair_reward_tokens``."""
        value = self.window_values(datanets, accounts)
        accounts.cols.ground_truth_value[:] = value.sum(axis=0)
        pos = np.maximum(value, 0.0)
        total = pos.sum(axis=1)
        fair = np.zeros(accounts.n)
        if paid_tokens > 0:
            live = total > 0
            budget = paid_tokens * pool_share[live] / total[live]
            fair = (pos[live] * budget[:, None]).sum(axis=0)
        accounts.cols.fair_reward_tokens[:] += fair
        return fair


def fairness_kpis(epoch: int, truth: GroundTruth | None, accounts: Accounts) -> dict[str, float]:
    """Fairness of cumulative rewards against cumulative fair rewards (:data:`FAIRNESS_KPIS`;
    NaN unless ``epoch`` is a fairness epoch with two contributors or more): over every
    individual with at least one accepted point, and (``*_honest``) over the honest ones
    alone, so driving honest providers out cannot raise the honest figures."""
    cols = accounts.cols
    contrib = np.flatnonzero(cols.points_accepted > 0)
    contrib = contrib[~np.isin(contrib, accounts.protocol.ids)]
    if truth is None or not truth.due(epoch) or contrib.size < 2:
        return dict.fromkeys(FAIRNESS_KPIS, np.nan)
    r = cols.reward_tokens[contrib]
    v = cols.fair_reward_tokens[contrib]
    adv = cols.adversary[contrib]
    total = r.sum()
    out = {
        "spearman": M.spearman(r, v),
        "kendall_tau": M.kendall_tau_b(r, v),
        "adversary_capture": _capture(r, v, adv),
        "proportionality_gap": M.proportionality_gap(r, v),
        "envy_rate": M.envy_rate(r, v),
        "gini_rewards": M.gini(r),
        "nakamoto_rewards": M.nakamoto(r / total) if total > 0 else np.nan,
    }
    honest = ~adv
    two = honest.sum() >= 2
    out["spearman_honest"] = M.spearman(r[honest], v[honest]) if two else np.nan
    out["kendall_tau_honest"] = M.kendall_tau_b(r[honest], v[honest]) if two else np.nan
    out["proportionality_gap_honest"] = (
        M.proportionality_gap(r[honest], v[honest]) if two else np.nan
    )
    return out


def _capture(r: np.ndarray, fair: np.ndarray, adv: np.ndarray) -> float:
    """Adversary capture (reward share ÷ fair share), NaN without adversaries or when their
    fair share is under :data:`CAPTURE_MIN_VALUE_SHARE`."""
    if not adv.any() or fair.sum() <= 0:
        return np.nan
    if fair[adv].sum() / fair.sum() < CAPTURE_MIN_VALUE_SHARE:
        return np.nan
    return M.adversary_capture(r, fair, adv)


def reward_kpis(
    paid_tokens: np.ndarray, fair_tokens: np.ndarray, price_usd: float, accounts: Accounts
) -> dict[str, float]:
    """This epoch's and the run's rewards against fair rewards (:data:`REWARD_KPIS`).

    ``paid_tokens`` and ``fair_tokens`` are this epoch's rewards and fair rewards per
    account; cumulative figures come from the registry. Shares are fractions of all rewards
    paid to individuals (protocol accounts excluded); overpayment is signed (negative:
    adversaries underpaid) and additive over epochs; USD at this epoch's price."""
    cols = accounts.cols
    n = paid_tokens.size
    people = np.ones(n, dtype=bool)
    people[accounts.protocol.ids[accounts.protocol.ids < n]] = False
    adv = cols.adversary[:n] & people
    r_now, v_now = np.where(people, paid_tokens, 0.0), np.where(people, fair_tokens, 0.0)
    r_all = np.where(people, cols.reward_tokens[:n], 0.0)
    v_all = np.where(people, cols.fair_reward_tokens[:n], 0.0)
    over = M.overpayment(r_now, v_now, adv) if v_now.sum() > 0 else np.nan
    honest = people & ~adv & (cols.role[:n] == ROLE_NAMES.index("providers"))
    return {
        "adversary_reward_share": _share(r_all, adv),
        "adversary_reward_share_epoch": _share(r_now, adv),
        "adversary_fair_share": _share(v_all, adv),
        "excess_share": M.excess_share(r_all, v_all, adv),
        "excess_share_epoch": M.excess_share(r_now, v_now, adv),
        "overpayment_tokens": over,
        "overpayment_usd": over * price_usd,
        "honest_income_usd": float(r_now[honest].sum()) * price_usd,
    }


def _share(x: np.ndarray, mask: np.ndarray) -> float:
    total = x.sum()
    return float(x[mask].sum() / total) if total > 0 else np.nan
