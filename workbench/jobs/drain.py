"""When a drained device lets a running job go.

A plain drain (`wb.drain(device)`) moves every job off the device at its next progress report. A
drain with a deadline (`wb.drain(device, within=30)`, `workbench devices drain X --within 30s`) is
for a device that must be free by then (a maintenance window, a node going away): a running job its
own pace says will finish before the deadline stays and finishes there; a job that cannot, or whose
pace is not known yet, leaves at its next checkpoint, so no finished item is redone; any job still
there when the deadline passes leaves at its next report. The device takes no new work meanwhile.
"""

from __future__ import annotations

import time
from typing import Any

#: how much of the time left before the deadline a job may plan to use (its pace is an estimate)
MARGIN = 0.8


def seconds_left(job: Any, now: float | None = None) -> float | None:
    """The job's remaining seconds at its pace on this device so far; None before it has a pace."""
    now = time.time() if now is None else now
    event = job.last_stage_event()
    p = event.progress if event is not None else None
    if p is None or not p.total:
        return None
    since, fraction0 = job.segment
    fraction = p.done / p.total
    if fraction <= fraction0 or now <= since:
        return None
    return float((now - since) * (1 - fraction) / (fraction - fraction0))


class DeadlineWatch:
    """Per device: which of its running jobs were told to leave, and at how many checkpoints."""

    def __init__(self, device_id: str):
        self.device_id = device_id
        self._told: dict[str, tuple[int, str]] = {}  # job id -> (its checkpoints then, why it leaves)

    def leave(self, job: Any, deadline: float | None, now: float | None = None) -> str | None:
        """Why `job` leaves the drained device now, or None while it stays."""
        now = time.time() if now is None else now
        if deadline is None:
            return f"{self.device_id} was drained"
        if now >= deadline:
            self._told.pop(job.id, None)
            return f"{self.device_id} was drained and its deadline passed"
        done = len(job.checkpoints)
        if job.id not in self._told:
            left = seconds_left(job, now)
            if left is not None and left <= MARGIN * (deadline - now):
                return None  # it finishes in time: it stays
            why = "its pace is not known yet" if left is None else f"it needs about {left:.0f} s more"
            self._told[job.id] = (done, f"{self.device_id} was drained to be free within {deadline - now:.0f} s "
                                        f"and {why}")
        mark, why = self._told[job.id]
        if done > mark or not mark:  # at its next checkpoint; at once when it has made none to wait for
            del self._told[job.id]
            return why
        return None
