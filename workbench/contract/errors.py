"""Errors a person reads.

Every exception here carries a message written for the user of a widget, the CLI or
Gradio: one sentence that says what went wrong and, where possible, what to do. The job
layer turns them into a failed or cancelled job with that sentence as the reason; any
other exception is a real fault and keeps its type name in the reason.
"""

from __future__ import annotations

__all__ = ["Cancelled", "DeviceError", "DeviceLost", "InputError", "JobFailed", "JobNotFound", "ModelNotAvailable",
           "StoreError", "UnknownTask", "WorkbenchError"]


class WorkbenchError(Exception):
    """Base class: the message is meant for a person, not a traceback."""


class InputError(WorkbenchError, ValueError):
    """The request is invalid (bad SMILES, illegal residue letters, unsupported size...)."""


class DeviceError(WorkbenchError):
    """A device is unknown, cannot satisfy a task, or stopped working mid job."""


class DeviceLost(DeviceError):
    """The device stopped working or was drained mid job: the job may move to another device."""


class ModelNotAvailable(WorkbenchError):
    """Weights are not in the local cache and the hub is unreachable or not allowed."""


class Cancelled(WorkbenchError):
    """Raised inside a task (by its progress callback) when the job was cancelled."""


class JobFailed(WorkbenchError):
    """Raised by `Job.result()` when the job ended in the failed state."""


class JobNotFound(WorkbenchError, LookupError):
    """No job with this id exists in the result store."""


class UnknownTask(WorkbenchError, LookupError):
    """No task with this name is registered."""


class StoreError(WorkbenchError):
    """The result store is unreadable (corrupt index or record); other records stay usable."""
