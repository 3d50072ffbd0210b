"""Per-task performance: how fast each device did each task's work, FlagPerf-style.

Chips differ per workload: a chip can be 90% of another on one model and 50% on the next, which a
matmul figure does not predict. So every finished job records its work size (in its task's unit:
conformers, residues, denoising steps, grasp trials, tokens) and its seconds, per (task, model,
device, dtype); `workbench bench` adds standard cases (source "bench"). Placement predicts a
job's finish time from the median rate here.
"""

from __future__ import annotations

import atexit
import logging
import statistics
import threading
import time
from dataclasses import dataclass
from typing import Any

from workbench.tasks.registry import TASKS

log = logging.getLogger(__name__)

#: rates from the newest samples only: a driver or torch upgrade shows within this many jobs
RECENT = 20
#: placement predicts from the median of this many newest runs, so a change of load shows within a few jobs
PREDICT_FROM = 5
#: a run this many times slower than predicted is a miss: its own rate stands for the device until the next run
MISS_RATIO = 2.0
#: shorter runs are not judged: start-up noise decides them
MISS_MIN_S = 0.5
#: the most of a device other work is taken to use (a rate is never scaled by more than 10x)
MAX_BUSY = 0.9


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
            log.debug("flush: ignored", exc_info=True)


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


@dataclass(frozen=True)
class RateFigure:
    """What placement knows of a device's speed on one task and model."""

    rate: float  #: units/s predicted with
    samples: int  #: how many recent runs it comes from
    spread: float  #: fastest over slowest of those runs (1.0: they agree)
    age_s: float  #: seconds since the newest run
    corrected: str = ""  #: why the newest run's rate is used instead of the median, in words

    def describe(self) -> str:
        """The figure's caveats for a placement reason ("" when there are none)."""
        parts = [self.corrected] if self.corrected else []
        if self.samples > 1 and self.spread >= 1.5 and not self.corrected:  # a miss says it already
            parts.append(f"its runs vary {self.spread:.1f}x")
        if self.age_s > 7 * 86400:
            parts.append(f"last measured {self.age_s / 86400:.0f} days ago")
        return "; ".join(parts)


def idle_rate(rate: float, busy: float | None) -> float:
    """A rate measured while others used `busy` of the device, in idle terms."""
    return rate / (1 - min(busy or 0.0, MAX_BUSY))


def figures(store: Any, task: str, model: str) -> dict[str, RateFigure]:
    """By device: the median rate of its newest PREDICT_FROM runs in idle terms (each run's rate divided by
    the share of the device other work left it), or its newest run's alone when that run missed its
    prediction (the median would take several runs to follow a change)."""
    flush()
    by_device: dict[str, list[tuple[float, float, dict[str, Any]]]] = {}
    for device, rate, at, extra in store.recent_samples(task, model, PREDICT_FROM):
        by_device.setdefault(device, []).append((idle_rate(rate, extra.get("busy")), at, extra))
    now = time.time()
    out = {}
    for device, runs in by_device.items():
        rates_ = [r for r, _, _ in runs]
        newest_rate, newest_at, newest_extra = runs[0]
        miss = newest_extra.get("miss")
        corrected = ""
        rate = statistics.median(rates_)
        if miss:
            rate = newest_rate
            corrected = f"corrected: its last run took {miss:.1f}x the predicted time"
        out[device] = RateFigure(rate, len(runs), max(rates_) / min(rates_), now - newest_at, corrected)
    return out


def record_finished(job: Any) -> None:
    """The figures of a job that just succeeded, when it ran a registered task on one device from start
    to end (a moved job's time mixes devices). Called by every device after a job ends."""
    spec = TASKS.get(job.task_name)
    if spec is None or job.moves or job.store is None or job.state.value != "succeeded" or getattr(job, "tag", ""):
        return
    try:
        record_job(job.store, job, spec, job.result(0))
    except Exception:  # a figure is not worth failing a finished job
        log.debug("record_finished: ignored", exc_info=True)


def record_job(store: Any, job: Any, spec: Any, result: Any) -> None:
    """Record a finished job of a registered task (called by the devices after success)."""
    if job.started is None or job.finished is None:
        return
    try:
        units = spec.work_of(job.request)
    except Exception:
        log.debug("record_job: ignored", exc_info=True)
        return
    seconds = job.finished - job.started
    expected, busy = job.expected_s, job.busy_during
    extra: dict[str, Any] = {}
    if busy is not None:
        extra["busy"] = round(busy, 3)
    if expected and seconds >= MISS_MIN_S and (seconds / expected >= MISS_RATIO or expected / seconds >= MISS_RATIO):
        extra.update(miss=round(seconds / expected, 2), expected_s=round(expected, 3))
    record(store, device=job.device, task=spec.name, model=spec.model_of(job.request),
           dtype=str(getattr(result, "dtype", "") or "-"), unit=spec.unit, units=units, seconds=seconds,
           extra=extra or None)


def table(store: Any, task: str | None = None) -> list[dict[str, Any]]:
    """One row per (device, task, model, dtype, source): median rate over the recent samples."""
    flush()
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in store.perf_rows(task):
        groups.setdefault((r["device"], r["task"], r["model"], r["dtype"], r["unit"], r["source"]), []).append(r)
    out = []
    for (device, task_name, model, dtype, unit, source), rows in sorted(groups.items()):
        recent = rows[-RECENT:]
        out.append({"device": device, "task": task_name, "model": model, "dtype": dtype, "unit": unit,
                    "rate": statistics.median(r["units"] / r["seconds"] for r in recent),
                    "samples": len(rows), "source": source, "extra": recent[-1]["extra"]})
    return out
