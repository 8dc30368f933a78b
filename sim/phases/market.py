"""Phase 1 — unlock & market: vesting releases, sell policies, the outside market (mean-zero
noise traders, a value trader on fee revenue, an arbitrageur to a reference price, buybacks
from fee revenue, scheduled price shocks), all netted into one AMM trade
(``Exchange.trade_net``); the epoch's demand multiplier from scheduled demand shocks."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ledgerlab.agents.base import RoleSet
from ledgerlab.economics.ledger import Ledger
from ledgerlab.economics.market import (
    MarketShock,
    OrderFlow,
    arbitrage_order,
    buyback_usd,
    fundamental_value_usd,
    price_shock_order,
    reference_price_usd,
    shock_effects,
    value_trader_order,
)
from ledgerlab.economics.vesting import VestingSchedule
from ledgerlab.scenarios import Scenario
from ledgerlab.scenarios import schema as S
from ledgerlab.scenarios.schema import SellPolicy
from ledgerlab.sim import build
from ledgerlab.sim.exchange import Exchange
from ledgerlab.sim.flows import MarketFlows


@dataclass
class VestingBook:
    """The genesis allocation as it unlocks: each bucket's accounts and what has unlocked.

    Attributes:
        schedule: The buckets' unlock schedule.
        accounts: Per bucket, the accounts sharing it equally.
        unlocked_tokens: Per bucket, tokens unlocked so far (TGE included).
    """

    schedule: VestingSchedule
    accounts: list[np.ndarray]
    unlocked_tokens: np.ndarray
    _table: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), repr=False)
    _table_from: int = field(default=0, repr=False)
    _closed: set[int] = field(default_factory=set, repr=False)
    _idle_until: int = field(default=0, repr=False)

    TABLE_EPOCHS = 512
    """Epochs of the unlock schedule evaluated in one vectorised call (epochs)."""

    @property
    def names(self) -> tuple[str, ...]:
        """Bucket names, in order."""
        return tuple(b.name for b in self.schedule.buckets)

    def target(self, t: int) -> np.ndarray:
        """Tokens each bucket has unlocked over epochs ``[0, t)`` (the schedule's
        ``unlocked_by_bucket(t)``), read from a table of the next :data:`TABLE_EPOCHS`
        values computed in one call: the schedule is a pure function of time, so this is
        the per-epoch query's value, without its per-call cost every epoch."""
        i = t - self._table_from
        if not 0 <= i < self._table.shape[1]:
            times = np.arange(t, t + self.TABLE_EPOCHS, dtype=np.float64)
            self._table = self.schedule.unlocked_by_bucket(times)
            self._table_from, i = t, 0
        return self._table[:, i]

    def unlock_through(self, epoch: int, ledger: Ledger) -> float:
        """Unlock every bucket up to its schedule at the end of ``epoch``; returns tokens.

        A bucket whose accounts have nothing left locked is closed for good (nothing locks
        tokens after genesis): its schedule's rounding residue would otherwise unlock zeros
        across all its accounts every epoch.

        Epochs before :meth:`_next_due` (no open bucket's schedule above what it has
        unlocked) release nothing and return at once: ``unlocked_tokens`` changes only
        here, so the answer holds until then."""
        if epoch < self._idle_until:
            return 0.0
        inc = np.maximum(self.target(epoch + 1) - self.unlocked_tokens, 0.0)
        total = 0.0
        for i in np.flatnonzero(inc > 0).tolist():  # a handful of buckets, fewer once vested
            if i in self._closed:
                continue
            accts = self.accounts[i]
            locked = ledger.locked[accts]
            each = np.minimum(inc[i] / accts.size, locked)
            ledger.unlock_many(accts, each)
            released = float(each.sum())
            self.unlocked_tokens[i] += released
            total += released
            if not (locked > each).any():
                self._closed.add(i)
        if total == 0.0:
            self._idle_until = self._next_due(epoch)
        return total

    def _next_due(self, epoch: int) -> int:
        """The first epoch after ``epoch`` (at most the end of the current table) at which
        an open bucket's schedule exceeds what it has unlocked: ``unlock_through`` of an
        earlier epoch finds no positive increment (``target - unlocked > 0`` exactly when
        ``target > unlocked``), so it has nothing to do."""
        open_rows = [i for i in range(self.unlocked_tokens.size) if i not in self._closed]
        # table column j is target(_table_from + j), read by unlock_through(j + from - 1)
        first = epoch + 1 - self._table_from + 1  # the column of unlock_through(epoch + 1)
        table = self._table[open_rows, first:]
        due = (table > self.unlocked_tokens[open_rows, None]).any(axis=0)
        hits = np.flatnonzero(due)
        return epoch + 1 + (int(hits[0]) if hits.size else table.shape[1])


@dataclass
class ExogenousFlow:
    """The noise traders' order flow (``market.order_flow``; mean-zero by default), drawn
    epoch by epoch on the market stream (never for the whole horizon up front, so the first
    N epochs of a longer run equal a run of N epochs).

    Attributes:
        process: The order-flow process (``economics.market.OrderFlow``).
        walk: Running sum of its log-magnitude normals (its random-walk state).
    """

    process: OrderFlow
    walk: float = 0.0

    def draw(self, epoch: int, rng: np.random.Generator) -> float:
        """This epoch's net flow (USD; negative = a sell of that many USD)."""
        flow, self.walk = self.process.draw(epoch, rng, self.walk)
        return flow


@dataclass
class ValueTraderBook:
    """The value trader (``market.value_trader``) as it trades: its cash, and the tokens it
    bought, which it keeps in the outside market's account.

    Attributes:
        params: Its scenario section (discount rate, horizon, aggressiveness, …).
        epoch_days: Calendar length of one epoch (days), for the per-epoch discount rate.
        cash_usd: Cash it holds (USD).
        inventory_tokens: Tokens it holds (tokens; part of the outside account's balance).
    """

    params: S.ValueTrader
    epoch_days: float
    cash_usd: float
    inventory_tokens: float = 0.0

    def fundamental_usd(self, revenue: FeeRevenue, supply_tokens: float) -> float:
        """Its value of one token now (USD/token): ``economics.market.fundamental_value_usd``
        of the mean fee revenue of its window, over the total supply."""
        p = self.params
        return fundamental_value_usd(
            revenue.mean_usd(p.revenue_window_epochs),
            supply_tokens,
            p.discount_rate_per_year,
            p.horizon_epochs,
            self.epoch_days,
        )

    def order(self, price_usd: float, fundamental_usd: float) -> tuple[float, float]:
        """``(buy_usd, sell_tokens)`` this epoch (``economics.market.value_trader_order``)."""
        if self.cash_usd <= 0 and self.inventory_tokens <= 0:
            return 0.0, 0.0
        p = self.params
        return value_trader_order(
            price_usd,
            fundamental_usd,
            self.cash_usd,
            self.inventory_tokens,
            p.aggressiveness,
            p.adjustment_per_epoch,
        )


@dataclass
class FeeRevenue:
    """The protocol's fee revenue per epoch (USD): the fees paid into the treasury (tokens)
    × the price after they were paid, recorded once per epoch by the model after the
    consume phase; the value trader and the buyback read it in the next epoch's market."""

    usd: list[float] = field(default_factory=list)

    def record(self, fees_tokens: float, price_usd: float) -> None:
        """Book one epoch's fees (tokens) at the price (USD/token)."""
        self.usd.append(float(fees_tokens) * float(price_usd))

    def last_usd(self) -> float:
        """The last recorded epoch's revenue (USD; 0 before any)."""
        return self.usd[-1] if self.usd else 0.0

    def mean_usd(self, window_epochs: int) -> float:
        """Mean revenue of the last ``window_epochs`` recorded epochs (USD/epoch; fewer at
        the start, 0 before any)."""
        recent = self.usd[-window_epochs:]
        return math.fsum(recent) / len(recent) if recent else 0.0


@dataclass
class MarketSides:
    """The price-elastic side of the market and what is scheduled: the value trader, the
    arbitrageur, buybacks and shocks (``market`` section), with the state they carry from
    epoch to epoch. Everything here is deterministic given the state: no random draws.

    Attributes:
        value_trader: The value trader, or None without capital.
        arbitrage: The arbitrage section (``enabled`` false = no arbitrageur).
        reference: The reference price path as ``(epoch, price_usd)`` points.
        initial_price_usd: The reference price when the path is empty (USD/token).
        buyback: The buyback section.
        shocks: The scheduled price and demand shocks.
        shock_sellers: Accounts of the genesis holders (holder buckets), who sell in a
            price shock beyond what the outside market holds.
        amm_fee: The AMM's swap fee (fraction), the arbitrageur's no-trade band.
        treasury: The treasury's account (receives bought-back tokens when not burned).
        revenue: The protocol's fee revenue per epoch.
    """

    value_trader: ValueTraderBook | None
    arbitrage: S.Arbitrage
    reference: tuple[tuple[int, float], ...]
    initial_price_usd: float
    buyback: S.Buyback
    shocks: tuple[MarketShock, ...]
    shock_sellers: np.ndarray
    amm_fee: float
    treasury: int
    revenue: FeeRevenue = field(default_factory=FeeRevenue)

    @classmethod
    def create(
        cls, scenario: Scenario, vesting: VestingBook, exchange: Exchange, treasury: int
    ) -> MarketSides:
        """The market's sides from the scenario, at launch (after the AMM is seeded, before
        the launch stakes): the outside market receives its launch inventory
        (:func:`lend_outside_inventory`); the shock sellers are the accounts of the vesting
        buckets whose recipient is ``holders``."""
        lend_outside_inventory(scenario, exchange, treasury)
        mk = scenario.market
        vt = mk.value_trader
        book = ValueTraderBook(vt, scenario.epoch_days, vt.capital_usd) if vt.capital_usd else None
        holder_buckets = [
            vesting.accounts[i]
            for i, b in enumerate(scenario.tokenomics.vesting)
            if b.recipient == "holders"
        ]
        sellers = np.concatenate(holder_buckets) if holder_buckets else np.zeros(0, np.int64)
        return cls(
            value_trader=book,
            arbitrage=mk.arbitrage,
            reference=tuple((p.epoch, p.price_usd) for p in mk.arbitrage.reference),
            initial_price_usd=mk.initial_price_usd,
            buyback=mk.buyback,
            shocks=build.market_shocks(scenario),
            shock_sellers=sellers.astype(np.int64),
            amm_fee=mk.amm_fee,
            treasury=treasury,
        )


def lend_outside_inventory(scenario: Scenario, exchange: Exchange, treasury: int) -> float:
    """Lend the outside market its launch inventory from the treasury; returns tokens.

    ``market.outside_inventory_multiple`` × the AMM's launch token reserve, at most half of
    what the treasury holds beyond the builders' and validators' launch stakes (funded
    next; the other half keeps paying onboarding grants and gas). Noise
    traders who hold nothing can only buy: with it, mean-zero noise executes as mean-zero
    trades until a long run of sells exhausts it.
    """
    pop = scenario.population
    stakes = pop.builders * pop.builder_stake_tokens + pop.validators * pop.validator_stake_tokens
    led = exchange.ledger
    spare = float(led.balance[treasury]) - stakes
    want = scenario.market.outside_inventory_multiple * exchange.pool.token_reserve_tokens
    tokens = min(want, max(spare, 0.0) / 2.0)
    if tokens > 0:
        led.transfer(treasury, exchange.outside, tokens)
    return tokens


@dataclass
class OutsideOrders:
    """The outside market's orders of one epoch, one entry per participant in
    :data:`PARTICIPANTS` order: USD each buys, and who sells how many tokens (the outside
    account for every participant, plus the genesis holders in a price shock)."""

    buy_usd: np.ndarray
    sell_accounts: np.ndarray
    sell_tokens: np.ndarray
    sell_owner: np.ndarray  # index into PARTICIPANTS of each sell entry


PARTICIPANTS = ("noise", "value_trader", "arbitrage", "shock", "buyback")
"""The outside market's participants, in the order their orders are listed."""


def unlock_and_trade(
    epoch: int,
    vesting: VestingBook,
    sell_policies: Sequence[SellPolicy],
    sellers: Mapping[str, Sequence[RoleSet]],
    exchange: Exchange,
    flow: ExogenousFlow,
    rng: np.random.Generator,
    sides: MarketSides,
) -> MarketFlows:
    """Vesting releases; holders and earners sell by policy; the outside market trades
    (:func:`outside_orders`); all of it nets into one AMM trade, then the value trader's
    and the buyback's side is booked (:func:`settle_outside`).

    Args:
        sellers: Role sets selling under each role-named sell policy (``"farmers"``: the
            farmers and wash consumers).
        rng: The market stream: the noise traders' flow (two normals per epoch).
        sides: The price-elastic side and the scheduled shocks, with their state.
    """
    led = exchange.ledger
    unlocked = vesting.unlock_through(epoch, led)
    price = exchange.price_usd
    accounts, sell_tokens = sell_orders(price, sell_policies, vesting, sellers, led)
    net_usd = flow.draw(epoch, rng)
    if accounts.size == 0:
        quiet = quiet_market(epoch, unlocked, net_usd, sides, exchange)
        if quiet is not None:
            return quiet
    orders, fundamental = outside_orders(epoch, net_usd, sides, exchange, led.supply)
    accounts = np.concatenate([accounts, orders.sell_accounts])
    owner = np.concatenate([np.full(sell_tokens.size, -1, np.int64), orders.sell_owner])
    sell_tokens = np.concatenate([sell_tokens, orders.sell_tokens])
    keep = sell_tokens > 0
    accounts, sell_tokens, owner = accounts[keep], sell_tokens[keep], owner[keep]
    orders.buy_usd, sell_tokens = exchange.bounded_orders(orders.buy_usd, sell_tokens)
    reserve = exchange.pool.token_reserve_tokens
    if _no_trade(exchange, sell_tokens, orders.buy_usd):
        usd_out = np.zeros(0)  # what trade_net returns for no order, without its passes
    else:
        usd_out = exchange.trade_net(accounts, sell_tokens, orders.buy_usd)
    # Tokens to buyers = tokens sold − what the AMM's reserve kept; pro rata to USD.
    bought = float(sell_tokens.sum()) - (exchange.pool.token_reserve_tokens - reserve)
    total_buy = float(orders.buy_usd.sum())
    each = orders.buy_usd * (max(bought, 0.0) / total_buy) if total_buy > 0 else orders.buy_usd
    bb_usd, bb_tokens = settle_outside(exchange, sides, orders, each, (owner, sell_tokens, usd_out))

    def net_flow_usd(who: int) -> float:  # USD a participant put in, net of USD it took out
        took_usd = float(usd_out[owner == who].sum()) if owner.size else 0.0
        return float(orders.buy_usd[who]) - took_usd

    vt = sides.value_trader
    # Sale proceeds are a KPI only: churn values income at the price when earned.
    return MarketFlows(
        unlocked_tokens=unlocked,
        sold_tokens=float(sell_tokens.sum()),
        sales_usd=float(usd_out.sum()),
        exogenous_flow_usd=net_usd,
        noise_flow_usd=net_flow_usd(0),
        value_trader_flow_usd=net_flow_usd(1),
        arbitrage_flow_usd=net_flow_usd(2),
        shock_flow_usd=net_flow_usd(3),
        buyback_usd=bb_usd,
        buyback_tokens=bb_tokens,
        fundamental_value_usd=fundamental,
        value_trader_tokens=vt.inventory_tokens if vt else 0.0,
        value_trader_cash_usd=vt.cash_usd if vt else 0.0,
        demand_multiplier=shock_effects(sides.shocks, epoch)[1],
    )


def quiet_market(
    epoch: int, unlocked_tokens: float, noise_usd: float, sides: MarketSides, exchange: Exchange
) -> MarketFlows | None:
    """The epoch's :class:`MarketFlows` when nobody trades, or None when someone might.

    Nobody trades when no holder sells (the caller checks), the noise traders' flow is
    zero, there is no arbitrageur or price shock this epoch, the value trader (if any)
    neither buys nor sells, the buyback spends nothing and the pool's reserve is already
    the AMM account's balance. The general path would then build empty orders and skip
    the trade (:func:`_no_trade`); this returns what it returns and books the value
    trader's side as :func:`settle_outside` would, from the same scalar expressions,
    without the array passes (an idle epoch's market cost ~40 µs).
    ``tests/sim/test_market_quiet.py`` checks that both paths agree."""
    fraction, demand = shock_effects(sides.shocks, epoch)
    if noise_usd != 0.0 or fraction != 0.0 or sides.arbitrage.enabled:
        return None
    buyback = buyback_usd(sides.revenue.last_usd(), sides.buyback.share)
    pool, led = exchange.pool, exchange.ledger
    if buyback != 0.0 or pool.token_reserve_tokens != float(led.balance[exchange.amm]):
        return None
    vt = sides.value_trader
    fundamental, vt_buy = math.nan, 0.0
    if vt is not None:
        fundamental = vt.fundamental_usd(sides.revenue, led.supply)
        vt_buy, vt_tokens = vt.order(exchange.price_usd, fundamental)
        held = float(led.balance[exchange.outside])
        if vt_buy != 0.0 or min(vt_tokens, held) > 0:
            return None
        # settle_outside's booking, with no sell entry and each buy fetching its own USD
        vt.cash_usd += 0.0 - float(vt_buy)
        vt.cash_usd = max(vt.cash_usd, 0.0)
        vt.inventory_tokens += float(vt_buy) - 0.0
        vt.inventory_tokens = max(vt.inventory_tokens, 0.0)
    shock_buy, _ = price_shock_order(fraction, pool.cash_reserve_usd, pool.token_reserve_tokens)
    return MarketFlows(
        unlocked_tokens=unlocked_tokens,
        sold_tokens=0.0,
        sales_usd=0.0,
        exogenous_flow_usd=noise_usd,
        noise_flow_usd=max(noise_usd, 0.0) - 0.0,
        value_trader_flow_usd=float(vt_buy) - 0.0,
        arbitrage_flow_usd=0.0,
        shock_flow_usd=shock_buy - 0.0,
        buyback_usd=buyback,
        buyback_tokens=min(buyback, float(led.balance[exchange.outside])),
        fundamental_value_usd=fundamental,
        value_trader_tokens=vt.inventory_tokens if vt else 0.0,
        value_trader_cash_usd=vt.cash_usd if vt else 0.0,
        demand_multiplier=demand,
    )


def _no_trade(exchange: Exchange, sell_tokens: np.ndarray, buy_usd: np.ndarray) -> bool:
    """Whether ``Exchange.trade_net`` of these orders would change nothing: no sell entry,
    no buy, and the pool's token reserve already the AMM account's balance (its closing
    ``sync_reserve`` then adopts the value it has). An epoch with nothing to trade skips
    the trade's validation and ledger passes; its results are unchanged."""
    return (
        sell_tokens.size == 0
        and not buy_usd.any()
        and exchange.pool.token_reserve_tokens == float(exchange.ledger.balance[exchange.amm])
    )


def outside_orders(
    epoch: int, noise_usd: float, sides: MarketSides, exchange: Exchange, supply_tokens: float
) -> tuple[OutsideOrders, float]:
    """The outside market's orders this epoch and the value trader's fundamental value
    (USD/token; NaN without a value trader).

    Sells come from what the outside account holds beyond the value trader's tokens, in
    this order: a price shock, the arbitrageur, the noise traders (each capped by what is
    left); a price shock's rest is sold by the genesis holders pro rata to their liquid
    balances. The value trader sells only its own tokens. Buys need no inventory.
    """
    led, pool, price = exchange.ledger, exchange.pool, exchange.price_usd
    outside = exchange.outside
    vt = sides.value_trader
    held = float(led.balance[outside])
    free = max(held - (vt.inventory_tokens if vt else 0.0), 0.0)
    buy = np.zeros(len(PARTICIPANTS))
    accts: list[np.ndarray] = []
    tokens: list[np.ndarray] = []
    owner: list[np.ndarray] = []

    def sell(who: int, accounts: np.ndarray, amounts: np.ndarray) -> None:
        accts.append(accounts)
        tokens.append(amounts)
        owner.append(np.full(accounts.size, who, dtype=np.int64))

    fraction, _ = shock_effects(sides.shocks, epoch)
    buy[3], shock_tokens = price_shock_order(
        fraction, pool.cash_reserve_usd, pool.token_reserve_tokens
    )
    if shock_tokens > 0:
        first = min(shock_tokens, free)
        free -= first
        sell(3, np.array([outside]), np.array([first]))
        sell(
            3,
            sides.shock_sellers,
            _pro_rata(led.balance[sides.shock_sellers], shock_tokens - first),
        )
    fundamental = math.nan
    if vt is not None:
        fundamental = vt.fundamental_usd(sides.revenue, supply_tokens)
        buy[1], vt_tokens = vt.order(price, fundamental)
        sell(1, np.array([outside]), np.array([min(vt_tokens, held)]))
    if sides.arbitrage.enabled:
        ref = reference_price_usd(sides.reference, epoch, sides.initial_price_usd)
        buy[2], arb_tokens = arbitrage_order(
            price, ref, pool.cash_reserve_usd, pool.token_reserve_tokens,
            sides.arbitrage.gap_closed_per_epoch, sides.amm_fee,
        )  # fmt: skip
        sell(2, np.array([outside]), np.array([min(arb_tokens, free)]))
        free -= min(arb_tokens, free)
    buy[0] = max(noise_usd, 0.0)
    sell(0, np.array([outside]), np.array([min(max(-noise_usd, 0.0) / price, free)]))
    buy[4] = buyback_usd(sides.revenue.last_usd(), sides.buyback.share)
    orders = OutsideOrders(
        buy, np.concatenate(accts), np.concatenate(tokens), np.concatenate(owner)
    )
    return orders, fundamental


def _pro_rata(balances: np.ndarray, tokens: float) -> np.ndarray:
    """Each balance's share of selling ``tokens`` in total, never more than it holds."""
    total = float(balances.sum())
    if tokens <= 0 or total <= 0:
        return np.zeros(balances.size)
    return balances * min(1.0, tokens / total)


def settle_outside(
    exchange: Exchange,
    sides: MarketSides,
    orders: OutsideOrders,
    bought_tokens: np.ndarray,
    sold: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[float, float]:
    """Book the value trader's and the buyback's side of the epoch's trade: the trader's
    cash and tokens, the buyback's tokens burned or sent to the treasury. ``bought_tokens``
    is what each participant's buy fetched (tokens), ``sold`` the (owner, tokens, USD) of
    each executed sell entry. Returns the buyback's ``(usd, tokens)``."""
    owner, sold_tokens, usd_out = sold
    vt = sides.value_trader
    if vt is not None:
        mine = owner == 1
        vt.cash_usd += float(usd_out[mine].sum()) - float(orders.buy_usd[1])
        vt.cash_usd = max(vt.cash_usd, 0.0)
        vt.inventory_tokens += float(bought_tokens[1]) - float(sold_tokens[mine].sum())
        vt.inventory_tokens = max(vt.inventory_tokens, 0.0)
    led = exchange.ledger
    bb_tokens = min(float(bought_tokens[4]), float(led.balance[exchange.outside]))
    if bb_tokens > 0:
        if sides.buyback.destination == "burn":
            led.burn(exchange.outside, bb_tokens)
        else:
            led.transfer(exchange.outside, sides.treasury, bb_tokens)
    return float(orders.buy_usd[4]), bb_tokens


def sell_orders(
    price_usd: float,
    policies: Sequence[SellPolicy],
    vesting: VestingBook,
    sellers: Mapping[str, Sequence[RoleSet]],
    ledger: Ledger,
) -> tuple[np.ndarray, np.ndarray]:
    """Accounts selling this epoch and how many tokens each, from the sell policies: a
    policy names a vesting bucket or a role, and sells that fraction of their liquid
    balances while the price is at or above its trigger."""
    names = vesting.names
    groups: list[np.ndarray] = []
    amounts: list[np.ndarray] = []
    bal = ledger.balance
    for pol in policies:  # one policy per group: a handful
        if price_usd < pol.min_price_usd or pol.fraction_per_epoch <= 0:
            continue
        if pol.holder in names:
            accts = vesting.accounts[names.index(pol.holder)]
        else:
            accts = np.concatenate([s.cols.account for s in sellers[pol.holder]])
        groups.append(accts)
        amounts.append(bal[accts] * pol.fraction_per_epoch)
    if not groups:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(groups), np.concatenate(amounts)
