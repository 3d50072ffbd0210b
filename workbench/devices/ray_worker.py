"""The remote half of a Ray device: an actor that keeps models loaded and runs tasks.

One actor per Ray device holds the device's resource (a GPU, an NPU, a CPU slot) for its
lifetime, so models loaded by a job stay in its process for the next one. `run` is a
streaming generator: progress events travel back in order as the task reports them,
then one final outcome. Cancel is cooperative, as locally: `cancel(job_id)` makes the
task's next progress report raise.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.errors import Cancelled, InputError, WorkbenchError


def resolve_torch_device(kind: str) -> tuple[str, str]:
    """(torch device string, note): the node's accelerator of `kind`, else the CPU, said so."""
    if kind == "cpu":
        return "cpu", ""
    from workbench.devices.local import accelerator_kinds

    kinds = accelerator_kinds()
    torch_kind = "cuda" if kind in ("gpu", "cuda") else kind
    if torch_kind in kinds:
        return f"{torch_kind}:0", ""
    return "cpu", (f"the node declares a {kind.upper()} resource but torch sees no {torch_kind} device "
                   "(no vendor plug-in?); computing on its CPU")


class DeviceWorker:
    """Runs tasks for one Ray device. Created as a threaded Ray actor by `RayDevice`."""

    def __init__(self, kind: str):
        self.kind = kind
        self.torch_device, self.note = resolve_torch_device(kind)
        self._cancelled: set[str] = set()

    def info(self) -> dict[str, Any]:
        import ray

        from workbench import models

        return {"torch_device": self.torch_device, "note": self.note, "pid": os.getpid(),
                "node_id": ray.get_runtime_context().get_node_id(), "load_counts": dict(models.load_counts)}

    def cancel(self, job_id: str) -> None:
        self._cancelled.add(job_id)

    def run(self, job_id: str, task: Any, request: Any) -> Iterator[tuple]:
        """Yields ("progress", Progress)..., then ("done", result, files) or ("error", kind, message)."""
        from workbench.jobs.serialize import result_files, with_files
        from workbench.tasks.registry import resolve

        events: queue.Queue = queue.Queue()
        name, fn = resolve(task)

        def progress(p: Any) -> None:
            if job_id in self._cancelled:
                raise Cancelled("cancelled by the user")
            events.put(("progress", p))

        def target() -> None:
            try:
                result = fn(request, device=self.torch_device, progress=progress)
                files = {}
                for key, path in result_files(result).items():  # files travel back as bytes
                    files[key] = (path.name, Path(path).read_bytes())
                events.put(("done", with_files(result, {}) if files else result, files))
            except Cancelled as exc:
                events.put(("error", "cancelled", str(exc)))
            except InputError as exc:
                events.put(("error", "input", str(exc)))
            except WorkbenchError as exc:
                events.put(("error", "workbench", str(exc)))
            except Exception as exc:  # a real fault: type and first line
                from workbench.jobs.runner import readable_reason

                events.put(("error", "fault", readable_reason(exc)))

        if self.note:
            yield ("note", self.note)
        threading.Thread(target=target, name=f"workbench-ray-{job_id}", daemon=True).start()
        while True:
            item = events.get()
            yield item
            if item[0] in ("done", "error"):
                self._cancelled.discard(job_id)
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
