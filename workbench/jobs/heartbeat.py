"""A running job's progress never stands still for long.

Some stages of a task are one long call that cannot report: importing a library (Boltz takes 3.6 s
to import), reading weights, one native routine. While such a call runs, the heartbeat repeats the
job's last progress once a second with the seconds spent in that stage ("loading Boltz-2 · 3 s"), so
a bar, a widget or a Gradio view shows the job alive and where it is. A beat is marked
`data={"heartbeat": True}` and carries no other data: it moves no fraction and no step forward.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from workbench.contract.progress import Progress
from workbench.jobs.job import Job, JobState

#: the longest a running job goes without a progress event
HEARTBEAT_S = 1.0


def is_beat(progress: Progress | None) -> bool:
    return progress is not None and bool(progress.data.get("heartbeat"))


def _beat(job: Job, every: float, stop: threading.Event) -> None:
    while not stop.wait(every / 4):
        last = job.last_progress_event()
        now = time.time()
        if last is not None and now - last.time < every:
            continue
        stage = job.last_stage_event()  # the last progress the task itself reported
        since = stage.time if stage is not None else (job.started or now)
        if now - since < every or job.state is not JobState.RUNNING:
            continue
        p = stage.progress if stage is not None and stage.progress is not None else Progress(0, None, "starting")
        job.report(Progress(p.done, p.total, f"{p.message} · {now - since:.0f} s", {"heartbeat": True}))


@contextmanager
def heartbeat(job: Job, every: float = HEARTBEAT_S) -> Iterator[None]:
    """Beat for `job` while the block runs."""
    stop = threading.Event()
    thread = threading.Thread(target=_beat, args=(job, every, stop), daemon=True, name=f"heartbeat-{job.id}")
    thread.start()
    try:
        yield
    finally:
        stop.set()
