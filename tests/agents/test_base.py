"""Tests of the array-backed role-set machinery (``agents.base``): growable columns, the
account registry, income bookkeeping and the churn rule."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlab.agents.base import BASE_COLUMNS, ROLE_NAMES, ChurnRule, ColumnStore, RoleSet
from ledgerlab.sim.model import EconomyModel

Factory = Callable[..., EconomyModel]


# ----------------------------------------------------------------------------- ColumnStore


@settings(max_examples=60, deadline=None)
@given(
    capacity=st.integers(1, 8),
    sizes=st.lists(st.integers(0, 40), min_size=1, max_size=12),
)
def test_column_store_appends_grow_and_keep_every_value(capacity: int, sizes: list[int]) -> None:
    store = ColumnStore({"a": np.int64, "b": np.float64, "flag": np.bool_}, capacity=capacity)
    expected_a: list[int] = []
    for size in sizes:
        start = len(store)
        rows = store.append(size, a=np.arange(start, start + size), b=1.5)
        np.testing.assert_array_equal(rows, np.arange(start, start + size))
        assert rows.dtype == np.int64
        expected_a.extend(range(start, start + size))
    assert len(store) == sum(sizes)
    np.testing.assert_array_equal(store.a, np.array(expected_a, dtype=np.int64))
    np.testing.assert_array_equal(store.b, np.full(len(store), 1.5))
    assert not store.flag.any()  # unspecified columns start at zero
    assert store.a.dtype == np.int64 and store.flag.dtype == np.bool_
    assert store.a.shape == store.b.shape == (len(store),)


def test_column_store_views_write_through_and_frames_are_copies() -> None:
    store = ColumnStore({"x": np.float64, "n": np.int64}, capacity=2)
    store.append(3, x=[1.0, 2.0, 3.0])
    store.x[1] = 20.0
    store.n[:] += 7
    assert store.x.tolist() == [1.0, 20.0, 3.0]
    frame = store.frame()
    assert list(frame.columns) == ["x", "n"] == list(store.names)
    assert frame["n"].tolist() == [7, 7, 7]
    frame.loc[0, "x"] = -1.0
    assert store.x[0] == 1.0
    store.append(5)  # growing keeps the values written through a view
    assert store.x[:3].tolist() == [1.0, 20.0, 3.0] and store.n[:3].tolist() == [7, 7, 7]


def test_column_store_refuses_unknown_columns_and_changes_nothing() -> None:
    store = ColumnStore({"x": np.float64})
    store.append(2, x=1.0)
    with pytest.raises(KeyError, match="unknown columns \\['y'\\]"):
        store.append(3, x=2.0, y=1.0)
    assert len(store) == 2 and store.x.tolist() == [1.0, 1.0]
    with pytest.raises(AttributeError):
        _ = store.y
    assert len(store.append(0)) == 0 and len(store) == 2


# --------------------------------------------------------------------------- role registry


def test_role_names_and_churn_rule() -> None:
    assert ROLE_NAMES[0] == "protocol"  # account_role 0 = a protocol account
    assert len(set(ROLE_NAMES)) == len(ROLE_NAMES)
    rule = ChurnRule()
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.lookback_epochs = 2  # type: ignore[misc]
    assert rule.lookback_epochs >= 1 and rule.ema_epochs == float(rule.lookback_epochs)
    assert ChurnRule(exit_below_return_on_cost=-0.5).exit_ratio == 0.5


class Crowd(RoleSet):
    """A minimal role set for the tests."""

    role: ClassVar[str] = "providers"
    adversary: ClassVar[bool] = True
    extra_columns: ClassVar[dict[str, Any]] = {"skill": np.float64}

    def __init__(self, model: EconomyModel, churn: ChurnRule | None = None) -> None:
        super().__init__(model, model.accounts, churn)
        self.left_rows: list[np.ndarray] = []

    def on_leave(self, rows: np.ndarray) -> None:
        self.left_rows.append(rows.copy())


@pytest.fixture
def model(tiny: Factory) -> EconomyModel:
    """A tiny model at launch (nothing stepped)."""
    return tiny(None, epochs=3)


def test_add_opens_accounts_and_registers_them(model: EconomyModel) -> None:
    crowd = Crowd(model)
    before = model.ledger.n_accounts
    model.ledger.epoch = 4  # the registry's clock
    rows = crowd.add(5, skill=np.linspace(0, 1, 5))
    np.testing.assert_array_equal(rows, np.arange(5))
    acct = crowd.cols.account
    np.testing.assert_array_equal(acct, np.arange(before, before + 5))
    assert model.ledger.n_accounts == before + 5
    assert (model.accounts.cols.role[acct] == ROLE_NAMES.index("providers")).all()
    assert model.accounts.cols.adversary[acct].all()
    np.testing.assert_array_equal(model.accounts.cols.row[acct], rows)
    assert (model.accounts.cols.joined_epoch[acct] == 4).all()
    assert crowd.cols.active.all() and (crowd.cols.left_epoch == -1).all()
    assert (crowd.cols.joined_epoch == 4).all()
    np.testing.assert_allclose(crowd.cols.skill, np.linspace(0, 1, 5))
    assert crowd.add(0).size == 0 and model.ledger.n_accounts == before + 5
    assert set(crowd.cols.names) == set(BASE_COLUMNS) | {"skill"}
    assert crowd in model.agents


def test_registry_grows_past_its_capacity(model: EconomyModel) -> None:
    crowd = Crowd(model)
    n = 3 * model.accounts.cols.role.shape[0]
    crowd.add(n)
    acct = crowd.cols.account
    assert model.accounts.n == model.accounts.cols.role.shape[0] == model.ledger.n_accounts
    np.testing.assert_array_equal(model.accounts.cols.row[acct], np.arange(n))
    # Accounts opened before the growth keep their registration.
    prov = model.roles.providers.cols.account
    np.testing.assert_array_equal(
        model.accounts.cols.row[prov], np.arange(len(model.roles.providers))
    )
    assert model.accounts.cols.reward_tokens.shape[0] == model.ledger.n_accounts


# ------------------------------------------------------------------------ income and churn


def test_record_income_updates_the_moving_averages_of_active_rows(model: EconomyModel) -> None:
    crowd = Crowd(model, ChurnRule(lookback_epochs=4))
    crowd.add(4)
    crowd.cols.income_ema_usd[:] = 8.0
    crowd.cols.cost_ema_usd[:] = 4.0
    crowd.cols.active[3] = False
    crowd.record_income(np.array([0, 0, 2, 3]), np.array([1.0, 3.0, 8.0, 100.0]), np.ones(4))
    # α = 1/4; row 0 earned 1 + 3 (repeated rows add up), row 1 nothing, row 3 is inactive.
    np.testing.assert_allclose(crowd.cols.income_ema_usd, [7.0, 6.0, 8.0, 8.0])
    np.testing.assert_allclose(crowd.cols.cost_ema_usd, [3.5, 3.0, 3.25, 4.0])
    np.testing.assert_allclose(crowd.cols.income_usd[:3], [4.0, 0.0, 8.0])
    np.testing.assert_allclose(crowd.cols.cost_usd[:3], [2.0, 0.0, 1.0])


def test_return_ratio_conventions(model: EconomyModel) -> None:
    crowd = Crowd(model)
    crowd.add(4)
    crowd.cols.income_ema_usd[:] = [3.0, 0.0, 2.0, 0.0]
    crowd.cols.cost_ema_usd[:] = [1.5, 0.0, 0.0, 2.0]
    ratio = crowd.return_ratio()
    assert ratio.tolist() == [2.0, 1.0, np.inf, 0.0]


def _crowd_at(model: EconomyModel, rule: ChurnRule, n: int = 10) -> Crowd:
    """A crowd of ``n`` founders that joined and started paying costs at epoch 0, the
    model now at epoch 50."""
    model.ledger.epoch = 0
    crowd = Crowd(model, rule)
    crowd.add(n)
    crowd.founders = n
    crowd.cols.first_cost_epoch[:] = 0
    model.ledger.epoch = 50
    return crowd


def test_churn_removes_mature_individuals_below_the_exit_ratio(model: EconomyModel) -> None:
    rule = ChurnRule(lookback_epochs=30, exit_below_return_on_cost=-0.5, entry_rate_per_epoch=0.0)
    crowd = _crowd_at(model, rule)
    cols = crowd.cols
    cols.income_ema_usd[:] = [1, 1, 1, 1, 1, 10, 10, 10, 10, 1]
    cols.cost_ema_usd[:] = [10, 10, 10, 10, 10, 1, 1, 1, 1, 10]
    cols.joined_epoch[9] = 45  # young: stays whatever its return
    cols.first_cost_epoch[9] = 45
    out = crowd.churn(np.random.default_rng(0))
    assert (out.left, out.joined) == (5, 0)
    assert cols.active.tolist() == [False] * 5 + [True] * 5
    assert cols.left_epoch.tolist() == [50] * 5 + [-1] * 5
    assert len(crowd.left_rows) == 1 and crowd.left_rows[0].tolist() == [0, 1, 2, 3, 4]
    assert crowd.left_total == 5 and crowd.n_active == 5
    np.testing.assert_array_equal(crowd.active_rows(), np.arange(5, 10))
    # Leaving is final: a departed individual never comes back.
    cols.income_ema_usd[:5] = 100.0
    crowd.churn(np.random.default_rng(1))
    assert not cols.active[:5].any()


def test_churn_waits_for_min_age_after_the_first_cost(model: EconomyModel) -> None:
    # Costs arrive with a submission and its rewards only later: an individual is judged
    # only once it has been paying costs for min_age_epochs, however old it is.
    rule = ChurnRule(lookback_epochs=30, exit_below_return_on_cost=-0.5, entry_rate_per_epoch=0.0)
    crowd = _crowd_at(model, rule, n=3)
    cols = crowd.cols
    cols.income_ema_usd[:] = 0.0
    cols.cost_ema_usd[:] = 10.0
    cols.first_cost_epoch[:] = [-1, 45, 10]  # never paid, paid 5 epochs ago, 40 ago
    out = crowd.churn(np.random.default_rng(0))
    assert (out.left, out.joined) == (1, 0)
    assert cols.active.tolist() == [True, True, False]


def test_newcomers_follow_the_mean_return_and_respect_the_ceiling(model: EconomyModel) -> None:
    rng = np.random.default_rng(3)
    unprofitable = _crowd_at(
        model, ChurnRule(entry_rate_per_epoch=1.0, exit_below_return_on_cost=-1.0)
    )
    unprofitable.cols.income_ema_usd[:] = 1.0
    unprofitable.cols.cost_ema_usd[:] = 1.0  # ratio 1: no newcomers at all
    out = unprofitable.churn(rng)
    assert (out.left, out.joined) == (0, 0)
    rich = _crowd_at(
        model,
        ChurnRule(entry_rate_per_epoch=1.0, exit_below_return_on_cost=-1.0, max_population=13),
    )
    rich.cols.income_ema_usd[:] = 50.0
    rich.cols.cost_ema_usd[:] = 1.0  # Poisson mean 1·10·(10 − 1) = 90, capped at 3 rooms
    out = rich.churn(rng)
    assert (out.left, out.joined) == (0, 3)
    np.testing.assert_array_equal(out.new_rows, [10, 11, 12])
    assert len(rich) == 13 and rich.joined_total == 3
    assert (rich.cols.joined_epoch[10:] == 50).all() and rich.cols.active.all()
    full = rich.churn(rng)
    assert (full.left, full.joined) == (0, 0)  # full


def test_disabled_churn_changes_nothing(model: EconomyModel) -> None:
    crowd = _crowd_at(model, ChurnRule(enabled=False))
    crowd.cols.cost_ema_usd[:] = 10.0
    out = crowd.churn(np.random.default_rng(0))
    assert (out.left, out.joined) == (0, 0)
    assert crowd.cols.active.all() and len(crowd) == 10


def test_snapshot_joins_the_ledger_holdings(model: EconomyModel) -> None:
    crowd = Crowd(model)
    crowd.add(3, skill=0.5)
    acct = crowd.cols.account
    model.ledger.transfer_many(
        np.full(3, model.accounts.protocol.treasury), acct, np.array([1.0, 2.0, 3.0])
    )
    model.ledger.stake_many(acct[:1], np.array([0.5]))
    snap = crowd.snapshot()
    assert (snap["role"] == "providers").all() and snap["adversary"].all()
    assert snap["balance_tokens"].tolist() == [0.5, 2.0, 3.0]
    assert snap["staked_tokens"].tolist() == [0.5, 0.0, 0.0]
    assert {"skill", "locked_tokens", "bonded_tokens", *BASE_COLUMNS} <= set(snap.columns)
    model.ledger.check_invariants()
