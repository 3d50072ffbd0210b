"""Local devices: the CPU and every accelerator torch exposes in this process.

Discovery asks `torch.accelerator` first (torch >= 2.6 knows CUDA, MPS, XPU and the
PrivateUse1 plug-ins such as `torch_npu` once they are imported) and falls back per
backend on older torch. A `LocalDevice` runs jobs on worker threads: torch and RDKit
release the GIL in their kernels, and tasks that need processes fan out themselves.
"""

from __future__ import annotations

import os
import platform
import threading
from typing import Any

import torch

from workbench.devices.base import Capabilities
from workbench.errors import DeviceError
from workbench.jobs.job import Job, JobState, Progress, ProgressCallback
from workbench.jobs.runner import JobQueue, execute, settle
from workbench.jobs.store import ResultStore, default_store
from workbench.tasks.registry import TaskLike, resolve


class LocalDevice:
    """A device in this process: one queue, `concurrency` workers, the shared runner."""

    def __init__(self, capabilities: Capabilities, *, id: str | None = None,
                 concurrency: int | None = None, store: ResultStore | None = None):
        self.id = id or capabilities.torch_device
        self._caps = capabilities
        self._store = store
        self._fault: str | None = None
        if concurrency is None:
            concurrency = 2 if capabilities.kind == "cpu" else 1
        self.concurrency = concurrency
        self._queue: JobQueue | None = None
        self._queue_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}: {self._caps.name}>"

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    @property
    def store(self) -> ResultStore:
        return self._store or default_store()

    def _jobs(self) -> JobQueue:
        with self._queue_lock:
            if self._queue is None:
                self._queue = JobQueue(self.id, self.concurrency, self._run)
            return self._queue

    def load(self) -> int:
        return self._queue.load() if self._queue else 0

    def submit(self, task: TaskLike, request: Any, *, task_name: str | None = None) -> Job:
        if self._fault:
            raise DeviceError(f"Device {self.id} is not working: {self._fault}")
        name, fn = resolve(task, task_name)
        job = Job(name, request, self.id)
        job._task = fn
        job._store = self.store
        job._store.register(job)
        self._jobs().put(job)
        return job

    def _guard(self, progress: ProgressCallback) -> ProgressCallback:
        """The task's progress callback, which also notices the device failing."""

        def guarded(p: Progress) -> None:
            if self._fault:
                raise DeviceError(f"Device {self.id} stopped working mid job: {self._fault}")
            progress(p)

        return guarded

    def _run(self, job: Job) -> None:
        if self._fault:
            settle(job, job._store, JobState.FAILED,
                   reason=f"Device {self.id} stopped working before the job started: {self._fault}")
            return
        fn = job._task

        def on_device(request: Any, *, device: str, progress: ProgressCallback) -> Any:
            return fn(request, device=device, progress=self._guard(progress))

        execute(job, on_device, self._caps.torch_device, job._store)

    def fail(self, reason: str) -> None:
        """Mark the device broken (a lost accelerator, an unplugged simulator): running
        jobs fail at their next progress report, queued ones at once, new ones are refused."""
        self._fault = reason
        if self._queue is not None:
            for job in self._queue.drain():
                self._run(job)

    def shutdown(self, *, reason: str = "the device was shut down") -> None:
        self.fail(reason)
        if self._queue is not None:
            self._queue.close()


# ---- discovery --------------------------------------------------------------------------

def _meminfo() -> tuple[int, int]:
    total = free = 0
    try:
        with open("/proc/meminfo") as fh:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in fh}
        total, free = info.get("MemTotal", 0), info.get("MemAvailable", info.get("MemFree", 0))
    except (OSError, ValueError):
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            free = total // 2
        except (ValueError, OSError, AttributeError):
            pass
    return total, free


def _cpu_name() -> str:
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name} ({os.cpu_count()} cores)"


def cpu_capabilities() -> Capabilities:
    total, free = _meminfo()
    return Capabilities(
        kind="cpu", index=None, name=_cpu_name(), total_memory=total, free_memory=free,
        dtypes=("float64", "float32", "bfloat16", "float16"), torch_device="cpu",
        fast_dtype="float32", extra={"threads": torch.get_num_threads()},
    )


def _backend(kind: str) -> Any:
    return getattr(torch, kind, None)


def accelerator_kinds() -> dict[str, int]:
    """{device type: count} for every accelerator torch can see in this process."""
    found: dict[str, int] = {}
    acc = getattr(torch, "accelerator", None)
    if acc is not None and hasattr(acc, "is_available"):
        try:
            if acc.is_available():
                found[acc.current_accelerator().type] = acc.device_count()
        except Exception:  # a half-installed vendor plug-in must not break discovery
            pass
    for kind in ("cuda", "xpu", "npu", "mlu"):
        mod = _backend(kind)
        try:
            if kind not in found and mod is not None and mod.is_available():
                found[kind] = mod.device_count()
        except Exception:
            pass
    try:
        if "mps" not in found and torch.backends.mps.is_available():
            found["mps"] = 1
    except Exception:
        pass
    return {k: n for k, n in found.items() if n > 0}


def memory_info(torch_device: str) -> tuple[int, int]:
    """(free, total) bytes of a torch device now: RAM for the CPU, the backend's figures otherwise
    ((0, 0) when the backend cannot say)."""
    dev = torch.device(torch_device)
    if dev.type == "cpu":
        total, free = _meminfo()
        return free, total
    mod, index = _backend(dev.type), dev.index or 0
    try:
        if mod is not None and hasattr(mod, "mem_get_info"):
            free, total = mod.mem_get_info(index)
        elif dev.type == "mps":
            total = _meminfo()[0]
            free = total - torch.mps.driver_allocated_memory()
        elif hasattr(torch.accelerator, "get_memory_info"):
            free, total = torch.accelerator.get_memory_info(index)
        else:
            return 0, 0
    except Exception:
        return 0, 0
    return int(free), int(total)


def free_memory(torch_device: str) -> int:
    return memory_info(torch_device)[0]


def accelerator_capabilities(kind: str, index: int) -> Capabilities:
    mod = _backend(kind)
    name = f"{kind}:{index}"
    try:
        if mod is not None and hasattr(mod, "get_device_name"):
            name = mod.get_device_name(index)
    except Exception:
        pass
    free, total = memory_info(f"{kind}:{index}")
    dtypes = ["float32", "float16"]
    if kind in ("cuda", "xpu"):
        dtypes.insert(0, "float64")
    bf16 = True
    if kind == "cuda":
        try:
            bf16 = torch.cuda.is_bf16_supported()
        except Exception:
            bf16 = False
    if bf16:
        dtypes.append("bfloat16")
    fast = "bfloat16" if bf16 else "float16"
    return Capabilities(
        kind=kind, index=index, name=name, total_memory=int(total), free_memory=int(free),
        dtypes=tuple(dtypes), torch_device=f"{kind}:{index}", fast_dtype=fast,
        extra={"driver": driver_version(kind)},
    )


def driver_version(kind: str) -> str | None:
    """The toolkit version torch was built with for this backend (CUDA, ROCm, XPU...)."""
    if kind == "cpu":
        return None
    if kind == "cuda":
        return torch.version.cuda or getattr(torch.version, "hip", None)
    return getattr(torch.version, kind, None)


def discover() -> list[LocalDevice]:
    """The CPU plus one device per visible accelerator."""
    devices = [LocalDevice(cpu_capabilities())]
    for kind, count in accelerator_kinds().items():
        devices.extend(LocalDevice(accelerator_capabilities(kind, i)) for i in range(count))
    return devices
