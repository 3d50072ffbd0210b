"""`Job`: one task on one device, with state, a progress stream, a result and cancel.

A job object is shared between the thread that runs the task and any number of viewers
(a widget, the CLI progress bar, a Gradio handler). Viewers read `events()` or register
`on_event` callbacks; only the runner moves the state forward.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from workbench.contract.errors import Cancelled, JobFailed
from workbench.contract.progress import Progress, ProgressCallback
from workbench.jobs import owners
from workbench.jobs.ids import new_job_id

log = logging.getLogger(__name__)

__all__ = ["Event", "Job", "JobState", "Progress", "ProgressCallback", "new_job_id"]


class JobState(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)




@dataclass(frozen=True)
class Event:
    """One entry of a job's event stream: a state change, progress, or a note."""

    kind: str  #: "state" | "progress" | "note"
    time: float
    state: str | None = None
    progress: Progress | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.progress is None:
            d.pop("progress")
        return d


class Job:
    """Handle on a submitted task. Thread-safe; created by a device's `submit`."""

    def __init__(self, task_name: str, request: Any, device_id: str, *, store: Any = None,
                 job_id: str | None = None):
        self.id = job_id or new_job_id()
        self.store = store  #: the ResultStore that keeps this job's record (None: not stored)
        self.traceback: str = ""  #: the task's traceback when it failed with a real fault
        self.placement: str = ""  #: why it runs where it runs ("placed on X: about 12 s, vs ...")
        #: "bench" for `workbench bench`'s runs: hidden from job lists and kept out of the history placement reads
        self.tag: str = ""
        #: seconds placement expected it to run on its device (None when it was not placed by figures)
        self.expected_s: float | None = None
        #: the share of its device that other work used while it ran, where the device can tell
        self.busy_during: float | None = None
        #: who submitted it (a login name or a Gradio session): fair share, quotas and views go by it
        self.owner: str = owners.current()
        #: device slots its owner may hold at once, machine-wide (None: no limit)
        self.max_running: int | None = owners.current_quota().max_running
        #: the quota the store checks when it records this job (a person's submit; None: not checked)
        self.admission: owners.Quota | None = owners.admission()
        self.requirements: Any = None  #: what it needs from a device (for moves)
        self.checkpoints: dict[str, Any] = {}  #: finished items, kept so a moved job resumes
        self.moves = 0
        self.task_name = task_name
        self.request = request
        self.device = device_id
        self.state = JobState.QUEUED
        self.reason: str = ""
        self.created = time.time()
        self.started: float | None = None
        #: (when it started on its current device, the fraction done then): its pace there
        self.segment: tuple[float, float] = (0.0, 0.0)
        self.finished: float | None = None
        self._result: Any = None
        self._events: list[Event] = [Event("state", self.created, state=JobState.QUEUED.value)]
        self._cond = threading.Condition()
        self._done = threading.Event()
        self._cancel_requested = threading.Event()
        self._cancel_reason = ""
        self._cancel_callbacks: list[Callable[[], None]] = []
        self._listeners: list[Callable[[Event], None]] = []

    # ---- viewers -----------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<Job {self.id} {self.task_name} on {self.device}: {self.state.value}>"

    @property
    def done(self) -> bool:
        return self._done.is_set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_requested.is_set()

    @property
    def cancel_reason(self) -> str:
        return self._cancel_reason

    @property
    def folder(self) -> Any:
        """The job's folder in the store (exists once it finished)."""
        return self.store.jobs_dir / self.id if self.store is not None else None

    @property
    def last_progress(self) -> Progress | None:
        with self._cond:
            for ev in reversed(self._events):
                if ev.progress is not None:
                    return ev.progress
        return None

    def last_progress_event(self) -> Event | None:
        """The newest progress event (a heartbeat's too)."""
        with self._cond:
            return next((ev for ev in reversed(self._events) if ev.progress is not None), None)

    def last_stage_event(self) -> Event | None:
        """The newest progress the task itself reported (not a heartbeat's repeat of it)."""
        with self._cond:
            return next((ev for ev in reversed(self._events)
                         if ev.progress is not None and not ev.progress.data.get("heartbeat")), None)

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Every event from the start, then new ones as they come, until the job ends.

        `timeout` bounds the wait for each next event; it raises `TimeoutError`.
        """
        i = 0
        while True:
            with self._cond:
                while i >= len(self._events) and not self._done.is_set():
                    if not self._cond.wait(timeout):
                        raise TimeoutError(f"no event from job {self.id} in {timeout} s")
                batch = self._events[i:]
                finished = self._done.is_set()
            yield from batch
            i += len(batch)
            if finished and not batch:
                return

    def snapshot_events(self) -> list[Event]:
        with self._cond:
            return list(self._events)

    def on_event(self, callback: Callable[[Event], None], *, replay: bool = True) -> None:
        """Call `callback(event)` for each new event (on the runner's thread)."""
        with self._cond:
            past = list(self._events) if replay else []
            self._listeners.append(callback)
        for ev in past:
            callback(ev)

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def result(self, timeout: float | None = None) -> Any:
        """The task's result; raises `JobFailed`, `Cancelled` or `TimeoutError`."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"job {self.id} did not finish in {timeout} s")
        if self.state is JobState.SUCCEEDED:
            return self._result
        if self.state is JobState.CANCELLED:
            raise Cancelled(self.reason or f"job {self.id} was cancelled")
        raise JobFailed(self.reason or f"job {self.id} failed")

    def cancel(self, reason: str = "cancelled by the user") -> bool:
        """Ask the job to stop. Queued jobs end at once; running ones at their next
        progress report. Returns False when the job had already finished."""
        if self.done:
            return False
        with self._cond:
            first = not self._cancel_requested.is_set()
            self._cancel_requested.set()
            self._cancel_reason = reason
            callbacks = list(self._cancel_callbacks) if first else []
        self.note(f"cancel requested: {reason}")
        for cb in callbacks:  # whoever runs the work elsewhere passes the cancel on
            try:
                cb()
            except Exception:
                log.debug("Job.cancel: ignored", exc_info=True)
        return True

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call `callback()` when a cancel is requested (at once if it already was): how a
        remote worker or a batch's children learn of it."""
        with self._cond:
            if not self._cancel_requested.is_set():
                self._cancel_callbacks.append(callback)
                return
        callback()

    def summary(self) -> dict[str, Any]:
        p = self.last_progress
        return {
            "id": self.id,
            "task": self.task_name,
            "device": self.device,
            "state": self.state.value,
            "reason": self.reason,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "progress": p.fraction if p else None,
            "message": p.message if p else "",
        }

    # ---- runner side -------------------------------------------------------------------
    def _emit(self, event: Event, *, final: bool = False) -> None:
        with self._cond:
            self._events.append(event)
            if final:
                self._done.set()
            listeners = list(self._listeners)
            self._cond.notify_all()
        for cb in listeners:
            try:
                cb(event)
            except Exception:  # a broken view must not break the job
                log.debug("Job._emit: ignored", exc_info=True)

    def note(self, message: str) -> None:
        self._emit(Event("note", time.time(), message=message))

    def report(self, progress: Progress) -> None:
        self._emit(Event("progress", time.time(), progress=progress))

    def progress_callback(self, check_external: Callable[[], bool] | None = None) -> ProgressCallback:
        """The callback handed to the task: records progress, raises `Cancelled` on cancel."""

        def callback(progress: Progress) -> None:
            if not self._cancel_requested.is_set() and check_external is not None and check_external():
                self.cancel("cancelled from another process")
            if self._cancel_requested.is_set():
                raise Cancelled(self._cancel_reason or "cancelled by the user")
            self.report(progress)

        return callback

    # ---- job control: the one interface the local runner, Ray and fan-out use ---------------
    def start(self) -> None:
        """queued -> running."""
        self._set_state(JobState.RUNNING)

    def move(self, device_id: str, why: str, total: float | None = None) -> None:
        """The job now runs on `device_id` (a migration); the event stream says why and where it
        resumes."""
        previous, self.device = self.device, device_id
        self.moves += 1
        with self._cond:
            done = len(self.checkpoints)
        resume = f"; resuming at item {done + 1} of {int(total)}" if total else (
            f"; resuming after {done} finished item(s)" if done else "; starting over (no finished items)")
        moved = f"moved from {previous} to {device_id} because {why}"
        self.placement = f"{self.placement}; {moved}" if self.placement else moved  # views show the move
        self.note(f"{moved}{resume}")

    def record_checkpoint(self, key: str, value: Any) -> None:
        """A finished item of the task (see `TaskContext.checkpoint`)."""
        with self._cond:
            self.checkpoints[key] = value
        if self.store is not None:  # on disk too: a killed process's finished items survive it
            self.store.save_checkpoint(self.id, key, value)

    def finish(self, state: JobState, *, result: Any = None, reason: str = "") -> None:
        """Announce the final state (after the record is stored: see `jobs.runner.settle`)."""
        self._result = result
        self._set_state(state, reason)

    def _set_state(self, state: JobState, reason: str = "") -> None:
        now = time.time()
        if state is JobState.RUNNING:
            if self.started is None:  # a moved job keeps its first start: its duration in every view is
                self.started = now  # the whole job's, not the last device's
            last = self.last_stage_event()
            self.segment = (now, (last.progress.fraction or 0.0) if last is not None and last.progress else 0.0)
        if state.finished:
            self.finished = now
        self.state = state
        self.reason = reason
        self._emit(Event("state", now, state=state.value, message=reason), final=state.finished)
