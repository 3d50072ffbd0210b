"""The errors a person reads; they live in the contract layer (`workbench.contract.errors`).

This module keeps `from workbench.contract.errors import InputError` working for users and notebooks.
"""

from workbench.contract.errors import (  # noqa: F401
    Cancelled,
    DeviceError,
    InputError,
    JobFailed,
    JobNotFound,
    ModelNotAvailable,
    StoreError,
    UnknownTask,
    WorkbenchError,
)
