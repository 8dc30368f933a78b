"""The retrieval trail: which training points answered the epoch's inferences.

A kNN inference *is* its K retrieved neighbours, so per-inference (retrieval) attribution
credits each inference's fee to the points that answered it. Simulating every query of a
busy epoch would cost O(inferences); instead each model simulates a bounded sample of
queries (``attribution.max_queries_per_model``) of each sort — honest queries are clean
draws from the task, wash queries sit on the wash consumers' own points — and scales the
sample's credit to the fees actually paid.

Work is done once per change: with ``attribution.trail_every_epochs`` = N > 1 queries are
simulated every N epochs and whenever a model has retrained since its last simulation; with
N = 0 (the default) only when it has retrained, once per model version. On the epochs
between, each model's fees are credited in the proportions of its last trail
(:class:`RetrievalTrail` keeps them). This changes what is sampled, not what is expected: a
model answers a query the same way until it retrains, so a trail drawn once per version has
the expectation of a fresh trail every epoch (``tests/sim/test_trail.py`` checks it); only
its variance across epochs of one version is higher. The queries' own distribution must not
have moved either, so a trail is also redrawn when it has (:func:`query_source`): honest
queries when concept drift activated new regions of the task, wash queries when the wash
consumers changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ledgerlab.agents.builders import BuilderSet
from ledgerlab.economics import attribution as attr
from ledgerlab.scenarios.schema import Attribution
from ledgerlab.sim.chain import payout_tx_count
from ledgerlab.sim.flows import DatanetFees
from ledgerlab.sim.world import DatanetState


@dataclass(frozen=True)
class TrailShape:
    """One simulated trail of a model: what a token of its fees credits to each of its
    training points (summing to 1), and the mean distinct owners among a query's K
    neighbours (the transfers one inference needs under a ``stream`` payout policy).

    Attributes:
        trained_epoch: The epoch the model was trained (a retrain makes the shape stale).
        credit: Credit per training row of the model, per token of fees.
        distinct_owners: Mean distinct owners per query (contributors).
        source: What the queries were drawn from (:func:`query_source`; a change makes the
            shape stale).
    """

    trained_epoch: int
    credit: np.ndarray
    distinct_owners: float
    source: object = None


def query_source(wash: bool, state: DatanetState, wash_accounts: np.ndarray) -> object:
    """A key of the distribution queries of one sort are drawn from: the wash consumers
    (their points are the wash queries), or the task's active regions per class (concept
    drift adds regions; None for a task without them)."""
    if wash:
        return np.sort(wash_accounts).tobytes()
    regions = getattr(getattr(state.task, "spec", None), "active_regions", None)
    epoch = getattr(state.task, "epoch", None)
    return regions(epoch) if callable(regions) and epoch is not None else None


@dataclass
class RetrievalTrail:
    """The last simulated trail of each model and sort of query, reused between
    simulations (see the module docstring).

    Attributes:
        params: The scenario's ``attribution`` section (sample size, cadence, weights).
        shapes: Last trail per :meth:`key`.
    """

    params: Attribution
    shapes: dict[tuple[int, int, bool], TrailShape] = field(default_factory=dict)

    def key(self, builders: BuilderSet, row: int, wash: bool) -> tuple[int, int, bool]:
        """Cache key of builder ``row``'s trail of one sort. Once per model version
        (``trail_every_epochs`` = 0) the version, (datanet, trained epoch): builders of one
        datanet that retrained together share one fit (``sim.phases.train``), so they share
        its trail too. Otherwise the builder row (datanet -1), each drawing its own."""
        if self.params.trail_every_epochs == 0:
            cols = builders.cols
            return int(cols.datanet[row]), int(cols.trained_epoch[row]), wash
        return -1, row, wash

    def forget_old_versions(self, builders: BuilderSet) -> None:
        """Drop the trails of model versions no builder serves any more (once per version,
        the cache would otherwise keep every version of the run)."""
        if self.params.trail_every_epochs != 0:
            return
        cols = builders.cols
        live = set(zip(cols.datanet.tolist(), cols.trained_epoch.tolist(), strict=True))
        for key in [k for k in self.shapes if (k[0], k[1]) not in live]:
            del self.shapes[key]

    def credit_fees(
        self,
        epoch: int,
        builders: BuilderSet,
        datanets: list[DatanetState],
        fees: list[DatanetFees],
        demand: tuple[np.ndarray, np.ndarray, np.ndarray],
        wash_accounts: np.ndarray,
        rng: np.random.Generator,
    ) -> float:
        """Credit each model's contributor fees to the points that answered its queries,
        into ``fees[d].credit`` (and ``credit_independent`` for independent queries).

        Args:
            demand: Per builder row: (independent inferences, wash inferences, contributor
                fees in tokens).
            wash_accounts: The wash consumers' accounts (their points are the wash queries').
            rng: The queries' stream.

        Returns:
            Expected (inference, contributor) pairs credited: the payout transfers a
            ``stream`` policy needs.
        """
        b = builders
        inf_b, wash_b, contrib_b = demand
        owner_pairs = 0.0
        self.forget_old_versions(b)
        for row in range(len(b)):  # builders are few
            if b.models[row] is None:
                continue
            total = inf_b[row] + wash_b[row]
            if total <= 0:
                continue
            _, _, rows = b.models[row]
            # a window of consecutive rows (the usual case): a slice, not a gather
            at: np.ndarray | slice = rows
            if rows.size and int(rows[-1]) - int(rows[0]) + 1 == rows.size:
                at = slice(int(rows[0]), int(rows[-1]) + 1)
            d = int(b.cols.datanet[row])
            credit_per_inf = contrib_b[row] / total
            for n_inf, wash in ((inf_b[row], False), (wash_b[row], True)):
                if n_inf <= 0:
                    continue
                shape = self._shape(epoch, b, row, wash, n_inf, datanets[d], wash_accounts, rng)
                if shape is None:
                    continue
                credit = shape.credit * (credit_per_inf * n_inf)
                fees[d].credit[at] += credit
                if not wash:
                    fees[d].credit_independent[at] += credit
                owner_pairs += shape.distinct_owners * n_inf
        return owner_pairs

    def _shape(
        self,
        epoch: int,
        builders: BuilderSet,
        row: int,
        wash: bool,
        n_inf: float,
        state: DatanetState,
        wash_accounts: np.ndarray,
        rng: np.random.Generator,
    ) -> TrailShape | None:
        """The trail of builder ``row``'s queries of one sort: the cached one, or a new
        simulation when it is stale (on the cadence, after a retrain, or when the queries'
        source moved)."""
        key = self.key(builders, row, wash)
        shape = self.shapes.get(key)
        every = self.params.trail_every_epochs
        source = query_source(wash, state, wash_accounts)
        stale = (
            shape is None
            or shape.trained_epoch != builders.cols.trained_epoch[row]
            or (every > 0 and epoch % every == 0)
            or shape.source != source
        )
        if stale:
            n_q = int(min(n_inf, self.params.max_queries_per_model))
            shape = self.simulate(builders, row, wash, n_q, state, wash_accounts, rng)
            if shape is not None:
                shape = replace(shape, source=source)
                self.shapes[key] = shape
        return shape

    def simulate(
        self,
        builders: BuilderSet,
        row: int,
        wash: bool,
        n_q: int,
        state: DatanetState,
        wash_accounts: np.ndarray,
        rng: np.random.Generator,
    ) -> TrailShape | None:
        """Simulate ``n_q`` queries on builder ``row``'s model: the credit each of its
        training points earns per token of fees, and the mean distinct owners per query.
        None: a wash trail with no wash consumer's point in the model."""
        _, knn, rows = builders.models[row]
        if wash:
            own = rows[np.isin(state.store.owner[rows], wash_accounts)]
            if own.size == 0:
                return None
            pick = own[rng.integers(0, own.size, size=n_q)]
            q = state.store.x[pick] + 1e-6 * rng.standard_normal((n_q, state.spec.n_features))
        else:
            q, _ = state.task.sample(n_q, rng)
        dist, idx = knn.neighbours(q)
        credit = attr.retrieval(
            idx,
            np.full(n_q, 1.0 / n_q),
            rows.size,
            weights=self.params.retrieval_weights,
            distances=dist,
        )
        owners = state.store.owner[rows[idx]]
        distinct = payout_tx_count("stream", owners) / n_q
        return TrailShape(int(builders.cols.trained_epoch[row]), credit, distinct)
