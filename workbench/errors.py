"""The errors a person reads; they live in the contract layer (`workbench.contract.errors`).

This module keeps `from workbench.errors import InputError` working for users and notebooks.
"""

from workbench.contract.errors import *  # noqa: F403
from workbench.contract.errors import __all__  # noqa: F401
