"""Device self-test: a tiny transformer run in each dtype and checked against float64.

This is the smallest real job a device can do: it exercises the model cache, moves a
real `nn.TransformerEncoder` to the device, runs it in each requested dtype, and checks
the numbers against a float64 reference on the CPU. A device whose kernels are broken
(or whose half precision silently overflows) fails here, with the dtype named.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import torch

from workbench import models
from workbench.contract import InputError, Progress, Requirements, TaskContext
from workbench.contract.limits import Limits

# Relative error allowed per dtype (mantissa bits set the scale).
TOLERANCE = {"float64": 1e-9, "float32": 1e-4, "bfloat16": 6e-2, "float16": 1e-2}


@dataclass(frozen=True)
class SelftestRequest:
    dtypes: tuple[str, ...] = ("float32",)  #: dtypes to check against float64 (float32, bfloat16, float16...)
    batch: Annotated[int, Limits(ge=1, le=1024, unit="sequences")] = 4  #: sequences per forward pass
    seq_len: Annotated[int, Limits(ge=1, le=4096, unit="tokens")] = 32  #: tokens per sequence
    #: forward passes per dtype (the first is excluded from timing)
    repeats: Annotated[int, Limits(ge=2, le=1000, unit="passes")] = 3
    seed: int = 0  #: seeds the tiny transformer's random weights and inputs

    def __post_init__(self) -> None:
        if isinstance(self.dtypes, str):  # dtypes="float32" means one dtype, not seven letters
            object.__setattr__(self, "dtypes", (self.dtypes,))
        unknown = [d for d in self.dtypes if d not in TOLERANCE]
        if unknown:
            raise InputError(
                f"Unknown dtype {unknown[0]!r}; choose from {', '.join(TOLERANCE)}."
            )
        if not self.dtypes:
            raise InputError("Give at least one dtype to test.")


@dataclass
class DtypeCheck:
    dtype: str
    max_relative_error: float
    tolerance: float
    passed: bool
    forward_ms: float


@dataclass
class SelftestResult:
    device: str
    passed: bool
    checks: list[DtypeCheck]
    files: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        """The line (or few) a person reads first: the CLI's headline, `jobs list`, the widget and Gradio."""
        return ("passed" if self.passed else "FAILED") + ": " + ", ".join(
            f"{c.dtype} {'ok' if c.passed else 'failed'} (rel. error {c.max_relative_error:.1e})" for c in self.checks)


def work(request: SelftestRequest) -> float:
    return len(request.dtypes) * request.repeats


def requirements(request: SelftestRequest) -> Requirements:
    # One dtype at a time is enough for placement: a device is chosen that has the first.
    return Requirements(dtype=request.dtypes[0], min_memory=64 * 1024**2)


def run(request: SelftestRequest, ctx: TaskContext) -> SelftestResult:
    device, progress = ctx.torch_device, ctx.progress
    total = len(request.dtypes)
    progress(Progress(0, total, "building the reference on the CPU"))
    reference_model = models.load("tiny-transformer", "cpu", dtype="float64")
    g = torch.Generator().manual_seed(request.seed)
    x = torch.randn(request.batch, request.seq_len, reference_model.d_model, generator=g,
                    dtype=torch.float64)
    with torch.inference_mode():
        ref = reference_model(x)
    checks = []
    for i, dtype in enumerate(request.dtypes):
        model = models.load("tiny-transformer", device, dtype=dtype)
        xd = x.to(device=device, dtype=getattr(torch, dtype))
        times = []
        with torch.inference_mode():
            for _ in range(request.repeats):
                t0 = time.perf_counter()
                out = model(xd)
                out.float().sum().item()  # waits for the device
                ctx.backend.synchronize()
                times.append(time.perf_counter() - t0)
        err = ((out.double().cpu() - ref).abs().max() / ref.abs().max()).item()
        ok = bool(torch.isfinite(out).all().item()) and err <= TOLERANCE[dtype]
        checks.append(DtypeCheck(dtype, err, TOLERANCE[dtype], ok,
                                 1000 * sorted(times[1:])[len(times[1:]) // 2]))
        progress(Progress(i + 1, total, f"{dtype}: {'ok' if ok else 'FAILED'} (rel. error {err:.1e})"))
    report = ctx.workdir / "selftest.json"
    result = SelftestResult(ctx.device_id, all(c.passed for c in checks), checks, {"report": report})
    report.write_text(json.dumps({"device": ctx.device_id, "checks": [c.__dict__ for c in checks]}, indent=1))
    return result
