"""Tests of ``sim.resolve``: a scenario reference, overrides, a horizon and a seed are
resolved into one validated Scenario, once."""

from __future__ import annotations

import numpy as np
import pytest

from ledgerlab.scenarios import Scenario, ScenarioError
from ledgerlab.sim.build import ModelSetupError
from ledgerlab.sim.model import EconomyModel
from ledgerlab.sim.resolve import resolve_scenario, seed_of


def test_references_overrides_horizon_and_seed() -> None:
    base = Scenario()
    assert resolve_scenario(base) is base  # nothing to change: no second validation
    assert resolve_scenario(None) == base
    assert resolve_scenario("baseline").name == "baseline"  # a shipped name
    sc = resolve_scenario(
        "baseline", {"epochs": 9, "seed": 1, "population__providers": 5}, epochs=4, seed=3
    )
    assert (sc.epochs, sc.seed, sc.population.providers) == (4, 3, 5)  # epochs/seed win


def test_errors_name_what_was_wrong() -> None:
    with pytest.raises(ScenarioError, match=r"--set: population\.providerz"):
        resolve_scenario(None, {"population.providerz": 1}, sources={"overrides": "--set"})
    with pytest.raises(ScenarioError, match="--epochs: epochs"):
        resolve_scenario(None, epochs=0, sources={"epochs": "--epochs"})
    with pytest.raises(ModelSetupError, match="scenario must be"):
        resolve_scenario(3)  # type: ignore[arg-type]


def test_seeds_from_ints_and_generators() -> None:
    assert seed_of(None) is None and seed_of(7) == 7
    assert seed_of(np.random.default_rng(1)) == seed_of(np.random.default_rng(1))
    with pytest.raises(ModelSetupError, match="rng must be"):
        seed_of("seven")


def test_run_and_the_model_resolve_the_same_scenario() -> None:
    from ledgerlab.sim.run import run

    result = run("baseline", epochs=2, seed=5, overrides={"population.providers": 12})
    model = EconomyModel("baseline", seed=5, epochs=2, population__providers=12)
    assert result.scenario == model.scenario
