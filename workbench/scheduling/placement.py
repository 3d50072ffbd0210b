"""Choosing a device: hard requirements first, then the predicted finish time.

A task states what it needs (`Requirements`); `unmet` says in words what a device lacks. Among
the devices that satisfy it, `place` predicts when this job would finish on each: the work
queued there plus this job's size, divided by the device's measured rate for this task and
model (`jobs.perf`: history and `workbench bench`). A device never measured on the task gets
the rate of one that was, scaled by their matmul (or copy) figures; with no per-task figure at
all, the matmul figure divided by the queue ranks them. Rates are kept in idle terms and shared
with what other work uses of the device now (`Device.busy`: the host's CPU load, a GPU's
utilisation), so a device another process keeps busy is avoided while it is; a run that misses
its prediction by 2x corrects its device's rate at once (`perf.figures`). The choice comes with its
reason: "placed on X: about 12 s, vs Y about 40 s with 2 queued (60% busy with other work)".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.contract.errors import DeviceError
from workbench.contract.requirements import Requirements
from workbench.hardware.base import Device
from workbench.jobs import perf
from workbench.jobs.store import default_store
from workbench.scheduling.profiles import DeviceProfile, cached_profiles

# Rough figures for devices never profiled, so an unprofiled GPU still beats the CPU.
DEFAULT_TFLOPS = {"cpu": 0.1}
DEFAULT_TFLOPS_ACCELERATOR = 10.0
DEFAULT_GBPS = {"cpu": 10.0}
DEFAULT_GBPS_ACCELERATOR = 300.0
#: other work below this share of a device is noise, not load: neither counted nor said
BUSY_WORTH_SAYING = 0.1


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


@dataclass(frozen=True)
class Placement:
    """A device chosen for a job, and why."""

    device: Device
    reason: str = ""
    predicted: dict[str, float] = field(default_factory=dict)  #: seconds to finish, by device id
    expected: dict[str, float] = field(default_factory=dict)  #: seconds to run, once started, by device id


@dataclass
class Prediction:
    """By device id: seconds until this job would finish (the queue ahead of it included), seconds it
    would run once started, and how each was estimated, in words."""

    seconds: dict[str, float] = field(default_factory=dict)
    expected: dict[str, float] = field(default_factory=dict)
    basis: dict[str, str] = field(default_factory=dict)


def _seconds(x: float) -> str:
    return f"{x:.2g} s" if x < 100 else f"{x / 60:.0f} min"


def predict(devices: Sequence[Device], req: Requirements, spec: Any, request: Any,
            profiles: dict[str, DeviceProfile] | None = None) -> Prediction:
    """When this job would finish on each device. A device's rate is its recent runs' (`perf.figures`,
    in idle terms), or a measured device's scaled by their matmul figures; it is then shared with the
    other work on the device now (`Device.busy`) and with the jobs queued there. Empty when no device
    has a figure for the task."""
    size = spec.work_of(request)
    known = perf.figures(default_store(), spec.name, spec.model_of(request))
    known = {d.id: known[d.id] for d in devices if d.id in known}
    out = Prediction()
    if not known:
        return out
    profiles = cached_profiles(list(devices)) if profiles is None else profiles
    speed = {d.id: expected_speed(d, req, profiles.get(d.id)) for d in devices}
    for d in devices:
        notes: list[str] = []
        if d.id in known:
            rate = known[d.id].rate
            notes.extend(filter(None, [known[d.id].describe()]))
        else:  # scale the measured devices' rates by the matmul figures, averaged
            rate = sum(f.rate * speed[d.id] / speed[k] for k, f in known.items()) / len(known)
            notes.append("scaled by its matmul figure")
        busy = d.busy()
        if busy is not None and busy >= BUSY_WORTH_SAYING:
            rate *= 1 - min(busy, perf.MAX_BUSY)
            notes.append(f"{busy:.0%} busy with other work")
        out.expected[d.id] = size / rate
        out.seconds[d.id] = (d.load() + 1) * out.expected[d.id]
        out.basis[d.id] = "; ".join(notes)
    return out


def place(devices: Sequence[Device], req: Requirements, spec: Any = None, request: Any = None,
          profiles: dict[str, DeviceProfile] | None = None) -> Placement:
    """The device expected to finish this job first, with the reason in words."""
    fit = [d for d in devices if not unmet(d, req)]
    if not fit or len(fit) == 1 or spec is None:
        return Placement(choose(devices, req, profiles))
    prediction = predict(fit, req, spec, request, profiles)
    seconds, basis = prediction.seconds, prediction.basis
    if not seconds:
        best = choose(fit, req, profiles)
        return Placement(best, f"placed on {best.id}: no device has run {spec.name} yet; by its profile and load")
    ranked = sorted(fit, key=lambda d: seconds[d.id])
    best = ranked[0]

    def said(d: Device) -> str:
        load = d.load()
        return f"{d.id} about {_seconds(seconds[d.id])}" + (f" with {load} queued" if load else "") + (
            f" ({basis[d.id]})" if basis[d.id] else "")

    others = ", ".join(said(d) for d in ranked[1:4])
    return Placement(best, f"placed on {said(best)}" + (f", vs {others}" if others else ""), seconds,
                     prediction.expected)


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
