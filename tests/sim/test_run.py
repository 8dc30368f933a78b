"""Tests of the run API (``sim.run.run``): results, written files, bad inputs that must
write nothing, and the direction in which each adversary scenario moves its metrics."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ledgerlab import scenarios
from ledgerlab.scenarios import Scenario, ScenarioError
from ledgerlab.sim.kpis import KPI_NAMES
from ledgerlab.sim.model import EconomyModel
from ledgerlab.sim.output import MARKER, OutputError, atomic_dir
from ledgerlab.sim.run import RunResult, run
from tests.conftest import SCENARIO_DIR

SMALL: dict[str, Any] = {"population.providers": 30, "population.consumers": 20}
"""Overrides keeping a run to well under a second per few dozen epochs."""

FILES = ("timeseries.parquet", "agents.parquet", "summary.json", "scenario.resolved.yaml")
"""What ``run(..., out=...)`` writes."""


def _no_nan(text: str) -> Any:
    raise AssertionError(f"summary.json holds the non-JSON constant {text}")


def leftovers(folder: Path, keep: tuple[str, ...] = ()) -> list[str]:
    """Entries of ``folder`` other than ``keep`` (temp folders of a failed write included)."""
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# --------------------------------------------------------------------------------- results


def test_run_returns_every_table() -> None:
    res = run(None, epochs=6, seed=3, overrides=SMALL, progress=False)
    assert isinstance(res, RunResult)
    assert res.path is None
    assert res.scenario.epochs == 6 and res.scenario.seed == 3
    assert res.scenario.population.providers == 30
    ts = res.timeseries
    assert len(ts) == 6
    assert list(ts.columns[:2]) == ["run_id", "seed"]
    assert set(KPI_NAMES) <= set(ts.columns)
    assert (ts["run_id"] == "baseline").all() and (ts["seed"] == 3).all()
    assert (res.agents["run_id"] == "baseline").all()
    assert set(res.agents["epoch"]) == {0, 5}  # launch and last epoch
    assert res.summary["run_id"] == "baseline"
    assert res.summary["epochs"] == 6 and res.summary["seed"] == 3
    assert res.summary["price_usd"] == ts["price_usd"].iloc[-1]
    assert res.summary["total_rewards_tokens"] == pytest.approx(ts["rewards_tokens"].sum())


def test_a_quiet_run_starts_no_process_and_a_shown_bar_counts_epochs(capsys) -> None:
    import multiprocessing.resource_tracker as tracker

    started = tracker._resource_tracker._pid is not None  # by an earlier test's bar or pool
    run(None, epochs=2, overrides=SMALL, progress=False)
    assert capsys.readouterr().err == ""
    assert started or tracker._resource_tracker._pid is None  # no multiprocessing lock made
    run(None, epochs=4, overrides=SMALL, progress=True)
    assert "/4 [" in capsys.readouterr().err  # tqdm's bar on stderr, over the 4 epochs


def test_run_accepts_a_path_a_scenario_or_none_alike() -> None:
    path = SCENARIO_DIR / "baseline.yaml"
    by_path = run(path, epochs=4, overrides=SMALL, progress=False, run_id="x")
    by_obj = run(scenarios.load(path), epochs=4, overrides=SMALL, progress=False, run_id="x")
    pd.testing.assert_frame_equal(by_path.timeseries, by_obj.timeseries, check_exact=True)
    assert (by_path.timeseries["run_id"] == "x").all()


def test_run_writes_its_folder(tmp_path: Path) -> None:
    out = tmp_path / "runs" / "first"
    res = run(None, epochs=5, overrides=SMALL, progress=False, out=out, check=True)
    assert res.path == out
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, MARKER])
    assert leftovers(out.parent) == ["first"]  # no temporary folder left beside it
    ts = pd.read_parquet(out / "timeseries.parquet")
    pd.testing.assert_frame_equal(ts, res.timeseries, check_exact=True)
    assert set(KPI_NAMES) <= set(ts.columns)
    agents = pd.read_parquet(out / "agents.parquet")
    pd.testing.assert_frame_equal(agents, res.agents, check_exact=True)
    summary = json.loads((out / "summary.json").read_text(), parse_constant=_no_nan)
    assert set(summary) == set(res.summary)
    for key, value in res.summary.items():
        if isinstance(value, float) and not math.isfinite(value):
            assert summary[key] is None, key  # NaN is written as null
        elif isinstance(value, float):
            assert summary[key] == pytest.approx(value, rel=1e-12), key
    assert math.isnan(res.summary["adversary_capture"]) and summary["adversary_capture"] is None
    assert scenarios.load(out / "scenario.resolved.yaml") == res.scenario


def test_run_replaces_an_earlier_run_folder_whole(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()  # an empty folder is fine
    run(None, epochs=3, overrides=SMALL, progress=False, out=out)
    run(None, epochs=2, overrides=SMALL, progress=False, out=out)  # an earlier run: replaced
    assert sorted(p.name for p in out.iterdir()) == sorted([*FILES, MARKER])
    assert len(pd.read_parquet(out / "timeseries.parquet")) == 2
    assert leftovers(tmp_path) == ["run"]


def test_run_refuses_a_users_folder_before_simulating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("keep")

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("simulated although the output folder is refused")

    monkeypatch.setattr(EconomyModel, "step", never)
    with pytest.raises(OutputError, match="not written by ledgerlab"):
        run(None, epochs=3, overrides=SMALL, progress=False, out=out)
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


# ------------------------------------------------------------------------------ bad inputs

BAD_YAML = """\
# a scenario with a misspelled key
name: bad
epochs: 5
population:
  consumrs: 4
"""

TAGGED_YAML = """\
name: !!python/object/apply:os.system ["echo pwned"]
"""


def _raise_mid_run(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the train phase raise at epoch 3; returns the epochs it ran."""
    from ledgerlab.sim.phases import train

    seen: list[int] = []
    original = train.retrain

    def failing(epoch: int, *args: Any) -> None:
        seen.append(epoch)
        if epoch == 3:
            raise RuntimeError("boom at epoch 3")
        original(epoch, *args)

    monkeypatch.setattr(train, "retrain", failing)
    return seen


def _raise_mid_write(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make writing ``scenario.resolved.yaml`` (after the tables) fail."""
    calls: list[int] = []

    def failing(scenario: Scenario) -> str:
        calls.append(1)
        raise OSError("disk full")

    monkeypatch.setattr(scenarios, "to_yaml", failing)
    return calls


BAD_INPUTS: dict[str, tuple[dict[str, Any], type[Exception], str]] = {
    "unknown-override": (
        {"overrides": {"population.providerz": 3}},
        ScenarioError,
        "did you mean 'providers'",
    ),
    "wrong-type": (
        {"overrides": {"population.providers": "many"}},
        ScenarioError,
        "population.providers: must be a whole number",
    ),
    "out-of-range": (
        {"overrides": {"population.providers": -1}},
        ScenarioError,
        "population.providers: must be ≥ 0",
    ),
    "zero-epochs": ({"epochs": 0}, ScenarioError, "epochs"),
    "bad-yaml-key": ({"file": BAD_YAML}, ScenarioError, "bad.yaml:5:3: population.consumrs"),
    "yaml-tag": ({"file": TAGGED_YAML}, ScenarioError, "bad.yaml:1:7: YAML tag"),
    "setup": (
        {"overrides": {"market.pool_liquidity_usd": 1e12}},
        ScenarioError,
        "pool_liquidity_usd: the AMM needs",
    ),
    "mid-run": ({"hook": _raise_mid_run}, RuntimeError, "boom at epoch 3"),
    "mid-write": ({"hook": _raise_mid_write}, OutputError, "disk full"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.parametrize("existing", [False, True], ids=["new-folder", "existing-folder"])
def test_bad_inputs_raise_and_write_nothing(
    case: str, existing: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, error, message = BAD_INPUTS[case]
    scenario: Path | None = None
    if "file" in spec:
        scenario = tmp_path / "bad.yaml"
        scenario.write_text(spec["file"])
    hook: Callable[[pytest.MonkeyPatch], list[int]] | None = spec.get("hook")
    seen = hook(monkeypatch) if hook else None
    out = tmp_path / "x"
    if existing:  # an earlier ledgerlab run folder
        with atomic_dir(out) as earlier:
            (earlier / "summary.json").write_text('{"from": "an earlier run"}')
    with pytest.raises(error) as info:
        run(
            scenario,
            epochs=spec.get("epochs", 6),
            overrides={**SMALL, **spec.get("overrides", {})},
            progress=False,
            out=out,
        )
    assert message in str(info.value)
    if existing:  # the earlier run is untouched
        assert sorted(p.name for p in out.iterdir()) == [MARKER, "summary.json"]
        assert json.loads((out / "summary.json").read_text()) == {"from": "an earlier run"}
        assert leftovers(tmp_path, ("bad.yaml",)) == ["x"]
    else:
        assert not out.exists()
        assert leftovers(tmp_path, ("bad.yaml",)) == []
    if case == "mid-run":
        assert seen == [0, 1, 2, 3]
    if case == "mid-write":
        assert seen == [1]


def test_scenario_errors_list_every_problem_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text("name: two\npopulaton:\n  providers: 3\nepochs: -4\n")
    with pytest.raises(ScenarioError) as info:
        run(path, progress=False, out=tmp_path / "out")
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert (
        lines[0].startswith(f"{path}:2:1: populaton: ") and "did you mean 'population'" in lines[0]
    )
    assert lines[1].startswith(f"{path}:4:")
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------- adversary scenarios


def _tail_mean(res: RunResult, column: str, n: int = 10) -> float:
    return float(res.timeseries[column].tail(n).mean())


def test_label_flip_lowers_clean_accuracy() -> None:
    """label_flip.yaml against the same seed and world with the poisoners removed."""
    path = SCENARIO_DIR / "label_flip.yaml"
    poisoned = run(path, epochs=30, overrides=SMALL, progress=False)
    clean = run(
        path,
        epochs=30,
        overrides={**SMALL, "population.poisoners.label_flip": 0},
        progress=False,
    )
    assert poisoned.scenario.seed == clean.scenario.seed
    assert poisoned.scenario.population.poisoners.label_flip > 0
    acc_poisoned = _tail_mean(poisoned, "accuracy")
    acc_clean = _tail_mean(clean, "accuracy")
    assert acc_poisoned < acc_clean - 0.1
    # The honest-only twin of the poisoned world is the clean world (same seed, streams).
    pd.testing.assert_series_equal(
        poisoned.timeseries["twin_honest_only_accuracy"],
        clean.timeseries["accuracy"],
        check_names=False,
    )
    assert clean.summary["total_reward_poisoners_tokens"] == 0.0


@pytest.mark.parametrize("seed", [7, 1])
def test_sybil_farming_captures_more_under_volume_than_knn_shapley(seed: int) -> None:
    path = SCENARIO_DIR / "sybil_farming.yaml"
    capture: dict[str, float] = {}
    share: dict[str, float] = {}
    for engine in ("volume", "knn_shapley"):
        res = run(
            path,
            epochs=31,
            seed=seed,
            overrides={**SMALL, "attribution.engine": engine},
            progress=False,
        )
        capture[engine] = res.summary["adversary_capture"]
        share[engine] = res.summary["adversary_reward_share"]
        last_valid = res.timeseries["adversary_capture"].dropna().iloc[-1]
        assert capture[engine] == last_valid
    assert capture["volume"] > capture["knn_shapley"] + 0.2
    assert share["volume"] > share["knn_shapley"]


def test_wash_consumers_are_paid_for_their_own_inferences_under_retrieval() -> None:
    path = SCENARIO_DIR / "wash_inference.yaml"
    washing = run(path, epochs=25, overrides=SMALL, progress=False)
    assert washing.scenario.attribution.engine == "retrieval"
    assert washing.summary["total_wash_inferences"] > 0
    assert washing.summary["total_reward_wash_tokens"] > 0
    idle = run(
        path,
        epochs=25,
        overrides={**SMALL, "population.farmers.wash_inferences_per_epoch": 0},
        progress=False,
    )
    assert idle.summary["total_wash_inferences"] == 0
    # Self-dealt queries retrieve their own points: more reward than uploading alone.
    assert (
        washing.summary["total_reward_wash_tokens"] > 1.2 * idle.summary["total_reward_wash_tokens"]
    )


def test_unlock_cliff_speeds_up_unlocks_and_selling() -> None:
    path = SCENARIO_DIR / "unlock_cliff.yaml"
    sc = scenarios.load(path)
    cliff = min(b.cliff_epochs for b in sc.tokenomics.vesting if b.cliff_epochs > 0)
    first_after = math.ceil(cliff) + 1
    res = run(
        path,
        epochs=first_after + 35,
        overrides={
            "population.providers": 10,
            "population.consumers": 0,
            "population.builders": 1,
            "population.validators": 2,
            "attribution.ground_truth.every_epochs": 0,
            "collect.agent_snapshot_every_epochs": 0,
            # no noise traders: sold_tokens is then the holders' sell policies alone
            "market.order_flow.mean_usd_per_epoch": 0.0,
        },
        progress=False,
    )
    ts = res.timeseries.set_index("epoch")
    assert ts["noise_flow_usd"].abs().max() == 0.0
    released = -ts["locked_tokens"].diff()
    before = released.loc[first_after - 60 : math.floor(cliff) - 1]
    after = released.loc[first_after:]
    assert (released.dropna() >= -1e-6).all()  # locked supply never grows
    assert after.mean() > 1.5 * before.mean()
    assert (
        ts["sold_tokens"].loc[first_after:].mean() > 10 * ts["sold_tokens"].loc[before.index].mean()
    )


def test_csv_copies_when_the_scenario_asks_for_them(tmp_path):
    from ledgerlab.sim.run import run

    res = run(
        None,
        epochs=3,
        progress=False,
        overrides={"population.providers": 10, "collect.formats": ["parquet", "csv"]},
        out=tmp_path / "r",
    )
    ts = pd.read_csv(tmp_path / "r" / "timeseries.csv")
    assert len(ts) == 3 and list(ts.columns) == list(res.timeseries.columns)
    assert (tmp_path / "r" / "agents.csv").exists()
    assert (tmp_path / "r" / "timeseries.parquet").exists()
