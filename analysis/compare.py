"""Mechanism comparison: run every variant of a variant file and tabulate benefit and cost.

Each variant runs with the base scenario's seed (common random numbers), so the table
compares mechanisms, not luck. Benefit columns: adversary capture and its reduction
against the ``none`` variant, adversaries' reward share, clean accuracy, backdoor attack
success, adversaries left at the end. Cost columns: honest points refused, honest
individuals slashed, rewards withheld, honest providers' net income, extra transactions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ledgerlab.scenarios.variants import VariantSet
from ledgerlab.sim.output import atomic_dir
from ledgerlab.sim.run import run

COLUMNS: dict[str, str] = {
    "adversary_capture": "adversary capture (reward share ÷ fair share)",
    "capture_reduction_pct": "capture reduction vs none (%)",
    "adversary_reward_share": "adversary reward share (fraction)",
    "accuracy": "clean accuracy (fraction)",
    "attack_success": "backdoor attack success (fraction)",
    "active_adversaries": "adversaries active at the end (individuals)",
    "defense_false_reject_rate": "honest points refused (fraction)",
    "false_slash_rate": "honest bonded individuals slashed (fraction)",
    "defense_withheld_tokens": "rewards withheld by caps/discounts (tokens)",
    "honest_provider_net_usd": "honest providers' net income (USD)",
    "total_defense_tx": "extra defence transactions (tx)",
}
"""The comparison table's columns and what each measures (unit)."""


def _row(name: str, summary: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"variant": name}
    for col in COLUMNS:
        row[col] = summary.get(col, np.nan)
    row["active_adversaries"] = sum(
        summary.get(f"active_{r}", 0.0) for r in ("farmers", "wash", "poisoners")
    )
    return row


def compare(
    variants: VariantSet,
    *,
    epochs: int | None = None,
    out: str | Path | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run every variant and return the comparison table (one row per variant).

    If ``out`` is given, each variant's run folder and ``comparison.csv`` are written
    into it atomically (all or nothing).
    """
    rows = []
    results = {}
    for name, sc in variants.variants.items():
        res = run(sc, epochs=epochs, progress=progress, run_id=name)
        results[name] = res
        rows.append(_row(name, res.summary))
    table = pd.DataFrame(rows)
    ref = table.loc[table["variant"] == "none", "adversary_capture"]
    base = float(ref.iloc[0]) if len(ref) else float(table["adversary_capture"].iloc[0])
    table["capture_reduction_pct"] = (
        100.0 * (base - table["adversary_capture"]) / base if base and np.isfinite(base) else np.nan
    )
    if out is not None:
        from ledgerlab.sim.output import write_run

        with atomic_dir(out) as tmp:
            for name, res in results.items():
                write_run(res, tmp / name)
            table.to_csv(tmp / "comparison.csv", index=False)
    return table


def format_table(table: pd.DataFrame) -> str:
    """The comparison as aligned text (numbers rounded for reading)."""
    show = table.copy()
    for col in show.columns:
        if col != "variant":
            show[col] = show[col].map(lambda v: "n/a" if pd.isna(v) else f"{v:,.3g}")
    return show.to_string(index=False)
