"""What a device declares about itself; placement decides from these alone."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from workbench.contract.errors import DeviceError

GiB = 1024**3
_UNITS = {"kib": 1024, "mib": 1024**2, "gib": GiB, "kb": 1000, "mb": 10**6, "gb": 10**9, "b": 1}

#: dtype names as torch spells them (``torch.float16`` -> ``"float16"``).
ALL_FLOAT_DTYPES = ("float64", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class Capabilities:
    """A device's kind, memory and numerics, as its backend reports them."""

    kind: str  #: cpu, cuda, mps, xpu, npu, ... (the chip family), whatever the backend says
    index: int | None  #: accelerator index, None for the CPU
    name: str  #: human name: "NVIDIA H100 80GB HBM3", "Intel Xeon ... (2 cores)"
    total_memory: int  #: bytes
    free_memory: int  #: bytes at discovery time
    dtypes: tuple[str, ...]  #: floating dtypes the device computes in
    torch_device: str  #: the string a task passes to torch: "cpu", "cuda:0", "npu:1"
    fast_dtype: str = "float32"  #: the dtype the backend prefers for reduced-precision work
    backend: str = "cpu"  #: the backend class's name: cpu, cuda, npu, simulated, ray...
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_accelerator(self) -> bool:
        return self.kind != "cpu"

    def supports(self, dtype: str) -> bool:
        return dtype in self.dtypes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Capabilities:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["dtypes"] = tuple(known.get("dtypes", ()))
        return cls(**known)


def format_bytes(n: int | float) -> str:
    """`12.0 GiB` style sizes for tables and error messages."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def parse_size(text: str) -> int:
    """`2GiB`, `512MiB`, `8 GB` or a plain byte count, as bytes (a sentence when unreadable)."""
    m = re.fullmatch(r"\s*([\d.]+)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(1).count(".") > 1 or (m.group(2) and m.group(2).lower() not in _UNITS):
        raise DeviceError(f"Cannot read the memory size {text!r}; write it like 2GiB or 512MiB.")
    return int(float(m.group(1)) * _UNITS.get(m.group(2).lower() or "b", 1))
