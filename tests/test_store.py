"""The result store survives corruption, crashes mid-write and dead processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import add_task

import workbench as wb
from workbench.errors import JobNotFound, StoreError
from workbench.jobs.store import ResultStore, default_store


def _finished_jobs(devices, n=3):
    jobs = [devices["cpu"].submit(add_task, {"a": i, "b": 1}) for i in range(n)]
    for j in jobs:
        j.result(timeout=30)
    return jobs


def test_corrupt_index_is_reported_and_rebuilt_from_folders(devices, home):
    jobs = _finished_jobs(devices)
    default_store().close()
    for suffix in ("-wal", "-shm"):
        if os.path.exists(str(home / "index.sqlite") + suffix):
            os.remove(str(home / "index.sqlite") + suffix)
    (home / "index.sqlite").write_bytes(b"this is not a database" * 100)
    store = ResultStore(home)
    assert any("unreadable" in p for p in store.problems)
    assert {r["id"] for r in store.list()} == {j.id for j in jobs}
    assert store.get(jobs[0].id).result == {"sum": 1, "device": "cpu"}
    assert list(home.glob("index.sqlite.corrupt-*"))


def test_missing_index_is_rebuilt(devices, home):
    jobs = _finished_jobs(devices, 2)
    default_store().close()
    for p in home.glob("index.sqlite*"):
        p.unlink()
    store = ResultStore(home)
    assert {r["id"] for r in store.list()} == {j.id for j in jobs}


def test_broken_record_does_not_break_listing(devices, home):
    jobs = _finished_jobs(devices, 3)
    (home / "jobs" / jobs[1].id / "record.json").write_text('{"id": "trunc')
    store = default_store()
    assert len(store.list()) == 3
    with pytest.raises(StoreError, match="unreadable"):
        store.get(jobs[1].id)
    assert store.get(jobs[0].id).state == "succeeded"
    # a rebuild skips the broken folder and says so
    for p in home.glob("index.sqlite*"):
        p.unlink()
    fresh = ResultStore(home)
    assert {r["id"] for r in fresh.list()} == {jobs[0].id, jobs[2].id}
    assert any(jobs[1].id in p for p in fresh.problems)


def test_crash_mid_write_leaves_no_half_record(devices, home):
    """Kill a process while it writes a record: listing is unaffected and no half folder shows."""
    jobs = _finished_jobs(devices, 1)
    code = """
import os, json, workbench.jobs.store as st
orig = json.dumps
def crash(*a, **k):
    text = orig(*a, **k)
    if '"state": "succeeded"' not in text:  # the queued record at submit; save() writes the final one
        return text
    os._exit(9)   # the process dies inside save(), while its temp record is being written
from workbench.scheduling import registry
cpu = registry.get("cpu")  # discovery publishes the devices (JSON) before the crash is armed
st.json.dumps = crash
def task(req, ctx):
    return {"x": 1}
cpu.submit(task, {}).result(60)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 9, out.stderr
    # the crash left the queued record whole (the final one replaces it in one rename, or not at all)
    assert all(json.loads(p.read_text())["id"] == p.parent.name for p in (home / "jobs").glob("*/record.json"))
    store = ResultStore(home)
    rows = store.list()
    ids = {r["id"] for r in rows}
    assert jobs[0].id in ids
    crashed = [r for r in rows if r["id"] != jobs[0].id]
    # the crashed job's process is gone: it is reported failed, not running forever
    assert len(crashed) == 1 and crashed[0]["state"] == "failed"
    assert "exited before it finished" in crashed[0]["reason"]
    assert store.get(crashed[0]["id"]).result is None
    assert store.get(crashed[0]["id"]).request == {}  # its request was written at submit time
    for p in home.glob("index.sqlite*"):
        p.unlink()
    rebuilt = {r["id"]: r for r in ResultStore(home).list()}
    # the crashed job does not vanish with the index: it is rebuilt from its folder, reported failed
    assert set(rebuilt) == {jobs[0].id, crashed[0]["id"]}
    assert rebuilt[crashed[0]["id"]]["state"] == "failed"


def test_unknown_job_and_path_traversal_are_refused(devices, home):
    job = _finished_jobs(devices, 1)[0]
    store = default_store()
    with pytest.raises(JobNotFound, match="No job with id 'nope'"):
        store.get("nope")
    with pytest.raises(JobNotFound):
        store.file_path("../..", "etc/passwd")
    with pytest.raises(FileNotFoundError):
        store.file_path(job.id, "../../index.sqlite")
    assert store.file_path(job.id, "record.json").name == "record.json"


def test_request_cancel_on_finished_job_is_refused(devices):
    job = _finished_jobs(devices, 1)[0]
    assert default_store().request_cancel(job.id) is False


def test_index_rows_are_plain_sqlite(devices, home):
    job = _finished_jobs(devices, 1)[0]
    db = sqlite3.connect(home / "index.sqlite")
    state, = db.execute("SELECT state FROM jobs WHERE id=?", (job.id,)).fetchone()
    assert state == "succeeded"
    rec = json.loads((home / "jobs" / job.id / "record.json").read_text())
    assert rec["request"] == {"a": 0, "b": 1} and rec["events_total"] >= 5


def test_damaged_indexes_and_records_are_rebuilt_and_reported(devices, home):
    jobs = _finished_jobs(devices, 3)
    default_store().close()
    index = home / "index.sqlite"
    for p in home.glob("index.sqlite-*"):
        p.unlink()
    index.write_bytes(b"")  # 0 bytes: it used to open as an empty index ("no jobs yet")
    store = ResultStore(home)
    assert {r["id"] for r in store.list()} == {j.id for j in jobs}
    assert any("0 bytes" in p for p in store.problems)
    store.close()
    data = bytearray(index.read_bytes())  # damaged pages: past the header, garbage
    for i in range(200, min(len(data), 4000)):
        data[i] = 0xA5
    index.write_bytes(bytes(data))
    for p in home.glob("index.sqlite-*"):
        p.unlink()
    store = ResultStore(home)
    assert {r["id"] for r in store.list(limit=2000)} == {j.id for j in jobs}
    assert any("rebuilt" in p for p in store.problems)
    store.close()
    (home / "jobs" / jobs[1].id / "record.json").write_text("[]")  # valid JSON, not a record
    for p in home.glob("index.sqlite*"):
        p.unlink()
    store = ResultStore(home)
    assert {r["id"] for r in store.list()} == {jobs[0].id, jobs[2].id}  # the others stay listed
    assert any(jobs[1].id in p and "not a job record" in p for p in store.problems)


def test_a_full_disk_is_one_sentence_and_keeps_its_reason(devices, home, monkeypatch):
    import errno

    from workbench.errors import StoreError

    original = Path.write_text

    def full(self, *args, **kwargs):
        if self.name.startswith(".record-") and '"succeeded"' in args[0]:  # the final record of a finished job
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    job = wb.submit("count", steps=2, device="cpu")
    with pytest.raises(wb.JobFailed, match=r"the result could not be stored: the disk holding the result store "
                                           r".* is full; free some space"):
        job.result(30)
    monkeypatch.setattr(Path, "write_text", original)
    assert not list((home / "jobs").glob("*/.record-*"))  # nothing half-written left
    assert default_store().list()  # listing still works

    def full_register(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full_register)
    with pytest.raises(StoreError, match="is full; free some space and try again"):
        wb.submit("count", steps=2, device="cpu")


def test_a_result_keeps_its_own_summary_in_the_record_and_a_failing_one_is_left_out(devices, home, caplog):
    """Lists and the job page read the summary the result wrote of itself (no class-name table, nothing
    imported to show it); a `summary()` that raises stores the result without one, and says so in the log."""
    counted = wb.run("count", steps=3, delay=0, device="cpu")
    store = default_store()
    row = next(r for r in store.list() if r["task"] == "count")
    job_id = row["id"]
    assert store.stored_summary(job_id) == counted.summary() == f"counted to 3 on {counted.host}"
    assert store.get(job_id, rebuild=False).summary == counted.summary()
    assert store.stored_summary("not-an-id") == ""

    class Sulky(dict):
        def summary(self) -> str:
            raise ValueError("no words today")

    from workbench.jobs.codec import result_summary

    with caplog.at_level("WARNING"):
        assert result_summary(Sulky(a=1)) is None  # the record then keeps "" (the store's `or ""`)
    assert "the summary of a Sulky failed" in caplog.text
    assert result_summary({"a": 1}) is None  # plain JSON has no summary of its own
