"""The device layer: one backend class per chip family, local devices over them, Ray devices.

Finding devices by name and choosing among them is `workbench.scheduling`; the public,
callable face for notebooks is `workbench.devices`.
"""

from workbench.hardware.base import Device

__all__ = ["Device"]
