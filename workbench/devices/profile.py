"""Device profiles: short micro-benchmarks whose figures placement uses.

Like FlagPerf's per-chip figures, a profile says how fast a device is at the two things
our tasks are bound by: dense matmul (TFLOP/s at float32 and at the device's fast dtype)
and memory traffic (GB/s of a large copy). Profiling is itself a task, so it runs through
the same job path on every device (local, simulated or Ray). Results are cached in
`<home>/profiles.json` with the torch and driver versions; a version change invalidates.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from workbench.jobs.job import Progress, ProgressCallback
from workbench.paths import home


@dataclass(frozen=True)
class ProfileRequest:
    fast_dtype: str = "bfloat16"
    seconds_per_figure: float = 0.3  #: budget per measurement; three measurements
    matmul_size: int | None = None  #: default: 1024 on the CPU, 4096 on accelerators
    copy_mib: int | None = None  #: default: 64 MiB on the CPU, 512 MiB on accelerators


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


@dataclass
class ProfileResult:
    matmul_tflops_fp32: float
    matmul_tflops_fast: float
    fast_dtype: str
    memory_gbps: float
    torch_version: str


def _sync(device: torch.device) -> None:
    if device.type == "cpu":
        return
    acc = getattr(torch, "accelerator", None)
    if acc is not None and hasattr(acc, "synchronize"):
        acc.synchronize(device)
    else:
        getattr(torch, device.type).synchronize(device)


def _timed(fn: Any, device: torch.device, budget: float) -> tuple[int, float]:
    fn()
    _sync(device)
    reps, start = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        if reps % 2 == 0:
            _sync(device)
            elapsed = time.perf_counter() - start
            if elapsed >= budget:
                return reps, elapsed


def matmul_tflops(device: torch.device, dtype: torch.dtype, n: int, budget: float) -> float:
    a = torch.randn(n, n, device=device, dtype=torch.float32).to(dtype)
    b = torch.randn(n, n, device=device, dtype=torch.float32).to(dtype)
    reps, elapsed = _timed(lambda: torch.mm(a, b), device, budget)
    return 2 * n**3 * reps / elapsed / 1e12


def copy_gbps(device: torch.device, mib: int, budget: float) -> float:
    src = torch.empty(mib * 1024 * 1024 // 4, device=device, dtype=torch.float32).fill_(1.0)
    dst = torch.empty_like(src)
    reps, elapsed = _timed(lambda: dst.copy_(src), device, budget)
    return 2 * src.numel() * 4 * reps / elapsed / 1e9  # read + write


def run(request: ProfileRequest, *, device: str, progress: ProgressCallback) -> ProfileResult:
    """The profiling task: three figures, with progress after each."""
    dev = torch.device(device)
    accel = dev.type != "cpu"
    n = request.matmul_size or (4096 if accel else 1024)
    mib = request.copy_mib or (512 if accel else 64)
    budget = request.seconds_per_figure
    progress(Progress(0, 3, "matmul float32"))
    fp32 = matmul_tflops(dev, torch.float32, n, budget)
    progress(Progress(1, 3, f"matmul {request.fast_dtype}"))
    fast = matmul_tflops(dev, getattr(torch, request.fast_dtype), n, budget)
    progress(Progress(2, 3, "memory copy"))
    gbps = copy_gbps(dev, mib, budget)
    progress(Progress(3, 3, "done"))
    return ProfileResult(fp32, fast, request.fast_dtype, gbps, torch.__version__)


# ---- cache ------------------------------------------------------------------------------

def _cache_path():
    return home() / "profiles.json"


def _cache_key(device: Any) -> str:
    return f"{device.id}|{device.capabilities.name}"


def _versions_match(p: DeviceProfile, device: Any) -> bool:
    from workbench.devices.local import driver_version

    if device.capabilities.backend == "ray":  # remote versions are checked on the node
        return True
    return p.torch_version == torch.__version__ and p.driver_version == driver_version(
        device.capabilities.kind if device.capabilities.backend == "torch" else "cpu")


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
    """Run the profile task on `device` (through its queue) and cache the figures."""
    from workbench.devices.local import driver_version

    caps = device.capabilities
    req = ProfileRequest(fast_dtype=caps.fast_dtype if caps.fast_dtype != "float32" else "bfloat16",
                         seconds_per_figure=seconds_per_figure)
    res: ProfileResult = device.submit("profile", req).result(timeout)
    profile = DeviceProfile(
        device_id=device.id, device_name=caps.name,
        matmul_tflops_fp32=res.matmul_tflops_fp32, matmul_tflops_fast=res.matmul_tflops_fast,
        fast_dtype=res.fast_dtype, memory_gbps=res.memory_gbps, torch_version=res.torch_version,
        driver_version=driver_version(caps.kind if caps.backend == "torch" else "cpu"),
    )
    save_profile(device, profile)
    return profile
