"""Tests for analysis.results: loading run and sweep folders as tidy frames, and the
headline KPI table printed by ``ledgerlab run``."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlab.analysis.cli import is_user_error
from ledgerlab.analysis.results import Results, ResultsError, kpi_table, load


def _write_run(folder: Path, run_id: str, epochs: int = 3, **summary: Any) -> Path:
    """A run folder as sim.output.write_run lays it out (without running a model)."""
    folder.mkdir(parents=True)
    pd.DataFrame(
        {
            "run_id": run_id,
            "seed": 1,
            "epoch": np.arange(epochs),
            "price_usd": np.linspace(0.5, 0.6, epochs),
        }
    ).to_parquet(folder / "timeseries.parquet", index=False)
    pd.DataFrame(
        {"run_id": run_id, "epoch": [0, 0], "role": ["providers", "farmers"], "account": [3, 4]}
    ).to_parquet(folder / "agents.parquet", index=False)
    body = {"run_id": run_id, "epochs": epochs, **summary}
    (folder / "summary.json").write_text(json.dumps(body))
    return folder


# ----------------------------------------------------------------------------- load()


def test_load_one_run_folder(tmp_path: Path) -> None:
    run = _write_run(
        tmp_path / "r", "baseline", price_usd=0.7, attack_success=None, defenses=["dedup"]
    )
    res = load(run)
    assert isinstance(res, Results)
    assert res.run_ids == ["baseline"]
    assert res.paths == {"baseline": run}
    assert list(res.timeseries.columns[:2]) == ["run_id", "seed"]
    assert len(res.timeseries) == 3 and set(res.timeseries["run_id"]) == {"baseline"}
    assert list(res.agents.columns) == ["run_id", "epoch", "role", "account"]
    assert len(res.summary) == 1
    row = res.run_summary("baseline")
    assert row["run_id"] == "baseline"
    assert row["price_usd"] == 0.7
    assert math.isnan(row["attack_success"])  # JSON null -> NaN
    assert row["defenses"] == ("dedup",)  # lists become hashable tuples
    with pytest.raises(ResultsError, match="no run with run_id 'nope'; known runs: baseline"):
        res.run_summary("nope")


def test_load_sweep_folder_with_nested_runs(tmp_path: Path) -> None:
    _write_run(tmp_path / "sweep" / "runs" / "b", "b", epochs=4, nested={"x": 1, "y": [1, 2]})
    _write_run(tmp_path / "sweep" / "runs" / "a", "a", epochs=2)
    _write_run(tmp_path / "sweep" / "runs" / ".c.x1y2.partial", "c")  # unfinished: skipped
    (tmp_path / "sweep" / "manifest.json").write_text("{}")
    res = load(tmp_path / "sweep")
    assert res.run_ids == ["a", "b"]
    assert list(res.summary["run_id"]) == ["a", "b"]
    assert res.timeseries.groupby("run_id").size().to_dict() == {"a": 2, "b": 4}
    assert list(res.timeseries["run_id"]) == ["a"] * 2 + ["b"] * 4
    assert len(res.agents) == 4
    b = res.run_summary("b")
    assert b["nested.x"] == 1 and b["nested.y"] == (1, 2)
    assert math.isnan(res.run_summary("a")["nested.x"])  # absent in run a


def test_duplicate_run_ids_are_renamed_to_their_folders(tmp_path: Path) -> None:
    _write_run(tmp_path / "seed1", "baseline")
    _write_run(tmp_path / "more" / "seed2", "baseline")
    _write_run(tmp_path / "other", "label_flip")
    res = load(tmp_path)
    assert res.run_ids == ["more/seed2", "label_flip", "seed1"]
    assert res.paths["seed1"] == tmp_path / "seed1"
    assert list(res.summary["run_id"]) == res.run_ids
    assert list(pd.unique(res.timeseries["run_id"])) == res.run_ids
    assert list(pd.unique(res.agents["run_id"])) == res.run_ids


def test_run_id_defaults_to_the_folder_name(tmp_path: Path) -> None:
    run = _write_run(tmp_path / "myrun", "ignored")
    (run / "summary.json").write_text(json.dumps({"epochs": 3}))
    assert load(run).run_ids == ["myrun"]


def _absent(root: Path) -> Path:
    return root / "absent"


def _a_file(root: Path) -> Path:
    (root / "f.txt").write_text("x")
    return root / "f.txt"


def _no_runs(root: Path) -> Path:
    (root / "empty-sweep" / "runs").mkdir(parents=True)
    return root / "empty-sweep"


def _without(name: str) -> Any:
    def setup(root: Path) -> Path:
        (_write_run(root / "r", "r") / name).unlink()
        return root / "r"

    return setup


def _corrupt(name: str, text: str) -> Any:
    def setup(root: Path) -> Path:
        (_write_run(root / "r", "r") / name).write_text(text)
        return root / "r"

    return setup


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (_absent, "does not exist; give a run or sweep folder"),
        (_a_file, "is a file; give the run folder"),
        (_no_runs, "no run found under .*empty-sweep"),
        (_without("agents.parquet"), r"agents\.parquet is missing; the run folder is incomplete"),
        (_without("timeseries.parquet"), r"timeseries\.parquet is missing"),
        (_corrupt("summary.json", "{oops"), r"cannot read .*summary\.json"),
        (_corrupt("summary.json", "[1]"), "must hold a JSON object of KPIs, got list"),
        (_corrupt("timeseries.parquet", "no"), r"cannot read .*timeseries\.parquet"),
    ],
)
def test_load_errors_name_the_problem(tmp_path: Path, setup: Any, message: str) -> None:
    path = setup(tmp_path)
    with pytest.raises(ResultsError, match=message) as info:
        load(path)
    assert is_user_error(info.value)  # the CLI prints it without a traceback


# -------------------------------------------------------------------------- kpi_table()

SUMMARY = {
    "run_id": "r1",
    "scenario": "sybil_farming",
    "seed": 7,
    "epochs": 40,
    "engine": "volume",
    "defenses": ["dedup", "reputation"],
    "price_usd": 0.725,
    "market_cap_usd": 165206179.4,
    "circulating_tokens": 227864046.2,
    "circulating_growth_annualised": 0.6472,
    "accuracy": 0.5258,
    "accuracy_lost_to_attack": 0.1042,
    "attack_success": None,
    "adversary_reward_share": 0.5482,
    "adversary_fair_share": 0.004,
    "excess_share": 0.5442,
    "total_overpayment_usd": 1234.5,
    "honest_provider_net_usd": -3104.2,
    "spearman_honest": 0.2251,
    "adversary_capture": float("nan"),
    "active_adversary_identities": 63.0,
    "active_adversary_operators": 3.0,
}

EXPECTED = """\
sybil_farming: seed 7, 40 epochs, engine volume, defences dedup, reputation
token price                           0.725  USD
market cap                      165,206,179  USD
circulating supply              227,864,046  tokens (tracker: all unlocked)
circulating supply growth             64.72  %/year since launch
clean accuracy                        52.58  % of held-out queries
accuracy lost to the attack          +10.42  percentage points vs the honest-only twin
backdoor attack success                   —  (no backdoor attackers)
adversary reward share                54.82  % of rewards
adversary fair share                   0.40  % of fair rewards
excess share                         +54.42  percentage points beyond fair share
overpayment to adversaries            1,234  USD
honest providers' net income         -3,104  USD
Spearman rho, honest providers        0.225  -1..1 (reward vs fair reward)
adversary capture                         —  (adversaries' fair share under 1 %: use excess share)
active adversaries                       63  identities (3 operators)"""


def test_kpi_table_reference_output() -> None:
    assert kpi_table(SUMMARY) == EXPECTED


def test_kpi_table_of_a_loaded_summary_row(tmp_path: Path) -> None:
    rest = {k: v for k, v in SUMMARY.items() if k not in ("run_id", "epochs")}
    run = _write_run(tmp_path / "r", "r1", epochs=40, **rest)
    assert kpi_table(load(run).run_summary("r1")) == EXPECTED


def test_kpi_table_missing_values_say_why_and_absent_ones_are_left_out() -> None:
    table = kpi_table({"run_id": "x", "accuracy": float("nan"), "attack_success": None})
    lines = table.splitlines()
    assert lines == [
        "x",
        "clean accuracy           —  (no trained model)",
        "backdoor attack success  —  (no backdoor attackers)",
    ]
    baseline = {"adversary_capture": float("nan"), "adversary_reward_share": 0.0}
    baseline |= {"adversary_fair_share": 0.0, "active_adversary_identities": 0.0, "accuracy": 0.8}
    assert kpi_table(baseline).splitlines()[1:] == [
        "clean accuracy  80.00  % of held-out queries",
        "adversaries         —  (none in this scenario)",
    ]
    departed = {**baseline, "adversary_reward_share": 0.2}  # paid once, all gone by the end
    assert "(adversaries' fair share under 1 %: use excess share)" in kpi_table(departed)
    assert "n/a" not in kpi_table(SUMMARY) and "nan" not in kpi_table(SUMMARY)
    assert kpi_table({"scenario": "s", "defenses": []}).splitlines()[0] == "s: defences none"
    # a summary row of a sweep where this run lacks some fields (NaN) and ints became floats
    row = {"run_id": "r", "seed": float("nan"), "epochs": 40.0, "defenses": float("nan")}
    assert kpi_table(row).splitlines()[0] == "r: 40 epochs"


@settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(list(SUMMARY)),
        st.one_of(
            st.none(),
            st.floats(allow_nan=True, allow_infinity=True, width=64),
            st.integers(-(10**12), 10**12),
            st.text(max_size=5),
            st.lists(st.text(max_size=3), max_size=2),
        ),
    )
)
def test_kpi_table_is_aligned_for_any_summary(summary: dict[str, Any]) -> None:
    lines = kpi_table(summary).splitlines()
    shown = [k for k in SUMMARY if k in summary and k in {r.key for r in results_rows()}]
    assert len(lines) == 1 + len(shown)  # header + one line per KPI the summary holds
    if not shown:
        return
    label_width = max(len(r.label) for r in results_rows() if r.key in summary)
    cells = [re.match(rf"^(.{{{label_width}}})  ( *(\S+))  \S", line) for line in lines[1:]]
    assert all(cells), lines
    assert len({len(m.group(2)) for m in cells if m}) == 1  # one right-aligned column
    for m in cells:
        assert m is not None
        value = m.group(3)
        assert value == "—" or value[-1].isdigit()


def results_rows() -> tuple[Any, ...]:
    from ledgerlab.analysis import results

    return results._ROWS


# ------------------------------------------------------------- filters, columns, manifest


def test_run_folders_take_filters_and_columns_too(tmp_path: Path) -> None:
    _write_run(tmp_path / "a", "a", epochs=4, score=0.7)
    _write_run(tmp_path / "b", "b", epochs=2, score=0.9)
    res = load(tmp_path, filters=[("epoch", ">=", 2)], columns=["price_usd"])
    assert list(res.timeseries.columns) == ["run_id", "seed", "epoch", "price_usd"]
    assert res.run_ids == ["a"] and len(res.timeseries) == 2  # run b has epochs 0-1 only
    assert list(res.summary["run_id"]) == ["a"] and list(res.manifest["run_id"]) == ["a"]
    by_summary = load(tmp_path, filters=[("score", ">", 0.8)])
    assert by_summary.run_ids == ["b"]  # a summary column keeps those runs' timeseries
    assert set(by_summary.timeseries["run_id"]) == {"b"}
    with pytest.raises(ResultsError, match="no column 'nope'"):
        load(tmp_path, columns=["nope"])
    with pytest.raises(ResultsError, match="are not pyarrow filters"):
        load(tmp_path, filters="epoch > 2")


def test_a_run_folder_has_a_one_row_manifest(tmp_path: Path) -> None:
    res = load(_write_run(tmp_path / "r", "r"))
    assert res.manifest.to_dict("records") == [
        {"run_id": "r", "seed": None, "status": "ok", "path": str(tmp_path / "r")}
    ]
