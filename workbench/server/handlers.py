"""Tornado handlers for `/workbench/api/`. They read the result store only: kernels publish their
devices, load and progress there, so the server process never imports torch (on a GPU box that
would open a CUDA context in the server). Errors are JSON `{"reason": ...}` with a status code,
never a traceback."""

from __future__ import annotations

import json
import mimetypes
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join

from workbench.contract.errors import JobNotFound, StoreError
from workbench.jobs import cancel
from workbench.jobs.codec import to_jsonable
from workbench.jobs.ids import JOB_ID
from workbench.jobs.store import default_store
from workbench.presenters import device_row

API = "workbench/api"
OPENAPI = Path(__file__).with_name("openapi.json")


@contextmanager
def store_errors() -> Iterator[None]:
    """Store errors as HTTP answers: unknown job or file -> 404, unreadable record -> 500."""
    try:
        yield
    except (JobNotFound, FileNotFoundError) as exc:
        raise tornado.web.HTTPError(404, str(exc)) from None
    except StoreError as exc:
        raise tornado.web.HTTPError(500, str(exc)) from None


class _Base(APIHandler):
    def write_json(self, obj: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(to_jsonable(obj)))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        reason = self._reason
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            reason = exc.log_message
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"reason": reason, "status": status_code}))

    def store(self) -> Any:
        return default_store()

    @property
    def config_(self) -> Any:
        """The extension's Jupyter configuration (`WorkbenchServer`; its defaults where not loaded as one)."""
        from workbench.server.config import WorkbenchServer

        found = self.settings.get("workbench")
        return found if found is not None else WorkbenchServer()


#: the discovery running now, shared by concurrent requests
_discovery: dict[str, Any] = {"task": None, "last": 0.0}


async def discover_in_subprocess(every_s: float = 60.0, timeout_s: float = 120.0) -> None:
    """Run `workbench devices --json` in its own process, which publishes the devices to the store,
    so torch never loads in the server. At most once a minute; concurrent callers share one run."""
    import asyncio

    async def run() -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "workbench", "devices", "--json",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except asyncio.TimeoutError:
            proc.kill()

    if _discovery["task"] is None or (_discovery["task"].done()
                                      and time.monotonic() - _discovery["last"] > every_s):
        _discovery["last"] = time.monotonic()
        _discovery["task"] = asyncio.ensure_future(run())
    await asyncio.shield(_discovery["task"])


class DevicesHandler(_Base):
    @tornado.web.authenticated
    async def get(self) -> None:
        published = self.store().published_devices()
        if not published:  # no kernel has published yet: discover once, in a helper process
            await discover_in_subprocess(self.config_.discovery_every_s, self.config_.discovery_timeout_s)
            published = self.store().published_devices()
        drained = self.store().drained()
        from workbench.server.usage import usage

        holders: dict[str, list[dict]] = {}  # who runs and waits where, every home on the slot pool
        for h in self.store().pool.occupancy():
            holders.setdefault(h["device"], []).append(
                {k: h[k] for k in ("owner", "state", "task", "since", "home")})
        rows = [{**device_row(p["id"], p["capabilities"], p["load"], p["profile"]), "drained": p["id"] in drained,
                 "usage": usage(p["id"], p["capabilities"].get("kind", ""), p["capabilities"]),
                 "holders": holders.get(p["id"], [])}
                for p in published]
        self.write_json({"devices": rows})


STATES = ("queued", "running", "succeeded", "failed", "cancelled")
#: job ids look like 20261124-084118-84b061; anything else cannot name a job (and never reaches the disk)


def check_job_id(job_id: str) -> None:
    if not JOB_ID.fullmatch(job_id):  # the store's own pattern: a 404 before any path is built
        raise tornado.web.HTTPError(404, f"No job with id {job_id[:80]!r}.")


class JobsHandler(_Base):
    @tornado.web.authenticated
    def get(self) -> None:
        text = self.get_argument("limit", "100")
        most = self.config_.max_jobs_listed
        if not text.isdigit() or not 1 <= int(text) <= most:
            raise tornado.web.HTTPError(400, f"limit must be a whole number from 1 to {most}, not {text[:40]!r}.")
        state = self.get_argument("state", None)
        if state is not None and state not in STATES:
            raise tornado.web.HTTPError(400, f"state must be one of {', '.join(STATES)}, not {state[:40]!r}.")
        self.write_json({"jobs": self.store().list(limit=int(text), state=state)})


class JobHandler(_Base):
    @tornado.web.authenticated
    def get(self, job_id: str) -> None:
        check_job_id(job_id)
        with store_errors():
            job = self.store().get(job_id, rebuild=False)  # JSON: the server imports no task module
        data = to_jsonable(job, strict=False)
        data["files"] = {k: str(Path(v).relative_to(job.folder)) for k, v in job.files.items()} if job.folder else {}
        data.pop("folder", None)
        data.pop("events", None)
        self.write_json(data)


class EventsHandler(_Base):
    @tornado.web.authenticated
    def get(self, job_id: str) -> None:
        check_job_id(job_id)
        store = self.store()
        with store_errors():
            job = store.get(job_id, rebuild=False)
            row = store.row(job_id)
        events = job.events
        if not events:  # still running elsewhere: the latest progress from the index
            events = [{"kind": "progress", "time": row["started"] or row["created"], "state": row["state"],
                       "progress": {"done": row["progress"], "total": 1, "message": row["message"], "data": {}}}]
        self.write_json({"id": job_id, "state": job.state, "events": events})


class CancelHandler(_Base):
    @tornado.web.authenticated
    def post(self, job_id: str) -> None:
        check_job_id(job_id)
        store = self.store()
        with store_errors():
            ok = cancel(job_id)
            state = store.row(job_id)["state"]
        self.write_json({"id": job_id, "cancel_requested": ok, "state": state}, 202 if ok else 409)


class DrainHandler(_Base):
    """Drain or undrain a device: every kernel on this machine moves its jobs off a drained device
    at their next progress report (they resume elsewhere from their checkpoints)."""

    drain = True

    @tornado.web.authenticated
    def post(self, device_id: str) -> None:
        store = self.store()
        known = {d["id"] for d in store.published_devices()}
        if device_id not in known:
            raise tornado.web.HTTPError(404, f"No device {device_id!r}; known devices: {', '.join(sorted(known))}.")
        within = self.get_query_argument("within", None)
        deadline = None
        if within is not None and self.drain:
            try:
                seconds = float(within)
            except ValueError:
                seconds = -1.0
            if not (0 <= seconds < float("inf")):
                raise tornado.web.HTTPError(400, f"within must be a number of seconds, 0 or more; got {within!r}.")
            deadline = time.time() + seconds
        store.set_drained(device_id, self.drain, deadline)
        self.write_json({"id": device_id, "drained": self.drain})


class UndrainHandler(DrainHandler):
    drain = False


def content_disposition(name: str) -> str:
    """`inline` with the file's name as RFC 6266 gives it: an ASCII fallback without quotes, backslashes or
    control characters (a newline in a header is refused by tornado: the download answered 500), and the
    exact name percent-encoded as UTF-8."""
    from urllib.parse import quote

    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name) or "file"
    exact = quote(name.encode("utf-8", "surrogateescape"), safe="")
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{exact}"


class FileHandler(_Base):
    @tornado.web.authenticated
    def get(self, job_id: str, relative: str) -> None:
        check_job_id(job_id)
        if "\x00" in relative or len(relative) > 1024:
            raise tornado.web.HTTPError(404, f"Job {job_id} has no such file.")
        with store_errors():
            path = self.store().file_path(job_id, relative)
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        self.set_header("Content-Disposition", content_disposition(path.name))
        self.finish(path.read_bytes(), set_content_type=ctype)  # a PNG loads in an <img>


class JobPageHandler(JupyterHandler):
    """The job as a page a person reads (the sidebar's "result" link)."""

    @tornado.web.authenticated
    def get(self, job_id: str) -> None:
        from urllib.parse import quote

        from workbench.server.job_page import render

        check_job_id(job_id)
        with store_errors():
            job = default_store().get(job_id, rebuild=False)
        record = url_path_join(self.base_url, API, "jobs", job_id)

        def file_url(relative: str | None) -> str:
            return record if relative is None else url_path_join(record, "files", quote(relative))

        self.set_header("Content-Type", "text/html; charset=utf-8")
        theme = self.get_query_argument("theme", "")  # JupyterLab's theme, from the sidebar's link
        self.finish(render(job, file_url, url_path_join(self.base_url, "workbench/static/"), theme))


class OpenAPIHandler(_Base):
    @tornado.web.authenticated
    def get(self) -> None:
        self.write_json(json.loads(OPENAPI.read_text()))


ROUTES = [
    (r"/devices", DevicesHandler),
    (r"/devices/([^/]+)/drain", DrainHandler),
    (r"/devices/([^/]+)/undrain", UndrainHandler),
    (r"/jobs", JobsHandler),
    (r"/jobs/([^/]+)", JobHandler),
    (r"/jobs/([^/]+)/events", EventsHandler),
    (r"/jobs/([^/]+)/cancel", CancelHandler),
    (r"/jobs/([^/]+)/files/(.+)", FileHandler),
    (r"/openapi.json", OpenAPIHandler),
]


#: the widgets' bundled JavaScript libraries, served once per page (browsers cache module imports)
WIDGET_STATIC = Path(__file__).resolve().parent.parent / "widgets" / "static"


def setup_handlers(web_app: Any) -> None:
    from jupyter_server.base.handlers import AuthenticatedFileHandler

    base = web_app.settings["base_url"]
    web_app.add_handlers(".*$", [(url_path_join(base, API) + pattern, handler) for pattern, handler in ROUTES])
    web_app.add_handlers(".*$", [(url_path_join(base, "workbench/static/(.*)"), AuthenticatedFileHandler,
                                  {"path": str(WIDGET_STATIC)})])
    web_app.add_handlers(".*$", [(url_path_join(base, "workbench/jobs/([^/]+)"), JobPageHandler)])
