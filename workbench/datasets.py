"""Grasp datasets: one ACRONYM-format file per object, made by grasp jobs fanned out over devices.

`make_grasp_dataset` writes, under the dataset folder:

    meshes/<object>.obj        the object (procedural ones are generated here from the seed)
    grasps/<object>.h5         its grasps in ACRONYM's layout (Franka frame, labels, metadata);
                               `object/file` is "meshes/<object>.obj", relative to the dataset
                               folder, as in ACRONYM's own grasps/ + meshes/ layout
    manifest.json              objects, files, success rates, devices, grasps/s

One grasp job per object, dealt round-robin over the devices given (local devices, Ray
nodes) and run as their slots allow; the manifest is rewritten as objects finish (at most
every `MANIFEST_EVERY_S`) and when the run ends, so a run that stops (killed, cancelled)
resumes where it stopped: finished objects are not redone (a killed run redoes at most the
objects of its last two seconds).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench import api
from workbench.contract.errors import InputError
from workbench.tasks.grasping.objects import MESH_SUFFIXES

log = logging.getLogger(__name__)

#: how often, at most, the manifest is rewritten while a run goes on
MANIFEST_EVERY_S = 2.0


@dataclass
class DatasetReport:
    folder: Path
    objects: int  #: objects in the dataset (finished ones)
    made_now: int  #: objects made by this run (the rest were there from an earlier run)
    grasps: int
    success_rate: float
    grasps_per_second: dict[str, float]  #: per device, this run


def _objects(objects: str, folder: Path, seed: int) -> list[Path]:
    """Mesh files for `objects`: a folder of meshes, or procedural:N generated into meshes/."""
    kind, _, count = objects.partition(":")
    if kind == "procedural":
        from workbench.tasks.grasping.procedural import write_objects

        try:
            n = int(count)
        except ValueError:
            raise InputError(f"procedural:N needs a number of objects, not {count!r}.") from None
        if not 1 <= n <= 100_000:
            raise InputError("procedural:N takes 1 to 100000 objects.")
        return write_objects(folder / "meshes", n, seed)
    source = Path(objects)
    if not source.is_dir():
        raise InputError(f"No such folder of meshes: {source} (or use procedural:N).")
    meshes = sorted(p for p in source.iterdir() if p.suffix.lower() in MESH_SUFFIXES)
    if not meshes:
        others = sum(1 for p in source.iterdir() if p.is_file())
        raise InputError(f"{source} holds no mesh files ({', '.join(MESH_SUFFIXES)})"
                         + (f"; its {others} file(s) are something else." if others else "; it is empty."))
    mesh_dir = folder / "meshes"
    mesh_dir.mkdir(parents=True, exist_ok=True)
    copied = []
    for mesh in meshes:
        dest = mesh_dir / mesh.name
        done = dest.with_suffix(".obj")  # a finished object's mesh, as simulated
        if done.exists():
            dest = done
        elif not dest.exists():
            shutil.copy2(mesh, dest)
        copied.append(dest)
    return copied


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    tmp = folder / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(folder / "manifest.json")


def make_grasp_dataset(objects: str, out: str | Path, *, grasps_per_object: int = 50, devices: list[str] | None = None,
                       gripper: str = "franka", sampler: str = "jittered", seed: int = 0, workers: int = 1,
                       friction: float = 1.0, density: float = 500.0,
                       progress: Callable[[int, int, str], None] | None = None) -> DatasetReport:
    """Make (or finish) the dataset in `out`; see the module docstring."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    meshes = _objects(objects, folder, seed)
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text()) if path.exists() else {}
    except (ValueError, OSError) as exc:
        raise InputError(f"{path} is there but is not a readable manifest ({exc}); give another --out folder, or "
                         "remove it to start the dataset again.") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("objects", []), list) \
            or not all(isinstance(o, dict) for o in manifest.get("objects", [])):
        raise InputError(f"{path} is not a grasp dataset manifest; give another --out folder.")
    if manifest and (manifest.get("gripper"), manifest.get("sampler")) != (gripper, sampler):
        raise InputError(f"{folder} was made with the {manifest.get('gripper')} gripper and the "
                         f"{manifest.get('sampler')} sampler; use another folder for {gripper} / {sampler}.")
    manifest.update({"format": "acronym", "gripper": gripper, "sampler": sampler, "seed": seed,
                     "grasps_per_object": grasps_per_object, "friction": friction, "density": density})
    done = {o["name"]: o for o in manifest.get("objects", []) if o.get("grasps")}
    todo = [(index, m) for index, m in enumerate(meshes) if m.stem not in done]
    devices = devices or ["auto"]
    (folder / "grasps").mkdir(exist_ok=True)
    total, finished = len(meshes) * grasps_per_object, len(done) * grasps_per_object
    if progress:
        progress(finished, total, f"{len(done)} of {len(meshes)} objects already done")
    procedural = objects.startswith("procedural:")
    jobs = []
    for k, (index, mesh) in enumerate(todo):
        # a procedural object is built from its spec where the job runs (a Ray node needs no file);
        # mesh files must be readable there (the same machine, or a shared file system)
        spec = f"procedural:{seed}:{index}" if procedural else str(mesh)
        request: dict[str, Any] = dict(object=spec, num_grasps=grasps_per_object, friction=friction, density=density,
                       gripper=gripper, sampler=sampler, seed=seed * 1_000_003 + index, render=(),
                       workers=workers)
        jobs.append((mesh, api.submit("grasp", device=devices[k % len(devices)], **request)))
    seconds: dict[str, float] = {}
    counts: dict[str, int] = {}

    def save_manifest() -> None:
        manifest["objects"] = [done[m.stem] for m in meshes if m.stem in done]
        _write_manifest(folder, manifest)

    written = time.monotonic()
    try:
        for mesh, job in jobs:
            try:
                result = job.result()
            except Exception as exc:  # one object that cannot be grasped is noted, the rest go on
                log.debug("make_grasp_dataset: ignored", exc_info=True)
                done[mesh.stem] = {"name": mesh.stem, "mesh": f"meshes/{mesh.name}", "grasps": None,
                                   "error": str(exc)}
                if progress:
                    progress(finished, total, f"{mesh.stem}: {exc}")
                continue
            dest = folder / "grasps" / f"{mesh.stem}.h5"
            shutil.copy2(result.files["acronym"], dest)
            # the grasps are in the frame of the mesh as simulated (scaled, centred on its centre of mass):
            # that mesh is the dataset's, so object/file and the transforms agree
            dataset_mesh = mesh.with_suffix(".obj")
            shutil.copy2(result.files["mesh"], dataset_mesh)
            if dataset_mesh != mesh:
                mesh.unlink()
            _point_at_dataset_mesh(dest, f"meshes/{dataset_mesh.name}")
            took = (job.finished or time.time()) - (job.started or job.created)
            seconds[job.device] = seconds.get(job.device, 0.0) + took
            counts[job.device] = counts.get(job.device, 0) + len(result.trials)
            done[mesh.stem] = {"name": mesh.stem, "mesh": f"meshes/{dataset_mesh.name}",
                               "grasps": f"grasps/{dest.name}",
                               "num_grasps": len(result.trials), "success_rate": round(result.success_rate, 4),
                               "device": job.device, "job": job.id}
            if time.monotonic() - written >= MANIFEST_EVERY_S:  # not per object: n rewrites of an n-entry file
                save_manifest()
                written = time.monotonic()
            finished += grasps_per_object
            if progress:
                progress(finished, total, f"{mesh.stem}: {result.success_rate:.0%} of {len(result.trials)}")
    finally:
        for _, job in jobs:
            if not job.done:
                job.cancel("the dataset run stopped")
        save_manifest()
    good = [o for o in manifest["objects"] if o.get("grasps")]
    grasps = sum(o["num_grasps"] for o in good)
    rate = sum(o["success_rate"] * o["num_grasps"] for o in good) / grasps if grasps else 0.0
    per_device = {d: counts[d] / seconds[d] for d in counts if seconds.get(d)}
    return DatasetReport(folder, len(good), len(jobs), grasps, rate, per_device)


def _point_at_dataset_mesh(h5: Path, mesh: str) -> None:
    """`object/file` relative to the dataset folder (ACRONYM's convention: grasps/ and meshes/ side by side)."""
    import h5py

    with h5py.File(h5, "r+") as f:
        del f["object/file"]
        f["object/file"] = mesh
