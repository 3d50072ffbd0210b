"""The device contract: what a place that runs tasks declares and offers.

A device is anything that can run a task: the local CPU, one accelerator that torch
exposes (CUDA, MPS, XPU, NPU through a plug-in...), a simulated accelerator for tests, or
a node / resource class of a Ray cluster. Callers only see `Capabilities` and `submit`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from workbench.jobs.job import Job
    from workbench.tasks.registry import TaskLike

GiB = 1024**3

#: dtype names as torch spells them (``torch.float16`` -> ``"float16"``).
ALL_FLOAT_DTYPES = ("float64", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class Capabilities:
    """What a device declares about itself; placement decides from these alone."""

    kind: str  #: cpu, cuda, mps, xpu, npu, ... (torch's device type), or "ray"
    index: int | None  #: accelerator index, None for the CPU
    name: str  #: human name: "NVIDIA H100 80GB HBM3", "Intel Xeon ... (2 cores)"
    total_memory: int  #: bytes
    free_memory: int  #: bytes at discovery time
    dtypes: tuple[str, ...]  #: floating dtypes the device computes in
    torch_device: str  #: the string a task passes to torch: "cpu", "cuda:0", "npu:1"
    fast_dtype: str = "float32"  #: the dtype that gives the most throughput here
    backend: str = "torch"  #: torch, simulated, ray
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_accelerator(self) -> bool:
        return self.kind != "cpu"

    def supports(self, dtype: str) -> bool:
        return dtype in self.dtypes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Device(Protocol):
    """A place that runs tasks. Local and remote devices look the same to callers."""

    id: str  #: stable name used by `registry.get`: "cpu", "cuda:0", "sim:npu0", "ray:npu"

    @property
    def capabilities(self) -> Capabilities: ...

    def submit(self, task: TaskLike, request: Any, *, task_name: str | None = None) -> Job:
        """Queue `task(request, device=..., progress=...)` and return its job at once."""
        ...

    def load(self) -> int:
        """Jobs queued or running on this device now (placement spreads by it)."""
        ...

    def shutdown(self, *, reason: str = "the device was shut down") -> None:
        """Stop accepting work; queued jobs fail with `reason`, running jobs are cancelled."""
        ...


def format_bytes(n: int | float) -> str:
    """`12.0 GiB` style sizes for tables and error messages."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
