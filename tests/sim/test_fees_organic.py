"""Fake activity made visible: fees paid by independent consumers vs wash consumers.

Wash consumers pay fees for queries on their own points to farm per-inference rewards.
Those fees are real transfers, but not usage: ``organic_fee_share`` shows them, and real
yield, ``emission_to_organic_fees`` and the emission split over datanets count only the
fees independent consumers paid. The direction test runs ``wash_inference`` small against
the same scenario and seed with no wash consumers (paired over seeds).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ledgerlab.sim.model import EconomyModel
from ledgerlab.sim.phases import reward
from tests.conftest import tiny_model

SEEDS = (0, 1, 2, 3, 4)
EPOCHS = 24


def _run(scenario: str | None, **overrides: Any) -> tuple[EconomyModel, pd.DataFrame]:
    model = tiny_model(
        scenario, check=False, **{"epochs": EPOCHS, "counterfactuals": [], **overrides}
    )
    for _ in range(model.scenario.epochs):
        model.step()
    return model, model.recorder.timeseries()


@pytest.fixture(scope="module")
def paired() -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """(with wash, without wash) timeseries of ``wash_inference`` small, per seed."""
    return [
        (
            _run("wash_inference", seed=seed)[1],
            _run("wash_inference", seed=seed, population__farmers__wash=0)[1],
        )
        for seed in SEEDS
    ]


def _mean(ts: pd.DataFrame, column: str) -> float:
    return float(np.nanmean(ts[column].to_numpy()))


def test_wash_trading_no_longer_lifts_real_yield(
    paired: list[tuple[pd.DataFrame, pd.DataFrame]],
) -> None:
    """Real yield (stakers' share of independent fees per staked token) is about the same
    with and without wash consumers, while the stakers' share of *all* fees is lifted
    severalfold by the same wash trading (so the wash fees are there, and excluded)."""
    lift = np.array([math.log(_mean(w, "real_yield") / _mean(n, "real_yield")) for w, n in paired])
    all_fees = np.array(
        [_mean(w, "stakers_fees_tokens") / _mean(n, "stakers_fees_tokens") for w, n in paired]
    )
    assert (all_fees > 2.0).all(), all_fees
    assert lift.mean() < math.log(1.1), np.exp(lift)
    assert (lift < math.log(1.5)).all(), np.exp(lift)


def test_organic_fee_share_is_below_one_with_wash_and_one_without(
    paired: list[tuple[pd.DataFrame, pd.DataFrame]],
) -> None:
    for wash, none in paired:
        paid = wash["fees_tokens"] > 0
        assert paid.any()
        assert (wash.loc[paid, "organic_fee_share"] < 1.0).all()
        assert (wash.loc[~paid, "organic_fee_share"].isna()).all()
        paid = none["fees_tokens"] > 0
        np.testing.assert_array_equal(none.loc[paid, "organic_fee_share"], 1.0)
        np.testing.assert_array_equal(
            none.loc[paid, "organic_fees_tokens"], none.loc[paid, "fees_tokens"]
        )


def test_organic_fee_share_is_one_in_the_baseline() -> None:
    model, ts = _run("baseline", epochs=8)
    paid = ts["fees_tokens"] > 0
    assert paid.any()
    np.testing.assert_array_equal(ts.loc[paid, "organic_fee_share"], 1.0)
    assert model.summary()["organic_fee_share"] == 1.0


def test_emission_to_organic_fees_per_epoch_and_over_the_run() -> None:
    model, ts = _run("wash_inference", seed=3)
    organic = ts["organic_fees_tokens"].to_numpy()
    assert (organic > 0).any() and (organic < ts["fees_tokens"].to_numpy()).any()
    ratio = ts["emission_to_organic_fees"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(organic > 0, ts["emission_tokens"].to_numpy() / organic, np.nan)
    np.testing.assert_allclose(ratio, expected, rtol=1e-15)
    summary = model.summary()
    assert summary["emission_to_organic_fees"] == pytest.approx(
        ts["emission_tokens"].sum() / organic.sum(), rel=1e-12
    )
    assert summary["organic_fee_share"] == pytest.approx(
        organic.sum() / ts["fees_tokens"].sum(), rel=1e-12
    )


def test_real_yield_is_the_stakers_share_of_independent_fees() -> None:
    """Without wash consumers, real yield is the stakers' fee share per staked token,
    annualised simply; with them, the wash part of the stakers' share is left out."""
    model, ts = _run("wash_inference", seed=1, population__farmers__wash=0)
    n = model.epochs_per_year
    np.testing.assert_allclose(
        ts["real_yield"], ts["stakers_fees_tokens"] * n / ts["staked_tokens"], rtol=1e-12
    )
    model, ts = _run("wash_inference", seed=1)
    full = ts["stakers_fees_tokens"] * n / ts["staked_tokens"]
    fed = ts["fees_tokens"] > 0
    assert (ts.loc[fed, "real_yield"] < full[fed]).all()


def test_the_emission_split_follows_independent_fees(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two datanets, wash consumers on their builders' models: each datanet's pool is its
    contributors' fees plus the emission × its share of *independent* contributor fees."""
    pools: list[float] = []
    payouts = reward.contributor_payouts

    def record(pool_tokens: float, weights: np.ndarray) -> np.ndarray:
        pools.append(float(pool_tokens))
        return payouts(pool_tokens, weights)

    monkeypatch.setattr(reward, "contributor_payouts", record)
    model = tiny_model(
        "wash_inference",
        check=False,
        seed=2,
        counterfactuals=[],  # twins would run the reward phase too
        datanets=[{"name": "a"}, {"name": "b"}],
        tokenomics__emission={"kind": "constant", "tokens_per_epoch": 1_000.0},
    )
    checked = 0
    for _ in range(model.scenario.epochs):
        pools.clear()
        model.step()
        f = model.flows
        assert f is not None and f.consumption is not None and f.rewards is not None
        fees = f.consumption.datanets
        indep = np.array([d.independent_tokens for d in fees])
        contrib = np.array([d.contributors_tokens for d in fees])
        assert len(pools) == 2
        if indep.sum() <= 0:
            continue
        share = indep / indep.sum()
        expected = contrib + f.rewards.emission_tokens * share
        np.testing.assert_allclose(pools, expected, rtol=1e-12)
        # Wash fees would have moved it: the split by all contributor fees differs.
        checked += int(not np.allclose(share, contrib / contrib.sum(), rtol=1e-3))
    assert checked > 0
