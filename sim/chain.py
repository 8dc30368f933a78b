"""The chain model: blocks, a tip-ordered mempool and an EIP-1559 base fee, run with simpy.

Every epoch the model hands the chain the number of transactions of each kind it produced
(fee payments, payouts, swaps, stakes, bonds, ...). :meth:`Chain.settle` spreads them over
the epoch as they arrive, lets a simpy process produce blocks every
``block_time_seconds`` (each block takes up to ``block_capacity_tx`` transactions, highest
tip first), updates the base fee after every block the EIP-1559 way and reports what the
epoch cost: base fee burned, tips paid to block producers, latency and backlog. The
backlog carries over to the next epoch. :func:`payout_tx_count` counts how many payout
transactions a payout policy needs, so that ``stream`` (one transfer per inference per
contributor) and ``batch`` (one claim per contributor per epoch) can be compared on chain.

Why aggregated, and what is exact
---------------------------------
A day of 2-second blocks is 43,200 blocks and may carry millions of transactions, so
neither one Python object per transaction nor one simpy event per block is affordable
inside an epoch loop. The mempool is a small count matrix instead: rows are *arrival
cohorts* (the transactions that arrived during one block batch), columns are *tip
buckets* (distinct tip levels, highest first). One simpy event stands for a batch of
``blocks_per_event`` blocks (chosen automatically so that an epoch has at most
``max_events_per_epoch`` events) and handles it with numpy arithmetic:

* Tips: each kind's tips follow a log-normal (median per kind, common spread)
  discretised into ``tip_buckets`` equal-probability levels; each transaction's level is
  drawn with the generator. Kinds whose levels coincide share a bucket.
* Arrivals are drawn per (tip bucket, batch) with the generator (``arrivals="random"``:
  each transaction's arrival batch is uniform over the epoch in proportion to the batch's
  length) or split evenly (``"uniform"``). Within a batch, the batch's arrivals are spread
  evenly over its blocks (integer split), and within a block interval a transaction's
  arrival time is uniform. With ``blocks_per_event=1`` this is exact per block.
* Per-block inclusion counts are exact for that arrival pattern: the total queue follows
  the Lindley recursion ``Q_k = max(0, Q_{k-1} + a_k - C)``, solved in closed form over the
  batch (``Q_k = S_k + max(Q_0, -min_{j<=k} S_j)`` with ``S_k = sum_{i<=k}(a_i - C)``).
  Inclusion does not depend on the base fee (demand is inelastic within an epoch; the
  model reacts between epochs through ``base_fee_end_tokens``), so block usage, the base
  fee path and the burn are exact whatever the batch size.
* The base fee per block is the EIP-1559 rule (``BASE_FEE_MAX_CHANGE_DENOMINATOR = 8``,
  i.e. ±12.5 %) on transaction counts rather than gas,
  ``b <- clip(b * (1 + max_change * (used - target) / target), min, max)`` with
  ``target = capacity * target_fullness``, evaluated over the whole batch at once in log
  space: with only the lower clamp binding, as a reflected random walk
  (``x_k = A_k + max(x_0, max_{j<=k}(log min - A_j))``); if the upper clamp would bind,
  by a parallel prefix scan of clamp maps (clamps compose into clamps).
* Which transactions a batch includes is decided per batch: the batch's exact inclusion
  count goes to the pool (backlog plus the batch's arrivals) highest tip first, oldest
  cohort first within a tip level. This is exact with ``blocks_per_event=1`` and whenever
  the batch empties the mempool (every transaction is included); in a congested batch
  with several blocks, a high-tip transaction arriving late in the batch may be counted
  in place of a lower-tip one that in reality went into an earlier block of the same batch
  (this moves tips and latency, never counts, base fee or burn).
* Latency (inclusion delay, from arrival to the block that includes the transaction) is
  exact when a batch is uncongested (no backlog, no block over capacity: every
  transaction goes into the next block, delay uniform on (0, block_time]) and with
  ``blocks_per_event=1``. In a congested batch of B blocks it is resolved to the batch
  duration: a transaction from an older cohort is taken to leave at a block time uniform
  over the batch, one from the batch's own cohort after a delay uniform on
  (0, B * block_time]. Each such group of transactions is a uniform delay interval; the
  epoch's mean and 95th percentile are those of the resulting mixture of uniforms,
  computed exactly.
* The mempool keeps at most ``max_mempool_cohorts`` arrival cohorts; beyond that the
  oldest are merged into one cohort spanning their arrival times (only under a backlog
  that keeps growing; it only blurs latency).

There is no mempool eviction and no fee cap on the demand side: a transaction waits until
it is included.

Cost: a batch with no arrivals and no backlog, or one that leaves the fee at its floor, is
O(1); other batches are O(blocks_per_event) plus O(cohorts × tip buckets) when congested.
Measured on the 2-core development machine with the defaults (200 events per epoch,
43,200 blocks): about 1-2 ms per uncongested epoch at the fee floor, ~10 ms off the floor,
~20-50 ms for a saturated epoch; 10 million transactions settle in well under 0.1 s.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import simpy
from scipy.special import ndtri

__all__ = [
    "Chain",
    "ChainError",
    "ChainParams",
    "ChainParamsError",
    "EpochChainStats",
    "base_fee_path_tokens",
    "payout_tx_count",
]


class ChainParamsError(ValueError):
    """A chain parameter is out of range; the message names the field, value and fix."""


class ChainError(ValueError):
    """A bad input to the chain (counts, tips, epoch order, payout policy)."""


@dataclass(frozen=True)
class ChainParams:
    """Parameters of the chain model (block production, fee market, mempool aggregation).

    Attributes:
        block_time_seconds: time between two blocks, in seconds (> 0).
        block_capacity_tx: most transactions one block can hold, in transactions (>= 1).
        epoch_seconds: length of one epoch, in seconds; a whole number of blocks.
        initial_base_fee_tokens: base fee of the first block, in tokens per transaction
            (>= min_base_fee_tokens, <= max_base_fee_tokens).
        min_base_fee_tokens: floor of the base fee, in tokens per transaction (>= 0).
        max_base_fee_tokens: ceiling of the base fee, in tokens per transaction (a safety
            bound: with inelastic demand an overloaded chain would raise the fee without
            limit; EIP-1559 itself has none, so raise it if it binds).
        base_fee_max_change: largest relative base-fee change per block, a fraction
            (0.125 = ±12.5 % for a full / empty block at target 0.5); in (0, 1).
        target_fullness: block usage the base fee steers to, a fraction of capacity in
            (0, 1] (0.5 = half-full blocks, as in EIP-1559).
        tip_tokens: median tip (priority fee) per transaction, in tokens (>= 0);
            a kind's own median can be given to :meth:`Chain.settle`.
        tip_sigma: spread of the log-normal tip distribution, the standard deviation of
            log(tip), dimensionless (>= 0).
        tip_buckets: number of equal-probability tip levels the log-normal is discretised
            into (its quantile midpoints), a count (>= 1).
        payout_policy: ``"stream"`` (one transfer per inference per contributor) or
            ``"batch"`` (one claim per contributor per epoch); see :func:`payout_tx_count`.
        blocks_per_event: blocks one simpy event stands for, in blocks (>= 1); None picks
            the smallest value with at most max_events_per_epoch events per epoch.
        max_events_per_epoch: bound on simpy block-batch events per epoch when
            blocks_per_event is None, in events (>= 1).
        arrivals: ``"random"`` (arrival batch of each transaction drawn with the
            generator) or ``"uniform"`` (spread evenly over the epoch).
        gas_per_tx: gas of one transaction, in gas units (>= 0), for ``gas_total``.
        max_mempool_cohorts: most arrival cohorts the mempool keeps before merging the
            oldest, a count (>= 2); only affects latency under a growing backlog.
    """

    block_time_seconds: float = 2.0
    block_capacity_tx: int = 5_000
    epoch_seconds: float = 86_400.0
    initial_base_fee_tokens: float = 1e-3
    min_base_fee_tokens: float = 1e-6
    max_base_fee_tokens: float = 1e3
    base_fee_max_change: float = 0.125
    target_fullness: float = 0.5
    tip_tokens: float = 1e-4
    tip_sigma: float = 1.0
    tip_buckets: int = 8
    payout_policy: Literal["stream", "batch"] = "batch"
    blocks_per_event: int | None = None
    max_events_per_epoch: int = 200
    arrivals: Literal["random", "uniform"] = "random"
    gas_per_tx: int = 21_000
    max_mempool_cohorts: int = 64

    def __post_init__(self) -> None:
        def bad(name: str, value: object, fix: str) -> ChainParamsError:
            return ChainParamsError(f"ChainParams.{name} = {value!r} is invalid: {fix}")

        def finite(name: str) -> float:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad(name, value, "give a number")
            if math.isnan(value):
                raise bad(name, value, "give a number, not NaN")
            return float(value)

        def integer(name: str, low: int) -> int:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise bad(name, value, f"give a whole number >= {low}")
            if value < low:
                raise bad(name, value, f"give a whole number >= {low}")
            return int(value)

        block_time = finite("block_time_seconds")
        if not (0.0 < block_time < math.inf):
            raise bad("block_time_seconds", block_time, "give a positive finite time in seconds")
        integer("block_capacity_tx", 1)
        epoch = finite("epoch_seconds")
        if not (block_time <= epoch < math.inf):
            raise bad("epoch_seconds", epoch, "give a finite time >= block_time_seconds")
        ratio = epoch / block_time
        if abs(ratio - round(ratio)) > 1e-9 * ratio:
            raise bad(
                "epoch_seconds",
                epoch,
                f"make it a whole number of blocks of {block_time} s (e.g. "
                f"{round(ratio) * block_time})",
            )
        lo = finite("min_base_fee_tokens")
        if not (0.0 <= lo < math.inf):
            raise bad("min_base_fee_tokens", lo, "give a finite fee >= 0 tokens")
        hi = finite("max_base_fee_tokens")
        if not (lo <= hi):
            raise bad("max_base_fee_tokens", hi, f"give a fee >= min_base_fee_tokens ({lo})")
        b0 = finite("initial_base_fee_tokens")
        if not (lo <= b0 <= hi) or math.isinf(b0):
            raise bad(
                "initial_base_fee_tokens",
                b0,
                f"give a fee between min_base_fee_tokens ({lo}) and max_base_fee_tokens ({hi})",
            )
        change = finite("base_fee_max_change")
        if not (0.0 < change < 1.0):
            raise bad("base_fee_max_change", change, "give a fraction in (0, 1), e.g. 0.125")
        fullness = finite("target_fullness")
        if not (0.0 < fullness <= 1.0):
            raise bad("target_fullness", fullness, "give a fraction in (0, 1], e.g. 0.5")
        tip = finite("tip_tokens")
        if not (0.0 <= tip < math.inf):
            raise bad("tip_tokens", tip, "give a finite tip >= 0 tokens")
        sigma = finite("tip_sigma")
        if not (0.0 <= sigma < math.inf):
            raise bad("tip_sigma", sigma, "give a finite spread >= 0")
        integer("tip_buckets", 1)
        if self.payout_policy not in ("stream", "batch"):
            raise bad("payout_policy", self.payout_policy, "use 'stream' or 'batch'")
        if self.blocks_per_event is not None:
            integer("blocks_per_event", 1)
        integer("max_events_per_epoch", 1)
        if self.arrivals not in ("random", "uniform"):
            raise bad("arrivals", self.arrivals, "use 'random' or 'uniform'")
        integer("gas_per_tx", 0)
        integer("max_mempool_cohorts", 2)

    @property
    def blocks_per_epoch(self) -> int:
        """Blocks produced in one epoch, in blocks."""
        return round(self.epoch_seconds / self.block_time_seconds)

    @property
    def effective_blocks_per_event(self) -> int:
        """Blocks one simpy event stands for, in blocks (resolves ``None``)."""
        if self.blocks_per_event is not None:
            return int(self.blocks_per_event)
        return -(-self.blocks_per_epoch // int(self.max_events_per_epoch))

    @property
    def target_tx(self) -> float:
        """Block usage the base fee steers to, in transactions per block."""
        return self.block_capacity_tx * self.target_fullness

    def tip_levels_tokens(self, median_tokens: float) -> np.ndarray:
        """Tip levels (tokens per tx) of the discretised log-normal with this median.

        Level q is the quantile ``(q + 0.5) / tip_buckets`` of
        ``LogNormal(log(median), tip_sigma)``; each level has probability 1 / tip_buckets.
        """
        k = int(self.tip_buckets)
        z = ndtri((np.arange(k) + 0.5) / k)
        return median_tokens * np.exp(self.tip_sigma * z)


@dataclass(frozen=True)
class EpochChainStats:
    """What one epoch cost on chain.

    Attributes:
        epoch: the epoch settled, an index.
        tx_submitted: transactions submitted this epoch, in transactions.
        tx_included: transactions included in this epoch's blocks (this epoch's or the
            backlog's), in transactions.
        backlog_start_tx: transactions waiting in the mempool when the epoch began.
        backlog_tx: transactions still waiting at the end of the epoch; always
            ``backlog_start_tx + tx_submitted - tx_included``.
        blocks: blocks produced this epoch, in blocks.
        mean_fullness: mean block usage over the epoch, a fraction of capacity.
        base_fee_end_tokens: base fee for the next block, in tokens per transaction.
        base_fee_burned_tokens: Σ over blocks of base fee × transactions included, in
            tokens; the model burns it on the ledger.
        tips_tokens: tips paid to block producers, in tokens.
        gas_total: gas of the included transactions, in gas units.
        mean_latency_seconds: mean inclusion delay (arrival to block) of the transactions
            included this epoch, in seconds (NaN if none was included).
        p95_latency_seconds: 95th percentile of that delay, in seconds (NaN if none).
        simpy_events: block-batch events the simpy process handled this epoch.
        blocks_per_event: blocks one event stood for, in blocks.
        tx_submitted_by_kind: transactions submitted this epoch per kind.
    """

    epoch: int
    tx_submitted: int
    tx_included: int
    backlog_start_tx: int
    backlog_tx: int
    blocks: int
    mean_fullness: float
    base_fee_end_tokens: float
    base_fee_burned_tokens: float
    tips_tokens: float
    gas_total: int
    mean_latency_seconds: float
    p95_latency_seconds: float
    simpy_events: int
    blocks_per_event: int
    tx_submitted_by_kind: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# pure helpers


def _clamped_walk(x0: float, steps: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Return x_1..x_n with ``x_k = clip(x_{k-1} + steps_k, lo, hi)``, vectorised.

    Each step is the map ``x -> clip(x + a, l, h)``; such maps compose into maps of the
    same form (``(a1,l1,h1)`` then ``(a2,l2,h2)`` is ``(a1+a2, clip(l1+a2,l2,h2),
    clip(h1+a2,l2,h2))``), so an inclusive Hillis-Steele prefix scan gives every prefix
    in ceil(log2 n) numpy passes. When only one clamp binds, the cheaper reflected walk
    formula is used.
    """
    n = steps.shape[0]
    if n == 0:
        return np.zeros(0)
    # (ufunc methods rather than np.cumsum / np.clip: this runs once per simpy event.)
    cum = np.add.accumulate(steps)
    # Lower clamp only: x_k = A_k + max(x_0, max_{j<=k}(lo - A_j)).
    x = np.maximum.accumulate(np.maximum(lo - cum, x0))
    x += cum
    if not (np.maximum.reduce(x) > hi):
        return np.maximum(x, lo, out=x)
    # Upper clamp only: x_k = A_k + min(x_0, min_{j<=k}(hi - A_j)).
    x = np.minimum.accumulate(np.minimum(hi - cum, x0))
    x += cum
    if not (np.minimum.reduce(x) < lo):
        return np.minimum(x, hi, out=x)
    # Both clamps bind within these steps: prefix scan of clamp maps.
    a = np.array(steps, dtype=float)
    low = np.full(n, lo, dtype=float)
    high = np.full(n, hi, dtype=float)
    d = 1
    while d < n:
        a2 = a[d:]
        new_a = a[:-d] + a2
        new_low = np.minimum(np.maximum(low[:-d] + a2, low[d:]), high[d:])
        new_high = np.minimum(np.maximum(high[:-d] + a2, low[d:]), high[d:])
        a[d:] = new_a
        low[d:] = new_low
        high[d:] = new_high
        d *= 2
    return np.minimum(np.maximum(x0 + a, low), high)


def base_fee_path_tokens(
    initial_base_fee_tokens: float,
    used_tx: np.ndarray,
    *,
    target_tx: float,
    max_change: float,
    min_base_fee_tokens: float = 0.0,
    max_base_fee_tokens: float = math.inf,
) -> np.ndarray:
    """Base fee before each block and after the last, EIP-1559 rule on transaction counts.

    ``b_{k+1} = clip(b_k * (1 + max_change * (used_k - target_tx) / target_tx), min, max)``
    (EIP-1559 with gas counted in transactions; max_change = 1/8). Evaluated in log space
    without a Python loop over blocks.

    Args:
        initial_base_fee_tokens: base fee of the first block, tokens per transaction.
        used_tx: transactions included in each block, shape (n,).
        target_tx: target usage, transactions per block (> 0).
        max_change: relative change for a block at twice the target, a fraction in (0, 1).
        min_base_fee_tokens: floor, tokens per transaction.
        max_base_fee_tokens: ceiling, tokens per transaction.

    Returns:
        float64 array of shape (n + 1,): element k is the fee paid in block k (k < n),
        element n the fee for the block after the last.
    """
    used = np.asarray(used_tx, dtype=float)
    if used.ndim != 1:
        raise ChainError(f"base_fee_path_tokens: used_tx must be 1-D, got shape {used.shape}")
    if not (target_tx > 0):
        raise ChainError(f"base_fee_path_tokens: target_tx = {target_tx!r}; give a value > 0")
    if not (0.0 < max_change < 1.0):
        raise ChainError(
            f"base_fee_path_tokens: max_change = {max_change!r}; give a fraction in (0, 1)"
        )
    if np.any(used < 0) or not np.all(np.isfinite(used)):
        raise ChainError("base_fee_path_tokens: used_tx must be finite and >= 0 transactions")
    g = 1.0 + max_change * (used - target_tx) / target_tx
    if np.any(g <= 0):
        raise ChainError(
            "base_fee_path_tokens: a block usage makes the fee factor non-positive; "
            "used_tx must be <= target_tx * (1 + 1 / max_change)"
        )
    with np.errstate(divide="ignore"):
        steps = np.log(g)
        lo = math.log(min_base_fee_tokens) if min_base_fee_tokens > 0 else -math.inf
        hi = math.log(max_base_fee_tokens) if max_base_fee_tokens > 0 else -math.inf
        x0 = math.log(initial_base_fee_tokens) if initial_base_fee_tokens > 0 else -math.inf
    x0 = min(max(x0, lo), hi)
    path = np.empty(used.shape[0] + 1)
    path[0] = x0
    path[1:] = _clamped_walk(x0, steps, lo, hi)
    # exp(log(fee)) may miss a clamp bound by an ulp: clamp in linear space too.
    return np.minimum(np.maximum(np.exp(path), min_base_fee_tokens), max_base_fee_tokens)


def _uniform_mixture_stats(
    lo: np.ndarray, hi: np.ndarray, weight: np.ndarray, q: float
) -> tuple[float, float]:
    """Mean and q-quantile of a weighted mixture of Uniform(lo_i, hi_i) distributions.

    The mixture CDF is piecewise linear with breakpoints at every lo and hi; it is built
    from sorted breakpoints and cumulative slopes, and inverted exactly. Returns
    (nan, nan) for zero total weight.
    """
    keep = weight > 0
    lo, hi, w = lo[keep], hi[keep], weight[keep].astype(float)
    total = w.sum()
    if total <= 0:
        return math.nan, math.nan
    mean = float(np.dot(w, (lo + hi) * 0.5) / total)
    width = np.maximum(hi - lo, 1e-12 * np.maximum(np.abs(hi), 1.0))
    slope = w / width
    pos = np.concatenate([lo, lo + width])
    dslope = np.concatenate([slope, -slope])
    order = np.argsort(pos, kind="stable")
    pos, dslope = pos[order], dslope[order]
    run = np.maximum(np.cumsum(dslope), 0.0)
    cdf = np.concatenate([[0.0], np.cumsum(run[:-1] * np.diff(pos))])
    target = q * cdf[-1]
    i = int(np.searchsorted(cdf, target, side="left"))
    if i == 0:
        return mean, float(pos[0])
    if i >= pos.shape[0]:
        return mean, float(pos[-1])
    s = run[i - 1]
    quantile = pos[i - 1] + (target - cdf[i - 1]) / s if s > 0 else pos[i]
    return mean, float(min(max(quantile, pos[i - 1]), pos[i]))


# --------------------------------------------------------------------------------------
# the chain

_STEP_TABLE_MAX_TX = 1_000_000


class Chain:
    """A chain with a tip-ordered mempool and an EIP-1559 base fee, driven by simpy.

    ``Chain(params, rng)`` keeps its mempool (backlog), base fee and simpy clock across
    epochs; call :meth:`settle` once per epoch, with consecutive epoch numbers. All
    randomness (tip levels drawn per transaction, arrival batches) comes from ``rng``.
    See the module docstring for the aggregation and what it keeps exact.
    """

    def __init__(self, params: ChainParams, rng: np.random.Generator) -> None:
        """Create an idle chain with an empty mempool and the initial base fee."""
        if not isinstance(params, ChainParams):
            raise ChainError(f"Chain: params must be ChainParams, got {type(params).__name__}")
        if not isinstance(rng, np.random.Generator):
            raise ChainError(f"Chain: rng must be numpy.random.Generator, got {type(rng)}")
        self.params = params
        self._rng = rng
        self._env: simpy.Environment | None = None
        self._last_epoch: int | None = None
        with np.errstate(divide="ignore"):
            self._log_lo = float(np.log(params.min_base_fee_tokens))
            self._log_hi = float(np.log(params.max_base_fee_tokens))
            self._log_fee = float(np.log(params.initial_base_fee_tokens))
        cap = int(params.block_capacity_tx)
        target = params.target_tx
        # log of the per-block fee factor for a block holding u = 0..capacity transactions
        # (a lookup table up to _STEP_TABLE_MAX_TX, computed per block above that).
        self._step_table = np.log1p(
            params.base_fee_max_change
            * (np.arange(min(cap, _STEP_TABLE_MAX_TX) + 1) - target)
            / target
        )
        self._empty_step = float(self._step_table[0])
        self._floor_max_tx = math.floor(target)
        bpe = min(params.effective_blocks_per_event, params.blocks_per_epoch)
        self._arange = np.arange(bpe + 1, dtype=np.int64)
        self._backlog = 0
        # mempool: counts[cohort, bucket]; cohort arrival spans; bucket tip levels (desc).
        self._levels = np.zeros(0)
        self._pending = np.zeros((0, 0), dtype=np.int64)
        self._cohort_start = np.zeros(0)
        self._cohort_end = np.zeros(0)
        self._new_by_bucket = np.zeros(0, dtype=np.int64)

    # ---- public state -----------------------------------------------------------------

    @property
    def base_fee_tokens(self) -> float:
        """Base fee of the next block, in tokens per transaction."""
        p = self.params
        if self._log_fee <= self._log_lo:
            return float(p.min_base_fee_tokens)
        if self._log_fee >= self._log_hi:
            return float(p.max_base_fee_tokens)
        return min(max(math.exp(self._log_fee), p.min_base_fee_tokens), p.max_base_fee_tokens)

    @property
    def backlog_tx(self) -> int:
        """Transactions waiting in the mempool, in transactions."""
        return int(self._pending.sum())

    @property
    def now_seconds(self) -> float:
        """Simulated chain time, in seconds since epoch 0 began."""
        return float(self._env.now) if self._env is not None else math.nan

    # ---- settle -----------------------------------------------------------------------

    def settle(
        self,
        epoch: int,
        tx_counts_by_kind: Mapping[str, int] | np.ndarray,
        tips: Mapping[str, float] | None = None,
    ) -> EpochChainStats:
        """Run one epoch of block production over this epoch's transactions.

        Args:
            epoch: the epoch index (>= 0); consecutive across calls (the first call may
                start anywhere). The epoch covers chain time
                [epoch * epoch_seconds, (epoch + 1) * epoch_seconds).
            tx_counts_by_kind: transactions submitted this epoch per kind (e.g.
                ``{"fee": 1200, "payout": 9000, "swap": 40}``), non-negative integers; a
                1-D integer array is taken as counts of kinds "0", "1", ...
            tips: optional median tip per kind, in tokens per transaction, overriding
                ``params.tip_tokens`` for the kinds listed.

        Returns:
            The epoch's :class:`EpochChainStats`.
        """
        p = self.params
        epoch = self._check_epoch(epoch)
        counts = self._check_counts(tx_counts_by_kind)
        medians = self._check_tips(tips, counts)

        # Tip bucket of each transaction: equal-probability levels per kind.
        kinds = list(counts)
        n_kind = np.array([counts[k] for k in kinds], dtype=np.int64)
        k_levels = int(p.tip_buckets)
        factor = p.tip_levels_tokens(1.0)
        kind_levels = np.array([medians[k] for k in kinds], dtype=float)[:, None] * factor
        if kinds:
            per_level = self._rng.multinomial(n_kind, np.full(k_levels, 1.0 / k_levels))
        else:
            per_level = np.zeros((0, k_levels), dtype=np.int64)
        self._rebucket(kind_levels.ravel(), per_level.ravel())
        new_by_bucket = self._new_by_bucket

        # Arrival batches.
        n_blocks = p.blocks_per_epoch
        bpe = min(p.effective_blocks_per_event, n_blocks)
        n_batches = -(-n_blocks // bpe)
        batch_blocks = np.full(n_batches, bpe, dtype=np.int64)
        batch_blocks[-1] = n_blocks - bpe * (n_batches - 1)
        if p.arrivals == "random" and new_by_bucket.size:
            arrivals = self._rng.multinomial(new_by_bucket, batch_blocks / n_blocks).T
        else:
            edges = np.concatenate([[0], np.cumsum(batch_blocks)])
            arrivals = np.diff((edges[:, None] * new_by_bucket[None, :]) // n_blocks, axis=0)
        arrivals = np.ascontiguousarray(arrivals, dtype=np.int64)

        epoch_start = epoch * float(p.epoch_seconds)
        if self._env is None:
            self._env = simpy.Environment(initial_time=epoch_start)
        acc = _EpochAccumulator(backlog_start=self.backlog_tx)
        proc = self._env.process(self._produce(epoch_start, arrivals, batch_blocks, acc))
        self._env.run(until=proc)
        self._last_epoch = epoch

        mean_lat, p95_lat = acc.latency(p.block_time_seconds)
        submitted = int(n_kind.sum())
        backlog = self.backlog_tx
        return EpochChainStats(
            epoch=epoch,
            tx_submitted=submitted,
            tx_included=acc.included,
            backlog_start_tx=acc.backlog_start,
            backlog_tx=backlog,
            blocks=acc.blocks,
            mean_fullness=acc.used / (acc.blocks * p.block_capacity_tx) if acc.blocks else 0.0,
            base_fee_end_tokens=self.base_fee_tokens,
            base_fee_burned_tokens=acc.burned,
            tips_tokens=acc.tips,
            gas_total=acc.included * int(p.gas_per_tx),
            mean_latency_seconds=mean_lat,
            p95_latency_seconds=p95_lat,
            simpy_events=acc.events,
            blocks_per_event=bpe,
            tx_submitted_by_kind={k: int(counts[k]) for k in kinds},
        )

    # ---- input checks -----------------------------------------------------------------

    def _check_epoch(self, epoch: int) -> int:
        if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or epoch < 0:
            raise ChainError(f"Chain.settle: epoch = {epoch!r}; give a whole number >= 0")
        epoch = int(epoch)
        if self._last_epoch is not None and epoch != self._last_epoch + 1:
            raise ChainError(
                f"Chain.settle: epoch = {epoch} after epoch {self._last_epoch}; settle "
                f"consecutive epochs (next is {self._last_epoch + 1})"
            )
        return epoch

    @staticmethod
    def _check_counts(tx_counts_by_kind: Mapping[str, int] | np.ndarray) -> dict[str, int]:
        if isinstance(tx_counts_by_kind, Mapping):
            items = list(tx_counts_by_kind.items())
        else:
            arr = np.asarray(tx_counts_by_kind)
            if arr.ndim != 1:
                raise ChainError(
                    f"Chain.settle: tx_counts_by_kind array must be 1-D, got shape {arr.shape}"
                )
            items = [(str(i), v) for i, v in enumerate(arr.tolist())]
        out: dict[str, int] = {}
        for kind, value in items:
            ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
            if isinstance(value, float | np.floating) and float(value).is_integer():
                ok = True
            if not ok or value < 0:
                raise ChainError(
                    f"Chain.settle: tx_counts_by_kind[{kind!r}] = {value!r}; give a whole "
                    "number of transactions >= 0"
                )
            out[str(kind)] = int(value)
        return out

    def _check_tips(
        self, tips: Mapping[str, float] | None, counts: Mapping[str, int]
    ) -> dict[str, float]:
        medians = {k: float(self.params.tip_tokens) for k in counts}
        for kind, value in (tips or {}).items():
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float | np.integer | np.floating)
                or not (0.0 <= float(value) < math.inf)
            ):
                raise ChainError(
                    f"Chain.settle: tips[{kind!r}] = {value!r}; give a finite median tip >= 0 "
                    "tokens per transaction"
                )
            if kind in medians:
                medians[kind] = float(value)
        return medians

    # ---- mempool bookkeeping ----------------------------------------------------------

    def _rebucket(self, levels: np.ndarray, counts: np.ndarray) -> None:
        """Make the bucket columns the distinct tip levels of backlog and new arrivals.

        Columns are sorted by tip level, highest first; backlog columns are carried over.
        Sets ``self._new_by_bucket`` (new transactions per bucket).
        """
        old_keep = self._pending.sum(axis=0) > 0 if self._pending.size else np.zeros(0, bool)
        old_levels = self._levels[old_keep]
        new_mask = counts > 0
        all_levels = np.concatenate([old_levels, levels[new_mask]])
        uniq = np.unique(all_levels)[::-1]  # descending
        pos = {lvl: i for i, lvl in enumerate(uniq.tolist())}
        old_idx = np.array([pos[v] for v in old_levels.tolist()], dtype=np.int64)
        new_idx = np.array([pos[v] for v in levels[new_mask].tolist()], dtype=np.int64)
        pending = np.zeros((self._pending.shape[0], uniq.shape[0]), dtype=np.int64)
        if old_idx.size:
            pending[:, old_idx] = self._pending[:, old_keep]
        self._pending = pending
        self._levels = uniq.astype(float)
        self._new_by_bucket = np.bincount(
            new_idx, weights=counts[new_mask].astype(float), minlength=uniq.shape[0]
        ).astype(np.int64)

    # ---- the simpy process ------------------------------------------------------------

    def _produce(
        self,
        epoch_start: float,
        arrivals: np.ndarray,
        batch_blocks: np.ndarray,
        acc: _EpochAccumulator,
    ) -> Generator[simpy.events.Event, object, None]:
        """simpy process: one timeout per block batch, then that batch's blocks; a quiet
        epoch at the fee floor (:meth:`_quiet_at_floor`) in one timeout for all of them."""
        env = self._env
        assert env is not None
        bt = float(self.params.block_time_seconds)
        totals_tx = arrivals.sum(axis=1)
        tips_tokens = arrivals @ self._levels if self._levels.size else np.zeros(totals_tx.size)
        if self._quiet_at_floor(totals_tx, batch_blocks):
            # The clock where one timeout per batch would leave it (sequential sums).
            end = float(np.cumsum(np.concatenate([[env.now], batch_blocks * bt]))[-1])
            yield env.timeout(end - env.now)
            self._settle_quiet(totals_tx, tips_tokens, batch_blocks, acc)
            return
        starts = epoch_start + np.concatenate([[0], np.cumsum(batch_blocks)[:-1]]) * bt
        totals = totals_tx.tolist()
        tips = tips_tokens.tolist()
        sizes = batch_blocks.tolist()
        for j, n_blocks in enumerate(sizes):
            yield env.timeout(n_blocks * bt)
            acc.events += 1
            self._batch(float(starts[j]), n_blocks, arrivals[j], totals[j], tips[j], acc)

    def _quiet_at_floor(self, totals_tx: np.ndarray, batch_blocks: np.ndarray) -> bool:
        """True when the whole epoch takes :meth:`_batch`'s O(1) paths: no backlog, the
        base fee at its floor, and no batch bringing more than the target per block (so
        every transaction goes into the next block and the fee stays at the floor)."""
        return (
            self._backlog == 0
            and self._log_fee == self._log_lo
            and bool(np.all(totals_tx <= batch_blocks * self._floor_max_tx))
        )

    def _settle_quiet(
        self,
        totals_tx: np.ndarray,
        tips_tokens: np.ndarray,
        batch_blocks: np.ndarray,
        acc: _EpochAccumulator,
    ) -> None:
        """Every batch of a quiet epoch at the fee floor at once: what :meth:`_batch` adds
        batch by batch, with the float sums taken in the same order (bit-identical)."""
        busy = totals_tx > 0
        n_tx = int(totals_tx.sum())
        fee = float(self.params.min_base_fee_tokens)
        acc.events += int(totals_tx.size)
        acc.blocks += int(batch_blocks.sum())
        acc.burned = float(np.cumsum(np.concatenate([[acc.burned], fee * totals_tx[busy]]))[-1])
        acc.tips = float(np.cumsum(np.concatenate([[acc.tips], tips_tokens[busy]]))[-1])
        acc.used += n_tx
        acc.included += n_tx
        acc.next_block_tx += n_tx

    def _batch(
        self,
        start: float,
        n_blocks: int,
        arrived: np.ndarray,
        total_arrived: int,
        arrived_tips: float,
        acc: _EpochAccumulator,
    ) -> None:
        """Produce ``n_blocks`` blocks whose arrivals are ``arrived`` (per tip bucket).

        ``total_arrived`` and ``arrived_tips`` are the sum of ``arrived`` and its tips.
        """
        p = self.params
        cap = int(p.block_capacity_tx)
        backlog = self._backlog
        acc.blocks += n_blocks
        log_lo = self._log_lo

        if total_arrived == 0 and backlog == 0:
            # Empty blocks: the fee falls by (1 - max_change) per block, to the floor.
            self._log_fee = max(self._log_fee + n_blocks * self._empty_step, log_lo)
            return

        light = backlog == 0 and -(-total_arrived // n_blocks) <= cap
        if light and self._log_fee == log_lo and total_arrived <= n_blocks * self._floor_max_tx:
            # Fee at the floor and no block above target: it stays there (O(1)).
            acc.burned += float(p.min_base_fee_tokens) * total_arrived
            acc.used += total_arrived
            acc.included += total_arrived
            acc.tips += arrived_tips
            acc.next_block_tx += total_arrived
            return

        edges = self._arange[: n_blocks + 1] * total_arrived
        edges //= n_blocks
        per_block = edges[1:] - edges[:-1]
        if light:
            used = per_block
            n_used = total_arrived
        else:
            # Lindley recursion Q_k = max(0, Q_{k-1} + a_k - C) in closed form.
            s = np.add.accumulate(per_block - cap)
            queue = np.maximum(np.negative(np.minimum.accumulate(s)), backlog)
            queue += s
            used = per_block - queue
            used[0] += backlog
            used[1:] += queue[:-1]
            n_used = backlog + total_arrived - int(queue[-1])
        if cap <= _STEP_TABLE_MAX_TX:
            steps = self._step_table[used]
        else:
            steps = np.log1p(p.base_fee_max_change * (used - p.target_tx) / p.target_tx)
        path = _clamped_walk(self._log_fee, steps, log_lo, self._log_hi)
        acc.burned += math.exp(self._log_fee) * int(used[0]) + float(
            np.dot(np.exp(path[:-1]), used[1:])
        )
        self._log_fee = float(path[-1])
        acc.used += n_used
        acc.included += n_used

        if light:
            # Every transaction goes into the block after it arrives.
            acc.tips += arrived_tips
            acc.next_block_tx += total_arrived
            return
        self._take(start, n_blocks, arrived, n_used, acc)

    def _take(
        self, start: float, n_blocks: int, arrived: np.ndarray, n_used: int, acc: _EpochAccumulator
    ) -> None:
        """Remove a congested batch's ``n_used`` included transactions from the mempool.

        The pool is the backlog cohorts plus this batch's arrivals as a new cohort; the
        highest tip levels go first, oldest cohort first within a level. Records tips and
        the latency cells of the included transactions.
        """
        bt = float(self.params.block_time_seconds)
        end_time = start + n_blocks * bt
        pending = np.concatenate([self._pending, arrived[None, :]])
        c_start = np.concatenate([self._cohort_start, [start]])
        c_end = np.concatenate([self._cohort_end, [end_time]])
        pool = np.add.reduce(pending, axis=0)
        before = np.add.accumulate(pool) - pool
        take_bucket = np.minimum(np.maximum(n_used - before, 0), pool)
        older = np.add.accumulate(pending, axis=0) - pending
        take = np.minimum(np.maximum(take_bucket - older, 0), pending)
        pending -= take
        acc.tips += float(np.dot(take_bucket, self._levels))

        # Latency: an older cohort's transactions leave at a block time uniform over the
        # batch; this batch's own cohort after a delay uniform on (0, n_blocks * bt].
        taken = np.add.reduce(take, axis=1)
        lo = np.maximum(start + bt - c_end, 0.0)
        hi = end_time - c_start
        lo[-1], hi[-1] = 0.0, n_blocks * bt
        mask = taken > 0
        acc.cells_lo.append(lo[mask])
        acc.cells_hi.append(hi[mask])
        acc.cells_w.append(taken[mask])

        keep = np.add.reduce(pending, axis=1) > 0
        pending, c_start, c_end = pending[keep], c_start[keep], c_end[keep]
        extra = pending.shape[0] - int(self.params.max_mempool_cohorts)
        if extra > 0:
            # Merge the oldest cohorts into one spanning their arrival times.
            merged = np.add.reduce(pending[: extra + 1], axis=0, keepdims=True)
            pending = np.concatenate([merged, pending[extra + 1 :]])
            c_start = np.concatenate([c_start[:1], c_start[extra + 1 :]])
            c_end = c_end[extra:]
        self._pending, self._cohort_start, self._cohort_end = pending, c_start, c_end
        self._backlog = int(np.add.reduce(pending, axis=None)) if pending.size else 0


@dataclass
class _EpochAccumulator:
    """Running totals of one epoch (internal)."""

    backlog_start: int
    events: int = 0
    blocks: int = 0
    used: int = 0
    included: int = 0
    burned: float = 0.0
    tips: float = 0.0
    next_block_tx: int = 0
    cells_lo: list[np.ndarray] = field(default_factory=list)
    cells_hi: list[np.ndarray] = field(default_factory=list)
    cells_w: list[np.ndarray] = field(default_factory=list)

    def latency(self, block_time_seconds: float) -> tuple[float, float]:
        """Mean and p95 inclusion delay in seconds of the transactions included."""
        lo = np.concatenate([[0.0], *self.cells_lo])
        hi = np.concatenate([[block_time_seconds], *self.cells_hi])
        w = np.concatenate([[self.next_block_tx], *self.cells_w]).astype(float)
        return _uniform_mixture_stats(lo, hi, w, 0.95)


# --------------------------------------------------------------------------------------
# payouts


def payout_tx_count(
    policy: Literal["stream", "batch"],
    contributors: np.ndarray,
    credit_tokens: np.ndarray | None = None,
) -> int:
    """Number of payout transactions an epoch's attribution needs under a payout policy.

    The epoch's attribution is given densely per inference: row i of ``contributors``
    holds the contributor (account) ids credited by inference i (e.g. the owners of the K
    retrieved neighbours), ``-1`` for an unused slot; ``credit_tokens`` (same shape) the
    credit of each entry, or None if every listed entry has positive credit. Credits of
    the same contributor within one inference add up.

    * ``stream``: one transfer per (inference, contributor) pair with positive credit.
    * ``batch``: one claim per contributor whose credit over the epoch is positive.

    Args:
        policy: ``"stream"`` or ``"batch"``.
        contributors: integer array of shape (n_inferences, k); ids >= 0, or -1.
        credit_tokens: float array of the same shape, tokens; None = all positive.

    Returns:
        The number of payout transactions (an int).
    """
    if policy not in ("stream", "batch"):
        raise ChainError(f"payout_tx_count: policy = {policy!r}; use 'stream' or 'batch'")
    ids = np.asarray(contributors)
    if ids.ndim == 1:
        ids = ids[:, None]
    if ids.ndim != 2 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
        raise ChainError(
            f"payout_tx_count: contributors must be a 2-D integer array (inferences × slots), "
            f"got shape {ids.shape} dtype {ids.dtype}"
        )
    if ids.size == 0:
        return 0
    if ids.min() < -1:
        raise ChainError(
            f"payout_tx_count: contributor id {int(ids.min())} is invalid; use ids >= 0 "
            "and -1 for an empty slot"
        )
    if credit_tokens is None:  # every listed entry is credited: count distinct ids
        if policy == "batch":
            return int(np.unique(ids[ids >= 0]).size)
        srt = np.sort(ids, axis=1)
        new_run = np.ones(srt.shape, dtype=bool)
        new_run[:, 1:] = srt[:, 1:] != srt[:, :-1]
        return int(np.count_nonzero(new_run & (srt >= 0)))
    credit = np.asarray(credit_tokens, dtype=float)
    if credit.size != ids.size:
        raise ChainError(
            f"payout_tx_count: credit_tokens has {credit.size} entries, contributors "
            f"{ids.size}; give one credit per contributor slot"
        )
    if not np.all(np.isfinite(credit)):
        raise ChainError("payout_tx_count: credit_tokens must be finite; found NaN or inf")
    credit = np.where(ids >= 0, credit.reshape(ids.shape), 0.0)

    if policy == "batch":
        valid = ids >= 0
        totals = np.bincount(ids[valid], weights=credit[valid])
        return int(np.count_nonzero(totals > 0))

    # stream: net credit per (inference, contributor): sort each row by id, sum runs.
    order = np.argsort(ids, axis=1, kind="stable")
    sid = np.take_along_axis(ids, order, axis=1)
    scr = np.take_along_axis(credit, order, axis=1)
    n, k = sid.shape
    new_run = np.ones((n, k), dtype=bool)
    new_run[:, 1:] = sid[:, 1:] != sid[:, :-1]
    flat_start = np.flatnonzero(new_run.ravel())
    run_credit = np.add.reduceat(scr.ravel(), flat_start)
    run_id = sid.ravel()[flat_start]
    return int(np.count_nonzero((run_credit > 0) & (run_id >= 0)))
