"""Finding devices by name: the backends' devices, chip plug-ins, and devices added at run time.

Names: `auto`, an exact id (`cpu`, `cuda:0`, `sim:npu0`, `ray:npu`), or a kind (`cuda`,
`npu`, `gpu`) meaning the best device of that kind. A chip is one `Backend` class; a vendor
package registers it as an entry point in the group `workbench.devices` (this package's own
simulated chip is registered the same way). An entry point may also name a function that
returns devices, for back-ends that are not torch chips.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points
from typing import Any

from workbench.contract.backend import Backend
from workbench.contract.errors import DeviceError
from workbench.contract.requirements import Requirements
from workbench.hardware import local
from workbench.hardware.backends import BUILTIN, AcceleratorBackend
from workbench.hardware.base import Device
from workbench.jobs.store import default_store
from workbench.scheduling import placement
from workbench.scheduling.profiles import cached_profiles

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "workbench.devices"
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
            problems.append(f"Device plug-in {ep.name!r} ({ep.value}) failed to load: {exc}")
    return found


def _local_devices() -> list[Device]:
    found: list[Device] = []
    for cls in BUILTIN:
        try:
            found.extend(local.LocalDevice(b) for b in cls.discover())
        except Exception as exc:
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
            fresh: dict[str, Device] = {}
            for d in [*_local_devices(), *_plugin_devices()]:
                # keep existing working objects: their queues hold running jobs
                prev = old.get(d.id)
                fresh[d.id] = prev if prev is not None and not getattr(prev, "fault", None) else d
            for dev_id in _added:  # devices added at run time (Ray) stay
                if dev_id in old:
                    fresh.setdefault(dev_id, old[dev_id])
            _devices = fresh
            publish(list(fresh.values()))
        return list(_devices.values())


def publish(devices: list[Device]) -> None:
    """Write what this process sees to the store, for views in processes that import no torch
    (the Jupyter server extension). A store that cannot be written must not break discovery."""
    try:
        profiles = cached_profiles(devices)
        default_store().publish_devices([
            {"id": d.id, "capabilities": d.capabilities, "load": d.load(),
             "profile": profiles[d.id] if d.id in profiles else None} for d in devices])
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


def get(name: str | Device = "auto", requirements: Requirements | None = None) -> Device:
    """The device called `name` that can satisfy `requirements`, or a `DeviceError` saying why not."""
    if not isinstance(name, str):
        return name
    req = requirements or Requirements()
    devices = discover()
    key = name.strip().lower()
    if key in ("", "auto"):
        return placement.choose(devices, req)
    by_id = {d.id.lower(): d for d in devices}
    if key in by_id:
        device = by_id[key]
        placement.check(device, req, devices)
        return device
    kinds = GPU_KINDS if key == "gpu" else (key,)
    same_kind = [d for d in devices if d.capabilities.kind in kinds]
    if same_kind:
        return placement.choose(same_kind, req)
    available = ", ".join(d.id for d in devices)
    raise DeviceError(
        f"Unknown device {name!r}. Available devices: {available}. "
        "Use 'auto' to let workbench choose."
    )
