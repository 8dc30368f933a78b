"""Tests of the KPI registry (``sim.kpis``): the column list, the flow/stock/fairness
kinds and the summary are all derived from one registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ledgerlab.sim import defenses, kpis
from ledgerlab.sim.fairness import FAIRNESS_KPIS


def test_names_kinds_and_masks_come_from_the_registry() -> None:
    assert kpis.KPI_NAMES == tuple(k.name for k in kpis.KPIS)
    assert len(set(kpis.KPI_NAMES)) == len(kpis.KPI_NAMES)
    assert kpis.KPI_NAMES[0] == "epoch"
    assert {k.kind for k in kpis.KPIS} == {"flow", "stock", "fairness"}
    assert kpis.FLOW_KPIS == {k.name for k in kpis.KPIS if k.kind == "flow"}
    assert tuple(n for n in kpis.KPI_NAMES if n in FAIRNESS_KPIS) == FAIRNESS_KPIS
    assert [k.name for k in kpis.KPIS if k.kind == "fairness"] == list(FAIRNESS_KPIS)
    assert set(defenses.FLOW_KPI_NAMES) <= kpis.FLOW_KPIS
    assert set(defenses.KPI_NAMES) <= set(kpis.KPI_NAMES)
    np.testing.assert_array_equal(kpis.FLOW_MASK, [n in kpis.FLOW_KPIS for n in kpis.KPI_NAMES])
    assert all(k.description for k in kpis.KPIS)


def test_a_row_is_a_vector_in_column_order_with_nan_for_the_unmeasured() -> None:
    row = kpis.row_of({"epoch": 3.0, "price_usd": 0.5})
    assert row.shape == (len(kpis.KPIS),) and row.dtype == np.float64
    assert row[kpis.KPI_INDEX["price_usd"]] == 0.5
    assert np.isnan(row[kpis.KPI_INDEX["chain_tips_tokens"]])
    with pytest.raises(KeyError):
        kpis.row_of({"not_a_kpi": 1.0})


def test_the_summary_follows_each_kpis_rule() -> None:
    ts = pd.DataFrame({name: [1.0, 2.0, np.nan] for name in kpis.KPI_NAMES})
    ts["rewards_tokens"] = [4.0, 4.0, 2.0]
    ts["reward_farmers_tokens"] = [1.0, 0.0, 0.0]
    ts["reward_wash_tokens"] = [0.0, 1.0, 0.0]
    ts["reward_poisoners_tokens"] = [0.0, 0.0, 0.0]
    out = kpis.summary_of(ts)
    assert np.isnan(out["price_usd"])  # last
    assert out["spearman"] == 2.0  # last valid
    assert out["circulating_inflation_annualised_mean"] == 1.5
    assert out["total_rewards_tokens"] == 10.0 and out["total_defense_tx"] == 3.0
    assert np.isnan(out["adversary_reward_share"])  # a KPI now, summarised by "last"
    assert "locked_tokens" not in out  # no summary rule
