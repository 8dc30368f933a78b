"""Tests for economics.defenses.rate_limit (per-epoch cap, minimum age) and for composing
its ScreenResult with other screens (economics.defenses.base)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlab.economics.defenses import (
    DefenseInputError,
    DefenseParamError,
    RateLimitParams,
    ScreenResult,
    combine,
    earning_mask,
    screen_rate,
)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_submissions_per_epoch": -1}, "max_submissions_per_epoch"),
        ({"max_submissions_per_epoch": 2.0}, "max_submissions_per_epoch"),
        ({"min_age_epochs": -3}, "min_age_epochs"),
    ],
)
def test_params_validation_names_the_field(kwargs, field):
    with pytest.raises(DefenseParamError, match=f"RateLimitParams.{field}"):
        RateLimitParams(**kwargs)


def test_cap_by_hand():
    res = screen_rate([5, 3, 5, 5, 3, 7, 5], RateLimitParams(max_submissions_per_epoch=2))
    np.testing.assert_array_equal(res.accept, [True, True, True, False, True, True, False])
    assert not res.flagged.any() and not res.severity.any()  # refused, not accused
    assert res.reason.tolist() == ["", "", "", "rate", "", "", "rate"]
    assert res.counts()["rate"] == 2


def test_cap_with_prior_counts():
    prior = [0, 0, 0, 1, 0, 2, 0, 0]  # owner 3 already submitted once, owner 5 twice
    res = screen_rate([5, 3, 5, 3, 7], RateLimitParams(max_submissions_per_epoch=2), prior)
    np.testing.assert_array_equal(res.accept, [False, True, False, False, True])
    with pytest.raises(DefenseInputError, match="prior_counts has 3 entries"):
        screen_rate([5], RateLimitParams(), [0, 0, 0])


def test_zero_cap_and_empty_batch():
    assert not screen_rate([1, 2], RateLimitParams(max_submissions_per_epoch=0)).accept.any()
    assert screen_rate(np.zeros(0, dtype=np.int64), RateLimitParams()).n == 0


def test_earning_mask_by_hand():
    got = earning_mask([0, 3, 5, 6], epoch=5, min_age_epochs=2)
    np.testing.assert_array_equal(got, [True, True, False, False])
    np.testing.assert_array_equal(earning_mask([4, 5], 5, 0), [True, True])
    with pytest.raises(DefenseInputError, match="min_age_epochs"):
        earning_mask([0], 5, -1)


@settings(max_examples=200, deadline=None)
@given(
    owners=st.lists(st.integers(0, 6), max_size=60),
    cap=st.integers(0, 5),
)
def test_never_exceeds_cap_and_keeps_the_earliest(owners, cap):
    res = screen_rate(np.array(owners, dtype=np.int64), RateLimitParams(cap))
    seen: dict[int, int] = {}
    expected = []
    for o in owners:  # reference: the obvious sequential rule
        expected.append(seen.get(o, 0) < cap)
        seen[o] = seen.get(o, 0) + 1
    np.testing.assert_array_equal(res.accept, np.array(expected, dtype=bool))
    if owners:
        acc = np.bincount(np.array(owners)[res.accept], minlength=7)
        assert acc.max(initial=0) <= cap


# ---------------------------------------------------------------------------------------
# composing the rate limit with another screen (ScreenResult / combine)
# ---------------------------------------------------------------------------------------


def test_combine_rate_limit_with_a_flagging_screen():
    rate = screen_rate([1, 1, 1, 2], RateLimitParams(max_submissions_per_epoch=2))
    other = ScreenResult.from_masks(
        "dedup",
        accept=[True, False, False, True],
        flagged=[False, True, True, False],
        severity=[0.0, 0.7, 1.0, 0.2],
        reasons=[("exact", [False, False, True, False]), ("near", [False, True, True, False])],
    )
    both = combine([rate, other])
    assert both.defense == "rate_limit+dedup"
    np.testing.assert_array_equal(both.accept, [True, False, False, True])
    np.testing.assert_array_equal(both.flagged, [False, True, True, False])
    np.testing.assert_array_equal(both.severity, [0.0, 0.7, 1.0, 0.2])
    assert both.reason.tolist() == ["", "near", "rate", ""]  # first defence's reason wins
    assert both.reason_labels == ("", "rate", "exact", "near")
    assert other.reason.tolist() == ["", "near", "exact", ""]  # first listed label wins
    np.testing.assert_array_equal(both.slash_severity, [0.0, 0.7, 1.0, 0.0])
    with pytest.raises(DefenseInputError, match="same length"):
        combine([rate, screen_rate([1], RateLimitParams())])
    with pytest.raises(DefenseInputError, match="at least one"):
        combine([])


def test_screen_result_is_validated_and_read_only():
    ok = {"accept": [True], "flagged": [False], "severity": [0.0], "reason_code": [0]}
    res = ScreenResult("x", **ok)
    with pytest.raises(ValueError, match="read-only"):
        res.accept[0] = False
    with pytest.raises(DefenseInputError, match="severity"):
        ScreenResult("x", **{**ok, "severity": [1.5]})
    with pytest.raises(DefenseInputError, match="reason_code 1 has no label"):
        ScreenResult("x", **{**ok, "reason_code": [1]})
    with pytest.raises(DefenseInputError, match="reason_labels"):
        ScreenResult("x", **ok, reason_labels=("a",))
    with pytest.raises(DefenseInputError, match="boolean mask"):
        ScreenResult("x", **{**ok, "accept": [1]})
    with pytest.raises(DefenseInputError, match="same length"):
        ScreenResult("x", **{**ok, "flagged": [False, True]})
