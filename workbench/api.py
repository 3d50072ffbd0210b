"""The Python entry points a notebook uses: devices, submit, run, jobs.

    import workbench as wb
    wb.devices()                                   # what is here (workbench.devices is callable)
    job = wb.submit("selftest", dtypes=("float32",), device="auto")
    job.result()
    wb.jobs()                                      # past jobs, from the store
"""

from __future__ import annotations

import contextlib
from typing import Any

from workbench.contract.errors import InputError
from workbench.contract.task import TaskSpec
from workbench.hardware.base import Device
from workbench.jobs import owners
from workbench.jobs.job import Job
from workbench.jobs.store import StoredJob, default_store
from workbench.scheduling import registry
from workbench.scheduling.fanout import fan_out
from workbench.tasks.registry import get_task
from workbench.tasks.requests import make_request

DeviceName = str | Device | registry.DeviceSet
any_of, first_of, drain = registry.any_of, registry.first_of, registry.drain


def list_devices(refresh: bool = False) -> list[Device]:
    """Every device this process can send work to."""
    return registry.discover(refresh=refresh)


def device(name: str = "auto") -> Device:
    return registry.get(name)


def submit(task: str | TaskSpec, request: Any = None, *,
           device: DeviceName | list[DeviceName] | tuple[DeviceName, ...] = "auto", owner: str | None = None,
           checkpoints: dict[str, Any] | None = None, **fields: Any) -> Job:
    """Queue a named task on a device (placed by the task's requirements) and return its job.

    The request is a task's request object, or its fields as keywords (checked: an unknown
    field is an `InputError` that names the closest one). A list of devices splits a batch
    across them (`workbench.scheduling.fanout`) and returns one parent job. `owner`: who the job
    belongs to (default: the login name, or the Gradio participant); a submit past the owner's quota
    (`WORKBENCH_MAX_QUEUED`, `WORKBENCH_MAX_COMPUTE_S`) is refused in one sentence (`QuotaExceeded`).
    `checkpoints`: finished items of an earlier run of the same request (see `resume`).
    """
    spec = get_task(task) if isinstance(task, str) else task
    req = make_request(spec, request, **fields)
    with owners.acting_as(owner, owners.current_quota()) if owner else contextlib.nullcontext(), \
            owners.admitting():  # the quota is checked where the job is recorded, in the same transaction
        return _place(spec, req, device, checkpoints)


def _place(spec: TaskSpec, req: Any, device: DeviceName | list[DeviceName] | tuple[DeviceName, ...],
           checkpoints: dict[str, Any] | None = None) -> Job:
    needs = spec.requirements_for(req)
    if isinstance(device, (list, tuple)):
        if checkpoints:
            raise InputError("A resumed job runs on one device; give one device (or auto).")
        return fan_out(spec, req, [registry.get(d, needs) for d in device])
    chosen = registry.resolve(device, needs, spec=spec, request=req)
    return chosen.device.submit(spec, req, requirements=needs, placement=chosen.reason,
                                expected_s=chosen.expected.get(chosen.device.id), checkpoints=checkpoints)


def run(task: str | TaskSpec, request: Any = None, *, device: DeviceName = "auto",
        timeout: float | None = None, **fields: Any) -> Any:
    """Submit and wait: the result, or the job's failure as an exception."""
    return submit(task, request, device=device, **fields).result(timeout)


def resume(job_id: str, *, device: DeviceName = "auto", owner: str | None = None) -> Job:
    """Run a job that did not finish (its process was killed, it failed or was cancelled) again as a new job
    of the same request, carrying on from the items it finished (kept on disk as it ran: a screen's
    ligands, a batch's molecules). The new job's first note names the one it resumes."""
    store = default_store()
    old = store.get(job_id, rebuild=False)
    if old.state == "succeeded":
        raise InputError(f"Job {job_id} succeeded; there is nothing to resume.")
    if old.state in ("queued", "running"):
        raise InputError(f"Job {job_id} is still {old.state}; cancel it first, or wait for it.")
    spec = get_task(old.task)
    done = store.checkpoints(job_id)
    job = submit(spec, device=device, owner=owner, checkpoints=done, **old.request)  # the fields, checked once
    job.note(f"resumes job {job_id}: {len(done)} finished item(s) kept, the rest run now")
    return job


def list_jobs(limit: int | None = None, state: str | None = None, task: str | None = None,
              bench: bool = False, owner: str | None = None) -> list[dict]:
    """Every past and current job of every process that shares this store, newest first (`limit`: only
    the newest N; `bench`: also the runs of `workbench bench`, which are left out otherwise; `owner`: only
    that owner's jobs)."""
    return default_store().list(limit=limit, state=state, task=task, tagged=bench, owner=owner)



def job(job_id: str) -> StoredJob:
    """Reopen a job from the store (survives kernel restarts); its result has the task's own type."""
    return default_store().get(job_id)


def connect(address: str | None = None, **kwargs: Any) -> list[Device]:
    """Start an embedded Ray cluster on 127.0.0.1 (no address) or join one, and list its devices.

    `address`: "auto", "ray://host:10001" or "host:port"; see `workbench.scheduling.cluster.connect`.
    """
    from workbench.scheduling import cluster  # imports Ray only when asked

    return list(cluster.connect(address, **kwargs))
