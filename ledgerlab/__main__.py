"""The ``ledgerlab`` command (``python -m ledgerlab`` too): one BLAS thread, then the CLI.

Why: the simulation's matrix products are small (a logistic fit, a chain's dot of a few
hundred numbers), and OpenBLAS's default of one thread per core spends more time waking
and spinning its threads than it saves: the baseline year cost ~0.4 s more CPU with the
default threads on 2 cores, and small fits were ~15x slower when processes shared cores.
The thread counts are read when numpy loads, so they are set here, before anything
imports numpy, and only where the caller has not set them. A library user's process is
left alone (``import ledgerlab`` does not touch the environment).

At exit the command freezes the garbage collector's heap (``gc.freeze``): the
interpreter's shutdown otherwise runs full collections over every object the run's
libraries left (numpy, scipy, pandas, Mesa, matplotlib...), about 0.2-0.3 s of CPU for
nothing. Shutdown still runs as usual (atexit handlers, files closed, objects freed).
"""

from __future__ import annotations

import gc
import os

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Thread-count variables of the BLAS libraries numpy and scipy may load."""


def main() -> None:
    """Run the CLI (``ledgerlab.analysis.cli``) with one BLAS thread unless told otherwise,
    and leave the heap out of the shutdown's garbage collections."""
    for var in BLAS_THREAD_VARS:
        os.environ.setdefault(var, "1")
    from ledgerlab.analysis.cli import main as cli_main

    try:
        cli_main()
    finally:
        gc.freeze()  # exits (SystemExit included) pass here


if __name__ == "__main__":
    main()
