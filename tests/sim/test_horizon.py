"""Same seed, longer horizon, same world: the first N epochs of a run of M > N epochs equal a
run of N epochs bit for bit (DESIGN.md, "Reliability"), because every random stream is
drawn epoch by epoch, never for the whole horizon.

The only values that may differ are the ones that by definition belong to the end of a
run (:data:`ledgerlab.sim.model.FINAL_VALUATION_KPIS` on the shorter run's last row: the
valuation made after the last epoch) and, with ``collect.metrics_every_epochs`` > 1, the
shorter run's last row when it closes a partial interval.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ledgerlab import load_scenario
from ledgerlab.economics.market import OrderFlow
from ledgerlab.sim.kpis import FINAL_VALUATION_KPIS
from ledgerlab.sim.run import run
from tests.sim.test_model import ALL_DEFENCES, EVERY_ADVERSARY

SMALL: dict[str, Any] = {
    "population.providers": 20,
    "population.consumers": 15,
    "attribution.ground_truth.every_epochs": 4,
    "collect.agent_snapshot_every_epochs": 0,
}
"""Small populations; ground truth every 4 epochs, so the shorter runs below end between
two valuations (their last row then holds the extra after-the-last-epoch valuation)."""


def assert_prefix(short: pd.DataFrame, long: pd.DataFrame, metrics_every: int) -> None:
    """``short`` is ``long`` cut to its horizon, bit for bit, apart from what belongs to
    the end of a run (see the module docstring)."""
    last_epoch = int(short["epoch"].iloc[-1])
    head = long[long["epoch"] <= last_epoch].reset_index(drop=True)
    partial = last_epoch % metrics_every != 0  # the short run's last row closes early
    if partial:
        short, head = short.iloc[:-1], head[head["epoch"] < last_epoch]
    assert len(short) == len(head) and len(short) > 1
    body = slice(0, len(short) - 1)
    pd.testing.assert_frame_equal(
        short.iloc[body].reset_index(drop=True),
        head.iloc[body].reset_index(drop=True),
        check_exact=True,
    )
    keep = [c for c in short.columns if c not in FINAL_VALUATION_KPIS]
    pd.testing.assert_frame_equal(
        short[keep].iloc[-1:].reset_index(drop=True),
        head[keep].iloc[-1:].reset_index(drop=True),
        check_exact=True,
    )


def test_a_shorter_run_is_the_start_of_a_longer_one(shipped_scenario_file: Path) -> None:
    small = SMALL
    if not load_scenario(shipped_scenario_file).datanets:  # tokenomics-only: no data roles
        small = {k: v for k, v in SMALL.items() if not k.startswith("population.")}
    short = run(shipped_scenario_file, epochs=6, overrides=small, progress=False)
    long = run(shipped_scenario_file, epochs=11, overrides=small, progress=False)
    assert len(short.timeseries) == 6
    assert_prefix(short.timeseries, long.timeseries, metrics_every=1)


def test_the_prefix_holds_with_order_flow_shocks_and_a_metrics_cadence() -> None:
    """Shocks inside and beyond the short horizon, a persistent random walk, rows every 3
    epochs (the 8-epoch run's last row, epoch 7, closes a partial interval)."""
    overrides = {
        **SMALL,
        "market.order_flow.persistent": True,
        "market.order_flow.volatility": 1.5,
        "market.order_flow.shocks": [
            {"epoch": 2, "multiplier": 8.0, "net_usd": -2e5},
            {"epoch": 10, "multiplier": 0.1, "net_usd": 5e4},
        ],
        "collect.metrics_every_epochs": 3,
    }
    short = run(None, epochs=8, overrides=overrides, progress=False).timeseries
    long = run(None, epochs=20, overrides=overrides, progress=False).timeseries
    assert short["epoch"].tolist() == [0, 3, 6, 7]
    assert_prefix(short, long, metrics_every=3)
    flows = run(None, epochs=8, overrides={**overrides, "collect.metrics_every_epochs": 1})
    assert flows.timeseries["exogenous_flow_usd"].iloc[2] < 0  # the shock's sell-off


@pytest.mark.parametrize("engine", ["tmc_shapley", "banzhaf"])
def test_every_stream_is_drawn_epoch_by_epoch(engine: str) -> None:
    """Every named random stream in use at once: every adversary and every defence, a
    sampling engine (the ``attribution`` stream), churn with newcomers, the chain, and a
    retrieval trail beside it — the 5-epoch run is the start of the 9-epoch one."""
    world = {
        **{k.replace("__", "."): v for k, v in EVERY_ADVERSARY.items()},
        "defenses": ALL_DEFENCES,
        "attribution.engine": engine,
        "attribution.every_epochs": 2,
        "population.churn.lookback_epochs": 1,
        "population.churn.entry_rate_per_epoch": 0.5,
        "population.provider_cost_usd_per_point": 0.0,
        **SMALL,
    }
    short = run(None, epochs=5, overrides=world, progress=False, check=True)
    long = run(None, epochs=9, overrides=world, progress=False)
    assert long.timeseries["providers_joined"].sum() > 0  # the churn stream drew newcomers
    assert_prefix(short.timeseries, long.timeseries, metrics_every=1)


@pytest.mark.parametrize("persistent", [True, False])
def test_order_flow_drawn_epoch_by_epoch_is_the_sample(persistent: bool) -> None:
    """``OrderFlow.draw`` epoch by epoch gives exactly ``OrderFlow.sample``; a longer
    sample starts with the shorter one."""
    flow = OrderFlow(
        1e4,
        growth_per_epoch=0.02,
        volatility=0.8,
        sell_share=0.3,
        persistent=persistent,
        shocks=((3, 5.0), (3, 2.0), (40, 0.0)),
    )
    sample = flow.sample(60, np.random.default_rng(7))
    rng, walk, drawn = np.random.default_rng(7), 0.0, []
    for epoch in range(60):
        value, walk = flow.draw(epoch, rng, walk)
        drawn.append(value)
    np.testing.assert_array_equal(np.array(drawn), sample)
    np.testing.assert_array_equal(flow.sample(25, np.random.default_rng(7)), sample[:25])
    assert (sample < 0).any() and (sample > 0).any()
