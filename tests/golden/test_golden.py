"""Golden outputs: the epoch loop reproduces its recorded outputs bit for bit.

Every shipped scenario and variant (30 epochs, the scenario's seed), plus coverage cases
reaching every engine, emission kind, payout policy and defence, is stored under
``tests/golden/data/`` as its resolved scenario and the run's timeseries, agent snapshots
and summary (see :mod:`tests.golden.cases`). A refactor must leave all three identical.

A change that means to move outputs (a bug fix) re-records them in the same commit and
says which columns moved and why::

    python -m tests.golden.regen --check   # which columns of which cases moved
    python -m tests.golden.regen           # re-record every case
    python -m tests.golden.regen --init    # re-resolve the cases from scenarios/ first

The whole set runs in about 20 seconds on one core.
"""

from __future__ import annotations

import pandas as pd
import pytest

from tests.golden.cases import VARIANT_FILES, case_keys
from tests.golden.regen import case_names, differences, simulate, stored
from tests.numerics import pinned


@pytest.mark.parametrize("case", case_names())
def test_outputs_match_the_golden_files(case: str) -> None:
    assert pinned(), "numpy was imported before tests/numerics.py pinned its kernels"
    old, new = stored(case), simulate(case)
    moved = differences(old, new)
    assert not moved, f"{case}: outputs moved: {moved} (python -m tests.golden.regen --check)"
    pd.testing.assert_frame_equal(new.timeseries, old.timeseries, check_exact=True)


def test_every_case_is_recorded() -> None:
    names = case_names()
    assert set(case_keys()) <= set(names)
    for variant_file in VARIANT_FILES:
        assert any(n.startswith(f"{variant_file}.") for n in names)
    for case in names:
        stored(case)  # raises if an output file is missing
