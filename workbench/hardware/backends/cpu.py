"""The host CPU: one device, RAM as its memory, every float dtype, float32 preferred."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from workbench.contract.backend import Backend
from workbench.hardware.backends.torch_backend import TorchBackend
from workbench.hardware.host import cpu_name, meminfo


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

    def busy(self) -> float | None:
        from workbench.hardware.cpu_load import HOST_LOAD

        return HOST_LOAD.others()

    def busy_mark(self) -> object | None:
        from workbench.hardware.cpu_load import HOST_LOAD

        return HOST_LOAD.read()

    def busy_since(self, mark: object | None) -> float | None:
        from workbench.hardware.cpu_load import HOST_LOAD

        return HOST_LOAD.share_since(mark) if isinstance(mark, tuple) else None

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
