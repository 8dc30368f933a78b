"""One BLAS thread while a model computes, so its outputs do not depend on how many threads
the process's BLAS libraries were given.

Why: OpenBLAS splits a long reduction over its threads and adds the partial sums in
another order — a dot product of ~30,000 numbers, ``X.T @ r`` over a logistic fit's
examples, a Hessian — so the last bits of a result depend on the thread count, and a
simulation carries a last bit into everything after it. The ``ledgerlab`` command and the
sweep's worker processes start with one BLAS thread, but a library user's process (a
notebook: ``ledgerlab.run``, a serial ``ledgerlab.sweep``) has one per core: the same
seed then gave other outputs there (``cover.engine_influence``'s golden scenario differed
in its rewards between ``OPENBLAS_NUM_THREADS=1`` and ``2``). So a model builds itself
and steps under one BLAS thread and gives the caller's counts back after; the libraries
are those loaded when the model was built (numpy's and scipy's OpenBLAS, MKL, BLIS — what
``threadpoolctl`` finds). Cost: a count read per library per epoch (~1 µs) when the
process already runs one thread, two calls more per library when it does not. The count
is process-wide: models stepped at once in several Python threads of one process are not
covered (a sweep runs its models in processes).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from threadpoolctl import ThreadpoolController


class OneBlasThread:
    """A reusable context manager: inside it, every BLAS library loaded when it was made
    runs one thread; on leaving, each library gets back the count it had on entering.
    Re-entrant (a twin steps inside its world's step: the inner one finds one thread and
    changes nothing)."""

    __slots__ = ("_libraries", "_saved")

    def __init__(self) -> None:
        controller = ThreadpoolController()
        self._libraries: tuple[Any, ...] = tuple(
            lib for lib in controller.lib_controllers if lib.user_api == "blas"
        )
        self._saved: list[list[tuple[Any, int]]] = []
        """Per open ``with``, innermost last: the libraries it changed and their counts."""

    def __enter__(self) -> OneBlasThread:
        changed = []
        for lib in self._libraries:  # one or two libraries
            n = lib.get_num_threads()
            if n is not None and n != 1:
                lib.set_num_threads(1)
                changed.append((lib, n))
        self._saved.append(changed)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for lib, n in reversed(self._saved.pop()):
            lib.set_num_threads(n)
