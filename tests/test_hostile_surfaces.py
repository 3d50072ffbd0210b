"""A hostile participant against the newer surfaces: the screen, the shared slot pool, quotas and owners,
flags and settings, plug-ins, A1111 read-back, `jobs doctor`, Open6DOR task files and the job page.

Each test is named after the numbered failure of the review it holds (issue 43): every one of them
failed on main before this work and passes now. Real processes, a real SQLite pool opened by a second
Unix user where the machine lets us become one, the tiny Boltz-2 for the screens.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest
from helpers import run_cli

import workbench as wb
from workbench.contract.names import confined, label, safe_name
from workbench.errors import InputError
from workbench.jobs import owners
from workbench.jobs.owners import Quota, QuotaExceeded
from workbench.jobs.slot_pool import SlotPool
from workbench.jobs.store import ResultStore, default_store

TARGET = "MKTAYIAKQRQISFVKSHFSRQ"
FAST = {"tiny": True, "recycling_steps": 0, "sampling_steps": 3}
FAST_FLAGS = ["--tiny", "--recycling-steps", "0", "--sampling-steps", "3"]


def _hostile_library(tmp_path: Path, victim: Path) -> Path:
    library = tmp_path / "library.smi"
    library.write_text(f"CCO ../../../../../../../..{victim}/notes\nCCN {victim}/notes\nCCC a\x00b\n"
                       "CCCl =HYPERLINK(\"http://x\")\n" + "C" * 1500 + " huge\n")
    return library


def _assert_confined(folder: Path, victim: Path, rows: list[dict]) -> None:
    assert (victim / "notes_line1.cif").read_text() == "my notes"  # untouched
    assert sorted(p.name for p in victim.iterdir()) == ["notes_line1.cif"]
    names = sorted(p.name for p in folder.iterdir())
    assert all("/" not in n and not n.startswith(".") for n in names)
    assert len([n for n in names if n.endswith(".cif")]) == 4
    by_line = {int(r["line"]): r for r in rows}
    assert by_line[4]["name"] == "'=HYPERLINK(\"http://x\")"  # a spreadsheet shows it as text
    assert by_line[3]["name"] == "a b"  # the NUL is not in the table


# ---- 1. arbitrary file write through a ligand's name ---------------------------------------------------

def test_1_safe_name_keeps_every_hostile_name_one_component():
    for text in ("../../etc/passwd", "/abs/path", "..", ".", "a\x00b", "\udcff", "x" * 10_000, "", "C:\\win"):
        name = safe_name(text)
        assert name and "/" not in name and "\\" not in name and not name.startswith(".") and len(name) <= 100
        assert name.isascii() and "\x00" not in name
    assert safe_name("ubiquitin_ATP-1.2") == "ubiquitin_ATP-1.2"
    assert label("a\x00b\udcff\n" + "c" * 100) == "a b\\udcff " + "c" * 54
    with pytest.raises(InputError, match="outside"):
        confined("/tmp", "../etc/passwd")


@pytest.mark.slow
def test_1_ligand_names_write_inside_the_job_from_the_api_and_the_cli(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes_line1.cif").write_text("my notes")
    library = _hostile_library(tmp_path, victim)
    r = wb.submit("screen", target=(TARGET,), library=str(library), device="cpu", **FAST).result(600)
    assert r.skipped[0]["line"] == 5 and "at most 999" in r.skipped[0]["reason"]
    _assert_confined(Path(r.files["table"]).parent, victim, list(csv.DictReader(open(r.files["table"]))))

    out = tmp_path / "out"
    ran = run_cli("screen", "--target", TARGET, "--library", str(library), *FAST_FLAGS, "--quiet", "--out", str(out),
                  timeout=600)
    assert ran.returncode == 0, ran.stderr
    _assert_confined(out, victim, list(csv.DictReader(open(out / "screen.csv"))))

    with pytest.raises(InputError, match="names the output files"):  # a complex's name is a file name too
        wb.submit("complex", proteins=(TARGET,), ligands=("CCO",), name="../../x", device="cpu", **FAST)


# ---- 2. a shared pool every user can use ---------------------------------------------------------------

def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_2_the_pool_and_its_journal_files_are_writable_by_every_user(monkeypatch):
    shared = Path(tempfile.mkdtemp(prefix="workbench-pool-", dir="/tmp"))  # a folder every user reaches, like /tmp
    os.chmod(shared, 0o1777)
    monkeypatch.setenv("WORKBENCH_SLOT_POOL", str(shared / "slots.sqlite"))
    try:
        _two_users(shared)
    finally:
        default_store().pool.close()
        default_store()._pool = None
        shutil.rmtree(shared, ignore_errors=True)


def _two_users(shared: Path) -> None:
    old = os.umask(0o022)
    try:
        assert wb.submit("count", steps=2, delay=0.0, device="cpu").result(60)
    finally:
        os.umask(old)
    pool = default_store().pool
    pool.leases("cpu")  # the connection is open: -wal and -shm exist now
    for part in ("slots.sqlite", "slots.sqlite-wal", "slots.sqlite-shm"):
        assert _mode(shared / part) == 0o666, part
    if os.geteuid() != 0:
        pytest.skip("a second Unix user needs root to become one; the modes above are what it needs")
    # a second user (nobody) uses the pool while this process still holds it open, and after it closed it
    for holding in (True, False):
        if not holding:
            pool.close()
            default_store()._pool = None
        script = textwrap.dedent(f"""
            import os
            from workbench.jobs.slot_pool import SlotPool  # imported as root: nobody cannot read root's Python
            os.setgid(65534); os.setuid(65534)
            p = SlotPool({str(shared / 'slots.sqlite')!r}, home="/nonexistent")
            assert p.try_lease("cpu", 1, "20261207-000000-00000{int(holding)}", owner="nobody")
            p.release("cpu", "20261207-000000-00000{int(holding)}")
            print("ok")
        """)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "HOME": "/tmp"})
        assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


# ---- 3. anything wrong while waiting for a slot ends the job with a sentence ---------------------------

@pytest.mark.parametrize("make", ["corrupt", "under_a_file", "dev_null"])
def test_3_a_pool_that_cannot_be_used_fails_the_job_with_a_sentence(tmp_path, monkeypatch, make):
    if make == "corrupt":
        pool = tmp_path / "slots.sqlite"
        pool.write_bytes(b"SQLite format 3\x00" + os.urandom(4000))
    elif make == "under_a_file":
        (tmp_path / "plain").write_text("x")
        pool = tmp_path / "plain" / "slots.sqlite"
    else:
        pool = Path("/dev/null")
    monkeypatch.setenv("WORKBENCH_SLOT_POOL", str(pool))
    job = wb.submit("count", steps=2, delay=0.0, device="cpu")
    assert job.wait(60), "the job was left waiting"
    assert job.state.value == "failed"
    assert job.reason.startswith("it could not wait for a slot of cpu: The slot pool") and "Traceback" not in job.reason
    assert default_store().row(job.id)["state"] == "failed"
    listed = run_cli("jobs", "list", "--all-users", env={"WORKBENCH_SLOT_POOL": str(pool)})
    assert listed.returncode == 2 and "Traceback" not in listed.stderr and "slot pool" in listed.stderr


def test_3_unreadable_settings_never_strand_a_job(monkeypatch):
    monkeypatch.setenv("WORKBENCH_MAX_RUNNING", "99999999999999999999")
    monkeypatch.setenv("WORKBENCH_OWNER", "ann\udcff\udcfe")  # bytes the environment could not decode
    job = wb.submit("count", steps=2, delay=0.0, device="cpu")
    assert job.result(60) and job.owner == "ann\\udcff\\udcfe"
    assert default_store().row(job.id)["owner"] == job.owner
    out = run_cli("jobs", "list", env={"WORKBENCH_MAX_RUNNING": "99999999999999999999"})
    assert out.returncode == 0
    assert "note: WORKBENCH_MAX_RUNNING='99999999999999999999' is ignored: it must be a whole number from 1 to " \
           "1,000,000." in out.stderr


# ---- 4. quotas hold under simultaneous submits and for long or odd owner names ---------------------------

def test_4_simultaneous_submits_get_exactly_the_quota():
    go = threading.Event()
    accepted, refused, errors = [], [], []

    def submit() -> None:
        go.wait()
        try:
            with owners.acting_as("gradio:racer", Quota(max_queued=3)):
                accepted.append(wb.submit("count", steps=400, delay=0.01, device="cpu"))
        except QuotaExceeded:
            refused.append(1)
        except Exception as exc:  # noqa: BLE001 - anything else is a failure of this test
            errors.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(15)]
    for t in threads:
        t.start()
    go.set()
    for t in threads:
        t.join(120)
    try:
        assert not errors and len(accepted) == 3 and len(refused) == 12
        assert len(default_store().list(owner="gradio:racer")) == 3  # refused submits left no row or folder
        assert len(list((default_store().root / "jobs").iterdir())) == 3
    finally:
        for job in accepted:
            job.cancel()


@pytest.mark.parametrize("owner", ["gradio:" + "s" * 100, "gradio:a\x00b", "gradio:\udcff" + "é" * 90])
def test_4_an_owner_name_is_the_same_when_stored_and_when_asked(owner):
    jobs = []
    with owners.acting_as(owner, Quota(max_queued=3)):
        for _ in range(3):
            jobs.append(wb.submit("count", steps=400, delay=0.01, device="cpu"))
        with pytest.raises(QuotaExceeded):
            wb.submit("count", steps=1, delay=0.0, device="cpu")
    try:
        assert len(default_store().list(owner=owner)) == 3  # asked as given, found as stored
        usage = default_store().usage(owner=owner)[owners.owner_name(owner)]
        assert usage["queued"] + usage["running"] == 3
    finally:
        for job in jobs:
            job.cancel()
    long_a, long_b = owners.owner_name("x" * 100 + "a"), owners.owner_name("x" * 100 + "b")
    assert long_a != long_b and len(long_a) <= owners.OWNER_LIMIT  # long names never merge


# ---- 5. one bad ligand is its line's, never the whole screen's -------------------------------------------

@pytest.mark.slow
def test_5_a_ligand_that_fails_is_reported_and_the_screen_goes_on(tmp_path):
    library = tmp_path / "library.smi"
    library.write_text("CCN amine\nCCO ethanol\nCCCN propylamine\n")
    job = wb.submit("screen", target=(TARGET,), library=str(library), contacts=("A:3, B:N1",), device="cpu", **FAST)
    r = job.result(600)
    assert sorted(row.name for row in r.rows) == ["amine", "propylamine"]
    assert r.skipped == [{"line": 2, "text": "CCO ethanol",
                          "reason": "contact 'A:3, B:N1': the ligand chain B has no atom 'N1' (Boltz names them by "
                                    "element and count: C1, C2, N1, O1, ...)."}]
    assert any("line 2 failed" in e.progress.message for e in job.snapshot_events() if e.progress is not None)


@pytest.mark.parametrize(("contact", "message"), [
    ("A:3, B:ZZ", "the ligand chain B has no atom 'ZZ'"),
    ("A:3, B:2", "the ligand chain B is named by an atom (such as B:C1), not 2"),
])
def test_5_a_contact_naming_no_ligand_atom_is_refused_at_submit(contact, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        wb.submit("screen", target=(TARGET,), smiles=("CCO ethanol",), contacts=(contact,), device="cpu", **FAST)


def test_5_a_ligand_past_boltz_atom_names_is_a_skipped_line():
    from workbench.tasks.molecules.complexes.screen import ScreenRequest

    good, bad = ScreenRequest(target=(TARGET,), smiles=("CCO ok", "C" * 1000 + " big", "C" * 999 + " fits"),
                              tiny=True).library_entries()
    assert [name for _, name, _ in good] == ["ok"] and bad[0]["line"] == 2
    assert "the ligand has 1000 C atoms (hydrogens added)" in bad[0]["reason"]


# ---- 6. a killed screen resumes; doctor keeps its finished work -----------------------------------------

@pytest.mark.slow
def test_6_a_screen_killed_with_kill_9_resumes_from_its_finished_ligands(tmp_path, home):
    library = tmp_path / "library.smi"
    library.write_text("".join(f"{'C' * (i + 2)}O alcohol{i}\n" for i in range(6)))
    child = subprocess.Popen([sys.executable, "-m", "workbench", "screen", "--target", TARGET, "--library",
                              str(library), *FAST_FLAGS, "--quiet"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    kept: list[Path] = []
    while time.time() < deadline:
        kept = list(home.glob("jobs/*/checkpoints.jsonl"))
        if kept and len(kept[0].read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)  # the CLI and its model worker
    child.wait()
    assert kept, "the screen wrote no checkpoint"
    job_id = kept[0].parent.name
    done_before = len(ResultStore(home).checkpoints(job_id))
    assert done_before >= 2

    doctor = run_cli("jobs", "doctor")
    assert doctor.returncode == 0
    assert f"its {done_before} finished item(s) are kept: `workbench jobs resume {job_id}`" in doctor.stdout
    assert len(ResultStore(home).checkpoints(job_id)) == done_before  # doctor kept them

    resumed = run_cli("jobs", "resume", job_id, "--quiet", "--json", timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    new = wb.job(json.loads(resumed.stdout)["id"])
    assert new.state == "succeeded" and len(new.result.rows) == 6
    assert any(f"resumes job {job_id}: {done_before} finished item(s) kept" in (e.get("message") or "")
               for e in new.events)
    shown = [(e.get("progress") or {}).get("message") or "" for e in new.events if e.get("kind") == "progress"]
    ran_now = {m.split(" (")[0] for m in shown if m.startswith("ligand ")}
    assert len(ran_now) == 6 - done_before  # the finished ligands did not run again
    assert not (new.folder / "checkpoints.jsonl").exists()  # a succeeded job keeps its result, not its items
    with pytest.raises(InputError, match="succeeded; there is nothing to resume"):
        wb.resume(new.id)


# ---- 7. A1111 read-back is linear and says what is wrong ---------------------------------------------

def test_7_a1111_parameters_parse_in_one_pass_and_a_bad_escape_is_a_sentence():
    code = textwrap.dedent("""
        from workbench.tasks.multimodal.recipe import parse_parameters
        for tail in ("x" * 4_000_000, "a: " + "b" * 4_000_000, 'a: "' + "b" * 4_000_000, "a: 1, " * 500_000):
            parse_parameters("a prompt\\nSteps: 4, " + tail)
        print("ok")
    """)
    # the old regular expression took 21 s at 32,000 characters and grew with the square: hours at 4 MB
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
    from workbench.tasks.multimodal.recipe import parse_parameters, request_from_parameters

    fields = parse_parameters('a cat\nSteps: 4, Sampler: Euler a, CFG scale: 0, Seed: 3, Size: 64x64, Model: "m:x, y"')
    assert fields["Model"] == "m:x, y" and fields["Steps"] == "4" and fields["prompt"] == "a cat"
    with pytest.raises(InputError, match="lack what a regeneration needs"):
        request_from_parameters('a cat\nSteps: 4, Size: "64x64\\q", Seed: 3')


# ---- 8. quota flags and variables are checked at start; the banner says what is enforced ------------------

@pytest.mark.parametrize(("flag", "value"), [("--max-queued", "0"), ("--max-running", "-1"), ("--max-running", "0"),
                                             ("--max-compute-s", "0"), ("--max-compute-s", "nan"),
                                             ("--max-compute-s", "inf"), ("--max-queued", "99999999999999999999")])
def test_8_a_quota_flag_that_means_nothing_is_refused_before_the_server_starts(flag, value):
    out = run_cli("gradio", flag, value)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"argument {flag}: {value!r} is not a" in out.stderr and "leave the flag out for no limit" in out.stderr


def test_8_a_host_token_with_any_letters_logs_the_host_in():
    from workbench.participants import Workshop

    shop = Workshop.preset(host_token="é-token")
    assert shop.is_host("é-token") and shop.is_host(" é-token ")
    assert not shop.is_host("e-token") and not shop.is_host("\udcff") and not shop.is_host(None)


def test_8_unreadable_quota_variables_are_said_on_every_command():
    out = run_cli("jobs", "list", env={"WORKBENCH_MAX_COMPUTE_S": "nan", "WORKBENCH_MAX_QUEUED": "0"})
    assert out.returncode == 0
    assert "WORKBENCH_MAX_COMPUTE_S='nan' is ignored" in out.stderr
    assert "WORKBENCH_MAX_QUEUED='0' is ignored: it must be a whole number from 1 to 1,000,000." in out.stderr


# ---- 9. plug-ins cannot exit the CLI, shout tracebacks, or replace a built-in ---------------------------

def _plugin(tmp_path: Path, module: str, entry: str) -> dict[str, str]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "wbhostile.py").write_text(textwrap.dedent(module))
    info = site / "wbhostile-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: wbhostile\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[workbench.tasks]\n{entry}\n")
    return {"PYTHONPATH": os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)}


@pytest.mark.parametrize(("module", "said"), [
    ("import sys\nsys.exit(3)\n", "could not be loaded (exit(3))"),
    ("raise RuntimeError('broken on purpose')\n", "could not be loaded (RuntimeError: broken on purpose)"),
    ("from workbench.tasks.registry import TASKS, register\nfrom dataclasses import replace\n"
     "SPEC = register(replace(TASKS['count'], summary='hijacked'))\n",
     "could not be loaded (ValueError: The task name 'count' is taken; pass replace=True"),
])
def test_9_a_hostile_plugin_is_one_line_and_the_cli_works(tmp_path, module, said):
    env = _plugin(tmp_path, module, "hostile = wbhostile:SPEC")
    out = run_cli("run", "count", "--steps", "2", "--delay", "0", env=env)
    assert out.returncode == 0, out.stderr
    assert said in out.stderr and "Traceback" not in out.stderr
    assert len([line for line in out.stderr.splitlines() if "plug-in" in line]) == 1
    helped = run_cli("run", "--help", env=env)
    assert "hijacked" not in helped.stdout


# ---- 10. the smaller ones --------------------------------------------------------------------------------

def test_10_drain_within_nothing_is_refused():
    for within in ("", "nan", "-5s", "0"):
        out = run_cli("devices", "drain", "cpu", f"--within={within}")
        assert out.returncode == 2 and "give a time above 0" in out.stderr, within
    assert not default_store().drains()


def test_10_doctor_leaves_links_and_misnamed_records_alone(tmp_path, home):
    store = ResultStore(home)
    job = wb.submit("count", steps=1, delay=0.0, device="cpu")
    job.result(60)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("mine")
    (store.jobs_dir / "20260101-000000-111111").symlink_to(outside)
    misnamed = store.jobs_dir / "20260101-000000-222222"
    misnamed.mkdir()
    (misnamed / "record.json").write_text((store.jobs_dir / job.id / "record.json").read_text())
    (store.work_dir).mkdir(exist_ok=True)
    (store.work_dir / "20260101-000000-333333").symlink_to(outside)
    old = time.time() - 3600
    for p in (misnamed,):
        os.utime(p, (old, old))
    found = "\n".join(store.doctor(min_age=0.0))
    assert "20260101-000000-111111 in the jobs folder is a link, not a job folder; left alone." in found
    assert f"Job folder 20260101-000000-222222 holds the record of job '{job.id}'; kept" in found
    assert (outside / "precious.txt").read_text() == "mine" and (misnamed / "record.json").exists()
    assert not (store.work_dir / "20260101-000000-333333").is_symlink()  # the link went, not what it points at


def test_10_looking_at_a_missing_pool_does_not_create_it(tmp_path):
    pool = tmp_path / "nowhere" / "slots.sqlite"
    out = run_cli("jobs", "list", "--all-users", env={"WORKBENCH_SLOT_POOL": str(pool)})
    assert out.returncode == 2 and "There is no slot pool at" in out.stderr
    assert not pool.exists() and not pool.parent.exists()


def test_10_open6dor_assets_stay_inside_the_objects_folder(tmp_path):
    from workbench.tasks.rearrange.open6dor import load_task

    assets = tmp_path / "assets"
    (assets / "mug").mkdir(parents=True)
    (assets / "mug" / "mug.urdf").write_text('<robot name="m"><link name="l"><visual><geometry>'
                                             '<mesh filename="../../../../../../etc/hostname"/></geometry></visual>'
                                             '</link></robot>')
    for urdf, message in (("/etc/passwd", "outside"), ("../../etc/passwd", "outside"),
                          ("mug/mug.urdf", "outside")):
        task = tmp_path / "task.json"
        task.write_text(json.dumps({"selected_obj_names": ["mug", "box"], "selected_urdfs": [urdf, ""],
                                    "init_obj_pos": [[0.1, 0.0, 0.1, 0, 0, 0, 1], [-0.1, 0, 0.1, 0, 0, 0, 1]],
                                    "instruction": "put the mug left of the box", "target_obj_name": "mug"}))
        with pytest.raises(InputError, match=message):
            load_task(task, assets)


def test_10_the_job_page_shows_a_tampered_record(home):
    from workbench.server.job_page import render

    job = wb.submit("count", steps=1, delay=0.0, device="cpu")
    job.result(60)
    record = home / "jobs" / job.id / "record.json"
    rec = json.loads(record.read_text())
    rec.update(started="yesterday", finished=[1], request="<script>", files={"x": "/etc/passwd", "y": "../../z",
                                                                           "z": 5}, events="none", moves="many")
    record.write_text(json.dumps(rec))
    store = default_store()
    stored = store.get(job.id, rebuild=False)
    assert stored.files == {} and stored.request == {} and stored.events == [] and stored.moves == 0
    page = render(stored, lambda rel: f"/files/{rel}", "/static/")
    assert job.id in page and "/etc/passwd" not in page
    store.close()
    store.index_path.unlink()  # the index rebuilt from the tampered record keeps its times as numbers or nothing
    row = ResultStore(home).row(job.id)
    assert row["started"] is None and row["finished"] is None and row["state"] == "succeeded"


def test_10_a_killed_job_counts_device_time_until_it_was_last_seen(home):
    store = default_store()
    now = time.time()
    with sqlite3.connect(store.index_path) as db:
        db.execute("INSERT INTO jobs (id, task, device, state, created, started, host, pid, owner, seen) "
                   "VALUES ('20260101-000000-444444', 'count', 'cpu', 'running', ?, ?, ?, 999999999, 'ann', ?)",
                   (now - 20_000, now - 20_000, store._host, now - 20_000 + 30))
    used = store.usage(owner="ann")["ann"]
    assert used["failed"] == 1 and 29 <= used["compute_s"] <= 31  # not the 20,000 s since it started
    owners.check_quota(used, Quota(max_compute_s=60))  # so it does not lock its owner out


def test_pool_file_is_never_opened_up_when_it_is_a_store_index(tmp_path):
    index = tmp_path / "index.sqlite"
    SlotPool(index, shared=False).close()
    assert _mode(index) & 0o022 == 0  # a home's own index stays the user's
