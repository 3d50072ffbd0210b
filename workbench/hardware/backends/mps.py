"""Apple Silicon through Metal (MPS): unified memory, float16 preferred, no float64."""

from __future__ import annotations

import logging

import torch

from workbench.contract.backend import Backend
from workbench.hardware.backends.torch_backend import TorchBackend
from workbench.hardware.host import meminfo

log = logging.getLogger(__name__)


class MpsBackend(TorchBackend):
    name = "mps"
    torch_kind = "mps"

    @classmethod
    def count(cls) -> int:
        try:
            return 1 if torch.backends.mps.is_available() else 0
        except Exception:
            log.debug("MpsBackend.count: ignored", exc_info=True)
            return 0

    @classmethod
    def discover(cls) -> list[Backend]:
        return [cls(0)] if cls.count() else []

    def device_name(self) -> str:
        return "Apple GPU (MPS)"

    def memory_info(self) -> tuple[int, int]:
        total = meminfo()[0]
        try:
            return int(total - torch.mps.driver_allocated_memory()), int(total)
        except Exception:
            log.debug("MpsBackend.memory_info: ignored", exc_info=True)
            return 0, int(total)

    def dtypes(self) -> tuple[str, ...]:
        return ("float32", "float16", "bfloat16")

    def preferred_dtype(self) -> str:
        return "float16"
