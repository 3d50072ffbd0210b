"""What every torch-driven chip family shares: torch's per-backend module (`torch.cuda`, `torch.npu`...)
and `torch.accelerator` answer memory, synchronize, empty-cache and seeding the same way.

A family class sets `name`, `torch_kind` and overrides only what differs (dtypes, thresholds).
"""

from __future__ import annotations

import contextlib
import logging
from contextlib import AbstractContextManager
from typing import Any

import torch

from workbench.contract.backend import Backend

log = logging.getLogger(__name__)


class TorchBackend(Backend):
    """A chip that torch drives through `torch.<torch_kind>` (built in or a PrivateUse1 plug-in)."""

    @classmethod
    def module(cls) -> Any:
        return getattr(torch, cls.torch_kind, None)

    @classmethod
    def count(cls) -> int:
        mod = cls.module()
        try:
            if mod is not None and mod.is_available():
                return int(mod.device_count())
        except Exception:  # a half-installed vendor plug-in must not break discovery
            log.debug("TorchBackend.count: ignored", exc_info=True)
            return 0
        return 0

    @classmethod
    def discover(cls) -> list[Backend]:
        return [cls(i) for i in range(cls.count())]

    def device_name(self) -> str:
        mod = self.module()
        try:
            if mod is not None and hasattr(mod, "get_device_name"):
                return str(mod.get_device_name(self.index or 0))
        except Exception:
            log.debug("TorchBackend.device_name: ignored", exc_info=True)
        return self.device_id

    def memory_info(self) -> tuple[int, int]:
        mod, index = self.module(), self.index or 0
        try:
            if mod is not None and hasattr(mod, "mem_get_info"):
                free, total = mod.mem_get_info(index)
            elif hasattr(torch.accelerator, "get_memory_info"):
                free, total = torch.accelerator.get_memory_info(index)
            else:
                return 0, 0
        except Exception:
            log.debug("TorchBackend.memory_info: ignored", exc_info=True)
            return 0, 0
        return int(free), int(total)

    def dtypes(self) -> tuple[str, ...]:
        return ("float32", "bfloat16", "float16")

    def driver_version(self) -> str | None:
        return getattr(torch.version, self.torch_kind, None)

    def autocast(self, dtype: str) -> AbstractContextManager:
        if dtype == "float32":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.torch_kind, dtype=getattr(torch, dtype))

    def synchronize(self) -> None:
        mod = self.module()
        if mod is not None and hasattr(mod, "synchronize"):
            mod.synchronize(torch.device(self.torch_device))

    def empty_cache(self) -> None:
        mod = self.module()
        if mod is not None and hasattr(mod, "empty_cache"):
            mod.empty_cache()

    def fork_rng(self) -> AbstractContextManager:
        return torch.random.fork_rng(device_type=self.torch_kind)

    def seed(self, seed: int) -> None:
        torch.manual_seed(seed)
        mod = self.module()
        if mod is not None and hasattr(mod, "manual_seed_all"):
            mod.manual_seed_all(seed)
