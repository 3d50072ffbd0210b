"""Running jobs: the one lifecycle every device shares, and a per-device worker queue.

`execute` is the only place that turns a task's outcome into a job state. It takes the
device's machine-wide slot, builds the task's context (capabilities, backend, a working folder
the job owns, progress that raises `Cancelled`), writes the record to the store, and only then
reports the final state. The working folder is removed when the job fails or is cancelled, and
after its files moved into the store when it succeeds. A task that raises never takes its
worker down.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from workbench.contract.backend import Backend
from workbench.contract.capabilities import Capabilities
from workbench.contract.errors import Cancelled, DeviceLost, InputError, WorkbenchError
from workbench.contract.progress import Progress
from workbench.contract.task import TaskContext
from workbench.jobs import slots
from workbench.jobs.heartbeat import heartbeat
from workbench.jobs.job import Job, JobState
from workbench.jobs.owners import fair_order
from workbench.jobs.text import bounded_text

log = logging.getLogger(__name__)

#: How often a running job looks at the store for a cancel asked by another process.
EXTERNAL_CANCEL_POLL_S = 0.25
#: How often a running job's progress is written to the index, for other processes' views.
PUBLISH_PROGRESS_S = 0.5


def readable_reason(exc: BaseException) -> str:
    """One line for a person: our errors keep their sentence, real faults their type."""
    if isinstance(exc, WorkbenchError):
        return bounded_text(str(exc) or type(exc).__name__)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return bounded_text(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


#: how a task's exception travels from a worker (a process, a Ray actor) to the job that waits for it
ERROR_KINDS: tuple[tuple[str, type[BaseException]], ...] = (
    ("cancelled", Cancelled), ("lost", DeviceLost), ("input", InputError), ("workbench", WorkbenchError))


def error_outcome(exc: BaseException) -> tuple[str, str, str]:
    """("error", kind, sentence) for a task's exception in a worker."""
    for kind, cls in ERROR_KINDS:
        if isinstance(exc, cls):
            return ("error", kind, bounded_text(str(exc)))
    return ("error", "fault", readable_reason(exc))


def error_from(kind: str, text: str) -> BaseException:
    """The exception an `error_outcome` stands for, on the waiting side."""
    return dict(ERROR_KINDS).get(kind, WorkbenchError)(text)


def external_cancel_check(job: Job) -> Callable[[], bool]:
    """A cheap check (at most every `EXTERNAL_CANCEL_POLL_S`) for a cancel flagged in the store."""
    last = [time.monotonic()]
    store = job.store

    def check() -> bool:
        if store is None:
            return False
        now = time.monotonic()
        if now - last[0] < EXTERNAL_CANCEL_POLL_S:
            return False
        last[0] = now
        try:
            return bool(store.cancel_requested(job.id))
        except Exception:
            log.debug("external_cancel_check.check: ignored", exc_info=True)
            return False

    return check


def _publishing(callback: Callable[[Any], None], job: Job) -> Callable[[Any], None]:
    """The task's progress callback, also writing progress to the index now and then, so the
    Jupyter server and the CLI see live progress of jobs running in a kernel."""
    last = [0.0]

    def publish(progress: Any) -> None:
        callback(progress)
        now = time.monotonic()
        if now - last[0] >= PUBLISH_PROGRESS_S and job.store is not None:
            last[0] = now
            try:
                job.store.update(job)
            except Exception:  # a busy index must not fail the task
                log.debug("_publishing.publish: ignored", exc_info=True)

    return publish


def make_context(job: Job, device_id: str, caps: Capabilities, backend: Backend,
                 guard: Callable[[], None] = lambda: None) -> TaskContext:
    """The context of a job on a device: `guard()` runs before each progress report (a device
    that stopped working raises there)."""
    external = external_cancel_check(job)
    record = _publishing(job.progress_callback(external), job)

    def report(progress: Any) -> None:
        guard()
        record(progress)

    def cancelled() -> bool:
        if not job.cancel_requested and external():
            job.cancel("cancelled from another process")
        return job.cancel_requested

    workdir = job.store.workdir(job.id) if job.store is not None else _temp_workdir(job)
    return TaskContext(device_id, caps, backend, workdir, report, cancelled,
                       checkpoints=dict(job.checkpoints), save_checkpoint=job.record_checkpoint)


def _temp_workdir(job: Job) -> Any:
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix=f"workbench-{job.id}-"))


def execute(job: Job, task: Callable[[Any, TaskContext], Any], ctx_factory: Callable[[Job], TaskContext], *,
            slot: tuple[str, int] | None = None,
            relocate: Callable[[Job, str], bool] | None = None) -> None:
    """Run `task(job.request, ctx)` and settle the job. `slot`: (device id, capacity) to lease.
    `relocate(job, why)`: when the device is lost or drained mid job, move the job (with its
    checkpoints) to another device; True when it did, and then this run just ends."""
    if _cancelled_before_start(job):
        return
    if slot is not None:
        try:
            leased = slots.acquire(job, *slot, stop=lambda: _cancel_flagged(job))
        except Exception as exc:  # noqa: BLE001 - a pool that cannot be used ends the job, never leaves it queued
            log.debug("job %s: no slot", job.id, exc_info=True)
            settle(job, JobState.FAILED, reason=f"it could not wait for a slot of {slot[0]}: {readable_reason(exc)}")
            return
        if not leased:
            settle(job, JobState.CANCELLED, reason=job.cancel_reason or "cancelled while waiting for a device")
            return

    def cleanup() -> None:  # after the record is stored, before the end is announced
        if job.store is not None:
            job.store.discard_workdir(job.id)

    release = slot[0] if slot is not None else None  # the slot goes back in the record's commit
    released = False

    try:
        job.start()
        if job.store is not None:
            job.store.update(job)
        with heartbeat(job):
            result = task(job.request, ctx_factory(job))
    except DeviceLost as exc:
        if relocate is None or not relocate(job, str(exc)):
            released = settle(job, JobState.FAILED, reason=str(exc), cleanup=cleanup, release=release)
    except Cancelled as exc:  # the reason the canceller gave, not the generic one a worker or check raises
        released = settle(job, JobState.CANCELLED, reason=job.cancel_reason or str(exc) or "cancelled",
                          cleanup=cleanup, release=release)
    except BaseException as exc:  # noqa: BLE001 - every fault becomes a failed job
        if not isinstance(exc, WorkbenchError):
            log.debug("job %s failed:\n%s", job.id, traceback.format_exc())
        job.traceback = traceback.format_exc()
        released = settle(job, JobState.FAILED, reason=readable_reason(exc), cleanup=cleanup, release=release)
        if not isinstance(exc, Exception):
            raise
    else:
        if job.cancel_requested:  # cancel arrived after the last progress call
            released = settle(job, JobState.CANCELLED, reason=job.cancel_reason or "cancelled", cleanup=cleanup,
                              release=release)
        else:
            last = job.last_stage_event()
            shown = last.progress if last is not None else None
            if shown is not None and shown.total and shown.fraction != 1.0:
                job.report(Progress(shown.total, shown.total, "done"))  # a bar ends full
            released = settle(job, JobState.SUCCEEDED, result=result, cleanup=cleanup, release=release)
    finally:
        if slot is not None and not released:  # it moved, or its record could not be stored
            slots.release(job, slot[0])


def _cancel_flagged(job: Job) -> bool:
    if job.cancel_requested:
        return True
    if job.store is not None and job.store.cancel_requested(job.id):
        job.cancel("cancelled from another process")
        return True
    return False


def _cancelled_before_start(job: Job) -> bool:
    if _cancel_flagged(job):
        settle(job, JobState.CANCELLED, reason=job.cancel_reason or "cancelled before it started")
        return True
    return False


def settle(job: Job, state: JobState, *, result: Any = None, reason: str = "",
           cleanup: Callable[[], None] = lambda: None, release: str | None = None) -> bool:
    """Store the finished job, run `cleanup`, then announce its state (a succeeded job is always on
    disk, and its working folder is gone, by the time anyone sees it end). True when the record,
    and with it the slot `release` names, was stored."""
    if job.store is None:
        cleanup()
        job.finish(state, result=result, reason=reason)
        return False
    try:
        stored = job.store.save(job, state=state.value, reason=reason, result=result, release=release)
    except Exception as exc:  # the store failing must not hang the caller
        log.debug("settle: ignored", exc_info=True)
        reason = f"the result could not be stored: {readable_reason(exc)}"
        try:  # a final record without the result (NaN in it, say): the outcome is never lost
            job.store.save(job, state=JobState.FAILED.value, reason=reason, release=release)
            saved = True
        except Exception:
            log.debug("settle: ignored", exc_info=True)
            saved = False
        cleanup()
        job.finish(JobState.FAILED, reason=reason)
        return saved
    cleanup()
    job.finish(state, result=stored, reason=reason)
    return True


class JobQueue:
    """A queue of jobs for one device, drained by `concurrency` worker threads: FIFO for one owner,
    round-robin between owners (a Gradio server's participants), so one flood does not hold up the rest.

    Items are jobs, or objects that carry one as `.job` (a device's job with its task function). A
    waiting job that is cancelled, here or from another process (the store's flag, looked at every
    CANCEL_POLL_S), leaves the queue and ends at once; it does not wait for a worker to pick it up."""

    #: how often waiting jobs' cancel flags in the store are looked at (a cancel from the REST API)
    CANCEL_POLL_S = 0.5

    def __init__(self, name: str, concurrency: int, run: Callable[[Any], None]):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.name = name
        self.concurrency = concurrency
        self._run = run
        self._waiting: collections.deque[Any] = collections.deque()
        self._cond = threading.Condition()
        self._running = 0
        self._running_by_owner: collections.Counter[str] = collections.Counter()
        self._served: dict[str, float] = {}  # owner -> when a worker last took one of their jobs
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"workbench-{name}-{i}", daemon=True)
            for i in range(concurrency)
        ]
        for t in self._threads:
            t.start()
        threading.Thread(target=self._watch_cancels, name=f"workbench-{name}-cancels", daemon=True).start()

    @staticmethod
    def _job(item: Any) -> Job:
        job: Job = item.job if hasattr(item, "job") else item
        return job

    def put(self, item: Any) -> None:
        job = self._job(item)
        with self._cond:
            if self._closed:
                raise RuntimeError(f"device {self.name} is shut down")
            self._waiting.append(item)
            running = self._running
            ahead = self._order().index(len(self._waiting) - 1)  # waiting jobs that go before this one
            self._cond.notify()
        if ahead + running >= self.concurrency:
            job.note(f"waiting for {self.name}: {running} running, {ahead} queued ahead")
        job.on_cancel(lambda: self._withdraw(item))

    def _withdraw(self, item: Any) -> None:
        """A cancelled job still waiting leaves the queue and ends now."""
        with self._cond:
            try:
                self._waiting.remove(item)
            except ValueError:  # already picked up: the runner sees the cancel
                return
        job = self._job(item)
        settle(job, JobState.CANCELLED, reason=job.cancel_reason or "cancelled while queued")

    def _watch_cancels(self) -> None:
        while not self._closed:
            time.sleep(self.CANCEL_POLL_S)
            with self._cond:
                waiting = [self._job(item) for item in self._waiting]
            for job in waiting:
                try:
                    if not job.cancel_requested and job.store is not None and job.store.cancel_requested(job.id):
                        job.cancel("cancelled from another process")  # its callback withdraws it
                except Exception:  # noqa: BLE001 - an unreadable store: the runner looks again at start
                    log.debug("queue %s: cancel flag of %s unreadable", self.name, job.id, exc_info=True)

    def load(self) -> int:
        with self._cond:
            return len(self._waiting) + self._running

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if not self._waiting:
                    return
                item = self._take()
                owner = self._job(item).owner
                self._served[owner] = time.monotonic()
                self._running += 1
                self._running_by_owner[owner] += 1
            try:
                self._run(item)
            except BaseException:  # the worker survives whatever a job does
                log.exception("worker %s: job %s raised outside the runner", self.name, self._job(item).id)
            finally:
                with self._cond:
                    self._running -= 1
                    self._running_by_owner[owner] -= 1

    def _order(self) -> list[int]:
        """Positions in `_waiting` in the order they run: round-robin by owner (`owners.fair_order`), first in,
        first out when one owner waits (no sort then). Called locked."""
        jobs = [self._job(item) for item in self._waiting]
        if len({j.owner for j in jobs}) <= 1:
            return list(range(len(jobs)))
        return [int(k) for k in fair_order([(str(i), j.owner, i) for i, j in enumerate(jobs)],
                                           self._running_by_owner, self._served)]

    def _take(self) -> Any:
        """The next item to run. Called locked."""
        first = self._order()[0]
        item = self._waiting[first]
        del self._waiting[first]
        return item

    def drain(self) -> list[Any]:
        """Remove and return every item still waiting."""
        with self._cond:
            waiting = list(self._waiting)
            self._waiting.clear()
        return waiting

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
