"""A model's outputs do not depend on the BLAS thread count of the process it runs in
(``sim.threads``): OpenBLAS adds a long reduction's partial sums in another order with
more threads, which moved the influence engine's rewards in their last bits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from ledgerlab.scenarios import apply_overrides, load
from ledgerlab.sim.model import EconomyModel
from ledgerlab.sim.threads import OneBlasThread

INFLUENCE_CASE = (
    Path(__file__).resolve().parents[1] / "golden" / "data" / "cover.engine_influence.scenario.yaml"
)
"""A small world whose logistic fits and influence solves reduce over thousands of rows."""


def blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def two_threads_possible() -> bool:
    with threadpool_limits(2, user_api="blas"):
        return bool(blas_threads()) and all(n == 2 for n in blas_threads())


needs_two = pytest.mark.skipif(
    not two_threads_possible(), reason="no BLAS library here runs two threads"
)


@needs_two
def test_inside_one_thread_and_the_callers_count_after() -> None:
    guard = OneBlasThread()
    with threadpool_limits(2, user_api="blas"):
        with guard:
            assert set(blas_threads()) == {1}
            with guard:  # re-entered (a twin inside its world): still one, then still one
                assert set(blas_threads()) == {1}
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {2}


@needs_two
def test_the_caller_gets_its_count_back_after_an_error() -> None:
    guard = OneBlasThread()
    with threadpool_limits(2, user_api="blas"):
        with pytest.raises(ZeroDivisionError), guard:
            1 / 0  # noqa: B018
        assert set(blas_threads()) == {2}


def _run(threads: int, epochs: int) -> pd.DataFrame:
    scenario = apply_overrides(load(INFLUENCE_CASE), {"epochs": epochs})
    with threadpool_limits(threads, user_api="blas"):
        model = EconomyModel(scenario)
        while model.running:
            model.step()
        assert blas_threads() == [threads] * len(blas_threads())  # given back
    return model.timeseries()


@needs_two
def test_the_same_outputs_with_one_or_two_blas_threads() -> None:
    one, two = _run(1, 18), _run(2, 18)  # the rewards part at epoch 14 without the guard
    assert np.isfinite(one["rewards_tokens"]).all() and one["rewards_tokens"].sum() > 0
    pd.testing.assert_frame_equal(one, two, check_exact=True)
