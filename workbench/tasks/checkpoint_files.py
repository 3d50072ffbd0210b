"""A finished item's files as a checkpoint: bytes that travel with it (from a worker process or a Ray
node) and are written back into the new run's folder when a job moves (`TaskContext.checkpoint`)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def pack_files(keys: Iterable[str], files: dict[str, Path]) -> dict[str, tuple[str, bytes]]:
    """`key -> (file name, content)` for the given keys of `files`."""
    return {k: (files[k].name, files[k].read_bytes()) for k in keys}


def unpack_files(blobs: dict[str, tuple[str, bytes]], out: Path, files: dict[str, Path]) -> None:
    """Write packed files into `out` and record them in `files`."""
    for key, (name, data) in blobs.items():
        files[key] = out / name
        files[key].write_bytes(data)
