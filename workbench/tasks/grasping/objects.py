"""Objects to grasp: primitives, bundled procedural shapes, or mesh files (OBJ, STL, PLY).

Every object becomes a watertight `trimesh.Trimesh` in metres (for sampling and widths),
centred on its centre of mass (`GraspObject.origin` says where the source's own origin went,
so poses given in a mesh file's frame, as ACRONYM's are, land where they belong), plus a
MuJoCo geometry: primitives stay primitives (exact contacts); meshes collide through convex
pieces (CoACD), as MuJoCo collides a mesh geom through its convex hull.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import trimesh

from workbench.contract.errors import InputError
from workbench.paths import is_file

#: contact softness of the object: MuJoCo's default time constant halved (stiffer; still 5 time steps)
CONTACT = 'solref="0.01 1"'

#: procedural objects shipped with the package: name -> primitive spec
BUNDLED = {
    "ring": "mesh:ring",  #: a concave object (annulus), collided through its convex decomposition
    "mug": "mesh:mug",  #: a mug (opening along +z, handle along +x), collided through its own convex parts
    "box": "box:0.05,0.05,0.1",
    "can": "cylinder:0.033,0.12",
    "ball": "sphere:0.035",
    "bar": "box:0.02,0.02,0.16",
    "wide-box": "box:0.2,0.2,0.2",
}


@dataclass
class GraspObject:
    name: str
    mesh: trimesh.Trimesh  #: watertight, metres, centred on its centre of mass
    kind: str  #: box | cylinder | sphere | mesh
    size: tuple[float, ...]  #: MuJoCo size of the primitive (half sizes / radius, half height)
    mass: float  #: kg
    friction: float
    source: str  #: the spec or the file path
    scale: float = 1.0
    parts: list[trimesh.Trimesh] | None = None  #: convex pieces for collision (meshes only)
    notes: list[str] | None = None
    #: where the source's origin (the mesh file's, as scaled; a primitive's centre) lies in the object
    #: frame, which is centred on the centre of mass: x_object = x_source + origin. ACRONYM's grasp poses
    #: are in the source frame; the simulation runs in the object frame.
    origin: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def from_source(self, poses: np.ndarray) -> np.ndarray:
        """(N, 4, 4) poses in the source frame (a grasp file's, `poses=`) -> the object frame."""
        out = np.array(poses, dtype=float, copy=True)
        out[:, :3, 3] += self.origin
        return out

    def to_source(self, poses: np.ndarray) -> np.ndarray:
        """(N, 4, 4) poses in the object frame -> the source frame (what files and results hold)."""
        out = np.array(poses, dtype=float, copy=True)
        out[:, :3, 3] -= self.origin
        return out

    def source_mesh(self) -> trimesh.Trimesh:
        """The mesh in the source frame (as scaled): what a grasp file's `object/file` holds."""
        return self.mesh.copy().apply_translation(-self.origin)

    def mjcf_geom(self, name: str = "object") -> tuple[str, str]:
        """(asset XML, geom XML) for this object's collision geometry."""
        # priority 1: the object's friction and softness govern its contacts (MuJoCo would mix the two)
        common = (f'name="{name}" mass="{self.mass:.6g}" friction="{self.friction:.4g} 0.02 0.0002" '
                  f'condim="6" priority="1" {CONTACT}')
        if self.kind == "mesh":
            parts = self.parts or [self.mesh]
            volumes = [max(p.volume, 1e-12) for p in parts]
            assets, geoms = [], []
            for i, (part, vol) in enumerate(zip(parts, volumes)):
                verts = " ".join(f"{v:.6g}" for v in part.vertices.ravel())
                faces = " ".join(str(int(f)) for f in part.faces.ravel())
                assets.append(f'<mesh name="{name}_mesh{i}" vertex="{verts}" face="{faces}"/>')
                mass = self.mass * vol / sum(volumes)
                geom_name = name if i == 0 else f"{name}_{i}"
                attrs = common.replace(f'name="{name}" mass="{self.mass:.6g}"', f'name="{geom_name}" mass="{mass:.6g}"')
                geoms.append(f'<geom type="mesh" mesh="{name}_mesh{i}" {attrs} rgba="0.8 0.6 0.3 1"/>')
            return "".join(assets), "".join(geoms)
        size = " ".join(f"{s:.6g}" for s in self.size)
        return "", f'<geom type="{self.kind}" size="{size}" {common} rgba="0.8 0.6 0.3 1"/>'


def _parse_floats(text: str, n: int, spec: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"Cannot read the sizes in {spec!r}: use numbers in metres, e.g. box:0.05,0.05,0.1.") from None
    if len(values) != n or not all(0 < v <= 10 for v in values):  # also refuses nan and inf
        raise InputError(f"{spec!r} needs {n} positive size(s) in metres (at most 10 m).")
    return values


MESH_SUFFIXES = (".obj", ".stl", ".ply", ".off", ".glb", ".gltf")


def check_spec(spec: str) -> None:
    """Refuse an object spec before any job starts, without building meshes: a bundled name, a
    primitive with positive finite sizes, or a readable mesh file."""
    if spec in BUNDLED:
        return
    kind, sep, rest = spec.partition(":")
    if sep and kind in ("box", "cylinder", "sphere"):
        _parse_floats(rest, {"box": 3, "cylinder": 2, "sphere": 1}[kind], spec)
        return
    if sep and kind == "procedural":
        _procedural_index(spec)
        return
    path = Path(spec)
    if path.suffix.lower() in MESH_SUFFIXES:
        if not is_file(path):
            raise InputError(f"No such mesh file: {path}")
        return
    shown = spec if len(spec) <= 80 else spec[:60] + f"... ({len(spec)} characters)"
    raise InputError(f"Unknown object {shown!r}: use a bundled object ({', '.join(BUNDLED)}), box:X,Y,Z, "
                     f"cylinder:R,H, sphere:R (metres), procedural:SEED:K, or a mesh file "
                     f"({', '.join(MESH_SUFFIXES)}).")


def _procedural_index(spec: str) -> tuple[int, int]:
    """(seed, k) of `procedural:SEED:K`."""
    try:
        seed, k = (int(x) for x in spec.split(":")[1:])
    except ValueError:
        raise InputError(f"{spec!r}: a procedural object is procedural:SEED:K (two whole numbers).") from None
    if not (0 <= seed < 2**32 and 0 <= k < 10**6):
        raise InputError(f"{spec!r}: SEED must be 0 to 2^32-1 and K 0 to 999999.")
    return seed, k


def _primitive(spec: str) -> tuple[str, trimesh.Trimesh, tuple[float, ...]]:
    kind, _, rest = spec.partition(":")
    if kind == "box":
        x, y, z = _parse_floats(rest, 3, spec)
        return "box", trimesh.creation.box(extents=(x, y, z)), (x / 2, y / 2, z / 2)
    if kind == "cylinder":
        r, h = _parse_floats(rest, 2, spec)
        return "cylinder", trimesh.creation.cylinder(radius=r, height=h, sections=48), (r, h / 2)
    if kind == "sphere":
        (r,) = _parse_floats(rest, 1, spec)
        return "sphere", trimesh.creation.icosphere(subdivisions=3, radius=r), (r,)
    raise InputError(f"Unknown object {spec!r}: use a mesh file, box:X,Y,Z, cylinder:R,H, sphere:R, "
                     f"or a bundled object ({', '.join(BUNDLED)}).")


def load_mesh(path: Path, scale: float = 1.0) -> trimesh.Trimesh:
    """A watertight mesh from a file, repaired where trimesh can, else refused with the reason."""
    if not is_file(path):
        raise InputError(f"No such mesh file: {path}")
    try:
        loaded = trimesh.load(path, force="mesh", process=True)
    except Exception as exc:
        raise InputError(f"Cannot read {path.name} as a mesh: {exc}") from None
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise InputError(f"{path.name} holds no triangles.")
    mesh = loaded
    mesh.apply_scale(scale)
    if not mesh.is_watertight:  # slivers and repeated faces first: they make closed surfaces look open
        mesh.update_faces(mesh.nondegenerate_faces())
        mesh.update_faces(mesh.unique_faces())
        mesh.remove_unreferenced_vertices()
        mesh.merge_vertices()
        bent = _non_planar_holes(mesh)
        if bent:  # closing it would invent geometry that is not in the file
            raise InputError(
                f"{path.name} is not watertight: {bent} of its holes are not flat, so closing them would "
                "change the object's shape; close the holes in a mesh editor or pass a primitive.")
        trimesh.repair.fill_holes(mesh)
        trimesh.repair.fix_normals(mesh)
    if not mesh.is_watertight:
        open_edges = len(trimesh.grouping.group_rows(mesh.edges_sorted, require_count=1))
        if not open_edges:
            raise InputError(f"{path.name} is not a closed manifold surface: some edges are shared by more than "
                             "two faces; clean the mesh in a mesh editor or pass a primitive.")
        raise InputError(
            f"{path.name} is not watertight ({open_edges} open edges) and could not be repaired; "
            "close the holes in a mesh editor or pass a primitive.")
    if mesh.volume <= 0:
        mesh.invert()
    return mesh


def _non_planar_holes(mesh: trimesh.Trimesh, tolerance: float = 1e-3) -> int:
    """How many boundary loops of `mesh` do not lie in one plane (within `tolerance` of its size)."""
    open_edges = mesh.edges_sorted[trimesh.grouping.group_rows(mesh.edges_sorted, require_count=1)]
    if len(open_edges) == 0:
        return 0
    size = float(np.linalg.norm(mesh.extents)) or 1.0
    bent = 0
    for loop in trimesh.graph.connected_components(open_edges, min_len=3):
        points = mesh.vertices[np.asarray(loop)]
        centred = points - points.mean(axis=0)
        normal = np.linalg.svd(centred, full_matrices=False)[2][-1]
        if np.abs(centred @ normal).max() > tolerance * size:
            bent += 1
    return bent


#: CoACD's concavity threshold and part limit for mesh files (ShapeNet/ACRONYM objects: thin legs, rims,
#: handles). At the procedural default (0.08, 16 parts) a table's legs and top merged into hulls with slanted
#: faces, and fingers pinching a leg squeezed the object out: 82% agreement with FleX's labels on ACRONYM's
#: table, 86% at (0.02, 64) (benchmarks/grasping.py). Procedural shapes are unions of convex pieces and keep
#: the default, as the learned sampler was measured with it.
MESH_FILE_DECOMPOSITION = (0.02, 64)


def convex_parts(mesh: trimesh.Trimesh, threshold: float = 0.08, max_parts: int = 16) -> tuple[
        list[trimesh.Trimesh], str]:
    """Convex pieces for collision: the mesh itself when convex, else a CoACD decomposition
    (cached on disk by the mesh's content, so a mesh is decomposed once). Returns a note."""
    import hashlib

    import numpy as np

    if mesh.is_convex:
        return [mesh], ""
    try:
        import coacd
    except ModuleNotFoundError:
        return [mesh], ("the mesh is concave and CoACD is not installed, so it collides as its convex hull "
                        '(pip install "workbench[grasping]")')
    from workbench.paths import cache_dir

    digest = hashlib.sha256(mesh.vertices.round(6).tobytes() + mesh.faces.tobytes()
                            + f"{threshold}-{max_parts}".encode()).hexdigest()[:20]
    cache = cache_dir() / "coacd" / f"{digest}.npz"
    if cache.exists():
        data = np.load(cache)
        n = int(data["n"])
        return [trimesh.Trimesh(data[f"v{i}"], data[f"f{i}"]) for i in range(n)], f"{n} convex parts (cached)"
    coacd.set_log_level("error")
    pieces = coacd.run_coacd(coacd.Mesh(mesh.vertices, mesh.faces), threshold=threshold, max_convex_hull=max_parts)
    parts = [trimesh.Trimesh(v, f) for v, f in pieces]
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.tmp.npz")
    arrays: dict[str, Any] = {"n": len(parts), **{f"v{i}": p.vertices for i, p in enumerate(parts)},
                              **{f"f{i}": p.faces for i, p in enumerate(parts)}}
    np.savez(tmp, **arrays)
    tmp.replace(cache)
    return parts, f"{len(parts)} convex parts (CoACD)"


def make_object(spec: str, *, mass: float | None = None, density: float = 500.0, friction: float = 1.0,
                scale: float = 1.0) -> GraspObject:
    """Parse `spec` (bundled name, primitive, or mesh path) into a centred object."""
    if friction <= 0 or density <= 0 or (mass is not None and mass <= 0):
        raise InputError("friction, density and mass must be positive.")
    check_spec(spec)
    source = spec
    spec = BUNDLED.get(spec, spec)
    parts: list[trimesh.Trimesh] | None = None
    size: tuple[float, ...]
    if spec == "mesh:ring":
        mesh = trimesh.creation.annulus(r_min=0.025, r_max=0.04, height=0.06, sections=32)
        kind, size, name = "mesh", (), source
    elif spec == "mesh:mug":
        mesh, parts = mug()
        kind, size, name = "mesh", (), source
    elif spec.startswith("procedural:"):
        from workbench.tasks.grasping.procedural import procedural_object

        name, mesh = procedural_object(*_procedural_index(spec))
        mesh.apply_scale(scale)
        kind, size = "mesh", ()
    elif spec.split(":")[0] in ("box", "cylinder", "sphere") or (":" in spec and not is_file(spec)):
        kind, mesh, size = _primitive(spec)
        name = source
    else:
        path = Path(spec)
        mesh = load_mesh(path, scale)
        kind, size, name = "mesh", (), path.stem
    shift = -mesh.center_mass
    mesh.apply_translation(shift)
    m = mass if mass is not None else float(mesh.volume * density)
    obj = GraspObject(name, mesh, kind, size, m, friction, source, scale, origin=np.asarray(shift, dtype=float))
    if parts is not None:  # an object that knows its own convex pieces
        obj.parts = [p.copy().apply_translation(shift) for p in parts]
        obj.notes = []
    elif kind == "mesh":
        obj.parts, note = convex_parts(mesh, *MESH_FILE_DECOMPOSITION) if not spec.startswith("procedural:") \
            else convex_parts(mesh)
        obj.notes = [note] if note else []
    return obj


def mug(radius: float = 0.032, height: float = 0.09, wall: float = 0.005, bottom: float = 0.006,
        segments: int = 20) -> tuple[trimesh.Trimesh, list[trimesh.Trimesh]]:
    """A mug (opening along +z, handle along +x, metres) as one watertight mesh for sampling and
    widths, plus the convex pieces it is built from for collision (a bottom disc, `segments` wall
    staves, a handle of three bars): exact pieces, so no decomposition is needed.
    """
    z0 = -height / 2
    parts = [trimesh.creation.cylinder(radius=radius, height=bottom, sections=segments,
                                       transform=trimesh.transformations.translation_matrix((0, 0, z0 + bottom / 2)))]
    stave = 2 * np.pi * (radius - wall / 2) / segments * 1.08  # a little overlap: no gaps between staves
    wall_height = height - bottom
    for k in range(segments):
        angle = 2 * np.pi * k / segments
        box = trimesh.creation.box(extents=(wall, stave, wall_height))
        box.apply_transform(trimesh.transformations.rotation_matrix(angle, (0, 0, 1)))
        box.apply_translation(((radius - wall / 2) * np.cos(angle), (radius - wall / 2) * np.sin(angle),
                               z0 + bottom + wall_height / 2))
        parts.append(box)
    reach, bar, span = 0.024, 0.008, 0.05  # the handle sticks out `reach` beyond the wall
    for zc in (span / 2, -span / 2):
        parts.append(trimesh.creation.box(extents=(reach + wall, bar, bar),
                                          transform=trimesh.transformations.translation_matrix(
                                              (radius - wall / 2 + (reach + wall) / 2, 0, zc))))
    upright = trimesh.transformations.translation_matrix((radius + reach - bar / 2, 0, 0))
    parts.append(trimesh.creation.box(extents=(bar, bar, span + bar), transform=upright))
    outer = trimesh.creation.cylinder(radius=radius, height=height, sections=48)
    inner = trimesh.creation.cylinder(radius=radius - wall, height=height, sections=48,
                                      transform=trimesh.transformations.translation_matrix((0, 0, bottom)))
    body = trimesh.boolean.difference([outer, inner])
    mesh = trimesh.boolean.union([body, *parts[-3:]])
    return mesh, parts


def width_along(obj: GraspObject, center: np.ndarray, axis: np.ndarray, reach: float) -> float:
    """How wide the object is along `axis` where the fingers close through `center`: the span of the
    mesh's surface crossings on that line within `reach` of the centre (0 when the line misses it:
    the fingers would close on air). With `reach` where the open fingers end, a mug grasped by its
    rim is as wide as the rim, not the mug."""
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    origin = np.asarray(center, dtype=float) - axis * reach
    hits, _, _ = obj.mesh.ray.intersects_location(origin[None], axis[None], multiple_hits=True)
    if not len(hits):
        return 0.0
    t = (hits - origin) @ axis
    t = t[t <= 2 * reach]
    return float(t.max() - t.min()) if len(t) else 0.0
