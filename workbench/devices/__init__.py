"""The shared device abstraction: capabilities, discovery, profiles, placement.

The package is also callable, so a notebook can write `workbench.devices()` to list
every device (local, plug-ins, cluster) without a name clash with this package.
"""

import sys
import types

from workbench.devices.base import Capabilities, Device
from workbench.devices.placement import Requirements

__all__ = ["Capabilities", "Device", "Requirements"]


class _CallableModule(types.ModuleType):
    def __call__(self, refresh: bool = False) -> list:
        from workbench.devices.registry import discover

        return discover(refresh=refresh)


sys.modules[__name__].__class__ = _CallableModule
