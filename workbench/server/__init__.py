"""Jupyter server extension: a thin, authenticated REST layer over devices, jobs and results.

Routes live under `/workbench/api/` (see `openapi.json` beside this file). Every route
requires Jupyter's authentication; result files are served only from the result store. Its
settings are Jupyter configuration (`config.WorkbenchServer`).
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "workbench.server"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    from workbench.server.config import WorkbenchServer
    from workbench.server.handlers import setup_handlers

    server_app.web_app.settings["workbench"] = WorkbenchServer(parent=server_app)  # its Jupyter configuration
    setup_handlers(server_app.web_app)
    server_app.log.info("workbench: REST API at /workbench/api/")
