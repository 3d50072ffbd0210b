"""Worker processes owned by a device, for tasks that call native code (RDKit, MuJoCo) and, in
the device's one model worker, tasks that load torch models.

A native crash (a segfault in RDKit's embedding, MuJoCo on a degenerate mesh) would take down
whatever process runs the task: the kernel, the CLI, a Gradio server shared by a class. A task
registered with `isolate=True` runs instead in one of its device's worker processes (spawned
once, kept for the next job, so loaded libraries and caches stay warm). Progress and checkpoints
stream back over a pipe, cancel and drain reach the worker at its next progress report, and a
worker that dies fails that one job with a sentence ("the worker crashed with signal 11 (SIGSEGV)
while running conformers"); the next job gets a fresh worker. Workers exit when their parent is
gone.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import multiprocessing.util  # noqa: F401 - registers its exit handler (it waits for children) before ours
import os
import signal
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from workbench.contract.backend import Backend
from workbench.contract.errors import Cancelled, DeviceLost, WorkbenchError
from workbench.contract.progress import Progress
from workbench.contract.task import TaskContext, TaskSpec
from workbench.jobs.runner import error_from, error_outcome
from workbench.tasks.pool import die_with_parent, spawnable_main

log = logging.getLogger(__name__)

#: how long a worker may take to stop after a cancel before it is killed
STOP_GRACE_S = 30.0
#: a worker that has said nothing for this long after a cancel is inside one native call (RDKit's
#: embedding of a large molecule, say): it is killed rather than waited for (a cancel took 20 s at 0%)
UNRESPONSIVE_S = 2.0
#: how often a cancel is looked for while the worker is silent (between its progress reports)
CANCEL_POLL_S = 0.25


class WorkerCrashed(WorkbenchError):
    """The worker process running the job died (a native crash, the OOM killer)."""


def _serve(conn: Any, backend: Backend, device_id: str, parent: int, cancel: Any) -> None:
    """The worker's loop: run one task at a time, stream its events, send its outcome."""
    die_with_parent(parent)
    conn.send(("ready",))
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message[0] == "status":
            conn.send(("status", _resident()))
            continue
        _, spec, request, checkpoints, workdir, environment = message
        _apply_environment(environment)

        def report(progress: Any) -> None:
            if cancel.is_set():
                raise Cancelled("cancelled")
            conn.send(("progress", progress))

        ctx = TaskContext(device_id, backend.capabilities(), backend, Path(workdir), report, cancel.is_set,
                          checkpoints=checkpoints,
                          save_checkpoint=lambda key, value: conn.send(("checkpoint", key, value)))
        try:
            conn.send(("done", spec.load()(request, ctx)))
        except Exception as exc:
            log.debug("_serve: ignored", exc_info=True)
            conn.send(error_outcome(exc))


def _resident() -> dict[str, Any]:
    """What this worker holds: its pid, the models loaded in it and how often each was really loaded."""
    models = sys.modules.get("workbench.models")
    loaded = sorted({f"{key[0]}{' (tiny)' if key[3] else ''}" for key in getattr(models, "_loaded", {})})
    return {"worker_pid": os.getpid(), "models": loaded, "loads": dict(getattr(models, "load_counts", {}))}


#: environment a job takes from the process that submitted it (model caches, offline mode, settings)
FORWARDED_PREFIXES = ("HF_", "HUGGINGFACE", "TRANSFORMERS_", "WORKBENCH_", "TORCH_", "MUJOCO_")


def forwarded_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_PREFIXES)}


def _apply_environment(environment: dict[str, str]) -> None:
    """In the worker: the submitting process's settings as of this job (a worker outlives them)."""
    for key in [k for k in os.environ if k.startswith(FORWARDED_PREFIXES) and k not in environment]:
        del os.environ[key]
    os.environ.update(environment)


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return f"exit code {code}"
    try:
        return f"signal {-code} ({signal.Signals(-code).name})"
    except ValueError:
        return f"signal {-code}"


#: every live worker, killed at exit: they are not daemonic (a worker may start its own process pool
#: for `workers=2`), so multiprocessing would otherwise wait for them at exit
_live: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _kill_workers() -> None:
    for worker in list(_live):
        # an idle worker leaves on its own (its libraries release their semaphores; a killed one leaves
        # them to the resource tracker, which reports "leaked semaphore objects" on stderr)
        worker.close(grace=2.0)


class Worker:
    """One spawned process serving one device, one job at a time."""

    def __init__(self, backend: Backend, device_id: str):
        mp = multiprocessing.get_context("spawn")
        self.conn, child = mp.Pipe()
        self.cancel = mp.Event()
        self.process = mp.Process(target=_serve, args=(child, backend, device_id, os.getpid(), self.cancel),
                                  name=f"workbench-worker-{device_id}", daemon=False)
        with spawnable_main():
            self.process.start()
        child.close()
        self.started = False  #: the worker reached its loop (it may die while importing the parent's script)
        _live.add(self)

    def _crashed(self, task: str) -> WorkerCrashed:
        how = _signal_name(self.process.exitcode)
        if not self.started:
            return WorkerCrashed(
                f"the worker process for {task} could not start ({how}): a script that runs workbench jobs needs its "
                "code under `if __name__ == \"__main__\":`, as Python's spawned processes import the script again")
        return WorkerCrashed(f"the worker crashed with {how} while running {task}; the device's other jobs go on")

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def run(self, spec: TaskSpec, request: Any, ctx: TaskContext, environment: dict[str, str] | None = None) -> Any:
        """Run the task of `spec` in the worker; its events go to `ctx`. A cancel or drain seen by
        `ctx` stops the worker's task at its next progress report and is raised here once it stopped.
        `environment`: the submitting process's settings (default: this process's)."""
        task = spec.name
        self.cancel.clear()
        self.conn.send(("run", spec, request, dict(ctx.checkpoints), str(ctx.workdir),
                        forwarded_environment() if environment is None else environment))
        stop: BaseException | None = None
        stop_deadline = stopped_at = heard = next_look = 0.0
        while True:
            try:
                message = self.conn.recv() if self.conn.poll(0.05) else None
            except (EOFError, OSError):  # the worker's end is closed: it died
                self.process.join(5)
                raise self._crashed(task) from None
            now = time.monotonic()
            if message is not None:
                heard = now
                kind = message[0]
                if kind == "ready":
                    self.started = True
                elif kind == "progress":
                    if stop is None:
                        try:
                            ctx.progress(message[1])
                        except (Cancelled, DeviceLost) as exc:  # tell the worker; wait for it to stop
                            stop, stop_deadline, stopped_at = exc, now + STOP_GRACE_S, now
                            self.cancel.set()
                elif kind == "checkpoint":
                    ctx.checkpoint(message[1], message[2])
                elif kind == "done":
                    self.cancel.clear()  # the task ended cleanly: the worker is free for the next job
                    if stop is not None:
                        raise stop
                    return message[1]
                else:
                    self.cancel.clear()
                    if stop is not None:
                        raise stop
                    raise error_from(message[1], message[2])
            elif not self.process.is_alive():
                raise self._crashed(task)
            elif stop is None and now >= next_look:  # a cancel while the worker is busy between reports
                next_look = now + CANCEL_POLL_S
                if ctx.cancelled():
                    stop, stop_deadline, stopped_at = Cancelled("cancelled by the user"), now + STOP_GRACE_S, now
                    self.cancel.set()
            elif stop is not None and (now > stop_deadline
                                       or (heard < stopped_at and now > stopped_at + UNRESPONSIVE_S)):
                self.process.kill()  # the next job gets a fresh worker
                self.process.join(5)
                raise stop

    def close(self, grace: float = 0.0) -> None:
        """Stop the worker: with `grace`, let it leave its loop first (it sees the pipe close and exits
        normally, releasing what its libraries hold), then kill it if it has not."""
        if grace and self.process.is_alive():
            self.conn.close()
            self.process.join(grace)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


def isolation_policy() -> str:
    """"all" (the default): model tasks run in a worker process too; "native": only tasks marked
    `isolate` do (models then load in the submitting process), from WORKBENCH_ISOLATE."""
    from workbench.settings import settings

    return settings().isolate


class WorkerPool:
    """A device's workers: at most one per slot (or `limit`), started on demand, replaced when one dies.

    With `limit=1` it is the device's model worker: jobs take turns in one process, so a model is
    loaded once and kept (two processes would hold two copies of a 3-billion-parameter model)."""

    def __init__(self, backend: Backend, device_id: str, limit: int | None = None):
        self.backend, self.device_id = backend, device_id
        self._idle: list[Worker] = []
        self._lock = threading.Lock()
        self._turns = threading.BoundedSemaphore(limit) if limit else None
        self._last_status: dict[str, Any] = {}
        self._running = 0  #: jobs inside a worker now

    def run(self, spec: TaskSpec, request: Any, ctx: TaskContext, environment: dict[str, str] | None = None) -> Any:
        if self._turns is None:
            return self._run(spec, request, ctx, environment)
        with self._turns:
            return self._run(spec, request, ctx, environment)

    def status(self) -> dict[str, Any]:
        """What an idle worker holds (`_resident`); while every worker is busy, what the last look saw."""
        with self._lock:
            for worker in self._idle:
                if worker.alive:
                    try:
                        worker.conn.send(("status",))
                        while worker.conn.poll(10):
                            reply = worker.conn.recv()
                            if reply[0] == "status":
                                self._last_status = dict(reply[1], busy=False)
                                return self._last_status
                    except (EOFError, OSError):
                        continue
            return {"models": [], "loads": {}, **self._last_status, "busy": self._running > 0}

    def _run(self, spec: TaskSpec, request: Any, ctx: TaskContext, environment: dict[str, str] | None) -> Any:
        with self._lock:
            worker = None
            while self._idle and worker is None:
                candidate = self._idle.pop()
                worker = candidate if candidate.alive else None
        if worker is None:
            ctx.progress(Progress(0, None, f"starting a worker process on {self.device_id} (native code runs there, "
                                           "so a crash fails one job)"))
            worker = Worker(self.backend, self.device_id)
        try:
            with self._lock:
                self._running += 1
            try:
                result = worker.run(spec, request, ctx, environment)
            finally:
                with self._lock:
                    self._running -= 1
        except BaseException:
            if worker.alive and not worker.cancel.is_set():
                self._give_back(worker)
            else:
                worker.close()
            raise
        self._give_back(worker)
        return result

    def _give_back(self, worker: Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def close(self) -> None:
        with self._lock:
            for w in self._idle:
                w.close()
            self._idle.clear()
