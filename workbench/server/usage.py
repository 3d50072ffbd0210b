"""What each device is using now, measured in the server process without torch: the CPU's
memory and utilisation from psutil, NVIDIA GPUs' from NVML (nvidia-ml-py, when installed),
as jupyter-resource-usage and jupyterlab-nvdashboard do. Other devices report the free memory
they published when they were discovered (marked as such), and no utilisation.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

_nvml: dict[str, Any] = {"ready": None}


def _gpu(index: int) -> dict[str, Any] | None:
    if _nvml["ready"] is None:
        try:
            import pynvml

            pynvml.nvmlInit()
            _nvml.update(ready=True, module=pynvml)
        except Exception:  # no library, no driver, no GPU: nothing to read
            log.debug("_gpu: ignored", exc_info=True)
            _nvml["ready"] = False
    if not _nvml["ready"]:
        return None
    nv = _nvml["module"]
    try:
        handle = nv.nvmlDeviceGetHandleByIndex(index)
        memory = nv.nvmlDeviceGetMemoryInfo(handle)
        rates = nv.nvmlDeviceGetUtilizationRates(handle)
    except Exception:
        log.debug("_gpu: ignored", exc_info=True)
        return None
    return {"memory_used": int(memory.used), "memory_total": int(memory.total),
            "utilisation": float(rates.gpu), "source": "nvml"}


def usage(device_id: str, kind: str, published: dict[str, Any]) -> dict[str, Any]:
    """{memory_used, memory_total (bytes), utilisation (percent or None), source} for one device."""
    if device_id == "cpu":  # this machine's own CPU (a cluster node's is not measured from here)
        import psutil

        memory = psutil.virtual_memory()
        return {"memory_used": int(memory.total - memory.available), "memory_total": int(memory.total),
                "utilisation": float(psutil.cpu_percent(interval=None)), "source": "psutil"}
    if kind == "cuda" and device_id.startswith("cuda:"):
        try:
            found = _gpu(int(device_id.split(":", 1)[1]))
        except ValueError:
            found = None
        if found is not None:
            return found
    total = int(published.get("total_memory") or 0)
    free = int(published.get("free_memory") or 0)
    return {"memory_used": max(0, total - free) if total else 0, "memory_total": total, "utilisation": None,
            "source": "published"}
