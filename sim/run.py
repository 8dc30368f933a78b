"""The run API: simulate one scenario and return (and optionally write) its outputs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from ledgerlab.scenarios import Scenario, apply_overrides
from ledgerlab.sim.model import EconomyModel, resolve_scenario
from ledgerlab.sim.output import write_run


@dataclass
class RunResult:
    """Everything one run produced.

    Attributes:
        timeseries: One row per epoch (model KPIs; columns documented in
            ``sim.model.KPI_NAMES``), with ``run_id`` and ``seed`` columns.
        agents: Agent snapshots: one row per individual per snapshot epoch.
        summary: Final KPIs (JSON-friendly dict).
        scenario: The resolved scenario that ran.
        path: The folder the run was written to, if any.
    """

    timeseries: pd.DataFrame
    agents: pd.DataFrame
    summary: dict[str, Any]
    scenario: Scenario
    path: Path | None = None


def run(
    scenario: Scenario | str | Path | None = None,
    *,
    epochs: int | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    check: bool = False,
    overrides: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> RunResult:
    """Simulate ``scenario`` (a Scenario, a YAML path or None for the baseline).

    Args:
        epochs: Override the scenario's horizon (epochs).
        seed: Override the scenario's seed.
        out: If given, write the run folder there atomically (see ``sim.output``).
        progress: Show a progress bar over epochs (tqdm, on stderr).
        check: Full ledger invariant check every epoch.
        overrides: Extra dotted-path overrides (``{"population.providers": 50}``).
        run_id: Identifier stored in every table (default: the scenario name).
    """
    sc = resolve_scenario(scenario, overrides or {})
    extra: dict[str, Any] = {}
    if epochs is not None:
        extra["epochs"] = epochs
    if seed is not None:
        extra["seed"] = seed
    if extra:
        sc = apply_overrides(sc, extra)
    model = EconomyModel(sc, check=check)
    bar = tqdm(total=sc.epochs, desc=sc.name, unit="epoch", disable=not progress, leave=False)
    try:
        while model.running:
            model.step()
            bar.update(1)
    finally:
        bar.close()
    rid = run_id or sc.name
    ts = model.timeseries()
    ts.insert(0, "run_id", rid)
    ts.insert(1, "seed", sc.seed)
    agents = pd.concat(model.snapshots, ignore_index=True) if model.snapshots else pd.DataFrame()
    agents.insert(0, "run_id", rid)
    summary = {"run_id": rid, **model.summary()}
    result = RunResult(timeseries=ts, agents=agents, summary=summary, scenario=sc)
    if out is not None:
        result.path = write_run(result, out)
    return result
