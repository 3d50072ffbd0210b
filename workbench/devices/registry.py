"""Finding devices by name: local discovery, plug-ins, and devices added at run time.

Names: `auto`, an exact id (`cpu`, `cuda:0`, `sim:npu0`, `ray:npu`), or a kind (`cuda`,
`npu`, `gpu`) meaning the best device of that kind. Vendor back-ends are plug-ins: an
entry point in the group `workbench.devices` whose object is `discover() -> [Device]`.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import entry_points

from workbench.devices import local, placement
from workbench.devices.base import Device
from workbench.devices.placement import Requirements
from workbench.errors import DeviceError

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "workbench.devices"
GPU_KINDS = ("cuda", "mps", "xpu", "rocm")

_lock = threading.RLock()
_devices: dict[str, Device] | None = None
problems: list[str] = []  #: plug-ins that failed to load, as sentences


def _plugin_devices() -> list[Device]:
    found: list[Device] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found.extend(ep.load()())
        except Exception as exc:  # one broken plug-in must not hide the other devices
            problems.append(f"Device plug-in {ep.name!r} ({ep.value}) failed to load: {exc}")
    return found


def discover(refresh: bool = False) -> list[Device]:
    """Every device this process can use: the CPU, accelerators, plug-ins, added devices."""
    global _devices
    with _lock:
        if _devices is None or refresh:
            old = _devices or {}
            problems.clear()
            fresh: dict[str, Device] = {}
            for d in [*local.discover(), *_plugin_devices()]:
                # keep existing working objects: their queues hold running jobs
                prev = old.get(d.id)
                fresh[d.id] = prev if prev is not None and not getattr(prev, "_fault", None) else d
            for d in old.values():  # devices added at run time (Ray) stay
                if getattr(d, "added", False):
                    fresh.setdefault(d.id, d)
            _devices = fresh
        return list(_devices.values())


def add(device: Device) -> Device:
    """Make a device created at run time (a Ray node, a custom back-end) selectable."""
    discover()
    device.added = True  # type: ignore[attr-defined]
    with _lock:
        assert _devices is not None
        _devices[device.id] = device
    return device


def remove(device_id: str) -> None:
    with _lock:
        if _devices is not None:
            _devices.pop(device_id, None)


def names() -> list[str]:
    return [d.id for d in discover()]


def _profiles(devices: list[Device]) -> dict:
    from workbench.devices.profile import cached_profiles

    return cached_profiles(devices)


def get(name: str | Device = "auto", requirements: Requirements | None = None) -> Device:
    """The device called `name` that can satisfy `requirements`, or a `DeviceError` saying why not."""
    if not isinstance(name, str):
        return name
    req = requirements or Requirements()
    devices = discover()
    key = name.strip().lower()
    if key in ("", "auto"):
        return placement.choose(devices, req, _profiles(devices))
    by_id = {d.id.lower(): d for d in devices}
    if key in by_id:
        device = by_id[key]
        placement.check(device, req, devices)
        return device
    kinds = GPU_KINDS if key == "gpu" else (key,)
    same_kind = [d for d in devices if d.capabilities.kind in kinds]
    if same_kind:
        return placement.choose(same_kind, req, _profiles(same_kind))
    available = ", ".join(d.id for d in devices)
    raise DeviceError(
        f"Unknown device {name!r}. Available devices: {available}. "
        "Use 'auto' to let workbench choose."
    )
