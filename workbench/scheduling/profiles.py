"""Device profiles: the cached figures of the `profile` task, per device, that placement ranks by.

Cached in `<home>/profiles.json` with the torch and driver versions they were measured with; a
version change makes a profile stale (left out). Nothing here imports torch: the Jupyter server
reads profiles too.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from workbench.paths import home


@dataclass
class DeviceProfile:
    device_id: str
    device_name: str
    matmul_tflops_fp32: float
    matmul_tflops_fast: float
    fast_dtype: str
    memory_gbps: float
    torch_version: str
    driver_version: str | None
    measured_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def torch_version() -> str:
    try:
        return version("torch")
    except PackageNotFoundError:
        return ""


def _cache_path():
    return home() / "profiles.json"


def _cache_key(device: Any) -> str:
    return f"{device.id}|{device.capabilities.name}"


def _versions_match(p: DeviceProfile, device: Any) -> bool:
    caps = device.capabilities
    if caps.backend == "ray":  # remote versions are checked on the node
        return True
    return p.torch_version.split("+")[0] == torch_version().split("+")[0] and \
        p.driver_version == caps.extra.get("driver")


def _read_cache() -> dict[str, dict[str, Any]]:
    try:
        return json.loads(_cache_path().read_text())
    except (OSError, ValueError):
        return {}


def cached_profiles(devices: list[Any]) -> dict[str, DeviceProfile]:
    """Profiles from the cache for `devices`, keyed by device id; stale ones left out."""
    raw = _read_cache()
    out = {}
    for d in devices:
        entry = raw.get(_cache_key(d))
        if not entry:
            continue
        try:
            p = DeviceProfile(**entry)
        except TypeError:
            continue
        if _versions_match(p, d):
            out[d.id] = p
    return out


def save_profile(device: Any, profile: DeviceProfile) -> None:
    raw = _read_cache()
    raw[_cache_key(device)] = profile.to_dict()
    tmp = _cache_path().with_suffix(".tmp")
    tmp.write_text(json.dumps(raw, indent=1))
    tmp.replace(_cache_path())


def profile_device(device: Any, *, seconds_per_figure: float = 0.3, timeout: float = 600) -> DeviceProfile:
    """Run the profile task on `device` (through its queue, like any job) and cache the figures."""
    from workbench.tasks.profile import ProfileRequest

    caps = device.capabilities
    req = ProfileRequest(fast_dtype=caps.fast_dtype, seconds_per_figure=seconds_per_figure)
    res = device.submit("profile", req).result(timeout)
    profile = DeviceProfile(
        device_id=device.id, device_name=caps.name,
        matmul_tflops_fp32=res.matmul_tflops_fp32, matmul_tflops_fast=res.matmul_tflops_fast,
        fast_dtype=res.fast_dtype, memory_gbps=res.memory_gbps, torch_version=res.torch_version,
        driver_version=res.driver_version,
    )
    save_profile(device, profile)
    return profile
