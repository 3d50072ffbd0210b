"""Jobs: a task on a device, with state, progress, cancel, machine-wide slots and a durable record.

The package is also callable: `workbench.jobs()` lists jobs from the result store,
newest first (the same rows as `workbench jobs list --json`).
"""

import sys
import types

from workbench.contract.progress import Progress
from workbench.jobs.job import Event, Job, JobState
from workbench.jobs.store import ResultStore, StoredJob, default_store

__all__ = ["Event", "Job", "JobState", "Progress", "ResultStore", "StoredJob", "default_store"]


class _CallableModule(types.ModuleType):
    def __call__(self, limit: int | None = 50, state: str | None = None,
                 task: str | None = None) -> list:
        return default_store().list(limit=limit, state=state, task=task)


sys.modules[__name__].__class__ = _CallableModule
