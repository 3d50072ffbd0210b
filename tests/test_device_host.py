"""The device host: one process per device holds each model once for every process of its user.

Real processes in separate homes, a real Unix socket, the tiny ESMFold and tiny Stable Diffusion. The
host's own count of model loads says how many copies there are; faults are real kills.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

import workbench as wb
from workbench.hardware import device_host

SEQ = "MKTAYIAKQRQISFVKSHFSRQ"


@pytest.fixture
def hosts(monkeypatch):
    """A short folder of its own for the hosts (Unix socket paths hold 108 bytes); the host is stopped after."""
    folder = Path(tempfile.mkdtemp(prefix="wbh-", dir="/tmp"))
    monkeypatch.setenv("WORKBENCH_DEVICE_HOST", "1")
    monkeypatch.setenv("WORKBENCH_HOST_DIR", str(folder))
    monkeypatch.setenv("WORKBENCH_HOST_IDLE_S", "300")
    yield folder
    _stop_host()
    shutil.rmtree(folder, ignore_errors=True)


def _stop_host() -> None:
    try:
        found = device_host.status("cpu")
    except (OSError, EOFError):
        found = None
    if found is not None:
        for pid in (found.get("worker_pid"), found["pid"]):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def _fold_in(home: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    return run_cli("run", "fold", "--sequences", SEQ, "--tiny", "--quiet", "--json",
                   env={"WORKBENCH_HOME": str(home), **(env_extra or {})}, timeout=600)


def test_two_homes_share_one_copy_of_a_model(hosts, tmp_path):
    for name in ("ann", "bob"):
        ran = _fold_in(tmp_path / name)
        assert ran.returncode == 0, ran.stderr
    found = device_host.status("cpu")
    assert found is not None and found["loads"] == {"esmfold": 1} and found["models"] == ["esmfold (tiny)"]
    assert found["served"] == 2
    shown = run_cli("devices")  # the host in the devices view: what it holds, for every process of the user
    assert shown.returncode == 0 and "device host for cpu: esmfold (tiny) resident, 2 job(s) served, idle" in \
        shown.stdout
    everyone = run_cli("jobs", "list", "--all-users", env={"WORKBENCH_HOME": str(tmp_path / "ann")})
    assert "device host for cpu: esmfold (tiny) resident, 2 job(s) served" in everyone.stdout
    # the same numbers as the job run in the caller's own model worker
    os.environ.pop("WORKBENCH_DEVICE_HOST")
    try:
        own = wb.run("fold", sequences=(SEQ,), tiny=True, device="cpu")
    finally:
        os.environ["WORKBENCH_DEVICE_HOST"] = "1"
    hosted = wb.run("fold", sequences=(SEQ,), tiny=True, device="cpu")
    assert np.array_equal(own.proteins[0].plddt, hosted.proteins[0].plddt)
    assert type(hosted) is type(own) and Path(hosted.files["seq1.pdb"]).exists()
    assert device_host.status("cpu")["loads"] == {"esmfold": 1}


def test_the_host_killed_mid_job_fails_it_with_a_sentence_and_the_next_job_starts_a_fresh_one(hosts):
    assert wb.run("fold", sequences=(SEQ,), tiny=True, device="cpu")  # the host is up
    first = device_host.status("cpu")
    job = wb.submit("text-to-image", prompt="a red cube", tiny=True, steps=400, width=64, height=64, device="cpu")
    deadline = time.time() + 120
    while not (job.last_progress and "step" in job.last_progress.message) and time.time() < deadline:
        time.sleep(0.05)
    os.kill(first["pid"], signal.SIGKILL)
    os.kill(first["worker_pid"], signal.SIGKILL)
    assert job.wait(60)
    assert job.state.value == "failed" and job.reason.startswith("The device host for cpu stopped while running "
                                                                 "text-to-image")
    again = wb.run("fold", sequences=(SEQ,), tiny=True, device="cpu", timeout=300)
    assert again.proteins and device_host.status("cpu")["pid"] != first["pid"]
    assert wb.job(job.id).state == "failed"  # the store kept the failed job's record


def test_a_caller_killed_mid_job_frees_the_host(hosts, tmp_path):
    code = textwrap.dedent("""
        import workbench as wb
        if __name__ == "__main__":
            job = wb.submit("text-to-image", prompt="a red cube", tiny=True, steps=400, width=64, height=64,
                            device="cpu")
            for event in job.events():
                if event.progress is not None and "step" in event.progress.message:
                    print("stepping", flush=True)
    """)
    caller = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "WORKBENCH_HOME": str(tmp_path / "gone")})
    assert caller.stdout.readline().strip() == "stepping"
    assert device_host.status("cpu")["busy"]
    caller.kill()
    caller.wait()
    deadline = time.time() + 60
    while device_host.status("cpu")["busy"] and time.time() < deadline:
        time.sleep(0.1)
    assert not device_host.status("cpu")["busy"]  # the host stopped the dead caller's work
    assert wb.run("fold", sequences=(SEQ,), tiny=True, device="cpu", timeout=300)


def test_a_cancel_reaches_work_in_the_host(hosts):
    job = wb.submit("text-to-image", prompt="a red cube", tiny=True, steps=400, width=64, height=64, device="cpu")
    deadline = time.time() + 120
    while not (job.last_progress and "step" in job.last_progress.message) and time.time() < deadline:
        time.sleep(0.05)
    job.cancel("cancelled from the test")
    assert job.wait(60) and job.state.value == "cancelled" and job.reason == "cancelled from the test"
    deadline = time.time() + 30
    while device_host.status("cpu")["busy"] and time.time() < deadline:
        time.sleep(0.1)
    assert not device_host.status("cpu")["busy"]


def test_another_user_is_refused_by_the_kernels_word_not_its_own(hosts):
    assert wb.run("fold", sequences=(SEQ,), tiny=True, device="cpu")
    path = device_host.socket_path("cpu")
    assert (path.parent.stat().st_mode & 0o777) == 0o700 and (path.stat().st_mode & 0o777) == 0o600
    if os.geteuid() != 0:
        pytest.skip("becoming another user needs root; the folder's mode above keeps other users out")
    os.chmod(path.parent, 0o755)  # opened on purpose: the host's own check must still refuse
    os.chmod(path, 0o666)
    script = textwrap.dedent(f"""
        import os, socket
        from workbench.hardware import device_host
        os.setgid(65534); os.setuid(65534)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect({str(path)!r})
        print(device_host.receive(s)["text"])  # refused before it may send anything (claiming "user": 0 or not)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert f"This device host serves the processes of user {os.getuid()} only; yours is user 65534." in done.stdout, \
        done.stderr[-2000:]
    assert device_host.status("cpu")["served"] == 1


def test_the_host_never_unpickles_what_a_caller_sends(hosts):
    assert wb.run("fold", sequences=(SEQ,), tiny=True, device="cpu")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(device_host.socket_path("cpu")))
    with sock:  # a request that is not a registered model task's fields is refused in a sentence
        device_host.send(sock, {"op": "run", "task": "count", "request": {"steps": 1}, "workdir": "/tmp"})
        reply = device_host.receive(sock)
    assert reply["kind"] == "error" and "runs model tasks only" in reply["text"]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(device_host.socket_path("cpu")))
    with sock:
        device_host.send(sock, {"op": "run", "task": "fold", "request": {"sequences": ["NOT A PROTEIN 1"]},
                                "workdir": "/tmp"})
        reply = device_host.receive(sock)
    assert reply["kind"] == "error" and reply["error"] == "input"
