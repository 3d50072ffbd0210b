"""`report.html`: the devices and one row per job, with the files each job made, linked."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Any

from workbench.demo.context import StepOutcome
from workbench.hardware.base import format_bytes


def _text(x: Any) -> str:
    """Escaped text whose `backtick spans` read as code, as they do in the CLI's sentences."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _esc(x))


def _esc(x: Any) -> str:
    return html.escape(str(x))


CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:14px}td,th{border:1px solid #ddd;padding:.35rem .5rem;
text-align:left;vertical-align:top}th{background:#f4f4f4}.succeeded{color:#176117}.failed{color:#a11}
.cancelled,.skipped{color:#875c00}code{background:#f4f4f4;padding:0 .2rem}img{max-width:min(420px,100%)}
td,th{overflow-wrap:anywhere}
"""


def render_report(out: Path, devices: list[dict[str, Any]], outcomes: list[StepOutcome],
                  notes: list[str], started: float) -> Path:
    rows = "".join(
        f"<tr><td><code>{_esc(d['id'])}</code></td><td>{_esc(d['kind'])}</td><td>{_esc(d['name'])}</td>"
        f"<td>{_esc(format_bytes(d['total_memory']))}</td><td>{_esc(', '.join(d['dtypes']))}</td>"
        f"<td>{_esc(d['backend'])}</td></tr>" for d in devices)
    steps = []
    for o in outcomes:
        links = " ".join(
            f'<a href="{_esc(f.as_posix())}">{_esc(f.name)}</a>' for f in o.files)
        images = "".join(f'<br><img src="{_esc(f.as_posix())}" alt="{_esc(f.name)}">'
                         for f in o.files if f.suffix.lower() in (".png", ".gif", ".jpg"))
        steps.append(
            f"<tr><td>{_text(o.title)}</td><td><code>{_esc(o.device)}</code></td>"
            f'<td class="{_esc(o.state)}">{_esc(o.state)}</td><td>{_text(o.summary)}{images}</td>'
            f"<td>{'' if o.seconds is None else f'{o.seconds:.2f} s'}</td>"
            f"<td>{_esc(o.job_id or '')}</td><td>{links}</td></tr>")
    note_html = "".join(f"<li>{_text(n)}</li>" for n in notes)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>workbench demo</title>
<style>{CSS}</style></head><body>
<h1>workbench demo report</h1>
<p>Generated {_esc(time.strftime('%Y-%m-%d %H:%M:%S'))} in {time.time() - started:.1f} s.
Machine-readable: <a href="devices.json">devices.json</a>, <a href="outcomes.json">outcomes.json</a>.</p>
<h2>Devices</h2><table><tr><th>id</th><th>kind</th><th>name</th><th>memory</th><th>dtypes</th>
<th>backend</th></tr>{rows}</table>
<h2>Jobs</h2><table><tr><th>step</th><th>device</th><th>state</th><th>outcome</th><th>time</th>
<th>job</th><th>files</th></tr>{''.join(steps)}</table>
{'<h2>Notes</h2><ul>' + note_html + '</ul>' if notes else ''}
<p>Every job above is also in the result store: <code>workbench jobs list</code>.</p>
</body></html>"""
    report = out / "report.html"
    report.write_text(page)
    return report
