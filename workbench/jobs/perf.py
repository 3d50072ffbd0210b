"""Per-task performance: how fast each device did each task's work, FlagPerf-style.

Chips differ per workload: a chip can be 90% of another on one model and 50% on the next, which a
matmul figure does not predict. So every finished job records its work size (in its task's unit:
conformers, residues, denoising steps, grasp trials, tokens) and its seconds, per (task, model,
device, dtype); `workbench bench` adds standard cases (source "bench"). Placement predicts a
job's finish time from the median rate here.
"""

from __future__ import annotations

import atexit
import statistics
import threading
import time
from typing import Any

from workbench.tasks.registry import TASKS

#: rates from the newest samples only: a driver or torch upgrade shows within this many jobs
RECENT = 20


#: rows of finished jobs wait here and are written together (one commit, not one per job)
FLUSH_EVERY_S = 1.0
_pending: list[tuple[Any, dict[str, Any]]] = []
_lock = threading.Lock()
_last_flush = [0.0]


def flush() -> None:
    """Write the waiting rows (before a read, at exit, or every FLUSH_EVERY_S)."""
    with _lock:
        rows, _pending[:] = list(_pending), []
        _last_flush[0] = time.monotonic()
    for store, row in rows:
        try:
            store.add_perf(row)
        except Exception:  # a figure is not worth failing anything for
            pass


atexit.register(flush)


def record(store: Any, *, device: str, task: str, model: str, dtype: str, unit: str, units: float,
           seconds: float, source: str = "history", extra: dict[str, Any] | None = None) -> None:
    """One measured run. Jobs with no measurable time (or no work) are not recorded."""
    if seconds <= 0 or units <= 0:
        return
    row = {"device": device, "task": task, "model": model, "dtype": dtype or "-", "unit": unit,
           "units": units, "seconds": seconds, "source": source, "extra": extra}
    with _lock:
        _pending.append((store, row))
        due = source != "history" or time.monotonic() - _last_flush[0] >= FLUSH_EVERY_S
    if due:
        flush()


def record_finished(job: Any) -> None:
    """The figures of a job that just succeeded, when it ran a registered task on one device from start
    to end (a moved job's time mixes devices). Called by every device after a job ends."""
    spec = TASKS.get(job.task_name)
    if spec is None or job.moves or job.store is None or job.state.value != "succeeded" or getattr(job, "tag", ""):
        return
    try:
        record_job(job.store, job, spec, job.result(0))
    except Exception:  # a figure is not worth failing a finished job
        pass


def record_job(store: Any, job: Any, spec: Any, result: Any) -> None:
    """Record a finished job of a registered task (called by the devices after success)."""
    if job.started is None or job.finished is None:
        return
    try:
        units = spec.work_of(job.request)
    except Exception:
        return
    record(store, device=job.device, task=spec.name, model=spec.model_of(job.request),
           dtype=str(getattr(result, "dtype", "") or "-"), unit=spec.unit, units=units,
           seconds=job.finished - job.started)


def table(store: Any, task: str | None = None) -> list[dict[str, Any]]:
    """One row per (device, task, model, dtype, source): median rate over the recent samples."""
    flush()
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in store.perf_rows(task):
        groups.setdefault((r["device"], r["task"], r["model"], r["dtype"], r["unit"], r["source"]), []).append(r)
    out = []
    for (device, task_name, model, dtype, unit, source), rows in sorted(groups.items()):
        recent = rows[-RECENT:]
        out.append({"device": device, "task": task_name, "model": model, "dtype": dtype, "unit": unit,
                    "rate": statistics.median(r["units"] / r["seconds"] for r in recent),
                    "samples": len(rows), "source": source, "extra": recent[-1]["extra"]})
    return out


def rates(store: Any, task: str, model: str) -> dict[str, float]:
    """Median units/s by device for `task` with `model` (bench and history samples together)."""
    flush()
    samples: dict[str, list[float]] = {}
    for device, rate in store.recent_rates(task, model, RECENT):
        samples.setdefault(device, []).append(rate)
    return {device: statistics.median(v) for device, v in samples.items()}
