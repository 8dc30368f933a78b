"""Golden outputs: the regression net of the epoch loop (see ``test_golden.py``)."""
