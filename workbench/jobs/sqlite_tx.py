"""One write transaction on a shared SQLite file, the way the store and the slot pool both need it."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def immediate(db: sqlite3.Connection, lock: threading.Lock,
              error: Callable[[sqlite3.DatabaseError], Exception]) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` ... `COMMIT`, rolled back on *any* exception (not only SQLite's): a connection left
    inside a transaction would hold the write lock of every process on the machine for the life of this one.
    A SQLite error comes out as `error(exc)`, a sentence for a person."""
    with lock:
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.DatabaseError):
                raise error(exc) from None
            raise
