"""The host CPU: one device, RAM as its memory, every float dtype, float32 preferred."""

from __future__ import annotations

import os
import platform
from contextlib import AbstractContextManager, nullcontext

import torch

from workbench.contract.backend import Backend
from workbench.contract.capabilities import parse_size
from workbench.hardware.backends.torch_backend import TorchBackend


#: Pretend this much RAM is free (`8GiB`): memory checks then decide as on a machine with that much,
#: whatever this one has free now. The test suite sets it, so no test depends on the machine's mood.
FREE_MEMORY_ENV = "WORKBENCH_FREE_MEMORY"


def meminfo() -> tuple[int, int]:
    """(total, available) bytes of RAM; available is `WORKBENCH_FREE_MEMORY` when that is set."""
    figure = os.environ.get(FREE_MEMORY_ENV, "").strip()
    if figure:
        free = parse_size(figure)
        return max(_meminfo()[0], free), free
    return _meminfo()


def _meminfo() -> tuple[int, int]:
    try:
        with open("/proc/meminfo") as fh:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in fh}
        return info.get("MemTotal", 0), info.get("MemAvailable", info.get("MemFree", 0))
    except (OSError, ValueError):
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            return total, total // 2
        except (ValueError, OSError, AttributeError):
            return 0, 0


def cpu_name() -> str:
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


class CpuBackend(TorchBackend):
    name = "cpu"
    torch_kind = "cpu"
    attention_slicing_below = 0  # RAM is paged; slicing only slows the CPU down
    concurrency = 2

    @classmethod
    def discover(cls) -> list[Backend]:
        return [cls(None)]

    def device_name(self) -> str:
        return cpu_name()

    def memory_info(self) -> tuple[int, int]:
        total, free = meminfo()
        return free, total

    def dtypes(self) -> tuple[str, ...]:
        return ("float64", "float32", "bfloat16", "float16")

    def preferred_dtype(self) -> str:
        return "float32"  # CPU kernels are fastest and exact in float32

    def driver_version(self) -> str | None:
        return None

    def extra(self) -> dict:
        return {"threads": torch.get_num_threads()}

    def autocast(self, dtype: str) -> AbstractContextManager:
        if dtype == "float32":
            return nullcontext()
        return torch.autocast(device_type="cpu", dtype=getattr(torch, dtype))

    def synchronize(self) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def fork_rng(self) -> AbstractContextManager:
        return torch.random.fork_rng(devices=[])

    def seed(self, seed: int) -> None:
        torch.manual_seed(seed)
