"""Memory and first-job time of N participants with the device host against today's per-process workers.

Each participant is a process with its own `WORKBENCH_HOME` that runs a tiny `fold` and a tiny
`text-to-image` on the CPU and then stays alive (a kernel does). With every participant done, the
proportional set size (PSS, /proc/PID/smaps_rollup: shared pages split between the processes that map
them) of every process of the run is summed: the participants, their model workers, and the host with
its worker. One run does both modes, host last, with the same participants.

Prints `shared_models_pss_ratio` (host mode's sum over (N x one participant's own process) + 1.2 x the
host; target at most 1.0), `per_process_pss_mib` and `host_pss_mib` (both modes' sums, for the table),
and `first_job_warm_host_ratio` (participants 2..N's first fold on a warm host over their first fold in
today's mode; target at most 0.2). `BENCH_PARTICIPANTS` sets N (default 10).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PARTICIPANT = textwrap.dedent("""
    import json, sys, time
    import workbench as wb
    if __name__ == "__main__":
        job = wb.submit("fold", sequences=("MKTAYIAKQRQISFVKSHFSRQ",), tiny=True, device="cpu")
        job.result(900)
        first = job.finished - job.created  # the job itself: a worker's start and the model's load, or neither
        wb.run("text-to-image", prompt="a red cube", tiny=True, steps=2, width=64, height=64, device="cpu",
               timeout=900)
        print(json.dumps({"first_fold_s": first}), flush=True)
        sys.stdin.read()  # stay alive, as a kernel does, until told to go
""")


def _tree(root: int) -> list[int]:
    """`root` and every process below it."""
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        for task in Path(f"/proc/{pid}/task").glob("*"):  # a worker started by a job's thread is that thread's child
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return out


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _host_pids(folder: Path) -> list[int]:
    from workbench.hardware import device_host

    os.environ["WORKBENCH_HOST_DIR"] = str(folder)
    found = device_host.status("cpu")
    return [p for p in ((found or {}).get("pid"), (found or {}).get("worker_pid")) if p]


def run_mode(n: int, root: Path, host: bool) -> dict[str, float]:
    env = {**os.environ, "WORKBENCH_HOST_DIR": str(root / "hosts"), "WORKBENCH_HOST_IDLE_S": "600"}
    env.pop("WORKBENCH_DEVICE_HOST", None)
    if host:
        env["WORKBENCH_DEVICE_HOST"] = "1"
    participants, firsts = [], []
    for i in range(n):  # one after another, as people arrive; each stays
        p = subprocess.Popen([sys.executable, "-c", PARTICIPANT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True,
                             env={**env, "WORKBENCH_HOME": str(root / f"{'host' if host else 'own'}-{i}")})
        firsts.append(json.loads(p.stdout.readline())["first_fold_s"])
        participants.append(p)
    hosted = sorted({pid for h in _host_pids(root / "hosts") for pid in _tree(h)}) if host else []
    # the host is a child of the participant that started it: counted once, as the host
    own = [sum(_pss_kib(pid) for pid in _tree(p.pid) if pid not in hosted) for p in participants]
    kernels = [_pss_kib(p.pid) for p in participants]
    host_kib = sum(_pss_kib(pid) for pid in hosted)
    for p in participants:
        p.stdin.close()
        p.wait(120)
    for pid in hosted:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return {"sum_mib": (sum(own) + host_kib) / 1024, "kernel_mib": statistics.median(kernels) / 1024,
            "host_mib": host_kib / 1024, "first_fold_s": firsts}


def main() -> int:
    n = int(os.environ.get("BENCH_PARTICIPANTS", "10"))
    root = Path(tempfile.mkdtemp(prefix="wbsm-", dir="/tmp"))
    t0 = time.perf_counter()
    own = run_mode(n, root, host=False)
    hosted = run_mode(n, root, host=True)
    bound = n * hosted["kernel_mib"] + 1.2 * hosted["host_mib"]
    warm = statistics.median(hosted["first_fold_s"][1:]) / statistics.median(own["first_fold_s"][1:])
    print(f"{n} participants, tiny fold + text-to-image each ({time.perf_counter() - t0:.0f} s):\n"
          f"  per-process workers: {own['sum_mib']:.0f} MiB PSS in all "
          f"(a participant's own process {own['kernel_mib']:.0f} MiB)\n"
          f"  device host: {hosted['sum_mib']:.0f} MiB PSS in all (the host {hosted['host_mib']:.0f} MiB, a "
          f"participant's process {hosted['kernel_mib']:.0f} MiB); bound {bound:.0f} MiB\n"
          f"  first fold: {statistics.median(own['first_fold_s'][1:]):.1f} s in a fresh process, "
          f"{statistics.median(hosted['first_fold_s'][1:]):.1f} s on a warm host", file=sys.stderr)
    print(json.dumps({"name": "shared_models_pss_ratio", "value": round(hosted["sum_mib"] / bound, 3),
                      "target": 1.0, "better": "lower"}))
    print(json.dumps({"name": "per_process_pss_mib", "value": round(own["sum_mib"]), "target": None,
                      "better": "lower"}))
    print(json.dumps({"name": "host_pss_mib", "value": round(hosted["sum_mib"]), "target": None,
                      "better": "lower"}))
    print(json.dumps({"name": "first_job_warm_host_ratio", "value": round(warm, 3), "target": 0.2,
                      "better": "lower"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
