"""The place task: an instruction about a tabletop scene, planned and carried out in MuJoCo,
then judged with the benchmark's position and rotation metrics.

Pipeline, top to bottom: check the request (scene readable, instruction parsed into a goal the
scene can hold: refused in one sentence otherwise) -> build the world and let it settle ->
plan (target pose, grasp, regrasp) -> execute stage by stage (progress per stage, cancel
between stages) -> judge -> files: the scene before (JSON + MJCF), the scene after (JSON),
a GIF of the whole task and a PNG of the end, and the record of the task as JSON.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np

from workbench.contract import Progress, Requirements, TaskContext
from workbench.contract.errors import InputError
from workbench.contract.limits import Limits
from workbench.tasks import motion

log = logging.getLogger(__name__)

#: failure causes, in the order a task can meet them
CAUSES = ("parser", "unreachable", "grasp failed", "dropped", "fell over", "missed")


@dataclass(frozen=True)
class PlaceRequest:
    instruction: str = "put the can left of the box"  #: what to do, e.g. 'put the mug upright left of the box'
    scene: str = "default"  #: default (box, can, ball, bar, mug), procedural:SEED, or a scene .json file
    seed: int = 0  #: grasp sampling
    gripper: str = "franka"  #: franka (the Panda hand, ACRONYM's frame), parallel-jaw or wide
    render: bool = True  #: a GIF of the task and a PNG of the end (needs offscreen GL)
    #: degrees the up axis may be off the goal
    rotation_tolerance: Annotated[float, Limits(ge=1, le=90, unit="degrees")] = 20.0
    #: rules (the offline templates), or model[:ID]: a language model from the registry rewrites free text
    #: into a template sentence the rules then check (default model qwen2.5-0.5b-instruct)
    parser: str = "rules"
    tiny: bool = False  #: with parser=model: the model's tiny random twin (tests; its readings are noise)
    #: an Open6DOR task file (task_config.json): its objects, poses and instruction replace scene and instruction
    task_file: str = ""
    #: with task_file: the folder of the benchmark's assets its URDFs are under (bundled objects stand for themselves)
    objects: str = ""

    def __post_init__(self) -> None:
        from workbench.tasks.grasping.gripper import GRIPPERS

        if self.gripper not in GRIPPERS:
            raise InputError(f"Unknown gripper {self.gripper!r}; choose from {', '.join(GRIPPERS)}.")
        if self.parser == "rules":
            self.goal()  # refuse a bad scene or instruction before any job starts
            return
        if not (self.parser == "model" or self.parser.startswith("model:")):
            raise InputError(f"Unknown parser {self.parser!r}: use rules, or model[:ID] for a language model.")
        from workbench import models

        spec = models.get_spec(self.model_id)
        if "instruction" not in spec.task:
            raise InputError(f"Model {spec.id!r} is for {spec.task}, not instruction parsing; use one of "
                             f"{', '.join(m for m, s in models.MODELS.items() if 'instruction' in s.task)}.")
        if not self.tiny:
            models.local_path(spec.id)  # weights missing: the one sentence naming `workbench models pull`
        if not self.instruction.strip():
            raise InputError("The instruction is empty; say what to move, e.g. 'put the can left of the box'.")
        self.load()

    @property
    def model_id(self) -> str:
        from workbench.tasks.rearrange.language import DEFAULT_MODEL

        return self.parser.partition(":")[2] or DEFAULT_MODEL

    def load(self):
        if self.task_file:
            from workbench.tasks.rearrange.open6dor import load_task

            return load_task(self.task_file, self.objects or None)[0]
        from workbench.tasks.rearrange.scene import load_scene

        return load_scene(self.scene)

    @property
    def text(self) -> str:
        """The instruction carried out: the task file's, or `instruction`."""
        if self.task_file:
            from workbench.tasks.rearrange.open6dor import load_task

            return load_task(self.task_file, self.objects or None)[1]
        return self.instruction

    def goal(self, scene=None):
        from workbench.tasks.rearrange.instruction import parse

        if self.task_file:
            from workbench.tasks.rearrange.open6dor import load_task

            scene_of_file, text, target = load_task(self.task_file, self.objects or None)
            return parse(text, scene or scene_of_file, subject=target)
        return parse(self.instruction, scene or self.load())


@dataclass
class PlaceResult:
    instruction: str
    goal: dict[str, Any]  #: object, relations, rotation, track and the constraints as sentences
    track: str  #: position | rotation | 6dof
    success: bool
    position_success: bool | None
    rotation_success: bool | None
    cause: str  #: '' on success, else one of CAUSES
    reason: str
    relations: list[dict[str, Any]]
    rotation_error: float  #: degrees
    moves: int  #: 1, or 2 with a regrasp, 0 when unreachable
    target_pose: list[list[float]] | None  #: the object's planned pose, 4x4
    final_poses: dict[str, list[list[float]]]  #: every object's pose at the end, 4x4
    disturbed: list[str]  #: other objects pushed more than 2 cm
    files: dict[str, Path] = field(default_factory=dict)
    reading: str = ""  #: with a model parser: the template sentence the model wrote
    notes: list[str] = field(default_factory=list)
    open6dor_position: bool | None = None  #: the position judged by Open6DOR's rules (None: no relation)

    def summary(self) -> str:
        """The line (or few) a person reads first: the CLI's headline, `jobs list`, the widget and Gradio."""
        judged = [f"{name} {'ok' if ok else 'failed'}"
                  for name, ok in (("position", self.position_success), ("rotation", self.rotation_success))
                  if ok is not None]
        head = f"{'success' if self.success else 'failed'} ({self.track} track): " + ", ".join(judged)
        if self.cause:
            head += f"; {self.cause}: {self.reason}"
        if self.moves > 1:
            head += f"; {self.moves} moves (regrasp)"
        return "\n".join([head, *("  " + line for line in self.goal.get("constraints", []))])


def requirements(request: PlaceRequest) -> Requirements:
    return Requirements(kinds=("cpu",))  # MuJoCo steps on CPU cores


def work(request: PlaceRequest) -> float:
    return 1.0


def _pose_list(pose: np.ndarray) -> list[list[float]]:
    return np.round(pose, 5).tolist()


def run(request: PlaceRequest, ctx: TaskContext) -> PlaceResult:
    from workbench.tasks.grasping.gripper import get_gripper
    from workbench.tasks.rearrange.evaluate import Tolerances, judge
    from workbench.tasks.rearrange.execute import STAGES, execute, finish
    from workbench.tasks.rearrange.plan import Planner, Unreachable
    from workbench.tasks.rearrange.world import TableWorld, save_scene

    scene = request.load()
    reading = ""
    if request.parser == "rules":
        goal = request.goal(scene)
    else:  # free text: the model writes a template sentence, the rules read and check it
        from workbench import models
        from workbench.tasks.rearrange.language import read

        ctx.progress(Progress(0, None, f"reading the instruction with {request.model_id}"))
        model = models.load(request.model_id, "cpu", "float32", tiny=request.tiny)
        with models.exclusive(model):
            goal, reading = read(request.text, scene, model, request.model_id)
    out = ctx.workdir
    files = save_scene(scene, out, "scene")
    ctx.progress(Progress(0, None, "goal: " + "; ".join(goal.constraints()),
                          {"goal": goal.to_json(), "reading": reading}))
    ctx.progress(Progress(0, None, f"building the table in MuJoCo ({len(scene.objects)} objects)"))
    world = TableWorld(scene, get_gripper(request.gripper))
    now = {"progress": Progress(0, None, "letting the scene settle")}

    def say(progress: Progress) -> None:  # a stage starts; the simulated clock ticks within it
        now["progress"] = progress
        ctx.progress(progress)

    # the simulated clock ticks within a stage (progress with the stage's data; a cancel lands here too)
    world.on_tick = lambda t: ctx.progress(Progress(now["progress"].done, now["progress"].total,
                                                    f"{now['progress'].message} (simulated {t:.1f} s)",
                                                    now["progress"].data))
    world.settle(0.5)
    before = world.poses()
    planner = Planner(scene, world, world.gripper, request.seed)
    frames: list[np.ndarray] = []
    recorder = Recorder(world, frames) if request.render else None
    if recorder is not None:
        recorder.start()
    notes: list[str] = []
    say(Progress(0, None, "planning the target pose and the grasp"))
    try:
        plan = planner.plan(goal)
    except Unreachable as exc:
        plan, cause, reason = None, "unreachable", str(exc)
    moves = 0
    target = plan.target if plan is not None else None
    if plan is not None:
        ctx.progress(Progress(0, None, f"plan: {len(plan.moves)} move(s)"
                              + (" (a regrasp: put down once in between)" if plan.regrasp else "")
                              + f", target at ({plan.target[0, 3]:.3f}, {plan.target[1, 3]:.3f}) m",
                              {"target": _pose_list(plan.target), "object": goal.object}))
        cause, reason = "", ""
        while True:
            total = (moves + len(plan.moves)) * len(STAGES) + 1

            def stage(name: str, move: int = moves, total: int = total) -> None:
                ctx.check_cancelled()  # cancel lands between stages
                done = move * len(STAGES) + STAGES.index(name)
                say(Progress(done, total, f"move {move + 1}: {name}", {"stage": name, "move": move}))

            executed = execute(world, plan.moves[0], stage)
            if not executed.ok:
                cause = "grasp failed" if executed.stage in ("grasp", "lift") else "dropped"
                reason = executed.reason
                break
            moves += 1
            if len(plan.moves) == 1 or moves >= 3:
                break
            try:  # the object was put down to be taken another way: plan again from where it lies
                plan = planner.plan(goal)
                target = plan.target
            except Unreachable as exc:
                plan, cause, reason = None, "unreachable", f"after putting it down once, {exc}"
                break
        ctx.check_cancelled()
        say(Progress(total - 1, total, "settle", {"stage": "settle"}))
        finish(world)
    after = world.poses()
    ctx.progress(Progress(1, 1, "judging the result against the goal"))
    verdict = judge(goal, scene, before, after, Tolerances(rotation_tolerance=request.rotation_tolerance))
    if not cause and not verdict.success:
        from workbench.tasks.rearrange.plan import angle

        turned = angle(after[goal.object][:3, :3], target[:3, :3]) if target is not None else 0.0
        tipped = turned > request.rotation_tolerance
        cause = "fell over" if tipped else "missed"
        failed = [r for r in verdict.relations if not r["held"]]
        reason = (f"the {goal.object} ended turned {turned:.0f} degrees from where it was put" if tipped else
                  "not held: " + ", ".join(f"{r['kind']} {' and '.join(r['anchors'])}".strip() for r in failed)
                  if failed else f"rotation {verdict.rotation_error:.0f} degrees off the goal")
    if recorder is not None:
        ctx.progress(Progress(1, 1, f"writing the animation ({len(frames)} frames)"))
        notes += recorder.finish(out, files)
    after_file = out / "scene_after.json"
    from workbench.tasks.rearrange.scene import quat_of

    state = scene.to_json()
    for entry in state["objects"]:
        pose = after[entry["name"]]
        entry["x"], entry["y"] = round(float(pose[0, 3]), 5), round(float(pose[1, 3]), 5)
        entry["quat"] = [round(v, 6) for v in quat_of(pose[:3, :3])]
    after_file.write_text(json.dumps(state, indent=2))
    files["scene_after"] = after_file
    result = PlaceResult(
        request.text, goal.to_json(), goal.track, verdict.success and not cause, verdict.position,
        verdict.rotation, cause, reason, verdict.relations, verdict.rotation_error, moves,
        _pose_list(target) if target is not None else None, {n: _pose_list(p) for n, p in after.items()},
        verdict.moved, files, reading=reading, notes=notes, open6dor_position=verdict.open6dor_position)
    record = out / "task.json"
    record.write_text(json.dumps({k: v for k, v in asdict(result).items() if k != "files"}, indent=2))
    result.files["record"] = record
    return result


class Recorder:
    """Frames of the task from where the person stands (in front of the table), then a GIF and a PNG,
    and the poses and contacts behind each GIF frame (`motion.json`) for the widget's 3D replay."""

    def __init__(self, world, frames: list[np.ndarray], fps: int = 12, size: tuple[int, int] = (400, 300)):
        self.world, self.frames, self.fps, self.size = world, frames, fps, size
        self.renderer = None
        self.error = ""
        self.moved: list[dict] = []

    def start(self) -> None:
        import os

        import mujoco

        from workbench.tasks.rearrange.world import TIMESTEP

        if not os.environ.get("MUJOCO_GL") and not os.environ.get("DISPLAY"):
            self.error = "no offscreen GL back-end: set MUJOCO_GL=egl before mujoco is imported"
            return
        try:
            self.renderer = mujoco.Renderer(self.world.model, height=self.size[1], width=self.size[0])
        except Exception as exc:  # no GL here: say so, keep the results
            log.debug("Recorder.start: ignored", exc_info=True)
            self.error = f"{type(exc).__name__}: {exc}"
            return
        cam = mujoco.MjvCamera()
        cam.type = mujoco.mjtCamera.mjCAMERA_FREE
        cam.lookat[:] = (0.0, 0.0, 0.06)
        cam.distance, cam.azimuth, cam.elevation = 1.0, 90.0, -32.0
        self.camera = cam
        self.boxes = motion.box_ids(self.world.model)
        self.object_geoms = [g for geoms in self.world.geoms.values() for g in geoms]
        self.world.frame_every = max(1, int(round(1.0 / (self.fps * TIMESTEP))))
        self.world.on_frame = self.grab
        self.grab()

    def grab(self) -> None:
        data = self.world.data
        if self.renderer is None:  # rendering is off
            return
        self.renderer.update_scene(data, camera=self.camera)
        self.frames.append(self.renderer.render().copy())
        self.moved.append({"objects": {n: motion.flat(p) for n, p in self.world.poses().items()},
                           "boxes": [motion.flat(b) for b in motion.box_poses(data, self.boxes)],
                           "contacts": [motion.point(np.eye(4), c) for c in
                                        motion.contacts(data, self.world.hand_geoms, self.object_geoms)]})

    def finish(self, out: Path, files: dict[str, Path]) -> list[str]:
        if self.renderer is None:
            return [f"The task was not rendered ({self.error or 'nothing was executed'})."] if self.error else []
        import imageio.v3 as iio

        self.grab()
        self.world.on_frame = None
        self.renderer.close()
        files["png"] = out / "result.png"
        iio.imwrite(files["png"], self.frames[-1])
        files["gif"] = out / "task.gif"
        iio.imwrite(files["gif"], np.stack(self.frames[::2]), duration=int(2000 / self.fps), loop=0)
        files["motion"] = out / "motion.json"  # the same frames as the GIF's, in the table's frame
        files["motion"].write_text(json.dumps({
            "format": "workbench-task-motion/1", "fps": self.fps / 2,
            "boxes": motion.boxes(self.world.model, self.boxes), "frames": self.moved[::2]}))
        return []
