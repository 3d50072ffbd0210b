"""Procedural objects for grasp datasets: families of shapes drawn from a seed.

A user without a mesh set can still build a dataset and train a grasp model: boxes,
cylinders, spheres, capsules, superellipsoids, random convex hulls, unions of two hulls
(concave where they meet; manifold3d does the boolean, without it the pair's joint hull is
used) and rings, each sized so that some of it fits the Franka hand's
80 mm opening. The same seed gives the same objects, so a dataset can be regenerated and a
held-out split named by object index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

FAMILIES = ("box", "cylinder", "sphere", "capsule", "superellipsoid", "convex", "union", "ring")


def _superellipsoid(rng: np.random.Generator) -> trimesh.Trimesh:
    """Convex hull of a superellipsoid's surface (exponents under 1: between an ellipsoid and a box)."""
    axes = rng.uniform(0.012, 0.035, 3)
    e1, e2 = rng.uniform(0.3, 1.0, 2)
    u, v = np.meshgrid(np.linspace(-np.pi / 2, np.pi / 2, 24), np.linspace(-np.pi, np.pi, 48))

    def signed_power(x: np.ndarray, p: float) -> np.ndarray:
        return np.sign(x) * np.abs(x) ** p

    points = np.stack([axes[0] * signed_power(np.cos(u), e1) * signed_power(np.cos(v), e2),
                       axes[1] * signed_power(np.cos(u), e1) * signed_power(np.sin(v), e2),
                       axes[2] * signed_power(np.sin(u), e1)], axis=-1).reshape(-1, 3)
    hull = trimesh.convex.convex_hull(np.unique(points.round(4), axis=0))  # 0.1 mm grid: no near-twins
    hull.update_faces(hull.nondegenerate_faces())  # the poles repeat one point: slivers Qhull leaves
    hull.merge_vertices()
    return hull


def _convex(rng: np.random.Generator, centre: np.ndarray | None = None) -> trimesh.Trimesh:
    axes = rng.uniform(0.015, 0.04, 3)
    points = rng.normal(size=(rng.integers(12, 30), 3))
    points = points / np.linalg.norm(points, axis=1, keepdims=True) * axes
    return trimesh.convex.convex_hull(points + (0 if centre is None else centre))


def make_shape(family: str, rng: np.random.Generator) -> trimesh.Trimesh:
    """One watertight mesh of `family`, in metres."""
    if family == "box":
        extents = rng.uniform(0.02, 0.07, 3)
        extents[rng.integers(3)] = rng.uniform(0.03, 0.14)
        return trimesh.creation.box(extents=extents)
    if family == "cylinder":
        return trimesh.creation.cylinder(radius=rng.uniform(0.012, 0.035), height=rng.uniform(0.04, 0.15),
                                         sections=32)
    if family == "sphere":
        return trimesh.creation.icosphere(subdivisions=3, radius=rng.uniform(0.015, 0.035))
    if family == "capsule":
        return trimesh.creation.capsule(height=rng.uniform(0.02, 0.1), radius=rng.uniform(0.012, 0.03),
                                        count=[24, 12])
    if family == "superellipsoid":
        return _superellipsoid(rng)
    if family == "convex":
        return _convex(rng)
    if family == "union":  # two overlapping hulls: concave where they meet, still one watertight shell
        first = _convex(rng)
        second = _convex(rng, centre=rng.normal(size=3) / np.sqrt(3) * 0.025)
        return trimesh.convex.convex_hull(np.concatenate([first.vertices, second.vertices])) \
            if not _union_available() else trimesh.boolean.union([first, second])
    if family == "ring":
        r_max = rng.uniform(0.025, 0.045)
        return trimesh.creation.annulus(r_min=r_max * rng.uniform(0.55, 0.8), r_max=r_max,
                                        height=rng.uniform(0.015, 0.06), sections=32)
    raise ValueError(f"unknown family {family!r}")


def _union_available() -> bool:
    return bool(getattr(trimesh.boolean, "engines_available", set()))


def procedural_object(seed: int, k: int) -> tuple[str, trimesh.Trimesh]:
    """Object `k` of the family of `seed`: its name and mesh (centred on its centre of mass). The
    object spec `procedural:SEED:K` builds it on any node, so a job on a Ray node needs no file."""
    family = FAMILIES[k % len(FAMILIES)]
    mesh = make_shape(family, np.random.default_rng([seed, k]))
    mesh.apply_translation(-mesh.center_mass)
    return f"proc{k:04d}_{family}", mesh


def procedural_objects(count: int, seed: int) -> list[tuple[str, trimesh.Trimesh]]:
    """`count` named shapes, the families taken in turn, each from its own seeded generator (object
    k is the same whatever `count` is)."""
    return [procedural_object(seed, k) for k in range(count)]


def write_objects(folder: Path, count: int, seed: int) -> list[Path]:
    """The procedural objects as OBJ files in `folder` (existing files are kept: a resumed run
    finds the same objects)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, mesh in procedural_objects(count, seed):
        path = folder / f"{name}.obj"
        if not path.exists():
            tmp = path.with_suffix(".tmp.obj")
            mesh.export(tmp)
            tmp.replace(path)
        paths.append(path)
    return paths
