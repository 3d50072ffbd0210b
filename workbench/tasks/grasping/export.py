"""Grasps out: ACRONYM-format HDF5 (read by ACRONYM's own loaders) and NumPy.

Layout, as in ACRONYM's dataset files:
- `grasps/transforms` (N x 4 x 4): the gripper pose in the frame of the mesh file (as ACRONYM's:
  the mesh's own origin, not its centre of mass), in ACRONYM's Franka hand frame (approach +z,
  closing along x; see `gripper.py`);
- `grasps/qualities/flex/object_in_gripper` (N): 1 where the trial succeeded (the key is
  ACRONYM's; the physics here is MuJoCo, and the group's `simulator` attribute says so);
- `gripper/type` and `gripper/configuration` (the finger opening per finger at the grasp, m);
- `object/file` (relative to the HDF5's folder: the mesh is written to `meshes/` beside it,
  so `load_mesh(h5, mesh_root_dir=<that folder>)` finds it), `object/scale` (1: the mesh is
  written in metres, already scaled), `object/mass`, `object/density`, `object/volume`,
  `object/com`, `object/inertia` (about the centre of mass, kg m^2), `object/friction`.
Workbench's own per-trial records go under `grasps/qualities/workbench/`, each with a `unit`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from workbench.contract.names import safe_name
from workbench.tasks.grasping.gripper import GripperSpec
from workbench.tasks.grasping.objects import GraspObject
from workbench.tasks.grasping.simulate import STAGES, TrialOutcome

MESH_FOLDER = "meshes"


def write_mesh(folder: Path, obj: GraspObject) -> Path:
    """The object's mesh in its source frame (metres, as scaled; the frame the poses are written in)
    as `meshes/<name>.obj` under `folder`."""
    mesh_dir = folder / MESH_FOLDER
    mesh_dir.mkdir(parents=True, exist_ok=True)
    path = mesh_dir / f"{safe_name(obj.name, fallback='object')}.obj"
    obj.source_mesh().export(path)
    return path


def object_metadata(obj: GraspObject) -> dict[str, Any]:
    """Mass properties of the object as simulated: its mass spread evenly through the mesh; the centre
    of mass in the source frame (as ACRONYM's `object/com`)."""
    volume = float(obj.mesh.volume)
    density = obj.mass / volume
    inertia = np.asarray(obj.mesh.moment_inertia) * density  # trimesh's: density 1, about the centre of mass
    com = np.asarray(obj.mesh.center_mass, dtype=float) - obj.origin
    return {"mass": float(obj.mass), "density": density, "volume": volume,
            "com": com, "inertia": inertia, "friction": float(obj.friction)}


def write_acronym(path: Path, poses: np.ndarray, trials: list[TrialOutcome], *, mesh_file: Path, obj: GraspObject,
                  gripper: GripperSpec, protocol: dict[str, Any] | None = None) -> Path:
    import h5py

    with h5py.File(path, "w") as f:
        f["grasps/transforms"] = poses.astype(np.float64)
        flex = f.require_group("grasps/qualities/flex")
        flex["object_in_gripper"] = np.array([t.success for t in trials], dtype=np.int64)
        flex.attrs["simulator"] = "MuJoCo (workbench protocol; ACRONYM's labels come from FleX)"
        q = f.create_group("grasps/qualities/workbench")
        q["stage"] = np.array([STAGES.index(t.stage) + 1 if t.stage else 0 for t in trials], dtype=np.int64)
        q["stage"].attrs["names"] = "0: success, " + ", ".join(f"{i + 1}: {s}" for i, s in enumerate(STAGES))
        q["slip"] = np.array([t.slip_mm for t in trials])
        q["slip"].attrs["unit"] = "mm"
        q["slip"].attrs["meaning"] = "how far the object's centre moved in the gripper frame while it was held"
        q["contacts"] = np.array([t.contacts for t in trials], dtype=np.int64)
        q["width"] = np.array([t.width for t in trials])
        q["width"].attrs["unit"] = "m"
        q["lost"] = np.array([t.lost if t.lost is not None else (np.nan,) * 3 for t in trials], dtype=float)
        q["lost"].attrs["unit"] = "m"
        q["lost"].attrs["meaning"] = "object centre in the gripper frame when a failure after closing was seen"
        if protocol is not None:
            q.attrs["protocol"] = json.dumps(protocol)
        f["gripper/type"] = gripper.name  # "franka": ACRONYM's name for the Panda hand
        f["gripper/configuration"] = np.array([gripper.max_opening / 2] * 2)
        f["gripper/configuration"].attrs["meaning"] = "finger joint positions at the grasp (open), m"
        f["gripper"].attrs["spec"] = json.dumps(gripper.metadata())
        f["object/file"] = mesh_file.relative_to(path.parent).as_posix()
        f["object/scale"] = 1.0
        for key, value in object_metadata(obj).items():
            f[f"object/{key}"] = value
        f["object"].attrs["source"] = obj.source
        f["object"].attrs["source_scale"] = float(obj.scale)
    return path


def write_numpy(path: Path, poses: np.ndarray, trials: list[TrialOutcome]) -> Path:
    np.savez(path, transforms=poses, success=np.array([t.success for t in trials]),
             stage=np.array([t.stage for t in trials]), slip_mm=np.array([t.slip_mm for t in trials]),
             contacts=np.array([t.contacts for t in trials]), width=np.array([t.width for t in trials]))
    return path


#: ACRONYM's Franka marker, as segments in the gripper frame (fingers at x = +-0.041 m, z 0.066-0.112 m)
MARKER_SEGMENTS = (((-0.041, 0, 0.066), (-0.041, 0, 0.112)), ((0.041, 0, 0.066), (0.041, 0, 0.112)),
                   ((-0.041, 0, 0.066), (0.041, 0, 0.066)), ((0, 0, 0), (0, 0, 0.066)))


def write_scene_glb(path: Path, mesh: Any, poses: np.ndarray, success: list[bool]) -> Path:
    """The object and one Franka marker per grasp (green held, red failed) as a glTF binary, for 3D
    viewers without workbench (Gradio's Model3D, Blender, a browser)."""
    import trimesh

    scene = trimesh.Scene()
    body = mesh.copy()
    body.visual.face_colors = [200, 154, 77, 255]
    scene.add_geometry(body, node_name="object")
    for k, (pose, ok) in enumerate(zip(poses, success)):
        colour = [26, 158, 58, 255] if ok else [208, 52, 44, 255]
        for a, b in MARKER_SEGMENTS:
            a_world = pose[:3, :3] @ np.asarray(a) + pose[:3, 3]
            b_world = pose[:3, :3] @ np.asarray(b) + pose[:3, 3]
            stick = trimesh.creation.cylinder(radius=0.0015, segment=np.stack([a_world, b_world]), sections=6)
            stick.visual.face_colors = colour
            scene.add_geometry(stick, node_name=f"grasp{k}")
    path.write_bytes(scene.export(file_type="glb"))
    return path
