"""Choosing a device: hard requirements first, then the measured profiles, then load.

A task states what it needs (`Requirements`); `unmet` says in words what a device lacks;
`choose` picks, among devices that satisfy the task, the one expected to finish first:
its profile figure for the task's kind of work, divided by the work already queued there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.devices.base import Device, format_bytes
from workbench.errors import DeviceError

if TYPE_CHECKING:
    from workbench.devices.profile import DeviceProfile

# Rough figures for devices never profiled, so an unprofiled GPU still beats the CPU.
DEFAULT_TFLOPS = {"cpu": 0.1}
DEFAULT_TFLOPS_ACCELERATOR = 10.0
DEFAULT_GBPS = {"cpu": 10.0}
DEFAULT_GBPS_ACCELERATOR = 300.0


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


def unmet(device: Device, req: Requirements) -> list[str]:
    """Why `device` cannot run a task with `req`, one clause per missing thing."""
    caps = device.capabilities
    why = []
    if req.kinds and caps.kind not in req.kinds:
        why.append(f"it is a {caps.kind} device and the task needs {' or '.join(req.kinds)}")
    if req.accelerator and not caps.is_accelerator:
        why.append("the task needs an accelerator")
    if req.dtype and not caps.supports(req.dtype):
        why.append(f"it does not compute in {req.dtype} (it has {', '.join(caps.dtypes)})")
    if req.min_memory and caps.free_memory < req.min_memory:
        why.append(
            f"it has {format_bytes(caps.free_memory)} free and the task needs "
            f"{format_bytes(req.min_memory)}"
        )
    return why


def expected_speed(device: Device, req: Requirements, profile: DeviceProfile | None) -> float:
    """The figure of merit for this task's workload: TFLOP/s or GB/s."""
    caps = device.capabilities
    if req.workload == "memory":
        if profile and profile.memory_gbps:
            return profile.memory_gbps
        return DEFAULT_GBPS.get(caps.kind, DEFAULT_GBPS_ACCELERATOR)
    if profile:
        fast = profile.matmul_tflops_fast if req.fast_dtype else None
        value = fast or profile.matmul_tflops_fp32
        if value:
            return value
    return DEFAULT_TFLOPS.get(caps.kind, DEFAULT_TFLOPS_ACCELERATOR)


def score(device: Device, req: Requirements, profile: DeviceProfile | None) -> float:
    """Higher is better: speed shared by the jobs already waiting on the device."""
    return expected_speed(device, req, profile) / (1 + device.load())


def choose(
    devices: Sequence[Device],
    req: Requirements,
    profiles: dict[str, DeviceProfile] | None = None,
) -> Device:
    """The best device that satisfies `req`; `DeviceError` naming what is missing if none."""
    profiles = profiles or {}
    fit = [d for d in devices if not unmet(d, req)]
    if not fit:
        lines = "; ".join(f"{d.id}: {', '.join(unmet(d, req))}" for d in devices)
        raise DeviceError(
            f"No device can run this task: it needs {req.describe()}. {lines}."
            if devices else "No device is available."
        )
    return max(fit, key=lambda d: score(d, req, profiles.get(d.id)))


def refusal(device: Device, req: Requirements, devices: Sequence[Device]) -> str:
    """One sentence: why the named device cannot run the task, and which would."""
    why = "; ".join(unmet(device, req))
    others = [d.id for d in devices if d.id != device.id and not unmet(d, req)]
    hint = (
        f" Use {' or '.join(others)} instead, or device='auto'."
        if others else " No available device can; it needs " + req.describe() + "."
    )
    return f"Device {device.id} cannot run this task: {why}.{hint}"


def check(device: Device, req: Requirements, devices: Sequence[Device]) -> None:
    if unmet(device, req):
        raise DeviceError(refusal(device, req, devices))
