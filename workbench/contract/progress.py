"""What a running task reports: `done` of `total` units, a message, small data for views."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Progress:
    """`done` of `total` units, and a short message.

    `data` carries small JSON values a view may show (an energy, a preview image as a
    data URI, the id of a finished trial); large things belong in the result files.
    """

    done: float
    total: float | None = None
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))


ProgressCallback = Callable[[Progress], None]
