"""Offscreen pictures of a trial: a PNG of the grasp, a short GIF of the whole protocol, and the
motion behind the GIF's frames (object and gripper poses, contacts) for an interactive 3D replay.

Rendering replays the trial in its own world (the physics is deterministic, so the replay
is the trial) and grabs frames at a fixed rate. Rendering needs an offscreen GL back-end
(`MUJOCO_GL=egl` or `osmesa`); without one, the caller gets a sentence, not a failure.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from workbench.tasks import motion
from workbench.tasks.grasping.simulate import Trial


def _camera(trial: Trial, pose: np.ndarray):
    import mujoco

    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.lookat[:] = pose[:3, 3] * 0.5
    cam.distance = 0.55
    cam.azimuth, cam.elevation = 135, -20
    return cam


def _motion_frame(trial: Trial, data, ids: list[int]) -> dict:
    """One frame of the replay: world poses of the object and the gripper's boxes, and where the object
    touches the gripper."""
    return {"object": motion.pose(data.xpos[trial.object_body], data.xmat[trial.object_body]),
            "boxes": motion.box_poses(data, ids),
            "contacts": motion.contacts(data, trial.object_geoms, trial.gripper_geoms)}


def motion_record(trial: Trial, frames: list[dict], ids: list[int], fps: float) -> dict:
    """The replay as JSON: every pose relative to the object's starting pose (the frame the widget draws
    the object and its grasps in)."""
    to_start = np.linalg.inv(frames[0]["object"]) if frames else np.eye(4)
    return {"format": "workbench-trial-motion/1", "fps": fps, "boxes": motion.boxes(trial.model, ids),
            "frames": [{"object": motion.flat(to_start @ f["object"]),
                        "boxes": [motion.flat(to_start @ b) for b in f["boxes"]],
                        "contacts": [motion.point(to_start, p) for p in f["contacts"]]} for f in frames]}


def render_trial(trial: Trial, index: int, pose: np.ndarray, width: float, out_dir: Path, *,
                 fps: int = 15, size: tuple[int, int] = (320, 240)) -> dict[str, Path]:
    """Replay trial `index` and write `trial_<i>.png` (the grasp) and `trial_<i>.gif` (the protocol)."""
    import os

    import imageio.v3 as iio
    import mujoco

    if not os.environ.get("MUJOCO_GL") and not os.environ.get("DISPLAY"):
        # mujoco was imported before workbench could choose EGL, and there is no screen for GLFW
        raise RuntimeError("no offscreen GL back-end: set MUJOCO_GL=egl before mujoco is imported")

    renderer = mujoco.Renderer(trial.model, height=size[1], width=size[0])
    frames: list[np.ndarray] = []
    moved: list[dict] = []  # what each frame shows, for the widget's interactive 3D replay
    boxes = motion.box_ids(trial.model)
    cam = _camera(trial, pose)
    every = max(1, int(round(1.0 / (fps * trial.protocol.timestep))))
    counter = [0]
    original_step = trial.mj.mj_step

    def recording_step(model, data, nstep: int = 1) -> None:
        for _ in range(nstep):
            original_step(model, data)
            counter[0] += 1
            if counter[0] % every == 0:
                cam.lookat[:] = data.xpos[trial.object_body]
                renderer.update_scene(data, camera=cam)
                frames.append(renderer.render().copy())
                moved.append(_motion_frame(trial, data, boxes))

    class _Recorder:  # the trial calls self.mj.mj_step: route it through the recorder
        def __getattr__(self, name):
            return recording_step if name == "mj_step" else getattr(mujoco, name)

    trial.mj = _Recorder()
    try:
        outcome = trial.run(index, pose, width)
    finally:
        trial.mj = mujoco
        renderer.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    if frames:
        png = out_dir / f"trial_{index}.png"
        iio.imwrite(png, frames[min(len(frames) - 1, int(0.45 * fps))])
        gif = out_dir / f"trial_{index}.gif"
        iio.imwrite(gif, np.stack(frames[::2]), duration=int(2000 / fps), loop=0)
        files = {f"trial_{index}_png": png, f"trial_{index}_gif": gif}
        moves = out_dir / f"trial_{index}_motion.json"  # the same frames as the GIF's
        moves.write_text(json.dumps(motion_record(trial, moved[::2], boxes, fps / 2)))
        files[f"trial_{index}_motion"] = moves
    del outcome
    return files
