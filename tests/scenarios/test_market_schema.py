"""The market section's sides (issue 14 §2): defaults and what the schema refuses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ledgerlab.scenarios import Scenario
from ledgerlab.scenarios import schema as S


def test_the_default_market_is_two_sided_noise_with_a_value_trader() -> None:
    mk = Scenario().market
    assert mk.order_flow.sell_share == 0.5  # mean-zero noise
    assert mk.value_trader.capital_usd > 0
    assert not mk.arbitrage.enabled and mk.buyback.share == 0.0 and mk.shocks == ()
    # Launch depth: 0.5 % of the 500 M USD fully diluted value.
    fdv = Scenario().tokenomics.total_supply_tokens * mk.initial_price_usd
    assert mk.pool_liquidity_usd / fdv == pytest.approx(0.005)


def test_a_demand_shock_needs_a_factor_and_a_price_shock_at_most_ten_pools() -> None:
    assert S.MarketShock(kind="demand", size=0.4, at_epoch=182, duration_epochs=183).size == 0.4
    with pytest.raises(ValidationError, match="factor on demand"):
        S.MarketShock(kind="demand", size=-0.1)
    with pytest.raises(ValidationError, match="at most 10"):
        S.MarketShock(kind="price", size=20.0)


def test_the_reference_path_needs_increasing_epochs() -> None:
    point = S.ReferencePoint
    S.Arbitrage(reference=(point(epoch=0, price_usd=1.0), point(epoch=5, price_usd=2.0)))
    with pytest.raises(ValidationError, match="strictly increasing"):
        S.Arbitrage(reference=(point(epoch=5, price_usd=1.0), point(epoch=5, price_usd=2.0)))
