"""A learned grasp scorer: a small PointNet that reads the object's surface in the gripper's frame.

The sampler it powers (`sampler="learned:<model folder>"`) draws many geometric candidates
(antipodal pairs, cheap: no physics), scores each with the network and keeps the best: the
evaluator half of the sample-then-evaluate line of 6-DoF grasp models, small enough to train
on a laptop from workbench's own simulated grasps.

Input per grasp (`in_gripper_frame`), all in the gripper frame (ACRONYM's Franka frame: approach
+z, closing along x), scaled by `SCALE` so a hand-sized object spans about one unit:
`NUM_POINTS` surface points of the object with their normals, a close-up of the `LOCAL_POINTS`
nearest the grasp centre, and the centre of mass, the direction of gravity and the mass.
Output: the logit of success. A model folder holds
`scorer.pt` (state dict), `config.json` (sizes, gripper, the held-out objects) and the
training curves.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from workbench.contract.errors import InputError
from workbench.paths import is_file

NUM_POINTS = 256  #: points over the whole object
LOCAL_POINTS = 128  #: and of a four times denser sample, the ones nearest the grasp centre
DENSE = 4
SCALE = 10.0  #: metres to network units: 10 cm -> 1
#: what the network reads; a model folder trained on other inputs is refused (retrain it)
INPUTS = "points+normals+local+com+gravity+mass"
CHANNELS = 7  #: per point: position, normal, 1 for the points near the grasp centre
CONTEXT = 7  #: per grasp: centre of mass, gravity, mass
#: mirror images of a grasp that the two-finger gripper cannot tell apart (the fingers are symmetric
#: in x and y): sign flips of the gripper frame's x and y axes, used to augment training
MIRRORS = ((1, 1), (-1, 1), (1, -1), (-1, -1))


def surface_points(mesh: Any, count: int, seed: int) -> np.ndarray:
    """(DENSE * count, 6): area-weighted surface points (seeded) and their outward normals, object
    frame, metres; the first `count` are the object's cloud, all of them feed the close-up."""
    from workbench.tasks.grasping.sampler import sample_surface

    points, faces = sample_surface(mesh, DENSE * count, np.random.default_rng(seed))
    return np.concatenate([points, mesh.face_normals[faces]], axis=1)


def in_gripper_frame(surface: np.ndarray, poses: np.ndarray, centre_z: float, mass: float,
                     num_points: int = NUM_POINTS, local_points: int = LOCAL_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """What the network reads for each of `poses` (k, 4, 4, in the frame of the object centred on
    its centre of mass, +z up), from a `surface_points` sample:

    - (k, num_points + local_points, 7): the object's points and normals seen from the gripper,
      then a close-up: the `local_points` nearest the grasp centre (`centre_z` up the approach
      axis, between the pads), flagged 1. Whether the pads meet faces or edges is decided there,
      where a cloud over the whole object has few points;
    - (k, 7): where the centre of mass is and which way gravity pulls, in the gripper frame, and
      the mass (kg). A grasp's fate during the lift and shake turns on the torque about the
      contacts, which the cloud alone cannot tell (the object's up is lost once it is rotated
      into the gripper, and a surface says little of the weight inside it)."""
    rotations, origins = poses[:, :3, :3], poses[:, :3, 3]
    points = np.einsum("kji,knj->kni", rotations, surface[None, :, :3] - origins[:, None]) * SCALE
    normals = np.einsum("kji,knj->kni", rotations, np.broadcast_to(surface[None, :, 3:], points.shape))
    both = np.concatenate([points, normals], axis=2)
    offset = np.linalg.norm(points - np.array([0.0, 0.0, centre_z * SCALE]), axis=2)
    near = np.argpartition(offset, local_points, axis=1)[:, :local_points]
    close_up = np.take_along_axis(both, near[:, :, None], axis=1)
    flags = np.concatenate([np.zeros(num_points), np.ones(local_points)])
    clouds = np.concatenate([np.concatenate([both[:, :num_points], close_up], axis=1),
                             np.broadcast_to(flags[None, :, None], (len(poses), len(flags), 1))], axis=2)
    com = -np.einsum("kji,kj->ki", rotations, origins) * SCALE
    gravity = -rotations[:, 2, :]  # world -z, which is the object's -z, in each gripper frame
    context = np.concatenate([com, gravity, np.full((len(poses), 1), mass)], axis=1)
    return clouds.astype(np.float32), context.astype(np.float32)


def mirrored(clouds: np.ndarray, context: np.ndarray, mirror: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The same grasp with the gripper frame's x and/or y flipped (every vector input flips with it;
    the close-up is the same points, as the grasp centre lies on the flipped axes' z)."""
    # both end in two vectors and a scalar: (point, normal, flag) and (centre of mass, gravity, mass)
    flip = np.array([mirror[0], mirror[1], 1.0, mirror[0], mirror[1], 1.0, 1.0], dtype=np.float32)
    return clouds * flip, context * flip


def build_scorer(width: int = 64) -> Any:
    import torch
    from torch import nn

    class GraspScorer(nn.Module):
        """PointNet: a shared per-point MLP over points, normals and close-up flags, max-pooled,
        joined by the centre of mass, gravity and mass, then a head to one logit."""

        def __init__(self) -> None:
            super().__init__()
            self.points = nn.Sequential(nn.Linear(CHANNELS, width), nn.ReLU(), nn.Linear(width, 2 * width), nn.ReLU(),
                                        nn.Linear(2 * width, 4 * width))
            self.context = nn.Sequential(nn.Linear(CONTEXT, width), nn.ReLU())
            self.head = nn.Sequential(nn.Linear(5 * width, 2 * width), nn.ReLU(), nn.Linear(2 * width, width),
                                      nn.ReLU(), nn.Linear(width, 1))

        def forward(self, clouds: torch.Tensor, context: torch.Tensor) -> torch.Tensor:  # -> (batch,)
            pooled = torch.relu(self.points(clouds).max(dim=1).values)
            return self.head(torch.cat([pooled, self.context(context)], dim=1)).squeeze(-1)

    return GraspScorer()


def save(folder: Path, model: Any, config: dict[str, Any]) -> None:
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / "scorer.pt")
    (folder / "config.json").write_text(json.dumps(config, indent=1))


def check_model_folder(folder: str | Path, gripper: str) -> dict[str, Any]:
    """The folder's config, or a sentence: missing, not a grasp model, or trained for another gripper."""
    folder = Path(folder)
    config_path = folder / "config.json"
    if not is_file(folder / "scorer.pt") or not is_file(config_path):
        raise InputError(f"{folder} is not a grasp model folder (it needs scorer.pt and config.json from "
                         "`workbench grasp-train`).")
    try:
        config = json.loads(config_path.read_text())
    except ValueError:
        raise InputError(f"{config_path} is not valid JSON.") from None
    if not isinstance(config, dict):
        raise InputError(f"{config_path} is not a grasp model's config (a JSON object from `workbench grasp-train`).")
    if config.get("kind") != "grasp-scorer":
        raise InputError(f"{folder} holds a model of kind {config.get('kind')!r}, not a grasp scorer.")
    if config.get("inputs") != INPUTS:
        raise InputError(f"The grasp model in {folder} was trained by an older workbench on other inputs; "
                         "train it again with `workbench grasp-train`.")
    if config.get("gripper") != gripper:
        raise InputError(f"The grasp model in {folder} was trained for the {config.get('gripper')!r} gripper, "
                         f"not {gripper!r}; train one for this gripper or use the antipodal sampler.")
    width = config.get("width", 64)
    if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= MAX_WIDTH:
        raise InputError(f"{config_path}: width must be a whole number 1-{MAX_WIDTH}, not {width!r}.")
    if "centre_z" not in config:
        raise InputError(f"{config_path} has no centre_z (where the grasp centre lies); train the model again.")
    for key in ("friction", "density", "centre_z"):
        value = config.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            raise InputError(f"{config_path}: {key} must be a finite number, not {value!r}.")
    return config


#: the widest scorer a config may ask for (the trained ones are 64-256 wide; 10^6 asked for 8 TB)
MAX_WIDTH = 4096


def check_weights(folder: str | Path, config: dict[str, Any]) -> None:
    """Load `scorer.pt` as plain tensors (`weights_only=True`: a pickle cannot run code) into a scorer of
    the config's width, at submit: a file that is not such weights is a sentence, not a failed job."""
    import torch

    path = Path(folder) / "scorer.pt"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        build_scorer(config.get("width", 64)).load_state_dict(state)
    except Exception as exc:  # UnpicklingError, RuntimeError (shapes), EOFError...: the file is not these weights
        text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path} is not the weights of this grasp model ({type(exc).__name__}: {text}); train it "
                         "again with `workbench grasp-train`.") from None


_loaded: dict[str, Any] = {}


def load(folder: str | Path, gripper: str) -> tuple[Any, dict[str, Any]]:
    import torch

    config = check_model_folder(folder, gripper)
    key = str(Path(folder).resolve())
    stamp = (Path(folder) / "scorer.pt").stat().st_mtime
    cached = _loaded.get(key)
    if cached is None or cached[2] != stamp:
        model = build_scorer(config.get("width", 64))
        model.load_state_dict(torch.load(Path(folder) / "scorer.pt", map_location="cpu", weights_only=True))
        _loaded[key] = cached = (model.eval(), config, stamp)
    return cached[0], cached[1]


def score(model: Any, config: dict[str, Any], mesh: Any, mass: float, poses: np.ndarray, seed: int = 0) -> np.ndarray:
    """Success probability of each pose (k, 4, 4) on `mesh` (centred on its centre of mass) of
    `mass` kg by a model and its config, the mean over the gripper's mirror images of the grasp."""
    import torch

    num_points = config.get("num_points", NUM_POINTS)
    clouds, context = in_gripper_frame(surface_points(mesh, num_points, seed), poses, config["centre_z"], mass,
                                       num_points, config.get("local_points", LOCAL_POINTS))
    with torch.inference_mode():
        logits = [model(*map(torch.from_numpy, mirrored(clouds, context, m))) for m in MIRRORS]
        return torch.sigmoid(torch.stack(logits).mean(dim=0)).numpy()
