"""A workshop of 30 on one machine: the shared slot pool, fair queues and isolated Gradio sessions.

1. **30 participants as separate processes with separate homes** (as 30 JupyterHub users), one slot pool
   (`WORKBENCH_SLOT_POOL`), each submitting bursts of small `count` jobs at random moments. Reported:
   the peak number of jobs running on the CPU across all homes against its slot limit, and fairness:
   the slowest participant's median wait against the median wait of all jobs.
2. **30 Gradio clients on one `workbench gradio --workshop` server**: each runs a conformer job, then
   tries every other participant's job: by id (cancel), in its job list, through Gradio's REST API
   and by the result files' paths. Reported: how many of those attempts reached another's job (0).
3. **Overhead of the shared pool**: `wb.submit` latency, and the time a tiny job takes end to end,
   with the pool in the store (one user) and in a machine-wide file, measured in the same run.

    python benchmarks/workshop.py [--participants 30] [--bursts 2] [--burst 3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PARTICIPANT = textwrap.dedent("""
    import json, random, sys, time
    import workbench as wb
    seed, bursts, burst = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    wb.jobs()  # open the store before the clock starts, as a notebook has
    jobs = []
    for _ in range(bursts):
        time.sleep(rng.uniform(0.0, 3.0))  # participants press Run at different moments
        jobs += [wb.submit("count", steps=8, delay=0.02, device="cpu") for _ in range(burst)]
    for j in jobs:
        j.result(600)
    print(json.dumps([[j.created, j.started, j.finished] for j in jobs]))
""")


def peak(intervals: list[tuple[float, float]]) -> int:
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = active = 0
    for _, step in points:
        active += step
        best = max(best, active)
    return best


def participants(n: int, bursts: int, burst: int, root: Path) -> dict:
    pool = root / "pool"
    env = {**os.environ, "WORKBENCH_SLOT_POOL": str(pool)}
    procs = [subprocess.Popen([sys.executable, "-c", PARTICIPANT, str(i), str(bursts), str(burst)],
                              env={**env, "WORKBENCH_HOME": str(root / f"user{i}"), "WORKBENCH_OWNER": f"user{i}"},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(n)]
    times = []
    for p in procs:
        out, err = p.communicate(timeout=900)
        if p.returncode:
            raise SystemExit(f"a participant failed:\n{err[-2000:]}")
        times.append(json.loads(out))
    waits = [[s - c for c, s, _ in mine] for mine in times]
    overall = statistics.median(w for mine in waits for w in mine)
    worst = max(statistics.median(mine) for mine in waits)
    from workbench.scheduling import registry

    return {"limit": registry.get("cpu").concurrency, "peak": peak([(s, f) for mine in times for _, s, f in mine]),
            "median_wait_s": overall, "worst_median_wait_s": worst, "jobs": sum(map(len, times))}


def gradio_room(n: int, root: Path) -> dict:
    import httpx
    from gradio_client import Client

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers import free_port

    port, token = free_port(), "host-token-for-the-benchmark"
    env = {**os.environ, "WORKBENCH_HOME": str(root / "gradio-home")}
    server = subprocess.Popen([sys.executable, "-m", "workbench", "gradio", "--workshop", "--port", str(port),
                               "--host-token", token], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        while True:
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.HTTPError:
                if time.time() > deadline or server.poll() is not None:
                    raise SystemExit("the Gradio server did not start") from None
                time.sleep(0.5)
        clients = [Client(url, verbose=False) for _ in range(n)]

        def work(c: Client) -> str:
            table, _, _ = c.predict("CCO ethanol", 3, "cpu", api_name="/conformers")
            assert table["data"][0][1] == "ok", table
            _, jobs, _ = c.predict(api_name="/status")
            return jobs["data"][0][0]

        with ThreadPoolExecutor(n) as ex:
            own = list(ex.map(work, clients))
        host = Client(url, verbose=False)
        assert host.predict(token, api_name="/host").startswith("Host view")
        _, _, usage = host.predict(api_name="/status")
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from workbench.jobs.store import ResultStore

        store = ResultStore(root / "gradio-home")
        attempts = reached = 0
        for i, c in enumerate(clients):
            _, listed, _ = c.predict(api_name="/status")
            seen = {row[0] for row in listed["data"]}
            for j, other in enumerate(own):
                if j == i:
                    continue
                attempts += 3
                reached += other in seen
                reached += "among yours" not in c.predict(other, api_name="/cancel")
                files = list(store.get(other).files.values())
                reached += any(httpx.get(f"{url}gradio_api/file={p}", timeout=30).status_code == 200 for p in files)
            attempts += 1  # and through the REST API, once per participant
            event = httpx.post(f"{url}gradio_api/call/cancel", json={"data": [own[(i + 1) % n]]},
                               timeout=30).json()["event_id"]
            reached += "among yours" not in httpx.get(f"{url}gradio_api/call/cancel/{event}", timeout=30).text
        return {"participants": n, "attempts": attempts, "reached": reached,
                "host_sees": len({row[0] for row in usage["data"]})}
    finally:
        server.terminate()
        server.wait(30)


def submit_latency(root: Path, runs: int, rounds: int = 5) -> dict:
    """Median `wb.submit` latency and tiny-job time with the store's own pool and with a machine-wide one:
    `rounds` fresh processes per side, alternating (this machine's noise moves single runs by +-40%), the
    median of their medians."""
    code = textwrap.dedent("""
        import json, statistics, sys, time
        import workbench as wb
        wb.run("count", steps=0, device="cpu")  # warm: store, devices, worker threads
        submit, total = [], []
        for _ in range(int(sys.argv[1])):
            t0 = time.perf_counter()
            job = wb.submit("count", steps=0, device="cpu")
            t1 = time.perf_counter()
            job.result(60)
            submit.append(t1 - t0)
            total.append(time.perf_counter() - t0)
        print(json.dumps([statistics.median(submit), statistics.median(total)]))
    """)
    out: dict[str, list[list[float]]] = {"own": [], "shared": []}
    for k in range(rounds):
        for name, pool in (("own", None), ("shared", root / f"latency-pool-{k}")):
            env = {**os.environ, "WORKBENCH_HOME": str(root / f"latency-{name}-{k}")}
            env.pop("WORKBENCH_SLOT_POOL", None)
            if pool is not None:
                env["WORKBENCH_SLOT_POOL"] = str(pool)
            r = subprocess.run([sys.executable, "-c", code, str(runs)], env=env, capture_output=True, text=True,
                               timeout=600, check=True)
            out[name].append(json.loads(r.stdout))
    return {name: [statistics.median(m[i] for m in medians) for i in range(2)] for name, medians in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=30)
    parser.add_argument("--bursts", type=int, default=2)
    parser.add_argument("--burst", type=int, default=3, help="jobs per burst")
    parser.add_argument("--latency-runs", type=int, default=60)
    a = parser.parse_args()
    random.seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        room = participants(a.participants, a.bursts, a.burst, root)
        print(f"{a.participants} participants, {room['jobs']} jobs: peak {room['peak']} running on cpu "
              f"(limit {room['limit']}); median wait {room['median_wait_s']:.2f} s, slowest participant's "
              f"median {room['worst_median_wait_s']:.2f} s")
        web = gradio_room(a.participants, root)
        print(f"{web['participants']} Gradio sessions: {web['reached']} of {web['attempts']} attempts reached "
              f"another participant's job; the host sees {web['host_sees']} participants")
        lat = submit_latency(root, a.latency_runs)
        print(f"wb.submit median {lat['own'][0] * 1e3:.2f} ms (own pool) vs {lat['shared'][0] * 1e3:.2f} ms "
              f"(machine-wide pool); a tiny job end to end {lat['own'][1] * 1e3:.1f} vs "
              f"{lat['shared'][1] * 1e3:.1f} ms")
    figures = [
        ("workshop_peak_running_over_limit", room["peak"] / room["limit"], 1.0, "lower"),
        ("workshop_wait_ratio_worst_to_median", room["worst_median_wait_s"] / max(room["median_wait_s"], 1e-3),
         1.5, "lower"),
        ("workshop_cross_participant_reads_or_cancels", web["reached"], 0, "lower"),
        ("workshop_submit_latency_ratio_shared_pool", lat["shared"][0] / lat["own"][0], 1.1, "lower"),
        ("workshop_tiny_job_latency_ratio_shared_pool", lat["shared"][1] / lat["own"][1], 1.1, "lower"),
    ]
    for name, value, target, better in figures:
        print(json.dumps({"name": name, "value": round(value, 3), "target": target, "better": better}))


if __name__ == "__main__":
    main()
