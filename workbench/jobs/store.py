"""The result store: a folder per job plus an SQLite index, under `workbench.paths.home()`.

Layout::

    <home>/jobs/<job id>/record.json    request, state, timings, device, events, result
    <home>/jobs/<job id>/files/...      the files the result produced (SDF, PDB, PNG...)
    <home>/work/<job id>/               the running job's working folder (`TaskContext.workdir`)
    <home>/index.sqlite                 jobs (listing, cancel flags, owners), the slot pool (device
                                        leases and waiting jobs, `jobs.slot_pool`, unless
                                        WORKBENCH_SLOT_POOL names a machine-wide one), devices

Why both: the folders are the truth a person can read and copy; the index makes listing
fast and lets another process (the Jupyter server, the CLI) see queued and running jobs
and ask for a cancel. A finished job's folder is written to a temporary name and renamed
into place, so a crash mid-write never leaves a half record; a corrupt or missing index
is rebuilt from the folders.
"""

from __future__ import annotations

import builtins
import errno
import json
import logging
import math
import os
import shutil
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from workbench.contract.errors import JobNotFound, StoreError
from workbench.jobs import checkpoints as disk_checkpoints
from workbench.jobs.codec import decode, result_files, result_summary, to_jsonable, type_name, with_files
from workbench.jobs.ids import check_job_id
from workbench.jobs.owners import check_quota, compute_seconds, owner_name
from workbench.jobs.slot_pool import SCHEMA as POOL_SCHEMA
from workbench.jobs.slot_pool import SlotPool
from workbench.jobs.slot_pool import pid_alive as _pid_alive
from workbench.jobs.sqlite_tx import immediate
from workbench.jobs.text import bounded_text, valid_tree
from workbench.paths import home, kept_layout
from workbench.settings import settings

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    device TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    progress REAL,
    message TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL DEFAULT '',
    pid INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    placement TEXT NOT NULL DEFAULT '',
    tag TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created);
CREATE TABLE IF NOT EXISTS perf (
    device TEXT NOT NULL,
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    dtype TEXT NOT NULL,
    unit TEXT NOT NULL,
    units REAL NOT NULL,
    seconds REAL NOT NULL,
    source TEXT NOT NULL,
    at REAL NOT NULL,
    extra TEXT
);
CREATE INDEX IF NOT EXISTS perf_key ON perf (task, device);
CREATE TABLE IF NOT EXISTS drains (
    device TEXT NOT NULL,
    host TEXT NOT NULL,
    since REAL NOT NULL,
    PRIMARY KEY (device, host)
);
CREATE TABLE IF NOT EXISTS devices (
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    id TEXT NOT NULL,
    capabilities TEXT NOT NULL,
    load INTEGER NOT NULL DEFAULT 0,
    profile TEXT,
    updated REAL NOT NULL,
    setup TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (host, pid, id)
);
"""
COLUMNS = (
    "id", "task", "device", "state", "reason", "created", "started", "finished",
    "progress", "message", "host", "pid", "cancel_requested", "placement", "tag", "owner",
)
#: columns later versions added, for an index written by an earlier one
ADDED_COLUMNS = (("jobs", "placement", "TEXT NOT NULL DEFAULT ''"), ("jobs", "tag", "TEXT NOT NULL DEFAULT ''"),
                 ("jobs", "owner", "TEXT NOT NULL DEFAULT ''"),
                 ("devices", "setup", "TEXT NOT NULL DEFAULT ''"), ("drains", "deadline", "REAL"),
                 # when the job's process last wrote its row: a job whose process died used the device until then
                 ("jobs", "seen", "REAL"))
FINISHED = ("succeeded", "failed", "cancelled")
MAX_EVENTS_KEPT = 2000
#: A job folder without a record, or a working folder, untouched this long is left over from a killed process.
STALE_AFTER_S = 120.0


@dataclass
class StoredJob:
    """A job read back from the store, in this or any later process."""

    id: str
    task: str
    device: str
    state: str
    reason: str
    created: float
    started: float | None
    finished: float | None
    request: dict[str, Any] = field(default_factory=dict)  #: the request's fields as JSON
    result: Any = None  #: the task's own result type, as the live job gave it
    request_type: str | None = None  #: `module:QualName` of the request
    result_type: str | None = None  #: `module:QualName` the record names for its result (never imported from it)
    summary: str = ""  #: the result's own `summary()`, written when it finished (views read it without its type)
    files: dict[str, Path] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    folder: Path | None = None
    placement: str = ""  #: why it ran where it ran
    moves: int = 0  #: how often it moved to another device

    @property
    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started


T = TypeVar("T")
D = TypeVar("D")


def _number(value: Any) -> float | None:
    """A record's time or fraction as a finite number, or None (a hand-edited record may hold anything)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _typed(value: Any, kind: type[T], default: D) -> T | D:
    """`value` when it is a `kind`, else `default` (a record's field as the type its readers expect)."""
    return value if isinstance(value, kind) and not (kind is int and isinstance(value, bool)) else default


def _inside(relative: Any) -> bool:
    """A record's file path that stays inside the job's folder (relative, no `..`)."""
    if not isinstance(relative, str) or not relative or "\x00" in relative:
        return False
    path = Path(relative)
    return not path.is_absolute() and ".." not in path.parts


def _store_error(exc: Exception, where: Path) -> StoreError:
    """One sentence for a failing index: a full disk, or damage found while reading."""
    text = str(exc)
    if "full" in text.lower():
        return StoreError(f"The disk holding the result store ({where.parent}) is full; free some space and try "
                          "again (finished jobs are kept).")
    return StoreError(f"The job index {where} failed ({text}); open the store again to rebuild it from the job "
                      "folders (finished jobs are kept).")


def _bounded_event(event: dict[str, Any]) -> dict[str, Any]:
    """An event as the record keeps it: its message (and its progress's message) bounded."""
    if isinstance(event.get("message"), str):
        event["message"] = bounded_text(event["message"])
    progress = event.get("progress")
    if isinstance(progress, dict) and isinstance(progress.get("message"), str):
        progress["message"] = bounded_text(progress["message"])
    return event


class ResultStore:
    """Reads and writes job records. Safe to share between threads and processes."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else home()
        self.jobs_dir = self.root / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.work_dir = self.root / "work"
        self.index_path = self.root / "index.sqlite"
        self.problems: list[str] = []  # what was found broken and repaired, for a person
        self._lock = threading.Lock()
        self._host = socket.gethostname()
        self._db = self._open_index()
        self._pool: SlotPool | None = None

    # ---- index ---------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.index_path, timeout=30, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(SCHEMA)
        db.executescript(POOL_SCHEMA)  # the default slot pool lives in the index (jobs.slot_pool)
        for table, column, declared in ADDED_COLUMNS:  # an index from before
            if column not in {r[1] for r in db.execute(f"PRAGMA table_info({table})")}:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declared}")
        db.execute("SELECT count(*) FROM jobs").fetchone()
        return db

    def _open_index(self) -> sqlite3.Connection:
        # a 0-byte file opens as an empty database: it is a lost index, rebuilt like a missing one
        fresh = not self.index_path.exists() or self.index_path.stat().st_size == 0
        if self.index_path.exists() and self.index_path.stat().st_size == 0 and any(self.jobs_dir.iterdir()):
            self.problems.append("The job index was empty (0 bytes); it was rebuilt from the job folders.")
        try:
            db = self._connect()
            check = db.execute("PRAGMA quick_check").fetchone()[0]  # damaged pages pass a plain open
            if check != "ok":
                db.close()
                raise sqlite3.DatabaseError(f"integrity check: {check}")
        except sqlite3.DatabaseError as exc:
            aside = self.index_path.with_name(f"index.sqlite.corrupt-{int(time.time())}")
            for suffix in ("", "-wal", "-shm"):
                p = Path(str(self.index_path) + suffix)
                if p.exists():
                    p.replace(Path(str(aside) + suffix))
            self.problems.append(
                f"The job index was unreadable ({exc}); it was moved to {aside.name} and rebuilt "
                "from the job folders."
            )
            db = self._connect()
            fresh = True
        if fresh:
            self._rebuild(db)
        return db

    def _rebuild(self, db: sqlite3.Connection) -> int:
        n = 0
        for folder in sorted(self.jobs_dir.iterdir()):
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            try:
                self._index_folder(db, folder)
                n += 1
            except (OSError, ValueError, KeyError, TypeError, sqlite3.Error) as exc:
                self.problems.append(f"Job folder {folder.name} has no readable record ({bounded_text(exc, 200)}); "
                                     "skipped (`workbench jobs doctor` reports and cleans such folders).")
        return n

    @staticmethod
    def _index_folder(db: sqlite3.Connection, folder: Path) -> None:
        """Index one job folder's record. A row already in the index wins unless the record is final
        and the row is not: a rebuild never rewinds a live job (its state, its cancel flag)."""
        rec = json.loads((folder / "record.json").read_text())
        if not isinstance(rec, dict) or rec.get("id") != folder.name or not isinstance(rec.get("task"), str):
            raise ValueError("it is not a job record")
        check_job_id(rec["id"])
        row = {c: rec.get(c) for c in COLUMNS}
        for column in ("created", "started", "finished", "progress"):  # a record edited by hand: numbers or None
            row[column] = _number(rec.get(column))
        row["created"] = row["created"] or 0.0
        row["state"] = rec.get("state") if rec.get("state") in (*FINISHED, "queued", "running") else "failed"
        row["device"] = bounded_text(rec.get("device") or "", 200)
        row["pid"] = rec.get("pid") if isinstance(rec.get("pid"), int) and not isinstance(rec.get("pid"), bool) \
            and 0 < rec["pid"] < 2**31 else None
        finished = row["state"] in FINISHED  # an unfinished one keeps its pid: dead ones show failed
        row.update(host=rec.get("host", ""), pid=None if finished else row["pid"], cancel_requested=0,
                   reason=bounded_text(rec.get("reason") or ""), message=bounded_text(rec.get("message") or ""),
                   placement=bounded_text(rec.get("placement") or ""), tag=bounded_text(rec.get("tag") or "", 40),
                   owner=owner_name(rec.get("owner") or ""))
        updates = ", ".join(f"{c}=excluded.{c}" for c in COLUMNS if c not in ("id", "cancel_requested"))
        db.execute(
            f"INSERT INTO jobs ({','.join(COLUMNS)}) VALUES ({','.join('?' * len(COLUMNS))}) "
            f"ON CONFLICT(id) DO UPDATE SET {updates} "
            f"WHERE jobs.state NOT IN {FINISHED} AND excluded.state IN {FINISHED}",
            [row[c] for c in COLUMNS],
        )

    def rebuild_index(self) -> int:
        """Re-read every job folder into the index; returns how many were indexed."""
        with self._lock:
            return self._rebuild(self._db)

    def _exec(self, sql: str, args: tuple[Any, ...] | builtins.list[Any] = ()
              ) -> builtins.list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise _store_error(exc, self.index_path) from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction on the index (`sqlite_tx.immediate`)."""
        with immediate(self._db, self._lock, lambda exc: _store_error(exc, self.index_path)) as db:
            yield db

    def _write_record(self, folder: Path, record: dict[str, Any]) -> None:
        """Write `record.json` by temp file + rename (the first record too): a kill leaves the old
        record or the new one, never a half or empty file. Its text is valid UTF-8."""
        tmp = folder / f".record-{uuid.uuid4().hex[:6]}.json"
        try:
            tmp.write_text(json.dumps(valid_tree(to_jsonable(record, strict=False)), indent=1))
            os.replace(tmp, folder / "record.json")
        finally:
            tmp.unlink(missing_ok=True)

    # ---- writes from the runner ----------------------------------------------------------
    def register(self, job: Any) -> None:
        """Record a job as queued, so other processes see it at once; its request goes to its folder
        now, so a job whose process dies keeps it (and survives an index rebuild)."""
        folder = self.jobs_dir / check_job_id(job.id)
        placement = bounded_text(getattr(job, "placement", "") or "")
        tag = bounded_text(getattr(job, "tag", "") or "", 40)
        owner = owner_name(getattr(job, "owner", "") or "")
        try:
            folder.mkdir(exist_ok=True)
            self._write_record(folder, {
                "id": job.id, "task": job.task_name, "device": job.device, "state": job.state.value,
                "created": job.created, "host": self._host, "pid": os.getpid(),
                "request": to_jsonable(job.request, strict=False), "request_type": type_name(job.request),
                "placement": placement, "tag": tag, "owner": owner})
            for key, value in (getattr(job, "checkpoints", None) or {}).items():  # a resumed job's items so far
                disk_checkpoints.append(folder, key, value)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            if exc.errno == errno.ENOSPC:
                raise StoreError(f"The disk holding the result store ({self.root}) is full; free some space and "
                                 "try again.") from None
            raise
        quota = getattr(job, "admission", None)
        try:
            with self._transaction() as db:  # the quota check and the row in one commit: no two submits both fit
                if quota is not None and quota.limited:
                    check_quota(self._usage(db, owner).get(owner, {}), quota)
                db.execute(
                    "INSERT OR REPLACE INTO jobs (id, task, device, state, created, host, pid, placement, tag, owner) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (job.id, job.task_name, job.device, job.state.value, job.created, self._host, os.getpid(),
                     placement, tag, owner))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # refused or not recorded: no folder of a job that is not
            raise

    def update(self, job: Any) -> None:
        p = job.last_progress
        self._exec(
            "UPDATE jobs SET state=?, started=?, device=?, progress=?, message=?, placement=?, seen=? WHERE id=?",
            (job.state.value, job.started, job.device, p.fraction if p else None,
             bounded_text(p.message) if p else "", bounded_text(getattr(job, "placement", "") or ""), time.time(),
             job.id),
        )

    def save(self, job: Any, *, state: str, reason: str, result: Any = None,
             release: str | None = None) -> Any:
        """Write the finished job's record (atomically: a new `record.json` replaces the queued one in
        one rename), then its index row.

        Returns `result` with its files moved into the job folder. Called by the runner before the
        job reports its final state, so a succeeded job is always on disk; a crash before the rename
        leaves the queued record, and the job is reported failed.
        """
        final = self.jobs_dir / check_job_id(job.id)
        reason = bounded_text(reason)
        try:
            final.mkdir(exist_ok=True)
            stored_files: dict[str, Path] = {}
            src_files = result_files(result)
            if src_files:
                if (final / "files").exists():  # a retried save of the same id replaces the old files
                    shutil.rmtree(final / "files")
                (final / "files").mkdir()
            layout = kept_layout(src_files.values())
            for name, src in src_files.items():
                if not src.exists():
                    raise StoreError(f"result file {name!r} ({src}) does not exist")
                dest = final / "files" / layout[src]
                dest.parent.mkdir(exist_ok=True)
                if dest.exists():
                    dest = final / "files" / f"{name}-{src.name}"
                # the task's output is the job's now: move, not copy
                shutil.move(str(src), str(dest))
                stored_files[name] = dest
            if result is not None and src_files:
                result = with_files(result, stored_files)
            finished = job.finished or time.time()
            events = [_bounded_event(e.to_dict()) for e in job.snapshot_events()]
            # the final state is announced after this record is safely written; record it here
            events.append({"kind": "state", "time": finished, "state": state, "message": reason})
            p = job.last_progress
            record = {
                "id": job.id,
                "task": job.task_name,
                "device": job.device,
                "state": state,
                "reason": reason,
                "created": job.created,
                "started": job.started,
                "finished": finished,
                "progress": p.fraction if p else None,
                "message": bounded_text(p.message) if p else "",
                "host": self._host,
                "request": to_jsonable(job.request, strict=False),
                "request_type": type_name(job.request),
                "result": to_jsonable(result) if state == "succeeded" else None,
                "result_type": type_name(result) if state == "succeeded" else None,
                "summary": bounded_text(result_summary(result) or "", 4000) if state == "succeeded" else "",
                "files": {k: str(v.relative_to(final)) for k, v in stored_files.items()},
                "placement": bounded_text(getattr(job, "placement", "") or ""),
                "tag": bounded_text(getattr(job, "tag", "") or "", 40),
                "owner": owner_name(getattr(job, "owner", "") or ""),
                "moves": getattr(job, "moves", 0),
                "events_total": len(events),
                "events": events[:MAX_EVENTS_KEPT // 2] + events[-MAX_EVENTS_KEPT // 2:]
                if len(events) > MAX_EVENTS_KEPT else events,
            }
            self._write_record(final, record)
            if state == "succeeded":  # its finished items are in the result now
                disk_checkpoints.discard(final)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise StoreError(f"the disk holding the result store ({self.root}) is full; free some space and "
                                 "run the job again") from None
            raise
        pool = self.pool if release is not None else None
        with self._transaction() as db:  # one commit: the index row, and the device slot the job held
            db.execute(
                "UPDATE jobs SET state=?, reason=?, started=?, finished=?, progress=?, message=?, "
                "device=? WHERE id=?",
                (state, reason, job.started, finished, record["progress"], record["message"], job.device, job.id))
            if pool is not None and pool.path == self.index_path:
                db.execute("DELETE FROM pool_leases WHERE device=? AND job=?", (release, job.id))
        if pool is not None and release is not None and pool.path != self.index_path:
            pool.release(release, job.id)  # a machine-wide pool is another file: right after the record
        return result

    # ---- checkpoints on disk (see jobs.checkpoints) ----------------------------------------
    def save_checkpoint(self, job_id: str, key: str, value: Any) -> bool:
        """Keep one finished item of a running job in its folder, so a killed job can resume from it."""
        return disk_checkpoints.append(self.jobs_dir / check_job_id(job_id), key, value)

    def checkpoints(self, job_id: str) -> dict[str, Any]:
        """The finished items a job kept on disk (an unfinished, failed or cancelled job's)."""
        return disk_checkpoints.read(self.jobs_dir / check_job_id(job_id))

    # ---- cancel across processes ---------------------------------------------------------
    def request_cancel(self, job_id: str) -> bool:
        """Flag a queued or running job for cancel; its runner (any process) sees it."""
        row = self.row(job_id)  # checks the id's shape
        if row["state"] in FINISHED:
            return False
        self._exec("UPDATE jobs SET cancel_requested=1 WHERE id=?", (job_id,))
        return True

    def cancel_requested(self, job_id: str) -> bool:
        rows = self._exec("SELECT cancel_requested FROM jobs WHERE id=?", (job_id,))
        return bool(rows and rows[0][0])

    # ---- reads ---------------------------------------------------------------------------
    def row(self, job_id: str) -> dict[str, Any]:
        """The index row of one job (state, progress, message...), without reading its folder."""
        check_job_id(job_id)
        rows = self._exec(f"SELECT {','.join(COLUMNS)} FROM jobs WHERE id=?", (job_id,))
        if not rows:
            if (self.jobs_dir / job_id / "record.json").exists():  # a folder the index lost: index just it
                try:
                    with self._transaction() as db:
                        self._index_folder(db, self.jobs_dir / job_id)
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    raise StoreError(f"The record of job {job_id} is unreadable ({bounded_text(exc, 200)}); "
                                     "other jobs are unaffected.") from None
                rows = self._exec(f"SELECT {','.join(COLUMNS)} FROM jobs WHERE id=?", (job_id,))
            if not rows:
                raise JobNotFound(f"No job with id {job_id!r} in the result store at {self.root}.")
        return self._fix_stale(dict(zip(COLUMNS, rows[0], strict=False)))

    def _fix_stale(self, row: dict[str, Any]) -> dict[str, Any]:
        """A queued/running job whose process died is reported failed, not running forever."""
        if row["state"] in FINISHED or row["host"] != self._host or not row["pid"]:
            return row
        if row["pid"] == os.getpid() or _pid_alive(row["pid"]):
            return row
        # reported, not written: reads never write (a full disk or a read-only store must not break them)
        reason = f"the process that ran this job (pid {row['pid']}) exited before it finished"
        row.update(state="failed", reason=reason)
        return row

    def list(self, *, limit: int | None = None, state: str | None = None,
             task: str | None = None, tagged: bool = False, owner: str | None = None) -> builtins.list[dict[str, Any]]:
        """Newest first; `tagged`: also the jobs of `workbench bench` (see `Job.tag`), hidden otherwise;
        `owner`: only that owner's jobs (a workshop participant's view). Reads only the index, so a broken
        job folder cannot break it."""
        sql = f"SELECT {','.join(COLUMNS)} FROM jobs"
        where, args = ([], []) if tagged else (["tag=''"], [])
        if owner is not None:
            where.append("owner=?")
            args.append(owner_name(owner))
        if state:
            where.append("state=?")
            args.append(state)
        if task:
            where.append("task=?")
            args.append(task)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [self._fix_stale(dict(zip(COLUMNS, r, strict=False))) for r in self._exec(sql, args)]

    def count(self, *, state: str | None = None, tagged: bool = False) -> int:
        """How many jobs `list` would show without a limit."""
        where = " AND ".join(([] if tagged else ["tag=''"]) + (["state=?"] if state else [])) or "1"
        return int(self._exec(f"SELECT count(*) FROM jobs WHERE {where}", (state,) if state else ())[0][0])

    def usage(self, *, owner: str | None = None) -> dict[str, dict[str, float]]:
        """Per owner: jobs in each state and seconds of device time (running jobs count until now), for
        quotas and the host's view of a workshop."""
        return self._usage(None, owner)

    def _usage(self, db: sqlite3.Connection | None, owner: str | None) -> dict[str, dict[str, float]]:
        """`usage`, read through `db` (inside a transaction) or on its own (None)."""
        sql = "SELECT owner, state, started, finished, pid, seen FROM jobs WHERE tag=''"
        args: tuple[Any, ...] = ()
        if owner is not None:
            sql, args = sql + " AND owner=?", (owner_name(owner),)
        now = time.time()
        out: dict[str, dict[str, float]] = {}
        rows = db.execute(sql, args).fetchall() if db is not None else self._exec(sql, args)
        for who, state, started, finished, pid, seen in rows:
            if state in ("queued", "running") and pid and not _pid_alive(pid):
                state = "failed"  # its process died (as `list` shows it): it used the device until last seen
                finished = max(seen or 0.0, started or 0.0) if started is not None else None
            row = out.setdefault(who, {"queued": 0, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 0,
                                       "compute_s": 0.0})
            row[state] = row.get(state, 0) + 1
            row["compute_s"] += compute_seconds(started, finished if state in FINISHED else None, now)
        return out

    def stored_summary(self, job_id: str) -> str:
        """The summary a finished job's result gave of itself, read from its record without importing
        anything ("" when there is none or the record cannot be read)."""
        try:
            rec = json.loads((self.jobs_dir / check_job_id(job_id) / "record.json").read_text())
        except (OSError, ValueError, LookupError):  # LookupError: not a job id
            return ""
        text = rec.get("summary") if isinstance(rec, dict) else None
        return text if isinstance(text, str) else ""

    def _result_of(self, job_id: str, task: str, rec: dict[str, Any]) -> Any:
        """The stored result as its task's declared class; JSON when the record names another type.

        A record never chooses what is imported: only the registered task's own module is, and only
        when the record's type is the one that task declares (a `record.json` naming any other module
        is read as JSON, said in `problems`)."""
        from workbench.tasks.registry import TASKS

        name, data = rec.get("result_type"), rec.get("result")
        if not name or data is None:
            return data
        spec = TASKS.get(task)
        try:
            declared = spec.result_type() if spec is not None else None
        except Exception as exc:  # noqa: BLE001 - the task's extra is not installed here: JSON, said
            log.debug("ResultStore._result_of: ignored", exc_info=True)
            self.problems.append(f"The result of job {job_id} is shown as JSON: its task {task!r} cannot be "
                                 f"loaded here ({exc}).")
            return data
        if declared is None or f"{declared.__module__}:{declared.__qualname__}" != name:
            self.problems.append(f"The result of job {job_id} names the type {name!r}, which its task {task!r} "
                                 "does not declare; shown as JSON.")
            return data
        try:
            return decode(declared, data)
        except Exception as exc:  # noqa: BLE001 - the task's code changed since: keep the JSON, say so
            log.debug("ResultStore._result_of: ignored", exc_info=True)
            self.problems.append(f"The result of job {job_id} no longer matches its type ({exc}); shown as JSON.")
            return data

    def get(self, job_id: str, *, rebuild: bool = True) -> StoredJob:
        """The full record of one job; unfinished jobs come from the index alone. `rebuild=False` keeps
        the result as its JSON (the Jupyter server's views: they import no task module)."""
        row = self.row(job_id)
        folder = self.jobs_dir / job_id
        base = {k: row[k] for k in ("id", "task", "device", "state", "reason", "created",
                                    "started", "finished")}
        if row["state"] not in FINISHED or not folder.exists():
            request: dict[str, Any] = {}
            try:  # the request was written at submit time
                request = json.loads((folder / "record.json").read_text()).get("request") or {}
            except (OSError, ValueError, AttributeError):
                pass
            return StoredJob(**base, request=request, folder=folder if folder.exists() else None)
        try:
            rec = json.loads((folder / "record.json").read_text())
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"The record of job {job_id} is unreadable ({exc}); other jobs are unaffected. "
                f"Its folder is {folder}."
            ) from None
        if not isinstance(rec, dict):
            raise StoreError(f"The record of job {job_id} is not a job record; other jobs are unaffected. "
                             f"Its folder is {folder}.")
        result = self._result_of(job_id, row["task"], rec) if rebuild else rec.get("result")
        # each field as its type, whatever a hand-edited record holds; files only inside the job's folder
        files: dict[str, Any] = _typed(rec.get("files"), dict, {})
        events: list[Any] = _typed(rec.get("events"), list, [])
        return StoredJob(
            **base,
            request=_typed(rec.get("request"), dict, {}),
            request_type=_typed(rec.get("request_type"), str, None),
            result_type=_typed(rec.get("result_type"), str, None),
            summary=_typed(rec.get("summary"), str, ""),
            result=result,
            placement=_typed(rec.get("placement"), str, ""),
            moves=_typed(rec.get("moves"), int, 0),
            files={str(k): folder / v for k, v in files.items() if _inside(v)},
            events=[e for e in events if isinstance(e, dict)],
            folder=folder,
        )

    def file_path(self, job_id: str, relative: str) -> Path:
        """A result file of a job, refusing any path that leaves the job's folder."""
        check_job_id(job_id)
        folder = (self.jobs_dir / job_id).resolve()
        # containment against the store's jobs root: a symlinked job folder cannot lead out of it
        if "/" in job_id or job_id.startswith(".") or folder.parent != self.jobs_dir.resolve() or not folder.is_dir():
            raise JobNotFound(f"No job with id {job_id!r} in the result store.")
        path = (folder / relative).resolve()
        if folder not in path.parents or not path.is_file():
            raise FileNotFoundError(f"Job {job_id} has no file {relative!r}.")
        return path

    def delete(self, job_id: str) -> None:
        self.row(job_id)
        shutil.rmtree(self.jobs_dir / job_id, ignore_errors=True)
        self._exec("DELETE FROM jobs WHERE id=?", (job_id,))

    # ---- repairs a person asks for (`workbench jobs doctor`) ------------------------------
    def doctor(self, *, clean: bool = True, min_age: float = STALE_AFTER_S) -> builtins.list[str]:
        """Find what killed processes leave behind, say each in a sentence, and (`clean`) repair it:
        job folders without a readable record (removed when they hold nothing else, else kept and
        reported), unfinished records whose process is gone (finished as failed, with that reason),
        and working folders of jobs that are not running (removed). Nothing is repaired silently.
        `min_age`: a folder without a record younger than this may be a submit in progress, and is left
        alone (0 when no process can be writing to the store)."""
        found: builtins.list[str] = []
        now = time.time()
        for folder in sorted(self.jobs_dir.iterdir()):
            if folder.name.startswith("."):
                continue
            if folder.is_symlink():  # never followed, never removed: it is not a folder the store made
                found.append(f"{bounded_text(folder.name, 80)} in the jobs folder is a link, not a job folder; "
                             "left alone.")
                continue
            if not folder.is_dir():
                continue
            try:
                check_job_id(folder.name)
            except LookupError:
                found.append(f"Folder {bounded_text(folder.name, 80)!r} in the jobs folder is not named like a job; "
                             "left alone.")
                continue
            if now - folder.stat().st_mtime < min_age and not (folder / "record.json").exists():
                continue  # maybe being written by a live process right now
            try:
                rec = json.loads((folder / "record.json").read_text())
                if not isinstance(rec, dict):
                    raise ValueError("it is not a job record")
            except FileNotFoundError:
                why = "no record.json"
            except (OSError, ValueError) as exc:
                why = f"an unreadable record.json ({bounded_text(exc, 120)})"
            else:
                why = ""
                if rec.get("id") != folder.name:  # a whole record in the wrong folder: a person's to rename
                    found.append(f"Job folder {folder.name} holds the record of job "
                                 f"{bounded_text(rec.get('id'), 80)!r}; kept (rename the folder to that id to "
                                 "restore it).")
                    continue
            if why:
                leftovers = [p for p in folder.iterdir() if not p.name.startswith(".record-")
                             and p.name != "record.json"]
                if clean and not leftovers:
                    shutil.rmtree(folder, ignore_errors=True)
                    found.append(f"Job folder {folder.name} had {why} and nothing else (a submit killed "
                                 "midway); removed.")
                else:
                    found.append(f"Job folder {folder.name} has {why} but holds {len(leftovers)} other "
                                 "file(s); kept for you to look at.")
                continue
            if rec.get("state") in FINISHED:
                continue
            rows = self._exec(f"SELECT {','.join(COLUMNS)} FROM jobs WHERE id=?", (folder.name,))
            row = dict(zip(COLUMNS, rows[0], strict=False)) if rows else {c: rec.get(c) for c in COLUMNS}
            if row["state"] in FINISHED or self._fix_stale(row)["state"] not in FINISHED:
                continue  # finished in the index, or its process is alive (or on another host)
            reason = row["reason"]
            said = f"Job {folder.name} ({rec.get('task')}) was left {rec.get('state')}: {reason}"
            if clean:
                rec.update(state="failed", reason=reason, finished=rec.get("finished") or now)
                self._write_record(folder, rec)
                with self._transaction() as db:
                    self._index_folder(db, folder)
                said += "; recorded as failed"
            kept = len(disk_checkpoints.read(folder))
            if kept:
                said += (f"; its {kept} finished item(s) are kept: `workbench jobs resume {folder.name}` carries on "
                         "from them")
            found.append(said + ".")
        if self.work_dir.is_dir():
            for folder in sorted(self.work_dir.iterdir()):
                try:
                    state = self.row(folder.name)["state"] if folder.is_dir() else "finished"
                except (JobNotFound, StoreError):
                    state = "unknown"
                if state in ("queued", "running") or (state == "unknown" and now - folder.stat().st_mtime < min_age):
                    continue
                if clean:
                    if folder.is_dir() and not folder.is_symlink():
                        shutil.rmtree(folder, ignore_errors=True)
                    else:  # a file or a link: the link goes, never what it points at
                        folder.unlink(missing_ok=True)
                gone = clean and not folder.exists() and not folder.is_symlink()
                found.append(f"Working folder work/{bounded_text(folder.name, 80)} of a {state} job was left behind"
                             + ("; removed." if gone else "; could not be removed." if clean else "."))
        return found

    # ---- working folders ---------------------------------------------------------------
    def workdir(self, job_id: str) -> Path:
        """Where a running job's working folder goes (its context makes it on first use);
        removed by `discard_workdir` when the job ends."""
        return self.work_dir / job_id

    def discard_workdir(self, job_id: str) -> None:
        shutil.rmtree(self.work_dir / job_id, ignore_errors=True)

    # ---- machine-wide device slots (see jobs.slots, jobs.slot_pool) --------------------------
    @property
    def pool_path(self) -> Path:
        """The file of the slot pool this store's jobs lease from: the one `WORKBENCH_SLOT_POOL` names (every
        store on the machine), else this store's index (every process of this home)."""
        configured = settings().slot_pool
        if configured is None:
            return self.index_path
        return configured / "slots.sqlite" if configured.is_dir() or not configured.suffix else configured

    @property
    def pool(self) -> SlotPool:
        """The slot pool at `pool_path`, opened once (a StoreError with a sentence when it cannot be used)."""
        path = self.pool_path
        with self._lock:
            if self._pool is None or self._pool.path != path:
                self._pool = SlotPool(path, home=str(self.root), shared=path != self.index_path)
            return self._pool

    def try_lease(self, device: str, capacity: int, job_id: str, **waiter: Any) -> bool:
        """Take one of `capacity` slots of `device` for `job_id` when its turn (fair by owner) has come;
        `waiter`: owner, task, max_running, since (see `SlotPool.try_lease`)."""
        return self.pool.try_lease(device, capacity, job_id, **waiter)

    def release_lease(self, device: str, job_id: str) -> None:
        self.pool.release(device, job_id)

    def leases(self, device: str) -> int:
        """Slots of `device` held now, by any process sharing the pool."""
        return self.pool.leases(device)

    def queue_position(self, device: str, job_id: str) -> int:
        """The job's place among the jobs waiting for a slot of `device`, machine-wide, in fair order."""
        return self.pool.position(device, job_id)

    # ---- devices as each process sees them (read by the Jupyter server, which imports no torch) --
    def publish_devices(self, rows: builtins.list[dict[str, Any]], setup: str = "") -> None:
        """Replace this process's device rows: id, capabilities, load, profile (`setup`: the fingerprint of
        what decided the discovery, `workbench.hardware.host.setup_key`)."""
        now, pid = time.time(), os.getpid()
        with self._transaction() as db:
            db.execute("DELETE FROM devices WHERE host=? AND pid=?", (self._host, pid))
            for r in rows:
                db.execute(
                    "INSERT INTO devices (host, pid, id, capabilities, load, profile, updated, setup) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (self._host, pid, r["id"], json.dumps(valid_tree(to_jsonable(r["capabilities"], strict=False))),
                     int(r.get("load", 0)), json.dumps(valid_tree(to_jsonable(r.get("profile"), strict=False))),
                     now, setup))

    def published_devices(self, setup: str | None = None) -> builtins.list[dict[str, Any]]:
        """The newest published row of every device of this host (of one `setup`), with its load now,
        machine-wide: slots held plus queued jobs of live processes (any process, any kernel). A cluster's
        devices count only while the process that joined the cluster lives."""
        rows = self._exec("SELECT id, capabilities, profile, updated, pid FROM devices WHERE host=?"
                          + (" AND setup=?" if setup is not None else "") + " ORDER BY updated",
                          (self._host, setup) if setup is not None else (self._host,))
        latest = {dev_id: (caps, profile, updated) for dev_id, caps, profile, updated, pid in rows
                  if not dev_id.startswith("ray:") or _pid_alive(pid)}
        queued: dict[str, int] = {}
        for device, pid in self._exec("SELECT device, pid FROM jobs WHERE state='queued' AND host=?",
                                      (self._host,)):
            if pid and _pid_alive(pid):
                queued[device] = queued.get(device, 0) + 1
        return [{"id": dev_id, "capabilities": json.loads(caps), "profile": json.loads(profile) if profile else None,
                 "updated": updated, "load": self.leases(dev_id) + queued.get(dev_id, 0)}
                for dev_id, (caps, profile, updated) in latest.items()]

    # ---- per-task performance (see jobs.perf) ------------------------------------------------
    def add_perf(self, row: dict[str, Any]) -> None:
        self._exec("INSERT INTO perf (device, task, model, dtype, unit, units, seconds, source, at, extra) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (row["device"], row["task"], row["model"], row["dtype"], row["unit"], row["units"],
                    row["seconds"], row["source"], time.time(), json.dumps(row.get("extra") or {})))

    def perf_rows(self, task: str | None = None) -> builtins.list[dict[str, Any]]:
        sql = "SELECT device, task, model, dtype, unit, units, seconds, source, at, extra FROM perf"
        rows = self._exec(sql + (" WHERE task=?" if task else "") + " ORDER BY at", (task,) if task else ())
        keys = ("device", "task", "model", "dtype", "unit", "units", "seconds", "source", "at", "extra")
        return [{**dict(zip(keys, r, strict=False)), "extra": json.loads(r[-1] or "{}")} for r in rows]

    def recent_samples(self, task: str, model: str, per_device: int
                       ) -> builtins.list[tuple[str, float, float, dict[str, Any]]]:
        """(device, units/s, when, extra) of the newest `per_device` runs of `task` with `model` on each
        device, each device's newest first: what placement reads on every `auto` submit, so it does not
        grow with the history. A device's own jobs speak for it; `workbench bench`'s standard cases only
        where it has none."""
        rows = self._exec(
            "SELECT device, units / seconds, at, extra FROM (SELECT device, units, seconds, at, extra, ROW_NUMBER() "
            "OVER (PARTITION BY device ORDER BY source != 'history', at DESC) AS n, "
            "MIN(source != 'history') OVER (PARTITION BY device) AS only_bench, source != 'history' AS bench "
            "FROM perf WHERE task=? AND model=?) WHERE n <= ? AND bench = only_bench ORDER BY device, n",
            (task, model, per_device))
        return [(d, rate, at, json.loads(extra or "{}")) for d, rate, at, extra in rows]

    def recent_rates(self, task: str, model: str, per_device: int) -> builtins.list[tuple[str, float]]:
        """(device, units/s) of the runs `recent_samples` gives."""
        return [(device, rate) for device, rate, _, _ in self.recent_samples(task, model, per_device)]

    # ---- drained devices (every process of this host moves its jobs off them) ---------------
    def set_drained(self, device: str, drained: bool = True, deadline: float | None = None) -> None:
        """Drain `device` on this host (`deadline`: the time it must be free by; None: now), or undrain it."""
        if drained:
            self._exec("INSERT OR REPLACE INTO drains (device, host, since, deadline) VALUES (?, ?, ?, ?)",
                       (device, self._host, time.time(), deadline))
        else:
            self._exec("DELETE FROM drains WHERE device=? AND host=?", (device, self._host))

    def drains(self) -> dict[str, float | None]:
        """Drained devices of this host, each with its deadline (None: its jobs leave at once)."""
        return {r[0]: r[1] for r in self._exec("SELECT device, deadline FROM drains WHERE host=?", (self._host,))}

    def drained(self) -> set[str]:
        return set(self.drains())

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._pool is not None:
                self._pool.close()


_stores: dict[Path, ResultStore] = {}
_stores_lock = threading.Lock()


def default_store() -> ResultStore:
    """The store for the current `WORKBENCH_HOME` (one instance per root per process)."""
    root = home()
    with _stores_lock:
        store = _stores.get(root)
        if store is None:
            store = _stores[root] = ResultStore(root)
        return store
