"""A task that crashes in native code, as RDKit or MuJoCo can: a real SIGSEGV (a read of address 0)."""

from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass

from workbench.contract import Progress, TaskContext


@dataclass(frozen=True)
class CrashRequest:
    crash: bool = True


def run(request: CrashRequest, ctx: TaskContext) -> dict:
    ctx.progress(Progress(0, 1, "about to read address 0"))
    if request.crash:
        ctypes.string_at(0)  # segfaults this process
    return {"pid": os.getpid(), "main_thread": threading.current_thread() is threading.main_thread()}


def run_with_torch(request: CrashRequest, ctx: TaskContext) -> dict:
    """The same, after torch did some work: a crash inside a model task."""
    import torch

    torch.ones(4).sum()
    return run(request, ctx)


@dataclass(frozen=True)
class StallRequest:
    seconds: int = 120


def run_stalled(request: StallRequest, ctx: TaskContext) -> dict:
    """One long native call that reports nothing, as RDKit's embedding of a large molecule: libc's sleep."""
    ctx.progress(Progress(0, 1, "inside one native call"))
    ctypes.CDLL(None).sleep(request.seconds)
    return {"pid": os.getpid()}
