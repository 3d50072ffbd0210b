"""The result store under faults: kill -9 at random moments, and hostile inputs at every door.

1. **Kill harness** (`kill_harness`): a child process submits jobs to the CPU in a loop (half of
   them awaited, so records are written at submit, while running and when finished) and is killed
   with SIGKILL after a random delay. After each kill the store is opened as a new process would:
   every `record.json` must be a whole job record, every job the child announced must have one,
   and whatever a kill left half-made (a folder without a record, a job left running by the dead
   process, a working folder) must be reported by `ResultStore.doctor`. A record that is unreadable,
   or an announced job without a record, is *lost*.
2. **Hostile inputs** (`hostile_inputs`): generated odd text (lone surrogates, NUL, right-to-left
   marks, megabyte strings, NaN) at the Python API of every text-taking task; each must be refused
   with one sentence (InputError) or run to a clean end, and the next plain job of the same
   process and the store's write lock must be free afterwards. Anything else is *unclean*.

Prints `{"name": "kill9_records_lost", ...}` and `{"name": "hostile_inputs_unclean", ...}` (target
0 each). `BENCH_KILLS` sets the number of kills (default 200).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import sys
from workbench import api
i = 0
while True:
    job = api.submit("count", steps=3, delay=0.002, device="cpu")
    print(job.id, flush=True)
    if i % 2 == 0:
        job.result(60)
    i += 1
"""


def _announced(stdout: str) -> list[str]:
    return [line.strip() for line in stdout.splitlines() if line.strip()]


def kill_harness(home: Path, kills: int, seed: int = 0, max_delay: float = 1.5) -> dict[str, int]:
    """Kill a submitting process `kills` times; returns counts: kills, jobs announced, records read,
    lost (unreadable records + announced jobs without one), reported (what `doctor` found and said)."""
    from workbench.jobs.store import ResultStore

    rng = random.Random(seed)
    env = {**os.environ, "WORKBENCH_HOME": str(home), "WORKBENCH_ISOLATE": "native"}
    totals = {"kills": 0, "announced": 0, "records": 0, "lost": 0, "reported": 0}
    announced: list[str] = []
    for _ in range(kills):
        child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True, env=env)
        first = child.stdout.readline()  # imports done, the loop has begun: kill anywhere in it from now on
        time.sleep(rng.uniform(0.0, max_delay))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        totals["kills"] += 1
        announced += _announced(first + out)
    store = ResultStore(home)  # what the next process finds
    reported = store.doctor(clean=True, min_age=0.0)  # every child is dead: nothing is being written
    totals["reported"] = len(reported)
    totals["announced"] = len(announced)
    readable = set()
    for folder in sorted((home / "jobs").iterdir()):
        record = folder / "record.json"
        if not record.exists():
            continue  # doctor reported it (and removed it if it held nothing)
        try:
            data = json.loads(record.read_text())
            assert isinstance(data, dict) and data.get("id") == folder.name
            readable.add(folder.name)
        except (ValueError, AssertionError):
            totals["lost"] += 1
    totals["records"] = len(readable)
    totals["lost"] += sum(1 for job_id in announced if job_id not in readable)
    for row in store.list():  # every job left unfinished by a dead process reads as failed, with why
        if row["state"] in ("queued", "running"):
            totals["lost"] += 1
    store.close()
    return totals


def hostile_texts() -> list[str]:
    """Odd text a careless user or a hostile participant types or pastes."""
    return ["CCO na\udcffme", "CCO na\x00me", "CCO \u202eemaN", "C" * 2_000_001, "\udcff", "\x00", "nan",
            "CCO " + "\u200f" * 50, "CCO ethanol\n\n\n", "C1CC" + "(" * 5000, "🧪", "\ud800\udc00"]


def hostile_inputs() -> dict[str, int]:
    """Each odd text through every task's text fields; returns cases tried and unclean outcomes."""
    import workbench as wb
    from workbench.contract.errors import InputError, WorkbenchError
    from workbench.jobs.store import default_store

    cases = []
    for text in hostile_texts():
        cases += [("conformers", {"smiles": (text,), "num_conformers": 2}),
                  ("conformers", {"smiles": ("CCO",), "names": (text,), "num_conformers": 2}),
                  ("fold", {"sequences": (text,), "tiny": True}),
                  ("complex", {"proteins": (text,), "tiny": True}),
                  ("place", {"instruction": text}),
                  ("grasp", {"object": text, "num_grasps": 1, "render": ()}),
                  ("text-to-image", {"prompt": text, "tiny": True, "steps": 1, "width": 64, "height": 64}),
                  ("count", {"steps": float("nan")})]
    unclean = 0
    for task, fields in cases:
        try:
            job = wb.submit(task, device="cpu", **fields)
            job.wait(300)
            state = job.state.value
            reason = job.reason or ""
            ok = state in ("succeeded", "failed", "cancelled") and "\n" not in reason and "Traceback" not in reason
        except InputError as exc:
            ok = "\n" not in str(exc) and len(str(exc)) < 2000
        except WorkbenchError as exc:
            ok = "\n" not in str(exc)
        except Exception as exc:  # a traceback where a sentence belongs
            print(f"  {task} {str(fields)[:80]}: {type(exc).__name__}: {exc}"[:300], file=sys.stderr)
            ok = False
        if not ok:
            unclean += 1
    # the process and the store still work for the next person
    after = wb.run("count", steps=2, delay=0.0, device="cpu")
    store = default_store()
    if after is None or store._db.in_transaction:
        unclean += 1
    return {"cases": len(cases), "unclean": unclean}


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="wb-faults-"))
    kills = int(os.environ.get("BENCH_KILLS", "200"))
    t0 = time.perf_counter()
    totals = kill_harness(home / "kills", kills)
    print(f"kill -9 x {totals['kills']} while submitting: {totals['announced']} jobs announced, {totals['records']} "
          f"records read back, {totals['reported']} leftovers reported by doctor, {totals['lost']} lost "
          f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    print(json.dumps({"name": "kill9_records_lost", "value": totals["lost"], "target": 0, "better": "lower"}))
    os.environ["WORKBENCH_HOME"] = str(home / "hostile")
    hostile = hostile_inputs()
    print(f"hostile inputs: {hostile['cases']} cases, {hostile['unclean']} unclean", file=sys.stderr)
    print(json.dumps({"name": "hostile_inputs_unclean", "value": hostile["unclean"], "target": 0,
                      "better": "lower"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
