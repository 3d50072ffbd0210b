"""Notebooks run under nbmake with their own throwaway result store (each notebook sets up the devices
it needs itself, so it runs the same when opened in JupyterLab)."""

import os
import tempfile


def pytest_configure(config):
    os.environ["WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="workbench-notebooks-")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WORKBENCH_FREE_MEMORY", "8GiB")  # as on the smallest machine the README supports
