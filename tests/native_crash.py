"""A task that crashes in native code, as RDKit or MuJoCo can: a real SIGSEGV (a read of address 0)."""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

from workbench.contract import Progress, TaskContext


@dataclass(frozen=True)
class CrashRequest:
    crash: bool = True


def run(request: CrashRequest, ctx: TaskContext) -> dict:
    ctx.progress(Progress(0, 1, "about to read address 0"))
    if request.crash:
        ctypes.string_at(0)  # segfaults this process
    return {"pid": os.getpid()}


def run_with_torch(request: CrashRequest, ctx: TaskContext) -> dict:
    """The same, after torch did some work: a crash inside a model task."""
    import torch

    torch.ones(4).sum()
    return run(request, ctx)
