"""The learning models a datanet's builders train: k-nearest neighbours and logistic regression.

Why these two: a kNN model answers every inference with the K training points it retrieved,
which is exactly the per-inference attribution trail that retrieval-style attribution pays
(and the model for which exact KNN-Shapley exists); multinomial logistic regression is the
smooth convex model for which influence functions (Koh & Liang 2017) have a closed form, so
it needs per-example gradients and the Hessian of the training objective.

Also here: ``accuracy`` (model quality on the clean held-out set), ``apply_trigger`` and
``attack_success_rate`` (how often a backdoor trigger flips clean points to the target class).

Pure numpy/scipy, nothing imported from the rest of the project. Everything is deterministic:
no random draws at all (L-BFGS starts from zero parameters).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

__all__ = [
    "Classifier",
    "KNNClassifier",
    "KNearestTable",
    "LearningError",
    "LogisticRegression",
    "NotFittedError",
    "accuracy",
    "apply_trigger",
    "attack_success_rate",
    "close_pairs",
    "sorted_member",
    "triggered_points",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CANDIDATE_MARGIN = 1e-9
"""Relative distance past a query's K-th neighbour beyond which no point can be among its
K under another distance kernel's rounding (dimensionless; rounding is ~1e-15)."""


class LearningError(ValueError):
    """Bad input to a learning model or metric (shape, dtype, label range, parameter)."""


class NotFittedError(LearningError):
    """A model was used for inference before ``fit`` was called."""


class Classifier(Protocol):
    """Anything with a ``predict`` returning one integer class label per row."""

    def predict(self, x: npt.ArrayLike) -> IntArray:
        """Predicted class label (int64, shape [n]) for each row of ``x`` [n, d]."""
        ...


# ---------------------------------------------------------------------------------------------
# input checking


def _as_features(x: npt.ArrayLike, what: str, n_features: int | None = None) -> FloatArray:
    """Return ``x`` as a C-contiguous float64 [n, d] array, or raise a LearningError."""
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise LearningError(
            f"{what}: features must be a 2-D array [n_points, n_features], got shape "
            f"{arr.shape}; reshape a single point with x.reshape(1, -1)"
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise LearningError(
            f"{what}: features have {arr.shape[1]} columns but the model was fitted on "
            f"{n_features}; pass points with the same features as the training set"
        )
    if not np.all(np.isfinite(arr)):
        raise LearningError(f"{what}: features contain NaN or infinite values; clean them first")
    return arr


def _as_labels(y: npt.ArrayLike, what: str, n: int, n_classes: int | None = None) -> IntArray:
    """Return ``y`` as an int64 [n] array of labels in [0, n_classes), or raise."""
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise LearningError(
            f"{what}: labels must be a 1-D array with one label per point ({n}), got shape "
            f"{arr.shape}"
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise LearningError(
            f"{what}: labels must be integers (class ids 0..n_classes-1), got dtype {arr.dtype}"
        )
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise LearningError(f"{what}: labels must be >= 0, got minimum {int(arr.min())}")
    if n_classes is not None and arr.size and arr.max() >= n_classes:
        raise LearningError(
            f"{what}: label {int(arr.max())} is out of range for n_classes={n_classes}; "
            "raise n_classes or fix the labels"
        )
    return arr


def _resolve_n_classes(y: IntArray, n_classes: int | None, what: str) -> int:
    """Number of classes: the given value (checked against ``y``) or max(y) + 1."""
    if n_classes is None:
        if y.size == 0:
            raise LearningError(f"{what}: cannot infer n_classes from no labels; pass n_classes")
        return int(y.max()) + 1
    if n_classes < 1:
        raise LearningError(f"{what}: n_classes must be >= 1, got {n_classes}")
    if y.size and int(y.max()) >= n_classes:
        raise LearningError(
            f"{what}: label {int(y.max())} is out of range for n_classes={n_classes}; "
            "raise n_classes or fix the labels"
        )
    return int(n_classes)


# ---------------------------------------------------------------------------------------------
# k-nearest neighbours


class KNNClassifier:
    """k-nearest-neighbour classifier over a scipy ``cKDTree`` (Euclidean distance).

    ``neighbours`` returns, for each query, the indices (rows of the training set passed to
    ``fit``) of the K points that answered it: the per-inference attribution trail.

    Voting is an unweighted majority of the K neighbours. Ties are broken toward the tied class
    whose closest member is nearest to the query (i.e. the earliest in the neighbour order), so
    the result is deterministic and, for K = 2, reduces to 1-NN on a split vote. If the training
    set has fewer than K points, all N points answer (K_eff = min(K, N)).

    Parameters
    ----------
    k:
        Number of neighbours per query (count, >= 1).
    workers:
        Threads for the tree queries (count; -1 = all cores). Results do not depend on it.
    """

    def __init__(self, k: int = 5, workers: int = 1) -> None:
        if int(k) != k or k < 1:
            raise LearningError(f"KNNClassifier: k must be an integer >= 1, got {k!r}")
        if int(workers) != workers or workers == 0 or workers < -1:
            raise LearningError(
                f"KNNClassifier: workers must be a positive thread count or -1, got {workers!r}"
            )
        self.k: int = int(k)
        self.workers: int = int(workers)
        self._tree: cKDTree | None = None
        self._y: IntArray | None = None
        self._n_features: int = 0
        self.n_classes: int = 0

    def fit(
        self, x: npt.ArrayLike, y: npt.ArrayLike, n_classes: int | None = None
    ) -> KNNClassifier:
        """Index the training points ``x`` [N, d] with labels ``y`` [N] (class ids).

        ``n_classes`` defaults to max(y) + 1; pass it when some class may be absent from the
        training data so that ``predict_proba`` keeps one column per class. Returns self.
        """
        xa = _as_features(x, "KNNClassifier.fit")
        if xa.shape[0] == 0:
            raise LearningError("KNNClassifier.fit: the training set is empty; add points first")
        ya = _as_labels(y, "KNNClassifier.fit", xa.shape[0])
        self.n_classes = _resolve_n_classes(ya, n_classes, "KNNClassifier.fit")
        # Large leaves and midpoint splits: on a 10,000-point window in 12-D a tree builds
        # in ~0.7 ms instead of ~1.6 ms (median splits, leaves of 64) and answers queries
        # ~10 % faster. The layout decides only the order of tied points, which
        # ``neighbours`` fixes (distance, then index), so it cannot change a result.
        self._tree = cKDTree(xa, leafsize=256, balanced_tree=False, compact_nodes=False)
        self._y = ya.copy()
        self._n_features = xa.shape[1]
        return self

    @property
    def n_train(self) -> int:
        """Number of training points indexed by the last ``fit`` (0 before fitting)."""
        return 0 if self._y is None else int(self._y.shape[0])

    def _check_fitted(self, what: str) -> tuple[cKDTree, IntArray]:
        if self._tree is None or self._y is None:
            raise NotFittedError(f"KNNClassifier.{what}: call fit(x, y) before inference")
        return self._tree, self._y

    def neighbours(self, x: npt.ArrayLike, k: int | None = None) -> tuple[FloatArray, IntArray]:
        """The K nearest training points of each query row of ``x`` [Q, d].

        Returns ``(dist, idx)``, both [Q, K_eff] with K_eff = min(k or self.k, N): Euclidean
        distances (feature units, ascending along each row) and int64 row indices into the
        training set passed to ``fit``.
        """
        tree, _ = self._check_fitted("neighbours")
        kq = self.k if k is None else k
        if int(kq) != kq or kq < 1:
            raise LearningError(f"KNNClassifier.neighbours: k must be an integer >= 1, got {k!r}")
        k_eff = min(int(kq), self.n_train)
        xq = _as_features(x, "KNNClassifier.neighbours", self._n_features)
        if xq.shape[0] == 0:
            return np.empty((0, k_eff), dtype=np.float64), np.empty((0, k_eff), dtype=np.int64)
        # A tree returns tied points in no set order: ask for one more, redo exactly the
        # rows whose K-th and next distances tie (copies straddling the cut), and order
        # ties by index, so the answer does not depend on the tree's layout.
        extra = min(k_eff + 1, self.n_train)
        # Passing k as a list always yields 2-D results, including k_eff == 1.
        dist, idx = tree.query(xq, k=list(range(1, extra + 1)), workers=self.workers)
        dist, idx = np.asarray(dist, dtype=np.float64), np.asarray(idx, dtype=np.int64)
        if extra > k_eff:
            tied = dist[:, k_eff - 1] == dist[:, k_eff]
            dist, idx = dist[:, :k_eff], idx[:, :k_eff]
            if tied.any():
                dist[tied], idx[tied] = self._ties_by_id(tree, xq[tied], k_eff)
        if k_eff > 1 and (dist[:, 1:] == dist[:, :-1]).any():
            order = np.lexsort((idx, dist), axis=1)
            dist, idx = np.take_along_axis(dist, order, 1), np.take_along_axis(idx, order, 1)
        return dist, idx

    def _ties_by_id(self, tree: cKDTree, xq: FloatArray, k_eff: int) -> tuple[FloatArray, IntArray]:
        """The ``k_eff`` nearest training points of queries whose K-th distance is tied, by
        (distance, id), with ``nearest_by_distance_then_id``'s distances, from as few points
        as suffice: a wider tree query finds, for most such queries, every point that can
        be among them (all points up to a distance clearly past the K-th), so the exact
        ordering runs over the union of those candidates; queries whose ties run past the
        wider query (a point copied very many times) are ordered over all points."""
        n = self.n_train
        wide = min(4 * k_eff + 4, n)
        d, i = tree.query(xq, k=list(range(1, wide + 1)), workers=self.workers)
        closed = np.ones(xq.shape[0], dtype=bool)
        if wide < n:  # past the K-th by more than any rounding between distance kernels
            closed = d[:, -1] > d[:, k_eff - 1] * (1.0 + CANDIDATE_MARGIN)
        out_d = np.empty((xq.shape[0], k_eff))
        out_i = np.empty((xq.shape[0], k_eff), dtype=np.int64)
        if closed.any():
            cand = np.unique(i[closed])
            out_d[closed], out_i[closed] = nearest_by_distance_then_id(
                xq[closed], tree.data[cand], cand, k_eff
            )
        if not closed.all():
            members = np.arange(n, dtype=np.int64)
            out_d[~closed], out_i[~closed] = nearest_by_distance_then_id(
                xq[~closed], tree.data, members, k_eff
            )
        return out_d, out_i

    def _votes(self, x: npt.ArrayLike) -> tuple[IntArray, IntArray]:
        """Vote counts [Q, C] and the rank of each class's nearest member [Q, C] (K_eff if none)."""
        _, y = self._check_fitted("predict")
        _, idx = self.neighbours(x)
        labels = y[idx]  # [Q, K_eff]
        q, k_eff = labels.shape
        votes = np.zeros((q, self.n_classes), dtype=np.int64)
        first = np.full((q, self.n_classes), k_eff, dtype=np.int64)
        ranks = np.arange(k_eff, dtype=np.int64)
        for c in range(self.n_classes):  # a handful of classes; vectorised over queries
            hit = labels == c
            votes[:, c] = hit.sum(axis=1)
            first[:, c] = np.where(hit, ranks, k_eff).min(axis=1, initial=k_eff)
        return votes, first

    def predict_proba(self, x: npt.ArrayLike) -> FloatArray:
        """Share of the K_eff neighbours in each class: [Q, n_classes], rows sum to 1."""
        votes, _ = self._votes(x)
        k_eff = min(self.k, self.n_train)
        return votes.astype(np.float64) / float(k_eff)

    def predict(self, x: npt.ArrayLike) -> IntArray:
        """Majority label of the K_eff neighbours (int64 [Q]); ties go to the nearest class."""
        votes, first = self._votes(x)
        k_eff = min(self.k, self.n_train)
        # More votes wins; among equal votes, the smaller first-neighbour rank wins. Present
        # classes have distinct first ranks, so the score has a unique maximum per row.
        score = votes * (k_eff + 1) + (k_eff - first)
        return np.argmax(score, axis=1).astype(np.int64)


class KNearestTable:
    """The nearest points of a changing reference set to fixed query points, kept up to date
    by each change rather than recomputed: work once per change.

    Why: the ground truth asks, every epoch, for the K nearest training-window points of each
    of its thousands of validation points; between epochs the window changes by a batch in
    and the oldest points out, and a KD-tree query in ~10-D costs ~20 µs a point. So the
    table keeps each query's nearest ``depth`` (> K) points and what it knows exactly: a
    query's first ``known`` entries are exactly its nearest members. A member leaving shifts
    the entries up (``known`` falls by one); a joining point closer than the last known entry
    is merged in (``known`` grows). Only queries left knowing fewer than K are recomputed,
    from all members — rarely, since ``known`` starts at ``depth`` and drifts both ways.

    Order is by distance, then id (ties go to the lower id, the earlier point). Slots hold id
    −1 at distance +inf beyond what is known.

    Args:
        queries: The fixed query points [M, d] (feature units).
        k: Neighbours guaranteed exact after :meth:`sync` (count, >= 1).
        depth: Neighbours kept per query (count, >= k); default 3k.
    """

    def __init__(self, queries: npt.ArrayLike, k: int, depth: int | None = None) -> None:
        self.queries = _as_features(queries, "KNearestTable")
        if int(k) != k or k < 1:
            raise LearningError(f"KNearestTable: k must be an integer >= 1, got {k!r}")
        self.k = int(k)
        self.cap = 3 * self.k if depth is None else int(depth)
        if self.cap < self.k:
            raise LearningError(f"KNearestTable: depth must be >= k, got {depth!r}")
        m = self.queries.shape[0]
        self.dist = np.full((m, self.cap), np.inf)
        """Distances of each query's nearest members, ascending [M, depth] (feature units)."""
        self.ids = np.full((m, self.cap), -1, dtype=np.int64)
        """Their ids [M, depth] (−1: nothing known)."""
        self.known = np.zeros(m, dtype=np.int64)
        """Leading entries of each row that are exactly its nearest members."""
        self.members = np.zeros(0, dtype=np.int64)
        """The reference ids the table reflects (ascending)."""

    def limit(self) -> FloatArray:
        """Per query: the distance below which every member is in the table (+inf when the
        table holds all members; 0 when it knows nothing)."""
        rows = np.arange(self.known.size)
        last = self.dist[rows, np.maximum(self.known - 1, 0)]
        out = np.where(self.known > 0, last, 0.0)
        return np.where(self.known >= self.members.size, np.inf, out)

    def sync(self, ids: npt.ArrayLike, x: npt.ArrayLike) -> None:
        """Bring the table to the reference set ``ids`` (ascending int ids into the feature
        array ``x``): drop the members that left, merge those that joined, and recompute the
        queries left knowing fewer than K."""
        new = np.asarray(ids, dtype=np.int64)
        xa = np.asarray(x, dtype=np.float64)
        stays, joined_mask = _slid(self.members, new)
        if stays is None:
            stays = sorted_member(self.members, new)
            joined_mask = ~sorted_member(new, self.members)
        left = self.members[~stays]
        joined = new[joined_mask]
        if left.size:
            self._remove(left)
            self.members = self.members[stays]
        if joined.size:
            self.merge(joined, close_pairs(self.queries, xa[joined], self.limit()))
        self.members = new.copy()
        self._refresh(xa)

    def merge(self, ids: npt.ArrayLike, pairs: tuple[IntArray, IntArray, FloatArray]) -> None:
        """Add the points ``ids`` (ascending, all new) as members, given ``pairs`` = (query,
        index into ``ids``, distance) for every pair closer than :meth:`limit` (more are
        ignored): e.g. from :func:`close_pairs`."""
        add = np.asarray(ids, dtype=np.int64)
        q, j, d = pairs
        keep = d < self.limit()[q]
        q, j, d = q[keep], j[keep], d[keep]
        if q.size:
            order = np.lexsort((j, d, q))
            q, j, d = q[order], j[order], d[order]
            first = np.ones(q.size, dtype=bool)
            first[1:] = q[1:] != q[:-1]
            rows = q[first]
            seg = np.cumsum(first) - 1
            pos = np.arange(q.size) - np.flatnonzero(first)[seg]
            width = int(pos.max()) + 1
            cand_d = np.full((rows.size, width), np.inf)
            cand_i = np.full((rows.size, width), -1, dtype=np.int64)
            cand_d[seg, pos] = d
            cand_i[seg, pos] = add[j]
            self._put(
                rows,
                np.hstack([self.dist[rows], cand_d]),
                np.hstack([self.ids[rows], cand_i]),
                ids_follow=not self.members.size or bool(add[0] > self.members[-1]),
            )
            self.known[rows] = np.minimum(self.cap, self.known[rows] + np.bincount(seg))
        if self.members.size and add.size and add[0] <= self.members[-1]:
            self.members = np.union1d(self.members, add)
        else:  # the usual case: new ids follow the old ones
            self.members = np.concatenate([self.members, add])

    def _put(
        self, rows: IntArray, dist: FloatArray, ids: IntArray, ids_follow: bool = False
    ) -> None:
        """Rows ``rows`` become the first ``depth`` of (dist, ids) by (distance, id).

        ``ids_follow``: each row is two runs already in (distance, id) order, the second's
        ids above the first's (new points merged into a row): a stable sort by distance
        alone then gives the same order, for about half the work of sorting by both."""
        if ids_follow:
            order = np.argsort(dist, axis=1, kind="stable")[:, : self.cap]
        else:
            key_i = np.where(ids < 0, np.iinfo(np.int64).max, ids)
            order = np.lexsort((key_i, dist), axis=1)[:, : self.cap]
        self.dist[rows] = np.take_along_axis(dist, order, axis=1)
        self.ids[rows] = np.take_along_axis(ids, order, axis=1)

    def _remove(self, left: IntArray) -> None:
        """Drop the members ``left`` (ascending) from every row that holds one."""
        if self.members.size >= left.size and np.array_equal(self.members[: left.size], left):
            # the usual case, the oldest members leave: every id held is a member, so the
            # ones that left are exactly those up to the last of them
            gone = (self.ids >= 0) & (self.ids <= left[-1])
        else:
            gone = sorted_member(self.ids, left)
        rows = np.flatnonzero(gone.any(axis=1))
        if rows.size == 0:
            return
        g = gone[rows]
        # Rows are in (distance, id) order with empty slots last, so dropping entries keeps
        # the order of the rest: move them forward (a stable sort of the drop mask) instead
        # of sorting again; the dropped become empty slots at the end.
        order = np.argsort(g, axis=1, kind="stable")
        dist = np.where(g, np.inf, self.dist[rows])
        ids = np.where(g, -1, self.ids[rows])
        self.dist[rows] = np.take_along_axis(dist, order, axis=1)
        self.ids[rows] = np.take_along_axis(ids, order, axis=1)
        self.known[rows] -= g.sum(axis=1)

    def _refresh(self, x: FloatArray) -> None:
        """Recompute, from all members, the queries that know fewer than K (or than all
        members, when there are fewer)."""
        rows = np.flatnonzero(self.known < min(self.k, self.members.size))
        if rows.size:
            self.recompute(rows, x)

    def recompute(self, which: npt.ArrayLike, x: npt.ArrayLike) -> None:
        """Recompute the queries ``which`` (row indices) from all members (ids into the
        feature array ``x``): each then knows exactly its nearest min(depth, members)."""
        rows = np.asarray(which, dtype=np.int64)
        xa = np.asarray(x, dtype=np.float64)
        n = self.members.size
        if rows.size == 0 or n == 0:
            return
        kk = min(self.cap, n)
        xm = xa[self.members]
        if rows.size * n <= (1 << 22):  # few queries: one distance block beats a tree
            d, i = self._exact(self.queries[rows], xm, kk)
        else:
            # a tree returns tied points in no set order: ask for one more, and redo exactly
            # the rows whose kk-th and next distances tie (duplicates straddling the cut)
            extra = min(kk + 1, n)
            d, idx = cKDTree(xm, leafsize=64).query(self.queries[rows], k=list(range(1, extra + 1)))
            i = self.members[idx]
            tied = d[:, kk - 1] == d[:, kk] if extra > kk else np.zeros(rows.size, dtype=bool)
            d, i = d[:, :kk], i[:, :kk]
            if tied.any():
                d[tied], i[tied] = self._exact(self.queries[rows[tied]], xm, kk)
        pad = self.cap - kk
        self._put(
            rows,
            np.hstack([d, np.full((rows.size, pad), np.inf)]),
            np.hstack([i, np.full((rows.size, pad), -1, dtype=np.int64)]),
        )
        self.known[rows] = kk

    def _exact(self, queries: FloatArray, xm: FloatArray, kk: int) -> tuple[FloatArray, IntArray]:
        """The ``kk`` nearest members of each query by (distance, id), from one distance
        block: ties at the cut go to the lower id, as everywhere in this table."""
        return nearest_by_distance_then_id(queries, xm, self.members, kk)


def nearest_by_distance_then_id(
    queries: FloatArray, xm: FloatArray, ids: IntArray, kk: int
) -> tuple[FloatArray, IntArray]:
    """The ``kk`` nearest of the points ``xm`` [N, d] (ids ``ids`` [N], ascending) to each
    query [Q, d], by (distance, id), from one distance block: equally distant points go to
    the lower id. Returns (distances [Q, kk], ids [Q, kk])."""
    d = cdist(queries, xm)
    if kk >= d.shape[1]:
        order = np.lexsort((np.broadcast_to(ids, d.shape), d), axis=1)[:, :kk]
        return np.take_along_axis(d, order, axis=1), ids[order]
    # Only entries no farther than each row's kk-th distance can be among its first kk
    # by (distance, id): sort those alone (all of them, so ties at the cut stay by id).
    cut = np.partition(d, kk - 1, axis=1)[:, kk - 1]
    r, c = np.nonzero(d <= cut[:, None])
    dc, ic = d[r, c], ids[c]
    order = np.lexsort((ic, dc, r))
    r, dc, ic = r[order], dc[order], ic[order]
    pos = np.arange(r.size) - np.searchsorted(r, r)  # rank inside its row
    take = pos < kk
    out_d = np.empty((d.shape[0], kk))
    out_i = np.empty((d.shape[0], kk), dtype=np.int64)
    out_d[r[take], pos[take]] = dc[take]
    out_i[r[take], pos[take]] = ic[take]
    return out_d, out_i


def _slid(
    old: IntArray, new: IntArray
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]] | tuple[None, None]:
    """The usual change of a window, fast: when ``new`` is a tail of ``old`` followed by ids
    above all of ``old`` (both ascending), which of ``old`` stay and which of ``new``
    joined, as ``sorted_member`` would say; (None, None) for any other change."""
    if old.size == 0 or new.size == 0:
        return None, None
    start = int(np.searchsorted(old, new[0]))
    kept = old.size - start
    if kept > new.size or not np.array_equal(old[start:], new[:kept]):
        return None, None
    if kept < new.size and kept > 0 and new[kept] <= old[-1]:
        return None, None
    stays = np.zeros(old.size, dtype=bool)
    stays[start:] = True
    joined = np.ones(new.size, dtype=bool)
    joined[:kept] = False
    return stays, joined


def close_pairs(
    queries: npt.ArrayLike, x: npt.ArrayLike, limit: npt.ArrayLike
) -> tuple[IntArray, IntArray, FloatArray]:
    """Every (query, point, distance) with Euclidean distance < ``limit[query]``, from
    distance blocks of bounded size: for merging new points into a :class:`KNearestTable`
    and for finding where they enter the K nearest."""
    qa = np.asarray(queries, dtype=np.float64)
    xa = np.asarray(x, dtype=np.float64)
    lim = np.asarray(limit, dtype=np.float64)
    rows = max(1, (1 << 20) // max(xa.shape[0], 1))
    out_q, out_j, out_d = [], [], []
    for start in range(0, qa.shape[0], rows):  # blocks of queries bound the memory
        d = cdist(qa[start : start + rows], xa)
        close = d < lim[start : start + rows, None]
        flat = np.flatnonzero(close)  # row-major, as np.nonzero, and faster on 2-D
        q, j = np.divmod(flat, d.shape[1])
        out_q.append(q + start)
        out_j.append(j)
        out_d.append(d.ravel()[flat])
    if not out_q:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return (
        np.concatenate(out_q).astype(np.int64),
        np.concatenate(out_j).astype(np.int64),
        np.concatenate(out_d),
    )


def sorted_member(a: npt.ArrayLike, sorted_b: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """For each entry of ``a``: whether it is in the ascending array ``sorted_b`` (binary
    search, O(len(a) log len(b)))."""
    aa, bb = np.asarray(a), np.asarray(sorted_b)
    if bb.size == 0 or aa.size == 0:
        return np.zeros(aa.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(bb, aa), bb.size - 1)
    return bb[pos] == aa


# ---------------------------------------------------------------------------------------------
# multinomial logistic regression


def _log_softmax(z: FloatArray) -> FloatArray:
    """Row-wise log-softmax, stable for any finite logits (shifts by the row maximum)."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _augment(x: FloatArray) -> FloatArray:
    """Append a column of ones (the bias feature): [n, d] -> [n, d + 1]."""
    return np.hstack([x, np.ones((x.shape[0], 1), dtype=np.float64)])


class LogisticRegression:
    """Multinomial logistic regression with an L2 penalty, fitted by L-BFGS-B.

    Objective (what ``fit`` minimises, ``loss`` returns and ``hessian`` differentiates)::

        L(θ) = (1/n) Σ_i −log softmax(x̃_i θ)[y_i]  +  (l2 / 2) ‖θ‖²

    with x̃_i = [x_i, 1] and θ of shape [d + 1, C] (last row = per-class bias). The penalty
    covers the bias too: this keeps the Hessian positive definite (softmax is invariant to
    adding a constant to every logit, which would otherwise leave a flat direction), which the
    influence-function engine needs.

    ``params`` is θ flattened row-major: index j·C + c is feature j (j = d is the bias) for
    class c; p = (d + 1)·C. Fitting starts from θ = 0, so it is deterministic.

    Parameters
    ----------
    l2:
        L2 penalty strength on all parameters (per unit of mean loss, >= 0).
    max_iter:
        Maximum L-BFGS-B iterations (count, >= 1).
    tol:
        Projected-gradient tolerance passed to L-BFGS-B as ``gtol`` (loss units, > 0).
    """

    def __init__(self, l2: float = 1e-2, max_iter: int = 50, tol: float = 1e-8) -> None:
        if not np.isfinite(l2) or l2 < 0:
            raise LearningError(f"LogisticRegression: l2 must be finite and >= 0, got {l2!r}")
        if int(max_iter) != max_iter or max_iter < 1:
            raise LearningError(
                f"LogisticRegression: max_iter must be an integer >= 1, got {max_iter!r}"
            )
        if not np.isfinite(tol) or tol <= 0:
            raise LearningError(f"LogisticRegression: tol must be finite and > 0, got {tol!r}")
        self.l2: float = float(l2)
        self.max_iter: int = int(max_iter)
        self.tol: float = float(tol)
        self.n_classes: int = 0
        self.n_features: int = 0
        self._theta: FloatArray | None = None
        self.n_iter_: int = 0
        self.converged_: bool = False

    # -- parameters ---------------------------------------------------------------------------

    @property
    def n_params(self) -> int:
        """Number of parameters p = (n_features + 1) · n_classes (0 before fitting)."""
        return (self.n_features + 1) * self.n_classes

    @property
    def params(self) -> FloatArray:
        """A copy of the flattened parameters θ (float64 [p]); see the class docstring."""
        return self._theta_checked("params").ravel().copy()

    @params.setter
    def params(self, value: npt.ArrayLike) -> None:
        theta = self._theta_checked("params")
        arr = np.asarray(value, dtype=np.float64)
        if arr.shape != (theta.size,):
            raise LearningError(
                f"LogisticRegression.params: expected a flat array of {theta.size} values, "
                f"got shape {arr.shape}"
            )
        self._theta = arr.reshape(theta.shape).copy()

    def _theta_checked(self, what: str) -> FloatArray:
        if self._theta is None:
            raise NotFittedError(f"LogisticRegression.{what}: call fit(x, y, n_classes) first")
        return self._theta

    # -- core maths ---------------------------------------------------------------------------

    def _objective(
        self, theta_flat: FloatArray, xa: FloatArray, onehot: FloatArray
    ) -> tuple[float, FloatArray]:
        """Mean loss + L2 and its gradient at ``theta_flat`` (augmented features ``xa``)."""
        n = xa.shape[0]
        theta = theta_flat.reshape(xa.shape[1], onehot.shape[1])
        logp = _log_softmax(xa @ theta)
        loss = -float(np.sum(onehot * logp)) / n + 0.5 * self.l2 * float(theta_flat @ theta_flat)
        resid = np.exp(logp) - onehot
        grad = (xa.T @ resid) / n + self.l2 * theta
        return loss, grad.ravel()

    def _prepare(
        self, x: npt.ArrayLike, y: npt.ArrayLike, what: str
    ) -> tuple[FloatArray, FloatArray]:
        """Augmented features and one-hot labels for an already fitted model."""
        self._theta_checked(what)
        xa = _as_features(x, f"LogisticRegression.{what}", self.n_features)
        ya = _as_labels(y, f"LogisticRegression.{what}", xa.shape[0], self.n_classes)
        onehot = np.zeros((xa.shape[0], self.n_classes), dtype=np.float64)
        onehot[np.arange(xa.shape[0]), ya] = 1.0
        return _augment(xa), onehot

    # -- public API ---------------------------------------------------------------------------

    def fit(
        self, x: npt.ArrayLike, y: npt.ArrayLike, n_classes: int | None = None
    ) -> LogisticRegression:
        """Fit θ on features ``x`` [n, d] and labels ``y`` [n] (class ids in [0, n_classes)).

        ``n_classes`` defaults to max(y) + 1; pass it when a class may be missing from the
        training data. Records ``n_iter_`` and ``converged_``. Returns self.
        """
        xa = _as_features(x, "LogisticRegression.fit")
        if xa.shape[0] == 0:
            raise LearningError("LogisticRegression.fit: the training set is empty; add points")
        ya = _as_labels(y, "LogisticRegression.fit", xa.shape[0])
        self.n_classes = _resolve_n_classes(ya, n_classes, "LogisticRegression.fit")
        self.n_features = xa.shape[1]
        self._theta = np.zeros((self.n_features + 1, self.n_classes), dtype=np.float64)
        aug, onehot = self._prepare(xa, ya, "fit")
        result = minimize(
            self._objective,
            np.zeros(self.n_params, dtype=np.float64),
            args=(aug, onehot),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": self.max_iter, "gtol": self.tol},
        )
        self._theta = np.asarray(result.x, dtype=np.float64).reshape(self._theta.shape)
        self.n_iter_ = int(result.nit)
        self.converged_ = bool(result.success)
        return self

    def decision_function(self, x: npt.ArrayLike) -> FloatArray:
        """Logits x̃θ, float64 [n, n_classes]."""
        theta = self._theta_checked("decision_function")
        xa = _as_features(x, "LogisticRegression.decision_function", self.n_features)
        return _augment(xa) @ theta

    def predict_proba(self, x: npt.ArrayLike) -> FloatArray:
        """Class probabilities softmax(x̃θ), float64 [n, n_classes]; rows sum to 1."""
        return np.exp(_log_softmax(self.decision_function(x)))

    def predict(self, x: npt.ArrayLike) -> IntArray:
        """Most probable class (int64 [n]); exact ties go to the smallest class label."""
        return np.argmax(self.decision_function(x), axis=1).astype(np.int64)

    def per_example_loss(self, x: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
        """Cross-entropy −log p(y_i | x_i) of each example (nats, float64 [n]), no penalty."""
        aug, onehot = self._prepare(x, y, "per_example_loss")
        return -np.sum(onehot * _log_softmax(aug @ self._theta_checked("per_example_loss")), 1)

    def loss(self, x: npt.ArrayLike, y: npt.ArrayLike) -> float:
        """Training objective at the current θ: mean cross-entropy + (l2/2)‖θ‖² (nats)."""
        aug, onehot = self._prepare(x, y, "loss")
        if aug.shape[0] == 0:
            raise LearningError("LogisticRegression.loss: no examples given")
        return self._objective(self._theta_checked("loss").ravel(), aug, onehot)[0]

    def gradient(self, x: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
        """Gradient of ``loss`` w.r.t. the flattened θ (float64 [p]), L2 term included."""
        aug, onehot = self._prepare(x, y, "gradient")
        if aug.shape[0] == 0:
            raise LearningError("LogisticRegression.gradient: no examples given")
        return self._objective(self._theta_checked("gradient").ravel(), aug, onehot)[1]

    def per_example_grad(self, x: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
        """Gradient of each example's cross-entropy w.r.t. the flattened θ: float64 [n, p].

        Row i is x̃_i ⊗ (softmax(x̃_i θ) − e_{y_i}), without the L2 term, so the mean of the
        rows equals ``gradient(x, y) − l2 · params``.
        """
        aug, onehot = self._prepare(x, y, "per_example_grad")
        resid = np.exp(_log_softmax(aug @ self._theta_checked("per_example_grad"))) - onehot
        return (aug[:, :, None] * resid[:, None, :]).reshape(aug.shape[0], -1)

    def hessian(self, x: npt.ArrayLike, y: npt.ArrayLike, damping: float = 0.0) -> FloatArray:
        """Hessian of ``loss`` (mean cross-entropy + L2) at the current θ, plus damping·I.

        Returns float64 [p, p] with entry [(j, c), (k, c')] =
        (1/n) Σ_i x̃_ij x̃_ik (p_ic δ_cc' − p_ic p_ic') + (l2 + damping) δ. The cross-entropy
        Hessian does not depend on the labels; ``y`` is validated for a uniform interface.
        ``damping`` (>= 0, same units as l2) is the Koh & Liang damping term.
        """
        if not np.isfinite(damping) or damping < 0:
            raise LearningError(
                f"LogisticRegression.hessian: damping must be finite and >= 0, got {damping!r}"
            )
        aug, _ = self._prepare(x, y, "hessian")
        n, da = aug.shape
        if n == 0:
            raise LearningError("LogisticRegression.hessian: no examples given")
        n_cls = self.n_classes
        prob = np.exp(_log_softmax(aug @ self._theta_checked("hessian")))
        h = np.empty((da, n_cls, da, n_cls), dtype=np.float64)
        for c in range(n_cls):  # loop over a handful of class pairs, vectorised over examples
            for c2 in range(c, n_cls):
                w = prob[:, c] * ((c == c2) - prob[:, c2])
                block = (aug * w[:, None]).T @ aug / n
                h[:, c, :, c2] = block
                h[:, c2, :, c] = block.T
        p = da * n_cls
        out = h.reshape(p, p)
        out[np.diag_indices(p)] += self.l2 + float(damping)
        return out


# ---------------------------------------------------------------------------------------------
# metrics


def accuracy(model: Classifier, x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Share of rows of ``x`` [n, d] whose predicted label equals ``y`` [n] (in [0, 1])."""
    xa = _as_features(x, "accuracy")
    ya = _as_labels(y, "accuracy", xa.shape[0])
    if xa.shape[0] == 0:
        raise LearningError("accuracy: the evaluation set is empty; pass at least one point")
    return float(np.mean(np.asarray(model.predict(xa)) == ya))


def _check_trigger(
    trigger_features: Sequence[int], n_features: int, what: str
) -> npt.NDArray[np.intp]:
    feats = np.asarray(tuple(trigger_features), dtype=np.intp)
    if feats.ndim != 1 or feats.size == 0:
        raise LearningError(f"{what}: trigger_features must be a non-empty sequence of columns")
    if feats.min() < 0 or feats.max() >= n_features:
        raise LearningError(
            f"{what}: trigger_features {tuple(int(f) for f in feats)} must lie in "
            f"[0, {n_features}) (the number of features)"
        )
    if np.unique(feats).size != feats.size:
        raise LearningError(f"{what}: trigger_features has repeated columns: {tuple(feats)}")
    return feats


def apply_trigger(
    x: npt.ArrayLike, trigger_features: Sequence[int], trigger_value: float
) -> FloatArray:
    """A copy of ``x`` [n, d] with ``trigger_value`` (feature units) written into the columns
    ``trigger_features``: the backdoor pattern. The input is not modified."""
    out = _as_features(x, "apply_trigger").copy()
    if not np.isfinite(trigger_value):
        raise LearningError(f"apply_trigger: trigger_value must be finite, got {trigger_value!r}")
    feats = _check_trigger(trigger_features, out.shape[1], "apply_trigger")
    out[:, feats] = float(trigger_value)
    return out


def triggered_points(
    x_clean: npt.ArrayLike,
    y_clean: npt.ArrayLike,
    trigger_features: Sequence[int],
    trigger_value: float,
    target: int,
) -> FloatArray:
    """The points backdoor success is measured on: the clean test points whose true class
    is not ``target``, with the trigger applied (a new array [m, d]). Raises if no such
    point exists."""
    xa = _as_features(x_clean, "attack_success_rate")
    ya = _as_labels(y_clean, "attack_success_rate", xa.shape[0])
    if int(target) != target or target < 0:
        raise LearningError(f"attack_success_rate: target must be a class id >= 0, got {target!r}")
    keep = ya != int(target)
    if not np.any(keep):
        raise LearningError(
            "attack_success_rate: every clean point is already of the target class "
            f"{target}; pass test points of other classes"
        )
    return apply_trigger(xa[keep], trigger_features, trigger_value)


def attack_success_rate(
    model: Classifier,
    x_clean: npt.ArrayLike,
    y_clean: npt.ArrayLike,
    trigger_features: Sequence[int],
    trigger_value: float,
    target: int,
) -> float:
    """Backdoor attack success: among clean test points whose true class is not ``target``,
    the share classified as ``target`` once the trigger is applied (in [0, 1]).

    Points already of the target class are excluded because classifying them as the target is
    not evidence of the backdoor. Raises if no such point exists (:func:`triggered_points`).
    """
    triggered = triggered_points(x_clean, y_clean, trigger_features, trigger_value, target)
    return float(np.mean(np.asarray(model.predict(triggered)) == int(target)))
