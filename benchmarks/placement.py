"""Placement regret (idle and with another process loading one device) and migration overhead on
heterogeneous loopback Ray clusters.

Idle: a node with 2 CPUs, and a node with 1 CPU that also declares an NPU. A node's devices compute
on the cores it declares, so the 1-CPU node is about half as fast on matmul-bound work and as fast
on sleep-bound work: the two rank differently per task.

1. `bench` measures each task's standard case on each node device (stored per task).
2. A mixed set of jobs of about 1 s or more (selftest, tiny fold, conformers, count) is placed with
   `any:` over the node devices; each job is then run on every candidate in turn, and the regret is
   the actual time on the chosen device over the actual time on the best one. Three rounds; each
   figure is the median of the rounds' means, with the spread printed.
3. Loaded: two 1-CPU nodes, each pinned to a core of its own (the NPU on the second), and another
   process spinning on the first node's core: the same jobs, placed while it runs. Placement sees
   the load through the node's `busy` figure; its figures for the loaded node came from idle runs.
4. A 40-trial grasp batch is drained off its device mid run; the overhead is the number of trials
   finished twice (the trial running at the move is partly lost: at most one).

Prints one JSON line per headline figure.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

JOBS: list[tuple[str, dict[str, Any]]] = [
    ("selftest", {"dtypes": ("float32",), "batch": 16, "seq_len": 128, "repeats": 150}),
    ("fold", {"sequences": ("MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQ" * 2,), "tiny": True,
              "num_recycles": 1}),
    ("conformers", {"smiles": ("CC(C)Cc1ccc(cc1)C(C)C(=O)O", "CCOc1ccccc1"), "num_conformers": 60}),
    ("count", {"steps": 100, "delay": 0.01}),
]
ROUNDS = 3


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def regret_rounds(candidates: list[str], label: str) -> list[list[float]]:
    """Per round, the regret of each job: its time on the chosen device over its best time."""
    from workbench.scheduling import registry
    from workbench.tasks.registry import get_task
    from workbench.tasks.requests import make_request

    rounds = []
    for r in range(ROUNDS):
        regrets = []
        for task, fields in JOBS:
            spec = get_task(task)
            request = make_request(spec, **fields)
            needs = spec.requirements_for(request)
            chosen = registry.resolve(f"any:{','.join(candidates)}", needs, spec=spec, request=request)
            actual = {}
            for device_id in candidates:
                device = registry.get(device_id)
                if needs.unmet(device.capabilities):
                    continue
                job = device.submit(spec, request, requirements=needs)
                job.result(600)
                actual[device_id] = job.finished - job.started
            regret = actual[chosen.device.id] / min(actual.values())
            regrets.append(regret)
            say(f"{label} round {r + 1} {task}: {chosen.reason}; actual "
                + ", ".join(f"{k} {v:.2f} s" for k, v in actual.items()) + f"; regret {regret:.2f}")
        rounds.append(regrets)
    return rounds


def summary(rounds: list[list[float]]) -> tuple[float, float, str]:
    """(median of the rounds' means, median of the rounds' worst, the spread in words)."""
    means = [statistics.mean(r) for r in rounds]
    worsts = [max(r) for r in rounds]
    return statistics.median(means), statistics.median(worsts), (
        f"round means {', '.join(f'{m:.3f}' for m in means)}; worst per round {', '.join(f'{w:.2f}' for w in worsts)}")


def _pin(node: Any, core: int) -> None:
    """Keep a Ray node's processes (and the workers its raylet starts later) on one core."""
    import psutil

    for _, proc in node.live_processes():
        try:
            p = psutil.Process(proc.pid)
            for q in [p, *p.children(recursive=True)]:
                q.cpu_affinity([core])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue


def _spin_on(core: int) -> subprocess.Popen:
    code = f"import os\nos.sched_setaffinity(0, {{{core}}})\nwhile True: pass"
    return subprocess.Popen([sys.executable, "-c", code])


def idle_phase() -> tuple[list[list[float]], int | None, str]:
    from ray.cluster_utils import Cluster

    import workbench as wb
    from workbench.scheduling import cluster as ray_cluster
    from workbench.scheduling.bench import bench

    c = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 2, "include_dashboard": False})
    slow = c.add_node(num_cpus=1, resources={"NPU": 1})
    c.wait_for_nodes()
    try:
        ray_cluster.connect(c.address)
        fast_id = f"ray:{c.head_node.node_id[:8]}/cpu"
        candidates = [fast_id, f"ray:{slow.node_id[:8]}/cpu", f"ray:{slow.node_id[:8]}/npu:0"]
        bench([t for t, _ in JOBS], candidates, repeats=3, say=say)
        rounds = regret_rounds(candidates, "idle")

        grasp = wb.submit("grasp", object="box", num_grasps=40, seed=1, render=(), device=fast_id)
        executions: list[str] = []  # every finished trial, on any device, as the job layer receives it
        keep = grasp.record_checkpoint
        grasp.record_checkpoint = lambda key, value: (executions.append(key), keep(key, value))
        deadline = time.time() + 300
        while len(grasp.checkpoints) < 10 and time.time() < deadline:
            time.sleep(0.02)
        wb.drain(fast_id)
        result = grasp.result(600)
        wb.drain(fast_id, False)
        moved = [e.message for e in grasp.snapshot_events() if e.message.startswith("moved from")]
        redone = len(executions) - len(set(executions))  # trials finished twice
        say(f"grasp: {moved[0] if moved else 'not moved'}; {len(executions)} trial completions for "
            f"{len(result.trials)} trials; {redone} redone (the trial running at the move is lost work, at most one)")
        return rounds, redone if moved else None, moved[0] if moved else ""
    finally:
        ray_cluster.disconnect()
        c.shutdown()


def loaded_phase() -> list[list[float]]:
    from ray.cluster_utils import Cluster

    from workbench.scheduling import cluster as ray_cluster
    from workbench.scheduling.bench import bench

    c = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 1, "include_dashboard": False})
    other = c.add_node(num_cpus=1, resources={"NPU": 1})
    c.wait_for_nodes()
    _pin(c.head_node, 0)
    _pin(other, 1)
    spinner = None
    try:
        ray_cluster.connect(c.address)
        loaded_id = f"ray:{c.head_node.node_id[:8]}/cpu"
        candidates = [loaded_id, f"ray:{other.node_id[:8]}/cpu", f"ray:{other.node_id[:8]}/npu:0"]
        bench([t for t, _ in JOBS], candidates, repeats=3, say=say)  # idle figures, as a user's would be
        spinner = _spin_on(0)
        time.sleep(1.0)
        return regret_rounds(candidates, "loaded")
    finally:
        if spinner is not None:
            spinner.kill()
        ray_cluster.disconnect()
        c.shutdown()


def main() -> int:
    os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix="wb-bench-"))
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
    idle_rounds, redone, _ = idle_phase()
    mean, worst, spread = summary(idle_rounds)
    say(f"idle: {spread}")
    loaded_mean = loaded_worst = None
    if len(os.sched_getaffinity(0)) >= 2:
        loaded_mean, loaded_worst, loaded_spread = summary(loaded_phase())
        say(f"loaded: {loaded_spread}")
    else:
        say("loaded: skipped; it needs two cores to give each node one")
    print(json.dumps({"name": "placement_regret_mean", "value": round(mean, 3), "target": 1.15, "better": "lower"}))
    print(json.dumps({"name": "placement_regret_worst", "value": round(worst, 3), "target": 1.5, "better": "lower"}))
    print(json.dumps({"name": "placement_regret_mean_loaded", "value": None if loaded_mean is None else
                      round(loaded_mean, 3), "target": 1.3, "better": "lower"}))
    print(json.dumps({"name": "placement_regret_worst_loaded", "value": None if loaded_worst is None else
                      round(loaded_worst, 3), "target": 2.0, "better": "lower"}))
    print(json.dumps({"name": "migration_items_redone_per_move", "value": redone, "target": 1, "better": "lower"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
