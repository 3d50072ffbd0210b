"""Grasps out: ACRONYM-compatible HDF5 and NumPy.

The HDF5 layout is the one ACRONYM's loaders read: `grasps/transforms` (N x 4 x 4, the
gripper pose in the object frame), `grasps/qualities/flex/object_in_gripper` (N, the
success flags; the "flex" key is kept for compatibility although the physics here is
MuJoCo), and `object/file`, `object/scale`, `object/mass`. Workbench's own per-trial
records go under `grasps/qualities/workbench/`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workbench.tasks.grasping.simulate import STAGES, TrialOutcome


def write_acronym(path: Path, poses: np.ndarray, trials: list[TrialOutcome], *, mesh_file: str, scale: float,
                  mass: float, friction: float) -> Path:
    import h5py

    with h5py.File(path, "w") as f:
        f["grasps/transforms"] = poses.astype(np.float64)
        f["grasps/qualities/flex/object_in_gripper"] = np.array([t.success for t in trials], dtype=np.int64)
        q = f.create_group("grasps/qualities/workbench")
        q["stage"] = np.array([STAGES.index(t.stage) + 1 if t.stage else 0 for t in trials], dtype=np.int64)
        q["stage"].attrs["names"] = "0: success, " + ", ".join(f"{i + 1}: {s}" for i, s in enumerate(STAGES))
        q["slip"] = np.array([t.slip for t in trials])
        q["contacts"] = np.array([t.contacts for t in trials], dtype=np.int64)
        q["width"] = np.array([t.width for t in trials])
        f["object/file"] = mesh_file
        f["object/scale"] = float(scale)
        f["object/mass"] = float(mass)
        f["object/friction"] = float(friction)
    return path


def write_numpy(path: Path, poses: np.ndarray, trials: list[TrialOutcome]) -> Path:
    np.savez(path, transforms=poses, success=np.array([t.success for t in trials]),
             stage=np.array([t.stage for t in trials]), slip=np.array([t.slip for t in trials]),
             contacts=np.array([t.contacts for t in trials]), width=np.array([t.width for t in trials]))
    return path
