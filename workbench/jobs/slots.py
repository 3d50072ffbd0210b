"""Machine-wide device slots: a device's concurrency holds for every process that shares a slot pool.

Two notebooks, the Gradio server and the CLI on one workstation each run their own job queue;
before a job starts it takes a lease on one of its device's slots in the slot pool
(`ResultStore.try_lease`: the store's index, or the machine-wide file `WORKBENCH_SLOT_POOL` names),
and gives it back when it ends. A free slot goes to the waiting jobs round-robin by owner. A lease
of a process that died is reclaimed by the next process that looks. While a job waits, its event
stream says its place in the machine-wide queue and why it waits.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from workbench.jobs.job import Job

#: how long a waiting job sleeps between looks at the slots (grows to the maximum); a look while every
#: slot is held is a read, so looking often costs the other processes nothing
POLL_MIN_S, POLL_MAX_S = 0.005, 0.05


def acquire(job: Job, device_id: str, capacity: int, *, stop: Callable[[], bool] = lambda: False) -> bool:
    """Block until `job` holds a slot of `device_id` (True), or `stop()` says give up (False)."""
    store = job.store
    if store is None:
        return True
    delay, last_position = POLL_MIN_S, None
    waiter = {"owner": job.owner, "task": job.task_name, "max_running": job.max_running, "since": job.created}
    leased = False
    try:
        while True:
            if store.try_lease(device_id, capacity, job.id, **waiter):
                leased = True
                return True
            if stop():
                return False
            position = store.queue_position(device_id, job.id)
            if position != last_position:
                held = store.leases(device_id)
                why = (f"{capacity} slot{'s' if capacity != 1 else ''}, all in use" if held >= capacity else
                       f"{job.owner} already holds {job.max_running} slot{'s' if job.max_running != 1 else ''}, "
                       "the most one owner may" if job.max_running is not None else "other owners go first")
                job.note(f"waiting for a slot on {device_id}: position {position} in the machine-wide queue ({why})")
                last_position = position
            time.sleep(delay)
            delay = min(POLL_MAX_S, delay * 2)
    finally:
        if not leased:  # cancelled, or the store failed: it no longer waits
            store.pool.withdraw(device_id, job.id)


def release(job: Job, device_id: str) -> None:
    if job.store is not None:
        job.store.release_lease(device_id, job.id)
