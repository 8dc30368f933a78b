"""Tests for economics.vesting: the OpenLedger preset, the time convention and
properties of arbitrary buckets (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlab.economics.vesting import (
    DAYS_PER_MONTH,
    OPENLEDGER_SUPPLY_TOKENS,
    PRESETS,
    Bucket,
    VestingError,
    VestingSchedule,
    openledger,
)

MONTHLY = openledger()
DAILY = openledger("day")

# ---------------------------------------------------------------------------------------
# the OpenLedger preset
# ---------------------------------------------------------------------------------------


def test_openledger_allocation_sums_to_the_fixed_supply() -> None:
    assert MONTHLY.total_tokens == OPENLEDGER_SUPPLY_TOKENS == 1_000_000_000.0
    assert MONTHLY.names == ("community_ecosystem", "investors", "team", "liquidity")
    shares = MONTHLY.amounts_tokens / MONTHLY.total_tokens
    np.testing.assert_allclose(shares, [0.6171, 0.1829, 0.15, 0.05], rtol=1e-12)
    assert PRESETS["openledger"] is openledger


def test_openledger_team_and_investors_respect_the_12_month_cliff() -> None:
    rows = [MONTHLY.names.index("investors"), MONTHLY.names.index("team")]
    by_bucket = MONTHLY.unlocked_by_bucket(np.arange(13))
    assert np.all(by_bucket[rows, :] == 0.0)  # nothing by the start of month 12
    per_month = MONTHLY.unlocks_by_bucket(np.arange(49))
    assert np.all(per_month[rows, :12] == 0.0)
    np.testing.assert_allclose(per_month[rows, 12], [182_900_000 / 36, 150_000_000 / 36])
    expected = np.broadcast_to(per_month[rows, 12:13], (2, 36))
    np.testing.assert_allclose(per_month[rows, 12:48], expected, rtol=1e-9)


def test_openledger_everything_unlocked_at_month_48() -> None:
    assert MONTHLY.unlocked(48) == 1_000_000_000.0
    np.testing.assert_array_equal(MONTHLY.unlocked_by_bucket(48), MONTHLY.amounts_tokens)
    assert MONTHLY.unlocked(47) < 1_000_000_000.0
    assert MONTHLY.unlocks(48) == 0.0
    assert MONTHLY.fully_unlocked_epoch == 48
    assert MONTHLY.locked(60) == 0.0


def test_openledger_launch_float_is_21_55_percent() -> None:
    # TGE: 165.5M community + 50M liquidity, i.e. 21.55 % of supply (published figure).
    community = MONTHLY.bucket("community_ecosystem")
    assert community.tge_tokens == pytest.approx(165_500_000.0, rel=1e-15)
    assert MONTHLY.bucket("liquidity").tge_fraction == 1.0
    tge = sum(b.tge_tokens for b in MONTHLY.buckets)
    assert tge / MONTHLY.total_tokens == pytest.approx(0.2155, rel=1e-12)
    # Month 0 also releases the first 1/48 of the rest of the community bucket.
    assert MONTHLY.unlocked(1) == pytest.approx(215_500_000 + 451_600_000 / 48, rel=1e-12)


def test_openledger_purely_linear_community_option() -> None:
    linear = openledger(community_tge_tokens=0)
    assert linear.unlocked(1) == pytest.approx(617_100_000 / 48 + 50_000_000, rel=1e-12)
    assert linear.unlocked(48) == 1_000_000_000.0


def test_openledger_monotone_and_consistent() -> None:
    t = np.arange(-2, 80)
    unlocked = MONTHLY.unlocked(t)
    assert np.all(np.diff(unlocked) >= 0)
    assert unlocked[0] == 0.0 and MONTHLY.unlocked(0) == 0.0
    np.testing.assert_allclose(MONTHLY.unlocks(t), MONTHLY.unlocked(t + 1) - unlocked, atol=1e-6)
    assert np.all(MONTHLY.unlocked_by_bucket(t) <= MONTHLY.amounts_tokens[:, None])


def test_openledger_daily_epochs_follow_the_monthly_curve() -> None:
    assert DAYS_PER_MONTH == 365.25 / 12
    team = DAILY.names.index("team")
    by_day = DAILY.unlocked_by_bucket(np.array([365, 366, 1_461]))
    assert by_day[team, 0] == 0.0  # cliff ends at day 365.25
    assert by_day[team, 1] == pytest.approx(150_000_000 * 0.75 / (36 * DAYS_PER_MONTH))
    assert DAILY.unlocked(1_461) == 1_000_000_000.0  # 48 months = 1,461 days
    assert DAILY.unlocked(1_460) < 1_000_000_000.0
    assert DAILY.fully_unlocked_epoch == 1_461
    # 16 months = 487 days exactly: both granularities sample the same vesting curve.
    np.testing.assert_allclose(
        DAILY.unlocked(np.array([487, 974])), MONTHLY.unlocked(np.array([16, 32])), rtol=1e-12
    )


def test_openledger_rejects_unknown_epoch_and_bad_tge() -> None:
    with pytest.raises(VestingError, match="epoch must be 'month' or 'day', got 'week'"):
        openledger("week")
    with pytest.raises(VestingError, match="community_tge_tokens"):
        openledger(community_tge_tokens=700_000_000)


# ---------------------------------------------------------------------------------------
# bucket mechanics
# ---------------------------------------------------------------------------------------


def test_bucket_time_convention() -> None:
    b = Bucket("seed", 1_200.0, tge_fraction=0.25, cliff_epochs=2, linear_epochs=3)
    # 300 at TGE (epoch 0); 900 over instants 2..5, i.e. during epochs 2, 3 and 4.
    np.testing.assert_allclose(b.unlocked(np.arange(7)), [0, 300, 300, 600, 900, 1_200, 1_200])
    assert b.fully_unlocked_epoch == 5


def test_bucket_without_linear_part_unlocks_at_the_cliff() -> None:
    b = Bucket("grant", 100.0, tge_fraction=0.0, cliff_epochs=6, linear_epochs=0)
    np.testing.assert_array_equal(b.unlocked(np.arange(5, 9)), [0, 0, 100, 100])
    assert b.fully_unlocked_epoch == 7
    frac = Bucket("grant", 100.0, cliff_epochs=6.5)
    np.testing.assert_array_equal(frac.unlocked([6, 7]), [0, 100])
    assert frac.fully_unlocked_epoch == 7


def test_per_bucket_arrays_have_bucket_rows() -> None:
    t = np.arange(12).reshape(3, 4)
    out = MONTHLY.unlocked_by_bucket(t)
    assert out.shape == (4, 3, 4)
    np.testing.assert_allclose(out.sum(axis=0), MONTHLY.unlocked(t))
    assert MONTHLY.unlocks_by_bucket(t).shape == (4, 3, 4)
    assert isinstance(MONTHLY.unlocked(5), np.float64)


buckets = st.builds(
    Bucket,
    name=st.text(min_size=1, max_size=8).filter(str.strip),
    amount_tokens=st.floats(min_value=0, max_value=1e12),
    tge_fraction=st.floats(min_value=0, max_value=1),
    cliff_epochs=st.floats(min_value=0, max_value=500),
    linear_epochs=st.floats(min_value=0, max_value=2_000),
)


@settings(max_examples=300, deadline=None)
@given(bucket=buckets, ts=st.lists(st.integers(-3, 3_000), min_size=1, max_size=30))
def test_bucket_unlocks_are_monotone_bounded_and_complete(bucket: Bucket, ts: list[int]) -> None:
    t = np.sort(np.array(ts))
    unlocked = bucket.unlocked(t)
    assert np.all(np.diff(unlocked) >= 0)
    assert np.all((unlocked >= 0) & (unlocked <= bucket.amount_tokens))
    assert bucket.unlocked(0) == 0.0
    end = bucket.fully_unlocked_epoch
    assert bucket.unlocked(end) == bucket.amount_tokens
    assert bucket.unlocked(end + 100) == bucket.amount_tokens
    assert bucket.unlocked(end - 1) <= bucket.amount_tokens


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(buckets, min_size=1, max_size=5, unique_by=lambda b: b.name),
    n=st.integers(0, 2_500),
)
def test_schedule_unlocks_sum_to_unlocked(parts: list[Bucket], n: int) -> None:
    schedule = VestingSchedule(parts)
    per_epoch = schedule.unlocks(np.arange(n))
    assert np.all(per_epoch >= -1e-6 * max(1.0, schedule.total_tokens))
    assert per_epoch.sum() == pytest.approx(schedule.unlocked(n), rel=1e-9, abs=1e-3)
    assert schedule.unlocked(schedule.fully_unlocked_epoch) == pytest.approx(
        schedule.total_tokens, rel=1e-12
    )


# ---------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Bucket("team", -1.0), r"bucket 'team': amount_tokens must be a finite number"),
        (
            lambda: Bucket("team", 10.0, tge_fraction=1.5),
            r"tge_fraction must be .* between 0 and 1",
        ),
        (lambda: Bucket("team", 10.0, cliff_epochs=float("inf")), r"cliff_epochs"),
        (lambda: Bucket("team", 10.0, linear_epochs=-2), r"linear_epochs"),
        (lambda: Bucket("team", "lots"), r"amount_tokens must be a number"),
        (lambda: Bucket("", 10.0), r"bucket name must be a non-empty string"),
        (lambda: VestingSchedule(()), r"at least one bucket"),
        (lambda: VestingSchedule([Bucket("a", 1.0), Bucket("a", 2.0)]), r"repeated: \['a'\]"),
        (lambda: VestingSchedule(["a"]), r"must hold Bucket objects"),
        (lambda: MONTHLY.bucket("advisors"), r"no bucket named 'advisors'"),
        (lambda: MONTHLY.unlocked(1.5), r"epochs must be whole numbers"),
        (lambda: MONTHLY.unlocks("3"), r"epochs must be whole numbers"),
    ],
)
def test_invalid_input_raises_vesting_error(build, match: str) -> None:
    with pytest.raises(VestingError, match=match) as info:
        build()
    assert isinstance(info.value, ValueError)
