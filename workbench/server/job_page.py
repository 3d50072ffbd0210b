"""The job page the sidebar's "result" link opens: what ran, where and why there, when, the result's
headline, and each file with a preview (PNG and GIF inline, SDF / PDB / mmCIF in 3D with the bundled
3Dmol.js), instead of the record's raw JSON with Unix timestamps.

The page is `templates/job_page.html`, a Jinja2 template with autoescape on: every value a record holds
reaches the page as text, and values handed to its script go through `tojson`.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from workbench.presenters import when

STRUCTURES = {".sdf": "sdf", ".pdb": "pdb", ".cif": "cif"}
IMAGES = (".png", ".gif", ".jpg", ".jpeg")

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; max-width: 1000px; }
@media (prefers-color-scheme: dark) { body:not([data-theme]) { color: #ddd; background: #1e1e1e; }
body:not([data-theme]) a { color: #8ab4f8; } }
body[data-theme='dark'] { color: #ddd; background: #1e1e1e; } body[data-theme='dark'] a { color: #8ab4f8; }
table { border-collapse: collapse; } td, th { padding: 2px 10px 2px 0; text-align: left; vertical-align: top; }
th { font-weight: 600; white-space: nowrap; } td { overflow-wrap: anywhere; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: rgba(127,127,127,.12); padding: 8px; }
.file { margin: 12px 0; } .viewer { width: 480px; height: 320px; position: relative;
border: 1px solid rgba(127,127,127,.4); } img { max-width: 480px; } .failed { color: #c62828; }
.key span { margin-right: 10px; font-size: 12px; } .key i { display: inline-block; width: 10px; height: 10px;
margin-right: 3px; } .frames { display: block; font-size: 12px; }
"""

THEMES = ("light", "dark")


@cache
def _template() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    env = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                      autoescape=select_autoescape(["html"]), keep_trailing_newline=True)
    return env.get_template("job_page.html")


def render(job: Any, file_url: Any, static_url: str, theme: str = "") -> str:
    """The page for a stored job; `file_url(relative)` is the API URL of one of its files (`None`: the
    record). `theme` ("light" or "dark", JupyterLab's, which the sidebar's links pass on) overrides the
    OS's colour scheme; anything else is ignored."""
    from markupsafe import Markup

    started, finished = job.started, job.finished
    rows = [("task", job.task), ("device", job.device), ("placement", getattr(job, "placement", "") or "-"),
            ("state", job.state + (f": {job.reason}" if job.reason else "")),
            ("created", when(job.created)), ("started", when(started)), ("finished", when(finished)),
            ("took", f"{finished - started:.1f} s" if started and finished else "-")]
    headline = getattr(job, "summary", "") or ""  # the result's own words, kept in its record: nothing imported
    files: list[dict[str, Any]] = []
    viewers: list[tuple[str, str, str]] = []
    shown: set[str] = set()  # a structure written as PDB and mmCIF is drawn once (mmCIF first)
    items = sorted((job.files or {}).items(), key=lambda kv: (Path(kv[1]).suffix.lower() != ".cif", kv[0]))
    for name, path in items:
        relative = Path(path).relative_to(job.folder).as_posix() if job.folder else Path(path).name
        url, suffix = file_url(relative), Path(path).suffix.lower()
        entry = {"url": url, "name": Path(path).name, "key": name, "image": suffix in IMAGES, "viewer": None,
                 "format": STRUCTURES.get(suffix)}
        if suffix in STRUCTURES and Path(path).stem not in shown:
            shown.add(Path(path).stem)
            entry["viewer"] = f"viewer{len(viewers)}"
            viewers.append((entry["viewer"], url, STRUCTURES[suffix]))
        files.append(entry)
    return _template().render(
        job=job, rows=[(k, str(v)) for k, v in rows], headline=headline, files=files, viewers=viewers,
        request=json.dumps(job.request, indent=1, default=str), record_url=file_url(None),
        static_url=static_url, theme=theme if theme in THEMES else "", style=Markup(STYLE))
