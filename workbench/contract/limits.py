"""A request field's limits as data, written beside its type: `Annotated[int, Limits(ge=1, le=5000,
unit="conformers")]`.

The limits used to live in each request's `__post_init__` as code (`if not 1 <= n <= 5000: raise`), so
neither `--help`, the OpenAPI file nor a Gradio slider could know them. As `Annotated` metadata they are
read by one checker (`workbench.tasks.requests`) and shown wherever the field is: the CLI's help, the
OpenAPI schema's `minimum`/`maximum`, Gradio's input bounds. `Limits` is an `annotated_types.Interval`
(what pydantic reads), with the unit added, so a pydantic `TypeAdapter` over a request enforces the
same bounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from annotated_types import Interval, MaxLen

__all__ = ["Limits", "MaxLen", "describe", "within"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits(Interval):
    """Bounds of a number field (`ge`/`gt` below, `le`/`lt` above) and the unit it is counted in."""

    unit: str = ""


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return f"{value:,}" if isinstance(value, int) and abs(value) >= 10_000 else str(value)


def describe(limits: Limits) -> str:
    """The limits in words: "between 1 and 5000 conformers", "above 0 and at most 60 s", "at least 0"."""
    low = (f"at least {_number(limits.ge)}" if limits.ge is not None else
           f"above {_number(limits.gt)}" if limits.gt is not None else "")
    high = (f"at most {_number(limits.le)}" if limits.le is not None else
            f"below {_number(limits.lt)}" if limits.lt is not None else "")
    if limits.ge is not None and limits.le is not None:
        text = f"between {_number(limits.ge)} and {_number(limits.le)}"
    else:
        text = " and ".join(part for part in (low, high) if part)
    return f"{text} {limits.unit}".strip()


def within(limits: Limits, value: float) -> bool:
    """Whether `value` keeps to the limits (NaN never does)."""
    if isinstance(value, float) and math.isnan(value):
        return False
    ge, gt, le, lt = (float(b) if b is not None else None  # type: ignore[arg-type]  # numbers, as declared
                      for b in (limits.ge, limits.gt, limits.le, limits.lt))
    return ((ge is None or value >= ge) and (gt is None or value > gt)
            and (le is None or value <= le) and (lt is None or value < lt))
