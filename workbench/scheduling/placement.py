"""Choosing a device: hard requirements first, then the measured profiles, then load.

A task states what it needs (`Requirements`); `unmet` says in words what a device lacks;
`choose` picks, among devices that satisfy the task, the one expected to finish first:
its profile figure for the task's kind of work, divided by the work already queued there.
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.contract.errors import DeviceError
from workbench.contract.requirements import Requirements
from workbench.hardware.base import Device
from workbench.scheduling.profiles import DeviceProfile, cached_profiles

# Rough figures for devices never profiled, so an unprofiled GPU still beats the CPU.
DEFAULT_TFLOPS = {"cpu": 0.1}
DEFAULT_TFLOPS_ACCELERATOR = 10.0
DEFAULT_GBPS = {"cpu": 10.0}
DEFAULT_GBPS_ACCELERATOR = 300.0


def unmet(device: Device, req: Requirements) -> list[str]:
    """Why `device` cannot run a task with `req`, one clause per missing thing."""
    return req.unmet(device.capabilities)


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
    """The best device that satisfies `req`; `DeviceError` naming what is missing if none.
    `profiles`: by device id (default: the cached profiles of `devices`)."""
    fit = [d for d in devices if not unmet(d, req)]
    if not fit:
        lines = "; ".join(f"{d.id}: {', '.join(unmet(d, req))}" for d in devices)
        raise DeviceError(
            f"No device can run this task: it needs {req.describe()}. {lines}."
            if devices else "No device is available."
        )
    if len(fit) == 1:
        return fit[0]
    profiles = cached_profiles(fit) if profiles is None else profiles
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
