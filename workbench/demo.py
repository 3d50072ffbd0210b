"""`workbench demo`: find the devices, run a small job of each capability on each local
device, and write `report.html` with the files it links.

The demo is composed of steps; a capability adds its step to `STEPS`. A step whose
optional dependencies or model weights are missing says so in the report in one sentence
instead of failing the demo.
"""

from __future__ import annotations

import html
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import presenters
from workbench.contract.errors import WorkbenchError
from workbench.hardware.base import Device, format_bytes
from workbench.jobs.codec import result_files, to_jsonable
from workbench.jobs.job import Job
from workbench.scheduling import registry


@dataclass
class StepOutcome:
    """One row of the report: what ran where, how it ended, and the files it made."""

    title: str
    device: str
    state: str
    summary: str
    seconds: float | None = None
    job_id: str | None = None
    files: list[Path] = field(default_factory=list)  #: relative to the report folder


@dataclass
class DemoContext:
    out: Path
    devices: list[Device]
    log: Callable[[str], None]

    def capable(self, spec: Any, request: Any) -> list[Device]:
        """The local devices that satisfy the task's requirements for this request."""
        from workbench.scheduling.placement import unmet

        needs = spec.requirements_for(request)
        return [d for d in self.devices if not unmet(d, needs)]

    def wait(self, title: str, job: Job, summarise: Callable[[Any], str],
             keep: tuple[str, ...] | None = None) -> StepOutcome:
        """Wait for `job`, copy its files into the report folder, and describe it."""
        self.log(f"  {title} on {job.device} ...")
        try:
            result = job.result(timeout=900)
        except WorkbenchError as exc:
            return StepOutcome(title, job.device, job.state.value, str(exc), job_id=job.id)
        files = []
        dest_dir = self.out / "files" / job.id
        for name, path in result_files(result).items():
            if keep is not None and name not in keep:
                continue
            dest_dir.mkdir(parents=True, exist_ok=True)
            dest = dest_dir / path.name
            shutil.copytree(path, dest) if path.is_dir() else shutil.copy2(path, dest)
            files.append(dest.relative_to(self.out))
        seconds = (job.finished or 0) - (job.started or 0)
        return StepOutcome(title, job.device, job.state.value, summarise(result), seconds,
                           job.id, files)


Step = Callable[[DemoContext], list[StepOutcome]]


def profile_step(ctx: DemoContext) -> list[StepOutcome]:
    from workbench.scheduling.profiles import profile_device

    out = []
    for d in ctx.devices:
        ctx.log(f"  profiling {d.id} ...")
        t0 = time.perf_counter()
        try:
            p = profile_device(d, seconds_per_figure=0.15)
        except WorkbenchError as exc:
            out.append(StepOutcome("Device profile", d.id, "failed", str(exc)))
            continue
        out.append(StepOutcome(
            "Device profile", d.id, "succeeded",
            presenters.profile_text(p), time.perf_counter() - t0))
    return out


def selftest_step(ctx: DemoContext) -> list[StepOutcome]:
    from workbench.tasks.selftest import SelftestRequest

    jobs = [d.submit("selftest", SelftestRequest(dtypes=d.capabilities.dtypes)) for d in ctx.devices]

    def summary(r: Any) -> str:
        return ("all dtypes agree with float64: " if r.passed else "MISMATCH: ") + ", ".join(
            f"{c.dtype} {c.max_relative_error:.1e} ({c.forward_ms:.1f} ms)" for c in r.checks)

    return [ctx.wait("Self-test: tiny transformer in every dtype", j, summary) for j in jobs]


DEMO_MOLECULES = (
    "CC(=O)Oc1ccccc1C(=O)O aspirin",
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O ibuprofen",
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C caffeine",
    "CC(C)[C@H]1CC[C@@H](CC1)C(=O)N[C@H](Cc1ccccc1)C(=O)O nateglinide",
)


def conformer_step(ctx: DemoContext) -> list[StepOutcome]:
    try:
        from rdkit import Chem
        from rdkit.Chem.Draw import rdMolDraw2D

        from workbench.tasks.molecules.conformers import ConformerRequest
    except ModuleNotFoundError as exc:
        raise WorkbenchError(
            f"Conformers skipped: {exc.name} is not installed (pip install \"workbench[molecules]\")."
        ) from None
    from workbench.tasks.registry import get_task

    spec = get_task("conformers")
    request = ConformerRequest(smiles=DEMO_MOLECULES, num_conformers=30)
    out = []
    for d in ctx.capable(spec, request):
        job = d.submit(spec, request)

        def summary(r: Any) -> str:
            return "; ".join(f"{m.name}: {m.num_conformers} conformers, {m.force_field}"
                             if m.ok else f"{m.name}: {m.error}" for m in r.molecules)

        outcome = ctx.wait("Conformer ensembles (ETKDGv3 + MMFF94s)", job, summary)
        if outcome.state == "succeeded":
            mols = [Chem.MolFromSmiles(s.split()[0]) for s in DEMO_MOLECULES]
            drawer = rdMolDraw2D.MolDraw2DCairo(4 * 250, 250, 250, 250)
            drawer.DrawMolecules(mols, legends=[s.split(maxsplit=1)[1] for s in DEMO_MOLECULES])
            drawer.FinishDrawing()
            png = ctx.out / "files" / job.id / "molecules.png"
            png.write_bytes(drawer.GetDrawingText())
            outcome.files.append(png.relative_to(ctx.out))
        out.append(outcome)
    return out


def require_cached(what: str, module: str, extra: str, model_id: str) -> None:
    """Skip a step with one sentence when its package or its weights are missing."""
    import importlib

    from workbench import models
    from workbench.contract.errors import ModelNotAvailable

    try:
        importlib.import_module(module)
    except ModuleNotFoundError:
        raise WorkbenchError(f'{what} skipped: pip install "workbench[{extra}]".') from None
    try:
        models.local_path(model_id)
    except ModelNotAvailable as exc:
        raise WorkbenchError(f"{what} skipped: {exc}") from None


def fold_step(ctx: DemoContext) -> list[StepOutcome]:
    """ESMFold when its weights are cached; otherwise one sentence on how to get them."""
    from workbench.scheduling import registry as reg

    require_cached("Protein folding", "transformers", "molecules", "esmfold")
    from workbench.tasks.molecules.fold import FoldRequest
    from workbench.tasks.registry import get_task

    spec = get_task("fold")
    request = FoldRequest(sequences=("MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG",),
                          names=("ubiquitin",))
    device = reg.get("auto", spec.requirements_for(request))
    job = device.submit(spec, request)
    return [ctx.wait("Protein structure (ESMFold)", job,
                     lambda r: "; ".join(f"{p.name}: mean pLDDT {p.mean_plddt:.1f}, pTM {p.ptm:.2f}"
                                         for p in r.proteins))]


def complex_step(ctx: DemoContext) -> list[StepOutcome]:
    """Protein-ligand co-folding with Boltz-2 when its weights are cached; otherwise the tiny random Boltz-2
    (Boltz's own classes), labelled as such: the files, confidence and PoseBusters checks, not a prediction."""
    from workbench import models
    from workbench.scheduling import registry as reg

    spec = _task("complex", "Complex co-folding")
    from workbench.tasks.molecules.complexes.predict import TINY_RUN, ComplexRequest, sample_stem

    tiny = not models.is_cached("boltz-2")
    request = ComplexRequest(proteins=("MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG",),
                             ligand_ccd=("ATP",), name="ubiquitin_atp", tiny=tiny,
                             **(TINY_RUN if tiny else {}))
    job = reg.get("auto", spec.requirements_for(request)).submit(spec, request)
    title = "Co-folding ubiquitin + ATP (" + ("tiny random Boltz-2; `workbench models pull boltz-2` for real"
                                             if tiny else "Boltz-2") + ")"
    return [ctx.wait(title, job, lambda r: presenters.summary(r).splitlines()[1].strip(),
                     keep=("summary", *(f"{sample_stem(request.name, 0, 0)}.{x}"
                                        for x in ("cif", "confidence", "pae"))))]


def _task(name: str, what: str) -> Any:
    """The task's spec with its module imported, or the step skipped in one sentence naming the extra."""
    from workbench.tasks.registry import get_task

    spec = get_task(name)
    try:
        spec.load()  # a missing optional package is a sentence naming the extra
    except WorkbenchError as exc:
        raise WorkbenchError(f"{what} skipped: {exc}") from None
    return spec


def grasp_step(ctx: DemoContext) -> list[StepOutcome]:
    spec = _task("grasp", "Grasping")
    from workbench.tasks.grasping.grasp import GraspRequest

    out = []
    for obj in ("box", "can"):
        request = GraspRequest(object=obj, num_grasps=10, seed=0)
        for d in ctx.capable(spec, request):
            job = d.submit(spec, request)
            out.append(ctx.wait(f"Grasp trials in MuJoCo ({obj})", job, presenters.summary))
    return out


def place_step(ctx: DemoContext) -> list[StepOutcome]:
    """Two instructions on the bundled tabletop: a 6-DoF one (position and rotation) and a regrasp."""
    spec = _task("place", "Pick and place")
    from workbench.tasks.rearrange.place import PlaceRequest

    out = []
    for text in ("put the mug upright to the left of the box", "turn the box upside down"):
        request = PlaceRequest(instruction=text)
        device = ctx.capable(spec, request)[0]
        out.append(ctx.wait(f"Pick and place: {text!r}", device.submit(spec, request),
                            lambda r: presenters.summary(r).split("\n")[0], keep=("gif", "png", "record")))
    return out


def grasp_learning_step(ctx: DemoContext) -> list[StepOutcome]:
    """A small grasp dataset simulated here, a grasp model trained on it, and the learned sampler
    against the antipodal one on two objects the model never saw."""
    _task("grasp-train", "Grasp learning")
    from workbench.datasets import make_grasp_dataset
    from workbench.tasks.grasping.train import GraspTrainRequest
    from workbench.tasks.registry import get_task

    data = ctx.out / "grasp-data"
    device = ctx.devices[0]
    ctx.log(f"  simulating a grasp dataset (16 procedural objects) on {device.id} ...")
    report = make_grasp_dataset("procedural:16", data, grasps_per_object=16, devices=[device.id])
    spec = get_task("grasp-train")
    job = device.submit(spec, GraspTrainRequest(data=str(data), epochs=25, held_out=0.2))
    out = [ctx.wait(f"Grasp model trained on {report.grasps} simulated grasps", job, presenters.summary,
                    keep=("curves", "config", "metrics"))]
    if job.state.value != "succeeded":
        return out
    model = job.result()
    folder = model.files["scorer"].parent
    grasp = get_task("grasp")
    for name in model.held_out_objects[:2]:
        mesh = str(data / "meshes" / f"{name}.obj")
        for sampler in (f"learned:{folder}", "antipodal"):
            request = grasp.request_type()(object=mesh, num_grasps=10, sampler=sampler, render=())
            out.append(ctx.wait(f"{sampler.split(':')[0].capitalize()} grasps on held-out {name}",
                                device.submit(grasp, request), presenters.summary, keep=()))
    return out


def generation_step(ctx: DemoContext) -> list[StepOutcome]:
    """Text-to-image when a model is cached; otherwise one sentence on how to get one."""
    from workbench.scheduling import registry as reg

    require_cached("Image generation", "diffusers", "multimodal", "sd-turbo")
    from workbench.tasks.multimodal.text_to_image import Text2ImageRequest
    from workbench.tasks.registry import get_task

    spec = get_task("text-to-image")
    request = Text2ImageRequest(prompt="a watercolour of a robot gripper holding a molecule model", model="sd-turbo",
                                steps=2, width=512, height=512)
    job = reg.get("auto", spec.requirements_for(request)).submit(spec, request)
    return [ctx.wait("Text-to-image (sd-turbo)", job, lambda r: f"{len(r.images)} image(s), {r.dtype}")]


#: The demo's steps in order; capabilities append theirs.
def cluster_step(ctx: DemoContext) -> list[StepOutcome]:
    """A heterogeneous cluster on loopback (a 2-CPU node, a 1-CPU node that declares an NPU):
    per-task figures measured on each node, a job placed by them, and a grasp batch drained off
    its node mid run that resumes elsewhere from its finished trials."""
    import os

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every Ray port on 127.0.0.1
    os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
    try:
        from ray.cluster_utils import Cluster
    except ModuleNotFoundError:
        raise WorkbenchError('The cluster step needs Ray: pip install "workbench[ray]".') from None
    from workbench import api
    from workbench.scheduling import cluster
    from workbench.scheduling.bench import bench

    c = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 2, "include_dashboard": False})
    npu_node = c.add_node(num_cpus=1, resources={"NPU": 1})
    c.wait_for_nodes()
    out = []
    try:
        cluster.connect(c.address)
        fast, slow = f"ray:{c.head_node.node_id[:8]}/cpu", f"ray:{npu_node.node_id[:8]}/cpu"
        npu = f"ray:{npu_node.node_id[:8]}/npu:0"
        t0 = time.perf_counter()
        rows = bench(["selftest"], [fast, slow, npu], repeats=2, say=ctx.log)
        out.append(StepOutcome("Cluster: per-task figures (workbench bench)", ", ".join(r["device"] for r in rows),
                               "succeeded", "; ".join(f"{r['device']} {presenters.sig2(r['rate'])} {r['unit']}/s"
                                                      for r in rows), time.perf_counter() - t0))
        job = api.submit("selftest", dtypes=("float32",), batch=16, seq_len=64, repeats=20,
                         device=api.any_of(fast, slow, npu))
        out.append(ctx.wait("Cluster: placement by predicted finish time", job, lambda r: job.placement))
        grasp = api.submit("grasp", object="box", num_grasps=30, seed=0, render=(), device=fast)
        deadline = time.time() + 300
        while len(grasp.checkpoints) < 5 and not grasp.done and time.time() < deadline:
            time.sleep(0.05)
        api.drain(fast)

        def moved(r: Any) -> str:
            notes = [e.message for e in grasp.snapshot_events() if e.message.startswith("moved from")]
            return (notes[0] + ". " if notes else "finished before the drain. ") + presenters.summary(r)

        out.append(ctx.wait("Cluster: a batch drained off its node resumes elsewhere", grasp, moved))
        api.drain(fast, False)
    finally:
        cluster.disconnect()
        c.shutdown()
    return out


STEPS: list[Step] = [profile_step, selftest_step, conformer_step, fold_step, complex_step, grasp_step, place_step,
                     grasp_learning_step, generation_step]


def _esc(x: Any) -> str:
    return html.escape(str(x))


CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%;font-size:14px}td,th{border:1px solid #ddd;padding:.35rem .5rem;
text-align:left;vertical-align:top}th{background:#f4f4f4}.succeeded{color:#176117}.failed{color:#a11}
.cancelled,.skipped{color:#875c00}code{background:#f4f4f4;padding:0 .2rem}img{max-width:420px}
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
            f"<tr><td>{_esc(o.title)}</td><td><code>{_esc(o.device)}</code></td>"
            f'<td class="{_esc(o.state)}">{_esc(o.state)}</td><td>{_esc(o.summary)}{images}</td>'
            f"<td>{'' if o.seconds is None else f'{o.seconds:.2f} s'}</td>"
            f"<td>{_esc(o.job_id or '')}</td><td>{links}</td></tr>")
    note_html = "".join(f"<li>{_esc(n)}</li>" for n in notes)
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


def run_demo(out: Path, *, quiet: bool = False, steps: list[Step] | None = None, cluster: bool = False) -> Path:
    """Run every step on every local device (and, with `cluster`, on a heterogeneous loopback
    cluster) and write `out/report.html`."""
    started = time.time()
    out.mkdir(parents=True, exist_ok=True)

    def log(msg: str) -> None:
        if not quiet:
            print(msg, file=sys.stderr)

    devices = [d for d in registry.discover() if d.capabilities.backend != "ray"]
    log(f"devices: {', '.join(d.id for d in devices)}")
    device_rows = [{"id": d.id, **d.capabilities.to_dict()} for d in devices]
    (out / "devices.json").write_text(json.dumps(to_jsonable(device_rows), indent=1))
    ctx = DemoContext(out, devices, log)
    outcomes: list[StepOutcome] = []
    notes = list(registry.problems)
    for step in (steps if steps is not None else STEPS) + ([cluster_step] if cluster else []):
        try:
            outcomes.extend(step(ctx))
        except WorkbenchError as exc:  # a missing extra or model: one sentence in the report
            notes.append(str(exc))
            log(f"  skipped: {exc}")
    (out / "outcomes.json").write_text(json.dumps(to_jsonable(outcomes), indent=1))
    return render_report(out, device_rows, outcomes, notes, started)
