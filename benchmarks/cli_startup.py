"""How long the `workbench` command takes to answer, in fresh processes as a user runs it.

`--help`, `jobs list` (over a store of 74 finished jobs of several tasks, results summarised),
`devices` (answered from the last discovery with the same set-up) and `models list`: the median
of 10 runs each. Heavy libraries (torch, RDKit, trimesh) are imported only where a task runs, so
these answer in a fraction of a second; before, each took 3.5-6.5 s. `python -c pass` is measured
in the same run as the floor no command can beat.

    python benchmarks/cli_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_S = 0.5


def seconds(args: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def fill_store(env: dict[str, str]) -> None:
    """74 finished jobs of four kinds of result, and one discovery published, as after a day's work."""
    code = ("import workbench as wb\n"
            "if __name__ == '__main__':\n"
            "    wb.devices()\n"
            "    for i in range(60): wb.run('count', steps=1, device='cpu')\n"
            "    for i in range(10): wb.run('selftest', dtypes=('float32',), batch=1, seq_len=4, device='cpu')\n"
            "    for i in range(4): wb.run('conformers', smiles=('CCO ethanol',), num_conformers=2, device='cpu')\n")
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=600)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    a = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "WORKBENCH_HOME": home}
        fill_store(env)
        wb = [sys.executable, "-m", "workbench"]
        floor = seconds([sys.executable, "-c", "pass"], env, a.runs)
        figures = {
            "cli_help_seconds": seconds([*wb, "--help"], env, a.runs),
            "cli_jobs_list_seconds": seconds([*wb, "jobs", "list"], env, a.runs),
            "cli_devices_seconds": seconds([*wb, "devices"], env, a.runs),
            "cli_models_list_seconds": seconds([*wb, "models", "list"], env, a.runs),
        }
    print(f"python -c pass: {floor:.3f} s (median of {a.runs})", file=sys.stderr)
    for name, value in figures.items():
        print(json.dumps({"name": name, "value": round(value, 3), "target": TARGET_S, "better": "lower"}))


if __name__ == "__main__":
    main()
