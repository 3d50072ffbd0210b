"""`GraspWidget`: pick an object and a gripper, run grasp trials, watch them fill in.

The object is drawn with three.js (bundled, no CDN); each grasp appears as a gripper
glyph as soon as its trial finishes, green for success and red for a failure. Clicking a
grasp submits a one-trial job that replays and renders it, and shows the picture.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import traitlets as t

from workbench.contract.errors import InputError, WorkbenchError
from workbench.presenters import summary
from workbench.widgets.base import JobWidget, widget_module


class GraspWidget(JobWidget):
    bounded_inputs = {"num_grasps": ("grasp", "num_grasps")}
    _esm = widget_module("grasp.js")
    title = "Grasping"

    object = t.Unicode("box").tag(sync=True)
    objects = t.List(t.Unicode()).tag(sync=True)
    gripper = t.Unicode("franka").tag(sync=True)
    grippers = t.List(t.Unicode()).tag(sync=True)
    num_grasps = t.Int(20).tag(sync=True)
    seed = t.Int(0).tag(sync=True)

    mesh = t.Dict().tag(sync=True)  #: {"vertices": [...], "faces": [...]} in metres
    grasps = t.List(t.Dict()).tag(sync=True)  #: index, pose (16, row-major), success, stage
    summary = t.Unicode("").tag(sync=True)
    selected = t.Int(-1).tag(sync=True)
    trial_image = t.Unicode("").tag(sync=True)  #: data URI of the rendered trial (GIF)
    #: the poses behind the GIF's frames (object, gripper boxes, contacts): the interactive 3D replay
    trial_motion = t.Dict().tag(sync=True)
    files = t.Dict().tag(sync=True)  #: name -> path inside the job's folder (downloads through the server)

    def __init__(self, object: str = "box", **kwargs: Any):
        from workbench.tasks.grasping.gripper import GRIPPERS
        from workbench.tasks.grasping.objects import BUNDLED

        super().__init__(object=object, objects=list(BUNDLED), grippers=list(GRIPPERS), **kwargs)
        self._poses: dict[int, list[float]] = {}
        self.observe(self._on_select, names="selected")

    def _on_ready(self) -> None:
        if not self.mesh:  # the mesh (trimesh, maybe a convex decomposition) loads when first shown
            self._load_mesh()

    def _load_mesh(self) -> None:
        from workbench.tasks.grasping.objects import make_object

        try:
            obj = make_object(self.object)
        except WorkbenchError as exc:
            self.error, self.mesh = str(exc), {}
            return
        self.mesh = {"vertices": obj.mesh.vertices.round(5).ravel().tolist(),
                     "faces": obj.mesh.faces.ravel().tolist()}

    def _submit(self) -> Any:
        from workbench import api

        self.grasps, self.summary, self.trial_image, self.selected, self.files = [], "", "", -1, {}
        self.trial_motion = {}
        self._poses = {}
        self._load_mesh()
        if self.error:  # the object itself is invalid: say so before queueing anything
            raise InputError(self.error)
        return api.submit("grasp", object=self.object, num_grasps=self.num_grasps, gripper=self.gripper,
                          seed=self.seed, render=(), device=self.device)

    def _on_progress(self, progress: Any) -> None:
        d = progress.data
        if "trial" not in d:
            return
        pose = [x for row in d["pose"] for x in row]
        self._poses[d["trial"]] = pose
        self.grasps = [*self.grasps, {"index": d["trial"], "pose": pose, "success": d["success"],
                                      "stage": d["stage"], "slip_mm": d.get("slip_mm")}]

    def _show(self, result: Any) -> None:
        self.summary = summary(result)
        from pathlib import Path

        from workbench.jobs.store import default_store

        folder = default_store().jobs_dir / self.job_id
        self.files = {Path(p).name: Path(p).relative_to(folder).as_posix() for k, p in result.files.items()
                      if k in ("acronym", "numpy") and Path(p).is_relative_to(folder)}

    # ---- a click on a grasp: replay and render that trial, as a job -------------------------
    def _on_select(self, change: dict) -> None:
        index = change["new"]
        if index in self._poses:
            self.render_trial(index)

    def render_trial(self, index: int) -> Any:
        from workbench import api

        pose = tuple(self._poses[index])
        job = api.submit("grasp", object=self.object, gripper=self.gripper, poses=(pose,), num_grasps=1,
                         render=(0,), device=self.device)

        def done(event: Any) -> None:
            if event.kind == "state" and event.state == "succeeded":
                files = job.result(0).files
                moves = files.get("trial_0_motion")
                self.trial_motion = json.loads(moves.read_text()) if moves is not None else {}
                gif = files.get("trial_0_gif")
                if gif is not None:
                    self.trial_image = "data:image/gif;base64," + base64.b64encode(gif.read_bytes()).decode()
            elif event.kind == "state" and event.state == "failed":
                self.error = event.message

        job.on_event(done)
        return job

    def _snapshot_body(self) -> str:
        """The grasps seen from above (their centres on the object's outline, green held, red not)."""
        import numpy as np

        from workbench.widgets.snapshot import esc, image, scatter, table

        outline: list[tuple[float, float]] = []
        verts = np.asarray(self.mesh.get("vertices", []), dtype=float).reshape(-1, 3)
        if len(verts) >= 3:
            from scipy.spatial import ConvexHull

            flat = verts[:, :2]
            outline = [tuple(p) for p in flat[ConvexHull(flat).vertices]]
        points = [(g["pose"][3], g["pose"][7], bool(g["success"])) for g in self.grasps if len(g["pose"]) == 16]
        rows = [{"grasp": g["index"], "held": g["success"], "stage": g["stage"]} for g in self.grasps]
        return (f"<p>{esc(self.object)} with the {esc(self.gripper)} gripper, seen from above</p>"
                + image(scatter(outline, points), "the grasps seen from above: green held, red not", 220)
                + table(rows, ["grasp", "held", "stage"]))
