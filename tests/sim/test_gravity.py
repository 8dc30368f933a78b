"""Behavioural gravity in the whole model: directions over several seeds, each pair on the
same seed (common random numbers), and the gravity KPIs' bookkeeping."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ledgerlab.sim.model import EconomyModel

Factory = Callable[..., "EconomyModel"]

SEEDS = (1, 2, 3, 4, 5)

SMALL: dict[str, Any] = {
    "population__providers": 40,
    "population__consumers": 30,
    "attribution__engine": "retrieval",
    "attribution__ground_truth__every_epochs": 0,
    "chain__enabled": False,
    "population__builder_compute_cost_usd_per_epoch": 0.05,
}
"""A small world that still has every mechanism of gravity (retrieval: cheap to value;
builders' compute cheap enough that its small fee income keeps them, unless a test says
otherwise)."""


def run(tiny: Factory, scenario: str | None = None, **overrides: Any) -> pd.DataFrame:
    """The timeseries of a small run (no per-epoch ledger check: these are long-ish)."""
    model = tiny(scenario, check=False, **{**SMALL, **overrides})
    while model.running:
        model.step()
    return model.timeseries()


def test_a_label_flipped_network_loses_consumers_to_its_honest_twin(tiny: Factory) -> None:
    """label_flip against the same seed with no poisoners: more demand goes to the outside
    option, more consumers leave and fewer stay, on every seed."""
    lost = []
    for seed in SEEDS:
        common = {"seed": seed, "epochs": 60, "population__churn__exit_below_return_on_cost": -1.0}
        attacked = run(tiny, "label_flip", **common)
        honest = run(tiny, "label_flip", population__poisoners__label_flip=0, **common)
        share = slice(10, 30)  # before anyone may leave (the exit lookback is 30 epochs)
        assert attacked["outside_option_share"].iloc[share].mean() > (
            honest["outside_option_share"].iloc[share].mean() + 0.2
        )
        assert attacked["consumers_left"].sum() > honest["consumers_left"].sum()
        lost.append(honest["active_consumers"].iloc[-1] - attacked["active_consumers"].iloc[-1])
    assert min(lost) > 0, lost


def test_a_better_outside_option_lowers_active_consumers(tiny: Factory) -> None:
    diffs = []
    for seed in SEEDS:
        base = run(tiny, seed=seed, epochs=60)
        rival = run(tiny, seed=seed, epochs=60, market__outside_option__accuracy=0.92)
        diffs.append(base["active_consumers"].iloc[-1] - rival["active_consumers"].iloc[-1])
        assert rival["outside_option_share"].mean() > base["outside_option_share"].mean()
    assert min(diffs) > 0, diffs


def test_a_competitor_price_cut_lowers_network_inferences_after_it(tiny: Factory) -> None:
    """The outside option halves its price at epoch 20 (competitor_price_cut, shortened; its
    accuracy raised to 0.78, as accurate as this small world's young models, so that the
    cut brings it level): the same epochs before the cut, fewer network inferences after
    it, on every seed."""
    cut = [{"at_epoch": 20, "price_usd_per_inference": 0.05}]
    common = {"epochs": 40, "market__outside_option__accuracy": 0.78}
    for seed in SEEDS:
        base = run(
            tiny, "competitor_price_cut", seed=seed, market__outside_option__changes=[], **common
        )
        price_cut = run(
            tiny, "competitor_price_cut", seed=seed, market__outside_option__changes=cut, **common
        )
        before, after = slice(0, 20), slice(20, 40)
        pd.testing.assert_frame_equal(base.iloc[before], price_cut.iloc[before])
        assert price_cut["inferences"].iloc[after].sum() < base["inferences"].iloc[after].sum()
        # The competitor takes several times the demand it took at its old price.
        assert price_cut["outside_option_share"].iloc[after].mean() > (
            3 * base["outside_option_share"].iloc[after].mean() + 0.001
        )
        assert (price_cut["outside_price_usd"].iloc[after] == 0.05).all()


def test_builders_leave_when_their_compute_cost_exceeds_their_income(tiny: Factory) -> None:
    lookback = 10
    for seed in SEEDS:
        common = {
            "seed": seed,
            "epochs": 25,
            "population__builder_churn__lookback_epochs": lookback,
        }
        costly = run(tiny, population__builder_compute_cost_usd_per_epoch=1e4, **common)
        cheap = run(tiny, population__builder_compute_cost_usd_per_epoch=0.01, **common)
        # Everyone is judged at the end of the lookback, and no one earns 5,000 USD a day.
        assert costly["builders_left"].iloc[lookback] == 4
        assert (costly["active_builders"].iloc[lookback:] == 0).all()
        assert costly["builders_joined"].sum() == 0
        assert cheap["active_builders"].iloc[-1] >= 4
        # With no model for sale, consumers buy only the outside option.
        assert (costly["inferences"].iloc[lookback + 1 :] == 0).all()
        assert (costly["outside_option_share"].iloc[lookback + 1 :] == 1.0).all()


def test_consumers_arrive_by_bass_diffusion_and_the_kpis_add_up(tiny: Factory) -> None:
    ts = run(
        tiny,
        seed=3,
        epochs=60,
        population__adoption__innovation_per_epoch=0.02,
        market__outside_option__enabled=False,
    )
    active = ts["active_consumers"].to_numpy()
    flows = (ts["consumers_joined"] - ts["consumers_left"]).cumsum().to_numpy()
    np.testing.assert_array_equal(active, 30 + flows)
    assert 30 < active[-1] <= 60  # grows towards M = 2 × 30
    assert (ts["outside_inferences"] == 0).all() and (ts["network_choice_share"] == 1.0).all()
    assert ts["outside_price_usd"].isna().all()
    assert ts["consumers_left"].sum() == 0  # no outside option, no reason to leave


def test_gravity_switched_off_keeps_the_launch_population(tiny: Factory) -> None:
    ts = run(
        tiny,
        seed=2,
        epochs=40,
        market__outside_option__enabled=False,
        population__adoption__enabled=False,
        population__builder_churn__enabled=False,
    )
    assert (ts["active_consumers"] == 30).all() and (ts["active_builders"] == 4).all()
    assert (
        ts[["consumers_joined", "consumers_left", "builders_joined", "builders_left"]].sum().sum()
        == 0
    )
