"""The token's market: the AMM pool, mirrored on the ledger.

One place holds the token reserve: the AMM account's balance on the ledger. The
:class:`~economics.market.ConstantProductPool` prices each trade from its copy of the
reserve, the ledger moves the tokens between the AMM account and the traders, and the pool
then adopts the ledger's balance (:meth:`Exchange.sync_reserve`), after checking that the two
agree to rounding. Every purchase and the epoch's netted trade go through :class:`Exchange`;
it implements ``agents.base.TokenMarket``, all that trading role sets see of the market.
"""

from __future__ import annotations

import numpy as np

from ledgerlab.economics.ledger import Ledger, LedgerError
from ledgerlab.economics.market import ConstantProductPool

MAX_ORDER_TO_RESERVE = 1e12
"""Most one epoch's netted orders may put into the AMM, relative to the reserve they trade
against (USD against the cash reserve, tokens against the token reserve). Past it the
constant-product output rounds to the pool's whole reserve in float64 (the pool refuses the
trade); at it the reserve left is ~1e-12 of what it was, still held to ~4 significant
digits. Larger orders are filled pro rata up to it."""

MAX_EXACT_BUY_SHARE = 0.5
"""Largest share of the AMM's token reserve one exact-output purchase may take (consumers
and wash consumers buying the tokens they pay fees with, sybil operators funding their
identities, submitters buying their bonds). Taking it quadruples the price; buyers beyond
it are served pro rata."""

AMM_LEDGER_RTOL = 1e-9
"""Largest gap between the pool's and the ledger's token reserve after a trade, relative to
the tokens involved (reserve before the trade + tokens moved): the rounding of a sum of
n pro-rata shares is at most ~n·2⁻⁵³ of it, far below this for any n up to millions."""


class Exchange:
    """The AMM pool and its ledger account (see the module docstring).

    Args:
        pool: The constant-product pool (its token reserve = the AMM account's balance).
        ledger: The ledger holding the tokens.
        amm: The AMM's account.
        outside: The outside market's account (exogenous buyers and sellers).
    """

    def __init__(self, pool: ConstantProductPool, ledger: Ledger, amm: int, outside: int) -> None:
        self.pool = pool
        self.ledger = ledger
        self.amm = amm
        self.outside = outside

    @property
    def price_usd(self) -> float:
        """Current spot price (USD/token)."""
        return float(self.pool.price)

    def buy_tokens_for(self, accounts: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Buyers acquire exactly ``tokens`` each in one aggregated swap; returns the USD
        each paid (pro rata to tokens). The token side moves on the ledger. If together they
        ask for more than :data:`MAX_EXACT_BUY_SHARE` of the token reserve, each receives
        the same fraction of its request (callers read balances after)."""
        total = float(tokens.sum())
        if total <= 0:
            return np.zeros(tokens.shape[0])
        reserve = self.pool.token_reserve_tokens
        if total > MAX_EXACT_BUY_SHARE * reserve:  # a thin market serves buyers pro rata
            tokens = tokens * (MAX_EXACT_BUY_SHARE * reserve / total)
            total = float(tokens.sum())
        cash = self.pool.buy_tokens_exact(total)
        self.ledger.transfer_many(np.full(accounts.size, self.amm), accounts, tokens)
        self.sync_reserve(reserve + total)
        return cash * tokens / total

    def bounded_orders(
        self, buy_usd: np.ndarray, sell_tokens: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The epoch's orders, each side scaled down pro rata to at most
        :data:`MAX_ORDER_TO_RESERVE` times the pool's matching reserve (buys: USD against
        the cash reserve; sells: tokens against the token reserve). The unfilled part is
        not traded: sellers keep their tokens, buyers their USD."""
        cap_usd = MAX_ORDER_TO_RESERVE * self.pool.cash_reserve_usd
        cap_tokens = MAX_ORDER_TO_RESERVE * self.pool.token_reserve_tokens
        total_usd, total_tokens = float(buy_usd.sum()), float(sell_tokens.sum())
        if total_usd > cap_usd:
            buy_usd = buy_usd * (cap_usd / total_usd)
        if total_tokens > cap_tokens:
            sell_tokens = sell_tokens * (cap_tokens / total_tokens)
        return buy_usd, sell_tokens

    def trade_net(
        self, sellers: np.ndarray, sell_tokens: np.ndarray, buy_usd: np.ndarray
    ) -> np.ndarray:
        """Net the epoch's orders into one AMM trade and move its tokens on the ledger;
        returns the USD each seller receives.

        The only buyer is the outside market (buying ``buy_usd[0]`` USD). The matched part
        of the flow crosses between traders, so on the ledger every seller's tokens go to
        the outside market and the AMM account moves only the net change of its reserve as
        the pool computed it (in when sells exceed what the outside takes, out otherwise).
        The AMM's balance is thus never the difference of two large pass-through amounts,
        whose rounding (an ulp of the amounts traded) can exceed a collapsed reserve; the
        pool then adopts the ledger's balance (:meth:`sync_reserve`).
        """
        led = self.ledger
        reserve = self.pool.token_reserve_tokens
        _, usd_out = self.pool.execute_net(buy_usd, sell_tokens)
        delta = self.pool.token_reserve_tokens - reserve
        crossing = sellers != self.outside  # the outside's own sells stay where they are
        if crossing.any():
            led.transfer_many(
                sellers[crossing], np.full(int(crossing.sum()), self.outside), sell_tokens[crossing]
            )
        if delta > 0:  # a token can round past what was sold: the outside pays what it holds
            led.transfer(self.outside, self.amm, min(delta, float(led.balance[self.outside])))
        elif delta < 0:
            led.transfer(self.amm, self.outside, -delta)
        self.sync_reserve(reserve + float(sell_tokens.sum()) + abs(delta))
        return usd_out

    def sync_reserve(self, scale_tokens: float) -> None:
        """Make the pool's token reserve the AMM account's ledger balance after a trade.

        The pool and the ledger do the same arithmetic in different orders (the ledger sums
        many accounts' pro-rata shares), so they differ by rounding, and that rounding is of
        the order of the *amounts moved*, not of the reserve left: near 1e15 tokens it is
        ~0.1 token, which after a collapse of the reserve is no small fraction of it. So the
        agreement is checked against ``scale_tokens`` (reserve before the trade plus the
        tokens moved both ways), with :data:`AMM_LEDGER_RTOL`; a larger gap is a bug, not
        rounding, and raises.
        """
        ledger_tokens = float(self.ledger.balance[self.amm])
        pool_tokens = self.pool.token_reserve_tokens
        if not abs(ledger_tokens - pool_tokens) <= AMM_LEDGER_RTOL * scale_tokens:
            raise LedgerError(
                f"epoch {self.ledger.epoch}: AMM token reserve {pool_tokens!r} != AMM account "
                f"balance {ledger_tokens!r} after trading {scale_tokens!r} tokens; the market "
                "and the ledger went out of step (please report)"
            )
        self.pool.set_token_reserve(ledger_tokens)

    def check(self) -> None:
        """The pool's token reserve is the AMM account's balance, exactly (every trade ends
        with :meth:`sync_reserve`); raises ``LedgerError`` otherwise."""
        reserve = self.pool.token_reserve_tokens
        bal = float(self.ledger.balance[self.amm])
        if reserve != bal:
            raise LedgerError(
                f"epoch {self.ledger.epoch}: AMM token reserve {reserve!r} != AMM account "
                f"balance {bal!r}; the market and the ledger went out of step (please report)"
            )
