"""The device contract: chips as plug-in backend classes, machine-wide slots, job-owned working
folders, requests checked once with readable errors, tasks that never guess the chip."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import peak_overlap, slow_task

import workbench as wb
from workbench.contract import InputError
from workbench.jobs.store import default_store

CHIP = '''
"""A test chip: a 'VPU' family with 3 GiB, no float16, bfloat16 preferred, computing on the host CPU."""
from workbench.contract import GiB
from workbench.hardware.backends import CpuBackend


class VpuBackend(CpuBackend):
    name = "vpu"
    kind = "vpu"
    concurrency = 1

    @classmethod
    def discover(cls):
        return [cls(0)]

    @property
    def torch_device(self):
        return "cpu"

    def device_name(self):
        return "Test VPU (computes on the host CPU)"

    def memory_info(self):
        return 3 * GiB, 3 * GiB

    def dtypes(self):
        return ("float32", "bfloat16")

    def preferred_dtype(self):
        return "bfloat16"

    def extra(self):
        return {}
'''


def _install_chip(root: Path) -> Path:
    """A package with a `workbench.devices` entry point, importable from `root` (as pip would leave it)."""
    (root / "vpuchip").mkdir(parents=True)
    (root / "vpuchip" / "__init__.py").write_text(CHIP)
    meta = root / "vpuchip-0.1.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: vpuchip\nVersion: 0.1\n")
    (meta / "entry_points.txt").write_text("[workbench.devices]\nvpu = vpuchip:VpuBackend\n")
    return root


@pytest.mark.slow
def test_a_chip_is_one_class_registered_through_the_entry_point(tmp_path, home):
    code = textwrap.dedent("""
        import json, workbench as wb
        from workbench.contract import DeviceError
        caps = wb.devices.get("vpu:0").capabilities
        st = wb.run("selftest", dtypes=("bfloat16",), device="vpu:0")
        fold = wb.run("fold", sequences=("MKTAYIAKQR",), tiny=True, num_recycles=0, device="vpu:0")
        t2i = wb.run("text-to-image", prompt="a red cube", tiny=True, steps=2, width=64, height=64,
                     device="vpu:0")
        try:
            wb.run("selftest", dtypes=("float16",), device="vpu:0")
            refusal = ""
        except DeviceError as exc:
            refusal = str(exc)
        print(json.dumps({"kind": caps.kind, "backend": caps.backend, "dtypes": caps.dtypes,
                          "preferred": caps.fast_dtype, "memory": caps.total_memory,
                          "selftest": [st.passed, st.checks[0].dtype], "fold": fold.dtype,
                          "t2i": [t2i.dtype, t2i.images[0].recipe["dtype"], t2i.images[0].recipe["device_kind"],
                                  t2i.images[0].recipe["device"]],
                          "refusal": refusal}))
    """)
    env = {**os.environ, "PYTHONPATH": str(_install_chip(tmp_path / "site")), "WORKBENCH_HOME": str(home)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert (got["kind"], got["backend"], got["dtypes"], got["preferred"]) == (
        "vpu", "vpu", ["float32", "bfloat16"], "bfloat16")
    assert got["memory"] == 3 * 1024**3
    assert got["selftest"] == [True, "bfloat16"]
    assert got["fold"] == "bfloat16"  # the language model in the chip's preferred dtype
    assert got["t2i"] == ["bfloat16", "bfloat16", "vpu", "vpu:0"]
    assert "does not compute in float16" in got["refusal"] and "Use cpu instead" in got["refusal"]


@pytest.mark.slow
def test_three_processes_share_the_cpu_slots_machine_wide(home):
    code = textwrap.dedent("""
        import workbench as wb
        jobs = [wb.submit("count", steps=15, delay=0.02, device="cpu") for _ in range(4)]
        for j in jobs:
            j.result(120)
        print(" ".join(j.id for j in jobs))
    """)
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(3)]
    ids = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
        ids.extend(out.split())
    store = default_store()
    records = [store.get(i) for i in ids]
    assert len(records) == 12 and all(r.state == "succeeded" for r in records)
    intervals = [(r.started, r.finished) for r in records]
    assert peak_overlap(intervals) <= 2  # the CPU's 2 slots hold for every process of this machine
    assert peak_overlap(intervals) == 2  # and both are used
    waited = [e["message"] for r in records for e in r.events if "waiting for a slot on cpu" in e.get("message", "")]
    assert waited and all(re.search(r"position \d+ in the machine-wide queue", m) for m in waited)


def test_a_dead_process_lease_is_reclaimed(devices):
    store = default_store()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    for n in range(2):  # both CPU slots "held" by a process that no longer exists
        store._exec("INSERT INTO pool_leases (device, job, owner, home, host, pid, since) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    ("cpu", f"ghost-{n}", "ghost", str(store.root), store._host, pid, time.time()))
    assert wb.run("count", steps=2, device="cpu", timeout=30).steps == 2
    assert store.leases("cpu") == 0


def test_working_folders_are_owned_by_the_job_and_removed(devices, home):
    ok = wb.submit("count", steps=2, device="cpu")
    ok.result(30)
    failed = devices["cpu"].submit(lambda request, ctx: (ctx.workdir / "partial.bin").write_bytes(b"x") and 1 / 0, {})
    with pytest.raises(wb.JobFailed, match="ZeroDivisionError"):
        failed.result(30)
    started = __import__("threading").Event()
    cancelled = devices["cpu"].submit(slow_task, {"started": started, "steps": 3000})
    assert started.wait(10)
    cancelled.cancel()
    with pytest.raises(wb.Cancelled):
        cancelled.result(30)
    work = home / "work"
    assert not any(work.iterdir()) if work.exists() else True


def test_requests_are_checked_before_a_job_exists_with_one_readable_line(devices):
    before = len(wb.jobs(limit=None))
    cases = [
        (dict(smile=("CCO",)), r"unknown field 'smile' for task 'conformers'; did you mean 'smiles'\?"),
        (dict(smiles=("CCO",), num_conformers="ten"), r"num_conformers must be a whole number, not str 'ten'"),
        (dict(smiles=("CCO",), prune_rms=float("nan")), r"prune_rms must be a finite number, not nan"),
        (dict(smiles=("CCO",), temperature=float("inf")), r"temperature must be a finite number, not inf"),
        (dict(smiles=5), r"smiles must be a list"),
    ]
    for fields, message in cases:
        with pytest.raises(InputError, match=message) as info:
            wb.submit("conformers", device="cpu", **fields)
        assert "\n" not in str(info.value)
    with pytest.raises(InputError, match=r"Task 'fold' takes a FoldRequest, not a ConformerRequest"):
        from workbench.tasks.molecules.conformers import ConformerRequest

        wb.submit("fold", ConformerRequest(smiles=("CCO",)), device="cpu")
    assert len(wb.jobs(limit=None)) == before  # nothing was queued or stored


def test_every_registered_task_has_cli_options_from_its_request_type():
    from helpers import run_cli

    from workbench.cli.task_options import cli_fields
    from workbench.tasks.registry import TASKS

    for name, spec in TASKS.items():
        proc = run_cli("run", name, "--help")
        assert proc.returncode == 0, proc.stderr
        for info in cli_fields(spec):
            assert f"--{info.name.replace('_', '-')}" in proc.stdout, (name, info.name)
    bad = run_cli("run", "conformers", "--smiles", "CCO", "--prune-rms", "nan")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0
    assert "prune_rms must be a finite number" in bad.stderr


def test_tasks_never_guess_the_chip_from_a_device_name():
    """The rule of the contract: a task asks its context's backend; it never compares device strings."""
    tasks = Path(wb.__file__).parent / "tasks"
    guesses = re.compile(r"""startswith\(\s*["'](cuda|npu|xpu|mps|cpu)|==\s*["'](cuda|cpu|npu|mps|xpu)["']|"""
                         r"""torch\.cuda\.|device\.split\(""")
    offenders = [f"{p.relative_to(tasks)}:{n}: {line.strip()}" for p in tasks.rglob("*.py")
                 for n, line in enumerate(p.read_text().splitlines(), 1) if guesses.search(line)]
    assert offenders == []


def test_a_native_crash_fails_one_job_and_the_process_goes_on(devices):
    """Tasks that call native code run in the device's worker processes: a segfault there fails
    that one job with a sentence, and this process (a kernel, the CLI, a Gradio server) goes on."""
    import os

    from workbench.contract import TaskSpec
    from workbench.tasks.registry import TASKS, register

    register(TaskSpec(name="native-crash", run="native_crash:run", request="native_crash:CrashRequest",
                      summary="crash in native code", isolate=True))
    try:
        other = wb.submit("count", steps=30, delay=0.01, device="cpu")  # a neighbour on the same device
        crashed = wb.submit("native-crash", crash=True, device="cpu")
        with pytest.raises(wb.JobFailed, match=r"the worker crashed with signal 11 \(SIGSEGV\) while running "
                                               r"native-crash; the device's other jobs go on"):
            crashed.result(60)
        assert other.result(60).steps == 30
        survivor = wb.run("native-crash", crash=False, device="cpu", timeout=60)  # a fresh worker
        assert survivor["pid"] != os.getpid()  # it ran in a worker, not here
        assert wb.job(crashed.id).state == "failed"
    finally:
        TASKS.pop("native-crash", None)


def test_a_cancel_ends_a_job_stuck_in_one_native_call(devices):
    """A cancel used to reach a worker only at its next progress report: inside one long native call
    (a large molecule's embedding) it waited, at 0% (20 s observed). A worker silent after a cancel is
    now stopped, and the next job gets a fresh one."""
    import time

    from workbench.contract import TaskSpec
    from workbench.tasks.registry import TASKS, register

    register(TaskSpec(name="native-stall", run="native_crash:run_stalled", request="native_crash:StallRequest",
                      summary="one long native call", isolate=True))
    try:
        job = wb.submit("native-stall", seconds=120, device="cpu")
        while job.last_progress is None:
            time.sleep(0.05)
        job.cancel()
        with pytest.raises(wb.Cancelled):
            job.result(60)  # well before the 120 s call would have returned
        assert wb.job(job.id).state == "cancelled"
        assert wb.run("native-stall", seconds=0, device="cpu", timeout=60)["pid"]  # a fresh worker
    finally:
        TASKS.pop("native-stall", None)


def test_a_crash_in_a_model_task_fails_one_job_and_the_model_worker_comes_back(devices, monkeypatch):
    """Tasks that load torch models run in the device's model worker by default: a segfault there
    fails that job; the next model job gets a fresh worker; WORKBENCH_ISOLATE=native runs them here.

    In the worker they run on its main thread: torch's OpenMP pool is then the process's only one. Run
    on a thread of a process whose main thread has used torch too, libgomp sees more threads than
    CPUs and stops spin-waiting (a Boltz-2 step took 1.45x as long, with 57,000 context switches)."""
    import os

    from workbench.contract import TaskSpec
    from workbench.tasks.registry import TASKS, register

    register(TaskSpec(name="torch-crash", run="native_crash:run_with_torch", request="native_crash:CrashRequest",
                      summary="crash in a model task", isolate_model=True))
    try:
        crashed = wb.submit("torch-crash", crash=True, device="cpu")
        with pytest.raises(wb.JobFailed, match=r"signal 11 \(SIGSEGV\) while running torch-crash"):
            crashed.result(120)
        first = wb.run("torch-crash", crash=False, device="cpu", timeout=120)
        second = wb.run("torch-crash", crash=False, device="cpu", timeout=60)
        assert first["pid"] == second["pid"] != os.getpid()  # one model worker, kept between jobs
        assert first["main_thread"] and second["main_thread"]
        folded = wb.run("fold", sequences=("MKTAYIAKQR",), tiny=True, device="cpu", timeout=120)
        assert folded.proteins[0].lengths == [10]  # a real model task through the same worker
        monkeypatch.setenv("WORKBENCH_ISOLATE", "native")
        here = wb.run("torch-crash", crash=False, device="cpu", timeout=60)
        assert here["pid"] == os.getpid() and not here["main_thread"]  # on this device's worker thread
    finally:
        TASKS.pop("torch-crash", None)
