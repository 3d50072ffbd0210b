"""The remote half of a Ray device: an actor that keeps models loaded and runs tasks.

One actor per Ray device holds the device's resource (a GPU, an NPU, a CPU slot) for its
lifetime, so models loaded by a job stay in its process for the next one. `run` is a
streaming generator: progress events travel back in order as the task reports them,
then one final outcome. Cancel is cooperative, as locally: `cancel(job_id)` makes the
task's next progress report raise.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import tempfile
import threading
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from workbench.contract.backend import Backend
from workbench.contract.errors import Cancelled, DeviceLost
from workbench.contract.task import TaskContext
from workbench.hardware.backends import BUILTIN, AcceleratorBackend, CpuBackend
from workbench.jobs.codec import result_files, with_files
from workbench.jobs.runner import error_outcome
from workbench.tasks.registry import task_function

log = logging.getLogger(__name__)


def node_backend(kind: str) -> tuple[Backend, str]:
    """(backend, note): the node's first device of `kind` by its backend class (built in or a
    plug-in), else the node's CPU, said so."""
    if kind == "cpu":
        return CpuBackend(None), ""
    wanted = "cuda" if kind in ("gpu", "cuda") else kind
    classes: list[type[Backend]] = [*BUILTIN]
    for ep in entry_points(group="workbench.devices"):
        try:
            obj = ep.load()
            if isinstance(obj, type) and issubclass(obj, Backend):
                classes.append(obj)
        except Exception:
            log.debug("node_backend: ignored", exc_info=True)
            continue
    for cls in classes:
        try:
            found = [b for b in cls.discover() if b.device_kind == wanted]
        except Exception:
            log.debug("node_backend: ignored", exc_info=True)
            continue
        if found:
            return found[0], ""
    generic = [b for b in AcceleratorBackend.discover() if b.device_kind == wanted]
    if generic:
        return generic[0], ""
    return CpuBackend(None), (f"the node declares a {kind.upper()} resource but torch sees no {wanted} device "
                              "(no vendor plug-in?); computing on its CPU")


class DeviceWorker:
    """Runs tasks for one Ray device. Created as a threaded Ray actor by `RayDevice`."""

    def __init__(self, kind: str, device_id: str = "", threads: int | None = None):
        if threads:  # a node's device computes on the cores the node declares, not on the whole host
            import torch

            torch.set_num_threads(threads)
        self.kind = kind
        self.device_id = device_id or f"ray:{kind}"
        self.backend, self.note = node_backend(kind)
        self.torch_device = self.backend.torch_device
        self._cancelled: set[str] = set()
        self._draining: set[str] = set()

    def info(self) -> dict[str, Any]:
        import ray

        from workbench import models

        return {"torch_device": self.torch_device, "note": self.note, "pid": os.getpid(),
                "node_id": ray.get_runtime_context().get_node_id(), "load_counts": dict(models.load_counts),
                "capabilities": self.backend.capabilities().to_dict()}

    def busy(self) -> float | None:
        """Other work on this node's device: its backend's counter (the node's cores for a CPU)."""
        return self.backend.busy()

    def cancel(self, job_id: str) -> None:
        self._cancelled.add(job_id)

    def drain(self, job_id: str) -> None:
        """The device is drained: the task stops at its next progress report, its checkpoints kept."""
        self._draining.add(job_id)

    def run(self, job_id: str, task: Any, request: Any, checkpoints: dict | None = None) -> Iterator[tuple]:
        """Yields ("progress", Progress)..., ("busy", share) after the task ran, then ("done", result, files)
        or ("error", kind, message)."""
        events: queue.Queue = queue.Queue()
        name, fn = task_function(task)

        def progress(p: Any) -> None:
            if job_id in self._cancelled:
                raise Cancelled("cancelled by the user")
            if job_id in self._draining:
                raise DeviceLost(f"{self.device_id} was drained")
            events.put(("progress", p))

        workdir = Path(tempfile.mkdtemp(prefix=f"workbench-{job_id}-"))
        ctx = TaskContext(self.device_id, self.backend.capabilities(), self.backend, workdir, progress,
                          lambda: job_id in self._cancelled, checkpoints=dict(checkpoints or {}),
                          save_checkpoint=lambda key, value: events.put(("checkpoint", key, value)))

        def target() -> None:
            try:
                mark = self.backend.busy_mark()
                result = fn(request, ctx)
                if mark is not None:  # how busy other work kept the node's device meanwhile
                    events.put(("busy", self.backend.busy_since(mark)))
                files = {}
                for key, path in result_files(result).items():  # files travel back as bytes
                    files[key] = (path.name, Path(path).read_bytes())
                events.put(("done", with_files(result, {}) if files else result, files))
            except Exception as exc:  # our errors keep their sentence; a real fault its type and first line
                log.debug("DeviceWorker.run.target: ignored", exc_info=True)
                events.put(error_outcome(exc))
            finally:
                shutil.rmtree(workdir, ignore_errors=True)

        if self.note:
            yield ("note", self.note)
        threading.Thread(target=target, name=f"workbench-ray-{job_id}", daemon=True).start()
        while True:
            item = events.get()
            yield item
            if item[0] in ("done", "error"):
                self._cancelled.discard(job_id)
                self._draining.discard(job_id)
                return


def materialise(files: dict[str, tuple[str, bytes]]) -> dict[str, Path]:
    """Write files that came back from a remote worker into a local temporary folder."""
    out = Path(tempfile.mkdtemp(prefix="workbench-ray-"))
    paths = {}
    for key, (name, data) in files.items():
        p = out / name
        if p.exists():
            p = out / f"{key}-{name}"
        p.write_bytes(data)
        paths[key] = p
    return paths
