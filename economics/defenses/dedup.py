"""Deduplication: refuse exact and near copies of points already contributed.

Why: the cheapest farming strategies re-upload someone else's data (``duplicate``) or a
slightly jittered copy of it (``near_duplicate``) and collect attribution for it. The first
contributor of a point keeps the credit:

* **exact duplicate** — the point's content hash (:func:`content_hash`) equals that of an
  earlier point: one already accepted (any owner, including the same owner re-uploading its
  own point) or one earlier in the same batch (the first occurrence in batch order keeps);
* **near duplicate** — the point lies at Euclidean distance ``< ε`` (``near_duplicate_distance``, in
  feature units) from an earlier point of a *different* owner: an accepted point, or a point
  earlier in the same batch that is not itself an exact duplicate (a refused copy does not
  make its neighbours near duplicates — its original already counts). Near duplicates in the
  batch do count as earlier points, so the result never depends on the order in which
  decisions are taken, only on batch order.

Near-duplicate search (documented approach): a KD-tree over the earlier points is queried
with the new points only, ``k`` neighbours at a time with ``distance_upper_bound = ε``
(scipy's bound is strict, matching ``< ε``). Neighbours come sorted by distance, so the first
one that qualifies (different owner, and earlier in the batch for the within-batch tree) is
the nearest qualifying one. A row is re-queried with ``k`` four times larger only when all of
its ``k`` neighbours are within ε and none qualifies (e.g. a dense cluster of the owner's own
points) — a loop over a handful of rounds, never over points. Within-batch duplicates use a
small tree built over the new batch.

Known false-positive mode: an honest point that happens to fall within ε of another owner's
point is refused (rare when ε is well below the typical nearest-neighbour spacing of honest
data; frequent for low-dimensional or discrete features). Known false negatives: a jitter
larger than ε; an owner jittering copies of *its own* points (same owner is exempt from the
near check by design).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from ledgerlab.economics.defenses.base import (
    BoolArray,
    DefenseInputError,
    FloatArray,
    IntArray,
    ScreenResult,
    as_features,
    as_int_vector,
    check_bool,
    check_float,
    same_length,
)

__all__ = [
    "CopyIndex",
    "DedupParams",
    "content_hash",
    "screen_duplicates",
]

_FIRST_K = 4
"""Neighbours asked for in the first round of the near-duplicate search."""
_K_GROWTH = 4
"""Factor by which ``k`` grows for rows still unresolved after a round."""


@dataclass(frozen=True)
class DedupParams:
    """Parameters of the duplicate screen (defaults match the scenario schema's ``dedup``
    section)."""

    near_duplicate_distance: float = 0.05
    """ε: points closer than this to another owner's earlier point are near duplicates
    (feature units, Euclidean distance, >= 0; 0 switches the near check off like
    ``near=False``; set it well below the nearest-neighbour spacing of honest data)."""
    exact: bool = True
    """Refuse exact copies (same content hash as an earlier point)."""
    near: bool = True
    """Refuse near copies (within ε of an earlier point of a different owner)."""

    def __post_init__(self) -> None:
        cls = type(self).__name__
        object.__setattr__(self, "exact", check_bool(cls, "exact", self.exact))
        object.__setattr__(self, "near", check_bool(cls, "near", self.near))
        eps = check_float(cls, "near_duplicate_distance", self.near_duplicate_distance, 0.0)
        object.__setattr__(self, "near_duplicate_distance", eps)


# --------------------------------------------------------------------------------------
# content hash
# --------------------------------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _splitmix64(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64 finaliser, element-wise (uint64 arithmetic wraps modulo 2**64)."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def content_hash(
    x: npt.ArrayLike, y: npt.ArrayLike | None = None, decimals: int | None = None
) -> npt.NDArray[np.uint64]:
    """64-bit content hash of each point (its feature bits, and its label if given).

    Each feature's IEEE-754 bit pattern (``-0.0`` read as ``0.0``) is salted with its column
    index and mixed with SplitMix64; the column hashes are summed modulo 2**64 and mixed once
    more. Equal points hash equally; two different points collide with probability ≈ 2**-64.
    With ``decimals``, features are first rounded to that many decimals, so points equal up
    to float round-off hash equal (the simulation's datanets hash at 9 decimals: any jitter
    above ~1e-9 changes the hash). Cost O(n·d), vectorised.

    Args:
        x: features, float[n, d].
        y: labels, int[n], or None to hash the features only.
        decimals: round features to this many decimals first; None = exact bits.

    Returns:
        uint64[n].
    """
    op = "content_hash"
    xv = as_features(op, "x", x)
    if decimals is not None:
        xv = np.round(xv, decimals)
    n, d = xv.shape
    cols = [np.ascontiguousarray(xv + 0.0).view(np.uint64)]
    if y is not None:
        yv = as_int_vector(op, "y", y, low=None)
        same_length(op, x=xv, y=yv)
        cols.append(yv.view(np.uint64)[:, None])
    bits = np.hstack(cols) if len(cols) > 1 else cols[0]
    salt = (np.arange(1, bits.shape[1] + 1, dtype=np.uint64) * _GOLDEN)[None, :]
    mixed = _splitmix64(bits + salt)
    total = np.sum(mixed, axis=1, dtype=np.uint64) + np.uint64(d)
    return _splitmix64(total).reshape(n)


# --------------------------------------------------------------------------------------
# screen
# --------------------------------------------------------------------------------------


def _in_sorted_or_not(needles: np.ndarray, haystack: np.ndarray) -> BoolArray:
    """``np.isin(needles, haystack)``; O(n log m) by binary search when ``haystack`` is
    already sorted (checked in O(m)), else numpy's sort-based ``isin``."""
    if haystack.size == 0 or needles.size == 0:
        return np.zeros(needles.shape, dtype=np.bool_)
    if haystack.size < 2 or bool(np.all(haystack[1:] >= haystack[:-1])):
        pos = np.searchsorted(haystack, needles)
        pos = np.minimum(pos, haystack.size - 1)
        return haystack[pos] == needles
    return np.isin(needles, haystack)


def _nearest_qualifying(
    tree: cKDTree,
    ref_owner: IntArray,
    q_x: FloatArray,
    q_owner: IntArray,
    eps: float,
    ref_order: IntArray | None = None,
    q_order: IntArray | None = None,
) -> FloatArray:
    """Distance from each query to its nearest tree point within ``eps`` (strict) that has a
    different owner — and, when ``ref_order``/``q_order`` (batch positions of the tree points
    and of the queries) are given, that comes earlier in the batch. ``inf`` where none."""
    n_ref = tree.n
    best = np.full(len(q_x), np.inf)
    todo = np.arange(len(q_x))
    k = min(_FIRST_K, n_ref)
    while todo.size and k > 0:  # a handful of rounds; each round is one vectorised query
        dist, idx = tree.query(q_x[todo], k=k, distance_upper_bound=eps)
        dist = dist.reshape(len(todo), k)
        idx = idx.reshape(len(todo), k)
        found = idx < n_ref
        j = np.where(found, idx, 0)
        ok = found & (ref_owner[j] != q_owner[todo][:, None])
        if ref_order is not None and q_order is not None:
            ok &= ref_order[j] < q_order[todo][:, None]
        best[todo] = np.where(ok, dist, np.inf).min(axis=1)
        unresolved = ~ok.any(axis=1) & found[:, -1]
        if k >= n_ref:
            break
        todo = todo[unresolved]
        k = min(k * _K_GROWTH, n_ref)
    return best


def screen_duplicates(
    new_x: npt.ArrayLike,
    new_hash: npt.ArrayLike,
    new_owner: npt.ArrayLike,
    old_x: npt.ArrayLike,
    old_hash: npt.ArrayLike,
    old_owner: npt.ArrayLike,
    params: DedupParams,
    old_tree: cKDTree | None = None,
) -> ScreenResult:
    """Screen a batch of new points for exact and near duplicates of earlier points.

    Earlier points are the accepted set (``old_*``) and the points before each one in the
    batch (for the near check, excluding batch points that are exact duplicates). The first occurrence keeps the credit: only later copies are flagged and refused.
    Severity: 1 for an exact duplicate; ``1 − d/ε`` for a near duplicate at distance ``d`` of
    the nearest earlier point of another owner (a tiny jitter scores ≈ 1); 0 for clean points.
    Reasons: ``"exact"`` or ``"near"`` (exact wins when both apply).

    Cost: O(n_new log n_new) for the batch (hash sort and a tree over the new points) plus
    O(n_new log n_old) for the KD-tree queries of the new points against ``old_tree``, plus
    O(n_old) if ``old_hash`` is sorted (O(n_old log n_old) otherwise — keep it sorted) and
    O(n_old log n_old) to build ``old_tree`` when it is not passed in (build it once per
    epoch and reuse it). Known false-positive mode: an honest point within ε of another
    owner's point is refused as a near duplicate (see the module docstring).

    Args:
        new_x: features of the new points, float[n_new, d] (feature units), in batch order.
        new_hash: content hash of each new point (1-D, e.g. uint64 from :func:`content_hash`).
        new_owner: owner account of each new point (int[n_new]).
        old_x: features of the accepted points, float[n_old, d].
        old_hash: content hashes of the accepted points (1-D, n_old entries, any order; the
            exact check is fastest when sorted).
        old_owner: owner account of each accepted point (int[n_old], aligned with ``old_x``).
        params: the duplicate-screen parameters.
        old_tree: optional ``cKDTree`` built over ``old_x`` (same rows, same order).

    Returns:
        a :class:`ScreenResult` named ``"dedup"`` with one entry per new point.
    """
    op = "screen_duplicates"
    nx = as_features(op, "new_x", new_x)
    d = nx.shape[1]
    ox = as_features(op, "old_x", old_x, n_features=d)
    nh = np.asarray(new_hash)
    oh = np.asarray(old_hash)
    for name, h in (("new_hash", nh), ("old_hash", oh)):
        if h.ndim != 1:
            raise DefenseInputError(f"{op}: {name} must be 1-D, got shape {h.shape}")
    no = as_int_vector(op, "new_owner", new_owner, low=None)
    oo = as_int_vector(op, "old_owner", old_owner, low=None)
    n_new = same_length(op, new_x=nx, new_hash=nh, new_owner=no)
    n_old = same_length(op, old_x=ox, old_hash=oh, old_owner=oo)
    if old_tree is not None:
        if not isinstance(old_tree, cKDTree):
            raise DefenseInputError(
                f"{op}: old_tree must be a scipy.spatial.cKDTree, got {type(old_tree).__name__}"
            )
        if old_tree.n != n_old or (n_old and old_tree.m != d):
            raise DefenseInputError(
                f"{op}: old_tree holds {old_tree.n} points of dimension {old_tree.m}, but "
                f"old_x is {n_old} x {d}; rebuild the tree over old_x"
            )

    exact = np.zeros(n_new, dtype=np.bool_)
    if params.exact and n_new:
        _, first = np.unique(nh, return_index=True)
        exact[:] = True
        exact[first] = False  # first occurrence within the batch keeps
        exact |= _in_sorted_or_not(nh, oh)

    near_dist = np.full(n_new, np.inf)
    if params.near and params.near_duplicate_distance > 0 and n_new:
        eps = params.near_duplicate_distance
        if n_old:
            tree = old_tree if old_tree is not None else cKDTree(ox)
            near_dist = _nearest_qualifying(tree, oo, nx, no, eps)
        keep = np.flatnonzero(~exact)  # refused copies are not references
        if n_new > 1 and keep.size:
            batch_tree = cKDTree(nx[keep])
            within = _nearest_qualifying(
                batch_tree,
                no[keep],
                nx,
                no,
                eps,
                ref_order=keep,
                q_order=np.arange(n_new, dtype=np.int64),
            )
            near_dist = np.minimum(near_dist, within)
    near = np.isfinite(near_dist) & ~exact

    severity = np.zeros(n_new, dtype=np.float64)
    if near.any():
        severity[near] = np.clip(1.0 - near_dist[near] / params.near_duplicate_distance, 0.0, 1.0)
    severity[exact] = 1.0
    flagged = exact | near
    return ScreenResult.from_masks(
        "dedup", ~flagged, flagged, severity, reasons=(("exact", exact), ("near", near))
    )


# --------------------------------------------------------------------------------------
# copy index (the ground truth's provenance check)
# --------------------------------------------------------------------------------------


def _tree(x: FloatArray) -> cKDTree:
    """A KD-tree for existence queries (is any point within a radius?): built with midpoint
    splits, about twice as fast as scipy's default median splits. Which point a query
    finds first can depend on the layout, whether one is found cannot, so the copy index
    answers the same either way."""
    return cKDTree(x, balanced_tree=False, compact_nodes=False)


class CopyIndex:
    """Every point accepted so far, indexed to tell copies from new data.

    Why: a copy adds nothing, so the simulator's yardstick values it at zero whoever made it
    and whoever holds the original — including copies of points that have left the training
    window, and an owner's copies of its own points (which the dedup *defence* exempts).

    A point is a **copy** when an earlier point with the **same label** lies at Euclidean
    distance ``< radius`` (feature units): a point indexed before, or one earlier in the same
    batch (the later one is the copy). A point at the same place with another label is not
    a copy — it contradicts the original, and the ground truth values it as such. Exact
    copies are at distance 0, so ``radius`` > 0 covers them.

    The index is append-only and grows with every accepted point, so it is a log-structured
    forest of KD-trees: each :meth:`add` makes the batch a new tree and merges the newest
    trees while the older is at most twice the newer's size (O(log N) trees; each point is
    re-indexed O(log N) times over a run). Labels are an extra coordinate spaced ``2 ·
    radius`` apart, so one tree serves all classes and different labels are never within
    ``radius``. :meth:`copies` queries each tree once (nearest neighbour within ``radius``)
    and pairs the batch with itself once: vectorised, no loop over points.

    Args:
        radius: Copy distance (feature units, > 0), e.g. the dedup defence's
            ``near_duplicate_distance``.
    """

    def __init__(self, radius: float) -> None:
        self.radius = check_float(
            "CopyIndex", "radius", radius, 0.0, low_open=True, exc=DefenseInputError
        )
        self._levels: list[tuple[FloatArray, cKDTree]] = []

    @property
    def size(self) -> int:
        """Points indexed so far."""
        return sum(x.shape[0] for x, _ in self._levels)

    def _augmented(self, x: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
        xa = as_features("CopyIndex", "x", x)
        ya = as_int_vector("CopyIndex", "y", y, low=None)
        same_length("CopyIndex", x=xa, y=ya)
        return np.hstack([xa, (2.0 * self.radius) * ya[:, None].astype(np.float64)])

    def copies(self, x: npt.ArrayLike, y: npt.ArrayLike) -> BoolArray:
        """For each point of a batch (features [n, d], labels [n], in batch order): whether it
        is a copy of an indexed point or of a point earlier in the batch."""
        xa = self._augmented(x, y)
        out = np.zeros(xa.shape[0], dtype=np.bool_)
        if xa.shape[0] == 0:
            return out
        for _, tree in self._levels:  # O(log N) trees
            dist, _ = tree.query(xa, k=1, distance_upper_bound=self.radius)
            out |= np.isfinite(dist)
        if xa.shape[0] > 1:
            strict = np.nextafter(self.radius, 0.0)  # query_pairs counts distance <= r
            pairs = _tree(xa).query_pairs(strict, output_type="ndarray")
            if pairs.size:
                out[pairs.max(axis=1)] = True  # the later point of each close pair
        return out

    def add(self, x: npt.ArrayLike, y: npt.ArrayLike) -> None:
        """Index a batch of accepted points (features [n, d], labels [n])."""
        xa = self._augmented(x, y)
        if xa.shape[0] == 0:
            return
        self._levels.append((xa, _tree(xa)))
        while len(self._levels) > 1 and self._levels[-2][0].shape[0] <= 2 * xa.shape[0]:
            newer, _ = self._levels.pop()
            older, _ = self._levels.pop()
            xa = np.vstack([older, newer])
            self._levels.append((xa, _tree(xa)))
