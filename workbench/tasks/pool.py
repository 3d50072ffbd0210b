"""Process pools kept for the life of the process, shared by the tasks that fan out on CPU cores.

Starting worker processes costs a second or more; a pool per worker count is created on
first use and reused by every later job. `spawn` is used because the calling process has
threads (and often torch), which `fork` does not suit.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from threading import Lock

_pools: dict[int, ProcessPoolExecutor] = {}
_lock = Lock()


def worker_pool(workers: int) -> ProcessPoolExecutor:
    with _lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = _pools[workers] = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        return pool
