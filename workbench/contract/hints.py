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
_cache: dict[type, dict[str, Any]] = {}


def type_hints(cls: type) -> dict[str, Any]:
    hints = _cache.get(cls)
    if hints is None:
        with _lock:
            hints = _cache.get(cls)
            if hints is None:
                hints = _cache[cls] = typing.get_type_hints(cls)
    return hints
