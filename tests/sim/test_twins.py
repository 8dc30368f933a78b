"""Counterfactual twins (``sim.twins``): same seed and streams, lockstep, and what they
measure.

* A twin is exactly a run of its own scenario on its own (minus the ground truth), and an
  honest_only twin of a world without adversaries is the world, bit for bit.
* Carrying twins changes nothing in the world; a shorter run is a prefix of a longer one.
* The scenario field ``counterfactuals`` resolves automatically and refuses twins that
  would equal the world.
* Directions over paired seeds: label-flip poisoning costs accuracy against the honest-only
  twin, farming (the anti-farming world) costs honest contributors income, backdoor points
  raise attack success above the honest-only twin's.
* Common random numbers: honest providers get the same points in world and twin, and
  pairing a world with its own twin narrows the spread of the differences.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from ledgerlab.scenarios import Scenario
from ledgerlab.scenarios.library import load_scenario
from ledgerlab.sim.fairness import FAIRNESS_KPIS, REWARD_KPIS
from ledgerlab.sim.kpis import KPI_NAMES
from ledgerlab.sim.model import EconomyModel
from ledgerlab.sim.twins import (
    TWIN_KPIS,
    BackdoorProbe,
    Counterfactual,
    Twins,
    honest_income_tokens,
    twin_scenario,
)

SMALL: dict[str, Any] = {"population__providers": 30, "population__consumers": 20}
"""Overrides keeping a run to well under a second per few dozen epochs."""

GROUND_TRUTH_KPIS = frozenset((*FAIRNESS_KPIS, *REWARD_KPIS))
"""Columns derived from the ground truth, which a twin does not carry."""


def _steps(*models: EconomyModel | Twins, epochs: int) -> None:
    """Step worlds (and extra twins) in lockstep."""
    for epoch in range(epochs):
        for m in models:
            m.step(epoch) if isinstance(m, Twins) else m.step()


def _assert_same_except_ground_truth(twin: pd.DataFrame, world: pd.DataFrame) -> None:
    """Bit-for-bit equal on every column but the ground truth's, which the twin lacks."""
    missing = {c for c in twin.columns if twin[c].isna().all() and not world[c].isna().all()}
    assert missing <= GROUND_TRUTH_KPIS, sorted(missing - GROUND_TRUTH_KPIS)
    keep = [c for c in world.columns if c not in GROUND_TRUTH_KPIS]
    pd.testing.assert_frame_equal(twin[keep], world[keep], check_exact=True)


# ---------------------------------------------------------------- identity and lockstep


def test_honest_only_twin_of_a_world_without_adversaries_is_the_world() -> None:
    world = EconomyModel("baseline", epochs=10, **SMALL)
    assert world.scenario.twin_kinds == ()
    assert world.twins is not None and not world.twins.models
    extra = Twins(world.scenario, world.twins.shared, kinds=("honest_only",))
    twin = extra.models["honest_only"]
    assert twin.truth is None and twin.twins is None
    _steps(world, extra, epochs=10)
    _assert_same_except_ground_truth(twin.timeseries(), world.timeseries())
    cols = world.accounts.cols
    for name in ("reward_tokens", "points_accepted", "role"):
        np.testing.assert_array_equal(getattr(twin.accounts.cols, name), getattr(cols, name))
    np.testing.assert_array_equal(twin.ledger.balance, world.ledger.balance)
    for mine, theirs in zip(twin.datanets, world.datanets, strict=True):
        assert mine.x_val is theirs.x_val and mine.store is not theirs.store  # shared, private
        np.testing.assert_array_equal(mine.store.x, theirs.store.x)
    assert twin.snapshots == [] and world.snapshots


@pytest.mark.parametrize(
    ("name", "kind"), [("label_flip", "honest_only"), ("targeted_backdoor", "no_defense")]
)
def test_twin_equals_its_scenario_run_alone(name: str, kind: Counterfactual) -> None:
    """Serial = lockstep: the twin stepped with its world equals its scenario run alone,
    and the world equals the same world run without twins."""
    epochs = 12
    world = EconomyModel(name, epochs=epochs, **SMALL)
    assert kind in world.scenario.twin_kinds
    alone = EconomyModel(twin_scenario(world.scenario, kind))
    bare = EconomyModel(name, epochs=epochs, counterfactuals=[], **SMALL)
    _steps(world, alone, bare, epochs=epochs)
    _assert_same_except_ground_truth(world.twins.models[kind].timeseries(), alone.timeseries())
    with_twins, without = world.timeseries(), bare.timeseries()
    own = [c for c in without.columns if c not in TWIN_KPIS]
    pd.testing.assert_frame_equal(with_twins[own], without[own], check_exact=True)
    assert without[list(TWIN_KPIS)].isna().all().all()
    assert with_twins[f"twin_{kind}_accuracy"].notna().all()


def test_shorter_run_is_a_prefix() -> None:
    short = EconomyModel("targeted_backdoor", epochs=6, **SMALL)
    long = EconomyModel("targeted_backdoor", epochs=10, **SMALL)
    _steps(short, long, epochs=6)
    _steps(long, epochs=4)
    a, b = short.timeseries(), long.timeseries().iloc[:6]
    cols = [*TWIN_KPIS, "accuracy", "price_usd", "circulating_tokens"]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=True)
    assert a[list(TWIN_KPIS)].notna().all().all()  # both twins, every column measured


def test_twin_kpis_are_registered() -> None:
    assert len(TWIN_KPIS) == 16 and set(TWIN_KPIS) <= set(KPI_NAMES)
    assert "honest_income_tokens" in KPI_NAMES and "honest_income_tokens" not in TWIN_KPIS


def test_twin_kpis_are_the_twins_own_rows_and_their_differences() -> None:
    world = EconomyModel("targeted_backdoor", epochs=8, **SMALL)
    _steps(world, epochs=8)
    ts = world.timeseries()
    honest, nodef = (world.twins.models[k] for k in ("honest_only", "no_defense"))
    for kind, twin in (("honest_only", honest), ("no_defense", nodef)):
        tts = twin.timeseries()
        for name in ("accuracy", "price_usd", "circulating_tokens"):
            np.testing.assert_array_equal(ts[f"twin_{kind}_{name}"], tts[name])
    income = honest_income_tokens(world.accounts, world.roles.contributors)
    last = ts.iloc[-1]
    assert last["honest_income_lost_tokens"] == (
        honest_income_tokens(honest.accounts, honest.roles.contributors) - income
    )
    assert last["defense_honest_income_gain_tokens"] == (
        income - honest_income_tokens(nodef.accounts, nodef.roles.contributors)
    )
    np.testing.assert_array_equal(
        ts["accuracy_lost_to_attack"], ts["twin_honest_only_accuracy"] - ts["accuracy"]
    )
    np.testing.assert_array_equal(
        ts["defense_accuracy_gain"], ts["accuracy"] - ts["twin_no_defense_accuracy"]
    )
    np.testing.assert_array_equal(
        ts["price_impact_usd"], ts["price_usd"] - ts["twin_honest_only_price_usd"]
    )
    np.testing.assert_array_equal(
        ts["supply_impact_tokens"],
        ts["circulating_tokens"] - ts["twin_honest_only_circulating_tokens"],
    )
    np.testing.assert_array_equal(
        ts["attack_success_gain"], ts["attack_success"] - ts["twin_honest_only_attack_success"]
    )
    assert last["honest_income_tokens"] == income
    np.testing.assert_array_equal(
        ts["honest_income_lost_tokens"],
        ts["twin_honest_only_honest_income_tokens"] - ts["honest_income_tokens"],
    )
    summary = world.summary()
    assert summary["accuracy_lost_to_attack"] == last["accuracy_lost_to_attack"]
    assert summary["honest_income_lost_tokens"] == last["honest_income_lost_tokens"]


def test_backdoor_probe_measures_what_training_measures() -> None:
    """The probe on the world's own models gives the world's attack_success, epoch by
    epoch (the twin's figure is the same measurement on the twin's models)."""
    world = EconomyModel("targeted_backdoor", epochs=6, counterfactuals=[], **SMALL)
    probe = BackdoorProbe(world.scenario.population.poisoners)
    measured = []
    for _ in range(6):
        world.step()
        measured.append(probe.measure(world))
    np.testing.assert_array_equal(measured, world.timeseries()["attack_success"])
    assert len(probe.rates) <= len(world.roles.builders)  # only the fits still in use


def test_attack_success_twin_kpis_are_nan_without_backdoor_poisoners() -> None:
    world = EconomyModel("label_flip", epochs=3, **SMALL)
    _steps(world, epochs=3)
    ts = world.timeseries()
    assert ts["twin_honest_only_accuracy"].notna().all()
    assert ts[["twin_honest_only_attack_success", "attack_success_gain"]].isna().all().all()


def test_honest_income_counts_only_non_adversary_contributors() -> None:
    world = EconomyModel("antifarming_world", epochs=4, counterfactuals=[], **SMALL)
    _steps(world, epochs=4)
    expected = float(world.roles.providers.cols.reward_tokens.sum())
    assert expected > 0
    assert honest_income_tokens(world.accounts, world.roles.contributors) == pytest.approx(
        expected, rel=1e-12
    )


# ------------------------------------------------------------------------- the schema


@pytest.mark.parametrize(
    ("name", "overrides", "kinds"),
    [
        ("baseline", {}, ()),
        ("antifarming_world", {}, ("honest_only",)),
        ("targeted_backdoor", {}, ("honest_only", "no_defense")),
        ("targeted_backdoor", {"counterfactuals": []}, ()),
        ("targeted_backdoor", {"counterfactuals": ["no_defense"]}, ("no_defense",)),
        ("baseline", {"defenses": [{"kind": "dedup"}]}, ()),  # defences, no adversaries
    ],
)
def test_counterfactuals_resolve(name: str, overrides: dict, kinds: tuple[str, ...]) -> None:
    from ledgerlab.scenarios import apply_overrides

    assert apply_overrides(load_scenario(name), overrides).twin_kinds == kinds


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"counterfactuals": ["honest_only"]}, "honest_only needs adversaries"),
        (
            {"counterfactuals": ["no_defense"], "population": {"poisoners": {"noise": 2}}},
            "no_defense needs defences",
        ),
        (
            {
                "counterfactuals": ["honest_only", "honest_only"],
                "population": {"poisoners": {"noise": 2}},
            },
            "listed twice",
        ),
        ({"counterfactuals": ["everything"]}, "honest_only"),
    ],
)
def test_counterfactuals_refused(data: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        Scenario.model_validate(data)
    assert "counterfactuals" in str(info.value)


# -------------------------------------------------------------------------- directions

SEEDS = (1, 2, 3, 4, 5)


def _paired_tail_mean(name: str, column: str, epochs: int, **overrides: Any) -> np.ndarray:
    """Per seed, the mean of ``column`` (a world − twin difference) over the last 5 rows."""
    out = []
    for seed in SEEDS:
        m = EconomyModel(name, epochs=epochs, seed=seed, **SMALL, **overrides)
        _steps(m, epochs=epochs)
        out.append(float(m.timeseries()[column].tail(5).mean()))
    return np.array(out)


def _mean_minus_two_se(x: np.ndarray) -> float:
    return float(x.mean() - 2 * x.std(ddof=1) / np.sqrt(x.size))


def test_label_flip_costs_accuracy_against_the_honest_only_twin() -> None:
    lost = _paired_tail_mean("label_flip", "accuracy_lost_to_attack", 20)
    assert _mean_minus_two_se(lost) > 0, lost


def test_farming_costs_honest_income() -> None:
    """The anti-farming world (farmers, a sybil operator, wash consumers, poisoners)."""
    lost = _paired_tail_mean("antifarming_world", "honest_income_lost_tokens", 20)
    assert _mean_minus_two_se(lost) > 0, lost


def test_backdoor_raises_attack_success_above_the_honest_only_twin() -> None:
    """Triggered queries land in the target class by themselves (the twin's attack success
    is not 0); the backdoor points add to it. Without defences, so they are accepted."""
    gain = _paired_tail_mean("targeted_backdoor", "attack_success_gain", 12, defenses=[])
    assert _mean_minus_two_se(gain) > 0, gain


# ----------------------------------------------------------------- common random numbers


def _honest_points(model: EconomyModel, d: int) -> tuple[np.ndarray, ...]:
    """Datanet ``d``'s stored points of non-adversary owners: features, labels, owners."""
    store = model.datanets[d].store
    honest = ~model.accounts.cols.adversary[store.owner]
    return store.x[honest], store.y[honest], store.owner[honest]


def test_label_flip_honest_points_are_the_twins() -> None:
    """Each role draws its points from its own substream: the label-flippers' points do
    not shift the honest providers', who get the twin's points exactly (epochs 1..3)."""
    world = EconomyModel("label_flip", epochs=4, **SMALL)
    twin = world.twins.models["honest_only"]
    world.step()
    for _ in range(1, 4):
        world.step()
        for d in range(len(world.datanets)):
            for mine, theirs in zip(_honest_points(world, d), _honest_points(twin, d), strict=True):
                np.testing.assert_array_equal(mine, theirs)
    store = world.datanets[0].store
    assert world.accounts.cols.adversary[store.owner].any()  # the flips were stored too
    assert len(twin.datanets[0].store) < len(store)


def _paired_and_unpaired_sd(world: np.ndarray, twin: np.ndarray) -> tuple[float, float]:
    """SD over seeds of world − twin on the same seed, and over every pair of different
    seeds."""
    unpaired = (world[:, None] - twin[None, :])[~np.eye(world.size, dtype=bool)]
    return float((world - twin).std(ddof=1)), float(unpaired.std(ddof=1))


@pytest.mark.parametrize(
    ("name", "column", "at_most"),
    [
        # backdoor points lie far from clean data: the twin's clean accuracy is the world's
        # (measured paired SD 0 against 0.053 unpaired; 0.017 before each role drew from
        # its own substreams)
        ("targeted_backdoor", "accuracy", 0.25),
        # the noise traders' flow and the honest roles' sales are the twin's (ratio ~2e-4)
        ("label_flip", "price_usd", 0.01),
        ("antifarming_world", "price_usd", 0.01),
    ],
)
def test_pairing_narrows_the_differences(name: str, column: str, at_most: float) -> None:
    """World − twin on the same seed spreads less than world − twin of another seed: the
    twin shares the world's tasks, honest points and random draws. ``column``'s mean over
    the last 5 epochs, 6 seeds: paired SD at most ``at_most`` × unpaired SD."""
    world, twin = [], []
    for seed in range(1, 7):
        m = EconomyModel(name, epochs=12, seed=seed, counterfactuals=["honest_only"], **SMALL)
        _steps(m, epochs=12)
        ts = m.timeseries()
        world.append(ts[column].tail(5).mean())
        twin.append(ts[f"twin_honest_only_{column}"].tail(5).mean())
    paired, unpaired = _paired_and_unpaired_sd(np.array(world), np.array(twin))
    assert unpaired > 0 and paired <= at_most * unpaired, (paired, unpaired)
