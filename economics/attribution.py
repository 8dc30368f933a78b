"""Attribution engines: how much each training point (and so each owner) is credited.

Why: the question ledgerlab answers is whether rewards follow the true value of data. Every
engine here maps a training set (features ``x`` [N, d], labels ``y`` [N], owners [N]) and a
:class:`Utility` (a validation set plus a model kind) to one float64 value per point;
:func:`per_owner` sums those values per owner with ``np.bincount``. The engines range from
free and naive (``uniform``, ``volume``), through what a retrieval protocol can observe per
inference (``retrieval``), to the data-valuation literature (``loo``, exact ``knn_shapley``,
``tmc_shapley``, ``banzhaf``, ``influence``). Each engine's docstring gives its cost and its
known weakness, so a mechanism comparison can say *why* an engine mis-pays.

The kNN utility used by every kNN engine (Jia et al., VLDB 2019)::

    u(S) = (1/M) Σ_v (1/K) Σ_{k ≤ min(K, |S|)} 1[y_{α_k(S, v)} = y_v],     u(∅) = 0,

where α_k(S, v) is the k-th nearest point of S to validation point v (Euclidean distance).
The logistic utility is the validation accuracy of an L2 multinomial logistic regression fit
on S (``economics.learning.LogisticRegression``), with u(∅) = 0.

Neighbour order and ties. All kNN engines rank training points for a query with one shared
routine: squared Euclidean distances Σ_f (x_f − v_f)² computed pair by pair in float64
(``scipy.spatial.distance.cdist``, chunk by chunk), packed with the training index into one
int64 sort key (the distance's bit pattern with its lowest b = ⌈log2 N⌉ mantissa bits
replaced by the index) and sorted. So the order is by distance, **exact ties (e.g.
duplicated points) are broken by the lower training index**, and distances that agree to
within 2^(b−52) relative (≈ 7e-12 at N = 20,000) also count as ties. Sorting one int64 key
is ~2-3× faster than ``np.argsort`` of the float distances (numpy's SIMD sort) and yields
the index tie-break for free; it is what lets exact KNN-Shapley run at about the cost of one
``argsort`` of the distance matrix.

Engines share the signature ``engine(x, y, owners, utility, *, rng=None, **opts)`` and are
registered in :data:`ENGINES`, one :class:`EngineSpec` each: the function plus what a caller
must know to run it (does it need a utility, does it credit inferences rather than value a
training set, which option the scenario's ``attribution.budget`` feeds, which model kind its
utility uses). :func:`compute` dispatches by name; the simulation reads the rest of the entry
instead of testing engine names. Random engines (``tmc_shapley``, ``banzhaf``) draw only
from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.linalg import LinAlgError, solve
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

from ledgerlab.economics.learning import close_pairs

__all__ = [
    "ENGINES",
    "AttributionError",
    "Engine",
    "EngineSpec",
    "UnknownEngineError",
    "Utility",
    "banzhaf",
    "compute",
    "influence",
    "knn_shapley",
    "knn_shapley_arrivals",
    "knn_shapley_arrivals_given",
    "knn_shapley_engine",
    "loo",
    "per_owner",
    "retrieval",
    "retrieval_engine",
    "tmc_shapley",
    "uniform",
    "volume",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Engine = Callable[..., FloatArray]
"""An engine: ``(x, y, owners, utility, *, rng=None, **opts) -> values`` (float64 [N])."""

_CHUNK_ELEMENTS = 1 << 16  # query rows × N per chunk of the exact sort (cache-sized, ~0.5 MB)
_BLOCK_ELEMENTS = 1 << 22  # validation × permutations × positions per TMC block (~16 MB int32)
_SUBSET_ELEMENTS = 1 << 23  # subsets × validation × prefix per Banzhaf batch (~8 MB bool)
_BANZHAF_DRAW_ROWS = 128  # subsets drawn per rng call: fixed, so results do not depend on sizes


class AttributionError(ValueError):
    """Bad input to an attribution engine (shape, dtype, range, missing option or budget)."""


class UnknownEngineError(AttributionError):
    """:func:`compute` was asked for an engine name that is not in :data:`ENGINES`."""


# ---------------------------------------------------------------------------------------------
# input checking


def _features(x: npt.ArrayLike, what: str, n_features: int | None = None) -> FloatArray:
    """``x`` as a finite, C-contiguous float64 [n, d] array, or an AttributionError."""
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise AttributionError(
            f"{what}: features must be a 2-D array [n_points, n_features], got shape "
            f"{arr.shape}; reshape a single point with x.reshape(1, -1)"
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise AttributionError(
            f"{what}: features have {arr.shape[1]} columns but the training set has "
            f"{n_features}; pass validation/query points with the same features"
        )
    if not np.all(np.isfinite(arr)):
        raise AttributionError(f"{what}: features contain NaN or infinite values; clean them")
    return arr


def _labels(y: npt.ArrayLike, what: str, n: int) -> IntArray:
    """``y`` as an int64 [n] array of class labels, or an AttributionError."""
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise AttributionError(
            f"{what}: labels must be a 1-D array with one label per point ({n}), got shape "
            f"{arr.shape}"
        )
    if arr.size and not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == np.bool_):
        raise AttributionError(
            f"{what}: labels must be integer class ids, got dtype {arr.dtype}; "
            "encode classes as integers first"
        )
    return arr.astype(np.int64, copy=False)


def _owners(owners: npt.ArrayLike, what: str, n: int) -> IntArray:
    """``owners`` as an int64 [n] array of non-negative account ids, or an AttributionError."""
    arr = np.asarray(owners)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise AttributionError(
            f"{what}: owners must be a 1-D array with one account id per point ({n}), got "
            f"shape {arr.shape}"
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise AttributionError(f"{what}: owners must be integer account ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < 0:
        raise AttributionError(
            f"{what}: owners must be account ids >= 0, got {int(arr.min())}; "
            "use the ledger's account ids"
        )
    return arr


def _positive_int(value: Any, what: str, name: str) -> int:
    """``value`` as an int >= 1, or an AttributionError naming ``name``."""
    try:
        ok = not isinstance(value, bool) and int(value) == value and value >= 1
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise AttributionError(f"{what}: {name} must be an integer >= 1, got {value!r}")
    return int(value)


def _training_set(
    x: npt.ArrayLike, y: npt.ArrayLike, owners: npt.ArrayLike | None, what: str
) -> tuple[FloatArray, IntArray, IntArray | None]:
    """Validated (features, labels, owners) of a training set."""
    xa = _features(x, what)
    ya = _labels(y, what, xa.shape[0])
    oa = None if owners is None else _owners(owners, what, xa.shape[0])
    return xa, ya, oa


def _require_rng(rng: np.random.Generator | None, what: str) -> np.random.Generator:
    """The caller's Generator, or an AttributionError (never the global random state)."""
    if not isinstance(rng, np.random.Generator):
        raise AttributionError(
            f"{what}: this engine samples at random and needs rng=np.random.default_rng(seed) "
            f"(a numpy Generator derived from the scenario seed); got {type(rng).__name__}"
        )
    return rng


# ---------------------------------------------------------------------------------------------
# the utility


@dataclass(frozen=True, eq=False)
class Utility:
    """What a subset of the training data is worth: a model's performance on a validation set.

    ``model="knn"`` is the kNN utility of the module docstring (soft K-nearest-neighbour
    accuracy); ``model="logistic"`` is the validation accuracy of an L2 multinomial logistic
    regression fit on the subset (and the model that ``influence`` differentiates). The arrays
    are copied and made read-only.

    Attributes
    ----------
    x_val:
        Validation features, float64 [M, d] (feature units, same columns as training data).
    y_val:
        Validation labels, int64 [M] (class ids).
    model:
        Model kind: ``"knn"`` or ``"logistic"``.
    k:
        Neighbours per query of the kNN utility (count, >= 1).
    l2:
        L2 penalty of the logistic model (per unit of mean cross-entropy, >= 0).
    max_iter:
        L-BFGS iterations per logistic fit (count, >= 1).
    n_classes:
        Number of classes of the logistic model (count); ``None`` = 1 + the largest label in
        the training and validation sets.
    """

    x_val: FloatArray
    y_val: IntArray
    model: Literal["knn", "logistic"] = "knn"
    k: int = 5
    l2: float = 1e-2
    max_iter: int = 100
    n_classes: int | None = None

    def __post_init__(self) -> None:
        xv = _features(self.x_val, "Utility.x_val").copy()
        if xv.shape[0] == 0:
            raise AttributionError("Utility.x_val: the validation set is empty; add points")
        yv = _labels(self.y_val, "Utility.y_val", xv.shape[0]).copy()
        xv.flags.writeable = False
        yv.flags.writeable = False
        object.__setattr__(self, "x_val", xv)
        object.__setattr__(self, "y_val", yv)
        if self.model not in ("knn", "logistic"):
            raise AttributionError(
                f"Utility.model: must be 'knn' or 'logistic', got {self.model!r}"
            )
        object.__setattr__(self, "k", _positive_int(self.k, "Utility", "k"))
        if not np.isfinite(self.l2) or self.l2 < 0:
            raise AttributionError(f"Utility.l2: must be finite and >= 0, got {self.l2!r}")
        object.__setattr__(self, "max_iter", _positive_int(self.max_iter, "Utility", "max_iter"))
        if self.n_classes is not None:
            object.__setattr__(
                self, "n_classes", _positive_int(self.n_classes, "Utility", "n_classes")
            )

    @property
    def n_val(self) -> int:
        """Number of validation points M (count)."""
        return int(self.x_val.shape[0])


def _check_utility(
    utility: Utility | None, xa: FloatArray, what: str, model: str | None = None
) -> Utility:
    """The utility, checked against the training features and (optionally) the model kind."""
    if not isinstance(utility, Utility):
        raise AttributionError(
            f"{what}: needs a Utility(x_val, y_val, model=...) describing the validation set, "
            f"got {type(utility).__name__}"
        )
    if utility.x_val.shape[1] != xa.shape[1]:
        raise AttributionError(
            f"{what}: the validation set has {utility.x_val.shape[1]} features but the "
            f"training set has {xa.shape[1]}; use the same feature columns"
        )
    if model is not None and utility.model != model:
        raise AttributionError(
            f"{what}: defined for model={model!r} only, got utility.model={utility.model!r}; "
            f"pass Utility(..., model={model!r}) or choose another engine"
        )
    return utility


# ---------------------------------------------------------------------------------------------
# exact neighbour order (shared by every kNN engine)


def _label_codes(y_train: IntArray, y_query: IntArray) -> tuple[np.ndarray, np.ndarray]:
    """Labels of both sets re-coded to small integers (int8 when < 128 classes) for fast
    gathers and comparisons; equal labels get equal codes."""
    both = np.concatenate([y_train, y_query])
    _, inv = np.unique(both, return_inverse=True)
    n_codes = int(inv.max()) + 1 if inv.size else 1
    dtype = np.int8 if n_codes < 128 else (np.int16 if n_codes < 32_768 else np.int32)
    inv = inv.astype(dtype)
    return inv[: y_train.shape[0]], inv[y_train.shape[0] :]


class _NeighbourOrder:
    """Sorts training points by distance to query points, chunk by chunk (see module doc).

    Keys are the float64 squared distances viewed as int64 (monotone for non-negative
    floats) with the low ``bits`` replaced by the training index: one ``np.sort`` of int64
    gives the order by (distance, index), and ``key & mask`` recovers the index.
    """

    def __init__(self, x_train: FloatArray, x_query: FloatArray) -> None:
        self.n = x_train.shape[0]
        self.n_query = x_query.shape[0]
        self._x_train = x_train
        self._x_query = x_query
        self.bits = max(1, (self.n - 1).bit_length())
        self.mask = np.int64((1 << self.bits) - 1)
        self._index = np.arange(self.n, dtype=np.int64)

    def default_rows(self) -> int:
        """Query rows per chunk so a chunk's [rows, N] arrays stay cache-sized."""
        return max(1, min(self.n_query, _CHUNK_ELEMENTS // max(self.n, 1)))

    def _keys(self, start: int, stop: int, out: FloatArray) -> npt.NDArray[np.int64]:
        """Packed (distance, index) keys of query rows [start, stop) into ``out``."""
        # cdist computes Σ (x − v)² pair by pair in one C loop: exact differences (identical
        # points get bit-identical distances) and no BLAS threads to contend for the cores.
        cdist(self._x_query[start:stop], self._x_train, "sqeuclidean", out=out)
        keys = out.view(np.int64)
        np.bitwise_and(keys, ~self.mask, out=keys)
        np.bitwise_or(keys, self._index, out=keys)
        return keys

    def chunks(
        self, n_first: int | None = None, rows: int | None = None
    ) -> Iterator[tuple[int, int, npt.NDArray[np.int64]]]:
        """Yield ``(start, stop, order)`` per chunk of query rows; ``order`` [rows, n] holds
        the training indices of the ``n = min(n_first, N)`` nearest points (all N when
        ``n_first`` is None), nearest first. The array is reused between chunks."""
        n = self.n if n_first is None else min(int(n_first), self.n)
        rows = self.default_rows() if rows is None else max(1, int(rows))
        buf = np.empty((min(rows, max(self.n_query, 1)), self.n), dtype=np.float64)
        for start in range(0, self.n_query, rows):
            stop = min(start + rows, self.n_query)
            keys = self._keys(start, stop, buf[: stop - start])
            if n >= self.n:
                keys.sort(axis=1)
                head = keys
            else:
                keys.partition(n - 1, axis=1)
                head = np.sort(keys[:, :n], axis=1)
            np.bitwise_and(head, self.mask, out=head)
            yield start, stop, head

    def nearest(self, n_first: int) -> npt.NDArray[np.int64]:
        """Indices of the ``min(n_first, N)`` nearest training points per query [Q, n]."""
        n = min(int(n_first), self.n)
        out = np.empty((self.n_query, n), dtype=np.int64)
        rows = max(1, min(self.n_query, (_CHUNK_ELEMENTS * 4) // max(self.n, 1)))
        for start, stop, order in self.chunks(n, rows):
            out[start:stop] = order
        return out


def _shapley_coefficients(n: int, k: int) -> FloatArray:
    """c_i = min(K, i) / (i K) for ranks i = 1..n (the KNN-Shapley recursion weights)."""
    i = np.arange(1, n + 1, dtype=np.float64)
    return np.minimum(float(k), i) / (i * k)


# ---------------------------------------------------------------------------------------------
# exact KNN-Shapley


def knn_shapley(
    x_train: npt.ArrayLike,
    y_train: npt.ArrayLike,
    x_test: npt.ArrayLike,
    y_test: npt.ArrayLike,
    k: int,
    *,
    chunk_rows: int | None = None,
    n_classes: int | None = None,
) -> FloatArray:
    """Exact KNN-Shapley value of each training point (Jia et al., VLDB 2019), float64 [N].

    For one test point (x, y): sort the training points by distance, α_1 … α_N (ties by
    training index, see the module docstring), m_i = 1[y_{α_i} = y], c_i = min(K, i)/(i K)::

        s_{α_N} = m_N · c_N,      s_{α_i} = s_{α_{i+1}} + (m_i − m_{i+1}) · c_i,

    and the value is the mean of s over the M test points. These are the exact Shapley
    values of the kNN utility u(S) (module docstring) — they sum to u(D) − u(∅) = u(D).
    For N ≥ K, c_N = 1/N and the start is the published s_{α_N} = m_N / N; for N < K the
    utility is additive and the formula gives m_i / K, which the published start (m_N / N)
    would get wrong.

    Vectorised over test points in chunks of ``chunk_rows`` (default: a cache-sized chunk,
    ~65k distances): per chunk one ``cdist`` call for the distances, one int64 sort of packed
    (distance, index) keys, a label gather, the recursion as one cumulative sum
    (s_i = T − Σ_{l<i} d_l with d_l = (m_l − m_{l+1}) c_l and T = Σ_l d_l) and one
    ``bincount`` scatter. ``np.argpartition`` cannot replace the sort: every rank's s_i
    depends on the labels of all farther points, so the full order is needed.

    Cost: O(M · N · (d + log N)) time, O(chunk_rows · N) working memory (~2 MB by default;
    inputs aside), so 20,000 × 5,000 stays far under 1 GB. Measured on the shared 2-core
    machine: ~0.85-1.3 × the time of ``np.argsort`` of the distance matrix alone, ~8 s at
    20,000 × 5,000 under load (benchmarks/bench_attribution.py).

    Parameters
    ----------
    x_train, y_train:
        Training features [N, d] (feature units) and integer class labels [N].
    x_test, y_test:
        Test/validation features [M, d] and labels [M]; M >= 1.
    k:
        Neighbours of the kNN utility (count, >= 1).
    chunk_rows:
        Test points per chunk (count, >= 1); None = automatic. Does not change the result.
    n_classes:
        None: the utility above. C (count, >= 1): the **chance-centred** utility, each
        neighbour's match m counted as m − 1/C, so a label right only by chance is worth 0
        in expectation and u(∅) = 0 means "no better than guessing". The recursion is
        linear in m and the differences m_i − m_{i+1} do not change, so every value shifts by
        the same −c_N / C, and the values sum to the centred u(D) = u(D) − min(K, N)/(K C).
    """
    what = "knn_shapley"
    xt, yt, _ = _training_set(x_train, y_train, None, what)
    xq = _features(x_test, f"{what} (x_test)", xt.shape[1])
    yq = _labels(y_test, f"{what} (y_test)", xq.shape[0])
    kk = _positive_int(k, what, "k")
    if chunk_rows is not None:
        _positive_int(chunk_rows, what, "chunk_rows")
    centre = 0.0 if n_classes is None else 1.0 / _positive_int(n_classes, what, "n_classes")
    n, m_test = xt.shape[0], xq.shape[0]
    if m_test == 0:
        raise AttributionError(f"{what}: the test set is empty; pass at least one test point")
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    code_t, code_q = _label_codes(yt, yq)
    c = _shapley_coefficients(n, kk)
    c_head = c[:-1]
    geometry = _NeighbourOrder(xt, xq)
    rows = geometry.default_rows() if chunk_rows is None else min(chunk_rows, m_test)
    d_buf = np.empty((rows, n), dtype=np.float64)
    prefix_total = 0.0  # Σ over test points of s_{α_1} (= each row's total Σ d_l)
    values = np.zeros(n, dtype=np.float64)
    for start, stop, order in geometry.chunks(None, rows):
        r = stop - start
        match = (code_t[order] == code_q[start:stop, None]).view(np.int8)  # m, rank order
        d = d_buf[:r]
        np.multiply(match[:, :-1] - match[:, 1:], c_head, out=d[:, :-1])
        np.multiply(match[:, -1], c[-1], out=d[:, -1])
        np.cumsum(d, axis=1, out=d)  # d[:, i] = Σ_{l ≤ i} d_l, so s_i = d[:, -1] − d[:, i−1]
        prefix_total += float(d[:, -1].sum())
        d[:, -1] = 0.0
        # Credit −Σ_{l<i} d_l to the point at rank i: in the flat row-major buffers that is
        # order[j] paired with d[j − 1]; row starts pair with the previous row's last entry,
        # zeroed above, so each point at rank 1 gets nothing subtracted.
        values -= np.bincount(order.ravel()[1:], weights=d.ravel()[:-1], minlength=n)
    values += prefix_total  # every training point appears once per test point
    values /= m_test
    if centre:
        values -= c[-1] * centre  # s_{α_N} = (m_N − 1/C)·c_N: every s_i shifts alike
    return values


def knn_shapley_arrivals(
    x_base: npt.ArrayLike,
    y_base: npt.ArrayLike,
    x_new: npt.ArrayLike,
    y_new: npt.ArrayLike,
    x_test: npt.ArrayLike,
    y_test: npt.ArrayLike,
    k: int,
    *,
    n_classes: int | None = None,
) -> FloatArray:
    """Exact Shapley value of each *new* point in what the new points add to a base set,
    float64 [n_new]: the game v(S) = u(B ∪ S) − u(B) over subsets S of the new points, with
    u the kNN utility of :func:`knn_shapley` (chance-centred with ``n_classes``).

    Why: a contribution's value is what it adds to the data that existed when it arrived.
    Points arriving together (one epoch's batch) share that addition by Shapley's rule; the
    base B is always present, so a new point earns only where it enters a test point's K
    nearest neighbours, and then by how much better its label is than the neighbour it
    pushes out (an empty slot counts 0). With an empty base this is :func:`knn_shapley` of
    the new points. The values sum to u(B ∪ new) − u(B).

    Algorithm (derived like Jia et al.'s recursion; checked against brute force in the
    tests). Per test point, let w_1..w_K be the K nearest base points (missing ones at
    infinite distance, worth 0) and R the new points strictly closer than w_K (ties go to the
    base, the earlier data), ranked 1..r by distance then index; new points farther than w_K
    never enter and are worth 0 for it. For a new point of rank ρ with a_ρ base neighbours
    at or before it, the number t of new points ahead of it in a random arrival order is
    uniform on 0..ρ−1, and it displaces w_{K−t} when it is the last new point before the
    base neighbours fill the K slots. With m̃ = match − centre::

        φ_r = 1/(rK) Σ_{t<r, t+a_r<K} (m̃_r − m̃(w_{K−t}))
        φ_ρ = φ_{ρ+1} + 1/(ρK) Σ_{t<ρ} [ m̃_ρ − m̃_{ρ+1}      if t + a_{ρ+1} < K
                                          m̃_ρ − m̃(w_{K−t})   if t + a_ρ < K ≤ t + a_{ρ+1} ]

    The value is the mean over test points. Cost: one KD-tree over the base and a K-nearest
    query per test point, O(M · n_new) distances in chunks, and O(P · K) for the P
    (test point, entering new point) pairs — independent of the base's size beyond the
    tree, so valuing each batch as it arrives stays cheap however large the store grows.

    Parameters
    ----------
    x_base, y_base:
        The data already there [N, d] and its labels [N] (N may be 0).
    x_new, y_new:
        The arriving points [n_new, d] and labels [n_new].
    x_test, y_test:
        Validation points [M, d] and labels [M]; M >= 1.
    k:
        Neighbours of the kNN utility (count, >= 1).
    n_classes:
        None: the plain utility; C: the chance-centred one (see :func:`knn_shapley`).
    """
    what = "knn_shapley_arrivals"
    xb, yb, _ = _training_set(x_base, y_base, None, f"{what} (base)")
    xq = _features(x_test, f"{what} (x_test)")
    kk = _positive_int(k, what, "k")
    if xb.shape[0] and xb.shape[1] != xq.shape[1]:
        raise AttributionError(
            f"{what}: the base has {xb.shape[1]} features but the test set {xq.shape[1]}"
        )
    base_dist = np.full((xq.shape[0], kk), np.inf)
    base_label = np.full((xq.shape[0], kk), -1, dtype=np.int64)
    kb = min(kk, xb.shape[0])
    if kb and xq.shape[0]:
        d, idx = cKDTree(xb).query(xq, k=list(range(1, kb + 1)))
        base_dist[:, :kb] = d
        base_label[:, :kb] = yb[idx]
    return knn_shapley_arrivals_given(
        base_dist, base_label, x_new, y_new, xq, y_test, kk, n_classes=n_classes
    )


def knn_shapley_arrivals_given(
    base_dist: npt.ArrayLike,
    base_label: npt.ArrayLike,
    x_new: npt.ArrayLike,
    y_new: npt.ArrayLike,
    x_test: npt.ArrayLike,
    y_test: npt.ArrayLike,
    k: int,
    *,
    n_classes: int | None = None,
    pairs: tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike] | None = None,
) -> FloatArray:
    """:func:`knn_shapley_arrivals` given each test point's K nearest base points instead of
    the base: their distances ``base_dist`` [M, K] (ascending, feature units; +inf for an
    empty slot when the base has fewer than K points) and labels ``base_label`` [M, K]. For
    a caller that keeps the neighbours up to date as the base changes
    (``economics.learning.KNearestTable``), so valuing a batch costs nothing that grows
    with the base. ``pairs`` = (test index, new index, distance) may pass the distances
    already computed, at least every pair closer than the test point's K-th base
    neighbour (``economics.learning.close_pairs``); by default they are computed here."""
    what = "knn_shapley_arrivals"
    xn = _features(x_new, f"{what} (new)")
    yn = _labels(y_new, f"{what} (new)", xn.shape[0])
    xq = _features(x_test, f"{what} (x_test)", xn.shape[1])
    yq = _labels(y_test, f"{what} (y_test)", xq.shape[0])
    kk = _positive_int(k, what, "k")
    centre = 0.0 if n_classes is None else 1.0 / _positive_int(n_classes, what, "n_classes")
    bd = np.asarray(base_dist, dtype=np.float64)
    bl = np.asarray(base_label)
    if bd.shape != (xq.shape[0], kk) or bl.shape != bd.shape:
        raise AttributionError(
            f"{what}: base_dist and base_label must be [M, K] = [{xq.shape[0]}, {kk}], got "
            f"{bd.shape} and {bl.shape}"
        )
    if xq.shape[0] == 0:
        raise AttributionError(f"{what}: the test set is empty; pass at least one test point")
    if xn.shape[0] == 0:
        return np.zeros(0, dtype=np.float64)
    base_m = np.where(np.isfinite(bd), (bl == yq[:, None]) - centre, 0.0)
    if pairs is None:
        pairs = close_pairs(xq, xn, bd[:, -1])
    test, new, dist = (np.asarray(a) for a in pairs)
    enter = dist < bd[test, -1]  # strictly closer than the K-th base neighbour
    test, new, dist = test[enter].astype(np.int64), new[enter].astype(np.int64), dist[enter]
    order = np.lexsort((new, dist, test))
    test, new, dist = test[order], new[order], dist[order]
    if test.size == 0:
        return np.zeros(xn.shape[0], dtype=np.float64)
    m_new = (yn[new] == yq[test]).astype(np.float64) - centre
    phi = _arrival_values(test, dist, m_new, bd, base_m, kk)
    return np.bincount(new, weights=phi, minlength=xn.shape[0]) / xq.shape[0]


def _arrival_values(
    test: IntArray,
    dist: FloatArray,
    m_new: FloatArray,
    base_dist: FloatArray,
    base_m: FloatArray,
    k: int,
) -> FloatArray:
    """φ per (test, new) pair by the recursion of :func:`knn_shapley_arrivals`, vectorised
    over pairs: a loop over the K slots, then a reverse cumulative sum per test point."""
    p = test.size
    first = np.ones(p, dtype=bool)
    first[1:] = test[1:] != test[:-1]
    starts = np.flatnonzero(first)
    seg = np.cumsum(first) - 1
    rank = np.arange(p) - starts[seg] + 1  # ρ, 1-based within the test point's pairs
    ends = np.append(starts[1:], p)  # one past each segment's last pair
    last = np.arange(p) == ends[seg] - 1
    ahead = (base_dist[test] <= dist[:, None]).sum(axis=1)  # a_ρ: base points at or before
    nxt = np.minimum(np.arange(p) + 1, p - 1)
    ahead_next = np.where(last, k, ahead[nxt])  # the farthest pair has no next new point
    m_next = m_new[nxt]
    inc = np.zeros(p)
    for t in range(k):  # the K neighbour slots; vectorised over pairs
        shown = t < rank
        both = ~last & (t + ahead_next < k)
        alone = (t + ahead < k) & ~both
        displaced = base_m[test, k - t - 1]
        term = np.where(both, m_new - m_next, np.where(alone, m_new - displaced, 0.0))
        inc += np.where(shown, term, 0.0)
    inc /= rank * k
    tail = np.cumsum(inc[::-1])[::-1]  # Σ over this pair and every later pair
    after = np.append(tail, 0.0)[ends[seg]]  # … minus the pairs of later test points
    return tail - after


def _knn_match_prefix(
    xa: FloatArray, ya: IntArray, utility: Utility, n_first: int | None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Order of the ``n_first`` nearest training points per validation point and whether
    each one's label matches: ([M, n], [M, n] bool)."""
    geometry = _NeighbourOrder(xa, utility.x_val)
    order = geometry.nearest(xa.shape[0] if n_first is None else n_first)
    code_t, code_v = _label_codes(ya, utility.y_val)
    return order, code_t[order] == code_v[:, None]


def _knn_utility_full(match_prefix: npt.NDArray[np.bool_], k: int) -> float:
    """u(D) of the kNN utility from the label matches of the (at least K) nearest points."""
    m_val = match_prefix.shape[0]
    return float(np.count_nonzero(match_prefix[:, :k])) / (k * m_val)


# ---------------------------------------------------------------------------------------------
# logistic-regression utility (naive refits)


def _logistic_regression_cls() -> type:
    """``economics.learning.LogisticRegression``, imported on first use."""
    from ledgerlab.economics.learning import LogisticRegression

    return LogisticRegression


def _n_classes(ya: IntArray, utility: Utility, what: str) -> int:
    """Classes of the logistic model: the utility's n_classes or 1 + the largest label."""
    low = min(int(ya.min()) if ya.size else 0, int(utility.y_val.min()))
    if low < 0:
        raise AttributionError(
            f"{what}: the logistic model needs class ids >= 0, got label {low}; re-code labels"
        )
    top = max(int(ya.max()) if ya.size else 0, int(utility.y_val.max())) + 1
    if utility.n_classes is None:
        return top
    if utility.n_classes < top:
        raise AttributionError(
            f"{what}: Utility.n_classes={utility.n_classes} but labels go up to {top - 1}; "
            "raise n_classes or leave it None"
        )
    return utility.n_classes


def _logistic_accuracy(
    xa: FloatArray, ya: IntArray, keep: npt.NDArray[np.bool_] | None, utility: Utility, n_cls: int
) -> float:
    """Validation accuracy of the logistic model fit on the points where ``keep`` (all if None);
    0.0 for the empty set."""
    xs, ys = (xa, ya) if keep is None else (xa[keep], ya[keep])
    if xs.shape[0] == 0:
        return 0.0
    model = _logistic_regression_cls()(l2=utility.l2, max_iter=utility.max_iter)
    model.fit(xs, ys, n_classes=n_cls)
    return float(np.mean(model.predict(utility.x_val) == utility.y_val))


def _check_refits(n_refits: int, max_refits: int, what: str, hint: str) -> None:
    """Refuse a logistic computation that would need more than ``max_refits`` model fits."""
    if n_refits > max_refits:
        raise AttributionError(
            f"{what}: the logistic utility needs {n_refits} model refits here, above "
            f"max_refits={max_refits}; {hint}"
        )


# ---------------------------------------------------------------------------------------------
# aggregation


def per_owner(
    values: npt.ArrayLike, owners: npt.ArrayLike, n_owners: int | None = None
) -> FloatArray:
    """Sum of the point values per owner (account id), float64 [n_owners].

    ``n_owners`` (count) defaults to 1 + the largest owner id; owners without points get 0.
    """
    what = "per_owner"
    vals = np.asarray(values, dtype=np.float64)
    if vals.ndim != 1:
        raise AttributionError(f"{what}: values must be 1-D (one per point), got {vals.shape}")
    own = _owners(owners, what, vals.shape[0])
    top = int(own.max()) + 1 if own.size else 0
    if n_owners is None:
        size = top
    else:
        if isinstance(n_owners, bool) or int(n_owners) != n_owners or n_owners < 0:
            raise AttributionError(f"{what}: n_owners must be an integer >= 0, got {n_owners!r}")
        size = int(n_owners)
        if top > size:
            raise AttributionError(
                f"{what}: owner id {top - 1} does not fit n_owners={size}; raise n_owners"
            )
    return np.bincount(own, weights=vals, minlength=size).astype(np.float64, copy=False)


# ---------------------------------------------------------------------------------------------
# engines: uniform, volume, retrieval


def uniform(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    owners: npt.ArrayLike,
    utility: Utility | None = None,
    *,
    rng: np.random.Generator | None = None,
    batch_ids: npt.ArrayLike | None = None,
) -> FloatArray:
    """Equal value per accepted contribution, spread equally over its points.

    A contribution is a submitted batch: ``batch_ids`` [N] (integer ids) when given,
    otherwise all points of one owner form one contribution (each owner gets 1.0 in total).
    Point value = 1 / (number of points in its contribution), so each contribution's values
    sum to 1.0 (value units: "one contribution").

    Cost: O(N). Ignores ``utility`` and ``rng``. Weakness: blind to quality — poisoners and
    junk are paid like honest data, and splitting into many contributions (or sybil
    identities) multiplies the payout.
    """
    what = "uniform"
    _, _, own = _training_set(x, y, owners, what)
    assert own is not None
    groups = own if batch_ids is None else _owners(batch_ids, f"{what} (batch_ids)", len(own))
    if groups.size == 0:
        return np.zeros(0, dtype=np.float64)
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse].astype(np.float64)


def volume(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    owners: npt.ArrayLike,
    utility: Utility | None = None,
    *,
    rng: np.random.Generator | None = None,
) -> FloatArray:
    """Value ∝ number of points: every point is worth 1.0 (value units: "one point").

    Cost: O(N). Ignores ``utility`` and ``rng``. Weakness: pays junk, noise, label flips and
    (near-)duplicates exactly as much as good data — the farmer's favourite.
    """
    xa, _, _ = _training_set(x, y, owners, "volume")
    return np.ones(xa.shape[0], dtype=np.float64)


def retrieval(
    neighbour_idx: npt.ArrayLike,
    fee_per_query: npt.ArrayLike,
    n_points: int,
    weights: Literal["equal", "inverse_distance"] = "equal",
    distances: npt.ArrayLike | None = None,
) -> FloatArray:
    """Per-inference retrieval attribution: each query's fee is split over the K points that
    answered it (OpenLedger-style attribution for retrieval models). Float64 [n_points].

    ``weights="equal"`` gives each of a query's K neighbours fee/K; ``"inverse_distance"``
    gives neighbour j the share (1/d_j) / Σ_l (1/d_l) of the fee (a query with neighbours at
    distance 0 splits its fee equally over those, the limit of inverse-distance weights).
    The values sum to Σ fee_per_query. Vectorised over queries with one ``np.bincount``.

    Cost: O(Q · K) given the neighbours (finding them is O(Q · K log N) with a KD-tree,
    done by the model at inference time). Weakness: pays whoever is *near the queries*, not
    who improved the answer — a mislabelled point near popular queries is paid, duplicates and
    near-duplicates of popular points capture a share, and wash trading (self-querying
    around one's own points) farms it directly.

    Parameters
    ----------
    neighbour_idx:
        Training-point index of each answering neighbour, int [Q, K] (rows of the training set).
    fee_per_query:
        Fee (token units) to attribute per query: a scalar or float [Q], each >= 0.
    n_points:
        Size of the training set N (count); the output has one value per point.
    weights:
        ``"equal"`` or ``"inverse_distance"``.
    distances:
        Query-to-neighbour distances (feature units), float [Q, K]; needed for
        ``"inverse_distance"``.
    """
    what = "retrieval"
    idx = np.asarray(neighbour_idx)
    if idx.ndim != 2:
        raise AttributionError(
            f"{what}: neighbour_idx must be 2-D [n_queries, K], got shape {idx.shape}"
        )
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise AttributionError(f"{what}: neighbour_idx must be integers, got {idx.dtype}")
    if isinstance(n_points, bool) or int(n_points) != n_points or n_points < 0:
        raise AttributionError(f"{what}: n_points must be an integer >= 0, got {n_points!r}")
    n = int(n_points)
    q, k = idx.shape
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        raise AttributionError(
            f"{what}: neighbour index {bad} is outside the training set [0, {n}); pass the "
            "indices the model returned for this training set"
        )
    fee = np.asarray(fee_per_query, dtype=np.float64)
    if fee.ndim == 0:
        fee = np.full(q, float(fee))
    if fee.shape != (q,):
        raise AttributionError(
            f"{what}: fee_per_query must be a scalar or have one entry per query ({q}), got "
            f"shape {fee.shape}"
        )
    if not np.all(np.isfinite(fee)) or (fee.size and fee.min() < 0):
        raise AttributionError(f"{what}: fee_per_query must be finite and >= 0")
    if q == 0 or k == 0:
        return np.zeros(n, dtype=np.float64)
    if weights == "equal":
        share = np.broadcast_to((fee / k)[:, None], (q, k))
    elif weights == "inverse_distance":
        if distances is None:
            raise AttributionError(
                f"{what}: weights='inverse_distance' needs distances [n_queries, K]; pass the "
                "distances the model returned with the neighbours"
            )
        dist = np.asarray(distances, dtype=np.float64)
        if dist.shape != idx.shape:
            raise AttributionError(
                f"{what}: distances must have the shape of neighbour_idx {idx.shape}, got "
                f"{dist.shape}"
            )
        if not np.all(np.isfinite(dist)) or dist.min() < 0:
            raise AttributionError(f"{what}: distances must be finite and >= 0")
        zero = dist == 0.0
        exact = zero.any(axis=1, keepdims=True)
        inv = np.divide(1.0, dist, out=np.zeros_like(dist), where=~zero)
        w = np.where(exact, zero.astype(np.float64), inv)
        share = w * (fee / w.sum(axis=1))[:, None]
    else:
        raise AttributionError(
            f"{what}: weights must be 'equal' or 'inverse_distance', got {weights!r}"
        )
    return np.bincount(idx.ravel(), weights=np.ravel(share), minlength=n).astype(np.float64)


def retrieval_engine(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    owners: npt.ArrayLike,
    utility: Utility | None = None,
    *,
    rng: np.random.Generator | None = None,
    neighbour_idx: npt.ArrayLike | None = None,
    fee_per_query: npt.ArrayLike = 1.0,
    weights: Literal["equal", "inverse_distance"] = "equal",
    distances: npt.ArrayLike | None = None,
) -> FloatArray:
    """:func:`retrieval` with the common engine signature (the registry's ``"retrieval"``).

    With ``neighbour_idx`` given (the inference log: [Q, K] indices, plus ``distances`` for
    inverse-distance weights), credits those queries' ``fee_per_query`` (tokens). Without it,
    the queries are the utility's validation points, each paying ``fee_per_query`` (default
    1.0 token), answered by their ``utility.k`` nearest training points found with a scipy
    ``cKDTree`` (O(M · K log N)); KD-tree ties among equidistant points follow the tree.
    Cost and weakness: see :func:`retrieval`.
    """
    what = "retrieval"
    xa, _, _ = _training_set(x, y, owners, what)
    n = xa.shape[0]
    if neighbour_idx is None:
        util = _check_utility(utility, xa, what)
        if n == 0:
            return np.zeros(0, dtype=np.float64)
        k_eff = min(util.k, n)
        dist, idx = cKDTree(xa).query(util.x_val, k=list(range(1, k_eff + 1)))
        return retrieval(idx, fee_per_query, n, weights, dist)
    return retrieval(neighbour_idx, fee_per_query, n, weights, distances)


# ---------------------------------------------------------------------------------------------
# engine: leave-one-out


def loo(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    owners: npt.ArrayLike,
    utility: Utility,
    *,
    rng: np.random.Generator | None = None,
    max_refits: int = 2_000,
) -> FloatArray:
    """Leave-one-out value U(D) − U(D ∖ {i}) of every point, float64 [N].

    kNN utility, without N refits: for a validation point v with nearest points α_1 … α_{K+1},
    removing i changes v's top-K only if i = α_r with r ≤ K, and then α_{K+1} takes its
    place, so the change is (m_r − m_{K+1}) / K (m_{K+1} = 0 when N ≤ K). One query of the
    K+1 nearest per validation point, then a ``bincount``. Cost: O(M · N) (the exact
    neighbour search; chunked, memory O(chunk)).

    Logistic utility: naive refits, N + 1 L-BFGS fits of the model on N − 1 points each, so
    O(N · fit) — refused above ``max_refits`` fits (count); use ``influence`` for large N.

    Weakness: LOO measures only what the rest of the data cannot replace. An exactly
    duplicated point is replaceable by its copy: with K = 1 (or any model whose prediction
    is unchanged when one of two identical copies goes) each copy gets ~0, however helpful
    the point. Under the soft kNN utility with K > 1 the copy only shifts the order, so
    duplication leaves LOO unchanged except at the K-th place. Values are also mostly 0 for
    large N (most points are not in any validation point's top K).
    """
    what = "loo"
    xa, ya, _ = _training_set(x, y, owners, what)
    util = _check_utility(utility, xa, what)
    n = xa.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    if util.model == "logistic":
        _check_refits(n + 1, max_refits, what, "use the 'influence' engine for large N")
        n_cls = _n_classes(ya, util, what)
        full = _logistic_accuracy(xa, ya, None, util, n_cls)
        keep = np.ones(n, dtype=bool)
        out = np.empty(n, dtype=np.float64)
        for i in range(n):  # one refit per point is the definition of naive LOO
            keep[i] = False
            out[i] = full - _logistic_accuracy(xa, ya, keep, util, n_cls)
            keep[i] = True
        return out
    k = util.k
    order, match = _knn_match_prefix(xa, ya, util, k + 1)
    top = min(k, n)
    m = match.astype(np.int8)
    replacement = m[:, k] if n > k else np.zeros(m.shape[0], dtype=np.int8)
    change = (m[:, :top] - replacement[:, None]).astype(np.float64)
    values = np.bincount(order[:, :top].ravel(), weights=change.ravel(), minlength=n)
    return values / (k * util.n_val)


# ---------------------------------------------------------------------------------------------
# engine: exact KNN-Shapley


def knn_shapley_engine(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    owners: npt.ArrayLike,
    utility: Utility,
    *,
    rng: np.random.Generator | None = None,
    chunk_rows: int | None = None,
) -> FloatArray:
    """:func:`knn_shapley` against the utility's validation set (the registry's
    ``"knn_shapley"``); requires ``utility.model == "knn"``.

    Cost: O(M · N log N), memory O(chunk). Weakness: exact only for the kNN utility — it
    values data for a kNN model even when builders train something else; duplicates split
    the value of the original (a duplicate farmer captures up to half of a point's value);
    values depend on the validation set, which must be clean and representative.
    """
    xa, ya, _ = _training_set(x, y, owners, "knn_shapley")
    util = _check_utility(utility, xa, "knn_shapley", model="knn")
    return knn_shapley(xa, ya, util.x_val, util.y_val, util.k, chunk_rows=chunk_rows)


# ---------------------------------------------------------------------------------------------
# engine: truncated Monte-Carlo Shapley


def _segmented_cummin(values: np.ndarray, pos_in_segment: IntArray, max_len: int) -> np.ndarray:
    """Running minimum within consecutive segments of a flat array (Hillis-Steele doubling:
    ⌈log2 max_len⌉ vectorised passes); ``pos_in_segment[i]`` is i's offset in its segment."""
    out = values.copy()
    step = 1
    while step < max_len:
        shifted = np.minimum(out[step:], out[:-step])
        np.copyto(out[step:], shifted, where=pos_in_segment[step:] >= step)
        step *= 2
    return out


def _tmc_knn(
    xa: FloatArray,
    ya: IntArray,
    util: Utility,
    rng: np.random.Generator,
    n_permutations: int,
    truncation_tol: float,
) -> FloatArray:
    """TMC-Shapley for the kNN utility with incremental prefix evaluation (see tmc_shapley)."""
    n, k, m_val = xa.shape[0], util.k, util.n_val
    rank_dtype = np.int16 if n < np.iinfo(np.int16).max else np.int32
    # rank_t[i, v]: position of training point i in v's distance order (point-major, so the
    # newcomers of a block are gathered as whole rows); msort[v, r]: whether v's r-th nearest
    # point has v's label (column N is a sentinel 0 for "no point").
    geometry = _NeighbourOrder(xa, util.x_val)
    code_t, code_v = _label_codes(ya, util.y_val)
    rank_t = np.empty((n, m_val), dtype=rank_dtype)
    msort = np.zeros((m_val, n + 1), dtype=np.int8)
    positions = np.arange(n, dtype=rank_dtype)
    rows = max(1, (_CHUNK_ELEMENTS * 8) // n)
    scratch = np.empty(min(rows, m_val) * n, dtype=rank_dtype)
    for start, stop, order in geometry.chunks(None, rows):
        r = stop - start
        flat = order + (np.arange(r, dtype=np.int64) * n)[:, None]
        scratch[flat.ravel()] = np.broadcast_to(positions, (r, n)).ravel()
        rank_t[:, start:stop] = scratch[: r * n].reshape(r, n).T
        msort[start:stop, :n] = code_t[order] == code_v[start:stop, None]
    msort_flat = msort.ravel()
    u_full = float(np.count_nonzero(msort[:, :k])) / (k * m_val)
    threshold = truncation_tol * abs(u_full)
    scale = 1.0 / (k * m_val)

    values = np.zeros(n, dtype=np.float64)
    batch = max(1, min(n_permutations, _BLOCK_ELEMENTS // (m_val * min(n, 256))))
    first_block = max(2 * k, 16)
    done_perms = 0
    while done_perms < n_permutations:
        p_all = min(batch, n_permutations - done_perms)
        done_perms += p_all
        perms = rng.permuted(np.tile(np.arange(n, dtype=np.int64), (p_all, 1)), axis=1)
        # carry[k', p, v]: the (k'+1)-th smallest rank in the prefix so far (n = none yet)
        carry = np.full((k, p_all, m_val), n, dtype=rank_dtype)
        u_prev = np.zeros(p_all, dtype=np.float64)
        j0, length = 0, first_block
        while j0 < n and perms.shape[0] > 0:
            p_act = perms.shape[0]
            length = max(1, min(length, n - j0, _BLOCK_ELEMENTS // (m_val * p_act)))
            j1 = j0 + length
            block = perms[:, j0:j1]  # [P, L]
            a_all = rank_t[block]  # [P, L, M]: each newcomer's rank for each v
            # Only newcomers nearer than the current K-th nearest can change any top-K set.
            flat = np.flatnonzero(a_all < carry[k - 1][:, None, :])
            gains = np.zeros(p_act * length, dtype=np.float64)
            if flat.size:
                pi, rem = np.divmod(flat, length * m_val)
                ji, vi = np.divmod(rem, m_val)
                seg = pi * m_val + vi  # row (p, v); a stable sort groups rows, keeps j order
                srt = np.argsort(seg, kind="stable")
                flat, pi, ji, vi, seg = flat[srt], pi[srt], ji[srt], vi[srt], seg[srt]
                a = a_all.reshape(-1)[flat]
                n_cand = a.shape[0]
                first = np.ones(n_cand, dtype=bool)
                first[1:] = seg[1:] != seg[:-1]
                last = np.ones(n_cand, dtype=bool)
                last[:-1] = first[1:]
                idx = np.arange(n_cand, dtype=np.int64)
                pos = idx - np.maximum.accumulate(np.where(first, idx, 0))
                max_len = int(pos.max()) + 1
                b = a
                r_prev = a
                for level in range(k):  # order statistics 1..K of the running prefix
                    c_row = carry[level].reshape(-1)[seg]
                    r_now = np.minimum(_segmented_cummin(b, pos, max_len), c_row)
                    r_prev = np.where(first, c_row, np.roll(r_now, 1))
                    carry[level].reshape(-1)[seg[last]] = r_now[last]
                    b = np.maximum(a, r_prev)
                # r_prev = K-th smallest rank before the newcomer: it enters the top K iff
                # its rank is smaller, displacing that point (sentinel n: nobody displaced).
                enters = a < r_prev
                base = vi * (n + 1)
                gain = msort_flat[base + a].astype(np.int16) - msort_flat[base + r_prev]
                gains = np.bincount(
                    pi * length + ji,
                    weights=np.where(enters, gain, 0).astype(np.float64),
                    minlength=p_act * length,
                )
            marg = gains.reshape(p_act, length) * scale
            u_prefix = u_prev[:, None] + np.cumsum(marg, axis=1)
            within = np.logical_or.accumulate(np.abs(u_full - u_prefix) < threshold, axis=1)
            keep = np.ones_like(within)
            keep[:, 1:] = ~within[:, :-1]  # G&Z: skip position j once prefix j−1 is within tol
            values += np.bincount(block.ravel(), weights=(marg * keep).ravel(), minlength=n)
            u_prev = u_prefix[:, -1]
            alive = ~within[:, -1]
            if not alive.all():
                perms, carry, u_prev = perms[alive], carry[:, alive], u_prev[alive]
            j0 = j1
            length *= 4
    return values / n_permutations


def tmc_shapley(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    owners: npt.ArrayLike,
    utility: Utility,
    *,
    rng: np.random.Generator | None = None,
    n_permutations: int = 100,
    truncation_tol: float = 0.01,
    max_refits: int = 20_000,
) -> FloatArray:
    """Truncated Monte-Carlo Shapley (Ghorbani & Zou 2019), float64 [N].

    For each of ``n_permutations`` random orders π (drawn from ``rng``), point π_j gets the
    marginal u(π_{≤j}) − u(π_{<j}); the value is the mean over permutations. Truncation
    (G&Z): once the prefix utility is within ``truncation_tol`` · |U(D)| of U(D), the
    remaining points of that permutation get 0. ``truncation_tol = 0`` gives the untruncated,
    unbiased estimator whose values sum exactly to U(D) − U(∅) per permutation.

    kNN utility, incremental: with each validation point's full distance ranking precomputed
    (one sort, O(M · N log N)), the top-K set of a prefix is the K smallest ranks in it. A
    newcomer changes v's top K only if its rank is below the current K-th smallest, and then
    adds (m_new − m_displaced)/K. Positions are processed in blocks (growing ×4) for a batch
    of permutations: one gather of the newcomers' ranks [M, P, L], a comparison with the
    running K-th smallest rank to keep only candidates (≈ K/j of them at position j), and the
    running order statistics 1..K over the candidates by K segmented doubling min-scans.
    Cost: O(T · M · j_T) for the dense gather/compare (j_T = the truncation position, ≤ N)
    plus O(T · M · K² log² N) for the candidates — roughly the cost of 3-4 passes over an
    M × N array per permutation, versus N model refits. Memory: O(M · N) for the ranks plus
    ~16 MB blocks.

    Logistic utility: naive refits along each permutation until truncation, up to T · N fits;
    refused above ``max_refits`` (count).

    Weakness: a Monte-Carlo estimate (error ~ σ/√T per point; small values are noise at
    small T); truncation biases late points' values toward 0; like every Shapley value it
    splits credit between duplicates and depends on the validation set.

    Parameters
    ----------
    n_permutations:
        Permutation budget T (count, >= 1).
    truncation_tol:
        Relative tolerance of the truncation (fraction of |U(D)|, >= 0).
    max_refits:
        Cap on model fits for the logistic utility (count).
    """
    what = "tmc_shapley"
    xa, ya, _ = _training_set(x, y, owners, what)
    util = _check_utility(utility, xa, what)
    gen = _require_rng(rng, what)
    t = _positive_int(n_permutations, what, "n_permutations")
    if not np.isfinite(truncation_tol) or truncation_tol < 0:
        raise AttributionError(f"{what}: truncation_tol must be >= 0, got {truncation_tol!r}")
    n = xa.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    if util.model == "knn":
        return _tmc_knn(xa, ya, util, gen, t, float(truncation_tol))
    _check_refits(t * n, max_refits, what, "lower n_permutations or use 'influence'")
    n_cls = _n_classes(ya, util, what)
    u_full = _logistic_accuracy(xa, ya, None, util, n_cls)
    threshold = truncation_tol * abs(u_full)
    values = np.zeros(n, dtype=np.float64)
    for _ in range(t):  # each permutation is a sequence of model refits (Monte-Carlo samples)
        perm = gen.permutation(n)
        keep = np.zeros(n, dtype=bool)
        u_prev = 0.0
        for j in range(n):  # naive TMC: one refit per prefix until truncation
            if abs(u_full - u_prev) < threshold:
                break
            keep[perm[j]] = True
            u_now = _logistic_accuracy(xa, ya, keep, util, n_cls)
            values[perm[j]] += u_now - u_prev
            u_prev = u_now
    return values / t


# ---------------------------------------------------------------------------------------------
# engine: Data Banzhaf (maximum sample reuse)


def _banzhaf_knn_utilities(
    masks: npt.NDArray[np.bool_],
    order: npt.NDArray[np.int64],
    match: npt.NDArray[np.bool_],
    xa: FloatArray,
    ya: IntArray,
    util: Utility,
) -> FloatArray:
    """kNN utility u(S_t) of each sampled subset (rows of ``masks`` [T, N]).

    ``order``/``match`` [M, L] cover each validation point's L nearest training points. A
    subset's top K for v are the first K members along v's order; pairs (t, v) with fewer
    than K members among the first L (and L < N) continue along v's full order.
    """
    k, m_val = util.k, util.n_val
    t, n = masks.shape
    prefix = order.shape[1]
    count_dtype = np.int16 if prefix < np.iinfo(np.int16).max else np.int32
    hits = np.zeros((t, m_val), dtype=np.int64)
    rows = max(1, _SUBSET_ELEMENTS // max(1, m_val * prefix))
    for start in range(0, t, rows):  # batches of subsets
        member = masks[start : start + rows][:, order]  # [T_b, M, L]
        count = np.cumsum(member, axis=2, dtype=count_dtype)
        take = member & (count <= k) & match[None, :, :]
        hits[start : start + rows] = np.count_nonzero(take, axis=2)
        if prefix < n:
            short = count[:, :, -1] < k
            if short.any():
                ts, vs = np.nonzero(short)
                ts += start
                _banzhaf_continue(masks, ts, vs, count[ts - start, vs, -1], hits, xa, ya, util)
    return hits.sum(axis=1) / (k * m_val)


def _banzhaf_continue(
    masks: npt.NDArray[np.bool_],
    ts: IntArray,
    vs: IntArray,
    got: np.ndarray,
    hits: npt.NDArray[np.int64],
    xa: FloatArray,
    ya: IntArray,
    util: Utility,
) -> None:
    """Finish (subset, validation point) pairs whose first K members lie beyond the prefix:
    sort those validation points' full orders and continue counting (rare for L >> 2K)."""
    uniq, inv = np.unique(vs, return_inverse=True)
    sub = Utility(util.x_val[uniq], util.y_val[uniq], model="knn", k=util.k)
    order, match = _knn_match_prefix(xa, ya, sub, None)  # [U, N] full orders
    prefix_done = np.zeros(len(ts), dtype=np.int64)
    # Pairs are few; handle them in bounded batches so memory stays O(batch · N).
    rows = max(1, _SUBSET_ELEMENTS // max(1, xa.shape[0]))
    for start in range(0, len(ts), rows):
        sl = slice(start, start + rows)
        member = masks[ts[sl][:, None], order[inv[sl]]]  # [B, N] along each v's order
        count = np.cumsum(member, axis=1, dtype=np.int32)
        # the first `got` members were already counted (they lie in the prefix)
        take = member & (count <= util.k) & (count > got[sl, None]) & match[inv[sl]]
        prefix_done[sl] = np.count_nonzero(take, axis=1)
    hits[ts, vs] += prefix_done  # (t, v) pairs are unique


def banzhaf(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    owners: npt.ArrayLike,
    utility: Utility,
    *,
    rng: np.random.Generator | None = None,
    n_samples: int = 1_000,
    prefix_len: int | None = None,
    max_refits: int = 2_000,
) -> FloatArray:
    """Data Banzhaf values with the maximum-sample-reuse (MSR) estimator (Wang & Jia 2023).

    Samples ``n_samples`` subsets S_1 … S_T (each point in independently with probability
    1/2, from ``rng``), evaluates u(S_t) once each, and estimates
    value_i = mean{u(S_t) : i ∈ S_t} − mean{u(S_t) : i ∉ S_t} — every sample informs every
    point. Converges to the Banzhaf value (1/2^{N−1}) Σ_{S ⊆ D∖i} [u(S ∪ i) − u(S)].
    A point never (or always) drawn has no estimate and gets 0.0 (probability N · 2^{1−T}).

    kNN utility, vectorised over subsets: each validation point's ``prefix_len`` nearest
    training points (default 4K + 64, found once with a partial sort, O(M · N)) contain a
    random half-subset's K nearest with overwhelming probability; a subset's top K for v are
    the first K of its members along that prefix (a gather, a cumulative count, a mask).
    The rare (subset, v) pairs with < K members in the prefix continue exactly along v's
    full order. Cost: O(M · N) + O(T · M · prefix_len) time, O(T · N) bytes for the sampled
    subsets (bool). Logistic utility: T naive refits, refused above ``max_refits`` (count).

    Weakness: a Monte-Carlo estimate (noise ~ 1/√T); Banzhaf weights all subset sizes equally,
    so it is robust to utility noise but its values do not sum to U(D) (not efficient, so
    shares must be normalised); with large N the utility of a random half barely depends on
    one point and values shrink toward the noise floor.

    Parameters
    ----------
    n_samples:
        Sample budget T (count, >= 1).
    prefix_len:
        Nearest points per validation point searched first (count); None = 4K + 64. Does not
        change the result, only the speed.
    max_refits:
        Cap on model fits for the logistic utility (count).
    """
    what = "banzhaf"
    xa, ya, _ = _training_set(x, y, owners, what)
    util = _check_utility(utility, xa, what)
    gen = _require_rng(rng, what)
    t = _positive_int(n_samples, what, "n_samples")
    n = xa.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    masks = np.empty((t, n), dtype=bool)
    for start in range(0, t, _BANZHAF_DRAW_ROWS):  # fixed-size draws: same seed, same subsets
        stop = min(t, start + _BANZHAF_DRAW_ROWS)
        masks[start:stop] = gen.random((stop - start, n)) < 0.5
    if util.model == "knn":
        prefix = (
            4 * util.k + 64 if prefix_len is None else _positive_int(prefix_len, what, "prefix_len")
        )
        order, match = _knn_match_prefix(xa, ya, util, min(prefix, n))
        u = _banzhaf_knn_utilities(masks, order, match, xa, ya, util)
    else:
        _check_refits(t, max_refits, what, "lower n_samples")
        n_cls = _n_classes(ya, util, what)
        u = np.array([_logistic_accuracy(xa, ya, row, util, n_cls) for row in masks])
    n_in = np.count_nonzero(masks, axis=0).astype(np.float64)
    sum_in = u @ masks
    n_out = t - n_in
    sum_out = u.sum() - sum_in
    mean_in = np.divide(sum_in, n_in, out=np.zeros(n), where=n_in > 0)
    mean_out = np.divide(sum_out, n_out, out=np.zeros(n), where=n_out > 0)
    return np.where((n_in > 0) & (n_out > 0), mean_in - mean_out, 0.0)


# ---------------------------------------------------------------------------------------------
# engine: influence functions


def influence(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    owners: npt.ArrayLike,
    utility: Utility,
    *,
    rng: np.random.Generator | None = None,
    damping: float = 1e-3,
) -> FloatArray:
    """Influence of each point on the validation loss of logistic regression (Koh & Liang
    2017), float64 [N]; requires ``utility.model == "logistic"``.

    Fits the L2 multinomial logistic regression on all points (θ̂), then in closed form::

        value_i = (1/N) · ∇ℓ_i(θ̂)ᵀ (H + damping·I)⁻¹ ∇L_val(θ̂)

    where H is the Hessian of the training objective (mean cross-entropy + l2/2‖θ‖²), ∇ℓ_i
    the gradient of point i's cross-entropy and ∇L_val that of the mean validation
    cross-entropy. Sign convention: value_i is the first-order **decrease in validation
    loss (nats) due to including point i** — i.e. L_val(θ̂ without i) − L_val(θ̂): Koh &
    Liang's up-weighting influence −∇L_valᵀ H⁻¹ ∇ℓ_i times the removal step ε = −1/N. A
    helpful point is positive, a harmful (e.g. label-flipped) point negative. One linear
    solve H v = ∇L_val, then one matrix-vector product with the per-example gradients.

    Cost: one fit + O(N · p) gradients + O(N · d² · C²) Hessian + O(p³) solve, with
    p = (d + 1) · C parameters. Weakness: a local, first-order approximation — accurate for
    small, strongly regularised convex models, poor for points that move the fit a lot; it
    values points for the logistic model only; exact duplicates each get the full influence
    (no credit splitting), so duplicating pays; the validation loss rewards confident
    predictions, not accuracy.

    Parameters
    ----------
    damping:
        Added to the Hessian diagonal (same units as l2, >= 0); stabilises the solve.
    """
    what = "influence"
    xa, ya, _ = _training_set(x, y, owners, what)
    util = _check_utility(utility, xa, what, model="logistic")
    if not np.isfinite(damping) or damping < 0:
        raise AttributionError(f"{what}: damping must be finite and >= 0, got {damping!r}")
    n = xa.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    n_cls = _n_classes(ya, util, what)
    model = _logistic_regression_cls()(l2=util.l2, max_iter=util.max_iter)
    model.fit(xa, ya, n_classes=n_cls)
    grad_val = model.per_example_grad(util.x_val, util.y_val).mean(axis=0)
    hess = model.hessian(xa, ya, damping=float(damping))
    try:
        v = solve(hess, grad_val, assume_a="pos")
    except LinAlgError as exc:
        raise AttributionError(
            f"{what}: the damped Hessian is not positive definite ({exc}); raise damping "
            "or Utility.l2"
        ) from exc
    return (model.per_example_grad(xa, ya) @ v) / n


# ---------------------------------------------------------------------------------------------
# registry


@dataclass(frozen=True)
class EngineSpec:
    """One attribution engine and what a caller needs to know to run it.

    Attributes:
        function: The engine (common signature ``(x, y, owners, utility, *, rng, **opts)``).
        needs_utility: Whether it values data against a :class:`Utility` (a validation set
            and a model); engines without one (``uniform``, ``volume``) are cheap enough to
            re-run every epoch.
        per_inference: Whether its credit comes from the inferences actually served (the
            retrieval trail: the K neighbours that answered each query) rather than from a
            valuation of the training set; the caller then supplies the credit itself.
        budget_option: The keyword option a sampling budget feeds (``n_permutations``,
            ``n_samples``), or None.
        model_kind: The model kind its utility must use (``"knn"``: exact for kNN only;
            ``"logistic"``: influence needs a differentiable model), or None for the
            datanet's own model.
    """

    function: Engine
    needs_utility: bool = True
    per_inference: bool = False
    budget_option: str | None = None
    model_kind: Literal["knn", "logistic"] | None = None


ENGINES: Mapping[str, EngineSpec] = MappingProxyType(
    {
        "uniform": EngineSpec(uniform, needs_utility=False),
        "volume": EngineSpec(volume, needs_utility=False),
        "retrieval": EngineSpec(retrieval_engine, needs_utility=False, per_inference=True),
        "loo": EngineSpec(loo),
        "knn_shapley": EngineSpec(knn_shapley_engine, model_kind="knn"),
        "tmc_shapley": EngineSpec(tmc_shapley, budget_option="n_permutations"),
        "banzhaf": EngineSpec(banzhaf, budget_option="n_samples"),
        "influence": EngineSpec(influence, model_kind="logistic"),
    }
)
"""Read-only registry: engine name → :class:`EngineSpec` (the scenario schema's
``attribution.engine`` names; a test keeps the two lists equal)."""


def compute(
    engine_name: str,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    owners: npt.ArrayLike,
    utility: Utility | None,
    *,
    rng: np.random.Generator | None = None,
    **opts: Any,
) -> FloatArray:
    """Run the engine called ``engine_name`` (a key of :data:`ENGINES`) and return its
    per-point values (float64 [N]); ``opts`` are the engine's keyword options."""
    spec = ENGINES.get(engine_name)
    if spec is None:
        raise UnknownEngineError(
            f"compute: unknown attribution engine {engine_name!r}; choose one of "
            f"{', '.join(sorted(ENGINES))}"
        )
    try:
        return spec.function(x, y, owners, utility, rng=rng, **opts)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise AttributionError(
                f"compute: engine {engine_name!r} does not take option(s) "
                f"{sorted(opts)} ({exc}); see its docstring for its options"
            ) from exc
        raise
