"""A diagnostic task: count to N with a progress report per step.

It is the simplest long-running job there is, used to check progress streaming, cancel
latency and migration on any device (local, simulated or a Ray node) without loading a
model.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Annotated

from workbench.contract import Progress, TaskContext
from workbench.contract.limits import Limits


@dataclass(frozen=True)
class CountRequest:
    steps: Annotated[int, Limits(ge=0, le=10_000_000, unit="steps")] = 10  #: how far to count
    delay: Annotated[float, Limits(ge=0, le=60, unit="s")] = 0.01  #: seconds per step



@dataclass
class CountResult:
    steps: int
    host: str
    pid: int

    def summary(self) -> str:
        """The line (or few) a person reads first: the CLI's headline, `jobs list`, the widget and Gradio."""
        return f"counted to {self.steps} on {self.host}"


def work(request: CountRequest) -> float:
    return float(request.steps)


def run(request: CountRequest, ctx: TaskContext) -> CountResult:
    """Each finished step is a checkpoint: a job moved to another device goes on from there."""
    for i in range(len(ctx.checkpoints), request.steps):
        ctx.progress(Progress(i + 1, request.steps, f"step {i + 1}"))
        if request.delay:
            time.sleep(request.delay)
        ctx.checkpoint(str(i), ctx.device_id)
    return CountResult(request.steps, socket.gethostname(), os.getpid())
