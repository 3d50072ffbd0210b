"""Shared fixtures: every test gets its own WORKBENCH_HOME, so stores never mix."""

from __future__ import annotations

import os
from pathlib import Path

# Ray reads these at import: every Ray port of the test cluster listens on 127.0.0.1 only.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
# Every test decides memory as on the smallest machine the README supports (8 GiB free), whatever this
# one has free now: a test must not pass at 21 GiB free and fail at 14 (set it yourself to try others).
os.environ.setdefault("WORKBENCH_FREE_MEMORY", "8GiB")

import pytest
from helpers import SIM

from workbench.scheduling import registry


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "home"
    monkeypatch.setenv("WORKBENCH_HOME", str(root))
    monkeypatch.delenv("WORKBENCH_SIMULATED_DEVICES", raising=False)
    return root


@pytest.fixture
def devices(monkeypatch: pytest.MonkeyPatch):
    """The CPU plus a simulated 2 GiB NPU without float64, discovered through the plug-in."""
    monkeypatch.setenv("WORKBENCH_SIMULATED_DEVICES", SIM)
    found = registry.discover(refresh=True)
    yield {d.id: d for d in found}
    monkeypatch.delenv("WORKBENCH_SIMULATED_DEVICES")
    registry.discover(refresh=True)


