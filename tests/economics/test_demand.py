"""Tests of the demand mechanisms: the multinomial logit against a hand computation, the
Bass diffusion against its closed form, the outside option's schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlab.economics.demand import (
    OutsideOption,
    bass_adopters_closed_form,
    bass_expected_arrivals,
    bass_expected_path,
    logit_shares,
    utilities,
)

# ---------------------------------------------------------------------------- logit


def test_logit_shares_match_a_hand_computation() -> None:
    # Two network models and the outside option (last). w = 2 accuracy/USD, T = 0.05.
    acc = np.array([0.70, 0.66, 0.55])
    price = np.array([0.01, 0.02, 0.02])
    # u = acc − 2·price = 0.68, 0.62, 0.51; u/T = 13.6, 12.4, 10.2.
    e = [math.exp(13.6), math.exp(12.4), math.exp(10.2)]
    expected = np.array(e) / sum(e)
    got = logit_shares(acc, price, 2.0, 0.05)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # The same numbers, written out: 1 / (1 + e^-1.2 + e^-3.4), ...
    assert got[0] == pytest.approx(1 / (1 + math.exp(-1.2) + math.exp(-3.4)), rel=1e-12)
    assert got[2] == pytest.approx(0.0250068, abs=1e-7)


def test_a_poisoned_network_loses_its_share_to_the_outside_option() -> None:
    price = np.array([0.01, 0.01, 0.02])  # two network models, then the outside option
    honest = logit_shares(np.array([0.70, 0.70, 0.55]), price, 1.0, 0.02)
    poisoned = logit_shares(np.array([0.33, 0.33, 0.55]), price, 1.0, 0.02)
    assert honest[-1] < 1e-3  # utility 0.69 vs 0.53: the network keeps its users
    # 0.32 vs 0.53: the outside option wins all but 2·e^(−0.21/0.02) of the demand.
    assert poisoned[-1] == pytest.approx(1 / (1 + 2 * math.exp(-10.5)), rel=1e-12)
    expensive = logit_shares(np.array([0.70, 0.55]), np.array([0.30, 0.02]), 1.0, 0.02)
    assert expensive[-1] > 0.99  # 0.40 vs 0.53: price counts in USD


def test_utilities_map_nan_to_not_for_sale() -> None:
    u = utilities(np.array([-np.inf, 0.5]), np.array([np.inf, 0.1]), 1.0)
    assert u[0] == -np.inf and u[1] == pytest.approx(0.4)


@settings(max_examples=60, deadline=None)
@given(
    acc=st.lists(st.floats(0, 1), min_size=1, max_size=6),
    weight=st.floats(0, 10),
    temperature=st.floats(1e-3, 10),
    outside_acc=st.floats(0, 1),
    outside_price=st.floats(0, 1),
)
def test_a_better_outside_option_takes_share_from_every_model(
    acc: list[float], weight: float, temperature: float, outside_acc: float, outside_price: float
) -> None:
    a = np.array([*acc, outside_acc])
    price = np.array([*np.linspace(0, 0.1, len(acc)), outside_price])
    p = logit_shares(a, price, weight, temperature)
    better = logit_shares(a + np.r_[np.zeros(len(acc)), 0.1], price, weight, temperature)
    assert p.sum() == pytest.approx(1.0) and better.sum() == pytest.approx(1.0)
    assert better[-1] >= p[-1] - 1e-12
    assert np.all(better[:-1] <= p[:-1] + 1e-12)


# ----------------------------------------------------------------------------- Bass


def test_bass_hazard_is_exact() -> None:
    # (p + q·N/M)(M − N) = (0.001 + 0.01·100/200)·100 = 0.6
    assert bass_expected_arrivals(100, 200, 0.001, 0.01) == pytest.approx(0.6, rel=1e-15)
    assert bass_expected_arrivals(0, 1000, 0.002, 0.5) == pytest.approx(2.0, rel=1e-15)
    assert bass_expected_arrivals(200, 200, 0.1, 0.1) == 0.0  # saturated
    assert bass_expected_arrivals(250, 200, 0.1, 0.1) == 0.0
    assert bass_expected_arrivals(0, 0, 0.1, 0.1) == 0.0


def test_bass_closed_form_starts_at_n0_and_solves_the_diffusion_equation() -> None:
    m, p, q, n0 = 500.0, 0.002, 0.03, 50.0
    t = np.linspace(0, 400, 4001)
    n = bass_adopters_closed_form(t, m, p, q, n0)
    assert n[0] == pytest.approx(n0, rel=1e-12)
    assert np.all(np.diff(n) > 0) and n[-1] < m and n[-1] > 0.99 * m
    # dN/dt = (p + qN/M)(M − N), checked by central differences.
    dndt = np.gradient(n, t)
    rhs = (p + q * n / m) * (m - n)
    np.testing.assert_allclose(dndt[1:-1], rhs[1:-1], rtol=1e-3, atol=1e-6)
    # From zero adopters: the textbook F(t) = (1 − e^{−(p+q)t}) / (1 + (q/p) e^{−(p+q)t}).
    f = (1 - math.exp(-(p + q) * 100)) / (1 + q / p * math.exp(-(p + q) * 100))
    assert bass_adopters_closed_form(np.array([100.0]), m, p, q)[0] == pytest.approx(m * f)


def test_bass_discrete_path_follows_the_closed_form_at_small_rates() -> None:
    m, p, q, n0 = 200.0, 0.001, 0.01, 100.0
    path = bass_expected_path(n0, m, p, q, 365)
    closed = bass_adopters_closed_form(np.arange(1, 366), m, p, q, n0)
    # The Euler step's error is O(rate) per epoch relative to the increment: well under 1 %.
    np.testing.assert_allclose(path, closed, rtol=0.01)
    assert path[-1] == pytest.approx(196.8, abs=0.1)  # 98.4 % of M after a year


def test_bass_poisson_arrivals_average_to_the_expected_path() -> None:
    """Adoption as the simulation draws it (Poisson arrivals with the Bass hazard, capped
    at the untapped market), vectorised over 4,000 replicates: its mean path stays within
    sampling error of the expected recursion, and so of the closed form."""
    m, p, q, n0, epochs, reps = 200, 0.001, 0.01, 100, 200, 4_000
    rng = np.random.default_rng(2024)
    n = np.full(reps, n0, dtype=np.int64)
    means = np.empty(epochs)
    for t in range(epochs):  # epochs, vectorised over replicates
        lam = (p + q * n / m) * (m - n)
        n += np.minimum(rng.poisson(lam), m - n)
        means[t] = n.mean()
    closed = bass_adopters_closed_form(np.arange(1, epochs + 1), m, p, q, n0)
    se = n.std() / math.sqrt(reps)
    assert abs(means[-1] - closed[-1]) < 4 * se + 0.01 * closed[-1]
    np.testing.assert_allclose(means, closed, rtol=0.02)


# ------------------------------------------------------------------ outside option


def test_outside_option_schedule_applies_changes_in_order() -> None:
    opt = OutsideOption(
        accuracy=0.6,
        price_usd_per_inference=0.02,
        change_epochs=(120, 200),
        change_prices_usd=(0.01, math.nan),
        change_accuracies=(math.nan, 0.7),
    )
    assert opt.at(0) == (0.6, 0.02)
    assert opt.at(119) == (0.6, 0.02)
    assert opt.at(120) == (0.6, 0.01)
    assert opt.at(199) == (0.6, 0.01)
    assert opt.at(200) == (0.7, 0.01)
    assert opt.at(10_000) == (0.7, 0.01)
