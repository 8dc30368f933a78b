"""Collection mechanics: KPI rows in a preallocated array read by Mesa's DataCollector
interface, and agent snapshots built from the role sets' columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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
