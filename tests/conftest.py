"""Shared fixtures for the simulation and role tests.

* ``tiny`` builds an :class:`~sim.model.EconomyModel` with small populations and a short
  horizon, so a whole run takes well under a second.
* Arguments named ``shipped_scenario_file`` / ``shipped_variant`` are parametrised over
  every shipped scenario file and every variant of every shipped variant file
  (``scenarios/*.yaml``), discovered at collection time, so a newly shipped scenario is
  covered without editing a test.

The project is imported lazily (inside the functions), so a test of one package never
fails to collect because another package is broken.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.numerics import pin

NUMERICS_PINNED = pin()  # before anything imports numpy (tests/numerics.py says why)

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# In CI, hypothesis draws the same examples every run (a red CI is reproducible, not a
# dice roll); locally it explores new examples each run.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

if TYPE_CHECKING:
    from ledgerlab.scenarios import Scenario
    from ledgerlab.sim.model import EconomyModel

ROOT = Path(__file__).resolve().parents[1]
"""The repository root (tests run from any working directory)."""

SCENARIO_DIR = ROOT / "scenarios"
"""Where the shipped YAML scenarios live."""

TINY_OVERRIDES: dict[str, Any] = {
    "population__providers": 30,
    "population__consumers": 20,
    "epochs": 15,
}
"""Overrides making any scenario tiny: 30 providers, 20 consumers, 15 epochs."""


@cache
def shipped_files() -> tuple[tuple[Path, ...], tuple[Path, ...]]:
    """(single-scenario files, sweep files) shipped in ``scenarios/`` (a variant file is a
    sweep file)."""
    from ledgerlab.scenarios.sweep import is_sweep_file

    yamls = sorted(SCENARIO_DIR.glob("*.yaml"))
    return (
        tuple(p for p in yamls if not is_sweep_file(p)),
        tuple(p for p in yamls if is_sweep_file(p)),
    )


def shipped_variants() -> list[tuple[str, Scenario]]:
    """(``file:variant`` id, scenario) of every variant of every shipped sweep file, at its
    first and last point."""
    from ledgerlab.scenarios.sweep import load_sweep

    out: list[tuple[str, Scenario]] = []
    for path in shipped_files()[1]:
        for name, scenario in load_sweep(path).examples().items():
            out.append((f"{path.stem}:{name}", scenario))
    return out


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``shipped_scenario_file`` and ``shipped_variant`` arguments."""
    if "shipped_scenario_file" in metafunc.fixturenames:
        files = shipped_files()[0]
        metafunc.parametrize("shipped_scenario_file", files, ids=[p.stem for p in files])
    if "shipped_variant" in metafunc.fixturenames:
        found = shipped_variants()
        metafunc.parametrize("shipped_variant", [s for _, s in found], ids=[i for i, _ in found])


def tiny_model(
    scenario: Scenario | str | Path | None = None, *, check: bool = True, **overrides: Any
) -> EconomyModel:
    """An EconomyModel of ``scenario`` shrunk by :data:`TINY_OVERRIDES` (double-underscore
    ``overrides`` win over them); the full ledger check runs every epoch by default."""
    from ledgerlab.sim.model import EconomyModel
    from ledgerlab.sim.resolve import resolve_scenario

    shrink = TINY_OVERRIDES
    if scenario is not None and not resolve_scenario(scenario, {}).datanets:
        # a tokenomics-only world has no data roles to shrink (the schema refuses them)
        shrink = {k: v for k, v in shrink.items() if not k.startswith("population__")}
    return EconomyModel(scenario, check=check, **{**shrink, **overrides})


@pytest.fixture
def tiny() -> Callable[..., EconomyModel]:
    """Factory: ``tiny(scenario=None, *, check=True, **overrides) -> EconomyModel``."""
    return tiny_model
