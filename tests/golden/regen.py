"""Record (or re-record) the golden outputs, and say what moved.

Run from the repository root::

    python -m tests.golden.regen                 # re-run every stored case, rewrite outputs
    python -m tests.golden.regen baseline cover.logistic   # only these cases
    python -m tests.golden.regen --check         # report what moved, write nothing
    python -m tests.golden.regen --init          # re-resolve the cases from scenarios/
    python -m tests.golden.regen --init cover.x  # resolve (and record) one new case

Each case is ``data/<case>.scenario.yaml`` (a resolved scenario, written by ``--init`` from
:mod:`tests.golden.cases`) with its outputs ``<case>.timeseries.parquet``,
``<case>.agents.parquet`` and ``<case>.summary.json``. Re-recording prints, per case, the
timeseries columns and summary keys whose values changed: paste that into the commit
message of the change that moved them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

DATA = Path(__file__).resolve().parent / "data"
"""Where the golden files live."""

ROOT = Path(__file__).resolve().parents[2]
"""The repository root."""


@dataclass(frozen=True)
class Outputs:
    """What one golden run records."""

    timeseries: pd.DataFrame
    agents: pd.DataFrame
    summary_json: str


def case_names() -> list[str]:
    """Every stored case, sorted."""
    return sorted(p.name.removesuffix(".scenario.yaml") for p in DATA.glob("*.scenario.yaml"))


def simulate(case: str) -> Outputs:
    """Run the stored scenario of ``case`` in this process."""
    from ledgerlab.scenarios import load
    from ledgerlab.sim.run import run

    result = run(load(DATA / f"{case}.scenario.yaml"), progress=False)
    return Outputs(result.timeseries, result.agents, summary_json(result.summary))


def summary_json(summary: dict[str, Any]) -> str:
    """The summary as JSON text: keys sorted, floats exact (``repr``), NaN as ``NaN``."""
    return json.dumps(summary, sort_keys=True, indent=1, allow_nan=True) + "\n"


def stored(case: str) -> Outputs:
    """The recorded outputs of ``case``."""
    return Outputs(
        pd.read_parquet(DATA / f"{case}.timeseries.parquet"),
        pd.read_parquet(DATA / f"{case}.agents.parquet"),
        (DATA / f"{case}.summary.json").read_text(),
    )


def write(case: str, out: Outputs) -> None:
    """Record ``out`` as the golden outputs of ``case``."""
    out.timeseries.to_parquet(DATA / f"{case}.timeseries.parquet", index=False)
    out.agents.to_parquet(DATA / f"{case}.agents.parquet", index=False)
    (DATA / f"{case}.summary.json").write_text(out.summary_json)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def moved_columns(old: pd.DataFrame, new: pd.DataFrame) -> list[str]:
    """Columns whose values differ bit for bit (NaN equals NaN), plus added/removed ones."""
    out = sorted(set(old.columns) ^ set(new.columns))
    if len(old) != len(new):
        return ["<row count>", *out]
    for col in old.columns.intersection(new.columns, sort=False):
        a, b = old[col], new[col]
        if a.dtype != b.dtype or not a.equals(b):
            out.append(col)
    return out


def moved_summary(old: str, new: str) -> list[str]:
    """Summary keys whose values differ."""
    a, b = json.loads(old), json.loads(new)
    return sorted(k for k in set(a) | set(b) if not _same(a.get(k), b.get(k)))


def differences(old: Outputs, new: Outputs) -> dict[str, list[str]]:
    """What moved between two recordings of a case, by table (empty: identical)."""
    diff = {
        "timeseries": moved_columns(old.timeseries, new.timeseries),
        "agents": moved_columns(old.agents, new.agents),
        "summary": moved_summary(old.summary_json, new.summary_json),
    }
    return {k: v for k, v in diff.items() if v}


def init_cases(only: list[str] | None = None) -> None:
    """Resolve the cases of :mod:`tests.golden.cases` (``only`` these, default all) into
    ``data/<case>.scenario.yaml``."""
    from ledgerlab.scenarios import apply_overrides, load, to_yaml
    from tests.golden import cases as C

    scenarios = ROOT / "scenarios"
    resolved = {}
    for name in C.PLAIN:
        resolved[name] = load(scenarios / f"{name}.yaml")
    for vf in C.VARIANT_FILES:
        data = yaml.safe_load((scenarios / f"{vf}.yaml").read_text())
        base = load(scenarios / data["base"])
        for variant, overrides in data["variants"].items():
            over = {"name": f"{base.name}_{variant}", **(overrides or {})}
            resolved[f"{vf}.{variant}"] = apply_overrides(base, over)
    for name, (source, overrides) in C.COVER.items():
        resolved[name] = apply_overrides(load(scenarios / f"{source}.yaml"), overrides)
    DATA.mkdir(exist_ok=True)
    for name, sc in resolved.items():
        if only and name not in only:
            continue
        sc = apply_overrides(sc, {"epochs": C.EPOCHS})
        (DATA / f"{name}.scenario.yaml").write_text(to_yaml(sc))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", help="cases to re-record (default: all)")
    parser.add_argument("--check", action="store_true", help="report only; write nothing")
    parser.add_argument("--init", action="store_true", help="re-resolve cases from scenarios/")
    args = parser.parse_args(argv)
    if args.init:
        init_cases(args.cases or None)
    names = args.cases or case_names()
    unknown = sorted(set(names) - set(case_names()))
    if unknown:
        parser.error(f"no such case: {', '.join(unknown)}")
    for case in names:
        new = simulate(case)
        had = (DATA / f"{case}.timeseries.parquet").exists()
        diff = differences(stored(case), new) if had else {"new": ["(recorded)"]}
        for table, cols in diff.items():
            print(f"{case}: {table}: {', '.join(cols)}")
        if not args.check:
            write(case, new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
