"""Phase 1 — unlock & market: vesting releases, sell policies, the exogenous order flow,
all netted into one AMM trade (``Exchange.trade_net``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ledgerlab.agents.base import RoleSet
from ledgerlab.economics.ledger import Ledger
from ledgerlab.economics.market import OrderFlow
from ledgerlab.economics.vesting import VestingSchedule
from ledgerlab.scenarios.schema import SellPolicy
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

    @property
    def names(self) -> tuple[str, ...]:
        """Bucket names, in order."""
        return tuple(b.name for b in self.schedule.buckets)

    def unlock_through(self, epoch: int, ledger: Ledger) -> float:
        """Unlock every bucket up to its schedule at the end of ``epoch``; returns tokens."""
        target = self.schedule.unlocked_by_bucket(epoch + 1)
        inc = np.maximum(target - self.unlocked_tokens, 0.0)
        total = 0.0
        for i, accts in enumerate(self.accounts):  # a handful of buckets
            if inc[i] <= 0:
                continue
            each = np.minimum(inc[i] / accts.size, ledger.locked[accts])
            ledger.unlock_many(accts, each)
            self.unlocked_tokens[i] += float(each.sum())
            total += float(each.sum())
        return total


@dataclass
class ExogenousFlow:
    """The outside market's order flow, drawn epoch by epoch (never for the whole horizon up
    front, so the first N epochs of a longer run equal a run of N epochs).

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


def unlock_and_trade(
    epoch: int,
    vesting: VestingBook,
    sell_policies: Sequence[SellPolicy],
    sellers: Mapping[str, Sequence[RoleSet]],
    exchange: Exchange,
    flow: ExogenousFlow,
    rng: np.random.Generator,
) -> MarketFlows:
    """Vesting releases; holders and earners sell by policy; the exogenous order flow
    trades; all of it nets into one AMM trade.

    Args:
        sellers: Role sets selling under each role-named sell policy (``"farmers"``: the
            farmers and wash consumers).
    """
    led = exchange.ledger
    unlocked = vesting.unlock_through(epoch, led)
    price = exchange.price_usd
    accounts, sell_tokens = sell_orders(price, sell_policies, vesting, sellers, led)
    net_usd = flow.draw(epoch, rng)
    buy_usd = np.array([max(net_usd, 0.0)])
    if net_usd < 0:
        outside_tokens = min(-net_usd / price, float(led.balance[exchange.outside]))
        accounts = np.append(accounts, exchange.outside)
        sell_tokens = np.append(sell_tokens, outside_tokens)
    keep = sell_tokens > 0
    accounts, sell_tokens = accounts[keep], sell_tokens[keep]
    buy_usd, sell_tokens = exchange.bounded_orders(buy_usd, sell_tokens)
    usd_out = exchange.trade_net(accounts, sell_tokens, buy_usd)
    # Sale proceeds are a KPI only: churn values income at the price when earned.
    return MarketFlows(
        unlocked_tokens=unlocked,
        sold_tokens=float(sell_tokens.sum()),
        sales_usd=float(usd_out.sum()),
        exogenous_flow_usd=net_usd,
    )


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
