"""The device protocol: a place that runs tasks (local chip, simulated chip, Ray node or class).

Callers see `capabilities` (declared by the device's backend) and `submit`; every device
returns the same `Job`. Devices are built in this layer; finding them by name and choosing
among them is `workbench.scheduling`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from workbench.contract.capabilities import ALL_FLOAT_DTYPES, Capabilities, GiB, format_bytes
from workbench.contract.requirements import Requirements

if TYPE_CHECKING:
    from workbench.jobs.job import Job
    from workbench.tasks.registry import TaskLike

__all__ = ["ALL_FLOAT_DTYPES", "Capabilities", "Device", "GiB", "format_bytes"]


@runtime_checkable
class Device(Protocol):
    """A place that runs tasks. Local and remote devices look the same to callers."""

    id: str  #: stable name: "cpu", "cuda:0", "sim:npu0", "ray:npu"

    @property
    def capabilities(self) -> Capabilities: ...

    def submit(self, task: TaskLike, request: Any, *, task_name: str | None = None,
               requirements: Requirements | None = None, placement: str = "", tag: str = "",
               expected_s: float | None = None, checkpoints: dict[str, Any] | None = None) -> Job:
        """Queue `task` (`run(request, ctx)`) and return its job at once (`tag`: see `Job.tag`; `expected_s`:
        the seconds placement expects it to run, which `perf` judges the run against; `checkpoints`: finished
        items of an earlier run of the same request, which this one skips: `wb.resume`)."""
        ...

    def load(self) -> int:
        """Jobs queued or running on this device now, machine-wide (placement spreads by it)."""
        ...

    def busy(self) -> float | None:
        """The share (0..1) of its compute other work uses now; None where the device cannot tell."""
        ...

    def shutdown(self, *, reason: str = "the device was shut down") -> None:
        """Stop accepting work; queued jobs fail with `reason`, running jobs are cancelled."""
        ...

    @property
    def fault(self) -> str | None:
        """Why the device stopped working (None while it works): placement skips it and its jobs move."""
        ...

    def resume(self, job: Job, fn: Any) -> None:
        """Take over a job that moved here from another device (its checkpoints travel with it); `fn` is the
        task's function (a Ray device takes its picklable payload instead)."""
        ...
