"""Collection mechanics: KPI rows in a preallocated array read by Mesa's DataCollector
interface, and agent snapshots built from the role sets' columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ledgerlab.sim.flows import ChurnFlows, EpochFlows
from ledgerlab.sim.kpis import KPI_NAMES
from ledgerlab.sim.model import EconomyModel
from ledgerlab.sim.phases import collect as C


@pytest.fixture(scope="module")
def stepped() -> EconomyModel:
    """A small economy with adversaries run to its end (12 epochs)."""
    model = EconomyModel(
        None,
        epochs=12,
        population__providers=20,
        population__consumers=15,
        population__farmers__duplicate=3,
        population__poisoners__label_flip=2,
    )
    while model.running:
        model.step()
    return model


def snapshot_by_role_set(model: EconomyModel) -> pd.DataFrame:
    """The reference: each role set's own ``snapshot()`` frame, concatenated."""
    reg = model.accounts.cols
    frames = []
    for rs in model.roles.all:
        if len(rs) == 0:
            continue
        f = rs.snapshot()
        acct = f["account"].to_numpy()
        f = f[list(C.SNAPSHOT_COLUMNS)].copy()
        for name in C.SNAPSHOT_REGISTRY_COLUMNS:
            f[name] = getattr(reg, name)[acct]
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out.insert(0, "epoch", model.epoch)
    return out


def test_snapshot_from_columns_equals_the_role_sets_frames(stepped: EconomyModel) -> None:
    got = C.agent_snapshot(stepped)
    pd.testing.assert_frame_equal(got, snapshot_by_role_set(stepped), check_exact=True)
    assert list(got.columns) == [
        "epoch",
        *C.SNAPSHOT_COLUMNS,
        *C.SNAPSHOT_REGISTRY_COLUMNS,
    ]
    assert set(got["role"]) >= {"providers", "farmers", "poisoners", "consumers"}


def test_datacollector_reads_the_recorded_rows(stepped: EconomyModel) -> None:
    """Mesa's view (``model_vars[name][step]``, the frame) is the per-epoch rows."""
    rows = stepped.recorder.epochs()
    assert rows.shape == (12, len(KPI_NAMES))
    dc = stepped.datacollector
    frame = dc.get_model_vars_dataframe()
    assert list(frame.columns) == list(KPI_NAMES)
    np.testing.assert_array_equal(frame.to_numpy(), rows)
    assert dc.model_vars["epoch"] == list(range(12))
    i = KPI_NAMES.index("price_usd")
    assert dc.model_vars["price_usd"][5] == rows[5, i]
    dc.collect(stepped)  # a no-op: nothing is recorded twice
    assert len(dc.model_vars["epoch"]) == 12
    with pytest.raises(ValueError):
        rows[0, 0] = 1.0  # the view is read-only


def test_recorder_grows_past_its_horizon() -> None:
    rec = C.Recorder(1, 2, launch=None)  # type: ignore[arg-type]
    for epoch in range(5):
        row = np.full(len(KPI_NAMES), float(epoch))
        rec.record(None, row)  # type: ignore[arg-type]
    rows = rec.epochs()
    assert rows.shape == (5, len(KPI_NAMES))
    np.testing.assert_array_equal(rows[:, 0], np.arange(5.0))
    assert rec.timeseries()["epoch"].tolist() == [0, 1, 2, 3, 4]


# ---------------------------------------------------------------- the idle world's KPI row


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit for bit (NaN where NaN, the same NaN)."""
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def _idle_world(epochs: int = 30) -> EconomyModel:
    """The shipped tokenomics-only world at test size: no datanet, holders selling, the
    emission routed to them, the outside market trading — an idle world that moves."""
    return EconomyModel(
        "tokenomics_only",
        epochs=epochs,
        **{
            "tokenomics.vesting.airdrop.holders": 40,
            "tokenomics.vesting.investors.holders": 12,
            "tokenomics.vesting.team.holders": 5,
            "tokenomics.vesting.investors.cliff_epochs": 10,
        },
    )


def _general_row(model: EconomyModel, flows: EpochFlows) -> np.ndarray:
    """``_row_of(kpi_values(...))`` without moving the recorder's supply state on."""
    prev = model.recorder.prev
    row = C._row_of(C.kpi_values(model, flows))
    model.recorder.prev = prev
    return row


def _compare_paths(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    """Make every epoch's collect compute its row on both paths, from the same state, and
    assert they are the same bits; returns the list the rows recorded are appended to."""
    fast_row = C.kpi_row
    rows: list[np.ndarray] = []

    def both(model: EconomyModel, flows: EpochFlows) -> np.ndarray:
        general = _general_row(model, flows)
        fast = fast_row(model, flows)
        assert _same_bits(fast, general), flows.epoch
        rows.append(fast)
        return fast

    monkeypatch.setattr(C, "kpi_row", both)
    return rows


def test_idle_fast_row_equals_the_general_row_every_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _compare_paths(monkeypatch)
    model = _idle_world()
    while model.running:
        assert C._idle_key(model, EpochFlows(model.epoch)) is not None  # the fast path runs
        model.step()
    assert len(rows) == 30 and model.recorder.idle_rows


def test_idle_run_records_the_same_rows_as_the_general_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whole runs, one on each path: the recorded rows (and so the supply state carried
    from epoch to epoch) are the same bits."""
    fast = _idle_world()
    while fast.running:
        fast.step()
    monkeypatch.setattr(C, "_idle_key", lambda model, flows: None)
    general = _idle_world()
    while general.running:
        general.step()
    assert not general.recorder.idle_rows
    assert _same_bits(fast.recorder.epochs(), general.recorder.epochs())


def test_idle_row_falls_back_when_a_still_group_names_a_moving_kpi(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Were a still group (the roles) to write a KPI an earlier moving group (the supply)
    also writes, the general path's order would let the still value win, where writing
    the moving values over the template would not: the general path is taken instead."""
    roles = C._roles

    def clashing(model: EconomyModel, flows: EpochFlows) -> dict[str, float]:
        return {**roles(model, flows), "price_usd": -1.0}

    monkeypatch.setattr(C, "_roles", clashing)
    rows = _compare_paths(monkeypatch)
    model = _idle_world(12)
    while model.running:
        model.step()
    assert len(rows) == 12 and all(r[C.K.KPI_INDEX["price_usd"]] == -1.0 for r in rows)
    assert model.recorder.idle_rows  # the template was made, then not used


def test_idle_key_refuses_worlds_that_move(stepped: EconomyModel) -> None:
    assert C._idle_key(stepped, stepped.flows) is None  # datanets, roles, a ground truth
    model = _idle_world(3)
    model.step()
    assert C._idle_key(model, model.flows) == (
        False,
        tuple(rs.role for rs in model.roles.contributors),
    )
    flows = EpochFlows(model.epoch)
    flows.churn = ChurnFlows(left={"providers": 0}, joined={"providers": 2})
    assert C._idle_key(model, flows) is None
    flows.churn = None
    assert C._idle_key(model, flows) == (True, tuple(rs.role for rs in model.roles.contributors))
