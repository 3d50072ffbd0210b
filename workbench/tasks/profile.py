"""The profiling task: short micro-benchmarks of a device, whose figures placement uses.

Like FlagPerf's per-chip figures, a profile says how fast a device is at the two things
our tasks are bound by: dense matmul (TFLOP/s at float32 and at the device's fast dtype)
and memory traffic (GB/s of a large copy). Profiling is itself a task, so it runs through
the same job path on every device (local, simulated or Ray); `workbench.scheduling.profiles`
caches the figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import torch

from workbench.contract.errors import InputError
from workbench.contract.limits import Limits
from workbench.contract.progress import Progress
from workbench.contract.task import TaskContext
from workbench.contract.wording import profile_text


@dataclass(frozen=True)
class ProfileRequest:
    #: auto: the device's own fast dtype (the one `workbench devices` shows)
    fast_dtype: Literal["auto", "float32", "bfloat16", "float16", "float64"] = "auto"
    #: budget per measurement; three measurements
    seconds_per_figure: Annotated[float, Limits(gt=0, le=60, unit="s")] = 0.3
    #: default: 1024 on the CPU, 4096 on accelerators
    matmul_size: Annotated[int, Limits(ge=16, le=32768)] | None = None
    #: default: 64 MiB on the CPU, 512 MiB on accelerators
    copy_mib: Annotated[int, Limits(ge=1, le=65536, unit="MiB")] | None = None

    def __post_init__(self) -> None:
        if self.fast_dtype not in ("auto", "float32", "bfloat16", "float16", "float64"):
            raise InputError(f"Unknown dtype {self.fast_dtype!r}; choose from auto, float32, bfloat16, float16, "
                             "float64.")


@dataclass
class ProfileResult:
    matmul_tflops_fp32: float
    matmul_tflops_fast: float
    fast_dtype: str
    memory_gbps: float
    torch_version: str
    driver_version: str | None = None

    def summary(self) -> str:
        """The line (or few) a person reads first: the CLI's headline, `jobs list`, the widget and Gradio."""
        return profile_text(vars(self))


def _timed(fn: Any, sync: Callable[[], None], budget: float) -> tuple[int, float]:
    fn()
    sync()
    reps, start = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        if reps % 2 == 0:
            sync()
            elapsed = time.perf_counter() - start
            if elapsed >= budget:
                return reps, elapsed


def matmul_tflops(device: torch.device, dtype: torch.dtype, n: int, budget: float,
                  sync: Callable[[], None]) -> float:
    a = torch.randn(n, n, device=device, dtype=torch.float32).to(dtype)
    b = torch.randn(n, n, device=device, dtype=torch.float32).to(dtype)
    reps, elapsed = _timed(lambda: torch.mm(a, b), sync, budget)
    return 2 * n**3 * reps / elapsed / 1e12


def copy_gbps(device: torch.device, mib: int, budget: float, sync: Callable[[], None]) -> float:
    src = torch.empty(mib * 1024 * 1024 // 4, device=device, dtype=torch.float32).fill_(1.0)
    dst = torch.empty_like(src)
    reps, elapsed = _timed(lambda: dst.copy_(src), sync, budget)
    return 2 * src.numel() * 4 * reps / elapsed / 1e9  # read + write


def work(request: ProfileRequest) -> float:
    return 3.0


def run(request: ProfileRequest, ctx: TaskContext) -> ProfileResult:
    """The profiling task: three figures, with progress after each."""
    dev = torch.device(ctx.torch_device)
    accel = ctx.capabilities.is_accelerator
    sync, progress = ctx.backend.synchronize, ctx.progress
    n = request.matmul_size or (4096 if accel else 1024)
    mib = request.copy_mib or (512 if accel else 64)
    budget = request.seconds_per_figure
    progress(Progress(0, 3, "matmul float32"))
    fp32 = matmul_tflops(dev, torch.float32, n, budget, sync)
    fast_dtype = ctx.capabilities.fast_dtype if request.fast_dtype == "auto" else request.fast_dtype
    progress(Progress(1, 3, f"matmul {fast_dtype}"))
    # the device's fast dtype is float32 (a CPU): one figure, not a second, noisier copy of it
    fast = fp32 if fast_dtype == "float32" else matmul_tflops(dev, getattr(torch, fast_dtype), n, budget, sync)
    progress(Progress(2, 3, "memory copy"))
    gbps = copy_gbps(dev, mib, budget, sync)
    progress(Progress(3, 3, "done"))
    return ProfileResult(fp32, fast, fast_dtype, gbps, torch.__version__, ctx.backend.driver_version())
