"""workbench: multimodal and science models on heterogeneous devices, from Jupyter.

One shared device layer (`workbench.devices`), one job layer (`workbench.jobs`), pure
tasks (`workbench.tasks`), and thin views: widgets, the CLI, a Gradio app.
"""

import workbench.devices as devices  # callable: workbench.devices() lists them
import workbench.jobs as jobs  # callable: workbench.jobs() lists past jobs
from workbench.api import device, job, run, submit
from workbench.errors import (
    Cancelled,
    DeviceError,
    InputError,
    JobFailed,
    ModelNotAvailable,
    WorkbenchError,
)
from workbench.jobs.job import Job, JobState, Progress

__version__ = "0.1.0"

__all__ = [
    "Cancelled", "DeviceError", "InputError", "Job", "JobFailed", "JobState",
    "ModelNotAvailable", "Progress", "WorkbenchError", "device", "devices", "job", "jobs",
    "run", "submit",
]
