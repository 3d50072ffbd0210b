"""Ray clusters as devices: connect (embedded on 127.0.0.1, or join), register the nodes' devices
in the registry, and wire their placement hooks (profile-aware choice, where a job may move).

    import workbench as wb
    wb.connect()            # embedded single-machine cluster, loopback only
    wb.devices()            # ... ray:<node>/cpu, ray:npu, ...
"""

from __future__ import annotations

from typing import Any

from workbench.contract.requirements import Requirements
from workbench.hardware.ray import RayDevice, import_ray, is_loopback, nodes_as_devices
from workbench.scheduling import placement, registry


def connect(address: str | None = None, *, num_cpus: int | None = None,
            resources: dict[str, float] | None = None) -> list[RayDevice]:
    """Start an embedded cluster (no address) or join one; register its devices.

    `address`: None for an embedded cluster on 127.0.0.1, "auto" for the cluster this
    machine belongs to, "ray://host:10001" for Ray Client, or "host:port" of a head node.
    """
    ray = import_ray(is_loopback(address))
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "configure_logging": False}
        if address in (None, "", "local", "embedded"):
            ray.init(num_cpus=num_cpus, resources=resources, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    return refresh()


def disconnect() -> None:
    """Forget the cluster's devices and shut the Ray connection down."""
    import ray

    for d in cluster_devices():
        d.close()
        registry.remove(d.id)
    if ray.is_initialized():
        ray.shutdown()


def cluster_devices() -> list[RayDevice]:
    return [d for d in registry.discover() if isinstance(d, RayDevice)]


def _choose(devices: list, req: Requirements) -> Any:
    return placement.choose(devices, req)


def _alternatives() -> list:
    """Where a job may move when its Ray device dies or is drained: any usable device, Ray or local."""
    try:
        refresh()
    except Exception:
        pass
    return registry.usable()


def refresh() -> list[RayDevice]:
    """Re-read the cluster's nodes and register a device per resource (existing ones kept)."""
    existing = {d.id: d for d in cluster_devices()}
    found = nodes_as_devices(existing)
    for dev_id, dev in existing.items():  # a device whose node is gone stops taking work
        if dev_id not in found:
            dev.mark_dead("its node left the cluster")
            registry.remove(dev_id)
    for dev in found.values():
        dev.choose = _choose
        dev.alternatives = _alternatives
        registry.add(dev)
    return list(found.values())
