"""Golden outputs: the regression net of the epoch loop (see ``test_golden.py``)."""

from tests.numerics import pin

pin()  # ``python -m tests.golden.regen`` records on the kernels the tests run on
