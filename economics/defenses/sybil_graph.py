"""Sybil detection on the funding graph: SybilRank trust propagation or funding clusters.

Why: a sybil farmer is one operator behind many identities, and the identities have to be
funded (bonds, gas, fees) from somewhere — usually from one wallet. The ledger's funding
transfers form a graph of identities; this module finds suspicious identities in it and
discounts their rewards, on its own cadence (every ``every_epochs`` epochs), so the cost of
the graph algorithms never enters the per-epoch hot path.

Two detectors (``SybilGraphParams.method``):

* ``"sybilrank"`` — SybilRank (Cao, Sirivianos, Yang & Pregueiro, NSDI 2012). The protocol
  knows a few honest *trust seeds*. A total trust of 1 is spread evenly over the seeds and
  propagated by power iteration of the random walk on the undirected, unweighted funding graph,

      t⁽ᵏ⁺¹⁾(v) = Σ_{u ~ v} t⁽ᵏ⁾(u) / deg(u),

  terminated early after ``iterations`` steps (default ⌈log₂ n⌉, n = accounts with at least
  one funding edge). Early termination is the point: the honest region is fast-mixing and
  gets close to its stationary trust, while trust reaches the sybil region only through the
  few *attack edges* between the regions. Nodes are ranked by degree-normalised trust
  t(v)/deg(v); this module reports it relative to its stationary value 1/vol(G)
  (vol = Σ deg), i.e. ``relative_trust(v) = t(v)·vol / deg(v)``: 1 everywhere at
  convergence; after early termination ≈ vol(G)/vol(honest region) >= 1 for a well-mixed
  honest node (the honest region holds nearly all the trust) and ≪ 1 for a sybil. A node is
  flagged when its relative trust is below ``trust_threshold``. Accounts with no funding
  edge get ``nan`` (the graph says nothing about them) and are never flagged.
* ``"clusters"`` — identities funded directly or transitively from one wallet form a
  cluster: the weakly connected components of the directed funding graph. Members of a
  cluster of at least ``min_cluster_size`` accounts are flagged.

Rewards of flagged accounts are then discounted (:func:`cluster_discount`): either each
flagged cluster is paid as *one identity* (``discount="one_identity"``) or flagged accounts
keep a fixed share of their reward (``discount`` a float). The unpaid remainder is returned
to the reward pool by the caller.

Known false-positive modes: honest identities funded by one exchange or faucet wallet form a
cluster (``"clusters"``); honest identities weakly connected to the seeds (few funding edges,
far from every seed) get little trust (``"sybilrank"``); SybilRank is only as good as its
seeds and needs a fast-mixing honest region — it abstains (flags nothing) when no seed has a
funding edge.

Graph algorithms run on scipy.sparse (power iteration, connected components), vectorised over
nodes; :meth:`FundingGraph.to_networkx` exports the same graph to networkx for analysis and
plots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import networkx as nx
import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ledgerlab.economics.defenses.base import (
    BoolArray,
    DefenseInputError,
    DefenseParamError,
    FloatArray,
    IntArray,
    as_bool_vector,
    as_float_vector,
    as_int_vector,
    check_choice,
    check_float,
    check_int,
    same_length,
)

__all__ = [
    "DiscountResult",
    "FundingGraph",
    "SybilDetection",
    "SybilGraphDefense",
    "SybilGraphParams",
    "SybilRankResult",
    "cluster_discount",
    "cluster_sizes",
    "detect",
    "funding_clusters",
    "pick_seeds",
    "sybilrank",
]

SYBIL_METHODS: tuple[str, ...] = ("sybilrank", "clusters")
"""Allowed values of :attr:`SybilGraphParams.method`."""

ONE_IDENTITY = "one_identity"
"""The :attr:`SybilGraphParams.discount` mode that pays each flagged cluster as one identity."""


# --------------------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SybilGraphParams:
    """Parameters of the funding-graph sybil defence (defaults are illustrative)."""

    method: Literal["sybilrank", "clusters"] = "sybilrank"
    """Detector: ``"sybilrank"`` (trust propagation from seeds) or ``"clusters"`` (accounts
    funded from one wallet) (categorical)."""
    every_epochs: int = 7
    """Cadence: detection runs on epochs that are multiples of this (epochs, integer >= 1)."""
    discount: Literal["one_identity"] | float = ONE_IDENTITY
    """Reward rule for flagged accounts: ``"one_identity"`` (each flagged cluster is paid what
    its best-paid member earned, shared pro rata) or a float in [0, 1]: the share of its
    reward a flagged account keeps (dimensionless; 0 = pays nothing, 1 = no discount)."""
    trust_seeds: int = 10
    """Number of honest accounts the protocol trusts as SybilRank seeds (count, >= 1)."""
    iterations: int | None = None
    """SybilRank power iterations (count, >= 1); None = ⌈log₂ n⌉ with n the number of
    accounts that have a funding edge (the paper's early termination)."""
    trust_threshold: float = 0.2
    """Flag accounts whose relative degree-normalised trust t·vol/deg is below this
    (dimensionless, >= 0; 1 = the stationary trust, which well-mixed honest accounts reach
    or exceed)."""
    min_cluster_size: int = 3
    """``"clusters"`` method: flag members of funding clusters with at least this many
    accounts, funder included (count, >= 2)."""
    lazy_walk: bool = False
    """SybilRank: use the lazy walk t ← ½t + ½·(propagated t) instead of the paper's plain walk
    (bool). Funding graphs are often trees, i.e. bipartite, where the plain walk oscillates
    between the two sides; the lazy walk removes that parity effect."""

    def __post_init__(self) -> None:
        cls = type(self).__name__
        object.__setattr__(self, "method", check_choice(cls, "method", self.method, SYBIL_METHODS))
        object.__setattr__(
            self, "every_epochs", check_int(cls, "every_epochs", self.every_epochs, 1)
        )
        if isinstance(self.discount, str):
            disc: str | float = check_choice(cls, "discount", self.discount, (ONE_IDENTITY,))
        else:
            try:
                disc = check_float(cls, "discount", self.discount, 0.0, 1.0)
            except DefenseParamError as exc:
                raise DefenseParamError(
                    f"{cls}.discount must be 'one_identity' or a kept share in [0, 1], "
                    f"got {self.discount!r}"
                ) from exc
        object.__setattr__(self, "discount", disc)
        object.__setattr__(self, "trust_seeds", check_int(cls, "trust_seeds", self.trust_seeds, 1))
        if self.iterations is not None:
            object.__setattr__(self, "iterations", check_int(cls, "iterations", self.iterations, 1))
        object.__setattr__(
            self, "trust_threshold", check_float(cls, "trust_threshold", self.trust_threshold, 0.0)
        )
        object.__setattr__(
            self, "min_cluster_size", check_int(cls, "min_cluster_size", self.min_cluster_size, 2)
        )
        if not isinstance(self.lazy_walk, bool | np.bool_):
            raise DefenseParamError(
                f"{cls}.lazy_walk must be true or false, got {self.lazy_walk!r}"
            )
        object.__setattr__(self, "lazy_walk", bool(self.lazy_walk))


# --------------------------------------------------------------------------------------
# edge-array helpers
# --------------------------------------------------------------------------------------


def _edges(
    op: str, src: npt.ArrayLike, dst: npt.ArrayLike, n_nodes: int
) -> tuple[IntArray, IntArray]:
    """Validated (src, dst) account-id arrays, every id in [0, n_nodes)."""
    s = as_int_vector(op, "src", src)
    d = as_int_vector(op, "dst", dst)
    same_length(op, src=s, dst=d)
    if s.size:
        top = max(int(s.max()), int(d.max()))
        if top >= n_nodes:
            raise DefenseInputError(
                f"{op}: account id {top} in the edges is not below n_nodes={n_nodes}; "
                "pass the number of ledger accounts"
            )
    return s, d


def _adjacency(src: IntArray, dst: IntArray, n_nodes: int, *, directed: bool) -> sp.csr_array:
    """Binary adjacency (csr, float64) of the simple graph: repeated edges count once,
    self-loops are dropped; symmetric unless ``directed``."""
    keep = src != dst
    s, d = src[keep], dst[keep]
    if not directed:
        s, d = np.concatenate([s, d]), np.concatenate([d, s])
    a = sp.coo_array((np.ones(s.size, dtype=np.float64), (s, d)), shape=(n_nodes, n_nodes)).tocsr()
    a.sum_duplicates()
    a.data[:] = 1.0
    return a


def _degree(adj: sp.csr_array) -> FloatArray:
    return np.asarray(adj.sum(axis=1), dtype=np.float64).ravel()


# --------------------------------------------------------------------------------------
# the funding graph
# --------------------------------------------------------------------------------------


class FundingGraph:
    """Funding transfers between accounts, accumulated over epochs in growable arrays.

    Each edge is one funding transfer ``src → dst`` of ``amount_tokens``. Feed it the
    transfers that *fund* identities (initial endowments, top-ups, bond money) — not fee
    payments for inference, which would connect every consumer to every model owner.
    Storage grows by doubling (amortised O(1) per edge); graphs are built on demand.
    """

    def __init__(self, initial_capacity: int = 1024) -> None:
        cap = check_int("FundingGraph", "initial_capacity", initial_capacity, 1)
        self._src = np.zeros(cap, dtype=np.int64)
        self._dst = np.zeros(cap, dtype=np.int64)
        self._amt = np.zeros(cap, dtype=np.float64)
        self._n = 0

    @property
    def n_edges(self) -> int:
        """Number of funding transfers recorded (count)."""
        return self._n

    @property
    def min_nodes(self) -> int:
        """Smallest node count that covers every recorded account id (max id + 1, or 0)."""
        if self._n == 0:
            return 0
        return int(max(self._src[: self._n].max(), self._dst[: self._n].max())) + 1

    def add_edges(
        self, src: npt.ArrayLike, dst: npt.ArrayLike, amounts_tokens: npt.ArrayLike
    ) -> None:
        """Record funding transfers ``src[i] → dst[i]`` of ``amounts_tokens[i]`` tokens.

        Cost O(m) amortised. Nothing is recorded if any input is invalid.

        Args:
            src: funding account of each transfer (int[m], account ids >= 0).
            dst: funded account of each transfer (int[m], account ids >= 0).
            amounts_tokens: amount of each transfer (tokens, float[m], finite, >= 0).
        """
        op = "FundingGraph.add_edges"
        s = as_int_vector(op, "src", src)
        d = as_int_vector(op, "dst", dst)
        a = as_float_vector(op, "amounts_tokens", amounts_tokens, 0.0)
        m = same_length(op, src=s, dst=d, amounts_tokens=a)
        need = self._n + m
        if need > self._src.size:
            cap = max(need, 2 * self._src.size)
            for name in ("_src", "_dst", "_amt"):
                old = getattr(self, name)
                new = np.zeros(cap, dtype=old.dtype)
                new[: self._n] = old[: self._n]
                setattr(self, name, new)
        self._src[self._n : need] = s
        self._dst[self._n : need] = d
        self._amt[self._n : need] = a
        self._n = need

    def edges(self) -> tuple[IntArray, IntArray, FloatArray]:
        """Copies of the recorded ``(src, dst, amounts_tokens)`` arrays, in insertion order."""
        n = self._n
        return self._src[:n].copy(), self._dst[:n].copy(), self._amt[:n].copy()

    def _n_nodes(self, op: str, n_nodes: int | None) -> int:
        if n_nodes is None:
            return self.min_nodes
        n = check_int(op, "n_nodes", n_nodes)
        if n < self.min_nodes:
            raise DefenseInputError(
                f"{op}: n_nodes={n} does not cover account id {self.min_nodes - 1} of the "
                "recorded edges; pass the number of ledger accounts"
            )
        return n

    def adjacency(self, n_nodes: int | None = None, *, directed: bool = False) -> sp.csr_array:
        """Binary adjacency matrix of the simple funding graph (scipy csr, float64).

        Repeated transfers between a pair count as one edge and self-transfers are dropped.
        Undirected (symmetric) by default, as SybilRank uses it; ``directed=True`` keeps
        funder → funded. Cost O(m log m).

        Args:
            n_nodes: matrix size (accounts; default: max recorded id + 1).
            directed: keep the direction of funding.
        """
        n = self._n_nodes("FundingGraph.adjacency", n_nodes)
        s, d, _ = self.edges()
        return _adjacency(s, d, n, directed=directed)

    def degree(self, n_nodes: int | None = None) -> IntArray:
        """Number of distinct funding partners per account (undirected degree, int64[n])."""
        return _degree(self.adjacency(n_nodes)).astype(np.int64)

    def to_networkx(self, n_nodes: int | None = None, *, directed: bool = False) -> nx.Graph:
        """The funding graph as a networkx graph (for analysis, plots, other algorithms).

        Nodes are account ids ``0 … n_nodes-1`` (isolated accounts included). Repeated
        transfers between a pair are merged into one edge with attributes ``amount_tokens``
        (their sum, tokens) and ``transfers`` (their number); self-transfers are dropped.
        ``directed=False`` (a ``networkx.Graph``, as SybilRank sees it) merges both directions
        of a pair; ``directed=True`` gives a ``networkx.DiGraph`` (funder → funded, as the
        cluster detector sees it). Cost O(m log m) plus networkx's construction.
        """
        n = self._n_nodes("FundingGraph.to_networkx", n_nodes)
        s, d, a = self.edges()
        keep = s != d
        s, d, a = s[keep], d[keep], a[keep]
        if not directed:
            s, d = np.minimum(s, d), np.maximum(s, d)
        key = s * max(n, 1) + d
        uniq, inverse = np.unique(key, return_inverse=True)
        amount = np.bincount(inverse, weights=a, minlength=uniq.size)
        count = np.bincount(inverse, minlength=uniq.size)
        us, ud = uniq // max(n, 1), uniq % max(n, 1)
        g: nx.Graph = nx.DiGraph() if directed else nx.Graph()
        g.add_nodes_from(range(n))
        g.add_edges_from(
            (int(u), int(v), {"amount_tokens": float(x), "transfers": int(c)})
            for u, v, x, c in zip(us, ud, amount, count, strict=True)
        )
        return g


# --------------------------------------------------------------------------------------
# detectors
# --------------------------------------------------------------------------------------


class SybilRankResult(NamedTuple):
    """Output of :func:`sybilrank` (arrays indexed by account id)."""

    trust: FloatArray
    """Trust after the last iteration (dimensionless, sums to 1 over all accounts)."""
    degree: FloatArray
    """Number of distinct funding partners (count, as float64)."""
    relative_trust: FloatArray
    """Degree-normalised trust relative to its stationary value, t·vol/deg (dimensionless;
    >= about 1 honest, ≪ 1 sybil; ``nan`` for accounts without a funding edge)."""
    iterations: int
    """Number of power iterations run (count)."""


def sybilrank(
    src: npt.ArrayLike,
    dst: npt.ArrayLike,
    seeds: npt.ArrayLike,
    n_nodes: int,
    iterations: int | None = None,
    *,
    lazy_walk: bool = False,
) -> SybilRankResult:
    """SybilRank trust of every account (Cao et al., NSDI 2012), by sparse power iteration.

    The funding edges are read as an undirected simple graph (repeated and reverse
    transfers are one edge; self-transfers ignored). A total trust of 1 starts evenly on the
    seeds that have at least one edge, and each iteration sends every node's trust to its
    neighbours in equal parts (``t ← A·(t/deg)``, or ``t ← ½t + ½A·(t/deg)`` for the lazy
    walk); trust is conserved. After ``iterations`` steps (default ⌈log₂ n⌉, n = accounts with
    an edge, at least 1) trust is normalised by degree and reported relative to the
    stationary value 1/vol. Rank ascending by ``relative_trust``: the lowest are the likely
    sybils.

    Cost O(iterations · (n + m)) with scipy.sparse; no Python loop over nodes. Known
    false-positive mode: honest accounts with few edges far from every seed get little trust
    before the walk is stopped.

    Args:
        src: one end of each funding edge (int[m], account ids in [0, n_nodes)).
        dst: other end of each funding edge (int[m], account ids in [0, n_nodes)).
        seeds: account ids the protocol trusts as honest (int[k], k >= 1, in [0, n_nodes));
            seeds without an edge are ignored.
        n_nodes: number of accounts (length of the outputs).
        iterations: power iterations (count, >= 1) or None for ⌈log₂ n⌉.
        lazy_walk: use the lazy walk (see :attr:`SybilGraphParams.lazy_walk`).

    Raises:
        DefenseInputError: bad arrays, or no seed has a funding edge (trust cannot spread:
            pick seeds among connected accounts, e.g. with :func:`pick_seeds`).
    """
    op = "sybilrank"
    n = check_int(op, "n_nodes", n_nodes)
    s, d = _edges(op, src, dst, n)
    sd = np.unique(as_int_vector(op, "seeds", np.atleast_1d(np.asarray(seeds))))
    if sd.size and int(sd.max()) >= n:
        raise DefenseInputError(f"{op}: seed account {int(sd.max())} is not below n_nodes={n}")
    adj = _adjacency(s, d, n, directed=False)
    deg = _degree(adj)
    live_seeds = sd[deg[sd] > 0]
    if live_seeds.size == 0:
        raise DefenseInputError(
            f"{op}: none of the {sd.size} seeds has a funding edge, so no trust can spread; "
            "pick seeds among accounts with funding edges (see pick_seeds)"
        )
    if iterations is None:
        n_active = int(np.count_nonzero(deg))
        k = max(1, math.ceil(math.log2(n_active)))
    else:
        k = check_int(op, "iterations", iterations, 1)
    inv_deg = np.divide(1.0, deg, out=np.zeros(n, dtype=np.float64), where=deg > 0)
    trust = np.zeros(n, dtype=np.float64)
    trust[live_seeds] = 1.0 / live_seeds.size
    for _ in range(k):  # a loop over O(log n) iterations, each one sparse mat-vec
        spread = adj @ (trust * inv_deg)
        trust = 0.5 * trust + 0.5 * spread if lazy_walk else spread
    vol = float(deg.sum())
    rel = np.full(n, np.nan, dtype=np.float64)
    has = deg > 0
    rel[has] = trust[has] * vol / deg[has]
    return SybilRankResult(trust=trust, degree=deg, relative_trust=rel, iterations=k)


def funding_clusters(src: npt.ArrayLike, dst: npt.ArrayLike, n_nodes: int) -> IntArray:
    """Funding cluster of every account: weakly connected components of the funding graph.

    Identities funded directly or transitively from one wallet (and that wallet) share a
    cluster; so do accounts linked by any chain of transfers in either direction. The
    cluster id is the smallest account id in the cluster, so an account without funding
    edges is its own cluster (id = itself) and ids are stable as the graph grows.

    Cost O(n + m) (scipy.sparse.csgraph). Known false-positive mode: honest identities funded
    by one exchange/faucet wallet, or that funded each other once, form one cluster.

    Args:
        src: funder of each transfer (int[m], account ids in [0, n_nodes)).
        dst: funded account of each transfer (int[m], account ids in [0, n_nodes)).
        n_nodes: number of accounts (length of the output).

    Returns:
        int64[n_nodes] cluster ids.
    """
    op = "funding_clusters"
    n = check_int(op, "n_nodes", n_nodes)
    s, d = _edges(op, src, dst, n)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    adj = _adjacency(s, d, n, directed=True)
    _, labels = connected_components(adj, directed=True, connection="weak")
    # the first occurrence of each label (in account order) is the cluster's smallest id
    _, first = np.unique(labels, return_index=True)
    return first.astype(np.int64)[labels]


def cluster_sizes(cluster_id: npt.ArrayLike) -> IntArray:
    """Size of each account's cluster (count, int64[n]); ids are any integers >= 0."""
    cid = as_int_vector("cluster_sizes", "cluster_id", cluster_id)
    if cid.size == 0:
        return np.zeros(0, dtype=np.int64)
    _, inverse, counts = np.unique(cid, return_inverse=True, return_counts=True)
    return counts.astype(np.int64)[inverse]


def pick_seeds(
    candidates: npt.ArrayLike, degree: npt.ArrayLike, count: int, rng: np.random.Generator
) -> IntArray:
    """Draw SybilRank seeds: ``count`` distinct candidates with at least one funding edge.

    The simulator knows who is honest; the protocol it models knows only a few. Candidates
    without a funding edge are skipped (they cannot pass trust on); if fewer than ``count``
    qualify, all of them are returned (possibly none). Sorted int64 account ids.

    Args:
        candidates: account ids eligible as seeds, e.g. honest providers (int[c]).
        degree: funding degree per account (int or float[n]), e.g. ``FundingGraph.degree(n)``.
        count: number of seeds wanted (count, >= 1), e.g. ``params.trust_seeds``.
        rng: the numpy Generator to draw with.
    """
    op = "pick_seeds"
    cand = np.unique(as_int_vector(op, "candidates", candidates))
    deg = as_float_vector(op, "degree", degree, 0.0)
    k = check_int(op, "count", count, 1)
    if cand.size and int(cand.max()) >= deg.size:
        raise DefenseInputError(
            f"{op}: candidate account {int(cand.max())} is beyond the degree array "
            f"(length {deg.size}); pass the degree of every account"
        )
    live = cand[deg[cand] > 0] if cand.size else cand
    if live.size <= k:
        return live
    return np.sort(rng.choice(live, size=k, replace=False)).astype(np.int64)


class SybilDetection(NamedTuple):
    """Output of :func:`detect` (arrays indexed by account id)."""

    flagged: BoolArray
    """True for accounts judged to be sybils (bool[n])."""
    cluster_id: IntArray
    """Funding cluster of each account, see :func:`funding_clusters` (int64[n])."""
    cluster_size: IntArray
    """Number of accounts in each account's cluster (count, int64[n])."""
    relative_trust: FloatArray
    """SybilRank relative trust (dimensionless, float64[n]); all ``nan`` for ``"clusters"``
    or when SybilRank abstained (no seed with an edge)."""


def detect(
    graph: FundingGraph,
    params: SybilGraphParams,
    n_accounts: int,
    seeds: npt.ArrayLike | None = None,
) -> SybilDetection:
    """Flag sybil accounts with the method of ``params`` and compute funding clusters.

    ``"sybilrank"``: accounts with a funding edge and relative trust below
    ``params.trust_threshold`` are flagged; without edges, or when no seed has an edge, the
    detector abstains (flags nothing). ``"clusters"``: members of funding clusters with at
    least ``params.min_cluster_size`` accounts are flagged.

    Cost O(n + m) for clusters, O(log n · (n + m)) for SybilRank.

    Args:
        graph: the funding transfers recorded so far.
        params: the defence parameters.
        n_accounts: number of ledger accounts (length of the outputs).
        seeds: trusted honest account ids (int[k]); required for ``"sybilrank"``, ignored
            otherwise. See :func:`pick_seeds`.
    """
    op = "sybil_graph.detect"
    n = graph._n_nodes(op, n_accounts)
    src, dst, _ = graph.edges()
    cid = funding_clusters(src, dst, n)
    size = cluster_sizes(cid)
    rel = np.full(n, np.nan, dtype=np.float64)
    if params.method == "clusters":
        flagged = size >= params.min_cluster_size
    else:
        if seeds is None:
            raise DefenseInputError(
                f"{op}: method 'sybilrank' needs trust seeds; pass seeds=pick_seeds(...)"
            )
        sd = as_int_vector(op, "seeds", np.atleast_1d(np.asarray(seeds)))
        if sd.size and int(sd.max()) >= n:
            raise DefenseInputError(f"{op}: seed account {int(sd.max())} is not below {n}")
        deg = _degree(_adjacency(src, dst, n, directed=False))
        if sd.size and np.any(deg[sd] > 0):
            res = sybilrank(src, dst, sd, n, params.iterations, lazy_walk=params.lazy_walk)
            rel = res.relative_trust
        has = ~np.isnan(rel)
        flagged = np.zeros(n, dtype=np.bool_)
        flagged[has] = rel[has] < params.trust_threshold
    return SybilDetection(flagged=flagged, cluster_id=cid, cluster_size=size, relative_trust=rel)


# --------------------------------------------------------------------------------------
# reward discount
# --------------------------------------------------------------------------------------


class DiscountResult(NamedTuple):
    """Output of :func:`cluster_discount`."""

    adjusted_tokens: FloatArray
    """Reward per account after the discount (tokens, float64[n], 0 <= adjusted <= original)."""
    returned_tokens: float
    """Total withheld, to be returned to the reward pool (tokens, >= 0)."""


def cluster_discount(
    rewards_by_account: npt.ArrayLike,
    cluster_id: npt.ArrayLike,
    mode: Literal["one_identity"] | float,
    flagged: npt.ArrayLike | None = None,
) -> DiscountResult:
    """Discount the rewards of flagged accounts per funding cluster.

    * ``mode="one_identity"`` — the flagged members of a cluster are paid as one identity:
      their total is capped at the largest single reward among them and shared in
      proportion to what each earned, i.e. member i of flagged group C receives
      ``r_i · max_{j∈C} r_j / Σ_{j∈C} r_j``. A group of m equal earners is paid like one of
      them (each gets r/m); a group with one earner is unchanged.
    * ``mode`` a float f in [0, 1] — each flagged account keeps ``f · r_i``.

    Unflagged accounts are never changed. ``adjusted_tokens.sum() + returned_tokens`` equals
    the original total (up to floating-point rounding of the sums).

    Cost O(n log n) (grouping by cluster with ``np.unique``), no Python loop over accounts.
    Known false-positive mode: every honest account wrongly flagged loses part of its reward.

    Args:
        rewards_by_account: reward per account before the discount (tokens, float[n] >= 0).
        cluster_id: funding cluster per account (int[n] >= 0), e.g. from
            :func:`funding_clusters`.
        mode: ``"one_identity"`` or the share a flagged account keeps (dimensionless, [0, 1]).
        flagged: accounts subject to the discount (bool[n]); None = all accounts (every
            cluster is paid as one identity).
    """
    op = "cluster_discount"
    r = as_float_vector(op, "rewards_by_account", rewards_by_account, 0.0)
    cid = as_int_vector(op, "cluster_id", cluster_id)
    fl = (
        np.ones(r.size, dtype=np.bool_)
        if flagged is None
        else as_bool_vector(op, "flagged", flagged)
    )
    same_length(op, rewards_by_account=r, cluster_id=cid, flagged=fl)
    if isinstance(mode, str):
        check_choice(op, "mode", mode, (ONE_IDENTITY,))
        adjusted = r.copy()
        if fl.any():
            rf = r[fl]
            _, group = np.unique(cid[fl], return_inverse=True)
            n_groups = int(group.max()) + 1
            total = np.bincount(group, weights=rf, minlength=n_groups)
            top = np.zeros(n_groups, dtype=np.float64)
            np.maximum.at(top, group, rf)
            scale = np.divide(top, total, out=np.ones(n_groups), where=total > 0)
            adjusted[fl] = rf * np.minimum(scale, 1.0)[group]
    else:
        keep = check_float(op, "mode", mode, 0.0, 1.0)
        adjusted = np.where(fl, r * keep, r)
    returned = float(np.sum(r - adjusted))
    return DiscountResult(adjusted_tokens=adjusted, returned_tokens=returned)


# --------------------------------------------------------------------------------------
# the stateful defence (cadence + cached detection)
# --------------------------------------------------------------------------------------


class SybilGraphDefense:
    """The sybil-graph defence across epochs: records funding, detects on its cadence,
    discounts rewards with the latest detection.

    Usage per epoch: :meth:`record_funding` with the epoch's funding transfers;
    :meth:`update` (runs detection only when :meth:`is_due`); :meth:`apply` to the epoch's
    rewards. Accounts opened after the last detection are treated as unflagged singletons
    until the next one.
    """

    def __init__(self, params: SybilGraphParams, initial_capacity: int = 1024) -> None:
        if not isinstance(params, SybilGraphParams):
            raise DefenseParamError(
                f"SybilGraphDefense.params must be a SybilGraphParams, got {type(params).__name__}"
            )
        self.params = params
        """The defence parameters."""
        self.graph = FundingGraph(initial_capacity)
        """Every funding transfer recorded so far."""
        self.last: SybilDetection | None = None
        """The latest detection (None before the first run)."""
        self.last_epoch: int | None = None
        """Epoch of the latest detection (epochs; None before the first run)."""
        self.runs = 0
        """Number of detections run so far (count)."""

    def record_funding(
        self, src: npt.ArrayLike, dst: npt.ArrayLike, amounts_tokens: npt.ArrayLike
    ) -> None:
        """Add funding transfers to the graph (see :meth:`FundingGraph.add_edges`)."""
        self.graph.add_edges(src, dst, amounts_tokens)

    def is_due(self, epoch: int) -> bool:
        """True on epochs where detection runs: multiples of ``every_epochs`` (epoch >= 0)."""
        e = check_int("SybilGraphDefense.is_due", "epoch", epoch)
        return e % self.params.every_epochs == 0

    def update(
        self,
        epoch: int,
        n_accounts: int,
        seeds: npt.ArrayLike | None = None,
        *,
        force: bool = False,
    ) -> bool:
        """Run :func:`detect` if the epoch is due (or ``force``); returns whether it ran.

        Args:
            epoch: current epoch (epochs, >= 0).
            n_accounts: number of ledger accounts now.
            seeds: SybilRank trust seeds (ignored by ``"clusters"``).
            force: run even when not due.
        """
        if not (force or self.is_due(epoch)):
            return False
        self.last = detect(self.graph, self.params, n_accounts, seeds)
        self.last_epoch = int(epoch)
        self.runs += 1
        return True

    def flagged(self, n_accounts: int) -> BoolArray:
        """Latest flags padded to ``n_accounts`` (new accounts unflagged; bool[n])."""
        out = np.zeros(check_int("SybilGraphDefense.flagged", "n_accounts", n_accounts), bool)
        if self.last is not None:
            k = min(out.size, self.last.flagged.size)
            out[:k] = self.last.flagged[:k]
        return out

    def cluster_id(self, n_accounts: int) -> IntArray:
        """Latest clusters padded to ``n_accounts`` (new accounts their own cluster)."""
        n = check_int("SybilGraphDefense.cluster_id", "n_accounts", n_accounts)
        out = np.arange(n, dtype=np.int64)
        if self.last is not None:
            k = min(n, self.last.cluster_id.size)
            out[:k] = self.last.cluster_id[:k]
        return out

    def apply(self, rewards_by_account: npt.ArrayLike) -> DiscountResult:
        """Discount rewards (tokens, float[n] by account) with the latest detection.

        Before any detection, nothing is discounted. See :func:`cluster_discount`.
        """
        r = as_float_vector(
            "SybilGraphDefense.apply", "rewards_by_account", rewards_by_account, 0.0
        )
        return cluster_discount(
            r, self.cluster_id(r.size), self.params.discount, self.flagged(r.size)
        )
