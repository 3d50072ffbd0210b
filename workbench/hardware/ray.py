"""Ray devices: the nodes and resource classes of a Ray cluster, as workbench devices.

`workbench.scheduling.cluster.connect()` starts an embedded single-machine cluster bound to
127.0.0.1 (or joins one at an address) and registers one device per resource it finds:

    ray:cpu, ray:gpu, ray:npu, ...          any node with that resource
    ray:<node>/cpu, ray:<node>/gpu:0, ...   one resource on one node (node = first 8 hex of its id)

Each device runs its jobs in one threaded actor (`ray_worker.DeviceWorker`) that keeps
models loaded. Progress streams back through the actor's streaming generator; cancel is
cooperative through the actor; when a node dies mid job, the job moves to another device
that satisfies the same requirements and its event stream says so. Custom resources
(`{"NPU": 1}`, `{"MLU": 1}`) become devices of that kind; Ray's `accelerator_type:*`
labels are kept in the capabilities.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from workbench.contract.capabilities import Capabilities
from workbench.contract.errors import DeviceError
from workbench.contract.requirements import Requirements
from workbench.contract.task import TaskSpec
from workbench.jobs import perf
from workbench.jobs.codec import with_files
from workbench.jobs.drain import DeadlineWatch
from workbench.jobs.job import Job, JobState
from workbench.jobs.runner import external_cancel_check, readable_reason, settle
from workbench.jobs.store import default_store
from workbench.tasks.registry import TASKS, TaskLike, task_function

log = logging.getLogger(__name__)

#: chooses among devices for requirements (set by `workbench.scheduling.cluster`: profile-aware)
Chooser = Callable[[list, Requirements], Any]

#: resources that are not devices
NOT_DEVICES = ("CPU", "GPU", "memory", "object_store_memory")
ACCELERATOR_DTYPES = ("float32", "float16", "bfloat16")
_driver_pool = ThreadPoolExecutor(max_workers=256, thread_name_prefix="workbench-ray-driver")
_lock = threading.Lock()


def is_loopback(address: str | None) -> bool:
    return address in (None, "", "local", "embedded") or str(address).split("//")[-1].startswith(
        ("127.0.0.1", "localhost"))


def import_ray(loopback: bool) -> Any:
    """Import ray with the loopback setting when the cluster is this machine's.

    `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` must be set before ray is imported: it makes
    every Ray port listen on 127.0.0.1 only (see the project's ray-on-loopback note).
    """
    if loopback:
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
    import ray

    return ray


def nodes_as_devices(existing: dict[str, RayDevice]) -> dict[str, RayDevice]:
    """A device per resource of every live node, plus one per resource class (existing objects kept)."""
    import ray

    found: dict[str, RayDevice] = {}
    classes: dict[str, dict[str, Any]] = {}
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        res = node.get("Resources", {})
        node_id = node["NodeID"]
        short = node_id[:8]
        memory = int(res.get("memory", 0))
        accel_types = sorted(k.split(":", 1)[1] for k in res if k.startswith("accelerator_type:"))
        kinds: list[tuple[str, str, int]] = []
        if res.get("CPU"):
            kinds.append(("cpu", "CPU", 1))
        kinds.extend(("cuda", "GPU", int(res["GPU"])) for _ in [0] if res.get("GPU"))
        for key, value in res.items():
            if key in NOT_DEVICES or ":" in key or key.startswith("node"):
                continue
            kinds.append((key.lower(), key, int(value)))
        for kind, resource, count in kinds:
            per_node = [f"ray:{short}/cpu"] if kind == "cpu" else [f"ray:{short}/{kind}:{i}" for i in range(count)]
            for dev_id in per_node:
                # a node's CPUs are one device that runs as many jobs at once as it has CPUs
                found[dev_id] = existing.get(dev_id) or RayDevice(
                    dev_id, kind, resource, node_id=node_id, node_name=node.get("NodeManagerAddress", ""),
                    memory=memory, accelerator_types=accel_types,
                    concurrency=max(1, int(res.get("CPU", 1))) if kind == "cpu" else 1,
                    threads=max(1, int(res.get("CPU", 1))))
            cls = classes.setdefault(kind, {"resource": resource, "memory": 0, "types": set(), "nodes": 0})
            cls["memory"] = max(cls["memory"], memory)
            cls["types"].update(accel_types)
            cls["nodes"] += 1
    for kind, info in classes.items():
        dev_id = f"ray:{'gpu' if kind == 'cuda' else kind}"
        cls_dev = existing.get(dev_id) or RayDevice(
            dev_id, kind, info["resource"], node_id=None, node_name=f"{info['nodes']} node(s)",
            memory=info["memory"], accelerator_types=sorted(info["types"]))
        cls_dev.members = [d for d in found.values() if d.kind == kind and d.node_id]
        found[dev_id] = cls_dev
    return found


#: how long a node's reported load stands for it
BUSY_FRESH_S = 1.0

class RayDevice:
    """A device on a Ray cluster. Same `submit` / `Job` contract as a local device."""

    def __init__(self, id: str, kind: str, resource: str, *, node_id: str | None, node_name: str,
                 memory: int, accelerator_types: list[str], concurrency: int = 1, threads: int | None = None):
        self.id = id
        self.kind = kind
        self.resource = resource
        self.node_id = node_id
        self.concurrency = concurrency
        self.threads = threads  #: compute threads of its worker: the CPUs its node declares
        dtypes = ("float64", "float32", "bfloat16", "float16") if kind in ("cpu", "cuda") else ACCELERATOR_DTYPES
        name = f"{resource} on {node_name}" + (f" ({', '.join(accelerator_types)})" if accelerator_types else "")
        self._caps = Capabilities(
            kind=kind, index=None if kind == "cpu" else 0, name=name, total_memory=memory, free_memory=memory,
            dtypes=dtypes, torch_device="remote", fast_dtype="float32" if kind == "cpu" else "bfloat16",
            backend="ray", extra={"node_id": node_id, "resource": resource, "accelerator_types": accelerator_types},
        )
        self._actor: Any = None
        self._slots = threading.Semaphore(concurrency)
        self._load = 0
        self._load_lock = threading.Lock()
        self._fault: str | None = None
        self._ready = False
        self._busy: tuple[float, float | None] = (-BUSY_FRESH_S, None)
        #: for a resource-class device (`ray:npu`): the node devices it stands for
        self.members: list[RayDevice] = []
        #: picks a device for requirements: the best member (class devices), the next device (migration)
        self.choose: Chooser = lambda devices, req: min(devices, key=lambda d: d.load())
        #: the devices a job may move to when this one dies (set by the cluster registry)
        self.alternatives: Callable[[], list[RayDevice]] = lambda: []

    def __repr__(self) -> str:
        return f"<RayDevice {self.id}: {self._caps.name}>"

    @property
    def is_class(self) -> bool:
        return self.node_id is None

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def load(self) -> int:
        if self.is_class:
            return min((m.load() for m in self.members if not m._fault), default=0)
        return self._load

    def busy(self) -> float | None:
        """What the node's worker reports of other work on the device (cached BUSY_FRESH_S; None when
        the worker is not started or does not answer within a second)."""
        import time

        if self.is_class:
            figures = [b for b in (m.busy() for m in self.members if not m._fault) if b is not None]
            return min(figures) if figures else None
        at, value = self._busy
        if time.monotonic() - at < BUSY_FRESH_S:
            return value
        value = None
        if self._actor is not None and not self._fault:
            import ray

            try:
                value = ray.get(self._actor.busy.remote(), timeout=1.0)
            except Exception:  # noqa: BLE001 - a slow or gone worker: unknown
                log.debug("RayDevice.busy: ignored", exc_info=True)
                value = None
        self._busy = (time.monotonic(), value)
        return value

    @property
    def fault(self) -> str | None:
        return self._fault

    def mark_dead(self, reason: str) -> None:
        self._fault = reason
        self._actor = None
        self._ready = False

    # ---- the actor ----------------------------------------------------------------------
    def actor(self) -> Any:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from workbench.hardware.ray_worker import DeviceWorker

        with _lock:
            if self._actor is None:
                opts: dict[str, Any] = {"max_concurrency": self.concurrency + 2, "max_restarts": 0}
                if self.kind == "cpu":
                    opts["num_cpus"] = 1
                elif self.resource == "GPU":
                    opts.update(num_cpus=0, num_gpus=1)
                else:
                    opts.update(num_cpus=0, resources={self.resource: 1})
                if self.node_id:
                    opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(self.node_id, soft=False)
                opts["name"] = f"workbench:{self.id}:{os.getpid()}"  # `ray list actors` tells whose it is
                self._actor = ray.remote(DeviceWorker).options(**opts).remote(self.kind, self.id, self.threads)
            return self._actor

    def info(self, timeout: float = 60) -> dict[str, Any]:
        """What the remote worker reports: its torch device, node, pid and model load counts."""
        import ray

        if self.is_class:
            raise DeviceError(f"{self.id} is a resource class; ask one of its node devices.")
        return ray.get(self.actor().info.remote(), timeout=timeout)

    def ensure_ready(self, timeout: float = 120) -> None:
        """Start the worker actor and wait for it; a clear error if the node cannot host it."""
        import ray

        if self._ready:
            return
        try:
            info = self.info(timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            self.close()
            raise DeviceError(
                f"Could not start a worker on {self.id} within {timeout:.0f} s: its {self.resource} "
                "resource is held by other work on the cluster.") from None
        node = info.get("capabilities") or {}
        if node:  # the node's backend decides dtypes; memory stays the node's declared figure
            self._caps = Capabilities(
                kind=self.kind, index=self._caps.index, name=self._caps.name, total_memory=self._caps.total_memory,
                free_memory=self._caps.free_memory, dtypes=tuple(node.get("dtypes", self._caps.dtypes)),
                torch_device="remote", fast_dtype=node.get("fast_dtype", self._caps.fast_dtype), backend="ray",
                extra={**self._caps.extra, "node_backend": node.get("backend"), "node_device": node.get("name")})
        self._ready = True

    def close(self) -> None:
        import ray

        if self._actor is not None:
            try:
                ray.kill(self._actor)
            except Exception:
                log.debug("RayDevice.close: ignored", exc_info=True)
            self._actor = None

    def shutdown(self, *, reason: str = "the device was shut down") -> None:
        self.mark_dead(reason)
        self.close()

    # ---- jobs -----------------------------------------------------------------------------
    def submit(self, task: TaskLike, request: Any, *, task_name: str | None = None,
               requirements: Requirements | None = None, placement: str = "", tag: str = "",
               expected_s: float | None = None, checkpoints: dict[str, Any] | None = None) -> Job:
        if self._fault:
            raise DeviceError(f"Device {self.id} is not available: {self._fault}")
        name, _ = task_function(task, task_name)
        if requirements is None and name in TASKS:
            requirements = TASKS[name].requirements_for(request)
        if self.is_class:  # a resource class runs on the best of its node devices for this task
            alive = [m for m in self.members if not m._fault]
            if not alive:
                raise DeviceError(f"No node of the cluster offers {self.resource} any more.")
            target = self.choose(alive, requirements or Requirements())
            return target.submit(task, request, task_name=task_name, requirements=requirements,
                                 placement=placement, tag=tag, expected_s=expected_s, checkpoints=checkpoints)
        payload = name if (isinstance(task, (str, TaskSpec)) and name in TASKS) else task
        job = Job(name, request, self.id, store=default_store())
        job.requirements, job.placement, job.tag, job.expected_s = requirements, placement, tag, expected_s
        job.checkpoints = dict(checkpoints or {})
        job.store.register(job)
        if placement:
            job.note(placement)
        self.resume(job, payload)
        return job

    def resume(self, job: Job, payload: Any) -> None:
        """Run `job` here (new, or moved here with its checkpoints from another device)."""
        if isinstance(payload, TaskSpec):
            payload = payload.name
        elif callable(payload) and job.task_name in TASKS and TASKS[job.task_name].load() is payload:
            payload = job.task_name  # a registered task travels by name, not by pickled function
        with self._load_lock:
            self._load += 1
        _driver_pool.submit(_drive, job, payload, job.request, self, job.requirements or Requirements())


# ---- the driver side of one job -------------------------------------------------------------

def _dead_node_errors() -> tuple[type[BaseException], ...]:
    from ray import exceptions as rx

    names = ("RayActorError", "ActorDiedError", "ActorUnavailableError", "NodeDiedError", "WorkerCrashedError",
             "ObjectLostError", "OwnerDiedError", "ActorUnschedulableError")
    return tuple(getattr(rx, n) for n in names if hasattr(rx, n))


def _next_device(failed: RayDevice, req: Requirements) -> Any:
    """Another device (Ray or local, any chip kind) that can take the job over; None if there is none."""
    candidates = [d for d in failed.alternatives()
                  if d is not failed and not getattr(d, "is_class", False) and not d.fault
                  and not req.unmet(d.capabilities)]
    return failed.choose(candidates, req) if candidates else None


def _hand_over(job: Job, payload: Any, current: RayDevice, req: Requirements, why: str) -> bool:
    """Move the job to the next device, resuming from its checkpoints; False when none can take it."""
    nxt = _next_device(current, req)
    if nxt is None:
        return False
    total = job.last_progress.total if job.last_progress else None
    job.move(nxt.id, why, total)
    job.store.update(job)
    nxt.resume(job, task_function(payload)[1] if isinstance(payload, str) and not isinstance(nxt, RayDevice)
               else payload)
    return True


def _drive(job: Job, payload: Any, request: Any, device: RayDevice, req: Requirements) -> None:
    """Run `job` on `device`; on a dead node, move it to another device and go on."""
    from workbench.hardware.ray_worker import materialise

    store = job.store
    dead = _dead_node_errors()
    current = device
    try:
        while True:
            with current._slots:
                if job.cancel_requested or store.cancel_requested(job.id):
                    settle(job, JobState.CANCELLED, reason="cancelled before it started")
                    return
                if current._fault:  # its node died while this job waited for a slot: move it like a running one
                    why = f"{current.id} died while the job waited ({current._fault})"
                    if not _hand_over(job, payload, current, req, why):
                        settle(job, JobState.FAILED, reason=f"{why} and no other device can run it: it needs "
                                                            f"{req.describe()}.")
                    return
                try:
                    current.ensure_ready()
                    if job.state is not JobState.RUNNING:
                        job.start()
                        store.update(job)
                    outcome = _stream(job, payload, request, current)
                except dead as exc:
                    reason = f"{type(exc).__name__}: the node or its worker died"
                    current.mark_dead(reason)
                    if not _hand_over(job, payload, current, req, f"{current.id} died ({reason})"):
                        settle(job, JobState.FAILED, reason=(
                            f"Device {current.id} died mid job ({reason}) and no other device can run it: "
                            f"it needs {req.describe()}."))
                    return
            kind = outcome[0]
            if kind == "error" and outcome[1] == "lost":  # drained: move on, resuming
                if not _hand_over(job, payload, current, req, outcome[2]):
                    settle(job, JobState.FAILED, reason=f"{outcome[2]} and no other device can run it")
                return
            if kind == "done":
                _, result, files = outcome
                if files:
                    result = with_files(result, materialise(files))
                settle(job, JobState.SUCCEEDED, result=result)
                perf.record_finished(job)  # measured on the node that ran it
            elif outcome[1] == "cancelled":
                settle(job, JobState.CANCELLED, reason=outcome[2])
            else:
                settle(job, JobState.FAILED, reason=outcome[2])
            return
    except Exception as exc:  # anything else ends the job with a reason, never a hang
        log.debug("_drive: ignored", exc_info=True)
        if not job.done:
            settle(job, JobState.FAILED, reason=f"Ray error: {readable_reason(exc)}")
    finally:
        with device._load_lock:
            device._load -= 1


def _node_alive(node_id: str | None) -> bool:
    import ray

    if node_id is None:
        return True
    try:
        return any(n["NodeID"] == node_id and n.get("Alive") for n in ray.nodes())
    except Exception:
        log.debug("_node_alive: ignored", exc_info=True)
        return True


def _stream(job: Job, payload: Any, request: Any, device: RayDevice) -> tuple:
    import ray

    store = job.store
    actor = device.actor()
    gen = actor.run.remote(job.id, payload, request, dict(job.checkpoints))
    job.on_cancel(lambda: actor.cancel.remote(job.id))
    cancelled_elsewhere = external_cancel_check(job)
    drain_asked = False
    watch = DeadlineWatch(device.id)
    while True:
        ready, _ = ray.wait([gen], timeout=0.25)
        if not job.cancel_requested and cancelled_elsewhere():
            job.cancel("cancelled from another process")
        if not drain_asked:
            drains = store.drains()
            if device.id in drains and watch.leave(job, drains[device.id]):
                drain_asked = True
                actor.drain.remote(job.id)
        if not ready:
            if not _node_alive(device.node_id):
                from ray.exceptions import NodeDiedError

                raise NodeDiedError(device.node_id)
            continue
        try:
            ref = next(gen)
        except StopIteration:
            break
        item = ray.get(ref)
        if item[0] == "progress":
            job.report(item[1])
            if int(item[1].done) % 20 == 0:
                store.update(job)
        elif item[0] == "note":
            job.note(item[1])
        elif item[0] == "checkpoint":
            job.record_checkpoint(item[1], item[2])
        elif item[0] == "busy":
            job.busy_during = item[1]
        else:
            return item
    raise DeviceError(f"the worker on {device.id} stopped without a result")
