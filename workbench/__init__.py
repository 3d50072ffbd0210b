"""workbench: multimodal and science models on heterogeneous devices, from Jupyter.

Layers, each importing only downward (see ARCHITECTURE.md): `contract` (types every layer
speaks), `tasks` (pure `run(request, ctx)`), `jobs` (lifecycle, slots, store), `hardware`
(one backend class per chip, local and Ray devices), `scheduling` (registry, placement,
profiles, fan-out), `api`, and views (CLI, server extension, widgets, Gradio, demo).

Imports are lazy: worker processes that only need a task module (RDKit, MuJoCo) do not
pay for importing torch. `workbench.devices()` and `workbench.jobs()` are callable
packages that list devices and jobs.
"""

from __future__ import annotations

import importlib
from typing import Any

from workbench.contract.errors import (
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
    "resume": ("workbench.api", "resume"),
    "connect": ("workbench.api", "connect"),
    "any_of": ("workbench.api", "any_of"),
    "first_of": ("workbench.api", "first_of"),
    "drain": ("workbench.api", "drain"),
    "cancel": ("workbench.jobs", "cancel"),
    "Job": ("workbench.jobs.job", "Job"),
    "JobState": ("workbench.jobs.job", "JobState"),
    "Progress": ("workbench.contract.progress", "Progress"),
    "TaskContext": ("workbench.contract.task", "TaskContext"),
}

__all__ = [
    "Cancelled", "DeviceError", "InputError", "Job", "JobFailed", "JobState",
    "ModelNotAvailable", "Progress", "TaskContext", "WorkbenchError", "connect", "device", "devices", "job",
    "jobs", "run", "submit", "resume", "any_of", "first_of", "drain", "cancel",
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
