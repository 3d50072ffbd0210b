"""Intel GPUs through torch's XPU backend: float64, bfloat16 preferred."""

from __future__ import annotations

from workbench.hardware.backends.torch_backend import TorchBackend


class XpuBackend(TorchBackend):
    name = "xpu"
    torch_kind = "xpu"

    def dtypes(self) -> tuple[str, ...]:
        return ("float64", "float32", "bfloat16", "float16")
