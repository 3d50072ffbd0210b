"""Antipodal grasp sampling on the object's surface.

For a surface point p with outward normal n, a ray into the object finds the opposite
point q. The pair is a candidate when both contact normals lie inside the friction cone
around the closing line (half-angle atan(mu)), and the object there is narrower than the
gripper opens. The approach direction is drawn uniformly around the closing axis; the
candidate is kept only if the open gripper is collision-free there (checked in MuJoCo).
Same seed, same candidates.

A learned sampler is a plug-in of the same interface: `sample(obj, gripper, n, seed) ->
list[Candidate]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.contract.errors import InputError
from workbench.tasks.grasping.gripper import GripperSpec
from workbench.tasks.grasping.objects import GraspObject


@dataclass
class Candidate:
    pose: np.ndarray  #: 4x4 gripper pose in the object frame
    width: float  #: object extent between the contacts, m
    contacts: tuple[np.ndarray, np.ndarray]


#: where along the pads the contact line may sit (fraction of finger depth from the palm), deepest first
DEPTHS = (0.5, 0.7, 0.9)


def frame(center: np.ndarray, closing: np.ndarray, approach: np.ndarray, gripper: GripperSpec,
          depth: float = 0.5) -> np.ndarray:
    """The gripper pose (ACRONYM's Franka frame: closing along x, approaching along z) with the
    contact line at `center`, `depth` of the way along the finger pads (0: palm end, 1: tips)."""
    x = closing / np.linalg.norm(closing)
    z = approach - (approach @ x) * x
    z /= np.linalg.norm(z)
    y = np.cross(z, x)
    pose = np.eye(4)
    pose[:3, :3] = np.stack([x, y, z], axis=1)
    pose[:3, 3] = center - z * gripper.contact_z(depth)
    return pose


def antipodal(obj: GraspObject, gripper: GripperSpec, n: int, seed: int, *, max_tries: int | None = None,
              collision_free=None, across: bool = False) -> list[Candidate]:
    """`n` antipodal candidates. With `across`, the opposite contact is where the line leaves the
    object for good, not where it first comes out: the hand closes around the whole object (a mug
    across its body, not pinching its wall)."""
    rng = np.random.default_rng(seed)
    mesh = obj.mesh
    mu = obj.friction
    cone = np.cos(np.arctan(mu))
    out: list[Candidate] = []
    tries = 0
    max_tries = max_tries or 60 * n
    too_wide = 0
    batch = max(64, 4 * n)
    while len(out) < n and tries < max_tries:
        points, faces = sample_surface(mesh, batch, rng)
        normals = mesh.face_normals[faces]
        locations, ray_idx, tri_idx = mesh.ray.intersects_location(points - 1e-5 * normals, -normals,
                                                                    multiple_hits=True)
        for i in range(len(points)):
            if len(out) >= n or tries >= max_tries:
                break
            tries += 1
            hits = np.flatnonzero(ray_idx == i)
            if not len(hits):
                continue
            d = np.linalg.norm(locations[hits] - points[i], axis=1)
            far = hits[d > 1e-4]
            if not len(far):
                continue
            distances = np.linalg.norm(locations[far] - points[i], axis=1)
            j = far[np.argmax(distances) if across else np.argmin(distances)]
            p, q = points[i], locations[j]
            line = q - p
            width = float(np.linalg.norm(line))
            if width > gripper.max_opening * 0.95:
                too_wide += 1
                continue
            u = line / width
            nq = mesh.face_normals[tri_idx[j]]
            if -normals[i] @ u < cone or nq @ u < cone:  # both normals inside the friction cone
                continue
            approach = rng.normal(size=3)
            approach -= (approach @ u) * u
            if np.linalg.norm(approach) < 1e-6:
                continue
            for depth in DEPTHS:  # as deep as the palm allows
                pose = frame((p + q) / 2, u, approach, gripper, depth)
                if collision_free is None or collision_free(pose):
                    out.append(Candidate(pose, width, (p, q)))
                    break
    if not out:
        if too_wide and too_wide >= tries // 2:
            raise InputError(f"{obj.name} is wider than the gripper's {gripper.max_opening * 1000:.0f} mm opening "
                             "everywhere the sampler looked.")
        raise InputError(f"No antipodal grasp found on {obj.name} in {tries} tries (friction {mu}).")
    return out


def sample_surface(mesh, count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted surface points with a seeded generator (trimesh's sampler takes a seed too,
    but drawing here keeps every random number on one generator)."""
    area = mesh.area_faces
    faces = rng.choice(len(area), size=count, p=area / area.sum())
    tri = mesh.triangles[faces]
    r1, r2 = rng.random((2, count))
    flip = r1 + r2 > 1
    r1[flip], r2[flip] = 1 - r1[flip], 1 - r2[flip]
    points = tri[:, 0] + r1[:, None] * (tri[:, 1] - tri[:, 0]) + r2[:, None] * (tri[:, 2] - tri[:, 0])
    return points, faces


def jittered(candidates: list[Candidate], seed: int, *, collision_free=None, angle: float = 0.35,
             shift: float = 0.012, tries: int = 5) -> list[Candidate]:
    """Each candidate turned by up to `angle` rad about a random axis through its contact centre and
    moved by up to `shift` m: grasps near the antipodal ones, some better and many worse. A dataset
    drawn this way has failures to learn from (antipodal grasps on simple shapes nearly all hold).
    A perturbed pose in collision is drawn again, `tries` times, before the original is kept."""
    rng = np.random.default_rng([seed, 7])
    out = []
    for c in candidates:
        centre = (c.contacts[0] + c.contacts[1]) / 2
        chosen = c
        for _ in range(tries):
            axis = rng.normal(size=3)
            axis /= np.linalg.norm(axis)
            turn = _rotation(axis, rng.uniform(-angle, angle))
            pose = np.eye(4)
            pose[:3, :3] = turn @ c.pose[:3, :3]
            pose[:3, 3] = turn @ (c.pose[:3, 3] - centre) + centre + rng.uniform(-shift, shift, 3)
            if collision_free is None or collision_free(pose):
                chosen = Candidate(pose, c.width, c.contacts)
                break
        out.append(chosen)
    return out


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' formula."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k
