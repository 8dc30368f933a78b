"""The ``ledgerlab`` command (``python -m ledgerlab`` too): one BLAS thread, then the CLI.

Why: the simulation's matrix products are small (a logistic fit, a chain's dot of a few
hundred numbers), and OpenBLAS's default of one thread per core spends more time waking
and spinning its threads than it saves: the baseline year cost ~0.4 s more CPU with the
default threads on 2 cores, and small fits were ~15x slower when processes shared cores.
The thread counts are read when numpy loads, so they are set here, before anything
imports numpy, and only where the caller has not set them. A library user's process is
left alone (``import ledgerlab`` does not touch the environment).
"""

from __future__ import annotations

import os

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
"""Thread-count variables of the BLAS libraries numpy and scipy may load."""


def main() -> None:
    """Run the CLI (``ledgerlab.analysis.cli``) with one BLAS thread unless told otherwise."""
    for var in BLAS_THREAD_VARS:
        os.environ.setdefault(var, "1")
    from ledgerlab.analysis.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
