"""The server extension's settings, as Jupyter configuration (traitlets), not module constants.

    jupyter lab --WorkbenchServer.max_jobs_listed=500
    # or in jupyter_server_config.py
    c.WorkbenchServer.discovery_timeout_s = 30

`jupyter server --help-all` lists them with the rest of the server's configuration.
"""

from __future__ import annotations

from traitlets import Float, Int
from traitlets.config import Configurable


class WorkbenchServer(Configurable):
    """Settings of workbench's Jupyter server extension (`/workbench/api/`)."""

    discovery_every_s = Float(60.0, help="Seconds between device discoveries the server starts itself (in a "
                                         "helper process, when no kernel has published its devices).").tag(config=True)
    discovery_timeout_s = Float(120.0, help="Seconds a device discovery in a helper process may take before it "
                                            "is stopped.").tag(config=True)
    max_jobs_listed = Int(1000, help="The largest `limit` a client may ask of GET /workbench/api/jobs.").tag(
        config=True)
