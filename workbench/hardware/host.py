"""Facts about this host that need no torch: RAM, the CPU's name, and the device set-up's fingerprint.

`workbench devices` answers from the devices the last discovery published when the set-up is the same
(`setup_key`), so listing devices does not import torch; the CPU backend reads its memory from here.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from importlib.metadata import PackageNotFoundError, entry_points, version

from workbench.contract.capabilities import parse_size
from workbench.contract.errors import DeviceError

#: Pretend this much RAM is free (`8GiB`): memory checks then decide as on a machine with that much,
#: whatever this one has free now. The test suite sets it, so no test depends on the machine's mood.
FREE_MEMORY_ENV = "WORKBENCH_FREE_MEMORY"


def figure_problem() -> str | None:
    """The sentence for a `WORKBENCH_FREE_MEMORY` that cannot be read (None when it can, or is unset)."""
    try:
        free_memory_figure()
    except DeviceError as exc:
        return f"{FREE_MEMORY_ENV} is ignored: {exc}"
    return None


def free_memory_figure() -> int | None:
    from workbench.settings import settings

    figure = settings().free_memory
    return parse_size(figure) if figure else None


def meminfo() -> tuple[int, int]:
    """(total, available) bytes of RAM; available is `WORKBENCH_FREE_MEMORY` when that is set (an
    unreadable figure is ignored, and discovery says so: the CPU never disappears over a typo)."""
    try:
        free = free_memory_figure()
    except DeviceError:
        free = None
    if free is not None:
        return max(_meminfo()[0], free), free
    return _meminfo()


def _meminfo() -> tuple[int, int]:
    try:
        with open("/proc/meminfo") as fh:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in fh}
        return info.get("MemTotal", 0), info.get("MemAvailable", info.get("MemFree", 0))
    except (OSError, ValueError):
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            return total, total // 2
        except (ValueError, OSError, AttributeError):
            return 0, 0


def cpu_name() -> str:
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    name = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{name} ({os.cpu_count()} cores)"


#: the entry-point group device plug-ins declare their backend classes in
ENTRY_POINT_GROUP = "workbench.devices"
#: environment variables that change which devices a process finds
SETUP_ENV = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "ASCEND_RT_VISIBLE_DEVICES",
             "ZE_AFFINITY_MASK", "WORKBENCH_SIMULATED_DEVICES", "WORKBENCH_FREE_MEMORY")


def setup_key() -> str:
    """A fingerprint of what decides discovery here: the torch build, the device plug-ins installed, the
    visibility variables. The same key means a new discovery would find the same devices."""
    try:
        torch_build = version("torch")
    except PackageNotFoundError:
        torch_build = "-"
    plugins = sorted(f"{ep.name}={ep.value}" for ep in entry_points(group=ENTRY_POINT_GROUP))
    env = {k: os.environ.get(k) for k in SETUP_ENV}
    return hashlib.sha1(json.dumps([torch_build, plugins, env]).encode()).hexdigest()[:16]
