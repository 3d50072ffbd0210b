"""Jobs: a task on a device, with state, progress, cancel, machine-wide slots and a durable record.

The package is also callable: `workbench.jobs()` lists every job in the result store, newest
first (the rows of `workbench jobs list --all --json`); `limit=N` keeps the newest N, `bench=True`
adds the runs of `workbench bench`.
"""

import sys
import types
from typing import Any

from workbench.contract.progress import Progress
from workbench.jobs.job import Event, Job, JobState
from workbench.jobs.store import ResultStore, StoredJob, default_store

__all__ = ["Event", "Job", "JobState", "Progress", "ResultStore", "StoredJob", "cancel", "default_store"]


def cancel(job_id: str) -> bool:
    """Cancel a job by id, from any process: the store flags it and its runner, wherever it runs, ends it
    (a queued job at once, a running one at its next progress report). False when it had already ended.
    The one cancel-by-id every view uses: `wb.cancel`, `workbench jobs cancel`, Gradio and REST."""
    return default_store().request_cancel(job_id)


class _CallableModule(types.ModuleType):
    def __call__(self, limit: int | None = None, state: str | None = None,
                 task: str | None = None, bench: bool = False) -> list[dict[str, Any]]:
        return default_store().list(limit=limit, state=state, task=task, tagged=bench)


sys.modules[__name__].__class__ = _CallableModule
