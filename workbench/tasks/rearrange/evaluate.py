"""Judge the final scene against the goal, as the open-instruction 6-DoF benchmarks do.

Position (every relation must hold, judged on footprint centres in the final scene, so a
bumped reference counts as it ends up):
- left of / right of / in front of / behind B: the object's centre is at least `min_gap`
  beyond B's centre along that direction, and within the 90-degree sector around it (farther
  along the direction than across it); it rests on the table (not on top of something);
- between A and B: its centre projects onto the segment A-B between 20% and 80% of the way,
  within `lateral` of the line;
- at the centre of the table: within `centre_radius` of the table's centre;
- at the centre of all the objects: inside the box the other objects' centres span, by `min_inside`;
- on top of B: its lowest point within `stack` of B's top and its centre over B's footprint.
Rotation: the object's up axis within `rotation_tolerance` degrees of the goal (level for
"on its side"); a part turned to a side of an upright object (a handle, a spout) also needs the
part's heading within `handle_tolerance` degrees of that side; a part that points a way by
itself (a cap left while the bottle lies, an opening up) within `rotation_tolerance`.
6-DoF: both.

Beside its own verdict, each position is also judged by Open6DOR's rules (`open6dor_position`):
centres compared along the relation's axis with no gap, "between" inside the span of the two
references along either axis, the centre of all objects inside their box, "on top" at least as
high, so a result reads against the benchmark's published figures too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.tasks.rearrange.instruction import Goal, Relation
from workbench.tasks.rearrange.plan import (
    centre,
    footprint,
    heading_error,
    part_goal,
    rotation_error,
    stays_upright,
    tilt,
)
from workbench.tasks.rearrange.scene import Scene


@dataclass(frozen=True)
class Tolerances:
    min_gap: float = 0.02  #: m beyond the reference's centre
    min_inside: float = 0.005  #: m inside the box of the others' centres, for "the centre of all the objects"
    lateral: float = 0.06  #: m off the line for "between"
    centre_radius: float = 0.06  #: m
    stack: float = 0.02  #: m
    resting: float = 0.015  #: m: the lowest point at most this far above the table counts as on the table
    rotation_tolerance: float = 20.0  #: degrees
    handle_tolerance: float = 30.0  #: degrees


@dataclass
class Verdict:
    position: bool | None  #: None when the goal has no relation
    rotation: bool | None  #: None when the goal has no rotation
    success: bool
    relations: list[dict]  #: per relation: kind, anchors, held, and the numbers it was judged on
    rotation_error: float  #: degrees (0 without a rotation goal)
    moved: list[str]  #: other objects pushed more than 2 cm
    open6dor_position: bool | None = None  #: the same relations by Open6DOR's rules (None: no relation)


def _relation(rel: Relation, scene: Scene, name: str, poses: dict[str, np.ndarray], tol: Tolerances) -> dict:
    c = centre(scene, name, poses[name])
    low, _ = footprint(scene, name, poses[name])
    out: dict = {"kind": rel.kind, "anchors": list(rel.anchors)}
    if rel.kind == "centre":
        distance = float(np.linalg.norm(c[:2]))
        out.update(held=distance <= tol.centre_radius, distance_m=round(distance, 4))
        return out
    if rel.kind == "centre_of_objects":
        spots = np.array([centre(scene, n, poses[n])[:2] for n in rel.anchors])
        inside = float(min((c[:2] - spots.min(axis=0)).min(), (spots.max(axis=0) - c[:2]).min()))
        out.update(held=inside >= tol.min_inside, inside_m=round(inside, 4))
        return out
    if rel.kind == "between":
        a, b = (centre(scene, n, poses[n])[:2] for n in rel.anchors)
        line = b - a
        t = float((c[:2] - a) @ line / (line @ line))
        off = float(abs(np.cross(line / np.linalg.norm(line), c[:2] - a)))
        out.update(held=0.2 <= t <= 0.8 and off <= tol.lateral, fraction=round(t, 3), off_line_m=round(off, 4))
        return out
    anchor = rel.anchors[0]
    lo, hi = footprint(scene, anchor, poses[anchor])
    if rel.kind == "on_top_of":
        gap = float(low[2] - hi[2])
        over = bool(lo[0] <= c[0] <= hi[0] and lo[1] <= c[1] <= hi[1])
        out.update(held=abs(gap) <= tol.stack and over, gap_m=round(gap, 4), over=over)
        return out
    d = c[:2] - (lo[:2] + hi[:2]) / 2
    direction = {"left_of": (-1, 0), "right_of": (1, 0), "in_front_of": (0, -1), "behind": (0, 1)}[rel.kind]
    along = float(d @ np.array(direction))
    across = float(abs(d @ np.array(direction[::-1])))
    on_table = bool(low[2] <= tol.resting)
    out.update(held=along >= tol.min_gap and along > across and on_table, along_m=round(along, 4),
               across_m=round(across, 4), on_table=on_table)
    return out


def judge(goal: Goal, scene: Scene, before: dict[str, np.ndarray], after: dict[str, np.ndarray],
          tol: Tolerances = Tolerances()) -> Verdict:
    relations = [_relation(rel, scene, goal.object, after, tol) for rel in goal.relations]
    position = all(r["held"] for r in relations) if relations else None
    axes = scene.get(goal.object).axes()
    error = rotation_error(goal.rotation, after[goal.object][:3, :3], axes) if goal.rotation else 0.0
    rotation = None
    if goal.rotation:
        part = part_goal(goal.rotation)
        if part and stays_upright(*part, axes):  # upright within the rotation tolerance, heading within its own
            r = after[goal.object][:3, :3]
            rotation = (tilt(r, axes) <= tol.rotation_tolerance
                        and heading_error(goal.rotation, r, axes) <= tol.handle_tolerance)
        else:
            rotation = error <= tol.rotation_tolerance
    moved = [n for n in before if n != goal.object
             and np.linalg.norm(after[n][:3, 3] - before[n][:3, 3]) > 0.02]
    success = all(v for v in (position, rotation) if v is not None)
    theirs = all(open6dor_relation(rel, scene, goal.object, after) for rel in goal.relations) \
        if goal.relations else None
    return Verdict(position, rotation, success, relations, round(error, 2), moved, theirs)


def open6dor_relation(rel: Relation, scene: Scene, name: str, poses: dict[str, np.ndarray]) -> bool:
    """A relation as Open6DOR's evaluation judges it: footprint centres compared, no gap, no sector."""
    c = centre(scene, name, poses[name])
    refs = np.array([centre(scene, n, poses[n]) for n in rel.anchors]) if rel.anchors else np.zeros((0, 3))
    if rel.kind == "centre":
        return bool(np.linalg.norm(c[:2]) <= Tolerances().centre_radius)
    if rel.kind in ("between", "centre_of_objects"):
        lo, hi = refs[:, :2].min(axis=0), refs[:, :2].max(axis=0)
        within = (lo < c[:2]) & (c[:2] < hi)
        return bool(within.any() if rel.kind == "between" else within.all())
    ref = refs[0]
    axis, sign = {"left_of": (0, -1), "right_of": (0, 1), "in_front_of": (1, -1), "behind": (1, 1),
                  "on_top_of": (2, 1)}[rel.kind]
    return bool(sign * (c[axis] - ref[axis]) > 0)
