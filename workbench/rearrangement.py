"""Running the generated rearrangement tasks as a benchmark: each task as a user would run it,
and the success per track with intervals. Used by `benchmarks/placement_tasks.py` and the
pick-and-place notebook; it sits above the device layer (it builds a CPU task context), so it is
not in `workbench.tasks`.
"""

from __future__ import annotations

from pathlib import Path

from workbench.tasks.rearrange.taskset import TRACKS, PlacementTask


def evaluate(task: PlacementTask, gif: Path | None = None) -> dict:
    """Run one task as a user would (parse, plan, execute, judge) and return its record: the task,
    success per metric, the failure cause and reason, moves, final pose and errors. A refused
    instruction is the parser's failure, not an exception. With `gif`, the task is rendered and
    its replay kept there."""
    import shutil
    import tempfile

    from workbench.contract.errors import InputError
    from workbench.hardware.local import standalone_context
    from workbench.tasks.rearrange.place import PlaceRequest, run

    record = {"scene": task.scene, "instruction": task.instruction, "track": task.track}
    from_file = task.scene.endswith(".json") and task.objects is not None  # an Open6DOR task file
    try:
        render = gif is not None
        request = (PlaceRequest(task_file=task.scene, objects=task.objects or "", render=render) if from_file
                   else PlaceRequest(instruction=task.instruction, scene=task.scene, render=render))
    except InputError as exc:
        return {**record, "success": False, "position": None, "rotation": None, "cause": "parser",
                "reason": str(exc), "moves": 0}
    folder = tempfile.mkdtemp(prefix="workbench-place-")
    try:
        r = run(request, standalone_context(workdir=folder))
        if gif is not None and "gif" in r.files:
            gif.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(r.files["gif"], gif)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {**record, "success": r.success, "position": r.position_success, "rotation": r.rotation_success,
            "cause": r.cause, "reason": r.reason, "moves": r.moves, "rotation_error": r.rotation_error,
            "relations": r.relations, "final_pose": r.final_poses[r.goal["object"]], "disturbed": r.disturbed}


def open6dor_tasks(folder: str | Path, objects: str = "") -> list[PlacementTask]:
    """Every Open6DOR task file (`task_config*.json`) under `folder`, as tasks to `evaluate` (`objects`:
    the benchmark's asset folder). A file that cannot be read stays in the list: it fails as the
    parser's failure, with its sentence, as a refused instruction does."""
    from workbench.contract.errors import InputError
    from workbench.tasks.rearrange.instruction import parse
    from workbench.tasks.rearrange.open6dor import load_task

    tasks = []
    for path in sorted(Path(folder).rglob("task_config*.json")):
        try:
            scene, text, target = load_task(path, objects or None)
            track = parse(text, scene, subject=target).track
        except InputError:
            text, track = "", "position"
        tasks.append(PlacementTask(str(path), text, track, objects=objects))
    return tasks


def summarise(records: list[dict]) -> dict[str, dict]:
    """Success per track with 95% Wilson intervals, and failure causes."""
    from collections import Counter

    from workbench.tasks.grasping.metrics import wilson_interval

    out = {}
    for track in TRACKS:
        rows = [r for r in records if r["track"] == track]
        wins = sum(r["success"] for r in rows)
        low, high = wilson_interval(wins, len(rows))
        out[track] = {"tasks": len(rows), "success": wins / max(1, len(rows)), "ci_low": low, "ci_high": high,
                      "causes": dict(Counter(r["cause"] for r in rows if not r["success"]))}
    return out
