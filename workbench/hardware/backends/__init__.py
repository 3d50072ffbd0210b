"""One backend class per chip family. `BUILTIN` lists them in the order discovery asks them;
a vendor adds a class through the `workbench.devices` entry point (see ARCHITECTURE.md)."""

from workbench.hardware.backends.accelerator import AcceleratorBackend
from workbench.hardware.backends.cpu import CpuBackend
from workbench.hardware.backends.cuda import CudaBackend
from workbench.hardware.backends.mps import MpsBackend
from workbench.hardware.backends.npu import NpuBackend
from workbench.hardware.backends.simulated import SimulatedBackend
from workbench.hardware.backends.torch_backend import TorchBackend
from workbench.hardware.backends.xpu import XpuBackend

BUILTIN = (CpuBackend, CudaBackend, MpsBackend, XpuBackend, NpuBackend)

__all__ = ["BUILTIN", "AcceleratorBackend", "CpuBackend", "CudaBackend", "MpsBackend", "NpuBackend",
           "SimulatedBackend", "TorchBackend", "XpuBackend"]
