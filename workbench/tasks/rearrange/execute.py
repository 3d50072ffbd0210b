"""Carry out a plan in MuJoCo with the free-floating hand, stage by stage.

Per move: approach (above the pick, back along the approach, in), close, lift, carry at a safe
height while turning to the place orientation, descend, release a few millimetres above the
resting height, back off, and at the end let the scene settle. `stage(name)` is called before
each stage (progress and cancel live there); if the object is not between both finger pads
after the lift or before the release, the move stops with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from workbench.tasks.rearrange.plan import RETREAT, Move
from workbench.tasks.rearrange.world import HOME, TableWorld

SAFE_Z = 0.36  #: m: the hand's origin carries objects this high (a held 16 cm bar clears the table)
LIFT = 0.08  #: m straight up after closing, before anything else moves

STAGES = ("approach", "grasp", "lift", "carry", "place", "release", "retreat")  #: per move


@dataclass
class Execution:
    ok: bool
    stage: str = ""  #: where it stopped, when not ok
    reason: str = ""


def _at(pose: np.ndarray, z: float | None = None, xy: np.ndarray | None = None) -> np.ndarray:
    out = pose.copy()
    if z is not None:
        out[2, 3] = z
    if xy is not None:
        out[:2, 3] = xy
    return out


def _back(pose: np.ndarray, distance: float = RETREAT) -> np.ndarray:
    out = pose.copy()
    out[:3, 3] -= pose[:3, 2] * distance
    return out


def finish(world: TableWorld) -> None:
    """Take the hand home and let the scene settle."""
    home = world.target.copy()
    home[:3, 3] = HOME
    world.move(_at(world.target, z=SAFE_Z))
    world.move(home)
    world.settle(0.8)


def execute(world: TableWorld, move: Move, stage: Callable[[str], None]) -> Execution:
    """Carry out one move; `stage(name)` is called as each stage starts."""
    pick, place = move.pick, move.place
    stage("approach")
    world.move(_at(world.target, z=SAFE_Z))
    above = _at(_back(pick), z=SAFE_Z)
    world.move(above, speed=0.4)
    world.move(_back(pick), speed=0.3)
    world.move(pick, speed=0.12)
    stage("grasp")
    world.close(0.6)
    if world.touching_pads(move.object) < 2:
        return Execution(False, "grasp", f"the fingers closed but the {move.object} is not between both pads")
    stage("lift")
    world.move(_at(pick, z=pick[2, 3] + LIFT), speed=0.15)
    world.move(_at(world.target, z=max(SAFE_Z, world.target[2, 3])), speed=0.25)
    if world.touching_pads(move.object) < 2:
        return Execution(False, "lift", f"the {move.object} slipped out of the hand during the lift")
    stage("carry")
    world.move(_at(_back(place), z=max(SAFE_Z, _back(place)[2, 3])), speed=0.3, turn_speed=1.5)
    world.settle(0.2)
    stage("place")
    world.move(_back(place), speed=0.25)
    world.move(place, speed=0.1)
    if world.touching_pads(move.object) < 2:
        return Execution(False, "place", f"the {move.object} slipped out of the hand while it was carried")
    stage("release")
    world.open(0.4)
    stage("retreat")
    world.move(_back(place), speed=0.15)
    world.move(_at(world.target, z=max(SAFE_Z, world.target[2, 3])), speed=0.3)
    world.settle(0.3)
    return Execution(True)
