"""A simulated accelerator: computes on the CPU, declares the capabilities of another chip.

It exists so placement, refusal sentences and the job path can be tested for hardware that
is not on this machine (an NPU with 2 GiB and no float64, say). It is a plug-in of the
`workbench.devices` entry-point group, registered by this package's own pyproject, so it
travels the very same registry, placement and job code as a vendor back-end would.

Enable it with `WORKBENCH_SIMULATED_DEVICES`, a comma-separated list of
`kind:memory[:dtype+dtype...]`, e.g. `npu:2GiB:float32+float16+bfloat16,mlu:8GiB`.
"""

from __future__ import annotations

import os
import re

from workbench.devices.base import Capabilities, GiB
from workbench.devices.local import LocalDevice
from workbench.errors import DeviceError

DEFAULT_DTYPES = ("float32", "float16", "bfloat16")
_UNITS = {"kib": 1024, "mib": 1024**2, "gib": GiB, "kb": 1000, "mb": 10**6, "gb": 10**9, "b": 1}


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*([\d.]+)\s*([a-zA-Z]*)\s*", text)
    if not m or (m.group(2) and m.group(2).lower() not in _UNITS):
        raise DeviceError(f"Cannot read the memory size {text!r}; write it like 2GiB or 512MiB.")
    return int(float(m.group(1)) * _UNITS.get(m.group(2).lower() or "b", 1))


def simulated_device(kind: str = "npu", memory: int = 2 * GiB,
                     dtypes: tuple[str, ...] = DEFAULT_DTYPES, index: int = 0) -> LocalDevice:
    caps = Capabilities(
        kind=kind, index=index, name=f"Simulated {kind.upper()} (computes on the CPU)",
        total_memory=memory, free_memory=memory, dtypes=tuple(dtypes), torch_device="cpu",
        fast_dtype="bfloat16" if "bfloat16" in dtypes else dtypes[0], backend="simulated",
    )
    return LocalDevice(caps, id=f"sim:{kind}{index}", concurrency=1)


def discover() -> list[LocalDevice]:
    spec = os.environ.get("WORKBENCH_SIMULATED_DEVICES", "").strip()
    devices: list[LocalDevice] = []
    counts: dict[str, int] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        parts = item.split(":")
        kind = parts[0] or "npu"
        memory = parse_size(parts[1]) if len(parts) > 1 and parts[1] else 2 * GiB
        dtypes = tuple(parts[2].split("+")) if len(parts) > 2 and parts[2] else DEFAULT_DTYPES
        index = counts.get(kind, 0)
        counts[kind] = index + 1
        devices.append(simulated_device(kind, memory, dtypes, index))
    return devices
