"""A workshop on one machine: a slot pool shared across homes, fair queues, quotas, isolated Gradio sessions.

Real processes with their own `WORKBENCH_HOME`s, real `count` jobs, a real Gradio server driven by
gradio_client and plain HTTP. Assertions are about order and counts, never about seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import free_port, peak_overlap

import workbench as wb
from workbench.jobs.owners import QuotaExceeded, fair_order
from workbench.jobs.store import ResultStore, default_store
from workbench.scheduling import registry


def test_fair_order_takes_owners_round_robin():
    waiting = [("a1", "ann", 1.0), ("a2", "ann", 2.0), ("a3", "ann", 3.0), ("b1", "bob", 4.0), ("c1", "cy", 5.0)]
    assert fair_order(waiting, {}) == ["a1", "b1", "c1", "a2", "a3"]
    # ann already holds a slot: bob and cy, who hold none, go before her
    assert fair_order(waiting, {"ann": 1}) == ["b1", "c1", "a1", "a2", "a3"]
    # at equal turns the owner served longest ago goes first, whatever the age of the jobs
    assert fair_order(waiting, {}, {"ann": 9.0, "bob": 7.0}) == ["c1", "b1", "a1", "a2", "a3"]


SUBMITTER = textwrap.dedent("""
    import json, os, sys, time, workbench as wb
    n, steps = int(sys.argv[1]), int(sys.argv[2])
    wb.jobs()  # the store open, as in a notebook
    if len(sys.argv) > 3:  # say ready, then wait for the go
        open(sys.argv[3] + ".ready", "w").close()
        while not os.path.exists(sys.argv[3]):
            time.sleep(0.01)
    jobs = [wb.submit("count", steps=steps, delay=0.02, device="cpu") for _ in range(n)]
    for j in jobs:
        j.result(300)
    print(json.dumps([j.id for j in jobs]))
""")


def _run_participants(tmp_path: Path, homes: list[str], *, pool: Path | None, jobs: int = 4,
                      steps: int = 10) -> list[ResultStore]:
    """Each home's process started, ready, then all told to go at once (so their jobs overlap in time)."""
    go = tmp_path / "go"
    procs = []
    for name in homes:
        env = {**os.environ, "WORKBENCH_HOME": str(tmp_path / name), "WORKBENCH_OWNER": name}
        env.pop("WORKBENCH_SLOT_POOL", None)
        if pool is not None:
            env["WORKBENCH_SLOT_POOL"] = str(pool)
        procs.append(subprocess.Popen([sys.executable, "-c", SUBMITTER, str(jobs), str(steps), f"{go}-{name}"],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.time() + 120
    while not all(Path(f"{go}-{name}.ready").exists() for name in homes) and time.time() < deadline:
        time.sleep(0.02)
    for name in homes:
        Path(f"{go}-{name}").touch()
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    return [ResultStore(tmp_path / name) for name in homes]


def _intervals(stores: list[ResultStore]) -> list[tuple[float, float]]:
    return [(r["started"], r["finished"]) for s in stores for r in s.list() if r["state"] == "succeeded"]


@pytest.mark.slow
def test_two_homes_sharing_the_pool_never_exceed_a_device_limit(tmp_path):
    slots = registry.get("cpu").concurrency
    apart = _run_participants(tmp_path / "apart", ["ann", "bob"], pool=None)
    # the control: two homes without a shared pool each use every slot (the bug this pool fixes)
    assert peak_overlap(_intervals(apart)) > slots
    pool = tmp_path / "shared-pool"
    shared = _run_participants(tmp_path / "shared", ["ann", "bob"], pool=pool)
    intervals = _intervals(shared)
    assert len(intervals) == 8
    assert peak_overlap(intervals) <= slots
    assert (pool / "slots.sqlite").stat().st_mode & 0o666 == 0o666  # every user's stores can open it
    waited = [e["message"] for s in shared for r in s.list() for e in s.get(r["id"]).events
              if "machine-wide queue" in e.get("message", "")]
    assert waited  # a job that waited said its place


def _count(owner: str, steps: int = 12) -> wb.Job:
    return wb.submit("count", steps=steps, delay=0.02, device="cpu", owner=owner)


def test_a_flood_does_not_hold_up_another_participants_first_job():
    slots = registry.get("cpu").concurrency
    flood = [_count("flooder") for _ in range(6 * slots)]
    time.sleep(0.1)
    mine = _count("newcomer")
    assert mine.result(120).steps == 12
    for j in flood:
        j.result(120)
    # the newcomer's first job is delayed by at most one flood job: it starts before any flood job that
    # started after it arrived has ended, and at most one flood job starts in between (two slots freeing at once)
    later = [j for j in flood if j.started > mine.created]
    assert later and all(mine.started < j.finished for j in later)
    assert sum(mine.created < j.started < mine.started for j in flood) <= 1
    assert sum(j.started > mine.started for j in flood) >= len(flood) - 2 * slots
    assert {r["owner"] for r in wb.jobs()} == {"flooder", "newcomer"}


@pytest.mark.slow
def test_fair_share_holds_across_processes_and_homes(tmp_path):
    """The flooder's jobs wait in another process and home than the newcomer's: the pool orders them."""
    pool = tmp_path / "pool.sqlite"
    env = {**os.environ, "WORKBENCH_SLOT_POOL": str(pool)}
    flood_go, go = tmp_path / "flood-go", tmp_path / "go"
    flooder = subprocess.Popen([sys.executable, "-c", SUBMITTER, "16", "15", str(flood_go)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**env, "WORKBENCH_HOME": str(tmp_path / "f"), "WORKBENCH_OWNER": "flooder"})
    newcomer = subprocess.Popen([sys.executable, "-c", SUBMITTER, "1", "15", str(go)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env={**env, "WORKBENCH_HOME": str(tmp_path / "n"), "WORKBENCH_OWNER": "newcomer"})
    deadline = time.time() + 120
    while not (Path(f"{flood_go}.ready").exists() and Path(f"{go}.ready").exists()) and time.time() < deadline:
        time.sleep(0.02)  # both processes started (imports can take seconds on a busy machine)
    flood_store = ResultStore(tmp_path / "f")
    flood_go.touch()
    while not any(r["state"] == "running" for r in flood_store.list()) and time.time() < deadline:
        time.sleep(0.02)
    go.touch()  # the newcomer submits while the flood holds both slots
    new_out, new_err = newcomer.communicate(timeout=300)
    assert newcomer.returncode == 0, new_err[-2000:]
    out, err = flooder.communicate(timeout=300)
    assert flooder.returncode == 0, err[-2000:]
    mine = ResultStore(tmp_path / "n").get(json.loads(new_out)[0])
    flood = flood_store.list()
    # its first job is delayed by at most one flood job: it starts before any flood job that started
    # after it arrived has ended (both slots may free at once; then one flood job goes beside it)
    later = [r for r in flood if r["started"] > mine.created]
    assert later and all(mine.started < r["finished"] for r in later)
    assert sum(mine.created < r["started"] < mine.started for r in flood) <= 1


def test_quotas_refuse_in_one_sentence(monkeypatch):
    monkeypatch.setenv("WORKBENCH_MAX_QUEUED", "2")
    jobs = [wb.submit("count", steps=400, delay=0.01, device="cpu") for _ in range(2)]
    with pytest.raises(QuotaExceeded) as err:
        wb.submit("count", steps=1, device="cpu")
    assert str(err.value).startswith("You already have 2 jobs queued or running, the most one participant may have")
    assert "\n" not in str(err.value)
    assert len(wb.jobs()) == 2  # nothing was queued
    other = wb.submit("count", steps=1, device="cpu", owner="someone else")  # another owner is not refused
    for j in jobs:
        j.cancel()
        j.wait(30)
    assert other.result(30).steps == 1
    monkeypatch.delenv("WORKBENCH_MAX_QUEUED")
    monkeypatch.setenv("WORKBENCH_MAX_COMPUTE_S", "1")
    wb.run("count", steps=60, delay=0.02, device="cpu", timeout=60, owner="carol")
    with pytest.raises(QuotaExceeded, match=r"You have used \d+ s of device time, your share on this server \(1 s\)"):
        wb.submit("count", steps=1, device="cpu", owner="carol")


def test_max_running_leaves_the_other_slot_to_another_owner(monkeypatch):
    if registry.get("cpu").concurrency < 2:
        pytest.skip("needs a device with two slots")
    monkeypatch.setenv("WORKBENCH_MAX_RUNNING", "1")
    ann = [_count("ann", steps=10) for _ in range(3)]
    time.sleep(0.05)
    bob = _count("bob", steps=10)
    for j in [*ann, bob]:
        j.result(120)
    assert peak_overlap([(j.started, j.finished) for j in ann]) == 1  # ann never held two slots
    # bob used the slot ann could not: he ran beside one of ann's jobs, before her last one began (whether he or
    # her second job takes the first free moment is a race between two waiting threads, so it is not asserted)
    assert bob.started < ann[2].started and peak_overlap([(j.started, j.finished) for j in [*ann, bob]]) == 2
    notes = [e.message for j in ann for e in j.snapshot_events() if "the most one owner may" in e.message]
    assert notes


def test_all_users_view_lists_every_home_in_the_pool(tmp_path, monkeypatch, capsys):
    from workbench.cli import main

    monkeypatch.setenv("WORKBENCH_SLOT_POOL", str(tmp_path / "pool"))
    other = ResultStore(tmp_path / "other-home")  # another user's store on the same pool
    assert other.try_lease("cpu", 8, "job-of-bob", owner="bob", task="fold")
    mine = wb.submit("count", steps=300, delay=0.01, device="cpu", owner="ann")
    deadline = time.time() + 30
    while mine.state.value != "running" and time.time() < deadline:
        time.sleep(0.02)
    assert main(["jobs", "list", "--all-users"]) == 0
    out = capsys.readouterr().out
    assert "every home on this machine" in out
    assert "bob" in out and "fold" in out and str(tmp_path / "other-home") in out
    assert "ann" in out and mine.id in out
    assert main(["jobs", "list", "--owner", "nobody", "--json"]) == 0  # one owner's jobs
    assert json.loads(capsys.readouterr().out) == []
    assert main(["jobs", "list", "--owner", "ann", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [mine.id]
    mine.cancel()
    mine.wait(30)
    other.release_lease("cpu", "job-of-bob")


# ---- a shared Gradio server -------------------------------------------------------------------

@pytest.fixture(scope="module")
def workshop_server(tmp_path_factory):
    from workbench.app import launch
    from workbench.participants import Workshop

    old = os.environ.get("WORKBENCH_HOME")
    os.environ["WORKBENCH_HOME"] = str(tmp_path_factory.mktemp("workshop-home"))
    port = free_port()
    app = launch("127.0.0.1", port, block=False,
                 workshop=Workshop.preset(max_queued=2, max_running=1, host_token="teacher-token"))
    yield f"http://127.0.0.1:{port}/"
    app.close()
    if old is None:
        os.environ.pop("WORKBENCH_HOME", None)
    else:
        os.environ["WORKBENCH_HOME"] = old


def test_a_gradio_session_sees_and_cancels_only_its_own_jobs(workshop_server, monkeypatch):
    import httpx
    from gradio_client import Client

    from workbench.app import HOST_NO, HOST_YES

    monkeypatch.setenv("WORKBENCH_HOME", os.environ["WORKBENCH_HOME"])  # the server's store
    ann, bob = Client(workshop_server, verbose=False), Client(workshop_server, verbose=False)
    table, _, _ = ann.predict("CCO ethanol", 3, "cpu", api_name="/conformers")
    assert table["data"][0][1] == "ok"
    _, ann_jobs, ann_usage = ann.predict(api_name="/status")
    ann_ids = [row[0] for row in ann_jobs["data"]]
    assert len(ann_ids) == 1 and ann_usage["data"][0][3] == "1"  # her job, her usage row
    _, bob_jobs, bob_usage = bob.predict(api_name="/status")
    assert ann_ids[0] not in json.dumps(bob_jobs) and ann_ids[0] not in json.dumps(bob_usage)
    # bob tries her job by id, through the app and through its REST API
    assert bob.predict(ann_ids[0], api_name="/cancel") == f"No job with id {ann_ids[0]!r} among yours."
    assert bob.predict("no-such-job", api_name="/cancel") == "No job with id 'no-such-job' among yours."
    rest = httpx.post(f"{workshop_server}gradio_api/call/cancel", json={"data": [ann_ids[0]]}, timeout=30)
    event = rest.json()["event_id"]
    answer = httpx.get(f"{workshop_server}gradio_api/call/cancel/{event}", timeout=30).text
    assert "among yours" in answer and "cancel requested" not in answer
    # nor can he read her result files by their paths in the server's store (the id names the folder)
    stored = default_store().get(ann_ids[0])
    assert stored.files
    for path in stored.files.values():
        assert httpx.get(f"{workshop_server}gradio_api/file={path}", timeout=30).status_code in (403, 404)
    # her own finished job: a plain answer
    assert ann.predict(ann_ids[0], api_name="/cancel") == f"job {ann_ids[0]} already succeeded"
    # the host sees both participants' jobs and usage
    assert bob.predict("wrong-token", api_name="/host") == HOST_NO
    _, still_his, _ = bob.predict(api_name="/status")
    assert ann_ids[0] not in json.dumps(still_his)
    teacher = Client(workshop_server, verbose=False)
    assert teacher.predict("teacher-token", api_name="/host") == HOST_YES
    _, all_jobs, usage = teacher.predict(api_name="/status")
    assert ann_ids[0] in [row[0] for row in all_jobs["data"]]
    assert any(row[0].startswith("gradio:") for row in usage["data"])


def test_a_participant_over_quota_gets_one_sentence(workshop_server, monkeypatch):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    monkeypatch.setenv("WORKBENCH_HOME", os.environ["WORKBENCH_HOME"])
    from workbench.jobs import owners

    cy = Client(workshop_server, verbose=False)
    owner = f"gradio:{cy.session_hash}"
    with owners.acting_as(owner):  # two long jobs of cy's, as if submitted from her session
        held = [wb.submit("count", steps=2000, delay=0.01, device="cpu") for _ in range(2)]
    with pytest.raises(AppError, match="You already have 2 jobs queued or running"):
        cy.predict("CCO", 2, "cpu", api_name="/conformers")
    for j in held:  # and she may cancel her own
        assert cy.predict(j.id, api_name="/cancel") == f"cancel requested for {j.id}"
        j.wait(30)


def test_a_dead_process_lease_is_not_counted_as_load(tmp_path):
    """The sidebar said "cpu 1 job" with nothing running: a killed process's lease counted until the next job
    reclaimed it."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store = default_store()
    pool = store.pool
    with pool._transaction() as db:
        db.execute("INSERT INTO pool_leases (device, job, owner, home, host, pid, since, task) "
                   "VALUES ('cpu', '20260101-000000-555555', 'ann', '', ?, ?, 0, 'count')", (pool._host, dead.pid))
    assert store.leases("cpu") == 0 and registry.get("cpu").load() == 0
    job = wb.submit("count", steps=1, delay=0.0, device="cpu")
    assert job.result(60)  # the dead lease is no obstacle either
