"""What views show, written once: device rows, job rows, profile figures and result summaries.

The CLI, the Jupyter server extension, the widgets, the Gradio app and the demo report all
format through here, so a device row or a job row reads the same everywhere; a result's summary is its
type's own `summary()`. Nothing
here imports torch (the server extension uses it); results are the tasks' own types, read by
attribute, live or reopened from the store.
"""

from __future__ import annotations

import time
from typing import Any

from workbench.contract.capabilities import Capabilities, format_bytes
from workbench.contract.wording import count, profile_text, sig2  # noqa: F401 - the views' wordings
from workbench.jobs.codec import result_summary

# ---- numbers ----------------------------------------------------------------------------


def when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


# ---- devices ----------------------------------------------------------------------------


def device_row(device_id: str, caps: Capabilities | dict, load: int, profile: Any = None) -> dict[str, Any]:
    """The one JSON shape of a device for every view (CLI --json, REST, Gradio, sidebar)."""
    c = caps if isinstance(caps, dict) else caps.to_dict()
    p = profile if (profile is None or isinstance(profile, dict)) else profile.to_dict()
    return {"id": device_id, **c, "load": load, "profile": p,
            "memory": f"{format_bytes(c['free_memory'])} free of {format_bytes(c['total_memory'])}",
            "profile_text": profile_text(p)}


def device_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    headers = ["ID", "KIND", "BACKEND", "NAME", "MEMORY", "DTYPES (PREFERRED)", "LOAD", "PROFILE"]
    body = [[r["id"], r["kind"], r["backend"], r["name"], r["memory"],
             ",".join(r["dtypes"]) + f" ({r['fast_dtype']})", f"{r['load']} job(s)", r["profile_text"]]
            for r in rows]
    return headers, body


# ---- jobs -------------------------------------------------------------------------------


def job_table(rows: list[dict[str, Any]], headlines: dict[str, str] | None = None
              ) -> tuple[list[str], list[list[str]]]:
    """Job rows; NOTE is the result's headline for a finished job (given in `headlines`), else the
    reason it ended or its last progress message."""
    headlines = headlines or {}
    headers = ["ID", "TASK", "DEVICE", "STATE", "CREATED", "NOTE"]
    body = [[r["id"], r["task"], r["device"], r["state"], when(r["created"]),
             (headlines.get(r["id"]) or r["reason"] or r["message"] or "")[:70]] for r in rows]
    return headers, body


def device_host_line(device: str, found: dict[str, Any]) -> str:
    """A device host in one line, as `workbench devices` and `jobs list --all-users` show it."""
    models = ", ".join(found.get("models") or []) or "no model"
    state = "running a job" if found.get("busy") else "idle"
    return f"device host for {device}: {models} resident, {found.get('served', 0)} job(s) served, {state}"


def occupancy_table(rows: list[dict[str, Any]], now: float | None = None) -> tuple[list[str], list[list[str]]]:
    """Who holds and waits for device slots, machine-wide (`SlotPool.occupancy`): a teacher's view."""
    import time

    now = now if now is not None else time.time()
    headers = ["OWNER", "STATE", "DEVICE", "TASK", "JOB", "FOR", "HOME"]
    body = [[r["owner"], r["state"], r["device"], r["task"], r["job"], f"{max(0.0, now - r['since']):.0f} s",
             r["home"]] for r in sorted(rows, key=lambda r: (r["owner"], r["state"], r["since"]))]
    return headers, body


def usage_table(usage: dict[str, dict[str, float]]) -> tuple[list[str], list[list[str]]]:
    """Per owner: jobs by state and device time used (`ResultStore.usage`): a workshop host's view."""
    headers = ["OWNER", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "DEVICE TIME (S)"]
    body = [[who, *(str(int(u.get(k, 0))) for k in ("queued", "running", "succeeded", "failed", "cancelled")),
             f"{u.get('compute_s', 0.0):.1f}"] for who, u in sorted(usage.items())]
    return headers, body


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers), *(fmt.format(*map(str, r)) for r in rows)]
    return "\n".join(line.rstrip() for line in lines)


# ---- results ----------------------------------------------------------------------------


def summary(result: Any) -> str:
    """One short text a person reads first: the result's own `summary()` (each result type writes its
    own; there is no table of them here), else a short text of the value."""
    text = result_summary(result)
    if text is not None:
        return text
    return "" if result is None else str(result)[:200]


# ---- progress on a terminal -------------------------------------------------------------


def bar_shown(quiet: bool, stream: Any) -> bool:
    """Whether a progress bar is drawn on `stream`: not with --quiet, and only on a terminal unless
    WORKBENCH_PROGRESS=1 (a log gets lines instead)."""

    from workbench.settings import settings

    return not quiet and (stream.isatty() or settings().progress)


def follow(job: Any, label: str = "", *, quiet: bool = False, stream: Any = None) -> None:
    """Show a running job's progress on `stream` (stderr) until it ends: a tqdm bar with the stage
    message on a terminal (or with WORKBENCH_PROGRESS=1), else a line at most every 5 s, so a log
    never shows one line for minutes. Notes are printed above the bar. Ctrl-C cancels the job."""
    import sys

    from tqdm import tqdm

    stream = stream or sys.stderr
    live = bar_shown(quiet, stream)
    bar = tqdm(file=stream, total=100, unit="%", disable=not live, desc=label or None, leave=True,
               bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}")
    moved, last_line = False, time.monotonic()
    try:
        for ev in job.events():
            p = ev.progress
            if p is not None:
                if p.fraction is not None:
                    if not moved and p.fraction > 0:  # rates from the first move, not from the model load
                        moved = True
                        bar.reset(total=100)
                    bar.n = round(100 * p.fraction, 1)
                bar.set_postfix_str(p.message[:60], refresh=True)
                if not live and not quiet and time.monotonic() - last_line >= 5:
                    last_line = time.monotonic()
                    done = f"{p.fraction:.0%} " if p.fraction is not None else ""
                    print(f"    {label + ': ' if label else ''}{done}{p.message[:100]}", file=stream, flush=True)
            elif ev.kind == "note" and not quiet:
                tqdm.write(f"    {ev.message}" if label else ev.message, file=stream)
    except KeyboardInterrupt:
        job.cancel("interrupted from the command line")
        job.wait(30)
    finally:
        bar.close()
