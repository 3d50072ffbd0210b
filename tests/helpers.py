"""Helpers for the tests: the CLI in a fresh process, and small tasks with the task signature."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

from workbench.contract import InputError, Progress, TaskContext
from workbench.hardware.local import standalone_context

SIM = "npu:2GiB:float32+float16+bfloat16"


def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the installed `workbench` command in a fresh process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "workbench", *args], capture_output=True,
                          text=True, env=full_env, timeout=timeout)


def cpu_context(progress=lambda p: None) -> TaskContext:
    """A task context on the CPU backend outside any job (for calling a task's `run` directly)."""
    return standalone_context(progress)


# ---- small tasks for the job tests: plain functions with the task signature -------------

def add_task(request: dict, ctx: TaskContext) -> dict:
    device, progress = ctx.device_id, ctx.progress
    for i in range(3):
        progress(Progress(i + 1, 3, f"step {i + 1}"))
    return {"sum": request["a"] + request["b"], "device": device}


def failing_task(request: dict, ctx: TaskContext) -> dict:
    ctx.progress(Progress(0, 1, "about to fail"))
    raise ZeroDivisionError("division by zero in the task")


def bad_input_task(request: dict, ctx: TaskContext) -> dict:
    raise InputError("The SMILES 'C1CC' has an unclosed ring.")


def slow_task(request: dict, ctx: TaskContext) -> dict:
    """Reports progress every 10 ms for up to `steps` steps; `started` is set on entry."""
    progress = ctx.progress
    started: threading.Event | None = request.get("started")
    if started is not None:
        started.set()
    for i in range(request.get("steps", 1000)):
        progress(Progress(i, request.get("steps", 1000)))
        threading.Event().wait(0.01)
    return {"done": True}


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (servers in tests bind to loopback only)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 90, proc: subprocess.Popen | None = None) -> None:
    """Poll `url` until it answers; raise (after killing `proc`) if it never does."""
    import time
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            time.sleep(0.3)
    if proc is not None:
        proc.kill()
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def peak_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most (start, end) intervals open at one moment: jobs running at once."""
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda p: (p[0], p[1]))
    peak = active = 0
    for _, step in points:
        active += step
        peak = max(peak, active)
    return peak
