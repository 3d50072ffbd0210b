"""The public face of the device layer, for notebooks: `workbench.devices()` lists every device.

    import workbench as wb
    wb.devices()                       # [<LocalDevice cpu: ...>, ...]
    wb.devices.get("auto")             # the device placement would choose
    wb.devices.Requirements(min_memory=8 * wb.devices.GiB)

The classes live in their layers: `workbench.contract` (capabilities, requirements, backends),
`workbench.hardware` (local and Ray devices, backend classes), `workbench.scheduling` (registry,
placement, profiles).
"""

import sys
import types

from workbench.contract import Backend, Capabilities, GiB, MemoryPolicy, Requirements, format_bytes
from workbench.hardware.base import Device
from workbench.scheduling import registry
from workbench.scheduling.registry import add, discover, get, names

__all__ = ["Backend", "Capabilities", "Device", "GiB", "MemoryPolicy", "Requirements", "add", "discover",
           "format_bytes", "get", "names", "registry"]


class _CallableModule(types.ModuleType):
    def __call__(self, refresh: bool = False) -> list:
        return discover(refresh=refresh)


sys.modules[__name__].__class__ = _CallableModule
