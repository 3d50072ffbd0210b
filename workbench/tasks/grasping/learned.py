"""A learned grasp scorer: a small PointNet that reads the object's surface in the gripper's frame.

The sampler it powers (`sampler="learned:<model folder>"`) draws many geometric candidates
(antipodal pairs, cheap: no physics), scores each with the network and keeps the best: the
evaluator half of the sample-then-evaluate line of 6-DoF grasp models, small enough to train
on a laptop from workbench's own simulated grasps.

Input per grasp: `NUM_POINTS` surface points of the object expressed in the gripper frame
(ACRONYM's Franka frame: approach +z, closing along x), scaled by `SCALE` so a hand-sized
object spans about one unit. Output: the logit of success. A model folder holds
`scorer.pt` (state dict), `config.json` (sizes, gripper, the held-out objects) and the
training curves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from workbench.contract.errors import InputError
from workbench.paths import is_file

NUM_POINTS = 256
SCALE = 10.0  #: metres to network units: 10 cm -> 1


def surface_points(mesh: Any, count: int, seed: int) -> np.ndarray:
    """`count` area-weighted surface points (seeded), object frame, metres."""
    from workbench.tasks.grasping.sampler import sample_surface

    points, _ = sample_surface(mesh, count, np.random.default_rng(seed))
    return points


def in_gripper_frame(points: np.ndarray, poses: np.ndarray) -> np.ndarray:
    """(k, n, 3): the object's points seen from each of `poses` (k, 4, 4), scaled for the network."""
    rotations, origins = poses[:, :3, :3], poses[:, :3, 3]
    local = np.einsum("kji,knj->kni", rotations, points[None] - origins[:, None])
    return (local * SCALE).astype(np.float32)


def build_scorer(width: int = 64) -> Any:
    import torch
    from torch import nn

    class GraspScorer(nn.Module):
        """PointNet: a shared per-point MLP, max-pooled, then a head to one logit."""

        def __init__(self) -> None:
            super().__init__()
            self.points = nn.Sequential(nn.Linear(3, width), nn.ReLU(), nn.Linear(width, 2 * width), nn.ReLU(),
                                        nn.Linear(2 * width, 2 * width))
            self.head = nn.Sequential(nn.ReLU(), nn.Linear(2 * width, width), nn.ReLU(), nn.Linear(width, 1))

        def forward(self, clouds: torch.Tensor) -> torch.Tensor:  # (batch, points, 3) -> (batch,)
            return self.head(self.points(clouds).max(dim=1).values).squeeze(-1)

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
    if config.get("kind") != "grasp-scorer":
        raise InputError(f"{folder} holds a model of kind {config.get('kind')!r}, not a grasp scorer.")
    if config.get("gripper") != gripper:
        raise InputError(f"The grasp model in {folder} was trained for the {config.get('gripper')!r} gripper, "
                         f"not {gripper!r}; train one for this gripper or use the antipodal sampler.")
    return config


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


def score(model: Any, mesh: Any, poses: np.ndarray, seed: int = 0, num_points: int = NUM_POINTS) -> np.ndarray:
    """Success probability of each pose (k, 4, 4) on `mesh`."""
    import torch

    clouds = in_gripper_frame(surface_points(mesh, num_points, seed), poses)
    with torch.inference_mode():
        return torch.sigmoid(model(torch.from_numpy(clouds))).numpy()
