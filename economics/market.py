"""Constant-product AMM (Uniswap V2 math) between the token and a USD numéraire, and an
exogenous order-flow process.

Why: token price, sell pressure and the cost for consumers of buying the tokens they pay
inference fees with all come from one place — a constant-product pool. The swap formula is
Uniswap V2's ``getAmountOut`` (0.3 % fee taken from the input)::

    out = in·997·R_out / (R_in·1000 + in·997)

computed in floating point (no integer rounding). The outside world (speculators, new
users, macro demand) enters through :class:`OrderFlow`, a seeded stochastic process of
signed USD flow per epoch.

Contents:

* :func:`amount_out`, :func:`amount_in` — the pure, numpy-broadcasting swap formulas.
* :class:`ConstantProductPool` — pool state: ``buy``/``sell``, quotes, exact-output buys,
  batches of signed orders (sequential, optionally seeded-shuffled) and a vectorised netted
  batch (:meth:`ConstantProductPool.execute_net`). ``k`` never decreases and reserves stay
  strictly positive; every rejected operation leaves the pool unchanged.
* :class:`OrderFlow` — exogenous signed USD flow per epoch (log-normal magnitude with growth,
  volatility and one-epoch shocks), deterministic given a numpy ``Generator``; drawn epoch by
  epoch (:meth:`OrderFlow.draw`, what a simulation uses) or for a whole horizon at once
  (:meth:`OrderFlow.sample`, the same values), so a longer horizon never changes an epoch.
  With ``sell_share = 0.5`` it is mean-zero noise trading.
* The price-elastic side, deterministic functions of the state: the fundamental value of a
  token from fee revenue (:func:`annuity_factor`, :func:`fundamental_value_usd`), a
  long-only value trader's order (:func:`value_trader_order`), an arbitrageur's order
  towards a reference exchange's price path (:func:`reference_price_usd`,
  :func:`arbitrage_order`), buybacks from fee revenue (:func:`buyback_usd`) and scheduled
  price and demand shocks (:class:`MarketShock`, :func:`shock_effects`,
  :func:`price_shock_order`).
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtri

__all__ = [
    "UNISWAP_V2_FEE",
    "ConstantProductPool",
    "InsufficientLiquidityError",
    "MarketError",
    "MarketShock",
    "OrderFlow",
    "OrderFlowError",
    "amount_in",
    "amount_out",
    "annuity_factor",
    "arbitrage_order",
    "buyback_usd",
    "fundamental_value_usd",
    "price_shock_order",
    "reference_price_usd",
    "shock_effects",
    "value_trader_order",
]

UNISWAP_V2_FEE = 0.003
"""Uniswap V2 swap fee (fraction of the input), computed exactly in the 997/1000 form."""


class MarketError(ValueError):
    """An AMM operation was given an invalid amount, reserve or fee."""


class InsufficientLiquidityError(MarketError):
    """A trade would take the pool's whole reserve (or more) of one asset."""


class OrderFlowError(ValueError):
    """Invalid :class:`OrderFlow` parameters or sampling arguments."""


# --------------------------------------------------------------------------------------
# Pure swap formulas
# --------------------------------------------------------------------------------------


def _check_fee(op: str, fee: float) -> float:
    fee_f = float(fee)
    if not (math.isfinite(fee_f) and 0.0 <= fee_f < 1.0):
        raise MarketError(f"{op}: fee={fee!r} must be a fraction in [0, 1); e.g. 0.003 for 0.3 %")
    return fee_f


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> str:
    """Describe the first offending entry of ``arr`` (value and, for arrays, its index)."""
    if arr.ndim == 0:
        return repr(float(arr))
    idx = np.unravel_index(int(np.argmax(bad)), bad.shape)
    return f"{float(arr[idx])!r} at index {tuple(int(i) for i in idx)}"


def _check_amount(op: str, name: str, value: ArrayLike) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        raise MarketError(
            f"{op}: {name} must be finite and >= 0, got {_first_bad(arr, bad)}; "
            "pass non-negative finite amounts"
        )
    return arr


def _check_reserve(op: str, name: str, value: ArrayLike) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        raise MarketError(
            f"{op}: {name} must be finite and > 0, got {_first_bad(arr, bad)}; "
            "a pool needs strictly positive reserves of both assets"
        )
    return arr


def _check_overflow(op: str, result: np.ndarray) -> None:
    bad = ~np.isfinite(result)
    if bad.any():
        raise MarketError(
            f"{op}: the result overflows float64 ({_first_bad(result, bad)}); the amounts and "
            "reserves are too large — rescale them (e.g. count in thousands)"
        )


def _result(x: np.ndarray) -> np.ndarray | float:
    return float(x) if x.ndim == 0 else x


def amount_out(
    amount_in: ArrayLike,
    reserve_in: ArrayLike,
    reserve_out: ArrayLike,
    fee: float = UNISWAP_V2_FEE,
) -> np.ndarray | float:
    """Output of a constant-product swap: Uniswap V2 ``getAmountOut`` in floating point.

    ``out = amount_in·(1−fee)·reserve_out / (reserve_in + amount_in·(1−fee))``; for
    ``fee == 0.003`` it is computed exactly in Uniswap's 997/1000 form
    ``amount_in·997·reserve_out / (reserve_in·1000 + amount_in·997)``.

    Args:
        amount_in: amount of the input asset paid into the pool (input-asset units, >= 0);
            broadcasts with the reserves.
        reserve_in: pool reserve of the input asset before the swap (input-asset units, > 0).
        reserve_out: pool reserve of the output asset before the swap (output-asset units, > 0).
        fee: swap fee as a fraction of the input (dimensionless, in [0, 1)).

    Returns:
        Amount of the output asset received (output-asset units): a float for scalar
        inputs, otherwise an array of the broadcast shape. Always ``< reserve_out``
        mathematically (floating point can round it up to ``reserve_out`` only for inputs
        ~1e16 times the input reserve; :class:`ConstantProductPool` rejects those).

    Raises:
        MarketError: negative/NaN/inf amount, non-positive or non-finite reserve, or a fee
            outside [0, 1).
    """
    op = "amount_out"
    fee_f = _check_fee(op, fee)
    a = _check_amount(op, "amount_in", amount_in)
    r_in = _check_reserve(op, "reserve_in", reserve_in)
    r_out = _check_reserve(op, "reserve_out", reserve_out)
    with np.errstate(over="ignore", invalid="ignore"):
        if fee_f == UNISWAP_V2_FEE:
            a_with_fee = a * 997.0
            out = a_with_fee * r_out / (r_in * 1000.0 + a_with_fee)
        else:
            a_with_fee = a * (1.0 - fee_f)
            out = a_with_fee * r_out / (r_in + a_with_fee)
    out = np.asarray(out, dtype=np.float64)
    _check_overflow(op, out)
    return _result(out)


def amount_in(
    amount_out: ArrayLike,
    reserve_in: ArrayLike,
    reserve_out: ArrayLike,
    fee: float = UNISWAP_V2_FEE,
) -> np.ndarray | float:
    """Input needed to receive ``amount_out``: Uniswap V2 ``getAmountIn`` in floating point.

    ``in = reserve_in·amount_out / ((reserve_out − amount_out)·(1−fee))`` (997/1000 form for
    ``fee == 0.003``). Unlike the on-chain version there is no integer ``+1`` rounding: this
    is the exact inverse of :func:`amount_out`, so ``amount_out(amount_in(y)) == y`` up to
    floating-point rounding.

    Args:
        amount_out: desired amount of the output asset (output-asset units, >= 0 and
            < reserve_out); broadcasts with the reserves.
        reserve_in: pool reserve of the input asset before the swap (input-asset units, > 0).
        reserve_out: pool reserve of the output asset before the swap (output-asset units, > 0).
        fee: swap fee as a fraction of the input (dimensionless, in [0, 1)).

    Returns:
        Amount of the input asset to pay (input-asset units): a float for scalar inputs,
        otherwise an array of the broadcast shape.

    Raises:
        MarketError: negative/NaN/inf amount, non-positive reserve, fee outside [0, 1).
        InsufficientLiquidityError: ``amount_out >= reserve_out`` (the pool cannot pay
            its whole reserve).
    """
    op = "amount_in"
    fee_f = _check_fee(op, fee)
    y = _check_amount(op, "amount_out", amount_out)
    r_in = _check_reserve(op, "reserve_in", reserve_in)
    r_out = _check_reserve(op, "reserve_out", reserve_out)
    y_b, r_out_b = np.broadcast_arrays(y, r_out)
    too_big = y_b >= r_out_b
    if too_big.any():
        idx = np.unravel_index(int(np.argmax(too_big)), too_big.shape) if too_big.ndim else ()
        raise InsufficientLiquidityError(
            f"amount_in: amount_out={float(y_b[idx])!r} must be < reserve_out="
            f"{float(r_out_b[idx])!r}; a constant-product pool cannot pay out its whole "
            "reserve — ask for less"
        )
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if fee_f == UNISWAP_V2_FEE:
            x = r_in * y * 1000.0 / ((r_out - y) * 997.0)
        else:
            x = r_in * y / ((r_out - y) * (1.0 - fee_f))
    x = np.asarray(x, dtype=np.float64)
    _check_overflow(op, x)
    return _result(x)


# --------------------------------------------------------------------------------------
# Pool
# --------------------------------------------------------------------------------------


def _protect_k(new_in: float, new_out: float, k_old: float, reserve_out_old: float) -> float:
    """Smallest adjustment of the new output-side reserve so that the float ``k`` never drops.

    Mathematically a fee-paying swap raises ``k``; in floating point a tiny swap can lose an
    ulp. Like Uniswap's integer rounding, the rounding error is charged to the trader: the
    output reserve is raised to the smallest float with ``new_in·new_out >= k_old`` (capped
    at the old reserve, which always satisfies it because ``new_in >= old reserve_in``).
    """
    if new_in * new_out >= k_old:
        return new_out
    r = k_old / new_in
    while new_in * r < k_old:
        r = float(np.nextafter(r, np.inf))
    return min(max(new_out, r), reserve_out_old)


class ConstantProductPool:
    """A constant-product (x·y = k) pool between the token and USD, Uniswap V2 math.

    State is two float reserves plus volume/fee counters. Every operation validates its
    input first and raises :class:`MarketError` (or :class:`InsufficientLiquidityError`)
    without changing anything; batches are all-or-nothing. After every trade ``k`` is at
    least its previous value (the fee stays in the pool, floating-point rounding is charged
    to the trader) and both reserves are strictly positive.

    Counters: ``volume_usd`` and ``fees_usd`` accumulate since the last
    :meth:`reset_counters` (call it once per epoch to get per-epoch figures);
    ``total_volume_usd`` and ``total_fees_usd`` never reset. Volume is the USD value of each
    trade's *input*: the cash paid for a buy, the tokens sold valued at the pre-trade spot
    price for a sell; ``fees_usd = fee · volume_usd``.

    Args:
        token_reserve_tokens: initial token reserve (tokens, > 0).
        cash_reserve_usd: initial numéraire reserve (USD, > 0).
        fee: swap fee as a fraction of the input (dimensionless, [0, 1); Uniswap V2: 0.003).
    """

    def __init__(
        self,
        token_reserve_tokens: float,
        cash_reserve_usd: float,
        fee: float = UNISWAP_V2_FEE,
    ) -> None:
        op = "ConstantProductPool"
        self._fee = _check_fee(op, fee)
        self._tokens = float(_check_reserve(op, "token_reserve_tokens", token_reserve_tokens))
        self._cash = float(_check_reserve(op, "cash_reserve_usd", cash_reserve_usd))
        self.volume_usd = 0.0
        self.fees_usd = 0.0
        self.total_volume_usd = 0.0
        self.total_fees_usd = 0.0

    # ---- read-only state ---------------------------------------------------------------
    @property
    def token_reserve_tokens(self) -> float:
        """Token reserve (tokens)."""
        return self._tokens

    @property
    def cash_reserve_usd(self) -> float:
        """Numéraire reserve (USD)."""
        return self._cash

    @property
    def fee(self) -> float:
        """Swap fee (fraction of each trade's input)."""
        return self._fee

    @property
    def price(self) -> float:
        """Spot price (USD per token) = cash reserve / token reserve."""
        return self._cash / self._tokens

    @property
    def k(self) -> float:
        """The invariant k = token reserve · cash reserve (tokens·USD)."""
        return self._tokens * self._cash

    def __repr__(self) -> str:
        return (
            f"ConstantProductPool(token_reserve_tokens={self._tokens!r}, "
            f"cash_reserve_usd={self._cash!r}, fee={self._fee!r})"
        )

    def copy(self) -> ConstantProductPool:
        """An independent copy of the pool (reserves, fee and counters)."""
        other = ConstantProductPool(self._tokens, self._cash, self._fee)
        other.volume_usd = self.volume_usd
        other.fees_usd = self.fees_usd
        other.total_volume_usd = self.total_volume_usd
        other.total_fees_usd = self.total_fees_usd
        return other

    def set_token_reserve(self, tokens: float) -> None:
        """Adopt ``tokens`` (tokens, finite, > 0) as the token reserve; cash is unchanged.

        For a pool whose token side is held elsewhere: in the simulation the token reserve
        *is* the AMM account's balance on the ledger, and the model writes that balance back
        here after each settlement. The pool computes a trade, the ledger moves the tokens
        (summing many accounts' shares in its own order), and the two results differ by
        floating-point rounding only; adopting the ledger's figure keeps one source of truth
        instead of two copies that drift apart. ``k`` moves by that rounding (a few ulps of
        the amounts traded), which is not a trade and records no volume.

        Raises:
            MarketError: a non-finite or non-positive reserve (the pool is unchanged).
        """
        self._tokens = float(_check_reserve("set_token_reserve", "tokens", tokens))

    def reset_counters(self) -> tuple[float, float]:
        """Return ``(volume_usd, fees_usd)`` since the last reset and zero them (per epoch)."""
        out = (self.volume_usd, self.fees_usd)
        self.volume_usd = 0.0
        self.fees_usd = 0.0
        return out

    # ---- internals -----------------------------------------------------------------
    def _snapshot(self) -> tuple[float, ...]:
        return (
            self._tokens,
            self._cash,
            self.volume_usd,
            self.fees_usd,
            self.total_volume_usd,
            self.total_fees_usd,
        )

    def _restore(self, snap: tuple[float, ...]) -> None:
        (
            self._tokens,
            self._cash,
            self.volume_usd,
            self.fees_usd,
            self.total_volume_usd,
            self.total_fees_usd,
        ) = snap

    def _record(self, volume_usd: float) -> None:
        fees = self._fee * volume_usd
        self.volume_usd += volume_usd
        self.fees_usd += fees
        self.total_volume_usd += volume_usd
        self.total_fees_usd += fees

    def _swap(self, op: str, amount: float, buy: bool, commit: bool) -> float:
        """Swap ``amount`` of cash (``buy``) or tokens (sell); return the output amount."""
        try:
            amt = float(amount)
        except (TypeError, ValueError):
            amt = math.nan
        if not (math.isfinite(amt) and amt >= 0.0):
            amt = float(_check_amount(op, "cash_usd" if buy else "tokens", amount))
        if amt == 0.0:
            return 0.0
        r_in, r_out = (self._cash, self._tokens) if buy else (self._tokens, self._cash)
        # scalar form of amount_out (same IEEE operations, without numpy's per-call overhead)
        if self._fee == UNISWAP_V2_FEE:
            a_with_fee = amt * 997.0
            out = a_with_fee * r_out / (r_in * 1000.0 + a_with_fee)
        else:
            a_with_fee = amt * (1.0 - self._fee)
            out = a_with_fee * r_out / (r_in + a_with_fee)
        new_in = r_in + amt
        new_out = r_out - out
        if not (new_out > 0.0 and math.isfinite(new_in)):
            what = "token" if buy else "cash"
            raise InsufficientLiquidityError(
                f"{op}: input {amt!r} would empty the pool's {what} reserve "
                f"(token reserve {self._tokens!r}, cash reserve {self._cash!r}); trade less"
            )
        new_out = _protect_k(new_in, new_out, r_in * r_out, r_out)
        out = r_out - new_out
        if commit:
            volume = amt if buy else amt * self.price
            if buy:
                self._cash, self._tokens = new_in, new_out
            else:
                self._tokens, self._cash = new_in, new_out
            self._record(volume)
        return out

    # ---- single trades -------------------------------------------------------------
    def quote_buy(self, cash_usd: float) -> float:
        """Tokens that :meth:`buy` would give for ``cash_usd`` (USD, >= 0); no state change."""
        return self._swap("quote_buy", cash_usd, buy=True, commit=False)

    def quote_sell(self, tokens: float) -> float:
        """USD that :meth:`sell` would give for ``tokens`` (tokens, >= 0); no state change."""
        return self._swap("quote_sell", tokens, buy=False, commit=False)

    def buy(self, cash_usd: float) -> float:
        """Spend ``cash_usd`` (USD, >= 0) on tokens; returns the tokens received."""
        return self._swap("buy", cash_usd, buy=True, commit=True)

    def sell(self, tokens: float) -> float:
        """Sell ``tokens`` (tokens, >= 0) for USD; returns the USD received."""
        return self._swap("sell", tokens, buy=False, commit=True)

    def quote_buy_tokens_exact(self, tokens: float) -> float:
        """USD that :meth:`buy_tokens_exact` would charge for ``tokens``; no state change."""
        return self._buy_exact("quote_buy_tokens_exact", tokens, commit=False)

    def buy_tokens_exact(self, tokens: float) -> float:
        """Buy exactly ``tokens`` (tokens, >= 0, < token reserve); returns the USD paid.

        For consumers who need an exact number of tokens (e.g. to pay an inference fee).
        The cost is :func:`amount_in` (no +1 integer rounding), raised by at most a few ulps
        if needed so that ``k`` does not decrease; the pool's token reserve falls by exactly
        ``tokens``.

        Raises:
            InsufficientLiquidityError: ``tokens >= token reserve``.
        """
        return self._buy_exact("buy_tokens_exact", tokens, commit=True)

    def _buy_exact(self, op: str, tokens: float, commit: bool) -> float:
        amt = float(_check_amount(op, "tokens", tokens))
        if amt == 0.0:
            return 0.0
        new_tokens = self._tokens - amt
        if not new_tokens > 0.0:
            raise InsufficientLiquidityError(
                f"{op}: tokens={amt!r} must be < the pool's token reserve {self._tokens!r}; "
                "buy fewer tokens"
            )
        try:
            cash = float(amount_in(amt, self._cash, self._tokens, self._fee))
        except InsufficientLiquidityError as exc:  # pragma: no cover - guarded above
            raise InsufficientLiquidityError(f"{op}: {exc}") from exc
        k_old = self.k
        new_cash = self._cash + cash
        if not math.isfinite(new_cash):
            raise InsufficientLiquidityError(
                f"{op}: buying {amt!r} of {self._tokens!r} reserve tokens costs an infinite "
                "amount of cash; buy fewer tokens"
            )
        while new_cash * new_tokens < k_old:
            new_cash = float(np.nextafter(new_cash, np.inf))
        cash = new_cash - self._cash
        if commit:
            self._cash = new_cash
            self._tokens = new_tokens
            self._record(cash)
        return cash

    # ---- batches -------------------------------------------------------------------
    def execute(self, orders: ArrayLike) -> np.ndarray:
        """Apply a batch of signed orders sequentially, in the given order (all-or-nothing).

        ``orders[i] > 0`` buys, spending that many USD; ``orders[i] < 0`` sells ``|orders[i]|``
        tokens; ``0`` does nothing. Each order sees the reserves left by the previous one.

        This loops over orders in Python (a swap depends on the previous one). That is
        acceptable because callers aggregate orders per role (or strategy) per epoch, so a
        batch holds a handful of orders; for many individuals' orders use
        :meth:`execute_net`.

        Args:
            orders: 1-D signed amounts (USD for buys, tokens for sells), finite.

        Returns:
            float64 array, same length: tokens received for buys, USD received for sells,
            0 for zero orders.

        Raises:
            MarketError: a non-finite order or a non-1-D batch; InsufficientLiquidityError
            if an order would drain the pool — the pool is then left as before the batch.
        """
        arr = np.asarray(orders, dtype=np.float64)
        if arr.ndim != 1:
            raise MarketError(f"execute: orders must be a 1-D array, got shape {arr.shape}")
        bad = ~np.isfinite(arr)
        if bad.any():
            raise MarketError(
                f"execute: orders must be finite, got {_first_bad(arr, bad)}; "
                "positive = USD to spend, negative = tokens to sell"
            )
        outputs = np.zeros(arr.shape[0], dtype=np.float64)
        snap = self._snapshot()
        try:
            for i, order in enumerate(arr.tolist()):
                if order > 0.0:
                    outputs[i] = self._swap("execute", order, buy=True, commit=True)
                elif order < 0.0:
                    outputs[i] = self._swap("execute", -order, buy=False, commit=True)
        except MarketError:
            self._restore(snap)
            raise
        return outputs

    def execute_shuffled(self, orders: ArrayLike, rng: np.random.Generator) -> np.ndarray:
        """:meth:`execute` in an order drawn from ``rng`` (one ``permutation`` call).

        Returns the outputs aligned with the ORIGINAL order of ``orders``. Deterministic
        given the Generator's state.
        """
        arr = np.asarray(orders, dtype=np.float64)
        if arr.ndim != 1:
            raise MarketError(
                f"execute_shuffled: orders must be a 1-D array, got shape {arr.shape}"
            )
        perm = rng.permutation(arr.shape[0])
        out_perm = self.execute(arr[perm])
        outputs = np.empty_like(out_perm)
        outputs[perm] = out_perm
        return outputs

    def execute_net(
        self, buy_usd: ArrayLike, sell_tokens: ArrayLike
    ) -> tuple[np.ndarray, np.ndarray]:
        """Net many individuals' orders of one epoch into one swap; share outputs pro-rata.

        Rule (an approximation of a sequential batch that creates neither tokens nor cash):

        1. Let ``B = Σ buy_usd``, ``S = Σ sell_tokens`` and ``p`` the pre-trade spot price.
           The matched part ``m = min(B, S·p)`` USD (``m/p`` tokens) crosses at ``p``
           without price impact; the pool fee is charged on both sides: buyers receive
           ``(m/p)·(1−fee)`` tokens, sellers ``m·(1−fee)`` USD, and the two fees
           (``(m/p)·fee`` tokens and ``m·fee`` USD) are added to the reserves — in the
           ratio ``p``, so the spot price is unchanged and ``k`` rises.
        2. The unmatched rest (``B − m`` USD of buys, or ``S − m/p`` tokens of sells) is one
           ordinary swap through the pool (with its price impact and fee).
        3. Buyers share the tokens pro-rata to ``buy_usd``; sellers share the USD pro-rata to
           ``sell_tokens``.

        Conservation: tokens paid to buyers = tokens given by sellers + tokens leaving the
        pool, and USD paid to sellers = USD given by buyers − USD entering the pool (to
        floating-point rounding of the pro-rata shares). Compared with executing the
        orders one by one, the matched part gets the spot price (less slippage for both
        sides), so this slightly favours traders when flow is two-sided; with one-sided
        flow it is exactly one swap of the aggregate. Volume counters record ``B + S·p``.

        Args:
            buy_usd: 1-D USD each buyer spends (USD, >= 0, finite).
            sell_tokens: 1-D tokens each seller sells (tokens, >= 0, finite).

        Returns:
            ``(tokens_to_buyers, usd_to_sellers)``: float64 arrays aligned with the inputs
            (tokens, USD).

        Raises:
            MarketError: a negative/NaN/inf or non-1-D input; InsufficientLiquidityError if
            the residual swap would drain the pool (the pool is left unchanged).
        """
        op = "execute_net"
        b = _check_amount(op, "buy_usd", buy_usd)
        s = _check_amount(op, "sell_tokens", sell_tokens)
        if b.ndim != 1 or s.ndim != 1:
            raise MarketError(
                f"{op}: buy_usd and sell_tokens must be 1-D arrays, got shapes "
                f"{b.shape} and {s.shape}"
            )
        total_buy_usd = float(b.sum())
        total_sell_tokens = float(s.sum())
        if not (math.isfinite(total_buy_usd) and math.isfinite(total_sell_tokens)):
            raise MarketError(f"{op}: total order size overflows float64; split the batch")
        snap = self._snapshot()
        p = self.price
        buy_heavy = total_buy_usd >= total_sell_tokens * p
        if buy_heavy:  # every sold token is matched; the rest of the cash swaps
            matched_tokens = total_sell_tokens
            matched_usd = total_sell_tokens * p
        else:  # every USD of buys is matched; the rest of the tokens swap
            matched_usd = total_buy_usd
            matched_tokens = min(total_buy_usd / p, total_sell_tokens)
        try:
            # 1. matched part at spot; fees on both sides join the reserves at ratio p.
            tokens_to_buyers_total = matched_tokens * (1.0 - self._fee)
            usd_to_sellers_total = matched_usd * (1.0 - self._fee)
            if matched_usd > 0.0:
                self._tokens += matched_tokens * self._fee
                self._cash += matched_usd * self._fee
                self._record(2.0 * matched_usd)
            # 2. the unmatched side as one swap.
            if buy_heavy:
                rest_buy_usd = max(total_buy_usd - matched_usd, 0.0)
                tokens_to_buyers_total += self._swap(op, rest_buy_usd, buy=True, commit=True)
            else:
                rest_sell_tokens = max(total_sell_tokens - matched_tokens, 0.0)
                usd_to_sellers_total += self._swap(op, rest_sell_tokens, buy=False, commit=True)
        except MarketError:
            self._restore(snap)
            raise
        # 3. pro-rata shares.
        tokens_to_buyers = (
            (b / total_buy_usd) * tokens_to_buyers_total
            if total_buy_usd > 0.0
            else np.zeros_like(b)
        )
        usd_to_sellers = (
            (s / total_sell_tokens) * usd_to_sellers_total
            if total_sell_tokens > 0.0
            else np.zeros_like(s)
        )
        return tokens_to_buyers, usd_to_sellers


# --------------------------------------------------------------------------------------
# Exogenous order flow
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderFlow:
    """Exogenous signed USD order flow per epoch (outside demand), seeded.

    Magnitude: log-normal around a trend, ``mean_usd_per_epoch · exp(growth·t) · N_t`` with
    ``E[N_t] = 1``: if ``persistent`` the log-noise is a random walk (demand regimes that
    last: ``log N_t = σ·(Z_0+…+Z_t) − σ²(t+1)/2``), otherwise i.i.d. per epoch
    (``log N_t = σ·Z_t − σ²/2``). So ``E[|flow_t|] = mean_usd_per_epoch · exp(growth·t)``
    before shocks in both modes. Sign: each epoch is a net sell with probability
    ``sell_share`` (negative flow), otherwise a net buy. Shocks multiply the magnitude of
    single epochs and may add a one-off net flow.

    Parameter names are the scenario schema's (``market.order_flow``), so the process is
    built as ``OrderFlow(**section.model_dump())``.

    Attributes:
        mean_usd_per_epoch: expected |flow| at epoch 0 (USD per epoch, >= 0).
        growth_per_epoch: log-growth rate of the expected |flow| (1/epoch; 0 = flat,
            0.01 ≈ +1 % per epoch, negative = fading demand).
        volatility: standard deviation of the log-magnitude shock per epoch
            (dimensionless per √epoch, >= 0; 0 = deterministic trend).
        sell_share: probability that an epoch's net flow is a sell (dimensionless, [0, 1];
            0 = pure outside demand, 0.5 = symmetric noise trading).
        persistent: True = random-walk log-noise (shocks persist), False = i.i.d. noise.
        shocks: ``((epoch, multiplier, net_usd), ...)``: the flow magnitude of ``epoch``
            (epochs, >= 0) is multiplied by ``multiplier`` (dimensionless, >= 0; e.g. 5 for
            a hype spike, 0.1 for a crash in demand), then ``net_usd`` (USD, signed; a buy
            > 0, a sell < 0) is added to that epoch's flow. Repeated epochs multiply and
            add in the order listed; epochs beyond the sampled horizon are ignored. Each
            shock may be a pair ``(epoch, multiplier)`` (no net flow) or a mapping with
            those keys (a scenario's shock); stored as triples.
    """

    mean_usd_per_epoch: float
    growth_per_epoch: float = 0.0
    volatility: float = 0.0
    sell_share: float = 0.0
    persistent: bool = True
    shocks: tuple[tuple[int, float, float], ...] = ()

    def __post_init__(self) -> None:
        def bad(field: str, value: object, need: str) -> OrderFlowError:
            return OrderFlowError(f"OrderFlow.{field}={value!r} is invalid: must be {need}")

        m = self.mean_usd_per_epoch
        if not (isinstance(m, numbers.Real) and math.isfinite(m) and m >= 0):
            raise bad("mean_usd_per_epoch", m, "a finite number of USD per epoch >= 0")
        d = self.growth_per_epoch
        if not (isinstance(d, numbers.Real) and math.isfinite(d)):
            raise bad("growth_per_epoch", d, "a finite log-growth rate per epoch")
        v = self.volatility
        if not (isinstance(v, numbers.Real) and math.isfinite(v) and v >= 0):
            raise bad("volatility", v, "a finite number >= 0")
        s = self.sell_share
        if not (isinstance(s, numbers.Real) and math.isfinite(s) and 0 <= s <= 1):
            raise bad("sell_share", s, "a probability in [0, 1]")
        if not isinstance(self.persistent, bool):
            raise bad("persistent", self.persistent, "True or False")
        shocks: list[tuple[int, float, float]] = []
        for item in self.shocks:
            try:
                if isinstance(item, Mapping):
                    epoch, mult = item["epoch"], item["multiplier"]
                    net = item.get("net_usd", 0.0)
                else:
                    epoch, mult, *rest = item
                    (net,) = rest or (0.0,)
            except (KeyError, TypeError, ValueError):
                raise bad("shocks", item, "(epoch, multiplier[, net_usd])") from None
            if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or epoch < 0:
                raise bad("shocks", item, "(epoch, multiplier) with an integer epoch >= 0")
            if not (isinstance(mult, numbers.Real) and math.isfinite(mult) and mult >= 0):
                raise bad("shocks", item, "(epoch, multiplier) with a finite multiplier >= 0")
            if not (isinstance(net, numbers.Real) and math.isfinite(net)):
                raise bad("shocks", item, "(epoch, multiplier, net_usd) with a finite net_usd")
            shocks.append((int(epoch), float(mult), float(net)))
        object.__setattr__(self, "shocks", tuple(shocks))

    def peak_log_trend(self, epochs: int) -> float:
        """The log of the largest expected |flow| (USD) over epochs ``0 … epochs−1``:
        ``log(mean · exp(growth · t) · shock multipliers of t)`` at its worst epoch (−inf for
        a zero mean). Lets a simulation refuse at setup a flow it could not trade later,
        instead of failing when the draw gets there."""
        if self.mean_usd_per_epoch == 0:
            return -math.inf
        log_mean = math.log(self.mean_usd_per_epoch)
        worst = log_mean + max(self.growth_per_epoch, 0.0) * (epochs - 1)
        log_mult: dict[int, float] = {}
        for epoch, mult, _ in self.shocks:
            if epoch < epochs:
                m = math.log(mult) if mult > 0 else -math.inf
                log_mult[epoch] = log_mult.get(epoch, 0.0) + m
        for epoch, lm in log_mult.items():
            worst = max(worst, log_mean + self.growth_per_epoch * epoch + lm)
        return worst

    def sample(self, epochs: int, rng: np.random.Generator) -> np.ndarray:
        """Draw the signed USD flow for epochs ``0 … epochs−1`` in one vectorised call.

        Exactly the values of :meth:`draw` called for epochs 0, 1, … in turn on the same
        Generator (both take two standard normals per epoch, in epoch order), so the first
        ``n`` values of a longer sample equal a sample of ``n``: the horizon never changes
        the flow of an epoch. Use it for projections; a simulation draws epoch by epoch.

        Args:
            epochs: number of epochs to sample (epochs, >= 0).
            rng: the numpy Generator to draw from (the only source of randomness).

        Returns:
            float64 array of length ``epochs``: positive = net buy of that many USD,
            negative = net sell of that many USD (USD per epoch).

        Raises:
            OrderFlowError: negative ``epochs``, a non-Generator ``rng``, or parameters
                whose trend overflows float64 over the horizon.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, int | np.integer) or epochs < 0:
            raise OrderFlowError(f"OrderFlow.sample: epochs={epochs!r} must be an integer >= 0")
        _check_generator("OrderFlow.sample", rng)
        n = int(epochs)
        g = rng.standard_normal((n, 2))
        return self._signed_flow(0, np.cumsum(g[:, 0]), g[:, 0], g[:, 1], "OrderFlow.sample")

    def draw(self, epoch: int, rng: np.random.Generator, walk: float = 0.0) -> tuple[float, float]:
        """Draw the signed USD flow of one epoch (the per-epoch form of :meth:`sample`).

        Takes exactly two standard normals from ``rng``: ``Z_t`` (the log-magnitude shock)
        and ``X_t`` (the sign: a sell iff ``Φ(X_t) < sell_share``, i.e. with probability
        ``sell_share``; both are always drawn, so changing ``sell_share`` keeps the
        magnitudes: common random numbers). A simulation calls it once per epoch on its
        market stream, carrying the random walk ``walk = Z_0 + … + Z_{t−1}`` between calls,
        so an epoch's flow never depends on how many epochs the run will have.

        Args:
            epoch: the epoch index t (epochs, >= 0): sets the trend ``exp(growth·t)``, the
                random walk's variance correction and the shocks that apply.
            rng: the numpy Generator to draw from.
            walk: ``Z_0 + … + Z_{t−1}``, as returned by the previous call (0 at epoch 0);
                used only when ``persistent``.

        Returns:
            ``(flow_usd, walk)``: the signed flow (USD per epoch; negative = net sell) and
            the walk including this epoch's ``Z_t``, to pass to the next call.

        Raises:
            OrderFlowError: a negative epoch, a non-Generator ``rng`` or a flow that
                overflows float64.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or epoch < 0:
            raise OrderFlowError(f"OrderFlow.draw: epoch={epoch!r} must be an integer >= 0")
        _check_generator("OrderFlow.draw", rng)
        z, x = rng.standard_normal(2).tolist()
        walk_now = float(walk) + z
        return self._signed_flow_one(int(epoch), walk_now, z, x), walk_now

    def _signed_flow_one(self, epoch: int, walk: float, z: float, x: float) -> float:
        """:meth:`_signed_flow` of one epoch on Python floats: the same operations in the
        same order (each rounded to float64 as numpy rounds each element; ``np.exp`` on a
        float64 scalar is the ufunc ``_signed_flow`` applies, so the same bits), without
        its array set-up (~10 µs an epoch). Tested against :meth:`sample`."""
        t = float(epoch)
        sigma = float(self.volatility)
        if self.persistent:
            log_noise = sigma * walk - 0.5 * sigma * sigma * (t + 1.0)
        else:
            log_noise = sigma * z - 0.5 * sigma * sigma
        exponent = float(self.growth_per_epoch) * t + log_noise
        if exponent < _EXP_SAFE:
            grown = float(np.exp(np.float64(exponent)))
        else:
            with np.errstate(over="ignore"):
                grown = float(np.exp(np.float64(exponent)))
        magnitude = float(self.mean_usd_per_epoch) * grown
        shocks = [s for s in self.shocks if s[0] == epoch]
        if self.shocks:
            factor = 1.0
            for _, mult, _ in shocks:  # as np.multiply.at applies them: in listed order
                factor *= mult
            magnitude = magnitude * factor
        if not math.isfinite(magnitude):
            raise OrderFlowError(
                f"OrderFlow.draw: the flow overflows float64 by epoch {epoch} "
                f"(growth_per_epoch={self.growth_per_epoch!r}, volatility={self.volatility!r}); "
                "lower the growth/volatility or use fewer epochs"
            )
        flow = magnitude * (-1.0 if x < _sell_threshold(float(self.sell_share)) else 1.0)
        for _, _, net in shocks:  # one-off net flows, added in the order listed
            flow += net
        return flow

    def _signed_flow(
        self, start: int, walk: np.ndarray, z: np.ndarray, x: np.ndarray, op: str
    ) -> np.ndarray:
        """Signed flow of consecutive epochs ``start, start+1, …`` from their normals.

        ``walk`` is the running sum of the ``z`` draws up to and including each epoch,
        ``z`` the epoch's own log-magnitude normal, ``x`` its sign normal. One formula for
        :meth:`sample` and :meth:`draw`, so both give the same bits.
        """
        n = z.shape[0]
        t = np.arange(start, start + n, dtype=np.float64)
        sigma = float(self.volatility)
        if self.persistent:
            log_noise = sigma * walk - 0.5 * sigma * sigma * (t + 1.0)
        else:
            log_noise = sigma * z - 0.5 * sigma * sigma
        with np.errstate(over="ignore"):
            magnitude = float(self.mean_usd_per_epoch) * np.exp(
                float(self.growth_per_epoch) * t + log_noise
            )
        at = np.array([e for e, _, _ in self.shocks], dtype=np.int64)
        inside = (at >= start) & (at < start + n)
        if self.shocks:
            mult = np.array([m for _, m, _ in self.shocks], dtype=np.float64)
            factors = np.ones(n, dtype=np.float64)
            np.multiply.at(factors, at[inside] - start, mult[inside])
            magnitude = magnitude * factors
        if not np.isfinite(magnitude).all():
            raise OrderFlowError(
                f"{op}: the flow overflows float64 by epoch {start + n - 1} "
                f"(growth_per_epoch={self.growth_per_epoch!r}, volatility={self.volatility!r}); "
                "lower the growth/volatility or use fewer epochs"
            )
        threshold = float(ndtri(float(self.sell_share)))  # -inf at 0, +inf at 1
        sign = np.where(x < threshold, -1.0, 1.0)
        flow = magnitude * sign
        if inside.any():  # one-off net flows, added in the order listed
            net = np.array([v for _, _, v in self.shocks], dtype=np.float64)
            np.add.at(flow, at[inside] - start, net[inside])
        return flow


_EXP_SAFE = 700.0
"""Exponents below this cannot overflow ``exp`` in float64 (its limit is ~709.78), so
:meth:`OrderFlow._signed_flow_one` needs no error-state guard for them."""


@functools.lru_cache(maxsize=64)
def _sell_threshold(sell_share: float) -> float:
    """``ndtri(sell_share)``: a standard normal below it means a sell (-inf at 0, +inf at
    1); cached, as an order flow's share never changes."""
    return float(ndtri(sell_share))


def _check_generator(op: str, rng: object) -> None:
    """Refuse anything but a numpy Generator (the only allowed source of randomness)."""
    if not isinstance(rng, np.random.Generator):
        raise OrderFlowError(
            f"{op}: rng must be a numpy.random.Generator, got "
            f"{type(rng).__name__}; create one with numpy.random.default_rng(seed)"
        )


# --------------------------------------------------------------------------------------
# Price-elastic participants, buybacks and scheduled shocks (pure functions)
# --------------------------------------------------------------------------------------

DAYS_PER_YEAR = 365.25
"""Days in a year, for converting a yearly discount rate to one per epoch."""


def annuity_factor(discount_rate_per_year: float, horizon_epochs: int, epoch_days: float) -> float:
    """Present value of 1 USD received at the end of each of the next ``horizon_epochs``
    epochs: ``Σ_{h=1..H} (1+r)^−h = (1 − (1+r)^−H) / r`` with the per-epoch rate
    ``r = (1 + discount_rate_per_year)^(epoch_days / 365.25) − 1`` (``H`` when ``r = 0``).

    Args:
        discount_rate_per_year: yearly discount rate (fraction per year, >= 0).
        horizon_epochs: epochs of revenue counted (epochs, >= 0).
        epoch_days: calendar length of one epoch (days, > 0).

    Returns:
        The annuity factor (epochs of revenue, dimensionless multiplier of a per-epoch USD
        revenue).
    """
    if not (math.isfinite(discount_rate_per_year) and discount_rate_per_year >= 0):
        raise MarketError(f"annuity_factor: discount_rate_per_year={discount_rate_per_year!r}")
    if horizon_epochs < 0 or not (math.isfinite(epoch_days) and epoch_days > 0):
        raise MarketError(
            f"annuity_factor: horizon_epochs={horizon_epochs!r}, epoch_days={epoch_days!r}"
        )
    r = math.expm1(math.log1p(discount_rate_per_year) * epoch_days / DAYS_PER_YEAR)
    if r == 0.0:
        return float(horizon_epochs)
    return -math.expm1(-math.log1p(r) * horizon_epochs) / r


def fundamental_value_usd(
    revenue_usd_per_epoch: float,
    supply_tokens: float,
    discount_rate_per_year: float,
    horizon_epochs: int,
    epoch_days: float,
) -> float:
    """Fundamental value of one token (USD/token): the present value of the protocol's fee
    revenue per token of supply, ``V = R · annuity_factor(r, H, epoch_days) / S``.

    ``R`` is the revenue the trader projects flat over the horizon (USD per epoch; the
    simulation passes the mean of the recent epochs' fees in USD), ``S`` the tokens it is
    shared among (the simulation passes the total supply, minted − burned: fully diluted,
    so a future unlock dilutes a holder today). No supply: no value per token (0).
    """
    if supply_tokens <= 0 or revenue_usd_per_epoch <= 0:
        return 0.0
    a = annuity_factor(discount_rate_per_year, horizon_epochs, epoch_days)
    return float(revenue_usd_per_epoch) * a / float(supply_tokens)


def value_trader_order(
    price_usd: float,
    fundamental_usd: float,
    cash_usd: float,
    inventory_tokens: float,
    aggressiveness: float,
    adjustment_per_epoch: float,
) -> tuple[float, float]:
    """A long-only value trader's order for one epoch: ``(buy_usd, sell_tokens)``, one of
    them 0.

    The trader holds ``w = clip(aggressiveness · ln(V / P), 0, 1)`` of its wealth
    ``W = cash + inventory · P`` in tokens (none when ``V <= 0`` or ``V <= P``: it buys
    only below value and sells everything above it), and closes ``adjustment_per_epoch``
    of the gap to that target each epoch: with ``gap = w · W / P − inventory`` (tokens), it
    buys ``min(cash, adjustment · gap · P)`` USD when ``gap > 0`` and sells
    ``min(inventory, adjustment · (−gap))`` tokens otherwise. Partial adjustment keeps a
    large trader from overshooting the value in one netted trade.

    Args:
        price_usd: spot price before the epoch's trade (USD/token, > 0).
        fundamental_usd: the trader's value of a token (USD/token, >= 0).
        cash_usd: USD the trader holds (USD, >= 0).
        inventory_tokens: tokens the trader holds (tokens, >= 0).
        aggressiveness: share of wealth in tokens per unit of log-undervaluation
            (1/log-point, >= 0; 2 = all-in when the price is e^−0.5 ≈ 61 % of value).
        adjustment_per_epoch: fraction of the gap to the target closed per epoch ([0, 1]).
    """
    if not (price_usd > 0 and math.isfinite(price_usd)):
        raise MarketError(f"value_trader_order: price_usd={price_usd!r} must be finite and > 0")
    if fundamental_usd > price_usd:
        share = min(max(aggressiveness * math.log(fundamental_usd / price_usd), 0.0), 1.0)
    else:
        share = 0.0
    wealth_usd = cash_usd + inventory_tokens * price_usd
    gap_tokens = share * wealth_usd / price_usd - inventory_tokens
    if gap_tokens > 0:
        return min(cash_usd, adjustment_per_epoch * gap_tokens * price_usd), 0.0
    return 0.0, min(inventory_tokens, adjustment_per_epoch * -gap_tokens)


def reference_price_usd(points: tuple[tuple[int, float], ...], epoch: int, default: float) -> float:
    """The reference exchange's price at ``epoch`` (USD/token): log-linear interpolation
    between ``(epoch, price_usd)`` points sorted by epoch, flat before the first and after
    the last; ``default`` when there are no points."""
    if not points:
        return float(default)
    at = np.array([e for e, _ in points], dtype=np.float64)
    log_p = np.log(np.array([p for _, p in points], dtype=np.float64))
    return float(np.exp(np.interp(float(epoch), at, log_p)))


def arbitrage_order(
    price_usd: float,
    reference_usd: float,
    cash_reserve_usd: float,
    token_reserve_tokens: float,
    gap_closed: float,
    fee: float = UNISWAP_V2_FEE,
) -> tuple[float, float]:
    """An arbitrageur's order against a reference exchange: ``(buy_usd, sell_tokens)``.

    In a constant-product pool the price ``P*`` is reached at cash ``√(k·P*)`` and tokens
    ``√(k/P*)`` (``k`` = cash · tokens, fee ignored). The arbitrageur trades
    ``gap_closed`` of the way there: it buys ``gap_closed · (√(k·P*) − cash)`` USD when the
    pool is cheaper than the reference, sells ``gap_closed · (√(k/P*) − tokens)`` tokens
    when it is dearer; it stays out while ``|ln(P*/P)| <= 2·fee`` (the round trip would not
    pay the pool's fee).
    """
    if abs(math.log(reference_usd / price_usd)) <= 2.0 * fee:
        return 0.0, 0.0
    k = cash_reserve_usd * token_reserve_tokens
    if reference_usd > price_usd:
        return gap_closed * (math.sqrt(k * reference_usd) - cash_reserve_usd), 0.0
    return 0.0, gap_closed * (math.sqrt(k / reference_usd) - token_reserve_tokens)


def buyback_usd(fee_revenue_usd: float, share: float) -> float:
    """USD a buyback spends: ``share`` (fraction, [0, 1]) of the protocol's fee revenue
    (USD, >= 0; negative revenue buys nothing)."""
    return max(float(fee_revenue_usd), 0.0) * float(share)


@dataclass(frozen=True)
class MarketShock:
    """A scheduled shock (the schema's ``market.shocks`` entries).

    Attributes:
        at_epoch: first epoch of the shock (epochs, >= 0).
        kind: ``"price"``: the outside market trades ``size`` of the pool — a sell of
            ``|size|`` × the AMM's token reserve when ``size < 0``, a buy of ``size`` × its
            cash reserve when ``size > 0`` (fractions of the pool), spread evenly over the
            duration (each epoch ``size / duration_epochs`` of the pool at that epoch);
            ``"demand"``: consumers' demand is multiplied by ``size`` (factor, >= 0) in each
            epoch of the duration.
        size: see ``kind`` (fraction of the pool, or demand factor).
        duration_epochs: epochs the shock lasts (epochs, >= 1).
    """

    at_epoch: int
    kind: str
    size: float
    duration_epochs: int = 1

    def __post_init__(self) -> None:
        if self.kind not in ("price", "demand"):
            raise MarketError(f"MarketShock.kind={self.kind!r} must be 'price' or 'demand'")
        if self.at_epoch < 0 or self.duration_epochs < 1:
            raise MarketError(
                f"MarketShock: at_epoch={self.at_epoch!r} must be >= 0 and "
                f"duration_epochs={self.duration_epochs!r} >= 1"
            )
        if not math.isfinite(self.size) or (self.kind == "demand" and self.size < 0):
            raise MarketError(f"MarketShock.size={self.size!r}: a demand factor must be >= 0")

    def active(self, epoch: int) -> bool:
        """Whether ``epoch`` falls within the shock."""
        return self.at_epoch <= epoch < self.at_epoch + self.duration_epochs


def shock_effects(shocks: tuple[MarketShock, ...], epoch: int) -> tuple[float, float]:
    """``(pool_fraction, demand_multiplier)`` of ``epoch``: the price shocks' signed
    fraction of the pool traded this epoch (sum of ``size / duration_epochs`` over the
    active ones; < 0 = a sell of that fraction of the token reserve, > 0 = a buy of that
    fraction of the cash reserve) and the demand shocks' factor (product of the active
    ones' ``size``; 1 when none is active)."""
    fraction, multiplier = 0.0, 1.0
    for s in shocks:  # a handful of scheduled shocks
        if not s.active(epoch):
            continue
        if s.kind == "price":
            fraction += s.size / s.duration_epochs
        else:
            multiplier *= s.size
    return fraction, multiplier


def price_shock_order(
    pool_fraction: float, cash_reserve_usd: float, token_reserve_tokens: float
) -> tuple[float, float]:
    """``(buy_usd, sell_tokens)`` of a price shock trading ``pool_fraction`` of the pool:
    a buy of ``pool_fraction`` × the cash reserve (USD) when positive, a sell of
    ``−pool_fraction`` × the token reserve (tokens) when negative. Alone in the pool, a
    sell of a fraction ``f`` of the token reserve divides the price by about ``(1 + f)²``
    and a buy of ``f`` of the cash reserve multiplies it by about ``(1 + f)²``."""
    if pool_fraction >= 0:
        return pool_fraction * cash_reserve_usd, 0.0
    return 0.0, -pool_fraction * token_reserve_tokens
