"""Per-inference fees and their routing to builders, stakers, data contributors and burn.

Why: every inference a consumer pays for is the revenue that the data economy shares out.
This module holds the pure formulas — the fee of one inference, its split
β/γ/δ/φ (builder, stakers, contributors, burn; summing to 1), contributors paid by the
positive part of their attribution — and turns a whole epoch of inferences into transfer
arrays for ``Ledger.transfer_many(src, dst, amounts)`` in one vectorised pass (no Python loop
over inferences, payers or recipients).

Units: ``*_tokens`` amounts are protocol (currency) tokens; ``tokens_in``/``tokens_out`` of an
inference are *model* tokens (prompt/completion length), priced per 1,000.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "FeeError",
    "FeeSplit",
    "FeeSplitError",
    "Transfers",
    "aggregate_inference_attribution",
    "contributor_payouts",
    "inference_fee_tokens",
    "route_inference_fees",
    "split_fees",
]

SPLIT_TOLERANCE = 1e-12
"""Allowed |β+γ+δ+φ − 1| for a :class:`FeeSplit`."""


class FeeError(ValueError):
    """Invalid input to a fee formula or to fee routing."""


class FeeSplitError(FeeError):
    """A :class:`FeeSplit` whose shares are outside [0, 1] or do not sum to 1."""


# --------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> str:
    if arr.ndim == 0:
        return repr(arr.item())
    idx = np.unravel_index(int(np.argmax(bad)), bad.shape)
    return f"{arr[idx].item()!r} at index {tuple(int(i) for i in idx)}"


def _nonneg(op: str, name: str, value: ArrayLike) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        raise FeeError(f"{op}: {name} must be finite and >= 0, got {_first_bad(arr, bad)}")
    return arr


def _finite(op: str, name: str, value: ArrayLike) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise FeeError(f"{op}: {name} must be finite, got {_first_bad(arr, bad)}")
    return arr


def _accounts(op: str, name: str, value: ArrayLike) -> np.ndarray:
    """1-D int64 account ids (>= 0); empty lists are accepted."""
    arr = np.asarray(value)
    if arr.ndim != 1:
        raise FeeError(f"{op}: {name} must be a 1-D array of account ids, got shape {arr.shape}")
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise FeeError(
            f"{op}: {name} must hold integer account ids, got dtype {arr.dtype}; pass an int array"
        )
    arr = arr.astype(np.int64, copy=False)
    bad = arr < 0
    if bad.any():
        raise FeeError(f"{op}: {name} must be account ids >= 0, got {_first_bad(arr, bad)}")
    return arr


def _compact(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(ids, return_inverse=True)`` for non-negative int64 ids, in O(n + max id)
    with ``np.bincount`` when the ids are dense enough (ledger account ids are), else by
    sorting."""
    if ids.size == 0:
        return ids.copy(), np.zeros(0, dtype=np.int64)
    top = int(ids.max())
    if top > 4 * ids.size + 1_000_000:
        uniq, inv = np.unique(ids, return_inverse=True)
        return uniq, inv.reshape(-1).astype(np.int64, copy=False)
    present = np.bincount(ids, minlength=top + 1) > 0
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present).astype(np.int64), rank[ids].astype(np.int64, copy=False)


def _result(x: np.ndarray) -> np.ndarray | float:
    return float(x) if x.ndim == 0 else x


# --------------------------------------------------------------------------------------
# formulas
# --------------------------------------------------------------------------------------


def inference_fee_tokens(
    tokens_in: ArrayLike,
    tokens_out: ArrayLike,
    rate_in_per_1k: ArrayLike,
    rate_out_per_1k: ArrayLike,
    platform_fee_tokens: ArrayLike,
) -> np.ndarray | float:
    """Fee of each inference: ``tokens_in/1000·rate_in + tokens_out/1000·rate_out + platform``.

    All arguments broadcast (e.g. per-inference lengths with per-model rates).

    Args:
        tokens_in: input (prompt) length of each inference (model tokens, >= 0).
        tokens_out: output (completion) length of each inference (model tokens, >= 0).
        rate_in_per_1k: price of input (protocol tokens per 1,000 model tokens, >= 0).
        rate_out_per_1k: price of output (protocol tokens per 1,000 model tokens, >= 0).
        platform_fee_tokens: flat fee per inference (protocol tokens, >= 0).

    Returns:
        The fee per inference (protocol tokens): a float for scalar inputs, else an array.

    Raises:
        FeeError: a negative, NaN or infinite argument.
    """
    op = "inference_fee_tokens"
    t_in = _nonneg(op, "tokens_in", tokens_in)
    t_out = _nonneg(op, "tokens_out", tokens_out)
    r_in = _nonneg(op, "rate_in_per_1k", rate_in_per_1k)
    r_out = _nonneg(op, "rate_out_per_1k", rate_out_per_1k)
    flat = _nonneg(op, "platform_fee_tokens", platform_fee_tokens)
    with np.errstate(over="ignore"):
        fee = np.asarray(t_in / 1000.0 * r_in + t_out / 1000.0 * r_out + flat, dtype=np.float64)
    if not np.isfinite(fee).all():
        raise FeeError(f"{op}: the fee overflows float64; the lengths or rates are too large")
    return _result(fee)


@dataclass(frozen=True)
class FeeSplit:
    """Shares of each inference's net fee (dimensionless fractions, each in [0, 1], sum 1).

    Attributes:
        builder: β, share to the model's builder (fraction of the net fee).
        stakers: γ, share to stakers, pro-rata to stake (fraction of the net fee).
        contributors: δ, share to data contributors by attribution (fraction of the net fee).
        burn: φ, share burned (fraction of the net fee).

    Raises:
        FeeSplitError: a share outside [0, 1] or non-finite, or ``|β+γ+δ+φ − 1| > 1e-12``.
    """

    builder: float
    stakers: float
    contributors: float
    burn: float

    def __post_init__(self) -> None:
        values = {
            "builder": self.builder,
            "stakers": self.stakers,
            "contributors": self.contributors,
            "burn": self.burn,
        }
        described = ", ".join(f"{k}={v!r}" for k, v in values.items())
        for name, v in values.items():
            if not (isinstance(v, numbers.Real) and math.isfinite(v) and 0.0 <= v <= 1.0):
                raise FeeSplitError(
                    f"FeeSplit({described}): {name}={v!r} must be a fraction in [0, 1]"
                )
        total = math.fsum(float(v) for v in values.values())
        if abs(total - 1.0) > SPLIT_TOLERANCE:
            raise FeeSplitError(
                f"FeeSplit({described}): shares sum to {total!r}, must sum to 1 "
                f"(within {SPLIT_TOLERANCE:g}); adjust the shares"
            )


def split_fees(net_fee_tokens: ArrayLike, split: FeeSplit) -> dict[str, np.ndarray]:
    """Split each net fee into builder/stakers/contributors/burn parts (vectorised).

    Args:
        net_fee_tokens: net fee of each inference (protocol tokens, >= 0), any shape.
        split: the shares.

    Returns:
        ``{"builder", "stakers", "contributors", "burn"}`` → arrays of the input's shape
        (protocol tokens); per inference the parts sum to the fee up to floating-point
        rounding (a few ulps, plus the split's own ≤ 1e-12 tolerance).

    Raises:
        FeeError: a negative, NaN or infinite fee.
    """
    fee = _nonneg("split_fees", "net_fee_tokens", net_fee_tokens)
    return {
        "builder": fee * float(split.builder),
        "stakers": fee * float(split.stakers),
        "contributors": fee * float(split.contributors),
        "burn": fee * float(split.burn),
    }


def contributor_payouts(pool_tokens: float, shares_by_account: ArrayLike) -> np.ndarray:
    """Share ``pool_tokens`` among accounts by the positive part of their attribution.

    ``payout_i = pool · max(s_i, 0) / Σ_j max(s_j, 0)``: accounts with a zero or negative
    value (e.g. poisoned data) get nothing, and negative values do not reduce others' pay.

    If no value is positive, nothing is paid and zeros are returned: the pool stays wherever
    the caller holds it and the caller decides its fate (burn it, roll it over, leave it
    with the payers — :func:`route_inference_fees` takes this choice as ``unallocated``).

    Args:
        pool_tokens: tokens to distribute (protocol tokens, >= 0).
        shares_by_account: attribution value per account (any unit, may be negative), 1-D.

    Returns:
        Tokens per account (protocol tokens), same length; sums to ``pool_tokens`` (up to
        rounding) or to 0.

    Raises:
        FeeError: negative/NaN/inf pool, NaN/inf share, or a non-1-D array.
    """
    op = "contributor_payouts"
    pool = float(_nonneg(op, "pool_tokens", pool_tokens))
    s = _finite(op, "shares_by_account", shares_by_account)
    if s.ndim != 1:
        raise FeeError(f"{op}: shares_by_account must be 1-D, got shape {s.shape}")
    pos = np.maximum(s, 0.0)
    total = float(pos.sum())
    if not total > 0.0:
        return np.zeros_like(pos)
    return (pos / total) * pool


def aggregate_inference_attribution(
    inference: ArrayLike,
    account: ArrayLike,
    weight: ArrayLike,
    contributor_fee_tokens: ArrayLike,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Turn per-inference attribution into per-account contributor amounts (vectorised).

    For engines that attribute each inference separately (e.g. ``retrieval``: the K
    neighbours that answered), given as sparse triples ``(inference[e], account[e],
    weight[e])``: each inference's contributor fee is shared over its own triples by the
    positive part of their weights, then summed per account. Passing the returned amounts
    as ``contributor_weights`` to :func:`route_inference_fees` reproduces per-inference
    routing exactly, because the contributor pool equals their sum. Inferences with no
    positive weight cannot be attributed; their fee is reported as ``unattributed_tokens``
    (and, if the amounts are then used as weights, shared pro-rata with the rest).

    Args:
        inference: index of the inference of each triple (int, in [0, n_inferences)).
        account: contributor account of each triple (int account id >= 0).
        weight: attribution weight of each triple (any unit, may be negative).
        contributor_fee_tokens: contributor part of each inference's fee (protocol tokens,
            >= 0), length n_inferences.

    Returns:
        ``(accounts, amounts_tokens, unattributed_tokens)``: unique accounts (sorted int64),
        the tokens each earns (protocol tokens) and the fee of unattributable inferences.

    Raises:
        FeeError: mismatched lengths, an inference index out of range, negative account
            ids, non-finite weights or fees.
    """
    op = "aggregate_inference_attribution"
    inf = _accounts(op, "inference", inference)
    acc = _accounts(op, "account", account)
    w = _finite(op, "weight", weight)
    fee = _nonneg(op, "contributor_fee_tokens", contributor_fee_tokens)
    if fee.ndim != 1:
        raise FeeError(f"{op}: contributor_fee_tokens must be 1-D, got shape {fee.shape}")
    if not (inf.shape == acc.shape == w.shape):
        raise FeeError(
            f"{op}: inference, account and weight must have the same length, got "
            f"{inf.shape[0]}, {acc.shape[0]} and {w.shape}"
        )
    n_inf = fee.shape[0]
    out_of_range = inf >= n_inf
    if out_of_range.any():
        raise FeeError(
            f"{op}: inference index {_first_bad(inf, out_of_range)} is out of range for "
            f"{n_inf} inferences (len(contributor_fee_tokens))"
        )
    pos = np.maximum(w, 0.0)
    per_inference = np.bincount(inf, weights=pos, minlength=n_inf)
    attributed = per_inference > 0.0
    safe = np.where(attributed, per_inference, 1.0)
    edge_tokens = pos / safe[inf] * fee[inf]
    accounts, inverse = _compact(acc)
    amounts = np.bincount(inverse, weights=edge_tokens, minlength=accounts.shape[0])
    unattributed = float(fee[~attributed].sum())
    return accounts, amounts, unattributed


# --------------------------------------------------------------------------------------
# routing
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Transfers:
    """Transfers that settle one batch of inference fees, ready for ``transfer_many``.

    Apply ``ledger.transfer_many(t.src, t.dst, t.amount)`` first, then burn ``burn_amount[i]``
    tokens from account ``burn_src[i]`` for every i (one entry — the burn sink — when a
    ``burn_account`` was given; otherwise the payers themselves).

    Rows are aggregated (one row per payer→builder pair, a sparse flow decomposition for the
    staker and contributor pools, then one row per payer into the burn sink, if any — see
    :func:`route_inference_fees`); zero-amount rows are dropped. A row may have
    ``src == dst`` when an account pays itself (e.g. a wash consumer calling its own model):
    a no-op for balances (``Ledger.transfer_many`` accepts it), kept so the accounting adds up.

    Funding guarantee: a payer whose balance is at least ``payer_fee_tokens`` (its fees
    added in inference order, i.e. ``np.bincount(payer, weights=fee_tokens)``) can always
    settle — its rows, added in row order as the ledger nets them, plus its burn never
    exceed that amount (floating-point excess is trimmed from its rows, a few ulps).

    Attributes:
        src: payer account of each transfer (int64 account ids).
        dst: recipient account of each transfer (int64 account ids).
        amount: amount of each transfer (protocol tokens, float64, > 0).
        burn_src: accounts to burn from after the transfers (int64 account ids).
        burn_amount: tokens to burn from each ``burn_src`` (protocol tokens, float64).
        builder_tokens: total routed to builders (protocol tokens).
        stakers_tokens: total routed to stakers (protocol tokens).
        contributors_tokens: total routed to data contributors (protocol tokens).
        burn_tokens: total to burn = ``burn_amount.sum()`` (protocol tokens).
        unallocated_tokens: fees not charged because their pool had no eligible recipient
            and ``unallocated="payer"`` (protocol tokens; they stay with the payers).
        payer_accounts: the distinct payers, sorted (int64 account ids).
        payer_fee_tokens: fees of each of ``payer_accounts`` added in inference order
            (protocol tokens): the balance that guarantees the payer can settle.
    """

    src: np.ndarray
    dst: np.ndarray
    amount: np.ndarray
    burn_src: np.ndarray
    burn_amount: np.ndarray
    builder_tokens: float
    stakers_tokens: float
    contributors_tokens: float
    burn_tokens: float
    unallocated_tokens: float
    payer_accounts: np.ndarray
    payer_fee_tokens: np.ndarray

    def __len__(self) -> int:
        return int(self.src.shape[0])


_BUILDER, _STAKERS, _CONTRIBUTORS, _BURN = 0, 1, 2, 3


def _fit_to_budget(row_payer: np.ndarray, amount: np.ndarray, budget: np.ndarray) -> np.ndarray:
    """Scale down (by a few ulps) the rows of payers whose row-order sum exceeds their budget.

    ``np.bincount`` adds a payer's rows sequentially in row order, exactly as the ledger
    nets a batch, so after this a payer funded with ``budget`` can never be overdrawn.
    Only payers over budget are touched; the loop runs over a few rounds, not over rows.
    """
    n = budget.shape[0]
    eps = float(np.finfo(np.float64).eps)
    for r in range(12):
        debit = np.bincount(row_payer, weights=amount, minlength=n)
        over = debit > budget
        if not over.any():
            return amount
        factor = np.ones(n)
        factor[over] = budget[over] / debit[over] * (1.0 - 2.0**r * eps)
        amount = amount * factor[row_payer]
        # Relative scaling cannot shave subnormal amounts: also step every row of an
        # over-budget payer one ulp towards zero, which always lowers its sum.
        rows_over = over[row_payer]
        amount[rows_over] = np.nextafter(amount[rows_over], 0.0)
    raise FeeError(  # pragma: no cover - the margin doubles each round
        "route_inference_fees: could not fit payer debits to their fees; please report"
    )


def _transport(
    src_ids: np.ndarray, supply: np.ndarray, dst_ids: np.ndarray, demand: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse flow from sources to destinations matching supplies to demands (vectorised).

    North-west-corner rule on the cumulative sums: lay the supplies and the demands side by
    side on [0, total]; every interval between consecutive breakpoints is one transfer from
    the source covering it to the destination covering it. At most
    ``len(src_ids) + len(dst_ids) − 1`` rows; each source pays its supply and each
    destination receives its demand (up to rounding of the cumulative sums). The demands are
    rescaled onto the supply total so that no token is created or lost.
    """
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))
    if supply.size == 0 or demand.size == 0:
        return empty
    cs = np.cumsum(supply)
    total = float(cs[-1])
    cd = np.cumsum(demand)
    if not (total > 0.0 and cd[-1] > 0.0):
        return empty
    cd = np.minimum(cd, total)
    cd[-1] = total
    breaks = np.unique(np.concatenate((np.zeros(1), cs, cd)))
    left = breaks[:-1]
    amount = np.diff(breaks)
    i = np.searchsorted(cs, left, side="right")
    j = np.searchsorted(cd, left, side="right")
    return src_ids[i], dst_ids[j], amount


def route_inference_fees(
    payer: ArrayLike,
    builder: ArrayLike,
    fee_tokens: ArrayLike,
    split: FeeSplit,
    *,
    staker_accounts: ArrayLike,
    staker_weights: ArrayLike,
    contributor_accounts: ArrayLike,
    contributor_weights: ArrayLike,
    burn_account: int | None = None,
    unallocated: Literal["burn", "payer"] = "burn",
) -> Transfers:
    """Route a batch of inference fees to builders, stakers, contributors and burn.

    Per inference i paid by ``payer[i]`` to model builder ``builder[i]``:
    ``fee_tokens[i]`` splits by ``split`` (:func:`split_fees`); the builder part goes to
    ``builder[i]``; the stakers' parts of all inferences form one pool shared pro-rata to
    ``staker_weights`` (e.g. stake); the contributors' parts form one pool shared by the
    positive part of ``contributor_weights`` (:func:`contributor_payouts`); the burn part is
    sent to ``burn_account`` (if given) for the caller to burn, or left on the payers to be
    burned from there.

    Contributor attribution is per account, aggregated over the batch — the right form for
    dataset-level engines (Shapley, LOO, influence, …). Per-inference attribution (the
    ``retrieval`` engine) reduces to it exactly: aggregate the per-inference weights into
    per-account amounts with :func:`aggregate_inference_attribution` and pass those as
    ``contributor_weights``.

    Pools with no eligible recipient (no staker with positive weight, no contributor with
    positive attribution) follow ``unallocated``: ``"burn"`` adds them to the burn,
    ``"payer"`` leaves them with the payers (not charged; reported as
    ``unallocated_tokens``).

    The staker and contributor pools are paid from many payers to many recipients; instead
    of a dense payer×recipient matrix, the payments are decomposed into a sparse flow (a
    north-west-corner rule on cumulative sums: at most payers + recipients − 1 rows). Every
    payer is debited its share of the pools and every recipient credited its payout, up to
    floating-point rounding of the cumulative sums (absolute error of order machine epsilon
    × the pool total); which payer is paired with which recipient carries no meaning.

    Conservation: ``Σ amount`` (excluding payer→``burn_account`` rows) + ``burn_tokens`` +
    ``unallocated_tokens`` = ``Σ fee_tokens`` up to floating-point rounding; the ledger
    itself never creates tokens (every row is a transfer). A payer holding its
    ``payer_fee_tokens`` can always settle (see :class:`Transfers`).

    Args:
        payer: account paying each inference (int account ids), length n.
        builder: builder account of the model of each inference (int account ids), length n.
        fee_tokens: net fee of each inference (protocol tokens, >= 0), length n.
        split: builder/stakers/contributors/burn shares.
        staker_accounts: staker accounts (int account ids).
        staker_weights: weight of each staker, e.g. its stake (tokens or any unit, >= 0).
        contributor_accounts: contributor accounts (int account ids).
        contributor_weights: attribution value of each contributor (any unit, may be
            negative: only the positive part is paid).
        burn_account: account id of a dedicated burn sink (not a payer, builder, staker
            or contributor), or None to burn from the payers.
        unallocated: fate of a pool with no eligible recipient, ``"burn"`` or ``"payer"``.

    Returns:
        :class:`Transfers`.

    Raises:
        FeeError: mismatched lengths, negative/non-integer account ids, negative/NaN/inf fees
            or staker weights, NaN/inf contributor weights, an unknown ``unallocated``, or a
            ``burn_account`` that is not a dedicated account.
    """
    op = "route_inference_fees"
    payer_a = _accounts(op, "payer", payer)
    builder_a = _accounts(op, "builder", builder)
    fee = _nonneg(op, "fee_tokens", fee_tokens)
    if fee.ndim != 1 or not (payer_a.shape == builder_a.shape == fee.shape):
        raise FeeError(
            f"{op}: payer, builder and fee_tokens must be 1-D of the same length, got "
            f"{payer_a.shape}, {builder_a.shape} and {fee.shape}"
        )
    stakers = _accounts(op, "staker_accounts", staker_accounts)
    s_w = _nonneg(op, "staker_weights", staker_weights).reshape(-1)
    contributors = _accounts(op, "contributor_accounts", contributor_accounts)
    c_w = _finite(op, "contributor_weights", contributor_weights).reshape(-1)
    if s_w.shape != stakers.shape:
        raise FeeError(
            f"{op}: staker_weights has {s_w.shape[0]} entries for {stakers.shape[0]} "
            "staker_accounts; give one weight per account"
        )
    if c_w.shape != contributors.shape:
        raise FeeError(
            f"{op}: contributor_weights has {c_w.shape[0]} entries for "
            f"{contributors.shape[0]} contributor_accounts; give one weight per account"
        )
    if unallocated not in ("burn", "payer"):
        raise FeeError(f"{op}: unallocated={unallocated!r} must be 'burn' or 'payer'")
    if burn_account is not None and (
        isinstance(burn_account, bool)
        or not isinstance(burn_account, numbers.Integral)
        or burn_account < 0
    ):
        raise FeeError(f"{op}: burn_account={burn_account!r} must be an account id >= 0 or None")
    if burn_account is not None:
        for name, ids in (
            ("payer", payer_a),
            ("builder", builder_a),
            ("staker_accounts", stakers),
            ("contributor_accounts", contributors),
        ):
            if (ids == burn_account).any():
                raise FeeError(
                    f"{op}: burn_account={burn_account!r} also appears in {name}; the burn "
                    "sink must be a dedicated account (its whole intake is burned)"
                )

    with np.errstate(over="ignore"):
        fee_total = float(fee.sum())
    if not math.isfinite(fee_total):
        raise FeeError(f"{op}: the total of fee_tokens overflows float64; split the batch")
    parts = split_fees(fee, split)
    payers, inv = _compact(payer_a)
    n_payers = payers.shape[0]

    # Builder legs: one row per distinct (payer, builder) pair, sorted by payer then builder.
    builders, b_inv = _compact(builder_a)
    pair_keys, pair_inv = _compact(inv * builders.shape[0] + b_inv)
    pairs = (
        np.stack(
            (payers[pair_keys // builders.shape[0]], builders[pair_keys % builders.shape[0]]),
            axis=1,
        )
        if pair_keys.size
        else np.zeros((0, 2), dtype=np.int64)
    )
    b_amount = np.bincount(pair_inv, weights=parts["builder"], minlength=pairs.shape[0])

    # Staker and contributor pools.
    s_pos_total = float(s_w.sum())
    c_pos = np.maximum(c_w, 0.0)
    c_pos_total = float(c_pos.sum())
    stakers_ok = s_pos_total > 0.0
    contributors_ok = c_pos_total > 0.0
    pooled = np.zeros_like(fee)
    burned = parts["burn"].copy()
    left_with_payers = 0.0
    for ok, key in ((stakers_ok, "stakers"), (contributors_ok, "contributors")):
        if ok:
            pooled += parts[key]
        elif unallocated == "burn":
            burned += parts[key]
        else:
            left_with_payers += float(parts[key].sum())
    supply = np.bincount(inv, weights=pooled, minlength=n_payers)
    stakers_pool = float(parts["stakers"].sum()) if stakers_ok else 0.0
    contributors_pool = float(parts["contributors"].sum()) if contributors_ok else 0.0
    s_demand = (s_w / s_pos_total) * stakers_pool if stakers_ok else np.zeros_like(s_w)
    c_demand = contributor_payouts(contributors_pool, c_w)
    n_st = stakers.shape[0]
    recipients = np.concatenate((np.arange(n_st), n_st + np.arange(contributors.shape[0])))
    p_src, p_rec, p_amount = _transport(
        payers, supply, recipients, np.concatenate((s_demand, c_demand))
    )
    to_staker = p_rec < n_st
    all_recipient_ids = np.concatenate((stakers, contributors))
    p_dst = all_recipient_ids[p_rec] if p_rec.size else np.zeros(0, np.int64)

    # Burn: per payer, sent to the sink (a last row per payer) or burned from the payers.
    burn_per_payer = np.bincount(inv, weights=burned, minlength=n_payers)
    has_burn = burn_per_payer > 0.0
    sink_rows = burn_account is not None
    n_sink_rows = int(has_burn.sum()) if sink_rows else 0
    src = np.concatenate(
        (pairs[:, 0], p_src, payers[has_burn] if sink_rows else payers[:0])
    ).astype(np.int64)
    dst = np.concatenate(
        (
            pairs[:, 1],
            p_dst,
            np.full(n_sink_rows, burn_account if sink_rows else 0, dtype=np.int64),
        )
    ).astype(np.int64)
    amount = np.concatenate(
        (b_amount, p_amount, burn_per_payer[has_burn] if sink_rows else np.zeros(0))
    )
    kind = np.concatenate(
        (
            np.full(pairs.shape[0], _BUILDER, np.int8),
            np.where(to_staker, _STAKERS, _CONTRIBUTORS).astype(np.int8),
            np.full(n_sink_rows, _BURN, np.int8),
        )
    )
    # Each payer's rows, added in row order (as Ledger.transfer_many and np.bincount add
    # them), must not exceed its fees added in inference order: trim by a few ulps if needed.
    fee_per_payer = np.bincount(inv, weights=fee, minlength=n_payers)
    row_payer = np.searchsorted(payers, src)
    amount = _fit_to_budget(row_payer, amount, fee_per_payer)
    keep = amount > 0.0
    src, dst, amount, kind, row_payer = (
        src[keep],
        dst[keep],
        amount[keep],
        kind[keep],
        row_payer[keep],
    )
    if sink_rows:
        to_sink = kind == _BURN
        # the sink's balance grows by its rows added in row order: burn exactly that
        burn_total = (
            float(np.bincount(np.zeros(int(to_sink.sum()), np.int64), weights=amount[to_sink])[0])
            if to_sink.any()
            else 0.0
        )
        burn_src = np.array([int(burn_account)], dtype=np.int64)[: int(burn_total > 0.0)]
        burn_amount = np.array([burn_total])[: int(burn_total > 0.0)]
    else:
        # burn from the payers what their fees leave after the transfers (never more)
        debit = np.bincount(row_payer, weights=amount, minlength=n_payers)
        room = np.maximum(fee_per_payer - debit, 0.0)
        wanted = np.minimum(burn_per_payer, room)
        has_burn = wanted > 0.0
        burn_src = payers[has_burn]
        burn_amount = wanted[has_burn]
        burn_total = float(burn_amount.sum())

    return Transfers(
        src=src,
        dst=dst,
        amount=amount,
        burn_src=burn_src.astype(np.int64, copy=False),
        burn_amount=burn_amount.astype(np.float64, copy=False),
        builder_tokens=float(amount[kind == _BUILDER].sum()),
        stakers_tokens=float(amount[kind == _STAKERS].sum()),
        contributors_tokens=float(amount[kind == _CONTRIBUTORS].sum()),
        burn_tokens=burn_total,
        unallocated_tokens=left_with_payers,
        payer_accounts=payers,
        payer_fee_tokens=fee_per_payer,
    )
