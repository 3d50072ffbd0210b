"""The job page the sidebar's "result" link opens: what ran, where and why there, when, the result's
headline, and each file with a preview (PNG and GIF inline, SDF / PDB / mmCIF in 3D with the bundled
3Dmol.js), instead of the record's raw JSON with Unix timestamps. Everything shown is escaped.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from workbench.presenters import stored_summary, when

STRUCTURES = {".sdf": "sdf", ".pdb": "pdb", ".cif": "cif"}
IMAGES = (".png", ".gif", ".jpg", ".jpeg")
#: AlphaFold's pLDDT bands, as the fold widget and ColabFold draw them
PLDDT_KEY = ("<div class='key'>pLDDT: " + "".join(
    f"<span><i style='background:{colour}'></i>{label}</span>" for label, colour in (
        ("very high (&ge; 90)", "#0053d6"), ("confident (70-90)", "#65cbf3"), ("low (50-70)", "#ffdb13"),
        ("very low (&lt; 50)", "#ff7d45"))) + "</div>")

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; max-width: 1000px; }
@media (prefers-color-scheme: dark) { body:not([data-theme]) { color: #ddd; background: #1e1e1e; }
body:not([data-theme]) a { color: #8ab4f8; } }
body[data-theme='dark'] { color: #ddd; background: #1e1e1e; } body[data-theme='dark'] a { color: #8ab4f8; }
table { border-collapse: collapse; } td, th { padding: 2px 10px 2px 0; text-align: left; vertical-align: top; }
th { font-weight: 600; white-space: nowrap; } pre { white-space: pre-wrap; background: rgba(127,127,127,.12);
padding: 8px; } .file { margin: 12px 0; } .viewer { width: 480px; height: 320px; position: relative;
border: 1px solid rgba(127,127,127,.4); } img { max-width: 480px; } .failed { color: #c62828; }
.key span { margin-right: 10px; font-size: 12px; } .key i { display: inline-block; width: 10px; height: 10px;
margin-right: 3px; } .frames { display: block; font-size: 12px; }
"""


THEMES = ("light", "dark")


def render(job: Any, file_url: Any, static_url: str, theme: str = "") -> str:
    """The page for a stored job; `file_url(relative)` is the API URL of one of its files. `theme`
    ("light" or "dark", JupyterLab's, which the sidebar's links pass on) overrides the OS's colour scheme."""
    esc = html.escape
    started, finished = job.started, job.finished
    took = f"{finished - started:.1f} s" if started and finished else "-"
    rows = [("task", job.task), ("device", job.device), ("placement", getattr(job, "placement", "") or "-"),
            ("state", job.state + (f": {job.reason}" if job.reason else "")),
            ("created", when(job.created)), ("started", when(started)), ("finished", when(finished)),
            ("took", took)]
    table = "".join(f"<tr><th>{esc(k)}</th><td class='{'failed' if v.startswith('failed') else ''}'>"
                    f"{esc(str(v))}</td></tr>" for k, v in rows)
    headline = stored_summary(job.result_type, job.result) if job.result is not None else ""  # JSON, not rebuilt
    files, viewers = [], []
    shown: set[str] = set()  # a structure written as PDB and mmCIF is drawn once (mmCIF first)
    items = sorted((job.files or {}).items(), key=lambda kv: (Path(kv[1]).suffix.lower() != ".cif", kv[0]))
    for name, path in items:
        relative = Path(path).relative_to(job.folder).as_posix() if job.folder else Path(path).name
        url = file_url(relative)
        suffix = Path(path).suffix.lower()
        block = (f"<div class='file'><a href='{esc(url)}' download>{esc(Path(path).name)}</a> "
                 f"<small>({esc(name)})</small>")
        if suffix in IMAGES:
            block += f"<br><img src='{esc(url)}' alt='{esc(name)}'>"
        elif suffix in STRUCTURES and Path(path).stem not in shown:
            shown.add(Path(path).stem)
            viewer_id = f"viewer{len(viewers)}"
            block += f"<div class='viewer' id='{viewer_id}'></div>"
            if suffix == ".sdf":  # every conformer, one at a time
                block += (f"<label class='frames'>conformer <input type='range' min='0' value='0' "
                          f"id='{viewer_id}-frame'> <span id='{viewer_id}-which'></span></label>")
            else:  # ESMFold and Boltz write pLDDT in the B-factor column
                block += PLDDT_KEY
            viewers.append((viewer_id, url, STRUCTURES[suffix]))
        files.append(block + "</div>")
    script = ""
    if viewers:
        calls = "\n".join(f"show({json.dumps(v)}, {json.dumps(u)}, {json.dumps(f)});" for v, u, f in viewers)
        script = f"""<script type="module">
import * as lib from {json.dumps(static_url + "3Dmol.es6-min.js")};
const $3Dmol = lib.createViewer ? lib : (lib.default || window.$3Dmol);
async function show(id, url, format) {{
  const text = await (await fetch(url)).text();
  const theme = document.body.dataset.theme;
  const dark = theme ? theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
  const viewer = $3Dmol.createViewer(document.getElementById(id), {{ backgroundColor: dark ? "#1e1e1e" : "white" }});
  const box = document.getElementById(id);
  if (format === "sdf") {{
    viewer.addModelsAsFrames(text, "sdf");
    viewer.setStyle({{}}, {{ stick: {{ radius: 0.15 }} }});
    const frames = viewer.getNumFrames(), slider = document.getElementById(id + "-frame");
    const which = document.getElementById(id + "-which");
    slider.max = String(frames - 1);
    const pick = () => {{
      viewer.setFrame(Number(slider.value));
      which.textContent = `${{Number(slider.value) + 1}} of ${{frames}}`;
      viewer.render();
    }};
    slider.oninput = pick;
    box.dataset.frames = String(frames);
    pick();
  }} else {{
    viewer.addModel(text, format);
    const atoms = viewer.selectedAtoms({{}});
    const scale = Math.max(...atoms.map((a) => a.b)) <= 1 ? 100 : 1;  // pLDDT as 0-1 or 0-100
    const colour = (atom) => {{ const p = atom.b * scale;
      return p >= 90 ? "#0053d6" : p >= 70 ? "#65cbf3" : p >= 50 ? "#ffdb13" : "#ff7d45"; }};
    viewer.setStyle({{ hetflag: false }}, {{ cartoon: {{ colorfunc: colour }} }});
    viewer.setStyle({{ hetflag: true }}, {{ stick: {{ radius: 0.2 }} }});
    box.dataset.colour = "plddt";
  }}
  viewer.zoomTo();
  viewer.render();
  box.dataset.rendered = "true";
}}
{calls}
</script>"""
    request = json.dumps(job.request, indent=1, default=str)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>workbench job {esc(job.id)}</title><style>{STYLE}</style></head>
<body class="wb-job-page" data-state="{esc(job.state)}"{f' data-theme="{theme}"' if theme in THEMES else ""}>
<h2>{esc(job.task)} on {esc(job.device)} <small>{esc(job.id)}</small></h2>
<table>{table}</table>
{f"<h3>Result</h3><pre class='headline'>{esc(headline)}</pre>" if headline else ""}
{"<h3>Files</h3>" + "".join(files) if files else ""}
<h3>Request</h3><pre class='request'>{esc(request)}</pre>
<p><a href="{esc(file_url(None))}">the record as JSON</a></p>
{script}
</body></html>"""
