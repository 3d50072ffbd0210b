"""Process pools kept for the life of the process, shared by the tasks that fan out on CPU cores.

Starting worker processes costs a second or more; a pool per worker count is created on
first use and reused by every later job. `spawn` is used because the calling process has
threads (and often torch), which `fork` does not suit.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from threading import Lock
from typing import Any

_pools: dict[int, ProcessPoolExecutor] = {}
_lock = Lock()


#: how often a pool worker checks that the process that started it is still there
PARENT_POLL_S = 0.5


def die_with_parent(parent: int) -> None:
    """In each pool worker and each device worker: exit when the parent is gone (killed with -9 it
    cannot stop its workers, and they would wait for work forever). Polled rather than
    PR_SET_PDEATHSIG, which fires when the *thread* that started the worker ends, not the process."""

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(PARENT_POLL_S)

    threading.Thread(target=watch, name="workbench-parent-watch", daemon=True).start()


@contextmanager
def spawnable_main() -> Iterator[None]:
    """Let spawned processes start when the main script is no file (`python - < script.py`, a pipe).

    A spawned child re-runs the parent's `__main__` from `__main__.__file__`; for a script read from
    standard input that is "<stdin>", which does not exist, so every worker died at start. While
    processes are started, such a `__file__` is hidden (the child then skips the main module, as it
    does for `python -c` and notebooks)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    hide = path is not None and getattr(main, "__spec__", None) is None and not os.path.isfile(path)
    if hide and main is not None:
        del main.__file__
    try:
        yield
    finally:
        if hide and main is not None:
            main.__file__ = path


def worker_pool(workers: int) -> ProcessPoolExecutor:
    with _lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = _pools[workers] = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                                         initializer=die_with_parent, initargs=(os.getpid(),))
        return pool


def completed(workers: int, fn: Callable[..., Any], calls: Iterable[tuple[Any, ...]]) -> Generator[Any, None, None]:
    """`fn(*args)` for each args of `calls` on the pool, yielding results as they finish.

    When the consumer stops early (a cancel raised by its progress callback, a failure), close
    the iterator (`contextlib.closing`): the calls still queued are cancelled, so no work is
    left behind in the shared pool.
    """
    pool = worker_pool(workers)
    with spawnable_main():  # the pool starts its processes as work is submitted
        pending = {pool.submit(fn, *args) for args in calls}
    try:
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                yield fut.result()
    finally:
        for fut in pending:
            fut.cancel()
