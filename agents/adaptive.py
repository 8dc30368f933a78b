"""Adversary role sets that choose their strategy by what it returned.

Why: attackers move to whatever still pays, so a defence is only as good as what the
adversaries do next. :class:`AdversarySet` is the common base of farmers, wash consumers
and poisoners. Each row carries the strategy it plays this epoch (``playing``, a code of
:data:`~agents.plans.STRATEGIES`) and its *learner*: the row holding the Hedge weights it
plays by — itself for a plain farmer, wash consumer or poisoner, its operator for a sybil
identity (an operator chooses for all its identities).

With ``population.adaptation.enabled`` every learner is reviewed every
``review_every_epochs`` epochs (counted from its joining, so reviews are staggered):

1. the realised return on cost of each strategy its rows played since the last review,
   ``(income − cost) / cost`` in USD (rewards at the epoch's price; production cost, fees
   of self-dealt inferences, slashed bonds, bribes) summed over its rows. A cost belongs
   to the strategy played when it was paid. Income belongs to the points that earn it:
   rewards arrive after the points (attribution runs on a cadence, retrieval fees come
   with queries, a point earns while it is in the training window), so a row's income is
   split over strategies by its *stock* of accepted points of each strategy — accepted
   points, halved at every review (:data:`STOCK_DECAY_PER_REVIEW`). A strategy whose points
   are all refused (a duplicate under ``dedup``) earns nothing, however much the row's
   earlier points still earn;
2. the Hedge step of :mod:`economics.adaptation` on the return estimates;
3. a learner whose probability of ``leave`` reaches ``exit_share`` leaves for good;
   the others' rows draw the strategy they play until the next review (``leave`` = sit
   out: submit nothing, spend nothing).

Without adaptation nothing here draws a random number and every row plays its launch
strategy for good: the fixed strategies of earlier versions, draw for draw. Newcomers
imitate: they start from the mean play probabilities of the active learners of their role
(attackers copy what currently pays).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import mesa
import numpy as np

from ledgerlab.agents.base import AccountRegistry, ChurnRule, RoleSet
from ledgerlab.agents.plans import S_LEAVE, STRATEGIES
from ledgerlab.economics import adaptation as H

if TYPE_CHECKING:
    from ledgerlab.scenarios.schema import Adaptation, Population

N_STRATEGIES = len(STRATEGIES)

STOCK_DECAY_PER_REVIEW = 0.5
"""Factor applied at each review to a row's stock of accepted points per strategy, which
splits its income over the strategies that earned it (dimensionless): points leave the
training window as newer ones arrive, so older points earn less."""

ADAPTIVE_COLUMNS: dict[str, Any] = {
    "playing": np.int8,  # strategy code played this epoch (-1: none, e.g. an operator)
    "learner": np.int64,  # row whose Hedge weights this row plays by
    "review_income_usd": np.float64,  # cumulative income at the last review (USD)
    "review_cost_usd": np.float64,  # cumulative cost at the last review (USD)
    "needs_draw": np.bool_,  # a newcomer that draws its strategy at the next adapt()
    "seen_accepted_points": np.int64,  # cumulative accepted points at the last adapt()
}
"""Columns every adversary role set carries (beside ``agents.base.BASE_COLUMNS``)."""


def launch_strategies(population: Population) -> np.ndarray:
    """Mask over :data:`STRATEGIES`: those the scenario's launch adversaries use, and
    ``leave`` (the default open set of ``population.adaptation.strategies``)."""
    f, p = population.farmers, population.poisoners
    used = {
        "duplicate": f.duplicate,
        "near_duplicate": f.near_duplicate,
        "sybil": f.sybil_operators,
        "wash": f.wash,
        "label_flip": p.label_flip,
        "backdoor": p.backdoor,
        "junk": p.noise,
        "leave": 1,
    }
    return np.array([used[s] > 0 for s in STRATEGIES])


def open_strategies(population: Population) -> np.ndarray:
    """Mask over :data:`STRATEGIES` open to adversaries in this scenario."""
    listed = population.adaptation.strategies
    if listed is None:
        return launch_strategies(population)
    return np.array([s in listed for s in STRATEGIES])


class AdversarySet(RoleSet):
    """A role set of adversaries that may adapt (see the module docstring).

    Subclasses give each row its launch ``playing`` code in :meth:`add` and say which
    strategies a learner may use (:meth:`learner_open`).

    Args:
        model: The Mesa model (the role set's Mesa home).
        accounts: The account registry.
        churn: The role's churn rule.
        adaptation: The scenario's ``population.adaptation`` section (None: fixed).
        allowed: Mask over :data:`STRATEGIES` open in this scenario (None: all).
    """

    adversary: ClassVar[bool] = True
    opens: ClassVar[frozenset[str]] = frozenset()
    """Strategies of :data:`STRATEGIES` only this role's learners may use (``sybil``,
    ``wash``); the content strategies and ``leave`` are open to every adversary."""

    def __init__(
        self,
        model: mesa.Model,
        accounts: AccountRegistry,
        churn: ChurnRule,
        adaptation: Adaptation | None = None,
        allowed: np.ndarray | None = None,
    ) -> None:
        super().__init__(model, accounts, churn)
        on = adaptation is not None and adaptation.enabled
        self.adaptation = adaptation if on else None
        self.hedge = (
            H.HedgeParams(
                adaptation.learning_rate,
                adaptation.exploration,
                adaptation.estimate_weight,
                adaptation.return_cap,
            )
            if adaptation is not None and on
            else None
        )
        self.allowed = np.ones(N_STRATEGIES, bool) if allowed is None else np.asarray(allowed)
        self.log_weights = np.zeros((0, N_STRATEGIES))
        self.estimates = np.zeros((0, N_STRATEGIES))
        self.stock_points = np.zeros((0, N_STRATEGIES))
        self.added_total = 0

    # -- rows ------------------------------------------------------------------------
    def add(self, n: int, **values: Any) -> np.ndarray:
        """Add ``n`` rows (``learner`` defaults to the row itself); with adaptation, new
        learners get their Hedge weights and newcomers after launch draw a strategy at the
        next :meth:`adapt`."""
        rows = super().add(n, **values)
        if rows.size == 0:
            return rows
        if "learner" not in values:
            self.cols.learner[rows] = rows
        grow = len(self) - self.log_weights.shape[0]
        self.log_weights = np.vstack([self.log_weights, np.zeros((grow, N_STRATEGIES))])
        self.estimates = np.vstack([self.estimates, np.full((grow, N_STRATEGIES), np.nan)])
        self.stock_points = np.vstack([self.stock_points, np.zeros((grow, N_STRATEGIES))])
        if self.adaptation is not None:
            self._init_learners(rows[self.cols.learner[rows] == rows])
        return rows

    def learner_open(self, rows: np.ndarray) -> np.ndarray:
        """Strategies each learner row may use (bool, rows × strategies): the scenario's
        open set, less ``sybil`` and ``wash`` unless this role opens them."""
        base = self.allowed.copy()
        for name in ("sybil", "wash"):
            if name not in self.opens:
                base[STRATEGIES.index(name)] = False
        return np.broadcast_to(base, (rows.size, N_STRATEGIES)).copy()

    def founding_code(self, rows: np.ndarray) -> np.ndarray:
        """The launch strategy of each learner row (its ``playing`` code at creation)."""
        return self.cols.playing[rows].astype(np.int64)

    def _init_learners(self, rows: np.ndarray) -> None:
        """Hedge weights of new learners: launch rows start on their launch strategy;
        newcomers imitate the active learners' mean play probabilities."""
        a, hp = self.adaptation, self.hedge
        assert a is not None and hp is not None
        cols = self.cols
        opened = self.learner_open(rows)
        peers = np.flatnonzero(cols.active & (cols.learner == np.arange(len(cols))))
        peers = peers[~np.isin(peers, rows)]
        if self.founders and peers.size:  # after launch: imitate
            mean = hedge_mean(self.log_weights[peers], self.learner_open(peers), hp.exploration)
            w = np.where(opened, mean, 0.0)
            with np.errstate(divide="ignore"):
                self.log_weights[rows] = np.where(w > 0, np.log(np.where(w > 0, w, 1.0)), -np.inf)
            cols.needs_draw[cols.active & np.isin(cols.learner, rows)] = True
        else:
            founding = self.founding_code(rows)
            self.log_weights[rows] = H.initial_log_weights(founding, opened, a.initial_share)
        self.estimates[rows] = np.nan  # nothing observed yet

    # -- the review --------------------------------------------------------------------
    def adapt(self, rng: np.random.Generator, accepted_points: np.ndarray) -> tuple[int, int]:
        """Review the learners due this epoch, let those who choose to leave go, and draw
        what every row of a reviewed learner (and every newcomer) plays next.
        ``accepted_points``: each row's cumulative accepted points (points, per row).
        Returns (individuals who left, identities added)."""
        if self.adaptation is None or len(self) == 0:
            return 0, 0
        cols = self.cols
        new = np.asarray(accepted_points, dtype=np.int64) - cols.seen_accepted_points
        played = np.flatnonzero((new > 0) & (cols.playing >= 0))
        np.add.at(self.stock_points, (played, cols.playing[played]), new[played])
        cols.seen_accepted_points[:] = accepted_points
        epoch = self.accounts.epoch
        every = self.adaptation.review_every_epochs
        rows = np.arange(len(cols))
        learners = rows[cols.active & (cols.learner == rows)]
        due = learners[(epoch - cols.joined_epoch[learners]) % every == every - 1]
        left = added = 0
        if due.size:
            observed = self._observe(due)
            added = self.grow(due, observed, rng)
            left = self._leave(due)
            redraw = cols.active & np.isin(cols.learner, due)
            cols.needs_draw[redraw] = True
        self._draw(rng)
        self.added_total += added
        self.joined_total += added  # identities added join like newcomers
        return left, added

    def _observe(self, due: np.ndarray) -> np.ndarray:
        """Realised return on cost of each strategy the due learners' rows played since
        their last review (learners × strategies, NaN: not played); updates the estimates
        and the Hedge weights and starts a new period."""
        hp = self.hedge
        assert hp is not None
        cols = self.cols
        pos = np.full(len(cols), -1, dtype=np.int64)
        pos[due] = np.arange(due.size)
        members = np.flatnonzero(cols.active & (pos[cols.learner] >= 0) & (cols.playing >= 0))
        size = due.size * N_STRATEGIES
        income = cols.income_usd[members] - cols.review_income_usd[members]
        cost = cols.cost_usd[members] - cols.review_cost_usd[members]
        playing = cols.playing[members].astype(np.int64)
        key = pos[cols.learner[members]] * N_STRATEGIES + playing
        cst = np.bincount(key, weights=cost, minlength=size).reshape(due.size, -1)
        earned = income[:, None] * income_split(self.stock_points[members], playing)
        keys = (key - playing)[:, None] + np.arange(N_STRATEGIES)
        inc = np.bincount(keys.ravel(), weights=earned.ravel(), minlength=size)
        inc = inc.reshape(due.size, -1)
        observed = H.realised_return(inc, cst, hp.return_cap)
        observed[:, S_LEAVE] = 0.0  # sitting out returns nothing and costs nothing
        opened = self.learner_open(due)
        est = H.update_estimates(self.estimates[due], observed, hp.estimate_weight)
        self.estimates[due] = est
        self.log_weights[due] = H.hedge_update(self.log_weights[due], est, opened, hp.learning_rate)
        cols.review_income_usd[members] = cols.income_usd[members]
        cols.review_cost_usd[members] = cols.cost_usd[members]
        self.stock_points[members] *= STOCK_DECAY_PER_REVIEW
        return observed

    def grow(self, due: np.ndarray, observed: np.ndarray, rng: np.random.Generator) -> int:
        """Hook: learners that add identities after their review (sybil operators)."""
        return 0

    def _leave(self, due: np.ndarray) -> int:
        """Learners whose probability of ``leave`` reached ``exit_share`` leave for good,
        with every row that plays by them. Returns the rows that left."""
        a, hp = self.adaptation, self.hedge
        assert a is not None and hp is not None
        probs = H.hedge_probabilities(self.log_weights[due], self.learner_open(due), hp.exploration)
        quitting = due[probs[:, S_LEAVE] >= a.exit_share]
        if quitting.size == 0:
            return 0
        cols = self.cols
        gone = cols.active & np.isin(cols.learner, quitting)
        cols.active[gone] = False
        cols.left_epoch[gone] = self.accounts.epoch
        self.on_leave(np.flatnonzero(gone))
        self.left_total += int(gone.sum())
        return int(gone.sum())

    def _draw(self, rng: np.random.Generator) -> None:
        """Rows flagged ``needs_draw`` draw their strategy from their learner's play
        probabilities (one uniform each, from the adaptation stream)."""
        hp = self.hedge
        assert hp is not None
        cols = self.cols
        rows = np.flatnonzero(cols.needs_draw & cols.active)
        cols.needs_draw[:] = False
        rows = rows[cols.playing[rows] >= 0]
        if rows.size == 0:
            return
        lrn = cols.learner[rows]
        probs = H.hedge_probabilities(self.log_weights[lrn], self.learner_open(lrn), hp.exploration)
        code = H.sample_strategies(probs, rng)
        cols.playing[rows] = np.where(code >= 0, code, S_LEAVE).astype(np.int8)

    # -- outputs -----------------------------------------------------------------------
    def playing_counts(self) -> np.ndarray:
        """Active rows playing each strategy (individuals, one count per strategy)."""
        cols = self.cols
        p = cols.playing[cols.active & (cols.playing >= 0)].astype(np.int64)
        return np.bincount(p, minlength=N_STRATEGIES)[:N_STRATEGIES].astype(np.float64)


def income_split(stock_points: np.ndarray, playing: np.ndarray) -> np.ndarray:
    """Share of each row's income earned by each strategy (rows × strategies): its stock of
    accepted points of each strategy over its whole stock; all to the strategy it plays
    when it has no stock (fractions, rows sum to 1)."""
    total = stock_points.sum(axis=1, keepdims=True)
    own = np.zeros_like(stock_points)
    own[np.arange(playing.size), playing] = 1.0
    split = np.divide(stock_points, total, out=np.zeros_like(stock_points), where=total > 0)
    return np.where(total > 0, split, own)


def hedge_mean(log_weights: np.ndarray, opened: np.ndarray, exploration: float) -> np.ndarray:
    """Mean play probabilities of learners (one value per strategy)."""
    return H.hedge_probabilities(log_weights, opened, exploration).mean(axis=0)


def strategy_shares(role_sets: tuple[AdversarySet, ...]) -> dict[str, float]:
    """Share of the active adversary identities playing each strategy this epoch
    (``adversary_strategy_share_<strategy>``, fraction; NaN with no active identity)."""
    counts = np.zeros(N_STRATEGIES)
    for rs in role_sets:
        counts += rs.playing_counts()
    total = counts.sum()
    shares = counts / total if total > 0 else np.full(N_STRATEGIES, np.nan)
    return {
        f"adversary_strategy_share_{s}": float(v) for s, v in zip(STRATEGIES, shares, strict=True)
    }
