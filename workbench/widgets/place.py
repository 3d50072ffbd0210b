"""`PlaceWidget`: a tabletop in 3D, an instruction box, the parsed goal before anything moves, and
the task replayed when it ends.

The goal is parsed as the instruction is typed (the same parser the task uses), so the
constraints, or the sentence saying what was not understood, show before Run. The scene's
objects are drawn with three.js at their poses; a finished task moves them to where they ended,
shows the planned target as a ghost, the verdict per metric, and the GIF of the whole task.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import traitlets as t

from workbench.contract.errors import WorkbenchError
from workbench.presenters import summary
from workbench.widgets.base import JobWidget, widget_module

SCENES = ("default", "procedural:1", "procedural:2", "procedural:3", "procedural:4")


class PlaceWidget(JobWidget):
    _esm = widget_module("place.js")
    title = "Pick and place"

    scene = t.Unicode("default").tag(sync=True)
    scenes = t.List(t.Unicode()).tag(sync=True)
    instruction = t.Unicode("put the mug upright to the left of the box").tag(sync=True)
    constraints = t.List(t.Unicode()).tag(sync=True)  #: the parsed goal, as shown before execution
    refusal = t.Unicode("").tag(sync=True)  #: why the instruction cannot be carried out, when it cannot
    objects = t.List(t.Dict()).tag(sync=True)  #: name, vertices, faces (object frame), colour, pose (16)
    target = t.Dict().tag(sync=True)  #: {"name", "pose"} of the planned target, once planned
    stage = t.Unicode("").tag(sync=True)
    summary = t.Unicode("").tag(sync=True)
    verdict = t.Dict().tag(sync=True)  #: success, position, rotation, cause, reason, rotation_error
    replay = t.Unicode("").tag(sync=True)  #: data URI of the task's GIF
    #: the poses behind the GIF's frames (every object, the gripper's boxes, contacts): the 3D replay
    replay_motion = t.Dict().tag(sync=True)

    def __init__(self, instruction: str | None = None, scene: str = "default", **kwargs: Any):
        if instruction is not None:
            kwargs["instruction"] = instruction
        scenes = list(SCENES) if scene in SCENES else [scene, *SCENES]
        super().__init__(scene=scene, scenes=scenes, **kwargs)
        self.observe(self._on_inputs, names=["instruction", "scene"])
        self._parse()

    # ---- the goal before anything runs ---------------------------------------------------------
    def _on_inputs(self, change: dict) -> None:
        if change["name"] == "scene":
            self.objects, self.target, self.verdict, self.replay, self.replay_motion = [], {}, {}, "", {}
            self._load_scene()
        self._parse()

    def _parse(self) -> None:
        from workbench.tasks.rearrange.instruction import parse
        from workbench.tasks.rearrange.scene import load_scene

        try:
            goal = parse(self.instruction, load_scene(self.scene))
        except WorkbenchError as exc:
            self.constraints, self.refusal = [], str(exc)
            return
        self.constraints, self.refusal = goal.constraints(), ""

    def _on_ready(self) -> None:
        if not self.objects:  # meshes are built when the view first shows, not in the constructor
            self._load_scene()

    def _load_scene(self, poses: dict[str, list] | None = None) -> None:
        from workbench.tasks.rearrange.scene import load_scene

        try:
            scene = load_scene(self.scene)
        except WorkbenchError as exc:
            self.error = str(exc)
            return
        objects = []
        for p in scene.objects:
            mesh = scene.grasp_objects[p.name].mesh
            pose = poses[p.name] if poses else scene.resting_pose(p.name).tolist()
            objects.append({"name": p.name, "vertices": mesh.vertices.round(5).ravel().tolist(),
                            "faces": mesh.faces.ravel().tolist(), "colour": list(p.colour),
                            "pose": [x for row in pose for x in row]})
        self.objects = objects

    # ---- the job ----------------------------------------------------------------------------
    def _submit(self) -> Any:
        from workbench import api

        self.target, self.verdict, self.replay, self.summary, self.stage = {}, {}, "", "", ""
        self.replay_motion = {}
        self._parse()
        return api.submit("place", instruction=self.instruction, scene=self.scene, device=self.device)

    def _on_progress(self, progress: Any) -> None:
        d = progress.data
        if "stage" in d:
            self.stage = d["stage"]
        if "target" in d:  # the plan's event names the object it moves
            self.target = {"name": d["object"], "pose": [x for row in d["target"] for x in row]}

    def _show(self, result: Any) -> None:
        self.summary = summary(result)
        self.verdict = {"success": result.success, "position": result.position_success,
                        "rotation": result.rotation_success, "cause": result.cause, "reason": result.reason,
                        "rotation_error": result.rotation_error, "track": result.track}
        self._load_scene(result.final_poses)
        moves = result.files.get("motion")
        self.replay_motion = json.loads(moves.read_text()) if moves is not None else {}
        gif = result.files.get("gif")
        if gif is not None:
            self.replay = "data:image/gif;base64," + base64.b64encode(gif.read_bytes()).decode()

    def _snapshot_body(self) -> str:
        from workbench.widgets.snapshot import esc, image, still, table

        v = self.verdict
        rows = [{"check": k, "result": v.get(k)} for k in ("success", "position", "rotation", "rotation_error",
                                                            "cause", "reason") if v.get(k) not in (None, "")]
        picture = image(still(self.replay), "the scene after the task (the replay's last frame)", 320) \
            if self.replay else ""
        goal = "".join(f"<li>{esc(c)}</li>" for c in self.constraints)
        return (f"<p>{esc(self.instruction)}</p>{f'<ul>{goal}</ul>' if goal else ''}<div>{picture}</div>"
                + table(rows, ["check", "result"]))
