"""Machine-wide device slots: a device's concurrency holds for every process that shares a store.

Two notebooks, the Gradio server and the CLI on one workstation each run their own job queue;
before a job starts it takes a lease on one of its device's slots in the store's SQLite index
(`ResultStore.try_lease`), and gives it back when it ends. A lease of a process that died is
reclaimed by the next process that looks. While a job waits, its event stream says its place.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from workbench.jobs.job import Job

#: how long a waiting job sleeps between looks at the slots (grows to the maximum)
POLL_MIN_S, POLL_MAX_S = 0.005, 0.2


def acquire(job: Job, device_id: str, capacity: int, *, stop: Callable[[], bool] = lambda: False) -> bool:
    """Block until `job` holds a slot of `device_id` (True), or `stop()` says give up (False)."""
    store = job.store
    if store is None:
        return True
    delay, last_position = POLL_MIN_S, None
    while True:
        if store.try_lease(device_id, capacity, job.id):
            return True
        if stop():
            return False
        position = store.queue_position(device_id, job.id, job.created)
        if position != last_position:
            job.note(f"waiting for a slot on {device_id}: position {position} in the machine-wide queue "
                     f"({capacity} slot{'s' if capacity != 1 else ''}, all in use)")
            last_position = position
        time.sleep(delay)
        delay = min(POLL_MAX_S, delay * 2)


def release(job: Job, device_id: str) -> None:
    if job.store is not None:
        job.store.release_lease(device_id, job.id)
