"""A job's checkpoints on disk: finished items survive the process that ran them (kill -9, a reboot).

Why: a checkpoint (`TaskContext.checkpoint`) used to live only in the job's memory, so a moved job
resumed but a killed one lost every finished item: a screen killed after 40 ligands started again
from the first, and `jobs doctor` removed the poses it had written. Each checkpoint is now appended
as one JSON line to `<job folder>/checkpoints.jsonl` as it arrives; `workbench jobs resume ID`
(`wb.resume`) reads them back into a new run of the same request.

A line holds plain JSON values, with bytes (a finished item's files) as base64: nothing read back
names code to import. A line cut short by a kill is skipped; a value JSON cannot hold (an array, an
object) stays in memory only, as before, and the log says so. A job that succeeds deletes the file.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILE = "checkpoints.jsonl"
_BYTES = "$bytes"


def to_plain(value: Any) -> Any:
    """`value` as JSON (bytes as {"$bytes": base64}); TypeError for anything else."""
    if isinstance(value, (bytes, bytearray)):
        return {_BYTES: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("a checkpoint's keys must be text")
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise TypeError("a checkpoint holds a number that is not finite")
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"a {type(value).__name__} has no JSON form")


def from_plain(value: Any) -> Any:
    """The inverse of `to_plain`."""
    if isinstance(value, dict):
        if set(value) == {_BYTES}:
            return base64.b64decode(value[_BYTES])
        return {k: from_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_plain(v) for v in value]
    return value


def append(folder: Path, key: str, value: Any) -> bool:
    """Add one checkpoint to the job's file (True), or leave it in memory only (False, logged)."""
    try:
        line = json.dumps({"key": key, "value": to_plain(value)}, ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        log.debug("checkpoint %r of %s kept in memory only: %s", key, folder.name, exc)
        return False
    try:
        with open(folder / FILE, "a", encoding="ascii") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:  # a full disk fails the next record write, loudly; this one just is not kept
        log.debug("checkpoint %r of %s not written: %s", key, folder.name, exc)
        return False
    return True


def read(folder: Path) -> dict[str, Any]:
    """Every whole checkpoint line of the job's file, later ones winning ({} when there is none)."""
    out: dict[str, Any] = {}
    try:
        text = (folder / FILE).read_text(encoding="ascii", errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        try:
            item = json.loads(line)
            key, value = item["key"], item["value"]
        except (ValueError, KeyError, TypeError):  # cut short by a kill, or not ours
            continue
        if isinstance(key, str):
            out[key] = from_plain(value)
    return out


def discard(folder: Path) -> None:
    (folder / FILE).unlink(missing_ok=True)
