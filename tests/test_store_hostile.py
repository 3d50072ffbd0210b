"""Nothing a user types can wedge, fill or rewind the result store (issue: odd text, huge text,
NaN results, relative ids, killed processes)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from helpers import add_task, slow_task

import workbench as wb
from workbench.contract.errors import Cancelled
from workbench.errors import InputError, JobNotFound
from workbench.jobs.store import ResultStore, default_store


def surrogate_task(request: dict, ctx) -> dict:
    raise ValueError("bad molecule name 'CCO na\udcffme'\x00 and more")


def huge_reason_task(request: dict, ctx) -> dict:
    raise RuntimeError("constraint " + "[1, 2, 3], " * 200_000)


def nan_result_task(request: dict, ctx) -> dict:
    return {"up": [0.0, 0.0, math.nan]}


def test_a_surrogate_in_a_reason_fails_one_job_and_the_next_one_runs(devices, home):
    cpu = devices["cpu"]
    bad = cpu.submit(surrogate_task, {})
    with pytest.raises(wb.JobFailed):
        bad.result(30)
    row = default_store().row(bad.id)
    assert row["state"] == "failed" and "\\udcff" in row["reason"] and "\\x00" in row["reason"]
    record = json.loads((home / "jobs" / bad.id / "record.json").read_text())
    assert record["state"] == "failed" and "na\\udcffme" in record["reason"]
    # the same process goes on: the store is not left inside a transaction
    assert cpu.submit(add_task, {"a": 1, "b": 2}).result(30)["sum"] == 3
    assert not default_store()._db.in_transaction


WEDGE_THEN_WAIT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from test_store_hostile import surrogate_task
    from helpers import add_task
    from workbench.scheduling import registry
    cpu = registry.get("cpu")
    try:
        cpu.submit(surrogate_task, {{}}).result(60)
    except Exception as exc:
        print("failed as expected:", type(exc).__name__, flush=True)
    print("next:", cpu.submit(add_task, {{"a": 2, "b": 2}}).result(60)["sum"], flush=True)
    time.sleep(30)  # stay alive: a transaction left open would hold the store's write lock now
""")


def test_another_process_is_not_locked_out_after_a_surrogate(devices, home):
    tests = os.path.dirname(__file__)
    proc = subprocess.Popen([sys.executable, "-c", WEDGE_THEN_WAIT.format(tests=tests)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "WORKBENCH_HOME": str(home)})
    try:
        lines = [proc.stdout.readline() for _ in range(2)]
        assert lines[1].strip() == "next: 4", (lines, proc.stderr.read() if proc.poll() is not None else "")
        store = ResultStore(home)  # a fresh connection, as another process has
        store._db.execute("PRAGMA busy_timeout=3000")  # locked would fail in 3 s, not hang for 30
        job = devices["cpu"].submit(add_task, {"a": 5, "b": 5})
        assert job.result(20)["sum"] == 10
        with store._transaction():  # the write lock is free
            pass
    finally:
        proc.kill()
        proc.wait()


def test_a_surrogate_in_a_request_is_refused_at_the_door(devices):
    with pytest.raises(InputError, match="not UTF-8 text at character 7"):
        wb.submit("conformers", smiles=("CCO na\udcffme",), device="cpu")
    with pytest.raises(InputError, match="NUL character"):
        wb.submit("conformers", smiles=("CCO na\x00me",), device="cpu")
    assert wb.run("conformers", smiles=("CCO ethanol",), num_conformers=2, device="cpu").molecules


def test_a_huge_reason_is_stored_cut(devices, home):
    job = devices["cpu"].submit(huge_reason_task, {})
    with pytest.raises(wb.JobFailed):
        job.result(30)
    record_file = home / "jobs" / job.id / "record.json"
    assert record_file.stat().st_size < 100_000
    reason = json.loads(record_file.read_text())["reason"]
    assert reason.startswith("RuntimeError: constraint [1, 2, 3]") and "characters cut)" in reason


def test_a_result_json_cannot_hold_fails_the_job_in_a_final_record(devices, home):
    job = devices["cpu"].submit(nan_result_task, {})
    with pytest.raises(wb.JobFailed, match="could not be stored: .*not a finite number"):
        job.result(30)
    record = json.loads((home / "jobs" / job.id / "record.json").read_text())
    assert record["state"] == "failed" and "finite" in record["reason"]
    assert default_store().row(job.id)["state"] == "failed"
    assert ResultStore(home).get(job.id).state == "failed"  # another process reads the same outcome
    assert not (home / "work" / job.id).exists()


@pytest.mark.parametrize("bad_id", ["../jobs/x", "a/b", ".hidden", "x" * 5000, "", "id\udcff", "id\n"])
def test_ids_that_are_not_job_ids_are_refused_before_any_path(devices, bad_id):
    store = default_store()
    for call in (store.row, store.get, store.request_cancel, store.delete):
        with pytest.raises(JobNotFound, match="is not a job id"):
            call(bad_id)
    with pytest.raises(JobNotFound):
        store.file_path(bad_id, "record.json")


def test_a_relative_id_cannot_rewind_a_running_job(devices, home):
    started = threading.Event()
    job = devices["cpu"].submit(slow_task, {"steps": 3000, "started": started})
    assert started.wait(20)
    store = default_store()
    with pytest.raises(JobNotFound):
        store.request_cancel(f"../jobs/{job.id}")
    time.sleep(0.6)  # the runner publishes progress
    assert store.request_cancel(job.id)
    store.rebuild_index()  # what a lost row used to trigger: it must not reset the live row
    row = store.row(job.id)
    assert row["state"] == "running"
    assert store.cancel_requested(job.id)
    with pytest.raises(Cancelled):
        job.result(30)


def test_a_lost_row_is_indexed_alone(devices, home):
    jobs = [devices["cpu"].submit(add_task, {"a": i, "b": 0}) for i in range(3)]
    for j in jobs:
        j.result(30)
    store = default_store()
    store._exec("DELETE FROM jobs WHERE id=?", (jobs[1].id,))
    assert store.row(jobs[1].id)["state"] == "succeeded"
    assert len(store.list()) == 3


def test_doctor_reports_and_cleans_what_kills_leave(devices, home):
    done = devices["cpu"].submit(add_task, {"a": 1, "b": 1})
    done.result(30)
    store = default_store()
    old = time.time() - 3600
    empty = home / "jobs" / "20260101-000000-aaaaaa"
    empty.mkdir(parents=True)
    (empty / ".record-123456.json").write_text("{")
    kept = home / "jobs" / "20260101-000000-bbbbbb"
    (kept / "files").mkdir(parents=True)
    (kept / "files" / "out.sdf").write_text("x")
    orphan = home / "jobs" / "20260101-000000-cccccc"
    orphan.mkdir()
    (orphan / "record.json").write_text(json.dumps({
        "id": orphan.name, "task": "count", "device": "cpu", "state": "running", "created": old,
        "host": store._host, "pid": 2**22 + 12345}))
    stale_work = home / "work" / done.id
    stale_work.mkdir(parents=True)
    for p in (empty, kept, orphan, stale_work):
        os.utime(p, (old, old))
    found = store.doctor()
    text = "\n".join(found)
    assert "20260101-000000-aaaaaa had no record.json and nothing else" in text and not empty.exists()
    assert "20260101-000000-bbbbbb has no record.json but holds 1 other file(s)" in text and kept.exists()
    assert "20260101-000000-cccccc (count) was left running" in text
    assert json.loads((orphan / "record.json").read_text())["state"] == "failed"
    assert store.row(orphan.name)["state"] == "failed"
    assert f"work/{done.id}" in text and not stale_work.exists()
    assert store.get(done.id).result["sum"] == 2  # finished jobs untouched
    assert [line for line in store.doctor() if "bbbbbb" not in line] == []  # repaired once, reported while kept


def test_kill9_at_random_moments_loses_no_record(tmp_path):
    """20 SIGKILLs of a process that submits and awaits jobs (the benchmark runs 200): every record is
    whole, every job it announced has one, every leftover is reported by the doctor."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from store_faults import kill_harness

    totals = kill_harness(tmp_path / "store", kills=20, seed=1, max_delay=0.8)
    assert totals["kills"] == 20 and totals["announced"] > 100
    assert totals["lost"] == 0, totals
    assert totals["records"] >= totals["announced"]
