"""Supply views: tracker circulating and market float, and where their growth came from.

Each epoch's growth of tracker circulating splits into unlocks, rewards minted and burns,
and the market float's into unlocks to holders, rewards paid and the net of every other
transfer with protocol accounts (``sim.kpis``). The KPIs are computed from the ledger's
state; these tests check them against what the ledger's journal says happened, operation
by operation, in a world where all of it happens: holders' buckets and the reward pool
unlock, the emission is minted, fees and gas are burned, bonds are slashed to burn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from ledgerlab.economics.ledger import JOURNAL_KINDS, NO_ACCOUNT
from ledgerlab.sim.model import EconomyModel
from tests.conftest import tiny_model

EPOCHS = 12

VESTING: list[dict[str, Any]] = [
    {"name": "community", "share": 0.6, "tge_fraction": 0.2, "linear_epochs": 48,
     "recipient": "reward_pool", "holders": 0},
    {"name": "investors", "share": 0.3, "cliff_epochs": 3, "linear_epochs": 20,
     "recipient": "holders", "holders": 5},
    {"name": "liquidity", "share": 0.1, "tge_fraction": 1.0, "recipient": "liquidity",
     "holders": 0},
]  # fmt: skip
"""Holders unlock from epoch 3 (to the market), the reward pool every epoch (to the
protocol)."""

WORLD: dict[str, Any] = {
    "tokenomics__vesting": VESTING,
    "tokenomics__emission": {"kind": "constant", "tokens_per_epoch": 2_000.0},
    "tokenomics__sell_policies": [{"holder": "investors", "fraction_per_epoch": 0.05}],
    "population__poisoners__label_flip": 10,
    "defenses": [{"kind": "stake_slash", "slash_fraction": 1.0, "slash_to": "burn"},
                 {"kind": "quality_filter"}],
    "collect__journal": True,
    "counterfactuals": [],
    "epochs": EPOCHS,
}  # fmt: skip
"""A world where every source of supply growth is active (the journal on, to check it)."""


def _run(**overrides: Any) -> tuple[EconomyModel, pd.DataFrame]:
    model = tiny_model(**{**WORLD, **overrides})
    for _ in range(model.scenario.epochs):
        model.step()
    return model, model.recorder.timeseries()


@pytest.fixture(scope="module")
def world() -> tuple[EconomyModel, pd.DataFrame]:
    return _run()


def _tol(model: EconomyModel) -> float:
    """Rounding allowed in a difference of two supply totals: 64 ulps of the supply (the
    totals are sums over accounts of numbers up to the supply)."""
    return 64 * float(np.spacing(model.ledger.supply))


def _journal_by_epoch(model: EconomyModel) -> pd.DataFrame:
    """Per epoch, from the journal alone: unlocks (all, and to market accounts), mints,
    burns (burn rows and bonds slashed to burn), the market float's change (every row
    that moves counted tokens across the market/protocol border), and the transfers from
    the fee escrow and the reward pool to market accounts."""
    j = model.ledger.journal_columns()
    kind = np.asarray(JOURNAL_KINDS)[j["kind"]]
    src, dst, amount = j["src"], j["dst"], j["amount"]
    protocol = set(model.accounts.protocol.ids.tolist())
    pay_from = [model.accounts.protocol.escrow, model.accounts.protocol.reward_pool]

    def market(a: np.ndarray) -> np.ndarray:
        return (a != NO_ACCOUNT) & ~np.isin(a, list(protocol))

    moves = np.isin(kind, ["transfer", "mint", "burn", "slash_bonded", "slash_staked"])
    across = np.where(moves, market(dst).astype(float) - market(src).astype(float), 0.0)
    unlock = kind == "unlock"
    frame = pd.DataFrame(
        {
            "epoch": j["epoch"],
            "unlocks": np.where(unlock, amount, 0.0),
            "unlocks_market": np.where(unlock & market(src), amount, 0.0),
            "minted": np.where(kind == "mint", amount, 0.0),
            "burned": np.where(
                (kind == "burn") | (np.char.startswith(kind, "slash") & (dst == NO_ACCOUNT)),
                amount,
                0.0,
            ),
            "float": across * amount + np.where(unlock & market(src), amount, 0.0),
            "paid": np.where(
                (kind == "transfer") & np.isin(src, pay_from) & market(dst), amount, 0.0
            ),
        }
    )
    return frame.groupby("epoch").sum().reindex(range(model.scenario.epochs), fill_value=0.0)


def test_the_world_has_every_source(world: tuple[EconomyModel, pd.DataFrame]) -> None:
    _, ts = world
    for column in (
        "circulating_growth_unlocks_tokens",
        "circulating_growth_minted_tokens",
        "market_float_growth_unlocks_tokens",
        "market_float_growth_rewards_tokens",
        "slashed_tokens",
    ):
        assert ts[column].sum() > 0, column
    assert ts["circulating_growth_burns_tokens"].sum() < 0


def test_circulating_growth_splits_exactly(world: tuple[EconomyModel, pd.DataFrame]) -> None:
    model, ts = world
    parts = (
        ts["circulating_growth_unlocks_tokens"]
        + ts["circulating_growth_minted_tokens"]
        + ts["circulating_growth_burns_tokens"]
    )
    np.testing.assert_allclose(parts, ts["circulating_growth_tokens"], rtol=0, atol=_tol(model))
    circ = ts["circulating_tokens"].to_numpy()
    np.testing.assert_allclose(
        ts["circulating_growth_tokens"].to_numpy()[1:], np.diff(circ), rtol=0, atol=_tol(model)
    )


def test_market_float_growth_splits_exactly(world: tuple[EconomyModel, pd.DataFrame]) -> None:
    model, ts = world
    parts = (
        ts["market_float_growth_unlocks_tokens"]
        + ts["market_float_growth_rewards_tokens"]
        + ts["market_float_growth_other_tokens"]
    )
    np.testing.assert_allclose(parts, ts["market_float_growth_tokens"], rtol=0, atol=_tol(model))
    np.testing.assert_allclose(
        ts["market_float_growth_tokens"].to_numpy()[1:],
        np.diff(ts["market_float_tokens"].to_numpy()),
        rtol=0,
        atol=_tol(model),
    )


def test_each_term_is_what_the_journal_says(world: tuple[EconomyModel, pd.DataFrame]) -> None:
    """The state-derived terms equal the journal's account of the same epoch (the journal
    includes the TGE unlocks before epoch 0, which are not growth: epoch 0's unlocks are
    compared from epoch 1 on)."""
    model, ts = world
    jr = _journal_by_epoch(model)
    tol = _tol(model)
    later = slice(1, None)
    for kpi, col in (
        ("circulating_growth_unlocks_tokens", "unlocks"),
        ("market_float_growth_unlocks_tokens", "unlocks_market"),
    ):
        np.testing.assert_allclose(ts[kpi][later], jr[col][later], rtol=0, atol=tol, err_msg=kpi)
    np.testing.assert_allclose(ts["circulating_growth_minted_tokens"], jr["minted"], atol=tol)
    np.testing.assert_allclose(ts["circulating_growth_burns_tokens"], -jr["burned"], atol=tol)
    np.testing.assert_allclose(
        ts["market_float_growth_tokens"][later], jr["float"][later], atol=tol
    )
    # Every transfer out of the escrow or the reward pool to the market is a reward here
    # (the treasury holds enough to pay all gas and tips).
    np.testing.assert_allclose(ts["market_float_growth_rewards_tokens"], jr["paid"], rtol=1e-9)


def test_terms_match_the_phases_flows(world: tuple[EconomyModel, pd.DataFrame]) -> None:
    """Unlocks are the market phase's unlocks, mints the emission, rewards the rewards
    paid: the same tokens counted by the phases that moved them."""
    model, ts = world
    tol = _tol(model)
    np.testing.assert_allclose(
        ts["circulating_growth_unlocks_tokens"], ts["unlocked_tokens"], rtol=0, atol=tol
    )
    np.testing.assert_allclose(
        ts["circulating_growth_minted_tokens"], ts["emission_tokens"], rtol=0, atol=tol
    )
    np.testing.assert_array_equal(ts["market_float_growth_rewards_tokens"], ts["rewards_tokens"])


def test_a_pool_drip_adds_nothing_to_circulating_but_pays_the_float() -> None:
    """Rewards dripped out of an unlocked pool move tokens inside tracker circulating (no
    mint) and into the market float (paid to contributors)."""
    _, ts = _run(
        tokenomics__emission={"kind": "pool_drip", "tokens_per_epoch": 2_000.0},
        epochs=6,
    )
    assert (ts["circulating_growth_minted_tokens"] == 0).all()
    assert ts["market_float_growth_rewards_tokens"].sum() > 0
    np.testing.assert_array_equal(ts["market_float_growth_rewards_tokens"], ts["rewards_tokens"])


def test_market_float_excludes_every_protocol_account(
    world: tuple[EconomyModel, pd.DataFrame],
) -> None:
    model, ts = world
    led = model.ledger
    ids = model.accounts.protocol.ids
    held = float((led.balance[ids] + led.staked[ids] + led.bonded[ids]).sum())
    last = ts.iloc[-1]
    assert last["market_float_tokens"] == pytest.approx(
        last["circulating_tokens"] - held, rel=0, abs=_tol(model)
    )
    assert held >= float(led.balance[model.accounts.protocol.amm]) > 0


def test_inflation_of_both_views(world: tuple[EconomyModel, pd.DataFrame]) -> None:
    """Per-epoch inflation is the relative change of each level; annualised, it compounds
    over the epochs of a year (365.25 / epoch_days)."""
    model, ts = world
    n = 365.25 / model.scenario.epoch_days
    for view in ("circulating", "market_float"):
        x = ts[f"{view}_tokens"].to_numpy()
        rate = ts[f"{view}_inflation"].to_numpy()
        np.testing.assert_allclose(rate[1:], x[1:] / x[:-1] - 1.0, rtol=1e-9, atol=1e-15)
        with np.errstate(over="ignore"):  # an unlock into a thin float compounds to +inf
            yearly = np.expm1(n * np.log1p(rate))
        np.testing.assert_allclose(ts[f"{view}_inflation_annualised"], yearly, rtol=1e-12)


def test_genesis_stakes_come_from_liquid_balances() -> None:
    """Every launch stake (holders' share of their TGE unlock, builders' and validators'
    stakes from the treasury's unlocked liquidity) is paid from tokens unlocked or received
    before it: vesting locks are untouched by staking."""
    vesting = [dict(b) for b in VESTING]
    vesting[1]["tge_fraction"] = 0.1  # investors hold a liquid TGE share to stake from
    model = tiny_model(**{**WORLD, "tokenomics__vesting": vesting})
    led = model.ledger
    j = led.journal_columns()
    kind = np.asarray(JOURNAL_KINDS)[j["kind"]]
    n = led.n_accounts
    received = np.bincount(
        j["dst"][np.isin(kind, ["unlock", "transfer"])],
        weights=j["amount"][np.isin(kind, ["unlock", "transfer"])],
        minlength=n,
    )
    staked = led.staked[:n]
    holders = model.roles.holders.cols.account
    assert (staked <= received + _tol(model)).all()
    assert staked.sum() > 0
    minted_locked = j["amount"][kind == "mint_locked"].sum()
    unlocked = j["amount"][kind == "unlock"].sum()
    assert float(led.locked.sum()) == pytest.approx(minted_locked - unlocked, abs=_tol(model))
    assert staked[holders].sum() > 0


def test_the_summary_annualises_each_views_growth_over_the_run() -> None:
    """The run's growth of each view, compounded to a year from the launch level (the first
    row's level minus its growth); the mean of a thin float's compounded daily noise is not
    reported."""
    drip = {"kind": "pool_drip", "tokens_per_epoch": 2_000.0}
    model, ts = _run(tokenomics__emission=drip, epoch_days=7.0)  # 12 weeks: long enough
    summary = model.summary()
    years = EPOCHS / model.epochs_per_year
    for view in ("circulating", "market_float"):
        level, growth = ts[f"{view}_tokens"], ts[f"{view}_growth_tokens"]
        launch = level.iloc[0] - growth.iloc[0]
        expected = (level.iloc[-1] / launch) ** (1.0 / years) - 1.0
        assert summary[f"{view}_growth_annualised"] == pytest.approx(expected, rel=1e-9)
    assert "market_float_inflation_annualised_mean" not in summary
    short, _ = _run(tokenomics__emission=drip)  # 12 days: a year from them would mislead
    assert all(np.isnan(short.summary()[f"{v}_growth_annualised"]) for v in ("circulating",
               "market_float"))  # fmt: skip
