"""`python -m workbench.scheduling.serve DEVICE SOCKET`: run one device's host (`hardware.device_host`) until
it has been idle for `WORKBENCH_HOST_IDLE_S`.

The host is started by the first process that needs it (`device_host.connect`), or by `workbench serve`.
It lives here, a layer above the hardware, because it finds its device by name through the registry,
as every other process does (plug-in chips and simulated devices included).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from workbench.contract.errors import DeviceError
from workbench.hardware.device_host import Host
from workbench.scheduling import registry
from workbench.settings import settings


def serve(device_id: str, path: Path) -> None:
    device = registry.get(device_id)
    backend = getattr(device, "backend", None)
    if backend is None:
        raise DeviceError(f"{device_id} is not a device of this machine; a device host serves local devices.")
    Host(device.id, backend, device.capabilities, settings().host_idle_s).serve(path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    serve(args[0], Path(args[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
