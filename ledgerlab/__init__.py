"""ledgerlab: an agent-based simulator of AI data-attribution economies.

The public door. Everything a notebook needs is one import away::

    import ledgerlab

    result = ledgerlab.run("baseline", epochs=90)      # a shipped scenario, by name
    sc = ledgerlab.load_scenario("sybil_farming")      # a validated Scenario
    res = ledgerlab.load("results/baseline-1a2b3c4d")  # a written run folder, as frames
    report = ledgerlab.sweep("engine_shootout", workers=2)  # a sweep file, run to a folder
    res = ledgerlab.load(report.out, filters=[("variant", "=", "retrieval")])
    table = ledgerlab.compare("antifarming_comparison", replicates=10)  # paired, with CIs

The implementation lives in the subpackages ``ledgerlab.economics`` (pure mechanisms),
``ledgerlab.agents`` (roles), ``ledgerlab.sim`` (the Mesa model and runners),
``ledgerlab.scenarios`` (schema, loader, shipped YAML) and ``ledgerlab.analysis``
(results, plots, CLI). Names here are imported lazily, so ``import ledgerlab`` is cheap.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__: str = version("ledgerlab")
except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
    __version__ = "0+unknown"

_EXPORTS = {
    "run": ("ledgerlab.sim.run", "run"),
    "RunResult": ("ledgerlab.sim.run", "RunResult"),
    "load": ("ledgerlab.analysis.results", "load"),
    "Results": ("ledgerlab.analysis.results", "Results"),
    "load_scenario": ("ledgerlab.scenarios.library", "load_scenario"),
    "Scenario": ("ledgerlab.scenarios.schema", "Scenario"),
    "ScenarioError": ("ledgerlab.scenarios.loader", "ScenarioError"),
    "compare": ("ledgerlab.analysis.compare", "compare"),
    "sweep": ("ledgerlab.sim.sweep", "sweep"),
}

__all__ = [
    "Results",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "__version__",
    "compare",
    "load",
    "load_scenario",
    "run",
    "sweep",
]

if TYPE_CHECKING:
    from ledgerlab.analysis.compare import compare
    from ledgerlab.analysis.results import Results, load
    from ledgerlab.scenarios.library import load_scenario
    from ledgerlab.scenarios.loader import ScenarioError
    from ledgerlab.scenarios.schema import Scenario
    from ledgerlab.sim.run import RunResult, run
    from ledgerlab.sim.sweep import sweep


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'ledgerlab' has no attribute {name!r}") from None
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
