"""Tabletop scenes: objects at poses on a table, saved as a JSON description plus MJCF.

Frame (what the instructions' words mean): the table top is z = 0 with its centre at the
origin; a person stands in front of the table looking along +y. So "left" is -x, "right" +x,
"behind" +y (farther from the person), "in front of" -y, "up" +z. The camera of the pictures
stands where that person stands.

Each object keeps named part axes in its own frame, what orientation goals name: `up` (+z for
every bundled object: the mug's opening, the can's and the box's long axis), the mug's `handle`
(+x), the can's `cap`, the bar's `tip`, and so on (`AXES`). A sphere has no up. A mesh file may
declare its parts in a JSON file beside it (`mug.obj` -> `mug.axes.json`: `{"up": [0, 0, 1],
"handle": [1, 0, 0]}`), in the spirit of Open6DOR's axis annotations; a scene entry may give
`parts` too. A scene is described by names, object specs (anything `workbench run grasp`
takes: a bundled name, a primitive, a mesh file), x, y and an orientation; the height is
computed so the object rests on the table.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.contract.errors import InputError
from workbench.paths import is_file

if TYPE_CHECKING:
    from workbench.tasks.grasping.objects import GraspObject

#: table top half sizes (x, y), m
TABLE = (0.5, 0.4)

_Z, _DOWN = (0.0, 0.0, 1.0), (0.0, 0.0, -1.0)
#: named part axes of the bundled objects, in the object's own frame (what orientation goals name)
AXES: dict[str, dict[str, tuple[float, float, float]]] = {
    "mug": {"up": _Z, "top": _Z, "opening": _Z, "bottom": _DOWN, "handle": (1.0, 0.0, 0.0)},
    "can": {"up": _Z, "top": _Z, "cap": _Z, "lid": _Z, "bottom": _DOWN},
    "box": {"up": _Z, "top": _Z, "bottom": _DOWN},
    "bar": {"up": _Z, "top": _Z, "tip": _Z, "bottom": _DOWN, "rear": _DOWN},
    "ball": {},
}
DEFAULT_AXES = {"up": _Z, "top": _Z, "bottom": _DOWN}
_PART = re.compile(r"[a-z][a-z_]{0,29}")


def check_parts(parts: object, where: str) -> dict[str, tuple[float, float, float]]:
    """Named directions in an object's frame: lower-case names, three finite numbers each, not all zero."""
    if not isinstance(parts, dict) or len(parts) > 32:
        raise InputError(f"{where}: parts must be a JSON object of at most 32 named directions, e.g. "
                         '{"up": [0, 0, 1], "handle": [1, 0, 0]}.')
    out: dict[str, tuple[float, float, float]] = {}
    for name, value in parts.items():
        if not isinstance(name, str) or not _PART.fullmatch(name):
            raise InputError(f"{where}: part name {name!r:.40} must be lower-case letters (and _), e.g. handle.")
        if not (_numbers(value, 3, -1e3, 1e3) and np.linalg.norm(value) > 1e-6):
            raise InputError(f"{where}: part {name!r} must be three finite numbers, not all zero (a direction in "
                             f"the object's frame), not {value!r:.60}.")
        x, y, z = (float(v) for v in value)
        out[name] = (x, y, z)
    return out


def mesh_parts(spec: str) -> dict[str, tuple[float, float, float]]:
    """The parts a mesh file declares in `<stem>.axes.json` beside it ({} when there is none)."""
    path = Path(spec)
    if path.suffix.lower() not in (".obj", ".stl", ".ply", ".off", ".glb"):
        return {}
    sidecar = path.with_suffix(".axes.json")
    if not is_file(sidecar):
        return {}
    try:
        data = json.loads(sidecar.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read {sidecar.name} (the parts of {path.name}) as JSON: {exc}") from None
    return check_parts(data, sidecar.name)

#: what a person may call each bundled object (aliases resolve to the scene's name)
ALIASES = {"box": ("cube", "block"), "can": ("cylinder", "tin"), "ball": ("sphere",), "bar": ("stick", "rod"),
           "mug": ("cup",), "ring": ("annulus",)}


def quat_of(r: np.ndarray) -> tuple[float, float, float, float]:
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(r).as_quat()
    return (float(w), float(x), float(y), float(z))


def quat4(values: Any) -> tuple[float, float, float, float]:
    """Four numbers as a (w, x, y, z) tuple of floats (typed as four, which a generator's tuple is not)."""
    w, x, y, z = (float(v) for v in values)
    return (w, x, y, z)


def matrix_of(quat: tuple[float, ...]) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    w, x, y, z = quat
    return Rotation.from_quat((x, y, z, w)).as_matrix()


@dataclass
class Placed:
    """One object of a scene."""

    name: str  #: what instructions call it (unique in the scene)
    object: str  #: a grasp object spec: bundled name, box:X,Y,Z, cylinder:R,H, sphere:R, or a mesh file
    x: float
    y: float
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)  #: orientation (w, x, y, z)
    up: tuple[float, float, float] | None = None  #: the object's up axis in its frame (None: from its kind)
    handle: tuple[float, float, float] | None = None  #: its handle axis, if it has one
    colour: tuple[float, float, float] = (0.8, 0.6, 0.3)
    #: more named part axes in its frame (cap, tip, spout, ...), beside the kind's and its mesh file's own
    parts: dict[str, tuple[float, float, float]] | None = None

    def axes(self) -> dict[str, np.ndarray]:
        """Named part axes in the object's frame: 'up' (absent for a sphere), then the kind's parts,
        the mesh file's `.axes.json`, and this entry's `up`, `handle` and `parts`."""
        kind = self.object if self.object in AXES else ("ball" if self.object.startswith("sphere:") else "")
        axes = dict(AXES.get(kind, DEFAULT_AXES))
        axes.update(mesh_parts(self.object))
        if self.up is not None:
            axes["up"] = self.up
        if self.handle is not None:
            axes["handle"] = self.handle
        axes.update(self.parts or {})
        return {k: np.asarray(v, dtype=float) / np.linalg.norm(v) for k, v in axes.items()}

    def words(self) -> tuple[str, ...]:
        """Names an instruction may use for it: its name, then its kind's aliases when unambiguous."""
        return (self.name, *ALIASES.get(self.object, ()))


#: names the MuJoCo world gives its own parts: an object may not take one (MJCF names must be unique)
RESERVED_NAMES = {"left", "right", "gripper", "palm", "pad_left", "pad_right", "finger_left", "finger_right",
                  "close_left", "close_right", "target", "table", "grid", "sky", "world"}
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,39}")


def _check_name(name: object, names: list[str]) -> None:
    """A name MJCF and the instructions can both use: a letter, then letters, digits, `_` or `-`; none of
    the world's own names; not one that another object's geoms take (`box_1`, `box_mesh0` beside `box`)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InputError(f"Object name {name!r:.60}: use a letter, then letters, digits, _ or - (at most 40).")
    if name.lower() in RESERVED_NAMES:
        raise InputError(f"Object name {name!r} is a name of the simulated world's own parts; choose another.")
    part = re.fullmatch(r"(.+)_(mesh)?\d+", name)
    if part and part.group(1) in names:
        raise InputError(f"Object name {name!r} is taken by a collision piece of {part.group(1)!r}; choose another.")


def _number(value: object, low: float, high: float) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and low <= value <= high


def _numbers(values: object, count: int, low: float, high: float) -> bool:
    return isinstance(values, (tuple, list)) and len(values) == count and all(_number(v, low, high) for v in values)


@dataclass
class Scene:
    objects: list[Placed]
    friction: float = 1.0
    density: float = 500.0
    source: str = "default"
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        from workbench.tasks.grasping.objects import check_spec

        if not self.objects:
            raise InputError("The scene holds no objects.")
        names = [p.name for p in self.objects]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InputError(f"The scene names {', '.join(twice)} more than once; give each object its own name.")
        if not _number(self.friction, 1e-3, 10) or not _number(self.density, 1, 1e5):
            raise InputError(f"The scene's friction must be 0.001-10 and its density 1-100000 kg/m^3, not "
                             f"{self.friction!r} and {self.density!r}.")
        for p in self.objects:
            _check_name(p.name, names)
            if not isinstance(p.object, str):
                raise InputError(f"{p.name}: object must be text (a bundled name, a primitive or a mesh file).")
            check_spec(p.object)
            if not (_number(p.x, -1e3, 1e3) and _number(p.y, -1e3, 1e3)):
                raise InputError(f"{p.name}: x and y must be finite numbers (m), not {p.x!r} and {p.y!r}.")
            for axis in ("up", "handle"):
                value = getattr(p, axis)
                if value is not None and not (_numbers(value, 3, -1e3, 1e3) and np.linalg.norm(value) > 1e-6):
                    raise InputError(f"{p.name}: {axis} must be three finite numbers, not all zero (a direction in "
                                     f"the object's frame), not {value!r}.")
            if p.parts is not None:
                p.parts = check_parts(p.parts, p.name)
            mesh_parts(p.object)  # a bad sidecar file is refused here, not in the planner
            if not _numbers(p.colour, 3, 0.0, 1.0):
                raise InputError(f"{p.name}: colour must be three numbers from 0 to 1 (red, green, blue), not "
                                 f"{p.colour!r}.")
            if not (abs(p.x) <= TABLE[0] and abs(p.y) <= TABLE[1]):
                raise InputError(f"{p.name} at ({p.x:.3f}, {p.y:.3f}) m is off the table "
                                 f"(x within +-{TABLE[0]}, y within +-{TABLE[1]}).")
            if not _numbers(p.quat, 4, -1e6, 1e6) or np.linalg.norm(p.quat) < 1e-6:
                raise InputError(f"{p.name}: quat must be four finite numbers (w, x, y, z), not all zero.")
            p.quat = quat4(np.asarray(p.quat) / np.linalg.norm(p.quat))

    def names(self) -> list[str]:
        return [p.name for p in self.objects]

    def get(self, name: str) -> Placed:
        for p in self.objects:
            if p.name == name:
                return p
        raise InputError(f"No {name!r} in the scene; it holds {', '.join(self.names())}.")

    @cached_property
    def grasp_objects(self) -> dict[str, GraspObject]:
        """Each object's mesh and collision pieces (a `GraspObject`, centred on its centre of mass)."""
        from workbench.tasks.grasping.objects import make_object

        return {p.name: make_object(p.object, density=self.density, friction=self.friction) for p in self.objects}

    def resting_pose(self, name: str) -> np.ndarray:
        """The 4x4 pose of `name` at its x, y and orientation, its lowest point on the table."""
        p = self.get(name)
        r = matrix_of(p.quat)
        verts = self.grasp_objects[name].mesh.vertices @ r.T
        pose = np.eye(4)
        pose[:3, :3] = r
        pose[:3, 3] = (p.x, p.y, -verts[:, 2].min() + 1e-4)
        return pose

    # ---- files -------------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"format": "workbench-scene/1", "frame": "table top z=0; +x right, +y away from the viewer (behind)",
                "friction": self.friction, "density": self.density,
                "objects": [{k: v for k, v in asdict(p).items() if v is not None} for p in self.objects]}



def _placed(entry: dict, where: str) -> Placed:
    known = set(Placed.__dataclass_fields__)
    unknown = set(entry) - known
    if unknown:
        raise InputError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}; an object has "
                         f"{', '.join(sorted(known))}.")
    try:
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()}
        return Placed(**fields)
    except TypeError as exc:
        raise InputError(f"{where}: {exc}") from None


def load_scene(spec: str = "") -> Scene:
    """A scene from `spec`: '' or 'default' (the bundled tabletop), 'procedural:SEED', or a JSON file."""
    if spec in ("", "default"):
        return default_scene()
    if spec.startswith("procedural:"):
        try:
            seed = int(spec.split(":", 1)[1])
        except ValueError:
            raise InputError(f"{spec!r}: a procedural scene is procedural:SEED (a whole number).") from None
        return procedural_scene(seed)
    path = Path(spec)
    if not is_file(path):
        raise InputError(f"No such scene: {spec!r}; use default, procedural:SEED or a scene .json file.")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read {path.name} as a scene description (JSON): {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("objects"), list):
        raise InputError(f"{path.name} is not a scene description: it needs an 'objects' list.")
    objects = []
    for i, entry in enumerate(data["objects"]):
        if not isinstance(entry, dict):
            raise InputError(f"{path.name}: object {i} is not a JSON object.")
        placed = _placed(entry, f"{path.name}, object {i}")
        if not isinstance(placed.object, str):
            raise InputError(f"{path.name}, object {i}: object must be text (a bundled name, a primitive or a mesh "
                             "file).")
        spec_path = Path(placed.object)
        if not spec_path.is_absolute() and (path.parent / spec_path).suffix and is_file(path.parent / spec_path):
            placed.object = str(path.parent / spec_path)  # mesh files relative to the scene file
        objects.append(placed)
    return Scene(objects, friction=data.get("friction", 1.0), density=data.get("density", 500.0), source=str(path))


def _lying(yaw_degrees: float) -> tuple[float, float, float, float]:
    """The orientation of an object lying with its up axis along the table (+y turned by `yaw_degrees`),
    turned about its own x axis so a mug's handle stays level."""
    from scipy.spatial.transform import Rotation

    x, y, z, w = (Rotation.from_euler("z", yaw_degrees, degrees=True) * Rotation.from_euler("x", -90, degrees=True)
                  ).as_quat()
    return (w, x, y, z)


def _yawed(yaw_degrees: float) -> tuple[float, float, float, float]:
    half = np.radians(yaw_degrees) / 2
    return (float(np.cos(half)), 0.0, 0.0, float(np.sin(half)))


def default_scene() -> Scene:
    """The bundled tabletop: a box, a can, a ball, a bar lying down and a mug."""
    return Scene([
        Placed("box", "box", -0.16, 0.06, colour=(0.85, 0.35, 0.25)),
        Placed("can", "can", 0.02, 0.14, colour=(0.3, 0.55, 0.85)),
        Placed("ball", "ball", 0.18, -0.1, colour=(0.95, 0.75, 0.2)),
        Placed("bar", "bar", -0.05, -0.14, _lying(90), colour=(0.4, 0.7, 0.4)),
        Placed("mug", "mug", 0.17, 0.1, _yawed(90), colour=(0.9, 0.9, 0.85)),
    ], source="default")


#: objects a procedural scene draws from, with how they may start
PROCEDURAL = {"box": ("upright", "lying"), "can": ("upright",), "ball": ("upright",), "bar": ("lying",),
              "mug": ("upright", "upright", "lying")}
COLOURS = ((0.85, 0.35, 0.25), (0.3, 0.55, 0.85), (0.95, 0.75, 0.2), (0.4, 0.7, 0.4), (0.9, 0.9, 0.85))


def procedural_scene(seed: int, count: int | None = None) -> Scene:
    """3 to 5 of the bundled objects at random, non-overlapping places and yaws (same seed, same scene)."""
    rng = np.random.default_rng(seed)
    count = count or int(rng.integers(3, 6))
    kinds = list(rng.permutation(list(PROCEDURAL))[:count])
    placed: list[Placed] = []
    spots: list[np.ndarray] = []
    for i, kind in enumerate(kinds):
        for _ in range(200):
            spot = rng.uniform((-0.25, -0.18), (0.25, 0.18))
            if all(np.linalg.norm(spot - s) > 0.15 for s in spots):
                break
        else:
            continue
        spots.append(spot)
        yaw = float(rng.uniform(-180, 180))
        start = PROCEDURAL[kind][int(rng.integers(len(PROCEDURAL[kind])))]
        quat = _lying(yaw) if start == "lying" else _yawed(yaw)
        placed.append(Placed(str(kind), str(kind), round(float(spot[0]), 4), round(float(spot[1]), 4),
                             quat4(round(v, 6) for v in quat), colour=COLOURS[i % len(COLOURS)]))
    return Scene(placed, source=f"procedural:{seed}")
