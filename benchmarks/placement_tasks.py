"""Open-instruction 6-DoF pick-and-place on a generated task set (three tracks), in MuJoCo.

210 tasks (70 per track: position, rotation, 6-DoF), each on its own procedural tabletop with an
instruction written from templates (`workbench.tasks.rearrange.taskset`), parsed by the
rule-based parser, planned, executed with the free-floating Franka hand and judged with the
benchmark's metrics. Prints success per track with a 95% Wilson interval and the failure causes,
writes every task's record to placement_tasks.json (or $BENCH_OUT), and ends with one JSON line
per headline figure (targets: position >= 0.80, rotation >= 0.60). BENCH_GIFS=DIR renders every
task and keeps its replay there (slower).

    python benchmarks/placement_tasks.py [COUNT] [WORKERS]
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import closing
from pathlib import Path


def main() -> int:
    from workbench.rearrangement import evaluate, summarise
    from workbench.tasks.pool import completed
    from workbench.tasks.rearrange.taskset import generate

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 210
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else (os.cpu_count() or 1)
    tasks = generate(count)
    start = time.perf_counter()
    records = []
    gifs = os.environ.get("BENCH_GIFS")  # a folder: every task rendered, its replay kept there
    calls = ((t, Path(gifs) / f"{k:03d}-{t.track}.gif" if gifs else None) for k, t in enumerate(tasks))
    with closing(completed(workers, evaluate, calls)) as results:
        for record in results:
            records.append(record)
            if len(records) % 30 == 0:
                print(f"{len(records)}/{len(tasks)} tasks", file=sys.stderr)
    seconds = time.perf_counter() - start
    order = {(t.scene, t.instruction): i for i, t in enumerate(tasks)}
    records.sort(key=lambda r: order[(r["scene"], r["instruction"])])
    out = os.environ.get("BENCH_OUT", "placement_tasks.json")
    with open(out, "w") as f:
        json.dump(records, f, indent=1)
    summary = summarise(records)
    print(f"{len(records)} tasks in {seconds:.0f} s on {workers} worker(s); records in {out}")
    for track, s in summary.items():
        causes = ", ".join(f"{k} {v}" for k, v in sorted(s["causes"].items(), key=lambda kv: -kv[1])) or "none"
        print(f"  {track:9s} {s['success']:.0%} (95% CI {s['ci_low']:.0%}-{s['ci_high']:.0%}) of {s['tasks']}; "
              f"failures: {causes}")
    targets = {"position": 0.80, "rotation": 0.60, "6dof": None}
    for track, s in summary.items():
        line = {"name": f"placement_{track}_success", "value": round(s["success"], 3),
                "target": targets[track], "better": "higher"}
        print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
