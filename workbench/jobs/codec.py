"""Requests and results to JSON and back, typed: a job reopened from the store gives the same
result type as the live job.

A result is a dataclass or a pydantic model; the store records its type (`module:QualName`)
beside its JSON, and `decode` rebuilds it from the type hints. Anything that is not a JSON
value, a dataclass, a pydantic model, a path, an enum or a numpy value is an error, not a
silent `repr`. Non-finite floats are refused too: JSON has no NaN, and `null` would misstate.
A result that produces files lists them in a `files: dict[str, Path]` field; the store moves
those files into the job's folder and rewrites the paths.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
import types
import typing
from pathlib import Path
from typing import Any, Union

from workbench.contract.hints import type_hints

log = logging.getLogger(__name__)


class EncodeError(TypeError):
    """A value that has no faithful JSON form."""


def to_jsonable(obj: Any, *, strict: bool = True) -> Any:
    """A JSON-safe copy of `obj`. `strict=False` (for display only) writes unknown objects as text."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name), strict=strict) for f in dataclasses.fields(obj)}
    if hasattr(obj, "model_dump") and not isinstance(obj, type):  # pydantic v2
        return to_jsonable(obj.model_dump(), strict=strict)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, strict=strict) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v, strict=strict) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, bool) or obj is None or isinstance(obj, (str, int)):
        return obj
    if isinstance(obj, float):
        if not math.isfinite(obj):
            if strict:
                raise EncodeError(f"{obj} is not a finite number; JSON cannot hold it")
            return None
        return obj
    if hasattr(obj, "tolist") and hasattr(obj, "dtype"):  # numpy scalars and small arrays
        return to_jsonable(obj.tolist(), strict=strict)
    if strict:
        raise EncodeError(f"a {type(obj).__name__} cannot be stored as JSON; return a dataclass, a path or "
                          "plain values")
    return repr(obj)


def type_name(obj: Any) -> str | None:
    """`module:QualName` of a result's class, or None for plain JSON values."""
    cls = type(obj)
    if dataclasses.is_dataclass(obj) or hasattr(obj, "model_validate"):
        return f"{cls.__module__}:{cls.__qualname__}"
    return None


def decode(tp: Any, data: Any) -> Any:
    """Rebuild a value of type `tp` from its JSON form (the inverse of `to_jsonable`)."""
    if data is None or tp is Any:
        return data
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        for arg in args:
            try:
                return decode(arg, data)
            except (TypeError, ValueError, KeyError):
                continue
        return data
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = type_hints(tp)
        kwargs = {f.name: decode(hints.get(f.name, Any), data[f.name])
                  for f in dataclasses.fields(tp) if f.init and f.name in data}
        return tp(**kwargs)
    if isinstance(tp, type) and hasattr(tp, "model_validate"):
        return tp.model_validate(data)
    if origin in (list, typing.List):  # noqa: UP006
        item = (typing.get_args(tp) or (Any,))[0]
        return [decode(item, v) for v in data]
    if origin in (tuple, typing.Tuple):  # noqa: UP006
        parts = typing.get_args(tp)
        if len(parts) == 2 and parts[1] is Ellipsis:
            return tuple(decode(parts[0], v) for v in data)
        return tuple(decode(a, v) for a, v in zip(parts, data)) if parts else tuple(data)
    if origin in (dict, typing.Dict):  # noqa: UP006
        _, val = typing.get_args(tp) or (Any, Any)
        return {k: decode(val, v) for k, v in data.items()}
    if tp is Path:
        return Path(data)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    if tp is float and isinstance(data, int):
        return float(data)
    return data


def result_summary(result: Any) -> str | None:
    """What the result says of itself in a line or few (its type's own `summary()`): kept in the record so
    lists and the server show it without importing the type, and shown by every view of a live result.
    None when it has none or it fails (logged: a summary is a courtesy, the result stands without it)."""
    own = getattr(result, "summary", None)
    if not callable(own):
        return None
    try:
        text = own()
    except Exception:  # noqa: BLE001 - the result is stored and shown without its summary; said in the log
        log.warning("the summary of a %s failed; shown without one", type(result).__name__, exc_info=True)
        return None
    return text if isinstance(text, str) else str(text)


def result_files(result: Any) -> dict[str, Path]:
    """The `files` mapping of a result, or {} when it has none."""
    files = getattr(result, "files", None)
    if isinstance(files, dict):
        return {str(k): Path(v) for k, v in files.items() if v is not None}
    return {}


def with_files(result: Any, files: dict[str, Path]) -> Any:
    """A copy of `result` whose `files` point at `files` (the stored copies)."""
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.replace(result, files=files)
    if hasattr(result, "model_copy"):
        return result.model_copy(update={"files": files})
    if isinstance(result, dict):
        return {**result, "files": files}
    return result
