"""Static snapshots: what a widget leaves in the saved notebook for readers without a kernel.

A widget's output carries, beside its live view, a `text/html` snapshot of its result: a picture
(an image of the molecules, the pLDDT and PAE plots, the grasps seen from above, the drawn images,
the last frame of a replay), all PNG data URIs, and a short summary. JupyterLab shows the live view; GitHub, nbviewer
and `jupyter nbconvert --to html` (which skip a widget whose state was not saved) show the
snapshot. It is rebuilt when a job ends (`IPython.display.update_display`). Everything in it is
escaped or a data URI made here; nothing a user typed reaches it unescaped.
"""

from __future__ import annotations

import base64
import html
import io
import logging
from collections.abc import Iterable, Sequence
from typing import Any

log = logging.getLogger(__name__)

#: the snapshot's own look: small, neutral, readable in light and dark notebook renderers
STYLE = ("<style>.wb-snapshot{font:13px/1.4 system-ui,sans-serif;border:1px solid rgba(127,127,127,.4);"
         "padding:6px 8px;max-width:760px}.wb-snapshot table{border-collapse:collapse;margin:4px 0}"
         ".wb-snapshot td,.wb-snapshot th{padding:1px 8px 1px 0;text-align:left}"
         ".wb-snapshot img{max-width:100%;margin:2px 6px 2px 0;vertical-align:top}"
         ".wb-snapshot .wb-note{color:#777;font-size:11px}</style>")
MAX_ROWS = 12  #: table rows kept; the rest is counted


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    """A small HTML table of `rows` (dicts) by `columns`; long tables are cut with a count."""
    if not rows:
        return ""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(r.get(c, ''))}</td>" for c in columns) + "</tr>"
                   for r in rows[:MAX_ROWS])
    more = f"<tr><td colspan='{len(columns)}'>… and {len(rows) - MAX_ROWS} more</td></tr>" if len(rows) > MAX_ROWS \
        else ""
    return f"<table><tr>{head}</tr>{body}{more}</table>"


def image(uri: str, alt: str, width: int = 240) -> str:
    """An <img> for a data URI made by workbench (anything else is dropped)."""
    if not uri.startswith(("data:image/png;base64,", "data:image/gif;base64,", "data:image/jpeg;base64,")):
        return ""
    return f"<img src='{esc(uri)}' alt='{esc(alt)}' width='{int(width)}'>"


def still(uri: str, width: int = 320) -> str:
    """The last frame of an animated GIF data URI as a PNG data URI, `width` px wide (a replay's end
    state, small enough to keep in a notebook)."""
    from PIL import Image, ImageSequence

    try:
        frames = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
        last = [f.copy() for f in ImageSequence.Iterator(frames)][-1].convert("RGB")
    except Exception:  # not an image workbench wrote: no still rather than a broken page
        log.debug("still: ignored", exc_info=True)
        return ""
    last.thumbnail((width, width))
    return png(last)


def png(picture: Any) -> str:
    """A PIL image as a PNG data URI (pictures, not inline SVG: GitHub's and JupyterLab's sanitizers
    keep an <img> with a PNG data URI and drop inline SVG)."""
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def plot(series: Iterable[tuple[str, str, Sequence[float]]], *, width: int = 360, height: int = 160,
         x_label: str = "") -> str:
    """Lines with a y scale and a legend, as a PNG data URI: `series` are (label, colour, values)."""
    from PIL import Image, ImageDraw

    series = [(label, colour, [float(v) for v in values]) for label, colour, values in series if len(values)]
    if not series:
        return ""
    every = [v for _, _, values in series for v in values]
    low, high = min(0.0, min(every)), max(every) or 1.0
    left, top, plot_w, plot_h = 40, 8, width - 48, height - 30
    picture = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(picture)
    draw.line([(left, top + plot_h), (left + plot_w, top + plot_h)], fill="#999999")
    draw.line([(left, top), (left, top + plot_h)], fill="#999999")
    draw.text((2, top), f"{high:.3g}", fill="#555555")
    draw.text((2, top + plot_h - 10), f"{low:.3g}", fill="#555555")
    draw.text((left, height - 14), x_label, fill="#555555")
    for k, (label, colour, values) in enumerate(series):
        n = max(1, len(values) - 1)
        points = [(left + plot_w * i / n, top + plot_h * (1 - (v - low) / (high - low or 1)))
                  for i, v in enumerate(values)]
        draw.line(points, fill=colour, width=2) if len(points) > 1 else draw.point(points, fill=colour)
        draw.text((left + plot_w - 6 * len(label) - 4, top + 2 + 12 * k), label, fill=colour)
    return png(picture)


def scatter(outline: Sequence[tuple[float, float]], points: Sequence[tuple[float, float, bool]],
            size: int = 220) -> str:
    """A top-down picture (PNG data URI): an object's outline and points on it, green where `ok`, red not."""
    from PIL import Image, ImageDraw

    xs = [p[0] for p in outline] + [p[0] for p in points]
    ys = [p[1] for p in outline] + [p[1] for p in points]
    if not xs:
        return ""
    span = max(max(xs) - min(xs), max(ys) - min(ys)) or 1.0
    scale = (size - 20) / span

    def at(x: float, y: float) -> tuple[float, float]:
        return 10 + (x - min(xs)) * scale, size - 10 - (y - min(ys)) * scale

    picture = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(picture)
    if len(outline) >= 3:
        draw.polygon([at(x, y) for x, y in outline], fill="#dddddd", outline="#888888")
    for x, y, ok in points:
        cx, cy = at(x, y)
        draw.ellipse([cx - 4, cy - 4, cx + 4, cy + 4], fill="#2e7d32" if ok else "#c62828")
    return png(picture)


def page(title: str, state: str, headline: str, body: str, job_id: str) -> str:
    """The whole snapshot: a title line with the state and headline, the body, and a note."""
    note = (f"workbench job {esc(job_id)}: a snapshot kept with the notebook; run the cell to get the live view."
            if job_id else "Not run yet: run the cell, then press Run.")
    return (f"{STYLE}<div class='wb-snapshot' data-state='{esc(state)}'><div><b>{esc(title)}</b> · {esc(state)}"
            f"{': ' + esc(headline) if headline else ''}</div>{body}<div class='wb-note'>{note}</div></div>")
