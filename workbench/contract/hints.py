"""Type hints of a class, resolved once and cached.

`typing.get_type_hints` evaluates string annotations with `compile`, and CPython 3.11 can fail
with "SystemError: AST constructor recursion depth mismatch" when threads compile at once (a
Gradio server builds requests on many threads). Resolving each class once, under a lock, avoids
both the race and the repeated cost.
"""

from __future__ import annotations

import threading
import typing
from typing import Any

_lock = threading.Lock()
_cache: dict[tuple[type, bool], dict[str, Any]] = {}


def type_hints(cls: type, *, extras: bool = False) -> dict[str, Any]:
    """The class's resolved hints; `extras=True` keeps `Annotated[...]` metadata (a field's limits)."""
    key = (cls, extras)
    hints = _cache.get(key)
    if hints is None:
        with _lock:
            hints = _cache.get(key)
            if hints is None:
                hints = _cache[key] = typing.get_type_hints(cls, include_extras=extras)
    return hints
