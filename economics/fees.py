"""Per-inference fees and their routing to builders, stakers, data contributors and burn.

Why: every inference a consumer pays for is the revenue that the data economy shares out.
This module holds the pure formulas — the fee of one inference, its split
β/γ/δ/φ (builder, stakers, contributors, burn; summing to 1), contributors paid by the
positive part of their attribution — each vectorised (no Python loop over inferences,
payers or recipients). The simulation moves the tokens (``sim.phases.consume`` and
``sim.phases.reward``).

Units: ``*_tokens`` amounts are protocol (currency) tokens; ``tokens_in``/``tokens_out`` of an
inference are *model* tokens (prompt/completion length), priced per 1,000.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "FeeError",
    "FeeSplit",
    "FeeSplitError",
    "contributor_payouts",
    "inference_fee_tokens",
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
    with the payers).

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
    # pool · s⁺ / Σs⁺, unless pool · s⁺ leaves the normal float range (tiny pools and
    # shares underflow, huge ones overflow): then (s⁺ / Σs⁺) · pool, which cannot.
    with np.errstate(over="ignore", under="ignore"):
        product = pool * pos
    lost = (product < np.finfo(np.float64).tiny) & (pos > 0.0) & (pool > 0.0)
    if np.isfinite(product).all() and not lost.any():
        return product / total
    return (pos / total) * pool
