"""Running jobs: the one lifecycle every device shares, and a per-device worker queue.

`execute` is the only place that turns a task's outcome into a job state: it calls the
task with a progress callback that raises `Cancelled`, writes the record to the store,
and only then reports the final state. A task that raises never takes its worker down.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from workbench.errors import Cancelled, WorkbenchError
from workbench.jobs.job import Job, JobState
from workbench.jobs.store import ResultStore

log = logging.getLogger(__name__)

#: How often a running job looks at the store for a cancel asked by another process.
EXTERNAL_CANCEL_POLL_S = 0.25


def readable_reason(exc: BaseException) -> str:
    """One line for a person: our errors keep their sentence, real faults their type."""
    if isinstance(exc, WorkbenchError):
        return str(exc) or type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def external_cancel_check(store: ResultStore, job_id: str) -> Callable[[], bool]:
    last = [time.monotonic()]

    def check() -> bool:
        now = time.monotonic()
        if now - last[0] < EXTERNAL_CANCEL_POLL_S:
            return False
        last[0] = now
        try:
            return store.cancel_requested(job_id)
        except Exception:
            return False

    return check


#: How often a running job's progress is written to the index, for other processes' views.
PUBLISH_PROGRESS_S = 0.5


def _publishing(callback: Callable[[Any], None], job: Job, store: ResultStore) -> Callable[[Any], None]:
    """The task's progress callback, also writing progress to the index now and then, so the
    Jupyter server and the CLI see live progress of jobs running in a kernel."""
    last = [0.0]

    def publish(progress: Any) -> None:
        callback(progress)
        now = time.monotonic()
        if now - last[0] >= PUBLISH_PROGRESS_S:
            last[0] = now
            try:
                store.update(job)
            except Exception:  # a busy index must not fail the task
                pass

    return publish


def execute(job: Job, task: Callable[..., Any], device: str, store: ResultStore) -> None:
    """Run `task(job.request, device=device, progress=...)` and settle the job."""
    if job.cancel_requested or store.cancel_requested(job.id):
        reason = job._cancel_reason or "cancelled before it started"
        settle(job, store, JobState.CANCELLED, reason=reason)
        return
    job._set_state(JobState.RUNNING)
    store.update(job)
    progress = _publishing(job.progress_callback(external_cancel_check(store, job.id)), job, store)
    try:
        result = task(job.request, device=device, progress=progress)
    except Cancelled as exc:
        settle(job, store, JobState.CANCELLED, reason=str(exc) or "cancelled")
    except BaseException as exc:  # noqa: BLE001 - every fault becomes a failed job
        if not isinstance(exc, WorkbenchError):
            log.debug("job %s failed:\n%s", job.id, traceback.format_exc())
        job._traceback = traceback.format_exc()
        settle(job, store, JobState.FAILED, reason=readable_reason(exc))
        if not isinstance(exc, Exception):
            raise
    else:
        if job.cancel_requested:  # cancel arrived after the last progress call
            settle(job, store, JobState.CANCELLED, reason=job._cancel_reason or "cancelled")
            return
        settle(job, store, JobState.SUCCEEDED, result=result)


def settle(job: Job, store: ResultStore, state: JobState, *, result: Any = None, reason: str = "") -> None:
    try:
        stored = store.save(job, state=state.value, reason=reason, result=result)
    except Exception as exc:  # the store failing must not hang the caller
        job._finish(JobState.FAILED, reason=f"the result could not be stored: {readable_reason(exc)}")
        return
    job._finish(state, result=stored, reason=reason)


class JobQueue:
    """A FIFO of jobs for one device, drained by `concurrency` worker threads."""

    def __init__(self, name: str, concurrency: int, run: Callable[[Job], None]):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.name = name
        self.concurrency = concurrency
        self._run = run
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._running = 0
        self._lock = threading.Lock()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"workbench-{name}-{i}", daemon=True)
            for i in range(concurrency)
        ]
        for t in self._threads:
            t.start()

    def put(self, job: Job) -> None:
        if self._closed:
            raise RuntimeError(f"device {self.name} is shut down")
        self._queue.put(job)

    def load(self) -> int:
        with self._lock:
            return self._queue.qsize() + self._running

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                self._running += 1
            try:
                self._run(job)
            except BaseException:  # the worker survives whatever a job does
                log.exception("worker %s: job %s raised outside the runner", self.name, job.id)
            finally:
                with self._lock:
                    self._running -= 1

    def drain(self) -> list[Job]:
        """Remove and return every job still waiting."""
        waiting = []
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return waiting
            if job is not None:
                waiting.append(job)

    def close(self) -> None:
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)
