"""The grasp task: load an object, sample antipodal grasps, evaluate each in MuJoCo.

Pipeline, top to bottom: object (primitive, bundled or mesh) -> gripper -> candidates
(antipodal sampler, or the poses given) -> one MuJoCo trial per candidate (in this process
or over worker processes; each worker compiles the world once) -> success rate with a 95%
Wilson interval, failures per stage, ACRONYM HDF5 + NumPy export.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np

from workbench.contract import Progress, Requirements, TaskContext
from workbench.contract.errors import InputError
from workbench.contract.limits import Limits
from workbench.paths import is_file
from workbench.tasks.grasping.acronym import Agreement, agreement
from workbench.tasks.grasping.export import write_acronym, write_mesh, write_numpy
from workbench.tasks.grasping.gripper import GripperSpec, get_gripper
from workbench.tasks.grasping.metrics import stage_counts, wilson_interval
from workbench.tasks.grasping.objects import GraspObject, make_object, width_along
from workbench.tasks.grasping.sampler import Candidate, antipodal, jittered
from workbench.tasks.grasping.simulate import Protocol, Trial, TrialOutcome
from workbench.tasks.pool import completed

log = logging.getLogger(__name__)


#: a physical size, mass or force: above 0 and below a million (refuses nan and inf too)
Positive = Annotated[float, Limits(gt=0, lt=1e6)]


@dataclass(frozen=True)
class GraspRequest:
    #: bundled name, box:X,Y,Z / cylinder:R,H / sphere:R (metres), or a mesh file (default: box, or the file's)
    object: str = ""
    #: ACRONYM-format HDF5 to evaluate (every grasp, or its first num_grasps), in its mesh's frame as scaled
    #: by its object/scale; its labels (FleX's in ACRONYM's files) are compared with the simulation
    grasps: str = ""
    #: grasps to sample (0: 20); with a grasp file, the first N of its grasps to evaluate (0: all of them)
    num_grasps: Annotated[int, Limits(ge=0, le=100_000, unit="grasps")] = 0
    gripper: str = "franka"  #: franka (the Panda hand, ACRONYM's frame), parallel-jaw or wide
    max_opening: Positive | None = None  #: m; overrides the gripper's
    force: Positive | None = None  #: N per finger
    finger_depth: Positive | None = None  #: m
    mass: Positive | None = None  #: kg; default from density x volume
    density: Annotated[float, Limits(gt=0, le=1e5, unit="kg/m^3")] = 500.0  #: kg/m^3
    friction: Annotated[float, Limits(gt=0, le=10)] = 1.0  #: sliding friction of the object (the fingers: 1)
    scale: Annotated[float, Limits(gt=0, le=1e3)] = 1.0  #: for mesh files in other units
    seed: int = 0  #: seeds the grasp sampler (the same seed gives the same grasps)
    #: antipodal (the default and baseline), jittered (antipodal grasps perturbed: datasets with failures to
    #: learn from) or learned:<model folder> (many candidates ranked by a model from `workbench grasp-train`)
    sampler: str = "antipodal"
    #: worker processes; 0: every core of the node that runs it
    workers: Annotated[int, Limits(ge=0, le=256, unit="processes")] = 1
    poses: tuple[tuple[float, ...], ...] = ()  #: optional 4x4 poses (row-major, 16 numbers) instead of sampling
    labels: tuple[int, ...] = ()  #: optional known outcomes (1 success, 0 failure) of `poses`, to report agreement
    render: tuple[int, ...] = (0,)  #: trials to render offscreen (PNG + GIF); () for none
    protocol: Protocol = field(default_factory=Protocol)  #: the lift-and-shake trial's settings (Python only)

    def __post_init__(self) -> None:
        from workbench.tasks.grasping.gripper import GRIPPERS
        from workbench.tasks.grasping.objects import check_spec

        if self.grasps:
            from workbench.tasks.grasping.acronym import check_file

            check_file(self.grasps, object_given=bool(self.object))
        if self.object or not self.grasps:
            check_spec(self.object or "box")
        if self.labels and len(self.labels) != len(self.poses):
            raise InputError(f"labels: {len(self.labels)} given for {len(self.poses)} poses.")
        if any(v not in (0, 1) for v in self.labels):
            raise InputError("labels are 1 (success) or 0 (failure).")
        if self.gripper not in GRIPPERS:
            raise InputError(f"Unknown gripper {self.gripper!r}; choose from {', '.join(GRIPPERS)}.")
        count = grasp_count(self)
        bad = [i for i in self.render if not 0 <= i < count]
        if bad:
            raise InputError(f"render {bad[0]}: trials are numbered 0 to {count - 1}.")
        if self.sampler not in ("antipodal", "jittered") and not self.sampler.startswith("learned:"):
            raise InputError(f"Unknown sampler {self.sampler!r}: use antipodal, jittered or learned:<model folder>.")
        if self.sampler.startswith("learned:"):
            from workbench.tasks.grasping.learned import check_model_folder, check_weights

            folder = self.sampler.partition(":")[2]
            check_weights(folder, check_model_folder(folder, self.gripper))
        if isinstance(self.protocol, dict):
            object.__setattr__(self, "protocol", Protocol(**self.protocol))
        for pose in self.poses:
            if len(pose) != 16:
                raise InputError("each pose is 16 numbers (a row-major 4x4 matrix).")


@dataclass
class GraspResult:
    object: dict[str, Any]
    gripper: dict[str, Any]
    protocol: dict[str, Any]
    trials: list[TrialOutcome]
    success_rate: float
    ci_low: float
    ci_high: float
    stage_counts: dict[str, int]
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    agreement: Agreement | None = None  #: against the labels of the grasps evaluated, when they had labels

    def summary(self) -> str:
        """The line (or few) a person reads first: the CLI's headline, `jobs list`, the widget and Gradio."""
        failures = ", ".join(f"{k} {v}" for k, v in self.stage_counts.items() if v) or "none"
        text = (f"success {self.success_rate:.0%} (95% CI {self.ci_low:.0%}-{self.ci_high:.0%}) over "
                f"{len(self.trials)} grasps; failures by stage: {failures}")
        a = getattr(self, "agreement", None)
        if a is None:
            return text
        total = a.true_positive + a.false_positive + a.false_negative + a.true_negative
        called, real = a.true_positive + a.false_positive, a.true_positive + a.false_negative
        return text + (f"\nagreement with the file's labels {(a.true_positive + a.true_negative) / max(1, total):.0%} "
                       f"over {total} grasps (precision {a.true_positive / max(1, called):.0%}, recall "
                       f"{a.true_positive / max(1, real):.0%})")


#: grasps sampled when num_grasps is 0
DEFAULT_SAMPLED = 20


def grasp_count(request: GraspRequest) -> int:
    """How many trials the request runs: its poses, a grasp file's (all, or the first num_grasps), or
    num_grasps sampled."""
    if request.poses:
        return len(request.poses)
    if request.grasps:
        from workbench.tasks.grasping.acronym import file_count

        total = file_count(request.grasps)
        return min(request.num_grasps, total) if request.num_grasps else total
    return request.num_grasps or DEFAULT_SAMPLED


def work(request: GraspRequest) -> float:
    return float(grasp_count(request))


def requirements(request: GraspRequest) -> Requirements:
    return Requirements(kinds=("cpu",))  # MuJoCo steps on CPU cores


def _gripper(request: GraspRequest) -> GripperSpec:
    return get_gripper(request.gripper, max_opening=request.max_opening, force=request.force,
                       finger_depth=request.finger_depth)


def _object(request: GraspRequest) -> GraspObject:
    if request.grasps and not request.object:  # the file's own object, mass and friction unless overridden
        from workbench.tasks.grasping.acronym import file_object

        mesh, scale, mass, friction = file_object(request.grasps)
        return make_object(str(mesh), mass=request.mass or mass,
                           friction=friction if request.friction == GraspRequest.friction else request.friction,
                           scale=scale * request.scale)
    scale = request.scale
    if request.grasps and is_file(request.object):  # a mesh given for a file's grasps: the file's scale applies
        from workbench.tasks.grasping.acronym import file_scale

        scale *= file_scale(request.grasps)
    return make_object(request.object or "box", mass=request.mass, density=request.density,
                       friction=request.friction, scale=scale)


_worlds = threading.local()


def _world(request: GraspRequest) -> Trial:
    """One compiled world per (object, gripper, protocol) per thread: a MuJoCo MjData must never be
    stepped from two threads at once (two jobs on one device run on two worker threads)."""
    key = (request.object, request.grasps, request.mass, request.density, request.friction, request.scale,
           _gripper(request),
           request.protocol)
    cached = getattr(_worlds, "entry", None)
    if cached is None or cached[0] != key:
        _worlds.entry = (key, Trial(_object(request), _gripper(request), request.protocol))
    return _worlds.entry[1]


#: candidates drawn per grasp kept when a learned model ranks them
LEARNED_POOL = 8


def sample(request: GraspRequest, obj: GraspObject, gripper: GripperSpec, world: Trial,
           progress: Any) -> list[Candidate]:
    """The request's candidates: antipodal, jittered antipodal, or the best of a jittered pool by a
    learned model. Same seed, same candidates."""
    def free(pose: np.ndarray) -> bool:
        return not world.starts_in_collision(pose, 0.0)

    if request.sampler == "antipodal":
        return antipodal(obj, gripper, grasp_count(request), request.seed, collision_free=free)
    if request.sampler == "jittered":
        return jittered(antipodal(obj, gripper, grasp_count(request), request.seed, collision_free=free),
                        request.seed, collision_free=free)
    from workbench.tasks.grasping.learned import load, score

    model, config = load(request.sampler.partition(":")[2], gripper.name)
    wanted = grasp_count(request)
    pool = antipodal(obj, gripper, LEARNED_POOL * wanted, request.seed, collision_free=free)
    pool = pool + jittered(pool, request.seed, collision_free=free)
    scores = score(model, config, obj.mesh, obj.mass, np.stack([c.pose for c in pool]), request.seed)
    best = np.argsort(-scores, kind="stable")[:wanted]
    trained = (config.get("friction"), config.get("density"))
    note = "" if None in trained or trained == (request.friction, request.density) else \
        f"; it learned from friction {trained[0]:g}, density {trained[1]:g}, this run is " \
        f"{request.friction:g}, {request.density:g}"
    progress(Progress(0, wanted, f"kept the {len(best)} best of {len(pool)} candidates by "
                                             f"the learned model (scores {scores[best].min():.2f}-"
                                             f"{scores[best].max():.2f}{note})"))
    return [pool[i] for i in best]


def evaluate_batch(request: GraspRequest, batch: list[tuple[int, np.ndarray, float]]) -> list[TrialOutcome]:
    """Evaluate a batch of grasps (runs in a worker process, which compiles the world once)."""
    world = _world(request)
    return [world.run(i, pose, width) for i, pose, width in batch]


def run(request: GraspRequest, ctx: TaskContext) -> GraspResult:
    progress = ctx.progress
    obj = _object(request)
    gripper = _gripper(request)
    world = _world(request)
    count = grasp_count(request)
    labels: list[int] = list(request.labels)
    if request.grasps and not request.poses:
        from workbench.tasks.grasping.acronym import read_grasps

        poses, file_labels, available = read_grasps(request.grasps, count)
        labels = list(file_labels) if file_labels is not None else []
        which = f"the first {len(poses)} of {available}" if available > len(poses) else f"all {available}"
        progress(Progress(0, len(poses), f"{obj.name} ({obj.mass:.3f} kg): evaluating {which} grasps of "
                                         f"{Path(request.grasps).name} in its mesh's frame (scale {obj.scale:g})"))
    else:
        progress(Progress(0, count, f"{obj.name}: {obj.mass:.3f} kg, "
                                    + ("evaluating the poses given" if request.poses else "sampling grasps")))
    if request.poses or request.grasps:
        if request.poses:
            poses = np.array(request.poses, dtype=float).reshape(-1, 4, 4)
        poses = obj.from_source(poses)  # given in the source's frame; simulated in the object's
        # what lies between the open fingers and under them: a ring pinched by its wall is as wide as
        # the wall, not the ring (the far side is beyond the fingers)
        reach = gripper.max_opening / 2 + gripper.finger_thickness
        widths = [width_along(obj, pose[:3, 3] + pose[:3, 2] * gripper.grasp_depth, pose[:3, 0], reach)
                  for pose in poses]
    else:
        candidates = sample(request, obj, gripper, world, progress)
        poses = np.stack([c.pose for c in candidates])
        widths = [c.width for c in candidates]
    total = len(poses)
    source_poses = obj.to_source(poses)  # what files, events and results hold: the source's frame
    # trials finished by an earlier run of this job (it moved here): the same seeded poses, not redone
    outcomes: dict[int, TrialOutcome] = {int(k): v for k, v in ctx.checkpoints.items()}

    def report(o: TrialOutcome) -> None:
        ctx.checkpoint(str(o.index), o)
        done = len(outcomes)
        ok = sum(x.success for x in outcomes.values())
        progress(Progress(done, total, f"trial {o.index + 1}: {'success' if o.success else 'failed at ' + o.stage}"
                          f" ({ok}/{done} so far)", {"trial": o.index, "success": o.success, "stage": o.stage,
                                                     "slip_mm": o.slip_mm,
                                                     "pose": source_poses[o.index].round(5).tolist()}))

    workers = request.workers or os.cpu_count() or 1  # 0 is resolved where the job runs
    todo = [i for i in range(total) if i not in outcomes]
    if workers == 1 or len(todo) == 1:
        for i in todo:
            outcomes[i] = world.run(i, poses[i], widths[i])
            report(outcomes[i])
    else:
        from dataclasses import replace

        light = replace(request, poses=())  # the poses travel once, in the batches
        items = [(i, poses[i], widths[i]) for i in todo]
        size = max(1, min(8, total // (4 * workers)))  # small batches: progress stays per trial-ish
        batches = ((light, items[k:k + size]) for k in range(0, len(items), size))
        with closing(completed(workers, evaluate_batch, batches)) as results:
            for batch in results:
                for o in batch:
                    outcomes[o.index] = o
                    report(o)
    trials = [outcomes[i] for i in range(total)]
    successes = sum(t.success for t in trials)
    low, high = wilson_interval(successes, total)
    out = ctx.workdir
    progress(Progress(total, total, "writing the grasps (ACRONYM HDF5, NumPy)"
                      + (f" and rendering {len(request.render)} trial(s)" if request.render else "")))
    mesh_file = write_mesh(out, obj)
    files = {
        "acronym": write_acronym(out / "grasps.h5", source_poses, trials, mesh_file=mesh_file, obj=obj,
                                 gripper=gripper, protocol=asdict(request.protocol)),
        "numpy": write_numpy(out / "grasps.npz", source_poses, trials),
        "mesh": mesh_file,
    }
    notes = list(obj.notes or [])
    for index in request.render:
        if 0 <= index < total:
            try:
                from workbench.tasks.grasping.render import render_trial

                files.update(render_trial(world, index, poses[index], widths[index], out))
            except Exception as exc:  # no GL here: say so, keep the results
                log.debug("run: ignored", exc_info=True)
                notes.append(f"Trial {index} was not rendered ({type(exc).__name__}: {exc}); set MUJOCO_GL=egl "
                             "or osmesa with the matching system library to render offscreen.")
    obj_info = {"name": obj.name, "kind": obj.kind, "source": obj.source, "mass": obj.mass,
                "friction": obj.friction, "scale": obj.scale, "extents": obj.mesh.extents.round(5).tolist()}
    agreed = agreement(labels, [t.success for t in trials]) if labels else None
    if labels:
        from workbench.tasks.grasping.acronym import read_flex_details, write_agreement_csv

        details = read_flex_details(request.grasps, total) if request.grasps and not request.poses else {}
        files["agreement"] = write_agreement_csv(out / "agreement.csv", labels, trials, details)
    return GraspResult(obj_info, asdict(gripper), asdict(request.protocol), trials, successes / total, low, high,
                       stage_counts(trials), files, notes, agreed)


# ---- fan-out across devices -------------------------------------------------------------

def split(request: GraspRequest, n: int) -> list[GraspRequest]:
    """Sample every candidate once, here, then deal the poses out in contiguous blocks, so the
    trials (and their results) are the same whatever the number of devices."""
    from dataclasses import replace

    labels = list(request.labels)
    if request.poses:
        poses = [tuple(p) for p in request.poses]
    elif request.grasps:
        from workbench.tasks.grasping.acronym import read_grasps

        stacked, file_labels, _ = read_grasps(request.grasps, grasp_count(request))
        poses = [tuple(p.ravel()) for p in stacked]
        labels = [int(v) for v in file_labels] if file_labels is not None else []
    else:
        obj = _object(request)
        candidates = sample(request, obj, _gripper(request), _world(request), lambda p: None)
        poses = [tuple(p.ravel()) for p in obj.to_source(np.stack([c.pose for c in candidates]))]
    n = max(1, min(n, len(poses)))
    size = -(-len(poses) // n)
    return [replace(request, poses=tuple(poses[k:k + size]), num_grasps=len(poses[k:k + size]),
                    labels=tuple(labels[k:k + size]), render=request.render if k == 0 else ())
            for k in range(0, len(poses), size)]


def merge(results: list[GraspResult]) -> GraspResult:
    """One result over all parts: trials re-indexed in order, metrics and exports recomputed."""
    from dataclasses import replace

    trials: list[Any] = []
    poses: list[Any] = []
    for r in results:
        part_poses = np.load(r.files["numpy"])["transforms"]
        for t, pose in zip(r.trials, part_poses):
            trials.append(replace(t, index=len(trials)))
            poses.append(pose)
    stacked = np.stack(poses)
    first = results[0]
    successes = sum(t.success for t in trials)
    low, high = wilson_interval(successes, len(trials))
    out = Path(tempfile.mkdtemp(prefix="workbench-grasp-"))
    info = first.object
    obj = make_object(info["source"], mass=info["mass"], friction=info["friction"], scale=info["scale"])
    gripper = GripperSpec(**first.gripper)
    mesh = write_mesh(out, obj)
    files = {
        "acronym": write_acronym(out / "grasps.h5", stacked, trials, mesh_file=mesh, obj=obj, gripper=gripper,
                                 protocol=first.protocol),
        "numpy": write_numpy(out / "grasps.npz", stacked, trials),
        "mesh": mesh,
    }
    for key, path in first.files.items():
        if key.startswith("trial_"):
            files[key] = Path(path)
    if all("agreement" in r.files for r in results):  # one table, the grasps numbered as merged
        rows, offset = [], 0
        for r in results:
            lines = Path(r.files["agreement"]).read_text().splitlines()
            header = lines[0]
            rows += [f"{int(line.split(',', 1)[0]) + offset},{line.split(',', 1)[1]}" for line in lines[1:]]
            offset += len(r.trials)
        files["agreement"] = out / "agreement.csv"
        files["agreement"].write_text("\n".join([header, *rows]) + "\n")
    parts = [r.agreement for r in results if r.agreement is not None]
    agreed = sum(parts[1:], parts[0]) if parts else None
    return GraspResult(first.object, first.gripper, first.protocol, trials, successes / len(trials), low, high,
                       stage_counts(trials), files, [n for r in results for n in r.notes], agreed)
