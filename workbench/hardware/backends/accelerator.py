"""Any other chip torch knows through `torch.accelerator` (a PrivateUse1 plug-in such as an MLU,
or a family without its own class yet): generic memory and sync calls, reduced precision as the
plug-in reports it. A dedicated class (one file) replaces this for a family once it exists."""

from __future__ import annotations

import logging
from typing import Any

import torch

from workbench.contract.backend import Backend
from workbench.hardware.backends.torch_backend import TorchBackend

log = logging.getLogger(__name__)


class AcceleratorBackend(TorchBackend):
    name = "accelerator"
    torch_kind = "privateuseone"

    def __init__(self, index: int | None = None, torch_kind: str | None = None):
        super().__init__(index)
        if torch_kind:
            self.torch_kind = torch_kind  # type: ignore[misc]

    @classmethod
    def discover(cls, claimed: tuple[str, ...] = ()) -> list[Backend]:
        acc = getattr(torch, "accelerator", None)
        try:
            if acc is None or not acc.is_available():
                return []
            kind = acc.current_accelerator().type
            count = acc.device_count()
        except Exception:
            log.debug("AcceleratorBackend.discover: ignored", exc_info=True)
            return []
        if kind in claimed:
            return []
        return [cls(i, kind) for i in range(count)]

    def module(self) -> Any:  # type: ignore[override]  # per instance: the kind is found at discovery
        return getattr(torch, self.torch_kind, None)

    def driver_version(self) -> str | None:
        return getattr(torch.version, self.torch_kind, None)
