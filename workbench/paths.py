"""Where workbench keeps its data: `WORKBENCH_HOME`, else the platform's user data dir."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

_made: set[str] = set()


def home() -> Path:
    """The root folder for the result store, device profiles and settings (created once)."""
    env = os.environ.get("WORKBENCH_HOME")
    root = Path(env).expanduser() if env else Path(platformdirs.user_data_dir("workbench"))
    if str(root) not in _made:
        root.mkdir(parents=True, exist_ok=True)
        _made.add(str(root))
    return root


def is_file(path: str | Path) -> bool:
    """`Path.is_file()` that says False for a name the system cannot even look up (too long, a NUL byte):
    a request naming such a file is refused with its sentence, not an OSError."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False
