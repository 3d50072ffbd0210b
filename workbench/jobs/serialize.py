"""Turn requests and results into JSON and back, and find the files a result carries.

Requests and results are dataclasses. A result that produces files lists them in a
`files: dict[str, Path]` field; the result store moves those files into the job's folder
and rewrites the paths, so a result never points at a temporary directory.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from pathlib import Path
from typing import Any


def to_jsonable(obj: Any) -> Any:
    """A JSON-safe copy of `obj` (dataclasses, paths, enums, numpy scalars, tuples)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    if hasattr(obj, "tolist"):  # numpy scalars and small arrays
        return to_jsonable(obj.tolist())
    return repr(obj)


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
    if isinstance(result, dict):
        return {**result, "files": files}
    return result
