"""Where workbench keeps its data: `WORKBENCH_HOME`, else the platform's user data dir."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import platformdirs

from workbench.settings import settings

_made: set[str] = set()


def home() -> Path:
    """The root folder for the result store, device profiles and settings (created once)."""
    root = settings().home or Path(platformdirs.user_data_dir("workbench"))
    if str(root) not in _made:
        root.mkdir(parents=True, exist_ok=True)
        _made.add(str(root))
    return root


def cache_dir() -> Path:
    """Where derived data that any store may reuse lives (convex decompositions keyed by the mesh's
    content): `WORKBENCH_CACHE`, else the platform's user cache dir. Not under `home()`, so a new store
    (a test's, a workshop participant's) does not redo minutes of work it can look up."""
    root = settings().cache or Path(platformdirs.user_cache_dir("workbench"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def is_file(path: str | Path) -> bool:
    """`Path.is_file()` that says False for a name the system cannot even look up (too long, a NUL byte):
    a request naming such a file is refused with its sentence, not an OSError."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def kept_layout(files: Iterable[Path]) -> dict[Path, Path]:
    """Where each of a result's files goes in a folder that receives them all: its own name, or
    `<subfolder>/<name>` when it sits in a subfolder beside the other files (a grasp file's
    `meshes/` stays where its `object/file` points). Used by the store and by `--out`."""
    files = list(files)
    folders = {f.parent for f in files}
    return {f: Path(f.parent.name, f.name) if f.parent.parent in folders else Path(f.name) for f in files}
