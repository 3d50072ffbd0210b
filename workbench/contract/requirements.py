"""What a task needs from a device, and in words what a device lacks."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.contract.capabilities import Capabilities, format_bytes


@dataclass(frozen=True)
class Requirements:
    """What a task needs from a device. Empty means: any device will do."""

    min_memory: int = 0  #: bytes of free memory
    dtype: str | None = None  #: a dtype the device must compute in ("float64", "bfloat16")
    kinds: tuple[str, ...] = ()  #: acceptable device kinds; empty means any
    accelerator: bool = False  #: refuse the CPU
    workload: str = "compute"  #: "compute" ranks by TFLOP/s, "memory" by GB/s
    fast_dtype: bool = True  #: rank by the device's fast dtype rather than float32

    def describe(self) -> str:
        parts = []
        if self.min_memory:
            parts.append(f"{format_bytes(self.min_memory)} free memory")
        if self.dtype:
            parts.append(f"{self.dtype} support")
        if self.kinds:
            parts.append("a device of kind " + " or ".join(self.kinds))
        if self.accelerator:
            parts.append("an accelerator")
        return ", ".join(parts) or "nothing special"

    def unmet(self, caps: Capabilities) -> list[str]:
        """Why a device with `caps` cannot run the task, one clause per missing thing."""
        why = []
        if self.kinds and caps.kind not in self.kinds:
            why.append(f"it is a {caps.kind} device and the task needs {' or '.join(self.kinds)}")
        if self.accelerator and not caps.is_accelerator:
            why.append("the task needs an accelerator")
        if self.dtype and not caps.supports(self.dtype):
            why.append(f"it does not compute in {self.dtype} (it has {', '.join(caps.dtypes)})")
        if self.min_memory and caps.free_memory < self.min_memory:
            have, need = format_bytes(caps.free_memory), format_bytes(self.min_memory)
            if have == need:  # "has 17.3 GiB and needs 17.3 GiB" reads as no reason at all
                have, need = f"{caps.free_memory / 2**20:,.0f} MiB", f"{self.min_memory / 2**20:,.0f} MiB"
            why.append(f"it has {have} free and the task needs {need}")
        return why
