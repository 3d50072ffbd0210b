"""ARCHITECTURE.md's "add a task" is true: a task module and one registration, in a package of its own
(a temporary one here, installed as a distribution with an entry point), and nothing else edited. The
new task shows in `--help` with its ranges, runs from the CLI with its own headline, is refused in the
same words outside its limits, appears in a regenerated OpenAPI file, and `jobs list` shows its summary."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import run_cli

TASK_MODULE = '''
"""Sums of squares: a task written outside workbench."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from workbench.contract import Progress, TaskContext
from workbench.contract.limits import Limits


@dataclass(frozen=True)
class SquaresRequest:
    n: Annotated[int, Limits(ge=1, le=50, unit="squares")] = 3  #: how many squares to add up


@dataclass
class SquaresResult:
    n: int
    total: int

    def summary(self) -> str:
        return f"sum of the first {self.n} squares: {self.total}"


def run(request: SquaresRequest, ctx: TaskContext) -> SquaresResult:
    total = 0
    for i in range(1, request.n + 1):
        total += i * i
        ctx.progress(Progress(i, request.n, f"square {i}"))
    return SquaresResult(request.n, total)
'''

REGISTRATION = '''
from workbench.contract.task import TaskSpec

SPEC = TaskSpec(name="squares", run="wbsquares.task:run", request="wbsquares.task:SquaresRequest",
                summary="Add up the first n squares (a task from another package).", unit="squares")
'''


@pytest.fixture
def plugin(tmp_path: Path) -> dict[str, str]:
    """A package `wbsquares` (the task module and its registration) on the path, with its dist-info."""
    site = tmp_path / "site"
    (site / "wbsquares").mkdir(parents=True)
    (site / "wbsquares" / "__init__.py").write_text(textwrap.dedent(REGISTRATION))
    (site / "wbsquares" / "task.py").write_text(textwrap.dedent(TASK_MODULE))
    info = site / "wbsquares-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wbsquares\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[workbench.tasks]\nsquares = wbsquares:SPEC\n")
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "WORKBENCH_HOME": str(tmp_path / "home")}


def test_a_task_from_another_package_needs_no_other_edit(plugin, tmp_path):
    helped = run_cli("run", "squares", "--help", env=plugin)
    assert helped.returncode == 0, helped.stderr
    text = " ".join(helped.stdout.split())
    assert "how many squares to add up (between 1 and 50 squares; default: 3)" in text
    assert "squares Add up the first n squares (a task from another package)." in " ".join(
        run_cli("run", "--help", env=plugin).stdout.split())

    ran = run_cli("run", "squares", "--n", "4", env=plugin)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().splitlines()[-1] == "sum of the first 4 squares: 30"

    refused = run_cli("run", "squares", "--n", "51", env=plugin)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "squares: n must be between 1 and 50 squares, not 51." in refused.stderr

    listed = run_cli("jobs", "list", env=plugin)
    assert listed.returncode == 0, listed.stderr
    assert "sum of the first 4 squares: 30" in listed.stdout

    committed = Path(__file__).resolve().parents[1] / "workbench" / "server" / "openapi.json"
    copy = tmp_path / "openapi.json"
    shutil.copy(committed, copy)
    subprocess.run([sys.executable, "-c", f"from workbench.tasks.requests import write_openapi; "
                    f"write_openapi({str(copy)!r})"], env={**os.environ, **plugin}, check=True)
    schema = json.loads(copy.read_text())["components"]["schemas"]["squares-request"]
    assert schema["properties"]["n"] == {"type": "integer", "description": "how many squares to add up",
                                         "minimum": 1, "maximum": 50, "x-unit": "squares", "default": 3}
    assert schema["description"] == "Add up the first n squares (a task from another package)."


def test_a_broken_plugin_is_skipped_and_the_built_in_tasks_still_work(plugin, tmp_path):
    site = Path(plugin["PYTHONPATH"].split(os.pathsep)[0])
    (site / "wbsquares-0.1.dist-info" / "entry_points.txt").write_text(
        "[workbench.tasks]\nsquares = wbsquares:NOT_THERE\nodd = wbsquares.task:SquaresRequest\n")
    out = run_cli("run", "count", "--steps", "2", "--delay", "0", env=plugin)
    assert out.returncode == 0, out.stderr
    assert "task plug-in squares (wbsquares:NOT_THERE) could not be loaded" in out.stderr
    assert "is a type, not a TaskSpec" in out.stderr
