"""The `grasp-train` task: fit the learned grasp scorer on a dataset from `workbench grasp-dataset`.

The dataset's objects are split once, by a seed, into training and held-out objects (never
seen in training); the split is recorded in the model's config. Every epoch reports the
training loss, the held-out loss and accuracy, and the held-out top-10 success: for each
held-out object, the simulated success of the 10 grasps the model ranks highest, against
the object's success rate over all its grasps (what picking at random from the same
candidates gives). Curves go to a PNG and `metrics.json`; `scorer.pt` + `config.json` make a
model folder for `sampler="learned:<folder>"`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np

from workbench.contract import InputError, Progress, Requirements, TaskContext
from workbench.contract.limits import Limits
from workbench.paths import is_file


@dataclass(frozen=True)
class GraspTrainRequest:
    data: str = ""  #: a dataset folder written by `workbench grasp-dataset` (it holds manifest.json)
    epochs: Annotated[int, Limits(ge=1, le=10_000, unit="epochs")] = 30  #: passes over the training grasps
    batch_size: Annotated[int, Limits(ge=1, le=65_536, unit="grasps")] = 64  #: grasps per optimiser step
    learning_rate: Annotated[float, Limits(gt=0, le=1)] = 1e-3  #: Adam's step size
    #: fraction of the objects kept out of training, for validation
    held_out: Annotated[float, Limits(gt=0, lt=1)] = 0.25
    #: surface points per object the network reads
    num_points: Annotated[int, Limits(ge=16, le=4096, unit="points")] = 256
    width: Annotated[int, Limits(ge=8, le=1024)] = 64  #: network width
    seed: int = 0  #: seeds the weights, the shuffling and the held-out split

    def __post_init__(self) -> None:
        read_manifest(self.data)


@dataclass
class GraspTrainResult:
    epochs: int
    train_loss: list[float]
    val_loss: list[float]
    val_accuracy: list[float]
    val_top10_success: list[float]  #: per epoch, mean over held-out objects
    val_base_success: float  #: mean success of all held-out grasps (picking at random)
    train_objects: list[str]
    held_out_objects: list[str]
    gripper: str
    files: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        """The line (or few) a person reads first: the CLI's headline, `jobs list`, the widget and Gradio."""
        return (f"{self.epochs} epochs: loss {self.train_loss[-1]:.3f}; held-out objects "
                f"({len(self.held_out_objects)}): accuracy {self.val_accuracy[-1]:.0%}, top-10 success "
                f"{self.val_top10_success[-1]:.0%} vs {self.val_base_success:.0%} over all their grasps")


def read_manifest(data: str | Path) -> dict[str, Any]:
    """The dataset's manifest, its entries and their files checked (a job never meets a bad one)."""
    folder = Path(data) if data else None
    if folder is None or not is_file(folder / "manifest.json"):
        raise InputError(f"{data or '(no folder)'} is not a grasp dataset (no manifest.json); make one with "
                         "`workbench grasp-dataset`.")
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (ValueError, OSError) as exc:
        raise InputError(f"{folder / 'manifest.json'} is not readable JSON ({exc}).") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("objects"), list) \
            or not all(isinstance(o, dict) for o in manifest["objects"]):
        raise InputError(f"{folder / 'manifest.json'} is not a grasp dataset manifest (an object whose `objects` "
                         "is a list of entries); make one with `workbench grasp-dataset`.")
    done = [o for o in manifest["objects"] if o.get("grasps")]
    if len(done) < 2:
        raise InputError(f"{folder} holds {len(done)} finished object(s); training needs at least 2 (one held out).")
    from workbench.tasks.grasping.acronym import check_file

    root = folder.resolve()
    for entry in done:  # every file it names: inside the dataset, there, and sound (labels, finite, mass > 0)
        for key in ("grasps", "mesh"):
            target = (root / str(entry.get(key) or "")).resolve()
            if root not in target.parents or not is_file(target):
                raise InputError(f"{folder}: entry {entry.get('name')!r} names {key} {entry.get(key)!r}, which is not "
                                 "a file inside the dataset.")
        check_file(root / entry["grasps"], object_given=True, training=True)
    return manifest


def requirements(request: GraspTrainRequest) -> Requirements:
    return Requirements(workload="compute")


def work(request: GraspTrainRequest) -> float:
    return float(request.epochs)


def _load(folder: Path, entry: dict[str, Any], num_points: int, centre_z: float,
          seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clouds, context, labels) of one dataset object's grasps: what the network reads."""
    import h5py
    import trimesh

    from workbench.tasks.grasping.learned import in_gripper_frame, surface_points

    with h5py.File(folder / entry["grasps"], "r") as f:
        poses = f["grasps/transforms"][()]
        labels = f["grasps/qualities/flex/object_in_gripper"][()].astype(np.float32)
        mass = float(f["object/mass"][()])
        scale = float(f["object/scale"][()]) if "object/scale" in f else 1.0
    mesh: Any = trimesh.load(folder / entry["mesh"], force="mesh")  # a Trimesh (force="mesh"); its hint is wider
    # the grasps are in the frame of the mesh file as scaled (ACRONYM's); the network reads the object
    # centred on its centre of mass, so both move by the same shift
    mesh.apply_scale(scale)
    shift = -mesh.center_mass
    mesh.apply_translation(shift)
    poses = np.array(poses, dtype=float)
    poses[:, :3, 3] += shift
    return (*in_gripper_frame(surface_points(mesh, num_points, seed), poses, centre_z, mass, num_points), labels)


def run(request: GraspTrainRequest, ctx: TaskContext) -> GraspTrainResult:
    import torch

    from workbench.tasks.grasping.gripper import get_gripper
    from workbench.tasks.grasping.learned import INPUTS, LOCAL_POINTS, MIRRORS, build_scorer, mirrored, save

    folder = Path(request.data)
    manifest = read_manifest(folder)
    entries = [o for o in manifest["objects"] if o.get("grasps")]
    rng = np.random.default_rng(request.seed)
    order = rng.permutation(len(entries))
    n_val = max(1, math.ceil(request.held_out * len(entries)))
    val_idx, train_idx = order[:n_val], order[n_val:]
    gripper = manifest.get("gripper", "franka")
    centre_z = get_gripper(gripper).grasp_depth
    objects = [_load(folder, e, request.num_points, centre_z, k) for k, e in enumerate(entries)]
    device = torch.device(ctx.torch_device)
    torch.manual_seed(request.seed)
    model = build_scorer(request.width).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=request.learning_rate)

    train = [(k, i) for k in train_idx for i in range(len(objects[k][2]))]
    steps_per_epoch = -(-len(train) // request.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, request.learning_rate,
                                                   total_steps=request.epochs * steps_per_epoch)
    positives = sum(objects[k][2][i] for k, i in train)
    pos_weight = torch.tensor((len(train) - positives) / max(positives, 1.0), device=device)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)

    def batch(pairs: list[tuple[int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """The pairs' inputs, each in a random mirror image (the gripper cannot tell them apart)."""
        flips = rng.integers(len(MIRRORS), size=len(pairs))
        inputs = [mirrored(objects[k][0][i], objects[k][1][i], MIRRORS[f]) for (k, i), f in zip(pairs, flips)]
        points, poses = (torch.from_numpy(np.stack(part)).to(device) for part in zip(*inputs))
        return points, poses

    def evaluate() -> tuple[float, float, float]:
        model.eval()
        losses, correct, total, tops = [], 0, 0, []
        with torch.inference_mode():
            for k in val_idx:
                clouds, context, labels = objects[k]
                logits = model(torch.from_numpy(clouds).to(device), torch.from_numpy(context).to(device))
                target = torch.from_numpy(labels).to(device)
                losses.append(float(loss_fn(logits, target)) * len(labels))
                correct += int(((logits > 0).float() == target).sum())
                total += len(labels)
                top = torch.argsort(logits, descending=True)[:10].cpu().numpy()
                tops.append(float(labels[top].mean()))
        model.train()
        return sum(losses) / total, correct / total, float(np.mean(tops))

    history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_accuracy": [], "val_top10": []}
    for epoch in range(request.epochs):
        perm = rng.permutation(len(train))
        running, seen = 0.0, 0
        for start in range(0, len(perm), request.batch_size):
            pairs = [train[j] for j in perm[start:start + request.batch_size]]
            target = torch.tensor([objects[k][2][i] for k, i in pairs], device=device)
            loss = loss_fn(model(*batch(pairs)), target)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            running += float(loss.detach()) * len(pairs)
            seen += len(pairs)
        val_loss, val_acc, val_top = evaluate()
        for key, value in (("train_loss", running / max(seen, 1)), ("val_loss", val_loss),
                           ("val_accuracy", val_acc), ("val_top10", val_top)):
            history[key].append(round(value, 5))
        ctx.progress(Progress(epoch + 1, request.epochs,
                              f"epoch {epoch + 1}: loss {history['train_loss'][-1]:.3f}, held-out accuracy "
                              f"{val_acc:.0%}, top-10 success {val_top:.0%}",
                              {"epoch": epoch + 1, **{k: v[-1] for k, v in history.items()}}))
    base = float(np.mean([objects[k][2].mean() for k in val_idx]))
    out = ctx.workdir
    names = [e["name"] for e in entries]
    config = {"kind": "grasp-scorer", "inputs": INPUTS, "gripper": gripper, "centre_z": centre_z,
              "width": request.width, "num_points": request.num_points, "local_points": LOCAL_POINTS,
              "friction": manifest.get("friction"), "density": manifest.get("density"),
              "held_out": [names[k] for k in val_idx],
              "trained_on": [names[k] for k in train_idx], "dataset": str(folder.resolve()),
              "epochs": request.epochs, "seed": request.seed}
    save(out, model.cpu(), config)
    (out / "metrics.json").write_text(json.dumps({**history, "val_base_success": base}, indent=1))
    files = {"scorer": out / "scorer.pt", "config": out / "config.json", "metrics": out / "metrics.json",
             "curves": _plot(history, base, out / "curves.png")}
    return GraspTrainResult(request.epochs, history["train_loss"], history["val_loss"], history["val_accuracy"],
                            history["val_top10"], base, config["trained_on"], config["held_out"],
                            config["gripper"], files)


def _plot(history: dict[str, list[float]], base: float, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = range(1, len(history["train_loss"]) + 1)
    fig, (loss_ax, success_ax) = plt.subplots(1, 2, figsize=(8, 3), dpi=100)
    loss_ax.plot(epochs, history["train_loss"], label="training")
    loss_ax.plot(epochs, history["val_loss"], label="held-out objects")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("loss (weighted BCE)")
    loss_ax.legend()
    success_ax.plot(epochs, history["val_top10"], label="top-10 by the model")
    success_ax.axhline(base, color="grey", linestyle="--", label="all grasps")
    success_ax.plot(epochs, history["val_accuracy"], label="accuracy")
    success_ax.set_ylim(0, 1)
    success_ax.set_xlabel("epoch")
    success_ax.set_ylabel("held-out objects")
    success_ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
