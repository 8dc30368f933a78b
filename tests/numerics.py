"""Pin the numeric kernels the tests run on, so exact results do not depend on the CPU.

Why: the golden files hold outputs bit for bit, and two things below numpy pick their
code by the machine they run on. OpenBLAS chooses a kernel per CPU (an Intel AVX-512
machine gets ``SkylakeX``, an AMD Zen 4 one ``Haswell``), and the kernels sum a dot
product in different orders; numpy dispatches some float64 functions (``exp``, ``log``)
to AVX-512 code where the CPU has it and to the C library elsewhere. Either changes the
last bit of a result, and a simulation carries that bit into everything after it: goldens
recorded on one machine failed on the other. The tests therefore run on kernels every
x86-64 machine with AVX2 has: OpenBLAS's ``Haswell`` kernel, and numpy without its
AVX-512 paths. The variables take effect only before numpy is first imported, so
``tests/conftest.py`` and ``tests/golden`` call :func:`pin` before anything imports it.
Runs outside the tests are not pinned (same machine ⇒ same outputs still holds).
"""

from __future__ import annotations

import os
import sys

PINNED = {
    "OPENBLAS_CORETYPE": "Haswell",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
}
"""Environment variables fixing the kernels (inherited by the tests' subprocesses)."""


def pin() -> bool:
    """Set :data:`PINNED` unless the caller set them; True when numpy has not been imported
    yet, so the pin holds for this process (it always holds for child processes)."""
    for name, value in PINNED.items():
        os.environ.setdefault(name, value)
    return "numpy" not in sys.modules


def pinned() -> bool:
    """Whether this process runs on the pinned kernels: the variables as in :data:`PINNED`
    and numpy's AVX-512 dispatch off (it is on when numpy was imported before the pin)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy 1.x
        from numpy.core._multiarray_umath import __cpu_features__

    env = all(os.environ.get(k) == v for k, v in PINNED.items())
    return env and not __cpu_features__.get("X86_V4", False)
