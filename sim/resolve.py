"""One scenario, resolved once: a reference, overrides, a horizon and a seed → a validated
:class:`~scenarios.Scenario`.

``run()``, ``EconomyModel`` and the CLI all go through :func:`resolve_scenario`, so a
scenario is loaded and its overrides applied in one place; a Scenario passed on with
nothing to change comes back as it is (no second validation).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ledgerlab.scenarios import Scenario, apply_overrides
from ledgerlab.scenarios.library import load_scenario
from ledgerlab.sim.build import ModelSetupError

ScenarioRef = Scenario | str | Path | None
"""A Scenario, a shipped scenario's name (``"baseline"``), a YAML path, or None (the
schema's defaults)."""


def resolve_scenario(
    scenario: ScenarioRef = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    epochs: int | None = None,
    seed: int | None = None,
    sources: Mapping[str, str] | None = None,
) -> Scenario:
    """The validated scenario a run simulates.

    Args:
        scenario: A Scenario, a shipped name, a YAML path, or None for the defaults.
        overrides: Field paths to values, dotted (``population.providers``) or
            double-underscored (``population__providers``, as ``mesa.batch_run`` passes
            keyword arguments); applied first.
        epochs: The horizon (epochs); wins over an override of the same field.
        seed: The seed; wins over an override of the same field.
        sources: What ``"overrides"``, ``"epochs"`` and ``"seed"`` are called in error
            messages (the CLI: ``{"overrides": "--set", "epochs": "--epochs", ...}``).

    Raises:
        ScenarioError: a file, override, horizon or seed the schema refuses, naming it.
        ModelSetupError: ``scenario`` is none of the accepted types.
    """
    if scenario is None:
        sc = Scenario()
    elif isinstance(scenario, Scenario):
        sc = scenario
    elif isinstance(scenario, str | Path):
        sc = load_scenario(scenario)
    else:
        raise ModelSetupError(
            f"scenario must be a Scenario, a path or None, got {type(scenario).__name__}"
        )
    labels = {"overrides": "<overrides>", "epochs": "epochs", "seed": "seed", **(sources or {})}
    if overrides:
        sc = apply_overrides(sc, dict(overrides), source=labels["overrides"])
    for field, value in (("epochs", epochs), ("seed", seed)):
        if value is not None and value != getattr(sc, field):
            sc = apply_overrides(sc, {field: value}, source=labels[field])
    return sc


def seed_of(rng: Any) -> int | None:
    """The integer seed ``rng`` stands for: itself if an int, one drawn from a numpy
    Generator, None if None (the scenario's own seed)."""
    if rng is None:
        return None
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(0, 2**63 - 1))
    if isinstance(rng, int | np.integer):
        return int(rng)
    raise ModelSetupError(f"rng must be None, an int seed or a numpy Generator, got {rng!r}")
