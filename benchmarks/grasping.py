"""Grasp-trial throughput against a bare MuJoCo loop.

One run: the bound is a bare loop over the same compiled world, stepping the same number
of physics steps per trial as the full protocol (reset, place, N x mj_step), with no
workbench code. Workbench runs the `grasp` task through a local device with the same
successful pose repeated (so every trial runs the full protocol: place, close, lift,
shake), on 1 and on 2 worker processes (the pool is warmed first).

Then the easy-object success rates with the default gripper, friction and sampler (target
90%: a 5 cm cube, a 6 cm can, a 3 cm ball), and the agreement of MuJoCo's outcomes with FleX's
labels over every grasp of ACRONYM's table in `../shared/data/acronym/` (or the labelled ACRONYM
file `BENCH_GRASP_FILE` names; its mesh under the file's folder or one above it), target 85%,
with both classes: recall of FleX's good grasps and specificity on its bad ones.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N = int(os.environ.get("BENCH_TRIALS", "80"))


def main() -> int:
    os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix="wb-bench-"))
    from workbench.scheduling import registry
    from workbench.tasks.grasping.grasp import GraspRequest
    from workbench.tasks.grasping.gripper import get_gripper, rotation_to_quat
    from workbench.tasks.grasping.objects import make_object
    from workbench.tasks.grasping.sampler import frame
    from workbench.tasks.grasping.simulate import Protocol, world_xml

    # after workbench's grasping package, which picks the offscreen GL back-end before mujoco loads
    mujoco = importlib.import_module("mujoco")

    gripper, protocol = get_gripper("franka"), Protocol()
    obj = make_object("box:0.05,0.08,0.1")
    pose = frame(np.zeros(3), np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), gripper, depth=0.9)

    model = mujoco.MjModel.from_xml_string(world_xml(obj, gripper, protocol))
    data = mujoco.MjData(model)
    steps = protocol.steps()
    t0 = time.perf_counter()
    for _ in range(N):
        mujoco.mj_resetData(model, data)
        data.mocap_pos[0] = pose[:3, 3]
        data.mocap_quat[0] = rotation_to_quat(pose[:3, :3])
        data.qpos[7:10] = pose[:3, 3]  # the welded base starts on its target, as in a trial
        data.qpos[10:14] = data.mocap_quat[0]
        data.ctrl[:] = gripper.force
        for _ in range(steps):
            mujoco.mj_step(model, data)
    bare = N / (time.perf_counter() - t0)

    cpu = registry.get("cpu")
    poses = tuple(tuple(pose.ravel()) for _ in range(N))

    def run(workers: int) -> float:
        req = GraspRequest(object="box:0.05,0.08,0.1", num_grasps=N, poses=poses, workers=workers, render=())
        t0 = time.perf_counter()
        result = cpu.submit("grasp", req).result(900)
        assert result.success_rate == 1.0, result.stage_counts
        return N / (time.perf_counter() - t0)

    run(2)  # warm the worker pool (process start-up is paid once per session)
    one = run(1)
    two = run(2)
    print(f"{N} trials x {steps} steps: bare MuJoCo {bare:.1f} trials/s, workbench 1 worker {one:.1f}/s, "
          f"2 workers {two:.1f}/s", file=sys.stderr)
    print(json.dumps({"name": "grasp_trials_vs_bare_mujoco_1_worker", "value": round(one / bare, 3),
                      "target": 0.8, "better": "higher"}))
    print(json.dumps({"name": "grasp_trials_2_workers_vs_1", "value": round(two / one, 3), "target": 1.7,
                      "better": "higher"}))
    easy = {"cube_5cm": "box:0.05,0.05,0.05", "can_6cm": "cylinder:0.03,0.12", "ball_3cm": "sphere:0.015"}
    for name, spec in easy.items():
        r = cpu.submit("grasp", GraspRequest(object=spec, num_grasps=N, seed=0, workers=2, render=())).result(900)
        print(f"{name}: {r.success_rate:.0%} (95% CI {r.ci_low:.0%}-{r.ci_high:.0%}), failures {r.stage_counts}",
              file=sys.stderr)
        print(json.dumps({"name": f"grasp_success_{name}", "value": round(r.success_rate, 3), "target": 0.9,
                          "better": "higher"}))
    # ACRONYM's own file, every grasp, in ACRONYM's frame (../shared/data, or BENCH_GRASP_FILE for another)
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "acronym" / "grasps"
    labelled = os.environ.get("BENCH_GRASP_FILE") or next(iter(sorted(shared.glob("*.h5"))), None)
    if labelled:
        t0 = time.perf_counter()
        r = cpu.submit("grasp", GraspRequest(grasps=str(labelled), workers=2, render=())).result(3600)
        a = r.agreement
        print(f"{Path(labelled).name}: {a.summary()}; {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        print(json.dumps({"name": "acronym_flex_agreement", "value": round(a.accuracy, 3), "target": 0.85,
                          "better": "higher"}))
        print(json.dumps({"name": "acronym_flex_recall_of_good_grasps", "value": round(a.recall, 3),
                          "target": 0.85, "better": "higher"}))
        print(json.dumps({"name": "acronym_flex_specificity_of_bad_grasps",
                          "value": round(a.true_negative / max(1, a.true_negative + a.false_positive), 3),
                          "target": 0.8, "better": "higher"}))
    else:
        print("no ACRONYM file: ../shared/data/acronym/ is missing and BENCH_GRASP_FILE is not set", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
