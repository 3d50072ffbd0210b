"""Notebooks run under nbmake with their own throwaway result store and simulated NPU."""

import os
import tempfile


def pytest_configure(config):
    os.environ["WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="workbench-notebooks-")
    os.environ.setdefault("WORKBENCH_SIMULATED_DEVICES", "npu:2GiB:float32+float16+bfloat16")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
