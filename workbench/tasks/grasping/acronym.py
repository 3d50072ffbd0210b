"""Reading ACRONYM-format grasp files, and how well a simulation agrees with their labels.

An ACRONYM file names its object as `object/file`, relative to the dataset's root (the folder
that holds `grasps/` and `meshes/`), with `object/scale`, `object/mass` and `object/friction`;
its grasps are `grasps/transforms` in the Franka hand frame, labelled by
`grasps/qualities/flex/object_in_gripper` (FleX in ACRONYM's own files). Workbench writes the
same layout, with the mesh under `meshes/` beside the file, so one rule finds both: the mesh is
looked for relative to the file's folder, then each folder above it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from workbench.contract.errors import InputError
from workbench.paths import is_file

LABELS = "grasps/qualities/flex/object_in_gripper"
#: what FleX measured of each grasp in ACRONYM's files, besides the label (kept beside disagreements)
FLEX_DETAILS = ("object_motion_during_closing_linear", "object_motion_during_closing_angular",
                "object_motion_during_shaking_linear", "object_motion_during_shaking_angular")


def _open(path: str | Path):
    import h5py

    path = Path(path)
    if not is_file(path):
        raise InputError(f"No such grasp file: {path}")
    try:
        return h5py.File(path, "r")
    except OSError:
        raise InputError(f"{path.name} is not an HDF5 file (an ACRONYM grasp file is one).") from None


def check_file(path: str | Path, *, object_given: bool, training: bool = False) -> None:
    """Refuse a grasp file before any job starts: readable HDF5 with N x 4 x 4 rigid transforms of finite
    numbers, labels (when present) of 0 and 1, a positive finite scale, mass and friction, and an object
    that can be found (unless one is given). `training`: labels and the mass (the scorer reads it) must
    be there."""
    name = Path(path).name
    with _open(path) as f:
        if "grasps/transforms" not in f or not hasattr(f["grasps/transforms"], "shape"):
            raise InputError(f"{name} has no grasps/transforms: not an ACRONYM-format grasp file.")
        shape = f["grasps/transforms"].shape
        if len(shape) != 3 or shape[1:] != (4, 4) or shape[0] == 0:
            raise InputError(f"{name}: grasps/transforms must be N x 4 x 4, not {shape}.")
        try:
            poses = np.asarray(f["grasps/transforms"][()], dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"{name}: grasps/transforms must hold numbers.") from None
        if not np.isfinite(poses).all():
            bad = int(np.argwhere(~np.isfinite(poses).all(axis=(1, 2)))[0][0])
            raise InputError(f"{name}: grasp {bad} holds numbers that are not finite (NaN or infinity).")
        rot = poses[:, :3, :3]
        off = np.abs(np.einsum("kji,kjl->kil", rot, rot) - np.eye(3)).max(axis=(1, 2))
        bottom = np.abs(poses[:, 3] - np.array([0.0, 0.0, 0.0, 1.0])).max(axis=1)
        bent = np.flatnonzero((off > 1e-3) | (bottom > 1e-6) | (np.linalg.det(rot) < 0))
        if len(bent):
            raise InputError(f"{name}: grasp {int(bent[0])} is not a rigid transform (a rotation and a translation, "
                             "last row 0 0 0 1).")
        if LABELS in f:
            labels = np.asarray(f[LABELS][()])
            if labels.shape != (shape[0],):
                raise InputError(f"{name}: {LABELS} has {labels.shape} values for {shape[0]} grasps.")
            if labels.dtype.kind not in "biuf" or not np.isin(labels, (0, 1)).all():
                raise InputError(f"{name}: {LABELS} must be 1 (held) or 0 (lost) for every grasp.")
        elif training:
            raise InputError(f"{name} has no labels ({LABELS}) to learn from.")
        if training and "object/mass" not in f:
            raise InputError(f"{name} has no object/mass (the scorer reads it).")
        for key in ("object/scale", "object/mass", "object/friction"):
            if key in f:
                try:
                    value = float(np.asarray(f[key][()]).reshape(-1)[0])
                except (TypeError, ValueError, IndexError):
                    value = float("nan")
                if not (math.isfinite(value) and value > 0):
                    raise InputError(f"{name}: {key} must be a positive number, not {f[key][()]!r}.")
    if not object_given:
        file_object(path)


def file_scale(path: str | Path) -> float:
    """The file's `object/scale` (1 when it has none): its poses are in the frame of the mesh file
    scaled by it, whichever mesh is simulated."""
    with _open(path) as f:
        return float(f["object/scale"][()]) if "object/scale" in f else 1.0


def file_count(path: str | Path) -> int:
    """How many grasps the file holds."""
    with _open(path) as f:
        return int(f["grasps/transforms"].shape[0])


def file_object(path: str | Path) -> tuple[Path, float, float | None, float]:
    """(mesh file, scale, mass or None, friction) of the object a grasp file names."""
    with _open(path) as f:
        if "object/file" not in f:
            raise InputError(f"{Path(path).name} names no object (object/file); pass the mesh with --object.")
        name = f["object/file"][()]
        name = name.decode() if isinstance(name, bytes) else str(name)
        scale = float(f["object/scale"][()]) if "object/scale" in f else 1.0
        mass = float(f["object/mass"][()]) if "object/mass" in f else None
        friction = float(f["object/friction"][()]) if "object/friction" in f else 1.0
    here = Path(path).resolve().parent
    for root in (here, *here.parents):
        candidate = root / name
        if is_file(candidate):
            return candidate, scale, mass, friction
    raise InputError(f"The mesh {name} named by {Path(path).name} is not under its folder or any folder above it; "
                     "pass the mesh with --object.")


def read_grasps(path: str | Path, limit: int) -> tuple[np.ndarray, np.ndarray | None, int]:
    """(the first `limit` transforms, in the frame of the file's mesh as scaled by `object/scale`;
    their labels or None; how many the file holds)."""
    with _open(path) as f:
        transforms = f["grasps/transforms"]
        total = transforms.shape[0]
        poses = np.asarray(transforms[: min(limit, total)], dtype=float)
        labels = np.asarray(f[LABELS][: len(poses)], dtype=int) if LABELS in f else None
    if not np.isfinite(poses).all():
        raise InputError(f"{Path(path).name} holds grasp transforms that are not finite numbers.")
    return poses, labels, total


def read_flex_details(path: str | Path, count: int) -> dict[str, np.ndarray]:
    """FleX's own measurements of the first `count` grasps (those the file has)."""
    with _open(path) as f:
        group = f.get("grasps/qualities/flex")
        if group is None:
            return {}
        return {k: np.asarray(group[k][:count], dtype=float) for k in FLEX_DETAILS
                if k in group and group[k].shape[:1] == (f["grasps/transforms"].shape[0],)}


def why_they_differ(label: int, trial: Any, details: dict[str, np.ndarray]) -> str:
    """One sentence for a grasp where the simulation and the file's label disagree ("" where they agree)."""
    if bool(label) == bool(trial.success):
        return ""
    if label:
        return f"the file says held; MuJoCo: failed at {trial.stage}: {trial.reason}"
    flex = details.get("object_motion_during_shaking_linear")
    said = f" (FleX's object_motion_during_shaking_linear {flex[trial.index]:.3g})" if flex is not None else ""
    return (f"the file says lost{said}; MuJoCo held it: it moved {trial.shake_mm:.1f} mm and turned "
            f"{trial.shake_deg:.1f} degrees in the hand while shaking")


def write_agreement_csv(path: Path, labels: list[int], trials: list[Any], details: dict[str, np.ndarray]) -> Path:
    """Per grasp: the file's label, FleX's measurements, MuJoCo's outcome and why the two differ."""
    import csv

    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["grasp", "file_label", *details, "mujoco_success", "stage", "slip_mm", "shake_mm",
                         "shake_deg", "agree", "why_they_differ"])
        for label, t in zip(labels, trials):
            writer.writerow([t.index, int(label), *(f"{v[t.index]:.4g}" for v in details.values()), int(t.success),
                             t.stage, t.slip_mm, t.shake_mm, t.shake_deg, int(bool(label) == bool(t.success)),
                             why_they_differ(label, t, details)])
    return path


@dataclass
class Agreement:
    """Simulated outcomes against a file's labels, success as the positive class."""

    true_positive: int
    false_positive: int  #: simulated success, labelled failure
    false_negative: int  #: simulated failure, labelled success
    true_negative: int

    @property
    def total(self) -> int:
        return self.true_positive + self.false_positive + self.false_negative + self.true_negative

    @property
    def accuracy(self) -> float:
        return (self.true_positive + self.true_negative) / self.total if self.total else 0.0

    @property
    def precision(self) -> float:
        called = self.true_positive + self.false_positive
        return self.true_positive / called if called else 0.0

    @property
    def recall(self) -> float:
        real = self.true_positive + self.false_negative
        return self.true_positive / real if real else 0.0

    def confusion(self) -> list[list[int]]:
        """Rows: label success, label failure; columns: simulated success, simulated failure."""
        return [[self.true_positive, self.false_negative], [self.false_positive, self.true_negative]]

    def __add__(self, other: Agreement) -> Agreement:
        return Agreement(self.true_positive + other.true_positive, self.false_positive + other.false_positive,
                         self.false_negative + other.false_negative, self.true_negative + other.true_negative)

    def summary(self) -> str:
        return (f"agreement with the file's labels {self.accuracy:.0%} over {self.total} grasps (precision "
                f"{self.precision:.0%}, recall {self.recall:.0%}; confusion label x simulated {self.confusion()})")


def agreement(labels: list[int], simulated: list[bool]) -> Agreement:
    pairs = list(zip(labels, simulated))
    return Agreement(sum(bool(lab) and sim for lab, sim in pairs), sum(not lab and sim for lab, sim in pairs),
                     sum(bool(lab) and not sim for lab, sim in pairs), sum(not lab and not sim for lab, sim in pairs))
