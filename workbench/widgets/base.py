"""`JobWidget`: what every task widget shares. Subclasses only build the job and show its result.

It holds the device picker and the status traitlets, answers the front end's "run" and
"cancel" messages, and mirrors the job (`JobMirror`). Bad input or an unusable device ends
in `state="failed"` with the sentence in `error`, never a traceback.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import anywidget
import traitlets as t

from workbench.contract.errors import WorkbenchError
from workbench.jobs.job import Job
from workbench.widgets.jobview import JobMirror

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
#: bundled JavaScript libraries a widget may ask for (served by the server extension too)
LIBRARIES = ("three.module.min.js", "3Dmol.es6-min.js")


#: the ES module every widget imports its shared parts from (`import { el } from "./shared.js"`)
SHARED = "shared.js"


def widget_module(name: str) -> str:
    """A widget's ES module as anywidget runs it. anywidget loads `_esm` from a blob URL, where the
    widget's `import ... from "./shared.js"` has no folder to resolve against, so that one specifier is
    pointed at the shared module's text as a data: URL (the same URL in every widget: the page links one
    instance). The files stay plain ES modules that a browser or node resolves as they are."""
    shared = base64.b64encode((STATIC / SHARED).read_bytes()).decode("ascii")
    source = (STATIC / name).read_text()
    if f'from "./{SHARED}"' not in source:
        raise ValueError(f"{name} does not import ./{SHARED}")
    return source.replace(f'from "./{SHARED}"', f'from "data:text/javascript;base64,{shared}"')


class JobWidget(anywidget.AnyWidget):
    device = t.Unicode("auto").tag(sync=True)
    devices = t.List(t.Unicode()).tag(sync=True)
    state = t.Unicode("idle").tag(sync=True)
    progress = t.Float(0.0).tag(sync=True)
    message = t.Unicode("").tag(sync=True)
    error = t.Unicode("").tag(sync=True)
    job_id = t.Unicode("").tag(sync=True)
    #: each number input's `minimum`, `maximum` and help, from the request's declared limits
    #: (`requests.input_bounds`): the front end cannot offer a value the request would refuse
    bounds = t.Dict().tag(sync=True)

    #: the snapshot's title (see `workbench.widgets.snapshot`)
    title = "workbench"
    #: input name in the front end -> (task, request field) whose limits bound it
    bounded_inputs: dict[str, tuple[str, str]] = {}

    def __init__(self, **kwargs: Any):
        from workbench.scheduling import registry

        device = kwargs.get("device", "auto")
        names = ["auto", *registry.names()]
        if device not in names:  # a name the user typed (cuda:0 on a CPU box) stays visible
            names.append(device)
        from workbench.tasks.requests import input_bounds

        bounds = {name: input_bounds(task, field) for name, (task, field) in self.bounded_inputs.items()}
        super().__init__(devices=names, bounds=bounds, **kwargs)
        self._result: Any = None  # the last finished job's result, for the snapshot
        self._mirror = JobMirror(self, self._take_result, self._on_progress)
        self.on_msg(self._on_front_end_message)
        self._display_id = ""  # set once shown through IPython: its snapshot is updated in place

    # ---- the output a saved notebook keeps --------------------------------------------------
    def _ipython_display_(self) -> None:
        """Show the live view with a `text/html` snapshot beside it, under a display id, so a notebook
        read without a kernel (GitHub, nbviewer, nbconvert) shows the result, not an empty box."""
        from uuid import uuid4

        from IPython.display import display

        self._display_id = self._display_id or uuid4().hex
        data, metadata = self._bundle()
        display(data, raw=True, metadata=metadata, display_id=self._display_id)

    def _bundle(self, state: str | None = None) -> tuple[dict, dict]:
        bundle: Any = self._repr_mimebundle_()  # ipywidgets' hint says None; it is (data, metadata)
        data, metadata = bundle
        return {**data, "text/html": self.snapshot_html(state)}, metadata

    def snapshot_html(self, state: str | None = None) -> str:
        """The static snapshot of what this widget shows now (its state, headline and result)."""
        from workbench.widgets.snapshot import page

        state = state or self.state
        try:
            body = self._snapshot_body() if state == "succeeded" else ""
        except Exception as exc:  # a snapshot must never break the widget
            log.debug("JobWidget.snapshot_html: ignored", exc_info=True)
            from workbench.widgets.snapshot import esc

            body = f"<p>(no snapshot: {esc(type(exc).__name__)}: {esc(str(exc)[:200])})</p>"
        return page(self.title, state, self.error or self.message, body, self.job_id)

    def refresh_snapshot(self, state: str) -> None:
        """Rewrite the saved output's snapshot for the job's final `state` (called as the job ends)."""
        if not self._display_id:
            return
        try:
            from IPython.display import update_display

            data, metadata = self._bundle(state)
            update_display(data, raw=True, metadata=metadata, display_id=self._display_id)
        except Exception:  # no IPython display here (a script): nothing to update
            log.debug("JobWidget.refresh_snapshot: ignored", exc_info=True)

    def _take_result(self, result: Any) -> None:
        self._result = result
        self._show(result)

    def _snapshot_body(self) -> str:
        """The result as static HTML (see `workbench.widgets.snapshot`); subclasses fill it in."""
        return ""

    # ---- for subclasses -------------------------------------------------------------------
    def _submit(self) -> Job:
        """Build the request from the traitlets and submit it (raise WorkbenchError on bad input)."""
        raise NotImplementedError

    def _show(self, result: Any) -> None:
        """Copy a finished job's result into the traitlets."""
        raise NotImplementedError

    def _on_progress(self, progress: Any) -> None:
        """Called for each progress event (on the runner's thread)."""

    # ---- actions --------------------------------------------------------------------------
    def run(self) -> Job | None:
        """Submit the job for the current inputs; returns the `Job` (None when refused)."""
        # a new run starts from a clean status: no "failed 100% step 8/8" beside a fresh error
        self.error, self.message, self.progress, self.job_id = "", "", 0.0, ""
        try:
            job = self._submit()
        except WorkbenchError as exc:
            self.state, self.error = "failed", str(exc)
            return None
        self._mirror.start(job)
        return job

    def cancel(self) -> None:
        self._mirror.cancel()

    def _on_front_end_message(self, widget: Any, content: dict, buffers: list) -> None:
        if content.get("type") == "run":
            self.run()
        elif content.get("type") == "cancel":
            self.cancel()
        elif content.get("type") == "library":  # no server extension on this page: send it once
            name = content.get("name")
            if name in LIBRARIES:
                self.send({"type": "library", "name": name, "source": (STATIC / name).read_text()})
            else:
                self.send({"type": "library", "name": name, "error": f"unknown library {name!r}"})
        elif content.get("type") == "ready":
            self._on_ready()

    def _on_ready(self) -> None:
        """The front end rendered: load what the view needs (constructors do no computation)."""
