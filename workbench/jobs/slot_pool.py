"""The slot pool: device slots and the jobs waiting for them, shared by every store that opens one file.

By default the pool lives in the store's own index, so the processes of one user (notebooks, the
CLI, a Gradio server) share each device's slots. `WORKBENCH_SLOT_POOL=/dev/shm/workbench/slots.sqlite`
points every store on the machine at one file instead: 30 JupyterHub users with 30 homes then share
the GPU's one slot, not one each. The file is made readable and writable by every user (the folder
should be like /tmp: `install -d -m 1777 /var/lib/workbench`).

A waiting job registers itself; a free slot goes to the first waiting job in `owners.fair_order`
(round-robin by owner, least recently served first, across every process and home), so one
participant's 50 jobs do not make everyone else wait. A lease or a wait of a process that died is
reclaimed by the next one that looks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from workbench.contract.errors import StoreError
from workbench.jobs.owners import fair_order
from workbench.jobs.sqlite_tx import immediate

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS pool_leases (
    device TEXT NOT NULL, job TEXT NOT NULL, owner TEXT NOT NULL, home TEXT NOT NULL,
    host TEXT NOT NULL, pid INTEGER NOT NULL, since REAL NOT NULL, task TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (device, job)
);
CREATE TABLE IF NOT EXISTS pool_waiting (
    device TEXT NOT NULL, job TEXT NOT NULL, owner TEXT NOT NULL, home TEXT NOT NULL,
    host TEXT NOT NULL, pid INTEGER NOT NULL, since REAL NOT NULL, task TEXT NOT NULL DEFAULT '',
    max_running INTEGER,
    PRIMARY KEY (device, job)
);
CREATE TABLE IF NOT EXISTS pool_served (
    device TEXT NOT NULL, owner TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (device, owner)
);
"""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process, on a machine-wide pool
        return True
    return True


class SlotPool:
    """Leases on device slots, and the jobs waiting for one, in one SQLite file."""

    def __init__(self, path: Path | str, *, home: str = "", shared: bool = True):
        """`shared`: a machine-wide file every user opens (made 0666); False for a store's own index."""
        self.path = Path(path)
        self.home = home
        self._host = socket.gethostname()
        self._lock = threading.Lock()
        try:
            if self.path.exists() and not self.path.is_file():
                raise OSError(f"{self.path} is not a regular file")
            if shared:
                self._make_shared_file()
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise self._error(exc) from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            self._db.close()
            raise self._error(exc) from None

    def _make_shared_file(self) -> None:
        """Create the pool file readable and writable by every user *before* SQLite opens it: SQLite gives
        its `-wal` and `-shm` files the main file's mode when it creates them, so a file made 0666 only after
        the first connection left them 0644 and locked every other user out ("attempt to write a readonly
        database"). Journal files this user left with a narrower mode are opened up too."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            pass
        else:
            try:
                os.fchmod(fd, 0o666)  # the umask narrowed the mode os.open was given
            finally:
                os.close(fd)
        for name in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{name}")
            with contextlib.suppress(OSError):  # another user's file: theirs to have made right
                if part.stat().st_uid == os.getuid() and part.stat().st_mode & 0o666 != 0o666:
                    os.chmod(part, 0o666)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with immediate(self._db, self._lock, self._error) as db:
            yield db

    def _error(self, exc: BaseException) -> StoreError:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return StoreError(f"The slot pool {self.path} cannot be used ({why}); fix or remove it, or point "
                          "WORKBENCH_SLOT_POOL at another file.")

    def _exec(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None

    def _reclaim(self, db: sqlite3.Connection, device: str) -> None:
        """Forget the leases and waits of processes of this host that died."""
        for table in ("pool_leases", "pool_waiting"):
            rows = db.execute(f"SELECT job, pid FROM {table} WHERE device=? AND host=?", (device, self._host))
            for job, pid in rows.fetchall():
                if pid != os.getpid() and not pid_alive(pid):
                    db.execute(f"DELETE FROM {table} WHERE device=? AND job=?", (device, job))

    def try_lease(self, device: str, capacity: int, job_id: str, *, owner: str = "", task: str = "",
                  max_running: int | None = None, since: float | None = None) -> bool:
        """Take one of `capacity` slots of `device` for `job_id` if its turn has come (True); otherwise
        keep it in the waiting list (False). `max_running`: slots its owner may hold machine-wide."""
        if not self._worth_a_try(device, capacity, job_id):
            return False
        with self._transaction() as db:
            self._reclaim(db, device)
            db.execute("INSERT OR IGNORE INTO pool_waiting (device, job, owner, home, host, pid, since, task, "
                       "max_running) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (device, job_id, owner, self.home, self._host, os.getpid(),
                        since if since is not None else time.time(), task, max_running))
            held = db.execute("SELECT owner FROM pool_leases WHERE device=?", (device,)).fetchall()
            free = capacity - len(held)
            if free <= 0:
                return False
            everywhere = dict(db.execute("SELECT owner, count(*) FROM pool_leases GROUP BY owner").fetchall())
            waiting = db.execute("SELECT job, owner, since, max_running FROM pool_waiting WHERE device=?",
                                 (device,)).fetchall()
            # a job whose owner already holds their limit (on any device) lets the next owner go first
            eligible = [(j, o, s) for j, o, s, limit in waiting if limit is None or everywhere.get(o, 0) < limit]
            here, served = self._standing(lambda sql, args: db.execute(sql, args).fetchall(), device)
            if job_id not in fair_order(eligible, here, served)[:free]:
                return False
            now = time.time()
            db.execute("INSERT OR REPLACE INTO pool_served (device, owner, at) VALUES (?, ?, ?)", (device, owner, now))
            db.execute("DELETE FROM pool_waiting WHERE device=? AND job=?", (device, job_id))
            db.execute("INSERT OR REPLACE INTO pool_leases (device, job, owner, home, host, pid, since, task) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (device, job_id, owner, self.home, self._host, os.getpid(), now, task))
            return True

    @staticmethod
    def _standing(read: Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]], device: str
                  ) -> tuple[dict[str, int], dict[str, float]]:
        """What `fair_order` weighs for `device`: the slots each owner holds there, and when each owner was
        last given one (`read(sql, args)` runs a query, inside a transaction or not)."""
        here: dict[str, int] = {}
        for (owner,) in read("SELECT owner FROM pool_leases WHERE device=?", (device,)):
            here[owner] = here.get(owner, 0) + 1
        return here, dict(read("SELECT owner, at FROM pool_served WHERE device=?", (device,)))

    def _worth_a_try(self, device: str, capacity: int, job_id: str) -> bool:
        """A read (no write lock): False when this job already waits and every slot is held by a live
        process, so 30 participants' waiting jobs can look often without queueing for the write lock."""
        if not self._exec("SELECT 1 FROM pool_waiting WHERE device=? AND job=?", (device, job_id)):
            return True
        held = self._exec("SELECT host, pid FROM pool_leases WHERE device=?", (device,))
        if any(host == self._host and pid != os.getpid() and not pid_alive(pid) for host, pid in held):
            return True  # a dead holder's slot is reclaimed in the transaction
        return len(held) < capacity

    def withdraw(self, device: str, job_id: str) -> None:
        """A job that stopped waiting (cancelled) leaves the waiting list."""
        self._exec("DELETE FROM pool_waiting WHERE device=? AND job=?", (device, job_id))

    def release(self, device: str, job_id: str) -> None:
        self._exec("DELETE FROM pool_leases WHERE device=? AND job=?", (device, job_id))

    def leases(self, device: str) -> int:
        """Slots of `device` held now, by any live process of any home sharing the pool (a dead process's lease
        is not counted while it waits to be reclaimed: the sidebar said "cpu 1 job" with nothing running)."""
        held = self._exec("SELECT host, pid FROM pool_leases WHERE device=?", (device,))
        return sum(1 for host, pid in held if host != self._host or pid == os.getpid() or pid_alive(pid))

    def position(self, device: str, job_id: str) -> int:
        """1 + the waiting jobs that get a slot of `device` before this one (machine-wide, fair order)."""
        waiting = self._exec("SELECT job, owner, since FROM pool_waiting WHERE device=?", (device,))
        order = fair_order(waiting, *self._standing(self._exec, device))
        return order.index(job_id) + 1 if job_id in order else len(order) + 1

    def occupancy(self) -> list[dict[str, Any]]:
        """Every lease and wait in the pool, for a teacher's view: who runs and waits for what, from which home."""
        rows = []
        for state, table in (("running", "pool_leases"), ("waiting", "pool_waiting")):
            for device, job, owner, home, host, pid, since, task in self._exec(
                    f"SELECT device, job, owner, home, host, pid, since, task FROM {table} ORDER BY since"):
                if host == self._host and not pid_alive(pid):
                    continue
                rows.append({"state": state, "device": device, "job": job, "owner": owner, "home": home,
                             "task": task, "since": since})
        return rows

    def close(self) -> None:
        with self._lock:
            self._db.close()
