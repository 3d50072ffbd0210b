"""What every widget does with a job: submit it, mirror its progress, settle its outcome.

`JobMirror` copies a job's events into a widget's traitlets (state, progress, message,
error) as they happen. Widgets hold no business logic: they build a request, hand it to
`workbench.api.submit`, and show what the job reports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from workbench import presenters
from workbench.jobs.job import Event, Job

log = logging.getLogger(__name__)


class JobMirror:
    """Keeps `widget.state/progress/message/error/job_id` in step with one job at a time."""

    def __init__(self, widget: Any, on_result: Callable[[Any], None],
                 on_progress: Callable[[Any], None] | None = None):
        self.widget = widget
        self.on_result = on_result
        self.on_progress = on_progress
        self.job: Job | None = None

    def start(self, job: Job) -> None:
        self.job = job
        w = self.widget
        # the placement reason first ("placed on X: about 12 s, vs Y ..."), until progress arrives
        w.job_id, w.error, w.progress, w.message, w.state = job.id, "", 0.0, job.placement or "queued", "queued"
        job.on_event(self._on_event)

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel("cancelled from the widget")

    def _on_event(self, event: Event) -> None:
        w = self.widget
        if self.job is None or w.job_id != self.job.id:
            return
        if event.progress is not None:
            if event.progress.fraction is not None:
                w.progress = float(event.progress.fraction)
            w.message = event.progress.message
            if self.on_progress is not None:
                self.on_progress(event.progress)
        elif event.kind == "state" and event.state:
            if event.state == "succeeded":
                try:
                    result = self.job.result(0)
                    # the result's headline, not the last progress line ("fivevalent: ... is not a valid
                    # molecule" beside "succeeded" read as if the run had failed)
                    w.message = presenters.summary(result) or "done"
                    self.on_result(result)
                except Exception as exc:  # a view problem is shown, never raised into the runner
                    log.debug("JobMirror._on_event: ignored", exc_info=True)
                    w.error = f"could not show the result: {exc}"
                w.progress = 1.0
            elif event.state in ("failed", "cancelled"):
                w.error = event.message or event.state
            if event.state in ("succeeded", "failed", "cancelled") and hasattr(w, "refresh_snapshot"):
                w.refresh_snapshot(event.state)  # the saved notebook keeps the result, before the view settles
            w.state = event.state
