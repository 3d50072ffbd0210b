"""Text that the store writes: always valid UTF-8 and bounded.

Why: a reason, a progress message or a placement sentence comes from user input or from a
library's error text. A lone surrogate (`"na\\udcffme"`, from a file name or a CLI argument with
byte 0xff) cannot be encoded for SQLite, and an error that echoes an expanded YAML alias bomb is
megabytes long. Both are stored as readable, short text instead of failing (or filling) the store.
"""

from __future__ import annotations

from typing import Any

#: The most characters of a reason, message or placement kept in a record or the index.
TEXT_LIMIT = 4000


def valid_text(value: Any) -> str:
    """`value` as a string that encodes as UTF-8: lone surrogates become `\\udcff`, NUL becomes `\\x00`."""
    text = value if isinstance(value, str) else str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\x00")


def bounded_text(value: Any, limit: int = TEXT_LIMIT) -> str:
    """`valid_text(value)`, cut to `limit` characters with a note of how many were cut."""
    text = valid_text(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} characters cut)"


def valid_tree(value: Any) -> Any:
    """A JSON tree whose strings (keys too) are all `valid_text`: what a record may hold."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, dict):
        return {valid_text(k): valid_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [valid_tree(v) for v in value]
    return value
