"""`workbench bench`: a small standard case of each task on each device, FlagPerf-style.

Each task's spec names its standard case (`TaskSpec.bench`). On every device that can run it:
one warm-up run (models load, kernels compile), then `repeats` timed runs through the normal job
path, and the median rate is stored with the chip's name, driver and torch versions
(`jobs.perf`, source "bench"). Ray devices run their cases on their own nodes, like any job.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from workbench.jobs import perf
from workbench.jobs.store import default_store
from workbench.scheduling import registry
from workbench.scheduling.profiles import torch_version
from workbench.tasks.registry import TASKS, get_task
from workbench.tasks.requests import make_request


def bench(tasks: list[str] | None = None, devices: list[str] | None = None, *, repeats: int = 3,
          timeout: float = 600, say: Callable[[str], None] = lambda line: None,
          watch: Callable[[Any, str], None] = lambda job, label: None) -> list[dict[str, Any]]:
    """Measure, store and return one row per (task, device) measured. `watch(job, label)` is called with
    each run's job as it starts (a view follows its progress there; it returns when the job ends)."""
    specs = [get_task(t) for t in tasks] if tasks else [s for s in TASKS.values() if s.bench]
    targets = [registry.get(d) for d in devices] if devices else [
        d for d in registry.usable() if not getattr(d, "is_class", False)]
    rows = []
    for spec in specs:
        if not spec.bench:
            say(f"{spec.name}: no standard case; skipped")
            continue
        request = make_request(spec, **spec.bench)
        needs = spec.requirements_for(request)
        for device in targets:
            why_not = needs.unmet(device.capabilities)
            if why_not:
                say(f"{spec.name} on {device.id}: skipped ({'; '.join(why_not)})")
                continue
            label = f"{spec.name} on {device.id}"
            warm = device.submit(spec, request, requirements=needs, tag="bench")
            watch(warm, f"{label}, warm-up")
            warm.result(timeout)
            seconds, dtype = [], "-"
            for k in range(repeats):
                job = device.submit(spec, request, requirements=needs, tag="bench")
                watch(job, f"{label}, run {k + 1}/{repeats}")
                result = job.result(timeout)
                seconds.append((job.finished or 0.0) - (job.started or 0.0))
                dtype = str(getattr(result, "dtype", "") or "-")
            caps = device.capabilities
            median = statistics.median(seconds)
            units = spec.work_of(request)
            perf.record(default_store(), device=device.id, task=spec.name, model=spec.model_of(request), dtype=dtype,
                        unit=spec.unit, units=units, seconds=median, source="bench",
                        extra={"chip": caps.name, "driver": caps.extra.get("driver"), "torch": torch_version(),
                               "repeats": repeats})
            row = {"task": spec.name, "device": device.id, "rate": units / median, "unit": spec.unit,
                   "seconds": median}
            say(f"{spec.name} on {device.id}: {units / median:.3g} {spec.unit}/s (median of {repeats})")
            rows.append(row)
    return rows
