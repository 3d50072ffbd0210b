"""A chip family's behaviour, as tasks and placement see it: one `Backend` class per family.

This is the interface only (no torch here). The classes live in `workbench.hardware.backends`
(CPU, CUDA, MPS, XPU, Ascend NPU, a generic `torch.accelerator` fallback, the simulated chip)
and a vendor adds one through the `workbench.devices` entry point. Tasks never compare
device-type strings: they ask their context's backend for the dtype to compute in, the free
memory, and the memory-saving policy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar

from workbench.contract.capabilities import Capabilities, GiB

#: "full": the task needs float32 numerics; "reduced": the backend's preferred half dtype
PRECISIONS = ("full", "reduced")


@dataclass(frozen=True)
class MemoryPolicy:
    """What a backend advises for a model that has to fit in `free` bytes."""

    attention_slicing: bool = False
    cpu_offload: bool = False
    reasons: tuple[str, ...] = ()


class Backend(ABC):
    """One device of one chip family. Subclasses set the class attributes and the hardware calls."""

    #: the name in device ids, capabilities and entry points: "cpu", "cuda", "npu", "simulated"
    name: ClassVar[str]
    #: the torch device type the compute runs on ("cpu" for the simulated chip)
    torch_kind: ClassVar[str]
    #: the kind a user and placement see; usually `torch_kind`
    kind: ClassVar[str] = ""
    #: below this much free memory, slice attention (diffusers' enable_attention_slicing)
    attention_slicing_below: ClassVar[int] = 4 * GiB
    #: below this much free memory, offload idle model parts to the CPU (0: never)
    cpu_offload_below: ClassVar[int] = 0
    #: jobs at once on one device of this family (machine-wide)
    concurrency: ClassVar[int] = 1

    def __init__(self, index: int | None = None):
        self.index = index

    # ---- discovery --------------------------------------------------------------------
    @classmethod
    @abstractmethod
    def discover(cls) -> list[Backend]:
        """One instance per device of this family in this process (none when absent)."""

    # ---- what the device is -----------------------------------------------------------
    @property
    def device_kind(self) -> str:
        return self.kind or self.torch_kind

    @property
    def device_id(self) -> str:
        return self.device_kind if self.index is None else f"{self.device_kind}:{self.index}"

    @property
    def torch_device(self) -> str:
        return self.torch_kind if self.index is None else f"{self.torch_kind}:{self.index}"

    @abstractmethod
    def device_name(self) -> str: ...

    @abstractmethod
    def memory_info(self) -> tuple[int, int]:
        """(free, total) bytes now; (0, 0) when the backend cannot say."""

    @abstractmethod
    def dtypes(self) -> tuple[str, ...]:
        """Floating dtypes this device computes in."""

    def driver_version(self) -> str | None:
        return None

    def extra(self) -> dict[str, Any]:
        return {}

    # ---- numerics ---------------------------------------------------------------------
    def preferred_dtype(self) -> str:
        """The reduced-precision dtype this family computes fastest in (float32 if none)."""
        have = self.dtypes()
        for dtype in ("bfloat16", "float16"):
            if dtype in have:
                return dtype
        return "float32"

    def compute_dtype(self, precision: str = "reduced") -> str:
        """The dtype a model should run in: float32 for "full", else `preferred_dtype()`."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}")
        return "float32" if precision == "full" else self.preferred_dtype()

    @abstractmethod
    def autocast(self, dtype: str) -> AbstractContextManager[Any]: ...

    @abstractmethod
    def synchronize(self) -> None: ...

    @abstractmethod
    def empty_cache(self) -> None: ...

    @abstractmethod
    def seed(self, seed: int) -> None: ...

    @abstractmethod
    def fork_rng(self) -> AbstractContextManager[Any]:
        """A block whose seeding (`seed`) does not leak into the process's random state."""

    def busy(self) -> float | None:
        """The share (0..1) of this device's compute that other work is using now, where the device
        can tell (the host CPU's load; a GPU's utilisation counter); None where it cannot. Placement
        scales the device's measured rates by what is left."""
        return None

    def busy_mark(self) -> object | None:
        """A reading taken when a job starts, to tell afterwards how busy others kept the device during
        it (`busy_since`): its measured rate is then put in idle terms. None where the device cannot tell."""
        return None

    def busy_since(self, mark: object | None) -> float | None:
        """Others' share of this device's compute since `mark` (see `busy_mark`)."""
        return None

    # ---- memory -----------------------------------------------------------------------
    def free_memory(self) -> int:
        return self.memory_info()[0]

    def memory_policy(self, free: int | None = None) -> MemoryPolicy:
        """Attention slicing / CPU offload advice from this family's thresholds."""
        free = self.free_memory() if free is None else free
        slicing = bool(self.attention_slicing_below) and free < self.attention_slicing_below
        offload = bool(self.cpu_offload_below) and free < self.cpu_offload_below
        reasons = []
        if slicing:
            reasons.append(f"attention slicing on: less than {self.attention_slicing_below / GiB:.0f} GiB free")
        if offload:
            reasons.append(f"model CPU offload on: less than {self.cpu_offload_below / GiB:.0f} GiB free")
        return MemoryPolicy(slicing, offload, tuple(reasons))

    def capabilities(self) -> Capabilities:
        free, total = self.memory_info()
        extra = {"driver": self.driver_version(), **self.extra()}
        return Capabilities(
            kind=self.device_kind, index=self.index, name=self.device_name(), total_memory=int(total),
            free_memory=int(free), dtypes=self.dtypes(), torch_device=self.torch_device,
            fast_dtype=self.preferred_dtype(), backend=self.name, extra=extra,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.device_id}>"

