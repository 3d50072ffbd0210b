"""What views show, written once: device rows, job rows, profile figures and result summaries.

The CLI, the Jupyter server extension, the widgets, the Gradio app and the demo report all
format through here, so a grasp summary or a device row reads the same everywhere. Nothing
here imports torch (the server extension uses it); results are the tasks' own types, read by
attribute, live or reopened from the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from workbench.contract.capabilities import Capabilities, format_bytes

# ---- numbers ----------------------------------------------------------------------------


def sig2(x: float | None) -> str:
    """Two significant digits: 0.0013, 0.41, 3.2, 150 (None: '-')."""
    if x is None:
        return "-"
    if x == 0:
        return "0"
    rounded = float(f"{x:.2g}")
    return f"{rounded:.2g}" if abs(x) < 100 else f"{rounded:,.0f}"


def count(n: int, noun: str) -> str:
    """`1 conformer`, `14 conformers`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


# ---- devices ----------------------------------------------------------------------------


def profile_text(profile: Any) -> str:
    """`0.41 TFLOP/s float32, 0.41 TFLOP/s bfloat16, 12 GB/s` (one fast-dtype truth: the profile's)."""
    if not profile:
        return "not profiled"
    p = profile if isinstance(profile, dict) else profile.to_dict()
    figures = [f"{sig2(p['matmul_tflops_fp32'])} TFLOP/s float32"]
    if p.get("fast_dtype") and p["fast_dtype"] != "float32":
        figures.append(f"{sig2(p['matmul_tflops_fast'])} TFLOP/s {p['fast_dtype']}")
    figures.append(f"{sig2(p['memory_gbps'])} GB/s copy")
    return ", ".join(figures)


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


def _grasp(r: Any) -> str:
    failures = ", ".join(f"{k} {v}" for k, v in r.stage_counts.items() if v) or "none"
    text = (f"success {r.success_rate:.0%} (95% CI {r.ci_low:.0%}-{r.ci_high:.0%}) over {len(r.trials)} grasps; "
            f"failures by stage: {failures}")
    a = getattr(r, "agreement", None)
    if a is None:
        return text
    total = a.true_positive + a.false_positive + a.false_negative + a.true_negative
    called, real = a.true_positive + a.false_positive, a.true_positive + a.false_negative
    return text + (f"\nagreement with the file's labels {(a.true_positive + a.true_negative) / max(1, total):.0%} "
                   f"over {total} grasps (precision {a.true_positive / max(1, called):.0%}, recall "
                   f"{a.true_positive / max(1, real):.0%})")


def _conformers(r: Any) -> str:
    lines = [f"{r.num_ok} molecule(s) ok, {r.num_failed} failed"]
    for m in r.molecules:
        if not m.ok:
            lines.append(f"  {m.name}: {m.error}")
            continue
        line = f"  {m.name}: {count(m.num_conformers, 'conformer')}"
        if len(m.relative_energies) > 1:
            line += f" within {m.relative_energies[-1]:.1f} kcal/mol"
        if getattr(m, "posebusters_passed", None) is not None:
            line += f"; PoseBusters {m.posebusters_passed}/{m.num_conformers} pass"
            if m.posebusters_failures:
                line += " (" + ", ".join(f"{k} {v}" for k, v in m.posebusters_failures.items()) + ")"
        lines.append(line)
    return "\n".join(lines)


def _fold(r: Any) -> str:
    lines = []
    for p in r.proteins:
        line = f"{p.name}: mean pLDDT {p.mean_plddt:.1f}, pTM {p.ptm:.2f}"
        if len(p.chains) > 1:
            per_chain, start = [], 0
            for chain, length in zip(p.chains, p.lengths):
                values = p.plddt[start:start + length]
                per_chain.append(f"{chain} {sum(values) / max(1, len(values)):.1f} ({length} res)")
                start += length
            line += "; pLDDT per chain " + ", ".join(per_chain)
        else:
            line += f" ({p.lengths[0]} residues)"
        lines.append(line + (" [random test weights]" if r.model.endswith("tiny") else ""))
    return "\n".join(lines)


def _complex(r: Any) -> str:
    chains = ", ".join(f"{c['chain']} {c['type']}" + (f" {c['length']}" if "length" in c else f" {c['ligand']}")
                       for c in r.chains)
    lines = [f"{r.name}: {chains}; {r.tokens} tokens" + (", chunked" if r.chunked else "")
             + (" [random test weights]" if r.model.endswith("tiny") else "")]
    for s in r.samples[:5]:
        line = (f"  #{s.rank} seed {s.seed} sample {s.sample}: confidence {s.confidence_score:.3f}, pTM {s.ptm:.2f}, "
                f"ipTM {s.iptm:.2f}, pLDDT {100 * s.complex_plddt:.1f}")
        if s.posebusters_passed is not None:
            line += f", PoseBusters {s.posebusters_passed} ligand(s) pass"
        held = getattr(s, "restraints", None) or []
        if held:
            line += f", restraints {sum(bool(x['satisfied']) for x in held)}/{len(held)} met (" + "; ".join(
                f"{x['restraint']} {x['distance']:.1f} of {x['limit']:g} Å" for x in held) + ")"
        lines.append(line)
    if r.posebusters_pass_rate is not None:
        lines.append(f"  ligand poses passing every PoseBusters check: {r.posebusters_pass_rate:.0%}")
    a = getattr(r, "affinity", None)
    if a:
        lines.append(affinity_line(a))
    return "\n".join(lines)


def affinity_line(a: Any) -> str:
    """Boltz-2's affinity values with their units and meaning, in one line."""
    value, chance = float(a["affinity_pred_value"]), float(a["affinity_probability_binary"])
    return (f"  affinity of {a.get('binder_chain', 'the ligand')}: log10 IC50 {value:.2f} (IC50 about "
            f"{10 ** value:.3g} µM; lower binds tighter), binder probability {chance:.2f}"
            + (" [random weights: meaningless]" if a.get("random_weights") else ""))


def _screen(r: Any) -> str:
    lines = [f"{len(r.rows)} ligand(s) screened against {len(r.target)} target chain(s)"
             + (f"; {len(r.skipped)} line(s) skipped" if r.skipped else "")
             + (" [random test weights: the scores mean nothing]" if r.model.endswith("tiny") else "")]
    for row in r.rows[:5]:
        line = (f"  #{row.rank} {row.name} (line {row.line}): ligand ipTM {row.ligand_iptm:.2f}, "
                f"ipTM {row.iptm:.2f}, confidence {row.confidence_score:.3f}")
        if row.posebusters_passed is not None:
            line += ", PoseBusters " + ("pass" if row.posebusters_passed else "fail")
        if row.restraints_satisfied:
            line += f", restraints {row.restraints_satisfied} met"
        if getattr(row, "affinity_probability", None) is not None:
            line += f", binder probability {row.affinity_probability:.2f}, log10 IC50 {row.affinity_value:.2f}"
        lines.append(line)
    lines += [f"  skipped line {s['line']}: {s['reason']}" for s in r.skipped[:5]]
    return "\n".join(lines)


def _images(r: Any) -> str:
    return ", ".join(f"image {i.index}: seed {i.recipe.get('seed')}, {i.recipe.get('width')}x"
                     f"{i.recipe.get('height')}" for i in r.images) + f" ({r.model}, {r.dtype})"


def _selftest(r: Any) -> str:
    return ("passed" if r.passed else "FAILED") + ": " + ", ".join(
        f"{c.dtype} {'ok' if c.passed else 'failed'} (rel. error {c.max_relative_error:.1e})" for c in r.checks)


def _grasp_train(r: Any) -> str:
    return (f"{r.epochs} epochs: loss {r.train_loss[-1]:.3f}; held-out objects ({len(r.held_out_objects)}): "
            f"accuracy {r.val_accuracy[-1]:.0%}, top-10 success {r.val_top10_success[-1]:.0%} vs "
            f"{r.val_base_success:.0%} over all their grasps")


def _place(r: Any) -> str:
    judged = [f"{name} {'ok' if ok else 'failed'}" for name, ok in (("position", r.position_success),
                                                                    ("rotation", r.rotation_success)) if ok is not None]
    head = f"{'success' if r.success else 'failed'} ({r.track} track): " + ", ".join(judged)
    if r.cause:
        head += f"; {r.cause}: {r.reason}"
    if r.moves > 1:
        head += f"; {r.moves} moves (regrasp)"
    return "\n".join([head, *("  " + line for line in r.goal.get("constraints", []))])


SUMMARIES: dict[str, Callable[[Any], str]] = {
    "PlaceResult": _place,
    "GraspTrainResult": _grasp_train,
    "GraspResult": _grasp,
    "ConformerResult": _conformers,
    "FoldResult": _fold,
    "ComplexResult": _complex,
    "ScreenResult": _screen,
    "Text2ImageResult": _images,
    "SelftestResult": _selftest,
    "UnderstandResult": lambda r: r.text,
    "ProfileResult": lambda r: profile_text(dict(r) if isinstance(r, dict) else vars(r)),
    "CountResult": lambda r: f"counted to {r.steps} on {r.host}",
}


class StoredResult(dict):
    """A stored result's JSON, read by attribute the way the summaries read a live result.

    Lists and views summarise finished jobs from their records through this, so they import no task
    module (a listing stays fast, and nothing a record names is ever imported to show it)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return _stored(self[name])
        except KeyError:
            raise AttributeError(name) from None


def _stored(value: Any) -> Any:
    if isinstance(value, dict):
        return StoredResult(value)
    if isinstance(value, list):
        return [_stored(v) for v in value]
    return value


def stored_summary(type_name: str | None, data: Any) -> str:
    """`summary` of a result as the store keeps it: its type's name (`module:Class`) and its JSON."""
    kind = (type_name or "").rpartition(":")[2].rpartition(".")[2]
    return summary(_stored(data), kind or None)


def summary(result: Any, kind: str | None = None) -> str:
    """One short text a person reads first, for a result of any registered task (`kind`: the result
    type's class name, when `result` is its stored JSON)."""
    fn = SUMMARIES.get(kind or type(result).__name__)
    if fn is not None:
        try:
            return fn(result)
        except (AttributeError, KeyError, TypeError):
            pass
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
