"""Wash guard: cap rewards at a multiple of the fees paid by independent consumers.

Why: a wash farmer pays for inference on its own model (or on inferences that retrieve its own
data) to make its contribution look valuable and farm the reward pool; the fee goes back to
itself, so wash volume is nearly free. Ocean Protocol's Data Farming bounded the rewards an
asset can earn by its consume volume and did not count consumes by the asset's publisher;
this module applies that rule to attribution rewards:

    reward_c  ≤  m · F_c,

where F_c is the fee volume *attributable* to account c that was paid by consumers
*independent* of c, and m (``multiplier``) is a protocol parameter. A payer is independent of
a recipient when it is a different account **and** lies in a different funding cluster (see
:func:`economics.defenses.sybil_graph.funding_clusters`): a consumer funded by the owner, or
funding the owner, is not independent. Without cluster information only the identity rule
applies. Rewards above the cap are not paid; the excess is returned to the reward pool.

Two levels of attribution:

* model builders: the fees of the inference batches served by their models —
  :func:`independent_fees` (payer vs model owner, one row per inference batch);
* data contributors: the fees of the inferences whose attribution credited them, shared by
  attribution weight — :func:`attributed_independent_fees` (payer vs each credited
  contributor, one triple per (inference, contributor) as the fee router uses).

Known false-positive mode: honest contributors whose value shows up in rewards before it shows
up in fees (new data, little traffic yet) are capped; honest consumers funded by the same
wallet as an owner (an exchange) do not count. All functions are O(n) or O(n log n) and
vectorised (``np.bincount``), no Python loop over rows or accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ledgerlab.economics.defenses.base import (
    BoolArray,
    DefenseInputError,
    FloatArray,
    IntArray,
    as_float_vector,
    as_int_vector,
    check_float,
    check_int,
    same_length,
)

__all__ = [
    "CapResult",
    "IndependentFees",
    "WashGuardParams",
    "attributed_independent_fees",
    "cap_rewards",
    "independent_fees",
    "independent_mask",
]


@dataclass(frozen=True)
class WashGuardParams:
    """Parameters of the wash guard (defaults are illustrative)."""

    multiplier: float = 1.0
    """m: an account's reward is capped at m times the independent fees attributable to it
    (tokens of reward per token of independent fees, dimensionless, > 0)."""

    def __post_init__(self) -> None:
        cls = type(self).__name__
        object.__setattr__(
            self,
            "multiplier",
            check_float(cls, "multiplier", self.multiplier, 0.0, low_open=True),
        )


def _cluster(op: str, cluster_id: npt.ArrayLike | None, n_accounts: int) -> IntArray:
    """Cluster id per account; identity (every account its own cluster) when None."""
    if cluster_id is None:
        return np.arange(n_accounts, dtype=np.int64)
    cid = as_int_vector(op, "cluster_id", cluster_id)
    if cid.size != n_accounts:
        raise DefenseInputError(
            f"{op}: cluster_id must have one entry per account (n_accounts={n_accounts}), "
            f"got {cid.size}"
        )
    return cid


def _below(op: str, name: str, ids: IntArray, n_accounts: int) -> None:
    if ids.size and int(ids.max()) >= n_accounts:
        raise DefenseInputError(
            f"{op}: {name} holds account id {int(ids.max())}, not below n_accounts={n_accounts}; "
            "pass the ledger's number of accounts"
        )


def independent_mask(
    payer_accounts: npt.ArrayLike,
    recipient_accounts: npt.ArrayLike,
    cluster_id: npt.ArrayLike | None = None,
) -> BoolArray:
    """Which payments come from a payer independent of their recipient.

    Independent = different account and, when ``cluster_id`` is given, different funding
    cluster. Cost O(n).

    Args:
        payer_accounts: account that paid (int[n]).
        recipient_accounts: account the payment is credited to (int[n]).
        cluster_id: funding cluster per account (int[n_accounts]) or None (identity only).

    Returns:
        bool[n].
    """
    op = "independent_mask"
    payer = as_int_vector(op, "payer_accounts", payer_accounts)
    rec = as_int_vector(op, "recipient_accounts", recipient_accounts)
    same_length(op, payer_accounts=payer, recipient_accounts=rec)
    indep = payer != rec
    if cluster_id is not None:
        cid = as_int_vector(op, "cluster_id", cluster_id)
        _below(op, "payer_accounts", payer, cid.size)
        _below(op, "recipient_accounts", rec, cid.size)
        indep &= cid[payer] != cid[rec]
    return indep


class IndependentFees(NamedTuple):
    """Output of :func:`independent_fees`."""

    independent: BoolArray
    """True for rows whose payer is independent of the model owner (bool[rows])."""
    independent_tokens: FloatArray
    """Fees from independent payers per owner account (tokens, float64[n_accounts])."""
    wash_tokens: FloatArray
    """Fees from non-independent payers (self-dealing) per owner account (tokens,
    float64[n_accounts])."""


def independent_fees(
    payer_accounts: npt.ArrayLike,
    owner_accounts: npt.ArrayLike,
    fee_tokens: npt.ArrayLike,
    n_accounts: int,
    cluster_id: npt.ArrayLike | None = None,
) -> IndependentFees:
    """Fees per model owner, split into independent and self-dealt volume.

    One row per inference batch: who paid, the account of the model (builder) that served
    it, and the fee. A row counts as independent when :func:`independent_mask` says so.
    Cost O(rows + n_accounts).

    Args:
        payer_accounts: consumer account of each row (int[rows]).
        owner_accounts: model owner (builder) account of each row (int[rows]).
        fee_tokens: fee of each row (tokens, float[rows] >= 0).
        n_accounts: number of ledger accounts (length of the per-account outputs).
        cluster_id: funding cluster per account (int[n_accounts]) or None (identity only).
    """
    op = "independent_fees"
    n = check_int(op, "n_accounts", n_accounts)
    payer = as_int_vector(op, "payer_accounts", payer_accounts)
    owner = as_int_vector(op, "owner_accounts", owner_accounts)
    fee = as_float_vector(op, "fee_tokens", fee_tokens, 0.0)
    same_length(op, payer_accounts=payer, owner_accounts=owner, fee_tokens=fee)
    _below(op, "payer_accounts", payer, n)
    _below(op, "owner_accounts", owner, n)
    cid = _cluster(op, cluster_id, n)
    indep = independent_mask(payer, owner, cid)
    return IndependentFees(
        independent=indep,
        independent_tokens=np.bincount(owner, weights=np.where(indep, fee, 0.0), minlength=n),
        wash_tokens=np.bincount(owner, weights=np.where(indep, 0.0, fee), minlength=n),
    )


def attributed_independent_fees(
    payer_accounts: npt.ArrayLike,
    fee_tokens: npt.ArrayLike,
    inference: npt.ArrayLike,
    account: npt.ArrayLike,
    weight: npt.ArrayLike,
    n_accounts: int,
    cluster_id: npt.ArrayLike | None = None,
) -> FloatArray:
    """Independent fees attributable to each contributor, from per-inference attribution.

    Attribution comes as sparse triples ``(inference[e], account[e], weight[e])`` (e.g. the
    K neighbours that answered a retrieval inference). Each inference's fee is shared over its triples by
    the positive part of their weights, and a contributor's share counts only when the
    inference's payer is independent of *that contributor* (not itself, not in its funding
    cluster):

        F_c = Σ_e  1[account_e = c] · 1[payer(inference_e) indep. of c]
                   · fee(inference_e) · w⁺_e / Σ_{e' of inference_e} w⁺_{e'}.

    Summed over contributors this never exceeds the total fee (a fee is never counted
    twice); inferences without a positive weight credit nobody. The caller passes the
    same triples it routes fees with. Cost O(rows + triples + n_accounts).

    Args:
        payer_accounts: consumer account of each inference (int[rows]).
        fee_tokens: fee of each inference to attribute (tokens, float[rows] >= 0): the full
            fee or its contributor part δ, as the protocol defines the cap.
        inference: inference (row) index of each triple (int[t], in [0, rows)).
        account: credited contributor account of each triple (int[t], in [0, n_accounts)).
        weight: attribution weight of each triple (any unit, finite; negatives count as 0).
        n_accounts: number of ledger accounts (length of the output).
        cluster_id: funding cluster per account (int[n_accounts]) or None (identity only).

    Returns:
        float64[n_accounts] tokens: the ``attributed_independent_fees_by_account`` that
        :func:`cap_rewards` expects.
    """
    op = "attributed_independent_fees"
    n = check_int(op, "n_accounts", n_accounts)
    payer = as_int_vector(op, "payer_accounts", payer_accounts)
    fee = as_float_vector(op, "fee_tokens", fee_tokens, 0.0)
    rows = same_length(op, payer_accounts=payer, fee_tokens=fee)
    inf = as_int_vector(op, "inference", inference)
    acc = as_int_vector(op, "account", account)
    w = as_float_vector(op, "weight", weight)
    same_length(op, inference=inf, account=acc, weight=w)
    _below(op, "payer_accounts", payer, n)
    _below(op, "account", acc, n)
    if inf.size and int(inf.max()) >= rows:
        raise DefenseInputError(
            f"{op}: inference index {int(inf.max())} is out of range for {rows} inferences "
            "(len(payer_accounts))"
        )
    cid = _cluster(op, cluster_id, n)
    pos = np.maximum(w, 0.0)
    per_inference = np.bincount(inf, weights=pos, minlength=rows)
    safe = np.where(per_inference > 0.0, per_inference, 1.0)
    share_tokens = pos / safe[inf] * fee[inf]
    indep = independent_mask(payer[inf], acc, cid)
    return np.bincount(acc, weights=np.where(indep, share_tokens, 0.0), minlength=n)


class CapResult(NamedTuple):
    """Output of :func:`cap_rewards`."""

    capped_tokens: FloatArray
    """Reward per account after the cap (tokens, float64[n], 0 <= capped <= original)."""
    returned_tokens: float
    """Total reward above the caps, to be returned to the reward pool (tokens, >= 0)."""


def cap_rewards(
    rewards_by_account: npt.ArrayLike,
    attributed_independent_fees_by_account: npt.ArrayLike,
    multiplier: float,
) -> CapResult:
    """Cap each account's reward at ``multiplier`` × its attributable independent fees.

    ``capped_i = min(reward_i, m · F_i)``; the excess is returned. An account with no
    independent fee volume earns nothing — the point of the rule: wash volume alone buys no
    rewards. ``capped.sum() + returned_tokens`` equals the original total (up to rounding of
    the sums). Cost O(n).

    Args:
        rewards_by_account: reward per account before the cap (tokens, float[n] >= 0).
        attributed_independent_fees_by_account: F per account (tokens, float[n] >= 0), from
            :func:`attributed_independent_fees` for contributors or
            ``independent_fees(...).independent_tokens`` for model builders.
        multiplier: m (dimensionless, > 0), e.g. ``WashGuardParams.multiplier``.
    """
    op = "cap_rewards"
    r = as_float_vector(op, "rewards_by_account", rewards_by_account, 0.0)
    f = as_float_vector(
        op, "attributed_independent_fees_by_account", attributed_independent_fees_by_account, 0.0
    )
    same_length(op, rewards_by_account=r, attributed_independent_fees_by_account=f)
    m = check_float(op, "multiplier", multiplier, 0.0, low_open=True)
    capped = np.minimum(r, m * f)
    return CapResult(capped_tokens=capped, returned_tokens=float(np.sum(r - capped)))
