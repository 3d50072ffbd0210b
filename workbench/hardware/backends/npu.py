"""Huawei Ascend NPUs through the `torch_npu` plug-in (imported here when installed): no float64,
bfloat16 preferred on Ascend 910B and later."""

from __future__ import annotations

import logging

from workbench.contract.backend import Backend
from workbench.hardware.backends.torch_backend import TorchBackend

log = logging.getLogger(__name__)


class NpuBackend(TorchBackend):
    name = "npu"
    torch_kind = "npu"

    @classmethod
    def discover(cls) -> list[Backend]:
        try:  # the plug-in registers torch.npu when imported
            import torch_npu  # noqa: F401
        except Exception:
            log.debug("NpuBackend.discover: ignored", exc_info=True)
            return []
        return super().discover()

    def dtypes(self) -> tuple[str, ...]:
        return ("float32", "bfloat16", "float16")
