"""Ray clusters as devices: connect (embedded on 127.0.0.1, or join), register the nodes' devices
in the registry, and wire their placement hooks (profile-aware choice, where a job may move).

    import workbench as wb
    wb.connect()            # embedded single-machine cluster, loopback only
    wb.devices()            # ... ray:<node>/cpu, ray:npu, ...
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import Any

from workbench.contract.errors import DeviceError
from workbench.contract.requirements import Requirements
from workbench.hardware.ray import RayDevice, import_ray, is_loopback, nodes_as_devices
from workbench.scheduling import placement, registry
from workbench.settings import settings

log = logging.getLogger(__name__)


def connect(address: str | None = None, *, num_cpus: int | None = None,
            resources: dict[str, float] | None = None) -> list[RayDevice]:
    """Start an embedded cluster (no address) or join one; register its devices.

    `address`: None for an embedded cluster on 127.0.0.1, "auto" for the cluster this
    machine belongs to, "ray://host:10001" for Ray Client, or "host:port" of a head node.
    """
    embedded = address in (None, "", "local", "embedded")
    if embedded and "ray" in sys.modules and os.environ.get("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER") != "0" \
            and not sys.modules["ray"].is_initialized():
        # Ray reads the loopback switch when it is imported: started now, every port would listen on
        # every interface (an unauthenticated code-execution service on the network)
        raise DeviceError("Ray was imported before workbench could make the embedded cluster listen on 127.0.0.1 "
                          "only; call wb.connect() before `import ray`, or set RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 "
                          "before importing it.")
    ray = import_ray(is_loopback(address))
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "configure_logging": False}
        if embedded:
            _start_embedded(ray, num_cpus=num_cpus, resources=resources, **kwargs)
        else:
            probe(address or "")
            try:
                ray.init(address=address, **kwargs)
            except Exception as exc:
                raise DeviceError(f"Could not join the Ray cluster at {address}: {_first_line(exc)}") from None
    return refresh()




def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _RayNotices(logging.Filter):
    """Ray's start-up notices that a user of the embedded cluster cannot act on: a traceback when a
    node declares an NPU resource without Ascend's `acl` module (the device layer says in one line
    that the node's NPU has no torch device), and the note that token authentication is on (it is:
    the embedded cluster listens on 127.0.0.1 only, with a token)."""

    DROP = ("Failed to detect NPU type", "Token authentication is enabled for this Ray cluster")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.DROP)


NOTICE_LOGGERS = ("ray._private.accelerators.npu", "ray._private.authentication.authentication_token_setup")


def _start_embedded(ray: Any, **kwargs: Any) -> None:
    # a new instance of its own, even when this machine already runs a Ray cluster (RAY_ADDRESS or a
    # `ray start`): joining that one with num_cpus set is an error, and joining it at all is not embedded
    kwargs.setdefault("address", "local")
    notices = _RayNotices()
    for name in NOTICE_LOGGERS:
        logging.getLogger(name).addFilter(notices)
    try:
        _start(ray, **kwargs)
    finally:
        for name in NOTICE_LOGGERS:
            logging.getLogger(name).removeFilter(notices)


def _start(ray: Any, **kwargs: Any) -> None:
    attempts = settings().ray_start_attempts  # WORKBENCH_RAY_START_ATTEMPTS
    for attempt in range(1, attempts + 1):
        try:
            ray.init(**kwargs)
            return
        except Exception as exc:
            ray.shutdown()
            if attempt == attempts:
                raise DeviceError(
                    f"The embedded Ray cluster did not start in {attempts} attempt(s) ({_first_line(exc)}); "
                    "the machine may be overloaded: try again, or raise WORKBENCH_RAY_START_ATTEMPTS.") from None


def probe(address: str) -> None:
    """A `DeviceError` in seconds when nothing listens at `address` ("host:port" or "ray://host:port")."""
    if address in ("auto",) or ":" not in address.split("//")[-1]:
        return
    host, _, port = address.split("//")[-1].rpartition(":")
    try:
        timeout = settings().ray_connect_timeout_s  # WORKBENCH_RAY_CONNECT_TIMEOUT
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or _first_line(exc)
        raise DeviceError(f"Cannot reach a Ray cluster at {address} ({reason}); start one there with "
                          "`ray start --head`, or check the address.") from None


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
        log.debug("_alternatives: ignored", exc_info=True)
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
