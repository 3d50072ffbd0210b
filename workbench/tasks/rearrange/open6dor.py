"""Open6DOR's task files (`task_config*.json`) as a workbench scene, instruction and target.

A task file names its objects (`selected_obj_names`, the one to move last and again as
`target_obj_name`), their URDFs (`selected_urdfs`, paths under the benchmark's asset folder), where
each starts (`init_obj_pos`: x, y, z, a quaternion x, y, z, w, then velocities, in the benchmark's
world) and the instruction (`instruction`, or `position_instruction` + `rotation_instruction`).

Objects: a name workbench bundles (mug, box, can, ball, bar, ring) stands for itself unless the
asset folder holds its URDF; any other object's mesh is read from its URDF under `objects` (your
copy of the benchmark's Objaverse assets, which workbench does not ship), and a missing one is
refused in one sentence naming it. A mesh's part axes may sit beside it (`<mesh>.axes.json`).

Frame: the benchmark's world has the robot at its origin looking along +x, so a person standing
there sees left as +y and behind as +x. Workbench's table has left at -x and behind at +y (see
`scene.py`): positions are turned by +90 degrees about z, and centred on the table (the file's
table centre is not in it; the objects' middle is put at the table's middle).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from workbench.contract.errors import InputError
from workbench.contract.names import confined
from workbench.paths import is_file
from workbench.tasks.rearrange.scene import TABLE, Placed, Scene, quat4, quat_of

#: the benchmark's world -> workbench's table: +90 degrees about z
TO_TABLE = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
MAX_OBJECTS = 12
COLOURS = ((0.85, 0.35, 0.25), (0.3, 0.55, 0.85), (0.95, 0.75, 0.2), (0.4, 0.7, 0.4), (0.9, 0.9, 0.85))


def scene_name(name: str) -> str:
    """A benchmark name as a scene name, as instructions are read (lower case): 'USB' -> 'usb',
    'binder clips' -> 'binder_clips'."""
    return re.sub(r"[^a-z0-9_-]+", "_", name.strip().lower()).strip("_") or "object"


def _mesh_of(urdf: Path, objects: Path) -> Path:
    """The mesh file a URDF's first visual (or collision) geometry names, resolved beside the URDF and
    inside the asset folder `objects` (a task file must not make a job read files elsewhere)."""
    try:
        root = ET.parse(urdf).getroot()
    except (ET.ParseError, OSError) as exc:
        raise InputError(f"Cannot read {urdf.name} as a URDF: {exc}") from None
    for tag in ("visual", "collision"):
        for element in root.iter(tag):
            mesh = element.find("./geometry/mesh")
            filename = mesh.get("filename", "") if mesh is not None else ""
            if filename:
                path = confined(objects, urdf.parent / filename.removeprefix("package://"), "mesh")
                if not is_file(path):
                    raise InputError(f"{urdf.name} names the mesh {filename!r}, which is not in {urdf.parent}.")
                return path
    raise InputError(f"{urdf.name} names no mesh file.")


def _object(name: str, urdf: str, objects: Path | None) -> str:
    from workbench.tasks.grasping.objects import BUNDLED

    if objects is not None and urdf:
        path = confined(objects, urdf, "URDF")
        if is_file(path):
            return str(_mesh_of(path, objects))
    if name in BUNDLED:
        return name
    where = f" under {objects}" if objects is not None else " (give the benchmark's asset folder with --objects)"
    raise InputError(f"The task's object {name!r} needs its mesh {urdf or '(no URDF named)'}{where}; "
                     "workbench ships only its bundled objects.")


def load_task(path: str | Path, objects: str | Path | None = None) -> tuple[Scene, str, str]:
    """(scene, instruction, target's scene name) of an Open6DOR task file."""
    path = Path(path)
    if not is_file(path):
        raise InputError(f"No such task file: {str(path)[:200]!r}.")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read {path.name} as an Open6DOR task file (JSON): {exc}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path.name} is not an Open6DOR task file (a JSON object).")
    names, poses = data.get("selected_obj_names"), data.get("init_obj_pos")
    urdfs = data.get("selected_urdfs") or [""] * (len(names) if isinstance(names, list) else 0)
    if not (isinstance(names, list) and names and all(isinstance(n, str) and n.strip() for n in names)):
        raise InputError(f"{path.name}: selected_obj_names must be a list of object names.")
    if len(names) > MAX_OBJECTS:
        raise InputError(f"{path.name}: {len(names)} objects; at most {MAX_OBJECTS} fit the table.")
    if not (isinstance(poses, list) and len(poses) == len(names) and all(
            isinstance(p, list) and len(p) >= 7 and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                        and np.isfinite(v) for v in p[:7]) for p in poses)):
        raise InputError(f"{path.name}: init_obj_pos must give each object x, y, z and a quaternion (x, y, z, w), "
                         "finite numbers.")
    if not (isinstance(urdfs, list) and len(urdfs) == len(names) and all(isinstance(u, str) for u in urdfs)):
        raise InputError(f"{path.name}: selected_urdfs must name one URDF per object.")
    instruction = data.get("instruction") or " ".join(
        str(data.get(k) or "") for k in ("position_instruction", "rotation_instruction")).strip()
    if not isinstance(instruction, str) or not instruction.strip():
        raise InputError(f"{path.name} holds no instruction.")
    target = str(data.get("target_obj_name", names[-1]))
    if target not in names:
        raise InputError(f"{path.name}: target_obj_name {target!r} is not one of its objects ({', '.join(names)}).")
    folder = Path(objects) if objects else None
    xy = np.array([p[:2] for p in poses], dtype=float) @ TO_TABLE[:2, :2].T
    xy -= (xy.min(axis=0) + xy.max(axis=0)) / 2
    if (np.abs(xy) > np.array(TABLE) - 0.05).any():
        raise InputError(f"{path.name}: its objects spread wider than workbench's table "
                         f"({2 * TABLE[0]:.1f} x {2 * TABLE[1]:.1f} m).")
    placed = []
    taken: dict[str, int] = {}
    for i, (name, urdf, pose) in enumerate(zip(names, urdfs, poses)):
        from scipy.spatial.transform import Rotation

        r = TO_TABLE @ Rotation.from_quat(pose[3:7]).as_matrix()
        base = scene_name(name)
        taken[base] = taken.get(base, 0) + 1
        label = base if taken[base] == 1 else f"{base}{taken[base]}"
        placed.append(Placed(label, _object(name, urdf, folder), round(float(xy[i, 0]), 4), round(float(xy[i, 1]), 4),
                             quat4(round(v, 6) for v in quat_of(r)), colour=COLOURS[i % len(COLOURS)]))
    for name in sorted(set(names), key=len, reverse=True):  # the instruction names objects as the file does
        instruction = re.sub(rf"\b{re.escape(name)}\b", scene_name(name), instruction, flags=re.IGNORECASE)
    return Scene(placed, source=str(path)), instruction.strip(), scene_name(target)
