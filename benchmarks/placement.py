"""Placement regret and migration overhead on a heterogeneous loopback Ray cluster.

The cluster (127.0.0.1 only): a node with 2 CPUs, and a node with 1 CPU that also declares an
NPU. A node's devices compute on the cores it declares, so the 1-CPU node is about half as fast
on matmul-bound work and as fast on sleep-bound work: the two rank differently per task.

1. `bench` measures each task's standard case on each node device (stored per task).
2. A mixed set of jobs (selftest, tiny fold, conformers, count) is placed with `any:` over the
   node devices; each job is then run on every candidate in turn, and the regret is the actual
   time on the chosen device over the actual time on the best one (mean over the jobs).
3. A 40-trial grasp batch is drained off its device mid run; the overhead is the number of trials
   finished twice (the trial running at the move is partly lost: at most one).

Prints one JSON line per headline figure.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time


def main() -> int:
    os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix="wb-bench-"))
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
    from ray.cluster_utils import Cluster

    import workbench as wb
    from workbench.scheduling import cluster as ray_cluster
    from workbench.scheduling import registry
    from workbench.scheduling.bench import bench
    from workbench.tasks.registry import get_task
    from workbench.tasks.requests import make_request

    c = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 2, "include_dashboard": False})
    slow = c.add_node(num_cpus=1, resources={"NPU": 1})
    c.wait_for_nodes()
    try:
        ray_cluster.connect(c.address)
        fast_id = f"ray:{c.head_node.node_id[:8]}/cpu"
        slow_ids = [f"ray:{slow.node_id[:8]}/cpu", f"ray:{slow.node_id[:8]}/npu:0"]
        candidates = [fast_id, *slow_ids]
        tasks = ["selftest", "fold", "conformers", "count"]
        bench(tasks, candidates, repeats=3, say=lambda line: print(line, file=sys.stderr))

        jobs = [("selftest", {"dtypes": ("float32",), "batch": 16, "seq_len": 64, "repeats": 20}),
                ("fold", {"sequences": ("MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQ",),
                          "tiny": True, "num_recycles": 0}),
                ("conformers", {"smiles": ("CC(C)Cc1ccc(cc1)C(C)C(=O)O", "CCOc1ccccc1"), "num_conformers": 10}),
                ("count", {"steps": 40, "delay": 0.01})]
        regrets = []
        for task, fields in jobs * 2:
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
            print(f"{task}: {chosen.reason}; actual " + ", ".join(f"{k} {v:.2f} s" for k, v in actual.items())
                  + f"; regret {regret:.2f}", file=sys.stderr)

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
        print(f"grasp: {moved[0] if moved else 'not moved'}; {len(executions)} trial completions for "
              f"{len(result.trials)} trials; {redone} redone (the trial running at the move is lost work, "
              "at most one)", file=sys.stderr)
    finally:
        ray_cluster.disconnect()
        c.shutdown()

    print(json.dumps({"name": "placement_regret_mean", "value": round(statistics.mean(regrets), 3),
                      "target": 1.15, "better": "lower"}))
    print(json.dumps({"name": "placement_regret_worst", "value": round(max(regrets), 3), "target": 1.5,
                      "better": "lower"}))
    print(json.dumps({"name": "migration_items_redone_per_move", "value": redone if moved else None,
                      "target": 1, "better": "lower"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
