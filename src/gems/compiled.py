"""Loops compiled with numba, for batches only: numba's import and compilation (~1.2 s) would cost a single cold
``gems recommend`` more than the loops save it, so each kernel is compiled on first use, once per process — a
batch asks for it before its worker processes fork, so each starts with the machine code.

Every kernel has a numpy (or LightGBM) counterpart that single queries run, and a test that the two agree to the
bit: :func:`gems.topk.merge_kernel` (the exact top-k's merge), :mod:`gems.rank.forest` (the learned stage's
trees).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def compiled(example: Callable[[], tuple]) -> Callable[[Callable], Callable[[], Any]]:
    """Decorator: ``kernel()`` gives the function compiled by numba (``njit``, no GIL held), compiling it at
    the first call for the argument types of ``example()``."""

    def wrap(function: Callable) -> Callable[[], Any]:
        done: list = []

        def kernel():
            if not done:
                import numba

                jitted = numba.njit(nogil=True, cache=False)(function)
                jitted(*example())
                done.append(jitted)
            return done[0]

        kernel.__doc__ = function.__doc__
        kernel.__name__ = function.__name__
        return kernel

    return wrap
