"""The retrieval trail reused between retrains (``attribution.trail_every_epochs`` = 0, once
per model version) credits fees in the same expected proportions as a fresh trail every
epoch: reuse changes what is sampled, not what is expected."""

from __future__ import annotations

import numpy as np
import pytest

from ledgerlab.sim.flows import DatanetFees
from ledgerlab.sim.model import EconomyModel
from ledgerlab.sim.trail import RetrievalTrail

EPOCHS_PER_VERSION = 7
"""Epochs one model version serves (the default retrain cadence's order)."""


@pytest.fixture(scope="module")
def trained() -> EconomyModel:
    """A small economy stepped until its one builder has a model."""
    model = EconomyModel(
        None,
        epochs=40,
        population__providers=30,
        population__consumers=20,
        population__builders=1,
        population__validators=1,
    )
    while model.roles.builders.models[0] is None:
        model.step()
    return model


def version_credit(model: EconomyModel, every: int, seed: int) -> np.ndarray:
    """Credit proportions of one model version's fees over ``EPOCHS_PER_VERSION`` epochs of
    equal demand, with a trail on cadence ``every`` (0: once per version), per training
    row of the model (sums to 1)."""
    params = model.scenario.attribution.model_copy(update={"trail_every_epochs": every})
    trail = RetrievalTrail(params)
    b = model.roles.builders
    state = model.datanets[0]
    rng = np.random.default_rng(seed)
    fees = [DatanetFees.none(state.store.size)]
    demand = (np.array([100.0]), np.array([0.0]), np.array([1.0]))
    wash = np.empty(0, dtype=np.int64)
    start = int(b.cols.trained_epoch[0]) + 1  # not on a multiple of the cadence below
    for epoch in range(start, start + EPOCHS_PER_VERSION):
        trail.credit_fees(epoch, b, model.datanets, fees, demand, wash, rng)
    _, _, rows = b.models[0]
    credit = fees[0].credit[rows]
    return credit / credit.sum()


def expected_credit(model: EconomyModel, queries: int = 400_000) -> np.ndarray:
    """The per-epoch simulation's expectation: the credit of one honest query, averaged
    over many (a trail's credit is a mean over its queries, so any trail size has it)."""
    b = model.roles.builders
    trail = RetrievalTrail(model.scenario.attribution)
    wash = np.empty(0, dtype=np.int64)
    shape = trail.simulate(
        b, 0, False, queries, model.datanets[0], wash, np.random.default_rng(12345)
    )
    assert shape is not None
    return shape.credit


def bias_z(runs: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """How far the mean of ``runs`` [seeds, points] is from ``expected`` [points]: the
    largest |z| over points credited in some run, and the excess of the sum of z² over
    its degrees of freedom in standard deviations, (Σz² − m) / sqrt(2m)."""
    se = runs.std(axis=0, ddof=1) / np.sqrt(len(runs))
    hit = se > 0
    assert hit.sum() > 10  # many points earn credit: the test has something to compare
    z = (runs.mean(axis=0)[hit] - expected[hit]) / se[hit]
    m = float(hit.sum())
    return float(np.max(np.abs(z))), float((np.sum(z * z) - m) / np.sqrt(2.0 * m))


@pytest.mark.parametrize("every", [0, 1])
def test_credit_proportions_are_unbiased(trained: EconomyModel, every: int) -> None:
    """Over many seeds the mean credit per point of a version — one reused trail (0) or a
    fresh trail every epoch (1) — matches the expectation point by point (|z| < 5) and
    as a whole (the sum of z² within 5 standard deviations of its mean)."""
    expected = expected_credit(trained)
    runs = np.array([version_credit(trained, every, seed) for seed in range(300)])
    worst, excess = bias_z(runs, expected)
    assert worst < 5.0
    assert excess < 5.0
    # Points no run credited are (nearly) never credited in expectation either.
    assert expected[runs.sum(axis=0) == 0].sum() < 1e-3


def test_reuse_is_caught_when_biased(trained: EconomyModel) -> None:
    """The comparison above has power: credit shifted toward the points that earn more
    than the median by a fifth of their share fails it."""
    expected = expected_credit(trained)
    runs = np.array([version_credit(trained, 0, seed) for seed in range(300)])
    skewed = runs * (1.0 + 0.2 * (expected > np.median(expected[expected > 0])))
    skewed /= skewed.sum(axis=1, keepdims=True)
    worst, excess = bias_z(skewed, expected)
    assert worst >= 5.0 or excess >= 5.0


def test_reuse_simulates_once_per_version(trained: EconomyModel) -> None:
    """With cadence 0 the queries are drawn once for the version's epochs; with 1, every
    epoch (the reused trail's proportions are then the first trail's exactly)."""
    counts = {}
    for every in (0, 1):
        params = trained.scenario.attribution.model_copy(update={"trail_every_epochs": every})
        trail = RetrievalTrail(params)
        calls = 0
        real = trail.simulate

        def counting(*args: object, _real=real) -> object:
            nonlocal calls
            calls += 1
            return _real(*args)

        trail.simulate = counting  # type: ignore[method-assign]
        b = trained.roles.builders
        fees = [DatanetFees.none(trained.datanets[0].store.size)]
        demand = (np.array([100.0]), np.array([0.0]), np.array([1.0]))
        rng = np.random.default_rng(0)
        start = int(b.cols.trained_epoch[0]) + 1
        for epoch in range(start, start + EPOCHS_PER_VERSION):
            trail.credit_fees(epoch, b, trained.datanets, fees, demand, np.empty(0, np.int64), rng)
        counts[every] = calls
    assert counts == {0: 1, 1: EPOCHS_PER_VERSION}


KEY_KPIS = ("spearman", "gini_rewards", "honest_provider_income_usd", "price_usd")
"""Key KPIs the trail's sampling could move: who is credited (rank agreement with the true
values, concentration of rewards), what honest providers earn, and the price."""


def key_kpis(seed: int, every: int) -> np.ndarray:
    """The final key KPIs of a small retrieval economy (60 epochs) at ``seed``, with the
    trail on cadence ``every``."""
    model = EconomyModel(
        None,
        seed=seed,
        epochs=60,
        population__providers=40,
        population__consumers=30,
        population__builders=2,
        population__validators=2,
        attribution__engine="retrieval",
        attribution__trail_every_epochs=every,
        attribution__ground_truth__every_epochs=20,
    )
    while model.running:
        model.step()
    summary = model.summary()
    return np.array([summary[k] for k in KEY_KPIS], dtype=np.float64)


def test_key_kpis_keep_their_distribution_over_ten_replicates() -> None:
    """Paired over 10 seeds (same seed, trail once per version vs every epoch): the mean
    difference of each key KPI is within 4 standard errors of 0, and the draws differ
    (the cadence does change what is sampled)."""
    once = np.array([key_kpis(seed, 0) for seed in range(10)])
    every = np.array([key_kpis(seed, 1) for seed in range(10)])
    assert np.isfinite(once).all() and np.isfinite(every).all()
    d = once - every
    assert (d != 0).any()
    se = d.std(axis=0, ddof=1) / np.sqrt(len(d))
    t = np.where(se > 0, d.mean(axis=0) / np.where(se > 0, se, 1.0), 0.0)
    assert np.all(np.abs(t) < 4.0), dict(zip(KEY_KPIS, t, strict=True))


def test_source_of_queries_follows_drift_and_the_wash_set() -> None:
    """The key changes with the task's active regions and with the wash consumers, so a
    reused trail is redrawn when the queries' distribution moved."""
    from types import SimpleNamespace

    from ledgerlab.sim.trail import query_source

    spec = SimpleNamespace(active_regions=lambda epoch: 1 + epoch // 30)
    state = SimpleNamespace(task=SimpleNamespace(spec=spec, epoch=29))
    before = query_source(False, state, np.empty(0, np.int64))  # type: ignore[arg-type]
    state.task.epoch = 30
    after = query_source(False, state, np.empty(0, np.int64))  # type: ignore[arg-type]
    assert (before, after) == (1, 2)
    wash_a = query_source(True, state, np.array([5, 3]))  # type: ignore[arg-type]
    assert wash_a == query_source(True, state, np.array([3, 5]))  # type: ignore[arg-type]
    assert wash_a != query_source(True, state, np.array([3]))  # type: ignore[arg-type]
    no_regions = SimpleNamespace(task=SimpleNamespace(epoch=3))
    assert query_source(False, no_regions, np.empty(0, np.int64)) is None  # type: ignore[arg-type]


def test_a_moved_source_redraws_the_trail(
    trained: EconomyModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once per version, except where the queries' source moved between two epochs."""
    import ledgerlab.sim.trail as trail_module

    monkeypatch.setattr(trail_module, "query_source", lambda wash, state, accts: epoch_now[0] // 3)
    params = trained.scenario.attribution.model_copy(update={"trail_every_epochs": 0})
    trail = RetrievalTrail(params)
    calls = 0
    real = trail.simulate

    def counting(*args: object) -> object:
        nonlocal calls
        calls += 1
        return real(*args)

    trail.simulate = counting  # type: ignore[method-assign]
    b = trained.roles.builders
    fees = [DatanetFees.none(trained.datanets[0].store.size)]
    demand = (np.array([100.0]), np.array([0.0]), np.array([1.0]))
    rng = np.random.default_rng(0)
    start = int(b.cols.trained_epoch[0]) + 1
    epoch_now = [0]
    for i, epoch in enumerate(range(start, start + 7)):
        epoch_now[0] = i  # the source moves at i = 3 and 6
        trail.credit_fees(epoch, b, trained.datanets, fees, demand, np.empty(0, np.int64), rng)
    assert calls == 3


@pytest.mark.parametrize(("every", "expected"), [(0, 1), (1, 2)])
def test_builders_sharing_a_fit_share_its_trail(every: int, expected: int) -> None:
    """Two builders trained together on one datanet serve one model: once per version,
    one trail serves both; on a cadence each builder draws its own."""
    model = EconomyModel(None, epochs=5, population__builders=2, population__consumers=10)
    model.step()
    b = model.roles.builders
    assert b.models[0] is not None and b.models[1] is not None
    assert b.cols.trained_epoch[0] == b.cols.trained_epoch[1]
    params = model.scenario.attribution.model_copy(update={"trail_every_epochs": every})
    trail = RetrievalTrail(params)
    calls = 0
    real = trail.simulate

    def counting(*args: object) -> object:
        nonlocal calls
        calls += 1
        return real(*args)

    trail.simulate = counting  # type: ignore[method-assign]
    fees = [DatanetFees.none(model.datanets[0].store.size)]
    demand = (np.array([50.0, 50.0]), np.zeros(2), np.array([1.0, 1.0]))
    rng = np.random.default_rng(0)
    trail.credit_fees(1, b, model.datanets, fees, demand, np.empty(0, np.int64), rng)
    assert calls == expected
    assert fees[0].credit.sum() == pytest.approx(2.0)
    # Versions no builder serves are forgotten.
    b.cols.trained_epoch[:] = 99
    trail.credit_fees(2, b, model.datanets, fees, demand, np.empty(0, np.int64), rng)
    assert all(k[1] == 99 for k in trail.shapes if k[0] >= 0)
