"""The pure task generators (economics/tasks.py): the drift schedule, the region geometry and
the mixture's Bayes classifier. Whole-model behaviour is in tests/sim/test_tasks.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from ledgerlab.economics.tasks import GaussianMixtureTask, TaskError, TaskSpec


@given(
    regions=st.integers(1, 12),
    launch=st.integers(1, 12),
    every=st.integers(0, 50),
    epoch=st.integers(0, 5_000),
)
def test_active_regions_rise_by_one_per_period_from_launch_to_all(
    regions: int, launch: int, every: int, epoch: int
) -> None:
    launch = min(launch, regions)
    spec = TaskSpec(regions_per_class=regions, launch_regions=launch, drift_every_epochs=every)
    now, later = spec.active_regions(epoch), spec.active_regions(epoch + 1)
    assert launch <= now <= later <= regions and later - now <= 1
    assert spec.active_regions(0) == (launch if every else regions)
    if every:
        assert later - now == int((epoch + 1) % every == 0 and now < regions)


@pytest.mark.parametrize(
    ("field", "value"),
    [("regions_per_class", 0), ("region_spread", -1.0), ("launch_regions", 0),
     ("drift_every_epochs", -3), ("region_spread", float("nan"))],
)  # fmt: skip
def test_bad_task_parameters_are_refused(field: str, value: float) -> None:
    with pytest.raises(TaskError, match=f"TaskSpec.{field}"):
        TaskSpec(**{field: value})


def test_region_centres_sit_at_the_spread_from_their_class_mean() -> None:
    spec = TaskSpec(
        n_classes=4, n_features=6, cluster_std=0.5, regions_per_class=3, region_spread=2.0
    )
    task = GaussianMixtureTask(spec, np.random.default_rng(5))
    offsets = task.centres - task.means[:, None, :]
    np.testing.assert_allclose(np.linalg.norm(offsets, axis=2), 1.0, rtol=1e-12)  # 2.0 · 0.5
    assert task.centres.shape == (4, 3, 6) and not task.centres.flags.writeable


def test_the_mixture_bayes_label_is_the_largest_class_likelihood() -> None:
    spec = TaskSpec(
        n_classes=3, n_features=4, class_separation=2.0, regions_per_class=3, region_spread=2.0
    )
    task = GaussianMixtureTask(spec, np.random.default_rng(8))
    x, _ = task.held_out(400, np.random.default_rng(9))
    logpdf = np.stack(
        [
            [multivariate_normal(task.centres[c, j], np.eye(4)).logpdf(x) for j in range(3)]
            for c in range(3)
        ]
    )  # [class, region, point]
    np.testing.assert_array_equal(task.bayes_label(x), np.argmax(logsumexp(logpdf, axis=1), axis=0))
    # Bayes beats every other rule on fresh data, e.g. the nearest class mean.
    xs, ys = task.held_out(20_000, np.random.default_rng(10))
    nearest_mean = np.argmin(((xs[:, None, :] - task.means[None]) ** 2).sum(axis=2), axis=1)
    assert np.mean(task.bayes_label(xs) == ys) > np.mean(nearest_mean == ys)


def test_at_epoch_refuses_negative_epochs() -> None:
    task = GaussianMixtureTask(TaskSpec(), np.random.default_rng(0))
    with pytest.raises(TaskError, match="epoch must be an integer >= 0"):
        task.at_epoch(-1)
