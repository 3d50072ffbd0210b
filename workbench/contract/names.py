"""File names made from user text, and paths that must stay inside a folder.

Why: a ligand's name, a protein's FASTA header or an object's name becomes part of an output file's
name. Used raw, a name with `/`, `..`, a NUL or an absolute path writes outside the job's folder (a
screen once overwrote a user's file through a ligand named `../victim/notes`). Every output file name
derived from user text goes through `safe_name`; every path a user's file names (a URDF's mesh, a
YAML's template) goes through `confined`. The display text a person reads keeps its own spelling
through `label`.
"""

from __future__ import annotations

import string
from pathlib import Path

from workbench.contract.errors import InputError

_SAFE = frozenset(string.ascii_letters + string.digits + "-_.")
#: characters a label never keeps: C0 and C1 controls (NUL, escape, line breaks) and DEL
_CONTROL = {c: " " for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]}


def safe_name(text: str, *, fallback: str = "item", limit: int = 100) -> str:
    """`text` as one file-name component: ASCII letters, digits and `-_.` kept, everything else `_`,
    no leading dot (so never `.` or `..`), at most `limit` characters, and `fallback` when nothing is left."""
    name = "".join(c if c in _SAFE else "_" for c in str(text)[:limit]).lstrip(".")
    return name or fallback


def printable(text: str) -> str:
    """`text` as one line a person reads: valid UTF-8 (a lone surrogate becomes `\\udcff`), control characters
    (NUL included) as spaces, runs of space as one, surrounding space stripped."""
    text = str(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return " ".join(text.translate(_CONTROL).split())


def label(text: str, *, limit: int = 64) -> str:
    """`text` as a name a person reads in a table: `printable`, at most `limit` characters."""
    return printable(str(text)[: limit * 4])[:limit]


def confined(folder: str | Path, relative: str | Path, what: str = "file") -> Path:
    """`folder / relative`, resolved (links followed), which must lie inside `folder`: an absolute path, a
    `..` or a link that leads out is refused in one sentence (a task file must not make a job read
    `/etc/passwd`)."""
    base = Path(folder).resolve()
    try:
        target = (base / relative).resolve()
    except (OSError, ValueError, RuntimeError):  # a NUL, a name too long, a link loop
        raise InputError(f"The {what} {str(relative)[:80]!r} is not a usable path.") from None
    if target != base and base not in target.parents:
        raise InputError(f"The {what} {str(relative)[:80]!r} is outside {base}; it must lie inside that folder.")
    return target
