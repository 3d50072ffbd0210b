"""Every WORKBENCH_* variable in one settings object: read when asked, a bad value said and ignored."""

from __future__ import annotations

import re
from pathlib import Path

import workbench
from workbench.settings import VARIABLES, described, settings


def test_settings_follow_the_environment_when_read(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("WORKBENCH_ISOLATE", "Native")
    monkeypatch.setenv("WORKBENCH_RAY_START_ATTEMPTS", "4")
    s = settings()
    assert s.home == tmp_path / "h" and s.isolate == "native" and s.ray_start_attempts == 4 and not s.problems
    from workbench.paths import home

    assert home() == tmp_path / "h"


def test_a_value_that_cannot_be_read_is_said_and_its_default_used(monkeypatch):
    monkeypatch.setenv("WORKBENCH_RAY_CONNECT_TIMEOUT", "soon")
    monkeypatch.setenv("WORKBENCH_RAY_START_ATTEMPTS", "0")
    monkeypatch.setenv("WORKBENCH_ISOLATE", "some")
    s = settings()
    assert s.ray_connect_timeout_s == 5.0 and s.ray_start_attempts == 2 and s.isolate == "all"
    assert len(s.problems) == 3 and all(p.count("\n") == 0 for p in s.problems)
    assert any(p.startswith("WORKBENCH_RAY_CONNECT_TIMEOUT='soon' is ignored") for p in s.problems)
    from workbench.scheduling import registry

    try:
        registry.discover(refresh=True)  # `workbench devices` lists them with discovery's other problems
        assert "WORKBENCH_ISOLATE='some' is ignored: it is one of all, native." in registry.problems
    finally:
        monkeypatch.undo()
        registry.discover(refresh=True)


def test_every_variable_the_code_reads_is_a_setting_with_a_meaning():
    """A new WORKBENCH_* variable read somewhere else would be missed by docs and doctor."""
    root = Path(workbench.__file__).parent
    named = {m for p in root.rglob("*.py") for m in re.findall(r"WORKBENCH_[A-Z_]+[A-Z]", p.read_text())}
    assert named <= set(VARIABLES.values()), named - set(VARIABLES.values())
    assert all(meaning for _, _, meaning in described()), described()
