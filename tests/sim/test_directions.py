"""The headline answers point the right way, over replicates with paired intervals.

DESIGN.md ("Metrics"; issue 12): dedup must *reduce* overpayment and excess share against
no defence in the anti-farming world (capture used to call it worse), and in
``targeted_backdoor`` the poisoners' excess share must be positive while their true value
is negative. One seed is an anecdote: each claim is a paired difference over replicates on
common seeds whose 95 % bootstrap interval excludes zero.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import ledgerlab
from ledgerlab.analysis.compare import bootstrap_interval

pytestmark = pytest.mark.slow

ANTIFARMING = """\
base: antifarming_world
variants:
  none: {defenses: []}
  dedup: {defenses: [{kind: dedup}]}
reference: none
"""


def test_dedup_lowers_excess_share_and_overpayment_against_no_defence(tmp_path: Path) -> None:
    file = tmp_path / "af.yaml"
    file.write_text(ANTIFARMING)
    table = ledgerlab.compare(
        file,
        replicates=5,
        epochs=30,
        out=tmp_path / "out",
        workers=1,
        progress=False,
        metrics=["excess_share", "total_overpayment_usd", "honest_provider_net_usd"],
    )
    dedup = table[table["variant"] == "dedup"].set_index("metric")
    for metric in ("excess_share", "total_overpayment_usd"):
        assert dedup.loc[metric, "ci_high"] < 0, (metric, dedup.loc[metric].to_dict())
    assert dedup.loc["honest_provider_net_usd", "ci_low"] > 0


def test_backdoor_poisoners_are_overpaid_and_worth_less_than_nothing() -> None:
    """The attack unopposed (the shipped scenario's quality filter refuses most of it): the
    engine pays the poisoners, the yardstick values their points below zero."""
    excess, value = [], []
    for seed in range(5):
        run = ledgerlab.run("targeted_backdoor", epochs=30, seed=seed, overrides={"defenses": []})
        excess.append(run.summary["excess_share"])
        agents = run.agents
        last = agents[agents["epoch"] == agents["epoch"].max()]
        poisoners = last[last["role"] == "poisoners"]
        value.append(float(poisoners["ground_truth_value_accepted"].sum()))
    rng = np.random.default_rng(0)
    excess_low, _ = bootstrap_interval(np.array(excess), rng)
    _, value_high = bootstrap_interval(np.array(value), rng)
    assert excess_low > 0, excess
    assert value_high < 0, value
