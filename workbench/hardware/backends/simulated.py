"""A simulated chip: computes on the CPU, declares another family's kind, memory and dtypes.

It exists so placement, refusal sentences, dtype policies and the job path can be tested for
hardware that is not here. It is a backend like any other, registered through this package's own
`workbench.devices` entry point, so it travels the same registry, placement and job code as a
vendor's chip.

Enable it with `WORKBENCH_SIMULATED_DEVICES`, a comma-separated list of
`kind:memory[:dtype+dtype...]`, e.g. `npu:2GiB:float32+float16+bfloat16,mlu:8GiB`.
"""

from __future__ import annotations

from workbench.contract.backend import Backend
from workbench.contract.capabilities import GiB, parse_size
from workbench.hardware.backends.cpu import CpuBackend

DEFAULT_DTYPES = ("float32", "float16", "bfloat16")
ENV = "WORKBENCH_SIMULATED_DEVICES"


class SimulatedBackend(CpuBackend):
    """A chip of `sim_kind` with `memory` bytes and `sim_dtypes`, computing on the host CPU."""

    name = "simulated"
    concurrency = 1

    def __init__(self, sim_kind: str = "npu", memory: int = 2 * GiB, dtypes: tuple[str, ...] = DEFAULT_DTYPES,
                 index: int = 0):
        super().__init__(index)
        self.sim_kind, self.memory, self.sim_dtypes = sim_kind, memory, tuple(dtypes)

    @classmethod
    def discover(cls) -> list[Backend]:
        from workbench.settings import settings

        spec = settings().simulated_devices
        found: list[Backend] = []
        counts: dict[str, int] = {}
        for item in filter(None, (s.strip() for s in spec.split(","))):
            parts = item.split(":")
            kind = parts[0] or "npu"
            memory = parse_size(parts[1]) if len(parts) > 1 and parts[1] else 2 * GiB
            dtypes = tuple(parts[2].split("+")) if len(parts) > 2 and parts[2] else DEFAULT_DTYPES
            index = counts.get(kind, 0)
            counts[kind] = index + 1
            found.append(cls(kind, memory, dtypes, index))
        return found

    @property
    def device_kind(self) -> str:
        return self.sim_kind

    @property
    def device_id(self) -> str:
        return f"sim:{self.sim_kind}{self.index}"

    @property
    def torch_device(self) -> str:
        return "cpu"

    def device_name(self) -> str:
        return f"Simulated {self.sim_kind.upper()} (computes on the CPU)"

    def memory_info(self) -> tuple[int, int]:
        return self.memory, self.memory

    def dtypes(self) -> tuple[str, ...]:
        return self.sim_dtypes

    def preferred_dtype(self) -> str:
        return Backend.preferred_dtype(self)

    def extra(self) -> dict:
        return {}

    def busy(self) -> float | None:
        """None: a chip's load comes from its driver's counter, which a simulated chip does not have
        (it is not the host CPU's load, although it computes there)."""
        return None

    def busy_mark(self) -> object | None:
        return None
