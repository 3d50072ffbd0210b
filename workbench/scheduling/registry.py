"""Finding devices by name: the backends' devices, chip plug-ins, and devices added at run time.

Names: `auto`, an exact id (`cpu`, `cuda:0`, `sim:npu0`, `ray:npu`), a kind (`cuda`,
`npu`, `gpu`) meaning the best device of that kind, or a device set: `any:npu,cpu` (whichever
is predicted to finish first) or `first:npu,cpu` (the first in that order that can run the
task). A plain Python list of devices means something else: a batch split across them.

A chip is one `Backend` class; a vendor package registers it as an entry point in the group
`workbench.devices` (this package's own simulated chip is registered the same way). An entry
point may also name a function that returns devices, for back-ends that are not torch chips.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from workbench.contract.backend import Backend
from workbench.contract.errors import DeviceError, InputError
from workbench.contract.requirements import Requirements
from workbench.hardware import local
from workbench.hardware.backends import BUILTIN, AcceleratorBackend
from workbench.hardware.base import Device
from workbench.hardware.host import ENTRY_POINT_GROUP, figure_problem, setup_key
from workbench.jobs.job import Job
from workbench.jobs.store import default_store
from workbench.scheduling import placement
from workbench.scheduling.profiles import cached_profiles
from workbench.settings import settings

log = logging.getLogger(__name__)
GPU_KINDS = ("cuda", "mps", "xpu", "rocm")

_lock = threading.RLock()
_devices: dict[str, Device] | None = None
_added: set[str] = set()
problems: list[str] = []  #: plug-ins that failed to load, as sentences


def _plugin_devices() -> list[Device]:
    found: list[Device] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj: Any = ep.load()
            if isinstance(obj, type) and issubclass(obj, Backend):
                found.extend(local.LocalDevice(b) for b in obj.discover())
            else:
                found.extend(obj())
        except Exception as exc:  # one broken plug-in must not hide the other devices
            log.debug("_plugin_devices: ignored", exc_info=True)
            problems.append(f"Device plug-in {ep.name!r} ({ep.value}) failed to load: {exc}")
    return found


def _local_devices() -> list[Device]:
    found: list[Device] = []
    for cls in BUILTIN:
        try:
            found.extend(local.LocalDevice(b) for b in cls.discover())
        except Exception as exc:
            log.debug("_local_devices: ignored", exc_info=True)
            problems.append(f"The {cls.name} backend failed to discover devices: {exc}")
    claimed = tuple({d.capabilities.torch_device.split(':')[0] for d in found})
    found.extend(local.LocalDevice(b) for b in AcceleratorBackend.discover(claimed))
    return found


def discover(refresh: bool = False) -> list[Device]:
    """Every device this process can use: the CPU, accelerators, plug-ins, added devices."""
    global _devices
    with _lock:
        if _devices is None or refresh:
            old = _devices or {}
            problems.clear()
            figures = figure_problem()
            if figures:
                problems.append(figures)
            problems.extend(settings().problems)  # a WORKBENCH_* value that could not be read
            fresh: dict[str, Device] = {}
            for d in [*_local_devices(), *_plugin_devices()]:
                # keep existing working objects: their queues hold running jobs
                prev = old.get(d.id)
                fresh[d.id] = prev if prev is not None and not prev.fault else d
                if fresh[d.id] is prev and isinstance(prev, local.LocalDevice):
                    prev.refresh_memory()
            for dev_id in _added:  # devices added at run time (Ray) stay
                if dev_id in old:
                    fresh.setdefault(dev_id, old[dev_id])
            _devices = fresh
            for d in fresh.values():
                if isinstance(d, local.LocalDevice):
                    d.relocator = relocate
            publish(list(fresh.values()))
        return list(_devices.values())


def publish(devices: list[Device]) -> None:
    """Write what this process sees to the store, for views in processes that import no torch
    (the Jupyter server extension). A store that cannot be written must not break discovery."""
    try:
        profiles = cached_profiles(devices)
        default_store().publish_devices([
            {"id": d.id, "capabilities": d.capabilities, "load": d.load(),
             "profile": profiles[d.id] if d.id in profiles else None} for d in devices], setup=setup_key())
    except Exception as exc:
        log.debug("could not publish devices: %s", exc)


def add(device: Device) -> Device:
    """Make a device created at run time (a Ray node, a custom back-end) selectable."""
    discover()
    with _lock:
        assert _devices is not None
        _devices[device.id] = device
        _added.add(device.id)
        publish(list(_devices.values()))
    return device


def remove(device_id: str) -> None:
    with _lock:
        _added.discard(device_id)
        if _devices is not None:
            _devices.pop(device_id, None)


def names() -> list[str]:
    return [d.id for d in discover()]


@dataclass(frozen=True)
class DeviceSet:
    """Several devices for one job: `any` (predicted to finish first) or `first` (in this order)."""

    mode: str  #: "any" | "first"
    names: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.mode}:{','.join(self.names)}"

    @classmethod
    def parse(cls, text: str) -> DeviceSet | None:
        mode, sep, rest = text.partition(":")
        if sep and mode in ("any", "first") and rest:
            return cls(mode, tuple(n.strip() for n in rest.split(",") if n.strip()))
        return None


def any_of(*names: str) -> DeviceSet:
    """Any of these devices, whichever is predicted to finish the job first."""
    return DeviceSet("any", tuple(names))


def first_of(*names: str) -> DeviceSet:
    """The first of these devices, in this order, that can run the job."""
    return DeviceSet("first", tuple(names))


def usable(devices: list[Device] | None = None) -> list[Device]:
    """Devices that take new work: not broken, not drained."""
    drained = default_store().drained()
    return [d for d in (devices if devices is not None else discover())
            if not d.fault and d.id not in drained]


def _named(name: str, devices: list[Device]) -> list[Device]:
    key = name.strip().lower()
    by_id = {d.id.lower(): d for d in devices}
    if key in by_id:
        return [by_id[key]]
    kinds = GPU_KINDS if key == "gpu" else (key,)
    same_kind = [d for d in devices if d.capabilities.kind in kinds]
    if same_kind:
        return same_kind
    available = ", ".join(d.id for d in devices)
    raise DeviceError(f"Unknown device {name!r}. Available devices: {available}. Use 'auto' to let workbench choose.")


def resolve(name: str | Device | DeviceSet = "auto", requirements: Requirements | None = None, *,
            spec: Any = None, request: Any = None) -> placement.Placement:
    """The device for a job, and why: by name, kind, device set or `auto`; a `DeviceError` saying
    why not when none can run it."""
    if isinstance(name, str):
        name = DeviceSet.parse(name.strip()) or name
    if not isinstance(name, (str, DeviceSet)):
        return placement.Placement(name)
    req = requirements or Requirements()
    devices = discover()
    if isinstance(name, DeviceSet):
        members: list[Device] = []
        for n in name.names:
            members.extend(d for d in _named(n, devices) if d not in members)
        if name.mode == "first":
            for d in members:
                why_not = req.unmet(d.capabilities)
                if not why_not and d in usable(members):
                    skipped = [m.id for m in members[:members.index(d)]]
                    reason = f"placed on {d.id}: the first of {', '.join(name.names)} that can run it" + (
                        f" ({', '.join(skipped)} cannot)" if skipped else "")
                    return placement.Placement(d, reason)
            return placement.Placement(placement.choose(members, req))  # raises, naming what is missing
        return placement.place(usable(members) or members, req, spec, request)
    key = name.strip().lower()
    if key in ("", "auto"):
        return placement.place(usable(devices) or devices, req, spec, request)
    named = _named(key, devices)
    if len(named) == 1 and named[0].id.lower() == key:
        placement.check(named[0], req, devices)
        return placement.Placement(named[0])
    return placement.place(usable(named) or named, req, spec, request)


def get(name: str | Device | DeviceSet = "auto", requirements: Requirements | None = None) -> Device:
    """The device called `name` that can satisfy `requirements`, or a `DeviceError` saying why not."""
    return resolve(name, requirements).device


#: how often a drained job with nowhere to go looks again for a device (or for its cancel)
WAIT_FOR_DEVICE_POLL_S = 0.5


def _elsewhere(job: Job, source: Device) -> Device | None:
    """The device predicted to finish `job` first among those that take work now (`source` too once it
    is undrained, unless it is lost); None when there is none."""
    req = job.requirements or Requirements()
    lost = bool(source.fault)
    candidates = [d for d in usable() if (d is not source or not lost) and not req.unmet(d.capabilities)
                  and not getattr(d, "is_class", False)]
    return placement.choose(candidates, req) if candidates else None


def _move(job: Job, fn: Any, source: Device, target: Device, why: str) -> None:
    total = job.last_progress.total if job.last_progress else None
    job.move(target.id, why if target is not source else f"{why}; back on {source.id} once it was undrained", total)
    if job.store is not None:
        job.store.update(job)
    target.resume(job, fn)


def relocate(job: Job, fn: Any, source: Device, why: str) -> bool:
    """Move `job` off `source` (lost or drained) to the device predicted to finish it first, local or
    Ray, any chip kind; it resumes from its checkpoints there. False when no device can run it.

    A job drained off a device that still works is never failed for want of a place: it waits, saying
    so, until a device can take it (another one, or `source` undrained) or it is cancelled. The wait runs
    on a thread of its own, so the drained device's worker and slot are free meanwhile."""
    target = _elsewhere(job, source)
    if target is not None:
        _move(job, fn, source, target, why)
        return True
    if source.fault:
        return False
    job.note(f"{why}; no other device can run it now, so it waits for one (undrain {source.id} or add a device), "
             "keeping its checkpoints")
    if job.store is not None:
        job.store.update(job)
    threading.Thread(target=_wait_for_device, args=(job, fn, source, why), name=f"workbench-wait-{job.id}",
                     daemon=True).start()
    return True


def _wait_for_device(job: Job, fn: Any, source: Device, why: str) -> None:
    from workbench.jobs.job import JobState
    from workbench.jobs.runner import settle

    while True:
        time.sleep(WAIT_FOR_DEVICE_POLL_S)
        if job.cancel_requested or (job.store is not None and job.store.cancel_requested(job.id)):
            def cleanup() -> None:
                if job.store is not None:
                    job.store.discard_workdir(job.id)

            settle(job, JobState.CANCELLED, reason=job.cancel_reason or "cancelled while waiting for a device",
                   cleanup=cleanup)
            return
        try:
            target = _elsewhere(job, source)
        except Exception as exc:  # the store or discovery failing: say so on the job, try again
            log.warning("job %s waiting for a device: %s", job.id, exc)
            continue
        if target is not None:
            _move(job, fn, source, target, why)
            return


def drain(device_id: str, drained: bool = True, within: float | None = None) -> None:
    """Move queued and running jobs off a device (every process of this machine), without failing
    them, and give it no new work until `drain(device_id, False)`. `within` (seconds): the device
    must be free by then; running jobs that finish in time at their pace stay, the others move at
    their next checkpoint (`jobs.drain`)."""
    device = get(device_id)  # an unknown name is a DeviceError here, not a silent no-op
    if within is not None and not (within >= 0 and math.isfinite(within)):
        raise InputError(f"within must be a number of seconds, 0 or more; got {within!r}.")
    default_store().set_drained(device_id, drained, None if within is None else time.time() + within)
    if isinstance(device, local.LocalDevice):
        device.refresh_drain_state()  # this process sees it at once (others within DRAIN_POLL_S)
