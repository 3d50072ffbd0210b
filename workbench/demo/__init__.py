"""`workbench demo`: find the devices, run a small job of each capability on each local device,
and write `report.html` with the files it links.

The demo is composed of steps (`steps.py`, one per capability); a capability adds its step to
`STEPS`. A step whose optional dependencies are missing says so in the report in one sentence
instead of failing the demo; a model whose weights are not cached runs as its tiny random twin,
labelled as such.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from workbench.contract.errors import WorkbenchError
from workbench.demo.context import DemoContext, Step, StepOutcome
from workbench.demo.report import render_report
from workbench.demo.steps import DEMO_MOLECULES, STEPS, cluster_step
from workbench.jobs.codec import to_jsonable
from workbench.scheduling import registry

__all__ = ["DEMO_MOLECULES", "STEPS", "DemoContext", "Step", "StepOutcome", "run_demo"]


def run_demo(out: Path, *, quiet: bool = False, steps: list[Step] | None = None, cluster: bool = False) -> Path:
    """Run every step on every local device (and, with `cluster`, on a heterogeneous loopback
    cluster) and write `out/report.html`."""
    started = time.time()
    out.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr)

    devices = [d for d in registry.discover() if d.capabilities.backend != "ray"]
    log(f"devices: {', '.join(d.id for d in devices)}")
    device_rows = [{"id": d.id, **d.capabilities.to_dict()} for d in devices]
    (out / "devices.json").write_text(json.dumps(to_jsonable(device_rows), indent=1))
    ctx = DemoContext(out, devices, log, quiet)
    outcomes: list[StepOutcome] = []
    notes = list(registry.problems)
    for step in (steps if steps is not None else STEPS) + ([cluster_step] if cluster else []):
        try:
            outcomes.extend(step(ctx))
        except WorkbenchError as exc:  # a missing extra or model: one sentence in the report
            notes.append(str(exc))
            log(f"  {exc}")
    (out / "outcomes.json").write_text(json.dumps(to_jsonable(outcomes), indent=1))
    return render_report(out, device_rows, outcomes, notes, started)
