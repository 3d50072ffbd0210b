"""From a goal to moves: the object's target pose, a grasp that works at both ends, a regrasp
when none does.

1. **Orientations** the goal allows: the object resting on one of its six local axes, turned
   about +z in 30-degree steps (or its current orientation, turned, when the goal keeps it),
   kept when its centre of mass lies over its support polygon (it would not tip over), ordered
   by how far they turn it.
2. **Places**: where the relations put the object's footprint centre (the reference's
   footprint plus a gap), with larger gaps and small sideways shifts as fall-backs; a place
   must be on the table and clear of every other object's footprint.
3. **Grasps**: antipodal grasps in the object's frame. A grasp works for a move when the open
   hand is clear of the table and of the other objects (MuJoCo's distance between geometries)
   at the pick, before it, at the place and after it, and approaches from above or the side at
   both ends. The best is the one whose approaches are most vertical and whose contact line
   passes nearest the centre of mass.
4. **Regrasp**: when no grasp carries the object to any allowed target, it is first put down
   near where it is in an intermediate resting orientation from which one does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.contract.errors import InputError
from workbench.tasks.grasping.gripper import GripperSpec
from workbench.tasks.rearrange.instruction import BASE_ROTATIONS, Goal
from workbench.tasks.rearrange.scene import TABLE, Scene
from workbench.tasks.rearrange.world import TableWorld

CLEAR = 0.003  #: m the open hand keeps from the table and other objects
RETREAT = 0.09  #: m the hand backs off along its approach before a pick and after a place
DROP = 0.004  #: m above its resting height an object is released
#: the highest an approach direction may point (z component): 0.35 is about 20 degrees above level
MAX_APPROACH_Z = 0.35


@dataclass
class Move:
    """One pick and place: the hand takes `object` at `grasp` (its pose in the object's frame)."""

    object: str
    grasp: np.ndarray
    start: np.ndarray  #: the object's pose when picked
    end: np.ndarray  #: its pose when released
    width: float
    offset: float  #: m from the contact line's middle to the centre of mass

    @property
    def pick(self) -> np.ndarray:
        return self.start @ self.grasp

    @property
    def place(self) -> np.ndarray:
        return self.end @ self.grasp


@dataclass
class Plan:
    moves: list[Move]
    target: np.ndarray  #: the object's final pose
    considered: dict[str, int] = field(default_factory=dict)  #: how many orientations, places, grasps were tried

    @property
    def regrasp(self) -> bool:
        return len(self.moves) > 1


class Unreachable(Exception):
    """No grasp carries the object to any pose the goal allows (the reason says which part failed)."""


def rot_z(degrees: float) -> np.ndarray:
    a = np.radians(degrees)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])


def _down_to(axis: np.ndarray) -> np.ndarray:
    """A rotation that turns `axis` (object frame) to point along -z."""
    from scipy.spatial.transform import Rotation

    r, _ = Rotation.align_vectors([[0.0, 0.0, -1.0]], [axis])
    return r.as_matrix()


def angle(a: np.ndarray, b: np.ndarray) -> float:
    """Degrees between two rotations."""
    return float(np.degrees(np.arccos(np.clip((np.trace(a.T @ b) - 1) / 2, -1, 1))))


def stable(vertices: np.ndarray, margin: float = 0.002, band: float = 0.003) -> bool:
    """Whether a body with its centre of mass at the origin rests on its lowest vertices (within
    `band`) without tipping: the origin lies inside their convex hull by `margin`."""
    low = vertices[vertices[:, 2] <= vertices[:, 2].min() + band][:, :2]
    if len(low) < 3:
        return False
    from scipy.spatial import ConvexHull, QhullError

    try:
        hull = ConvexHull(low)
    except QhullError:
        return False
    # each facet: normal . p + offset <= 0 inside; the origin is inside by -offset
    return bool((hull.equations[:, 2] < -margin).all())


def satisfies(rotation: str, r: np.ndarray, axes: dict[str, np.ndarray], tolerance: float) -> bool:
    """Whether orientation `r` meets the rotation goal within `tolerance` degrees."""
    return rotation_error(rotation, r, axes) <= tolerance


def tilt(r: np.ndarray, axes: dict[str, np.ndarray]) -> float:
    """Degrees between the object's up axis at orientation `r` and +z."""
    up = r @ axes["up"]
    return float(np.degrees(np.arccos(np.clip(up[2], -1, 1))))


#: where a part may point: a side of the table as the viewer sees it (front: towards the viewer), up, down
SIDES = {"left": (-1.0, 0.0, 0.0), "right": (1.0, 0.0, 0.0), "front": (0.0, -1.0, 0.0), "back": (0.0, 1.0, 0.0),
         "up": (0.0, 0.0, 1.0), "down": (0.0, 0.0, -1.0)}


def part_goal(rotation: str) -> tuple[str, str] | None:
    """(part, side) of a part goal such as 'handle_left' or 'opening_up'; None for a base goal."""
    part, _, side = rotation.rpartition("_")
    return (part, side) if rotation not in BASE_ROTATIONS and part and side in SIDES else None


def stays_upright(part: str, side: str, axes: dict[str, np.ndarray]) -> bool:
    """A part across the up axis turned to a side of the table (a handle, a spout): the object stays
    upright; a part along it (a cap, a tip) pointing sideways means the object lies."""
    return side not in ("up", "down") and "up" in axes and abs(float(axes[part] @ axes["up"])) < 0.5


def heading_error(rotation: str, r: np.ndarray, axes: dict[str, np.ndarray]) -> float:
    """Degrees between where the goal's part points at orientation `r` and the side it names."""
    part, side = part_goal(rotation) or ("", "")
    if part not in axes:
        raise ValueError(rotation)
    pointing = r @ axes[part]
    return float(np.degrees(np.arccos(np.clip(pointing @ np.array(SIDES[side]), -1, 1))))


def rotation_error(rotation: str, r: np.ndarray, axes: dict[str, np.ndarray]) -> float:
    """Degrees between orientation `r` and the rotation goal (0 for no goal; for a part turned to a side
    of an upright object, the larger of the tilt and the part's heading error)."""
    if not rotation:
        return 0.0
    tilted = tilt(r, axes) if "up" in axes else 0.0
    if rotation == "upright":
        return tilted
    if rotation == "upside_down":
        return 180.0 - tilted
    if rotation in ("on_side", "lying_flat"):
        return abs(tilted - 90.0)
    part, side = part_goal(rotation) or ("", "")
    if not part:
        raise ValueError(rotation)
    heading = heading_error(rotation, r, axes)
    return max(tilted, heading) if stays_upright(part, side, axes) else heading


def orientations(goal: Goal, scene: Scene, current: np.ndarray) -> list[np.ndarray]:
    """Resting orientations the goal allows, the least turn first."""
    placed = scene.get(goal.object)
    axes = placed.axes()
    verts = scene.grasp_objects[goal.object].mesh.vertices
    if not goal.rotation:  # keep which way is up; a turn about +z is allowed
        return [rot_z(yaw) @ current for yaw in (0, 30, -30, 60, -60, 90, -90, 120, -120, 150, -150, 180)]
    out = [r for r in resting(verts, 30) if satisfies(goal.rotation, r, axes, 1.0)]
    out.sort(key=lambda r: angle(r, current))
    return out


def resting(vertices: np.ndarray, step: int) -> list[np.ndarray]:
    """Orientations in which a body rests on one of its six local axes without tipping, turned
    about +z every `step` degrees."""
    out = []
    for axis in np.vstack([np.eye(3), -np.eye(3)]):
        base = _down_to(axis)
        if stable(vertices @ base.T):
            out += [rot_z(yaw) @ base for yaw in range(0, 360, step)]
    return out


def footprint(scene: Scene, name: str, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) corners of the object's axis-aligned box in the world at `pose`."""
    v = scene.grasp_objects[name].mesh.vertices @ pose[:3, :3].T + pose[:3, 3]
    return v.min(axis=0), v.max(axis=0)


def centre(scene: Scene, name: str, pose: np.ndarray) -> np.ndarray:
    """The centre of the object's footprint (what relations are judged on), x y z."""
    low, high = footprint(scene, name, pose)
    return (low + high) / 2


def outline(points: np.ndarray) -> np.ndarray:
    """The convex outline (counter-clockwise 2D vertices) of points' x and y."""
    from scipy.spatial import ConvexHull

    flat = points[:, :2]
    return flat[ConvexHull(flat).vertices]


def overlap(a: np.ndarray, b: np.ndarray, margin: float) -> bool:
    """Whether two convex outlines come closer than `margin` (separating axis test)."""
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        pa, pb = a @ normals.T, b @ normals.T
        if ((pa.max(axis=0) + margin < pb.min(axis=0)) | (pb.max(axis=0) + margin < pa.min(axis=0))).any():
            return False
    return True


#: sideways shifts (m) tried when the first place is taken; the relations still hold at each
SHIFTS = (0.0, 0.025, -0.025, 0.05, -0.05)
GAPS = (0.035, 0.05, 0.07, 0.09, 0.12)


def places(goal: Goal, scene: Scene, poses: dict[str, np.ndarray], r: np.ndarray) -> list[np.ndarray]:
    """Candidate positions (of the object's frame origin) for orientation `r`, best first: each on
    the table, clear of the other objects' outlines."""
    verts = scene.grasp_objects[goal.object].mesh.vertices @ r.T
    low, high = verts.min(axis=0), verts.max(axis=0)
    mid = (low + high) / 2  # footprint centre relative to the origin
    half = (high - low) / 2
    shape = outline(verts) - mid[:2]
    others = {n: p for n, p in poses.items() if n != goal.object}
    boxes = {n: footprint(scene, n, p) for n, p in others.items()}
    outlines = {n: outline(scene.grasp_objects[n].mesh.vertices @ p[:3, :3].T + p[:3, 3]) for n, p in others.items()}
    support, on_top = 0.0, None
    x_rel = [rel for rel in goal.relations if rel.kind in ("left_of", "right_of")]
    y_rel = [rel for rel in goal.relations if rel.kind in ("in_front_of", "behind")]
    xy_rel = [rel for rel in goal.relations if rel.kind in ("between", "centre", "centre_of_objects", "on_top_of")]
    here = centre(scene, goal.object, poses[goal.object])[:2]
    ring = [np.array((dx, dy)) for dx in SHIFTS for dy in SHIFTS]
    ring.sort(key=lambda v: float(np.linalg.norm(v)))
    if xy_rel:
        rel = xy_rel[0]
        if rel.kind == "centre":
            wanted = [v for v in ring if np.linalg.norm(v) <= 0.04]
        elif rel.kind == "centre_of_objects":  # the middle of the others, inside the box their centres span
            spots = np.array([centre(scene, n, poses[n])[:2] for n in rel.anchors])
            lo, hi, middle = spots.min(axis=0) + 0.01, spots.max(axis=0) - 0.01, spots.mean(axis=0)
            wanted = [middle + 2 * v for v in ring if ((lo < middle + 2 * v) & (middle + 2 * v < hi)).all()]
        elif rel.kind == "between":
            a, b = (centre(scene, n, poses[n])[:2] for n in rel.anchors)
            wanted = [(a + b) / 2 + v for v in ring if np.linalg.norm(v) <= 0.04]
        else:
            lo, hi = boxes[rel.anchors[0]]
            wanted = [(lo[:2] + hi[:2]) / 2]
            support, on_top = float(hi[2]), rel.anchors[0]
    elif x_rel or y_rel:
        def along(rel, axis: int) -> list[float]:
            lo, hi = boxes[rel.anchors[0]]
            sign = -1 if rel.kind in ("left_of", "in_front_of") else 1
            edge = lo[axis] if sign < 0 else hi[axis]
            return [edge + sign * (gap + half[axis]) for gap in GAPS]

        def across(rel, axis: int) -> list[float]:
            lo, hi = boxes[rel.anchors[0]]
            return [(lo[axis] + hi[axis]) / 2 + s for s in SHIFTS]

        xs = along(x_rel[0], 0) if x_rel else across(y_rel[0], 0)
        ys = along(y_rel[0], 1) if y_rel else across(x_rel[0], 1)
        wanted = [np.array((x, y)) for x in xs for y in ys]
        if not (x_rel and y_rel):  # nearest the ideal spot first: along the relation, then sideways
            first = np.array((xs[0], ys[0]))
            wanted.sort(key=lambda v: float(np.linalg.norm(v - first)))
    else:  # rotation only: about where it is
        wanted = [here + 1.6 * v for v in ring]
    out = []
    for xy in wanted:
        if abs(xy[0]) + half[0] > TABLE[0] - 0.01 or abs(xy[1]) + half[1] > TABLE[1] - 0.01:
            continue
        placed = shape + xy
        if any(overlap(placed, o, 0.012) for n, o in outlines.items() if n != on_top):
            continue
        out.append(np.array([xy[0] - mid[0], xy[1] - mid[1], support - low[2] + DROP]))
    return out


class Planner:
    def __init__(self, scene: Scene, world: TableWorld, gripper: GripperSpec, seed: int = 0, num_grasps: int = 96):
        self.scene, self.world, self.gripper = scene, world, gripper
        self.seed, self.num_grasps = seed, num_grasps
        self._grasps: dict[str, list[tuple[np.ndarray, float, float]]] = {}
        self.tried = {"orientations": 0, "places": 0, "grasp checks": 0}

    def grasps(self, name: str) -> list[tuple[np.ndarray, float, float]]:
        """Antipodal grasps of `name` in its own frame (pose, width, distance of the contact line's
        middle from the centre of mass), each with its contact line at
        the middle, two thirds and the end of the finger pads (a flat object on a table is only
        reachable with the fingertips), the nearest its centre of mass first."""
        if name not in self._grasps:
            from workbench.tasks.grasping.sampler import DEPTHS, antipodal

            obj = self.scene.grasp_objects[name]
            found = antipodal(obj, self.gripper, self.num_grasps, self.seed)
            if not obj.mesh.is_convex:  # also around the whole object: a mug across its body
                try:
                    found += antipodal(obj, self.gripper, self.num_grasps, self.seed + 1, across=True)
                except InputError:
                    pass
            g = self.gripper
            out = []
            for c in found:
                contact = c.pose[:3, 3] + c.pose[:3, 2] * g.contact_z(DEPTHS[0])
                for d in DEPTHS:
                    pose = c.pose.copy()
                    pose[:3, 3] = contact - c.pose[:3, 2] * g.contact_z(d)
                    out.append((pose, c.width, float(np.linalg.norm(contact))))
            out.sort(key=lambda gwo: gwo[2])
            self._grasps[name] = out
        return self._grasps[name]

    # ---- checks --------------------------------------------------------------------------------
    def _hand_clear(self, hand: np.ndarray, name: str, object_pose: np.ndarray) -> bool:
        """The open hand at `hand` with `name` at `object_pose`: clear of the table and other objects,
        and not inside the object itself; also clear when backed off along its approach."""
        if hand[2, 2] > MAX_APPROACH_Z:
            return False
        if self._lowest(hand) < CLEAR:
            return False
        self.tried["grasp checks"] += 1
        moved = {name: object_pose}
        if self.world.clearance(hand, ignore={name}, moved=moved) < CLEAR:
            return False
        others = set(self.scene.names()) - {name}
        if self.world.clearance(hand, ignore=others, moved=moved, reach=0.01) < 0.0005:
            return False
        back = hand.copy()
        back[:3, 3] -= hand[:3, 2] * RETREAT
        return self._lowest(back) >= CLEAR and self.world.clearance(back, moved=moved) >= CLEAR

    def _lowest(self, hand: np.ndarray) -> float:
        """The lowest point of the open hand's boxes at `hand` (the table top is z = 0)."""
        low = np.inf
        for c, h in self.gripper.boxes():
            corners = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * h + c
            low = min(low, float((corners @ hand[:3, :3].T + hand[:3, 3])[:, 2].min()))
        return low

    def _score(self, move: Move) -> float:
        """Lower is better: approaches near vertical at both ends, contact line near the centre of mass."""
        return float(move.pick[2, 2] + move.place[2, 2]) + 10 * move.offset

    def _move(self, name: str, start: np.ndarray, ends: list[np.ndarray], limit: int = 6,
              ends_limit: int = 12) -> Move | None:
        """The best move of `name` from `start` to one of the first `ends_limit` of `ends` that any
        grasp reaches: per end, the first `limit` grasps that work (nearest the centre of mass first);
        overall the best score, an end further down the list paying a little for its rank."""
        pickable = [(g, w, o) for g, w, o in self.grasps(name) if self._hand_clear(start @ g, name, start)]
        best, best_score, reached = None, np.inf, 0
        for rank, end in enumerate(ends):
            found = 0
            for g, w, o in pickable:
                if self._hand_clear(end @ g, name, end):
                    move = Move(name, g, start, end, w, o)
                    score = self._score(move) + 0.05 * rank
                    if score < best_score:
                        best, best_score = move, score
                    found += 1
                    if found >= limit:
                        break
            reached += bool(found)
            if reached >= ends_limit or (best is not None and rank >= 2 * ends_limit):
                break
        return best

    # ---- the plan --------------------------------------------------------------------------------
    def targets(self, goal: Goal, poses: dict[str, np.ndarray], limit: int = 40) -> list[np.ndarray]:
        """Target poses the goal allows (orientation x place), the least turn and nearest place first."""
        out = []
        for r in orientations(goal, self.scene, poses[goal.object][:3, :3]):
            self.tried["orientations"] += 1
            for origin in places(goal, self.scene, poses, r)[:8]:
                self.tried["places"] += 1
                pose = np.eye(4)
                pose[:3, :3], pose[:3, 3] = r, origin
                out.append(pose)
                if len(out) >= limit:
                    return out
        return out

    def plan(self, goal: Goal) -> Plan:
        poses = self.world.poses()
        start = poses[goal.object]
        ends = self.targets(goal, poses)
        if not ends:
            raise Unreachable(f"no free place on the table satisfies {'; '.join(goal.constraints())}")
        direct = self._move(goal.object, start, ends)
        if direct is not None:
            return Plan([direct], direct.end, dict(self.tried))
        # regrasp: put it down nearby in another resting orientation first
        axes_goal = Goal(goal.object, (), "", goal.text)
        for r in resting(self.scene.grasp_objects[goal.object].mesh.vertices, 45):
            for origin in places(axes_goal, self.scene, poses, r)[:3]:
                middle = np.eye(4)
                middle[:3, :3], middle[:3, 3] = r, origin
                first = self._move(goal.object, start, [middle], limit=2)
                if first is None:
                    continue
                second = self._move(goal.object, middle, ends, limit=2, ends_limit=2)
                if second is not None:
                    return Plan([first, second], second.end, dict(self.tried))
        raise Unreachable(f"no grasp of the {goal.object} reaches a pose that satisfies the goal, directly or "
                          f"after putting it down once ({self.tried['grasp checks']} hand poses checked)")
