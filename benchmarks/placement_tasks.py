"""Open-instruction 6-DoF pick-and-place on a generated task set (three tracks), in MuJoCo.

210 tasks (70 per track: position, rotation, 6-DoF), each on its own procedural tabletop with an
instruction written from templates (`workbench.tasks.rearrange.taskset`), parsed by the
rule-based parser, planned, executed with the free-floating Franka hand and judged with the
benchmark's metrics. Prints success per track with a 95% Wilson interval and the failure causes,
writes every task's record to placement_tasks.json (or $BENCH_OUT), and ends with one JSON line
per headline figure (targets: position >= 0.80, rotation >= 0.60). BENCH_GIFS=DIR renders every
task and keeps its replay there (slower).

Then the same tasks phrased as Open6DOR phrases them ("Place the can to the left of the box on the
table. We also need to specify the rotation of the object after placement: ..."): the share the
parser reads (`open6dor_phrasing_parse_rate`, target 1.0) and the success per track, against the
same targets. BENCH_PHRASING=workbench or open6dor runs one phrasing only. BENCH_TASKS=DIR runs
Open6DOR's own task files found under DIR instead (BENCH_OBJECTS=DIR: its asset folder, where
the meshes of objects workbench does not bundle are).

    python benchmarks/placement_tasks.py [COUNT] [WORKERS]
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import closing
from pathlib import Path


def run(tasks: list, workers: int, label: str) -> list[dict]:
    from workbench.rearrangement import evaluate
    from workbench.tasks.pool import completed

    records = []
    gifs = os.environ.get("BENCH_GIFS")  # a folder: every task rendered, its replay kept there
    calls = ((t, Path(gifs) / f"{label}-{k:03d}-{t.track}.gif" if gifs else None) for k, t in enumerate(tasks))
    with closing(completed(workers, evaluate, calls)) as results:
        for record in results:
            records.append(record)
            if len(records) % 30 == 0:
                print(f"{label}: {len(records)}/{len(tasks)} tasks", file=sys.stderr)
    order = {(t.scene, t.instruction): i for i, t in enumerate(tasks)}
    records.sort(key=lambda r: order[(r["scene"], r["instruction"])])
    return records


def report(records: list[dict], seconds: float, workers: int, label: str, prefix: str) -> None:
    from workbench.rearrangement import summarise

    summary = summarise(records)
    print(f"{label}: {len(records)} tasks in {seconds:.0f} s on {workers} worker(s)")
    for track, s in summary.items():
        causes = ", ".join(f"{k} {v}" for k, v in sorted(s["causes"].items(), key=lambda kv: -kv[1])) or "none"
        print(f"  {track:9s} {s['success']:.0%} (95% CI {s['ci_low']:.0%}-{s['ci_high']:.0%}) of {s['tasks']}; "
              f"failures: {causes}")
    targets = {"position": 0.80, "rotation": 0.60, "6dof": None}
    for track, s in summary.items():
        print(json.dumps({"name": f"{prefix}{track}_success", "value": round(s["success"], 3),
                          "target": targets[track], "better": "higher"}))


def main() -> int:
    from workbench.tasks.rearrange.taskset import generate

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 210
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else (os.cpu_count() or 1)
    phrasings = {"workbench": "placement_", "open6dor": "placement_open6dor_"}
    chosen = os.environ.get("BENCH_PHRASING")
    out = Path(os.environ.get("BENCH_OUT", "placement_tasks.json"))
    if os.environ.get("BENCH_TASKS"):
        from workbench.rearrangement import open6dor_tasks

        tasks = open6dor_tasks(os.environ["BENCH_TASKS"], os.environ.get("BENCH_OBJECTS", ""))
        start = time.perf_counter()
        records = run(tasks, workers, "open6dor-files")
        out.write_text(json.dumps(records, indent=1))
        report(records, time.perf_counter() - start, workers, "Open6DOR task files", "placement_open6dor_files_")
        return 0
    for phrasing, prefix in phrasings.items():
        if chosen and chosen != phrasing:
            continue
        tasks = generate(count, phrasing=phrasing)
        start = time.perf_counter()
        records = run(tasks, workers, phrasing)
        seconds = time.perf_counter() - start
        path = out if phrasing == "workbench" else out.with_name(f"{out.stem}_{phrasing}{out.suffix}")
        path.write_text(json.dumps(records, indent=1))
        print(f"records in {path}")
        report(records, seconds, workers, f"{phrasing} phrasing", prefix)
        if phrasing == "open6dor":
            read = sum(r["cause"] != "parser" for r in records) / max(1, len(records))
            refused = [r["reason"] for r in records if r["cause"] == "parser"][:3]
            if refused:
                print("  not read: " + " | ".join(refused), file=sys.stderr)
            print(json.dumps({"name": "open6dor_phrasing_parse_rate", "value": round(read, 3), "target": 1.0,
                              "better": "higher"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
