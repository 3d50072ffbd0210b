"""NVIDIA CUDA (and AMD ROCm, which torch exposes as `cuda`): float16 preferred, bfloat16 where
the chip has it, model CPU offload under 2 GiB free."""

from __future__ import annotations

import logging

import torch

from workbench.contract.capabilities import GiB
from workbench.hardware.backends.torch_backend import TorchBackend

log = logging.getLogger(__name__)


class CudaBackend(TorchBackend):
    name = "cuda"
    torch_kind = "cuda"
    cpu_offload_below = 2 * GiB

    def dtypes(self) -> tuple[str, ...]:
        try:
            bf16 = bool(torch.cuda.is_bf16_supported())
        except Exception:
            log.debug("CudaBackend.dtypes: ignored", exc_info=True)
            bf16 = False
        return ("float64", "float32", "float16", *(("bfloat16",) if bf16 else ()))

    def preferred_dtype(self) -> str:
        return "float16"  # tensor cores on every CUDA generation; bf16 only on some

    def busy(self) -> float | None:
        """The GPU's utilisation counter (NVML, through torch; None without pynvml): busy from any process."""
        try:
            return float(self.module().utilization(self.index or 0)) / 100
        except Exception:  # noqa: BLE001 - no NVML: unknown, not idle
            log.debug("CudaBackend.busy: ignored", exc_info=True)
            return None

    def driver_version(self) -> str | None:
        return torch.version.cuda or getattr(torch.version, "hip", None)

    def memory_info(self) -> tuple[int, int]:
        try:
            free, total = torch.cuda.mem_get_info(self.index or 0)
        except Exception:
            log.debug("CudaBackend.memory_info: ignored", exc_info=True)
            return 0, 0
        return int(free), int(total)
