"""Local devices: one `LocalDevice` per device a backend found in this process.

A `LocalDevice` runs jobs on worker threads (torch and RDKit release the GIL in their kernels;
tasks that need processes fan out themselves), takes a machine-wide slot before each job starts
(`workbench.jobs.slots`), and builds each job's `TaskContext` from its backend.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from workbench.contract.backend import Backend
from workbench.contract.capabilities import Capabilities
from workbench.contract.errors import DeviceError, DeviceLost
from workbench.contract.requirements import Requirements
from workbench.contract.task import TaskContext
from workbench.hardware.isolated import WorkerPool, isolation_policy
from workbench.jobs import perf
from workbench.jobs.drain import DeadlineWatch
from workbench.jobs.job import Job, JobState
from workbench.jobs.runner import JobQueue, execute, make_context, settle
from workbench.jobs.store import ResultStore, default_store
from workbench.settings import settings
from workbench.tasks.registry import TASKS, TaskLike, task_function

log = logging.getLogger(__name__)

#: how long a free-memory figure is trusted before it is read again
CAPS_FRESH_S = 1.0
#: how often a running job looks whether its device was drained (by any process)
DRAIN_POLL_S = 0.25
#: moves `job` (running `fn`) elsewhere: True when it found a device (set by the scheduling registry)
Relocator = Callable[[Job, Callable[..., Any], "LocalDevice", str], bool]


class LocalDevice:
    """A device in this process: one queue, `concurrency` machine-wide slots, the shared runner."""

    def __init__(self, backend: Backend, *, concurrency: int | None = None, store: ResultStore | None = None):
        self.backend = backend
        self.id = backend.device_id
        self._caps = backend.capabilities()
        self._caps_at = time.monotonic()
        self._store = store
        self._fault: str | None = None
        self.concurrency = concurrency or backend.concurrency
        self._queue: JobQueue | None = None
        self._queue_lock = threading.Lock()
        self.relocator: Relocator | None = None
        self._drained: tuple[float, tuple[bool, float | None]] = (0.0, (False, None))
        self._deadlines = DeadlineWatch(self.id)
        self._workers: WorkerPool | None = None
        self._model_worker: WorkerPool | None = None  #: one process, where this device's models stay loaded

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}: {self._caps.name}>"

    @property
    def capabilities(self) -> Capabilities:
        """What the backend declares, with free memory as it is now (read again at most once a second:
        a check against the figure from when the device was found would let a job in that no longer fits)."""
        if time.monotonic() - self._caps_at > CAPS_FRESH_S:
            self.refresh_memory()
        return self._caps

    def refresh_memory(self) -> None:
        """Read the free memory again now."""
        try:
            free, _ = self.backend.memory_info()
            self._caps = replace(self._caps, free_memory=int(free))
        except Exception:  # noqa: BLE001 - a driver hiccup keeps the last figure
            log.debug("LocalDevice.refresh_memory: ignored", exc_info=True)
        self._caps_at = time.monotonic()

    @property
    def fault(self) -> str | None:
        return self._fault

    @property
    def store(self) -> ResultStore:
        return self._store or default_store()

    def _jobs(self) -> JobQueue:
        with self._queue_lock:
            if self._queue is None:
                self._queue = JobQueue(self.id, self.concurrency, self._run)
            return self._queue

    def load(self) -> int:
        """Jobs queued here plus jobs holding this device's slots in other processes."""
        mine = self._queue.load() if self._queue else 0
        try:
            others = self.store.leases(self.id)
        except Exception:
            log.debug("LocalDevice.load: ignored", exc_info=True)
            others = 0
        return max(mine, others)

    def busy(self) -> float | None:
        """What its backend reports of other work on it now (see `Backend.busy`)."""
        try:
            return self.backend.busy()
        except Exception:  # noqa: BLE001 - a counter that fails is unknown, not idle
            log.debug("LocalDevice.busy: ignored", exc_info=True)
            return None

    def submit(self, task: TaskLike, request: Any, *, task_name: str | None = None,
               requirements: Requirements | None = None, placement: str = "", tag: str = "",
               expected_s: float | None = None, checkpoints: dict[str, Any] | None = None) -> Job:
        if self._fault:
            raise DeviceError(f"Device {self.id} is not working: {self._fault}")
        name, fn = task_function(task, task_name)
        fn = self._task_fn(name, fn)
        job = Job(name, request, self.id, store=self.store)
        job.requirements, job.placement, job.tag, job.expected_s = requirements, placement, tag, expected_s
        job.checkpoints = dict(checkpoints or {})
        job.store.register(job)
        if placement:
            job.note(placement)
        self._jobs().put(_Queued(job, fn))
        return job

    def resume(self, job: Job, fn: Callable[..., Any]) -> None:
        """Take over a job that moved here (its checkpoints travel with it)."""
        self._jobs().put(_Queued(job, self._task_fn(job.task_name, fn)))

    def _task_fn(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """A registered task that calls native code runs in this device's worker processes; one that
        loads a torch model runs in its model worker (unless WORKBENCH_ISOLATE=native)."""
        spec = TASKS.get(name)
        if spec is None or fn is not spec.load():
            return fn
        if spec.isolate:
            with self._queue_lock:
                if self._workers is None:
                    self._workers = WorkerPool(self.backend, self.id)
            pool = self._workers
        elif spec.isolate_model and isolation_policy() == "all" and settings().device_host:
            from workbench.hardware import device_host

            def in_host(request: Any, ctx: TaskContext) -> Any:  # the device's host, shared by every process
                return device_host.run(spec, request, ctx)

            return in_host
        elif spec.isolate_model and isolation_policy() == "all":
            with self._queue_lock:
                if self._model_worker is None:
                    self._model_worker = WorkerPool(self.backend, self.id, limit=1)
            pool = self._model_worker
        else:
            return fn

        def in_worker(request: Any, ctx: TaskContext) -> Any:
            return pool.run(spec, request, ctx)

        return in_worker

    @property
    def drained(self) -> bool:
        """Drained by `workbench devices drain` (any process); looked up at most every DRAIN_POLL_S."""
        return self._drain_state()[0]

    def _drain_state(self) -> tuple[bool, float | None]:
        """(drained, its deadline or None), from the store at most every DRAIN_POLL_S."""
        checked, value = self._drained
        now = time.monotonic()
        if now - checked >= DRAIN_POLL_S:
            try:
                drains = self.store.drains()
                value = (self.id in drains, drains.get(self.id))
            except Exception:  # noqa: BLE001 - an unreadable store drains nothing
                log.debug("LocalDevice._drain_state: ignored", exc_info=True)
                value = (False, None)
            self._drained = (now, value)
        return value

    def refresh_drain_state(self) -> None:
        """Read the drain state from the store at the next look (after this process drained the device)."""
        self._drained = (0.0, self._drained[1])

    def _guard(self, job: Job | None = None) -> None:
        if self._fault:
            raise DeviceLost(f"Device {self.id} stopped working mid job: {self._fault}")
        drained, deadline = self._drain_state()
        if drained:
            why = self._deadlines.leave(job, deadline) if job is not None else f"{self.id} was drained"
            if why:
                raise DeviceLost(why)

    def context(self, job: Job) -> TaskContext:
        return make_context(job, self.id, self._caps, self.backend, lambda: self._guard(job))

    def _relocate(self, fn: Callable[..., Any]) -> Callable[[Job, str], bool]:
        def relocate(job: Job, why: str) -> bool:
            return self.relocator is not None and self.relocator(job, fn, self, why)

        return relocate

    def _run(self, item: Any) -> None:
        job, fn = item.job, item.fn
        relocate = self._relocate(fn)
        if self._fault or self.drained:
            why = (f"Device {self.id} stopped working before the job started: {self._fault}" if self._fault
                   else f"{self.id} was drained")
            if not relocate(job, why):
                settle(job, JobState.FAILED, reason=why)
            return
        execute(job, self._measured(job, fn), self.context, slot=(self.id, self.concurrency), relocate=relocate)
        perf.record_finished(job)

    def _measured(self, job: Job, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn`, noting on the job how busy other work kept the device while it ran (`Backend.busy_mark`)."""
        def run(request: Any, ctx: TaskContext) -> Any:
            try:
                mark = self.backend.busy_mark()
            except Exception:  # noqa: BLE001 - no reading: the run's rate is recorded as measured
                log.debug("LocalDevice._measured.run: ignored", exc_info=True)
                mark = None
            try:
                return fn(request, ctx)
            finally:
                if mark is not None:
                    try:
                        job.busy_during = self.backend.busy_since(mark)
                    except Exception:  # noqa: BLE001
                        log.debug("LocalDevice._measured.run: ignored", exc_info=True)
                        job.busy_during = None

        return run

    def fail(self, reason: str) -> None:
        """Mark the device broken (a lost accelerator, an unplugged simulator): running
        jobs fail at their next progress report, queued ones at once, new ones are refused."""
        self._fault = reason
        if self._queue is not None:
            for item in self._queue.drain():
                self._run(item)

    def shutdown(self, *, reason: str = "the device was shut down") -> None:
        self.fail(reason)
        if self._queue is not None:
            self._queue.close()
        for pool in (self._workers, self._model_worker):
            if pool is not None:
                pool.close()


class _Queued:
    """A job and its task function, waiting in a device's queue."""

    __slots__ = ("fn", "job")

    def __init__(self, job: Job, fn: Any):
        self.job, self.fn = job, fn

    @property
    def id(self) -> str:
        return self.job.id


def standalone_context(progress: Callable[[Any], None] = lambda p: None, backend: Backend | None = None,
                       workdir: Any = None) -> TaskContext:
    """A task context on the CPU (or `backend`) outside any job: for calling a task's `run` directly
    (benchmarks against the raw library, tests). No slots, no store, no cancel."""
    import tempfile
    from pathlib import Path

    from workbench.hardware.backends.cpu import CpuBackend

    backend = backend or CpuBackend(None)
    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="workbench-direct-"))
    return TaskContext(backend.device_id, backend.capabilities(), backend, folder, progress)

