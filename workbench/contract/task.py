"""Tasks as the job layer sees them: a spec (where the code lives) and a context (where it runs).

A task is `run(request, ctx) -> Result`. The context is built by the job layer on whatever
device runs the job (local, a worker process, a Ray node): the device's capabilities and
backend, a working folder the job owns, progress, and cancel.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.contract.capabilities import Capabilities
from workbench.contract.errors import Cancelled, WorkbenchError
from workbench.contract.progress import Progress, ProgressCallback
from workbench.contract.requirements import Requirements

if TYPE_CHECKING:
    from workbench.contract.backend import Backend


@dataclass
class TaskContext:
    """Everything a task may know about where it runs. Handed to `run(request, ctx)`."""

    device_id: str
    capabilities: Capabilities
    backend: Backend
    workdir_path: Path  #: where the job's own folder is (made on first use of `workdir`)
    report: ProgressCallback = field(repr=False)  #: records progress; raises `Cancelled` on cancel
    is_cancelled: Callable[[], bool] = field(default=lambda: False, repr=False)
    #: finished items of an earlier run of this job (it moved here from another device): skip them
    checkpoints: dict[str, Any] = field(default_factory=dict, repr=False)
    save_checkpoint: Callable[[str, Any], None] = field(default=lambda key, value: None, repr=False)

    def checkpoint(self, key: str, value: Any) -> None:
        """Hand a finished item to the job layer: if the device dies or is drained, the job moves
        and the new run gets it back in `checkpoints` instead of redoing it."""
        self.checkpoints[key] = value
        self.save_checkpoint(key, value)

    @property
    def workdir(self) -> Path:
        """The job's own folder: files written here become the job's result files. Made when a task
        first asks for it (most jobs of the count / selftest kind write nothing)."""
        self.workdir_path.mkdir(parents=True, exist_ok=True)
        return self.workdir_path

    @property
    def torch_device(self) -> str:
        return self.backend.torch_device

    def progress(self, progress: Progress | float, total: float | None = None, message: str = "",
                 **data: Any) -> None:
        """Report progress (a `Progress` or its fields); raises `Cancelled` when the job was cancelled."""
        if not isinstance(progress, Progress):
            progress = Progress(progress, total, message, data)
        self.report(progress)

    def cancelled(self) -> bool:
        return self.is_cancelled()

    def check_cancelled(self) -> None:
        if self.is_cancelled():
            raise Cancelled("cancelled by the user")

    def dtype(self, precision: str = "reduced") -> str:
        """The dtype to compute in on this device ("full": float32; "reduced": the backend's choice)."""
        return self.backend.compute_dtype(precision)

    def free_memory(self) -> int:
        return self.backend.free_memory()

    def subdir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def import_target(target: str, *, task: str = "", extra: str | None = None) -> Any:
    """`module:attr` imported; a missing optional package becomes one sentence naming the extra."""
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        hint = f' Install it with: pip install "workbench[{extra}]"' if extra else ""
        what = f"Task {task!r}" if task else target
        raise WorkbenchError(
            f"{what} needs the Python package {exc.name!r}, which is not installed.{hint}") from None


@dataclass(frozen=True)
class TaskSpec:
    """Where a task lives and what it needs, by import path (so listing tasks imports nothing heavy)."""

    name: str
    run: str  #: "package.module:function", `run(request, ctx) -> Result`
    request: str  #: "package.module:RequestClass"
    summary: str
    requirements: str | None = None  #: "module:function(request) -> Requirements"
    extra: str | None = None  #: the pip extra that provides its dependencies
    split: str | None = None  #: "module:function(request, n) -> [request]" for fan-out
    merge: str | None = None  #: "module:function([result]) -> result"
    cli: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)  #: CLI hints per field
    unit: str = "jobs"  #: what the work is counted in: conformers, residues, steps, trials, tokens
    work: str | None = None  #: "module:function(request) -> float", the work size in `unit` (default 1)
    bench: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)  #: a small standard case
    #: native code (RDKit, MuJoCo): runs in the device's worker processes, so a crash fails one job
    isolate: bool = False
    #: loads a torch model: runs in the device's one model worker process, where the model stays loaded
    #: between jobs (a crash inside torch fails the job, not the kernel or server that submitted it);
    #: WORKBENCH_ISOLATE=native keeps such tasks in the submitting process instead
    isolate_model: bool = False

    def _import(self, target: str) -> Any:
        return import_target(target, task=self.name, extra=self.extra)

    def load(self) -> Callable[..., Any]:
        run: Callable[..., Any] = self._import(self.run)
        return run

    def request_type(self) -> type:
        request: type = self._import(self.request)
        return request

    def result_type(self) -> type | None:
        """The result class the task declares (its `run`'s return annotation); the only type the store
        rebuilds a record of this task into. None when `run` declares no class."""
        import typing

        declared = typing.get_type_hints(self.load()).get("return")
        return declared if isinstance(declared, type) else None

    def requirements_for(self, request: Any) -> Requirements:
        if self.requirements is None:
            return Requirements()
        needs: Requirements = self._import(self.requirements)(request)
        return needs

    def work_of(self, request: Any) -> float:
        """The work in this request, in `unit` (for rates and predicted finish times)."""
        return float(self._import(self.work)(request)) if self.work else 1.0

    def model_of(self, request: Any) -> str:
        """Which model does the work, for per-task performance figures."""
        model = str(getattr(request, "model", "") or "-")
        return f"tiny:{model}" if getattr(request, "tiny", False) else model

    def split_request(self, request: Any, parts: int) -> list[Any]:
        return [p for p in self._import(self.split)(request, parts) if p is not None] if self.split else [request]

    def merge_results(self, results: list[Any]) -> Any:
        if self.merge is None:
            raise TypeError(f"task {self.name!r} has no merge")
        return self._import(self.merge)(results)
