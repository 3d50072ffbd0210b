"""Recorded motion for interactive 3D replays: poses and contacts read from a MuJoCo world at the
moments its GIF frames are taken, written as JSON the widgets' three.js views play back.

Poses are row-major 4x4 lists in metres, rounded to 0.01 mm; the gripper is drawn as its collision
boxes (palm and pads), which is what the physics saw.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

#: the gripper's collision boxes, as every workbench gripper names them
GRIPPER_BOXES = ("palm", "pad_left", "pad_right")


def pose(position: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = np.asarray(rotation).reshape(3, 3), position
    return out


def flat(matrix: np.ndarray) -> list[float]:
    return [round(float(v), 5) for v in np.asarray(matrix).ravel()]


def box_ids(model: Any) -> list[int]:
    import mujoco

    return [int(mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, n)) for n in GRIPPER_BOXES]


def boxes(model: Any, ids: list[int]) -> list[dict]:
    """The gripper's boxes: name and full size (m)."""
    return [{"name": n, "size": [round(float(v), 5) for v in 2 * model.geom_size[g]]}
            for n, g in zip(GRIPPER_BOXES, ids, strict=True)]


def box_poses(data: Any, ids: list[int]) -> list[np.ndarray]:
    return [pose(data.geom_xpos[g], data.geom_xmat[g]) for g in ids]


def contacts(data: Any, some: Iterable[int], others: Iterable[int]) -> list[np.ndarray]:
    """Where geoms of `some` touch geoms of `others` now (world positions)."""
    a, b = set(some), set(others)
    out = []
    for c in data.contact[: data.ncon]:
        pair = {int(c.geom1), int(c.geom2)}
        if pair & a and pair & b:
            out.append(c.pos.copy())
    return out


def point(transform: np.ndarray, p: np.ndarray) -> list[float]:
    return [round(float(v), 5) for v in (transform @ np.append(p, 1.0))[:3]]
