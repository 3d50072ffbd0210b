"""workbench: multimodal and science models on heterogeneous devices, from Jupyter.

One shared device layer (`workbench.devices`), one job layer (`workbench.jobs`), pure
tasks (`workbench.tasks`), and thin views: widgets, the CLI, a Gradio app.

Imports are lazy: worker processes that only need a task module (RDKit, MuJoCo) do not
pay for importing torch. `workbench.devices()` and `workbench.jobs()` are callable
packages that list devices and jobs.
"""

from __future__ import annotations

import importlib
from typing import Any

from workbench.errors import (
    Cancelled,
    DeviceError,
    InputError,
    JobFailed,
    ModelNotAvailable,
    WorkbenchError,
)

__version__ = "0.1.0"

_LAZY = {
    "devices": ("workbench.devices", None),
    "jobs": ("workbench.jobs", None),
    "device": ("workbench.api", "device"),
    "job": ("workbench.api", "job"),
    "run": ("workbench.api", "run"),
    "submit": ("workbench.api", "submit"),
    "connect": ("workbench.api", "connect"),
    "Job": ("workbench.jobs.job", "Job"),
    "JobState": ("workbench.jobs.job", "JobState"),
    "Progress": ("workbench.jobs.job", "Progress"),
}

__all__ = [
    "Cancelled", "DeviceError", "InputError", "Job", "JobFailed", "JobState",
    "ModelNotAvailable", "Progress", "WorkbenchError", "connect", "device", "devices", "job",
    "jobs", "run", "submit",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = importlib.import_module(module)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value
    return value
