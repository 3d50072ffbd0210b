"""`GraspTrainingWidget`: train the grasp scorer on a dataset and watch its curves draw, epoch by epoch.

A thin view over a `grasp-train` job: the curves come from the job's per-epoch progress
events (training loss, held-out loss and accuracy, held-out top-10 success), the summary and
the model folder from its result.
"""

from __future__ import annotations

from typing import Any

import traitlets as t

from workbench.presenters import summary
from workbench.widgets.base import JobWidget, widget_module


class GraspTrainingWidget(JobWidget):
    bounded_inputs = {"epochs": ("grasp-train", "epochs")}
    _esm = widget_module("grasp_learning.js")
    title = "Grasp model training"

    data = t.Unicode("").tag(sync=True)  #: a dataset folder from `workbench grasp-dataset`
    epochs = t.Int(30).tag(sync=True)
    curves = t.List(t.Dict()).tag(sync=True)  #: one {"epoch", "train_loss", "val_loss", "val_accuracy", "val_top10"}
    summary = t.Unicode("").tag(sync=True)
    model_folder = t.Unicode("").tag(sync=True)

    def __init__(self, data: str = "", **kwargs: Any):
        super().__init__(data=str(data), **kwargs)

    def _submit(self) -> Any:
        from workbench import api

        self.curves, self.summary, self.model_folder = [], "", ""
        return api.submit("grasp-train", data=self.data, epochs=self.epochs, device=self.device)

    def _on_progress(self, progress: Any) -> None:
        if "epoch" in progress.data:
            point = {k: progress.data[k] for k in ("epoch", "train_loss", "val_loss", "val_accuracy", "val_top10")}
            self.curves = [*self.curves, point]

    def _show(self, result: Any) -> None:
        self.summary = summary(result)
        self.model_folder = str(result.files["scorer"].parent)

    def _snapshot_body(self) -> str:
        from workbench.widgets.snapshot import esc, image, plot

        c = self.curves
        lines = [("train loss", "#1565c0", [p["train_loss"] for p in c]),
                 ("validation loss", "#ef6c00", [p["val_loss"] for p in c]),
                 ("validation accuracy", "#2e7d32", [p["val_accuracy"] for p in c])]
        return (image(plot(lines, x_label="epoch"), "training curves", 360)
                + f"<p>model: {esc(self.model_folder)}</p>")
