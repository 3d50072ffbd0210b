"""The `Model hash` image sites use to tell which weights drew a picture.

AUTOMATIC1111 writes the first 10 hex digits of the SHA-256 of the checkpoint file into each PNG's
`parameters`; Civitai and image browsers match it against the model they know. A diffusers pipeline is
a folder, not one file: its denoiser's weights (`unet/` or `transformer/`) stand for the checkpoint,
hashed once per file (by path, size and modification time). A model built in code (the tiny twins)
has no file: its denoiser's tensors are hashed in name order, so the same seed gives the same hash.
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from pathlib import Path
from typing import Any

#: digits kept, as A1111 writes them
DIGITS = 10
_cache: dict[tuple[str, int, float], str] = {}
#: a loaded module's hash (models stay loaded between jobs: hashed once, not on every run)
_module_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def file_hash(path: Path) -> str:
    """The first DIGITS hex digits of the SHA-256 of `path` (computed once per path, size and mtime)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime)
    with _lock:
        if key in _cache:
            return _cache[key]
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    value = digest.hexdigest()[:DIGITS]
    with _lock:
        _cache[key] = value
    return value


def weights_file(snapshot: Path) -> Path | None:
    """The denoiser's weights in a diffusers snapshot (safetensors first), or None."""
    for part in ("unet", "transformer"):
        for pattern in ("*.safetensors", "*.bin"):
            found = sorted((snapshot / part).glob(pattern))
            if found:
                return found[0]
    return None


def tensors_hash(module: Any) -> str:
    """The first DIGITS hex digits of the SHA-256 over a module's tensors, in name order (once per module)."""
    with _lock:
        if module in _module_cache:
            return _module_cache[module]
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    value = digest.hexdigest()[:DIGITS]
    with _lock:
        _module_cache[module] = value
    return value


def model_hash(pipe: Any, snapshot: Path | None) -> str | None:
    """The hash of the weights that drew with `pipe`; None when it cannot be told."""
    if snapshot is not None:
        path = weights_file(snapshot)
        if path is not None:
            return file_hash(path)
    denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    if denoiser is None and hasattr(pipe, "model"):
        denoiser = pipe.model  # a unified model: the whole network draws
    return tensors_hash(denoiser) if denoiser is not None and hasattr(denoiser, "state_dict") else None
