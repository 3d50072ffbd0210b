"""The contract layer: the types every other layer speaks, importing nothing else of workbench.

Requirements, capabilities, progress, the backend interface, the task spec and context, and
the errors a person reads. No torch, no I/O: importing this is free.
"""

from workbench.contract.backend import Backend, MemoryPolicy
from workbench.contract.capabilities import ALL_FLOAT_DTYPES, Capabilities, GiB, format_bytes
from workbench.contract.errors import (
    Cancelled,
    DeviceError,
    DeviceLost,
    InputError,
    JobFailed,
    JobNotFound,
    ModelNotAvailable,
    StoreError,
    UnknownTask,
    WorkbenchError,
)
from workbench.contract.progress import Progress, ProgressCallback
from workbench.contract.requirements import Requirements
from workbench.contract.task import TaskContext, TaskSpec, import_target

__all__ = [
    "ALL_FLOAT_DTYPES", "Backend", "Cancelled", "Capabilities", "DeviceError", "DeviceLost", "GiB", "InputError",
    "JobFailed",
    "JobNotFound", "MemoryPolicy", "ModelNotAvailable", "Progress", "ProgressCallback", "Requirements",
    "StoreError", "TaskContext", "TaskSpec", "UnknownTask", "WorkbenchError", "format_bytes", "import_target",
]
