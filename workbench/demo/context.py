"""What every demo step shares: the report folder, the devices, a log, and waiting for a job while its
progress shows (`DemoContext.wait`)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import presenters
from workbench.contract.errors import WorkbenchError
from workbench.hardware.base import Device
from workbench.jobs.codec import result_files
from workbench.jobs.job import Job


@dataclass
class StepOutcome:
    """One row of the report: what ran where, how it ended, and the files it made."""

    title: str
    device: str
    state: str
    summary: str
    seconds: float | None = None
    job_id: str | None = None
    files: list[Path] = field(default_factory=list)  #: relative to the report folder


@dataclass
class DemoContext:
    out: Path
    devices: list[Device]
    log: Callable[[str], None]
    quiet: bool = False

    def capable(self, spec: Any, request: Any) -> list[Device]:
        """The local devices that satisfy the task's requirements for this request."""
        from workbench.scheduling.placement import unmet

        needs = spec.requirements_for(request)
        return [d for d in self.devices if not unmet(d, needs)]

    def wait(self, title: str, job: Job, summarise: Callable[[Any], str],
             keep: tuple[str, ...] | None = None) -> StepOutcome:
        """Wait for `job`, copy its files into the report folder, and describe it."""
        self.log(f"  {title} on {job.device} ...")
        presenters.follow(job, quiet=self.quiet)
        try:
            result = job.result(timeout=900)
        except WorkbenchError as exc:
            return StepOutcome(title, job.device, job.state.value, str(exc), job_id=job.id)
        files = []
        dest_dir = self.out / "files" / job.id
        for name, path in result_files(result).items():
            if keep is not None and name not in keep:
                continue
            dest_dir.mkdir(parents=True, exist_ok=True)
            dest = dest_dir / path.name
            shutil.copytree(path, dest) if path.is_dir() else shutil.copy2(path, dest)
            files.append(dest.relative_to(self.out))
        seconds = (job.finished or 0) - (job.started or 0)
        return StepOutcome(title, job.device, job.state.value, summarise(result), seconds,
                           job.id, files)


Step = Callable[[DemoContext], list[StepOutcome]]


def weights(model_id: str) -> tuple[bool, str]:
    """(tiny, how the row names the model): the real model when its weights are cached, else its tiny
    random twin of the same architecture, said so (its output shows the files and views, not a prediction)."""
    from workbench import models

    if models.is_cached(model_id):
        return False, model_id
    return True, f"tiny random {model_id}; `workbench models pull {model_id}` for the real one"


def task(name: str, what: str) -> Any:
    """The task's spec with its module imported, or the step skipped in one sentence naming the extra."""
    from workbench.tasks.registry import get_task

    spec = get_task(name)
    try:
        spec.load()  # a missing optional package is a sentence naming the extra
    except WorkbenchError as exc:
        raise WorkbenchError(f"{what} skipped: {exc}") from None
    return spec
