"""Batch fan-out: one request split across several devices, merged into one result.

A task that takes a list (molecules, sequences, grasps, prompts) declares how to split a
request and merge results (`TaskSpec.split` / `TaskSpec.merge`). `fan_out` submits one
child job per part to the given devices, follows them as one parent job whose progress is
the sum of theirs, and settles the parent with the merged result. Cancel the parent and
the children are cancelled; a child that fails fails the parent with its reason.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

from workbench.contract.errors import Cancelled, InputError, JobFailed
from workbench.contract.progress import Progress
from workbench.contract.task import TaskSpec
from workbench.hardware.base import Device
from workbench.jobs.job import Event, Job, JobState
from workbench.jobs.runner import readable_reason, settle
from workbench.jobs.store import ResultStore, default_store

log = logging.getLogger(__name__)


def fan_out(spec: TaskSpec, request: Any, devices: list[Device]) -> Job:
    """Split `request` over `devices` and return the parent job at once."""
    if spec.split is None or spec.merge is None:
        raise InputError(f"Task {spec.name!r} cannot be split across devices; give one device.")
    if not devices:
        raise InputError("Give at least one device to fan out to.")
    parts = spec.split_request(request, len(devices))
    store = default_store()
    parent = Job(spec.name, request, "+".join(d.id for d in devices[: len(parts)]), store=store)
    store.register(parent)
    threading.Thread(target=_coordinate, args=(parent, spec, parts, devices, store), daemon=True,
                     name=f"workbench-fanout-{parent.id}").start()
    return parent


def _coordinate(parent: Job, spec: TaskSpec, parts: list[Any], devices: list[Device], store: ResultStore) -> None:
    parent.start()
    store.update(parent)
    children: list[Job] = []
    latest: dict[str, Progress] = {}
    lock = threading.Lock()

    def on_child(child: Job, ev: Event) -> None:
        if ev.progress is None:
            return
        with lock:
            latest[child.id] = ev.progress
            done = sum(p.done for p in latest.values())
            total = sum(p.total or 0 for p in latest.values())
        parent.report(Progress(done, total or None, f"{child.device}: {ev.progress.message}",
                               {"child": child.id}))

    try:
        for part, device in zip(parts, devices):
            child = device.submit(spec, part)
            children.append(child)
            parent.note(f"part {len(children)} of {len(parts)} on {device.id}: job {child.id}")
            child.on_event(functools.partial(on_child, child))

        def cancel_children() -> None:
            for c in children:
                c.cancel("the batch was cancelled")

        parent.on_cancel(cancel_children)
        results = [c.result() for c in children]
        merged = spec.merge_results(results)
        settle(parent, JobState.SUCCEEDED, result=merged)
    except Cancelled as exc:
        for c in children:
            c.cancel("the batch was cancelled")
        settle(parent, JobState.CANCELLED, reason=str(exc))
    except JobFailed as exc:
        for c in children:
            c.cancel("another part of the batch failed")
        settle(parent, JobState.FAILED, reason=f"a part of the batch failed: {exc}")
    except Exception as exc:
        log.debug("_coordinate: ignored", exc_info=True)
        settle(parent, JobState.FAILED, reason=readable_reason(exc))
