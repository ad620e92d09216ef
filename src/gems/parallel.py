"""Where the parallel stages run — audio extraction and batch export: in this process, in local worker
processes, or on a Dask cluster (``--scheduler tcp://host:8786``, or ``[dask] scheduler`` in a pipeline file;
``pip install gems[dask]``).

:meth:`Runner.map` yields results in task order whatever ran them, so an output never depends on where the
work was done. Task functions must be importable module-level functions (Dask and spawned processes pickle
them); on a cluster, every path a task names must be readable by the workers (a shared filesystem).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from gems.errors import ParameterError

log = logging.getLogger(__name__)

WORKERS_PER_CORE = 4  # more local worker processes than this only queue for the cores and memory
DASK_WINDOW = 4  # tasks in flight per Dask worker thread: enough to keep a cluster busy, bounded memory


@dataclass(frozen=True)
class Runner:
    """``workers`` local processes (1: in this process), or the Dask scheduler at ``scheduler``."""

    workers: int = 1
    scheduler: str | None = None

    def __post_init__(self):
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ParameterError(f"--workers must be a whole number of at least 1, got {self.workers!r}")
        most = WORKERS_PER_CORE * cores()
        if self.workers > most and not self.scheduler:
            log.warning(
                "%d worker processes asked for on %d core(s); using %d (more would only wait for the cores)",
                self.workers,
                cores(),
                most,
            )
            object.__setattr__(self, "workers", most)

    def describe(self) -> str:
        if self.scheduler:
            return f"Dask cluster at {self.scheduler}"
        return "this process" if self.workers == 1 else f"{self.workers} local worker processes"

    @contextmanager
    def map(
        self,
        fn: Callable[[Any], Any],
        tasks: Sequence[Any],
        *,
        initializer: Callable[..., None] | None = None,
        initargs: tuple = (),
    ) -> Iterator[Iterator[Any]]:
        """A context giving the iterator of ``fn(task)`` for every task, in task order.

        The workers start on entering, so local processes fork before a progress bar starts its thread.
        ``initializer(*initargs)`` runs once in each local worker process before its first task (e.g. to limit
        BLAS threads; Dask's own workers already run one BLAS thread each).
        """
        if self.scheduler:
            with _dask_client(self.scheduler) as client:
                yield _dask_results(client, fn, tasks)
        elif self.workers == 1 or len(tasks) <= 1:
            yield map(fn, tasks)
        else:
            # fork: children inherit what the parent already loaded (models, filterbanks) at no cost
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            size = min(self.workers, len(tasks))
            start = (initializer, initargs, os.getpid())
            with context.Pool(size, initializer=_start_worker, initargs=start) as pool:
                yield pool.imap(fn, tasks, chunksize=1)


def cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_workers() -> int:
    """One worker process per core (at most 8)."""
    return min(cores(), 8)


def _start_worker(initializer: Callable[..., None] | None, initargs: tuple, parent: int) -> None:
    """First thing in a local worker process: Ctrl-C is the parent's to handle (it stops the pool), and SIGTERM
    (which stops a pool) ends the worker quietly instead of taking the CLI's handler along through the fork;
    and the worker ends with its parent (:func:`_end_with_parent`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    _end_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)


_PR_SET_PDEATHSIG = 1


def _end_with_parent(parent: int) -> None:
    """A worker whose parent is killed (``kill -9`` of ``gems export``) ends at once and quietly: orphaned, it
    would finish its task, find the result pipe broken and print a BrokenPipeError traceback on the terminal.
    Linux sends it SIGTERM when the parent dies (``prctl(PR_SET_PDEATHSIG)``; SIGTERM's default action ends it
    silently); elsewhere a thread checks every second whether it was handed to another parent."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
        if armed:
            if os.getppid() != parent:  # the parent died before the signal was armed
                os._exit(0)
            return
    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="gems-parent-watch", daemon=True).start()


@contextmanager
def _dask_client(address: str):
    try:
        from distributed import Client
    except ImportError as exc:
        raise ParameterError(
            "running on a Dask cluster needs dask's distributed scheduler: pip install 'gems[dask]'"
        ) from exc
    try:
        client = Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ParameterError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    with client:
        yield client


def _dask_results(client, fn: Callable[[Any], Any], tasks: Sequence[Any]) -> Iterator[Any]:
    """Results in task order, at most ``DASK_WINDOW`` tasks in flight per worker thread."""
    threads = max(1, sum(client.nthreads().values()))
    window = DASK_WINDOW * threads
    pending = deque(client.submit(fn, task, pure=False) for task in tasks[:window])
    for next_task in range(window, len(tasks) + window):
        yield pending.popleft().result()
        if next_task < len(tasks):
            pending.append(client.submit(fn, tasks[next_task], pure=False))
