"""The demo's steps, one per capability: each runs a small job (tiny random models where the real
weights are not cached, said so in the row) and returns the report's rows."""

from __future__ import annotations

import time
from typing import Any

from workbench import presenters
from workbench.contract.errors import WorkbenchError
from workbench.demo.context import DemoContext, Step, StepOutcome, task, weights


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
            return "; ".join(f"{m.name}: {presenters.count(m.num_conformers, 'conformer')}, {m.force_field}"
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


UBIQUITIN = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"


def _auto(spec: Any, request: Any) -> Any:
    from workbench.scheduling import registry

    return registry.get("auto", spec.requirements_for(request))


def fold_step(ctx: DemoContext) -> list[StepOutcome]:
    """ESMFold on ubiquitin: PDB, mmCIF with pLDDT, PAE and pLDDT plots."""
    spec = task("fold", "Protein folding")
    tiny, model = weights("esmfold")
    request = spec.request_type()(sequences=(UBIQUITIN,), names=("ubiquitin",), tiny=tiny)
    job = _auto(spec, request).submit(spec, request)
    return [ctx.wait(f"Protein structure ({model})", job, lambda r: presenters.summary(r).split("\n")[0],
                     keep=("plddt_plot", "pae_plot", "cif"))]


def complex_step(ctx: DemoContext) -> list[StepOutcome]:
    """Protein-ligand co-folding with Boltz-2 when its weights are cached; otherwise the tiny random Boltz-2
    (Boltz's own classes), labelled as such: the files, confidence and PoseBusters checks, not a prediction."""
    spec = task("complex", "Complex co-folding")
    from workbench.tasks.molecules.complexes.predict import TINY_RUN, ComplexRequest, sample_stem

    tiny, model = weights("boltz-2")
    request = ComplexRequest(proteins=(UBIQUITIN,), ligand_ccd=("ATP",), name="ubiquitin_atp", tiny=tiny,
                             **(TINY_RUN if tiny else {}))
    job = _auto(spec, request).submit(spec, request)
    title = f"Co-folding ubiquitin + ATP ({model})"
    return [ctx.wait(title, job, lambda r: presenters.summary(r).splitlines()[1].strip(),
                     keep=("summary", *(f"{sample_stem(request.name, 0, 0)}.{x}"
                                        for x in ("cif", "confidence", "pae"))))]


def grasp_step(ctx: DemoContext) -> list[StepOutcome]:
    spec = task("grasp", "Grasping")
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
    spec = task("place", "Pick and place")
    from workbench.tasks.rearrange.place import PlaceRequest

    out = []
    for text in ("put the mug upright to the left of the box", "turn the box upside down"):
        request = PlaceRequest(instruction=text)
        device = ctx.capable(spec, request)[0]
        out.append(ctx.wait(f"Pick and place: {text!r}", device.submit(spec, request),
                            lambda r: presenters.summary(r).split("\n")[0], keep=("gif", "png", "record")))
    return out


def grasp_learning_step(ctx: DemoContext) -> list[StepOutcome]:
    """The loop of a grasp model trained in simulation, at toy size (about 20 s): a grasp dataset
    simulated here, a model trained on it, and the learned sampler against the antipodal one on shapes
    the model never saw. The rows say what it is: a toy this small shows the loop, not a better sampler
    (`benchmarks/grasp_dataset.py` measures that at 240 objects)."""
    task("grasp-train", "Grasp learning")
    from workbench.datasets import make_grasp_dataset
    from workbench.tasks.grasping.train import GraspTrainRequest
    from workbench.tasks.registry import get_task

    data = ctx.out / "grasp-data"
    device = ctx.devices[0]
    ctx.log(f"  simulating a grasp dataset (16 procedural objects x 16 grasps) on {device.id} ...")
    report = make_grasp_dataset("procedural:16", data, grasps_per_object=16, devices=[device.id])
    spec = get_task("grasp-train")
    job = device.submit(spec, GraspTrainRequest(data=str(data), epochs=25, held_out=0.2))

    def trained(r: Any) -> str:
        return (f"a toy: {report.objects} shapes x 16 grasps, {r.epochs} epochs. Held-out shapes "
                f"({len(r.held_out_objects)}): accuracy {r.val_accuracy[-1]:.0%} (best {max(r.val_accuracy):.0%}), "
                f"its top-10 grasps succeed {r.val_top10_success[-1]:.0%} vs {r.val_base_success:.0%} for all "
                "their grasps; curves.png shows how noisy a model this small is")

    out = [ctx.wait(f"Grasp model trained on {report.grasps} simulated grasps", job, trained,
                    keep=("curves", "config", "metrics"))]
    if job.state.value != "succeeded":
        return out
    model = job.result()
    folder = model.files["scorer"].parent
    grasp = get_task("grasp")
    tally: dict[str, list[int]] = {}
    t0 = time.perf_counter()
    for name in model.held_out_objects[:2]:
        mesh = str(data / "meshes" / f"{name}.obj")
        for sampler in (f"learned:{folder}", "antipodal"):
            request = grasp.request_type()(object=mesh, num_grasps=10, sampler=sampler, render=())
            job = device.submit(grasp, request)
            ctx.wait(f"{sampler.split(':')[0]} grasps on held-out {name}", job, presenters.summary)
            if job.state.value == "succeeded":
                r = job.result()
                counts = tally.setdefault(sampler.split(":")[0], [0, 0])
                counts[0] += sum(t.success for t in r.trials)
                counts[1] += len(r.trials)
    said = ", ".join(f"{k} {s}/{n}" for k, (s, n) in tally.items())
    out.append(StepOutcome(
        f"Learned vs antipodal sampler on {len(model.held_out_objects[:2])} held-out shapes", device.id,
        "succeeded" if len(tally) == 2 else "failed",
        f"{said} grasps held. At these physics (friction 1, density 500) nine antipodal grasps in ten already "
        "hold and a 256-grasp toy learns little: this shows the loop, not a gain. Measured at scale "
        "(benchmarks/grasp_dataset.py, 240 objects, slippery and heavy): learned 94% vs antipodal 70%.",
        time.perf_counter() - t0))
    return out


def generation_step(ctx: DemoContext) -> list[StepOutcome]:
    """Text-to-image (sd-turbo), the PNG carrying its recipe as A1111 and ComfyUI read it."""
    spec = task("text-to-image", "Image generation")
    tiny, model = weights("sd-turbo")
    request = spec.request_type()(prompt="a watercolour of a robot gripper holding a molecule model",
                                  model="sd-turbo", steps=2, tiny=tiny)
    job = _auto(spec, request).submit(spec, request)
    return [ctx.wait(f"Text-to-image ({model})", job, presenters.summary, keep=("image_0",))]


def _picture(ctx: DemoContext) -> str:
    """A picture to read: a red cube and a blue ball on a grey table, drawn here."""
    from PIL import Image, ImageDraw

    path = ctx.out / "files" / "scene.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (320, 240), (235, 235, 235))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 170, 320, 240), fill=(150, 150, 150))
    draw.rectangle((60, 100, 140, 180), fill=(200, 30, 30))
    draw.ellipse((190, 110, 260, 180), fill=(30, 60, 200))
    image.save(path)
    return str(path)


def understanding_step(ctx: DemoContext) -> list[StepOutcome]:
    """A caption and an answer about one picture, streamed token by token (SmolVLM)."""
    spec = task("caption", "Image understanding")
    tiny, model = weights("smolvlm")
    image = _picture(ctx)
    from workbench.tasks.registry import get_task

    out = []
    for name, question in (("caption", ""), ("vqa", "What colour is the cube?")):
        spec = get_task(name)
        request = spec.request_type()(image=image, question=question, tiny=tiny, max_new_tokens=24)
        job = _auto(spec, request).submit(spec, request)
        what = "Caption" if name == "caption" else f"Question {question!r}"
        out.append(ctx.wait(f"{what} ({model})", job, lambda r: repr(r.text), keep=()))
    out[0].files.append((ctx.out / "files" / "scene.png").relative_to(ctx.out))
    return out


def unified_step(ctx: DemoContext) -> list[StepOutcome]:
    """One model that draws and reads (Janus): an image from a prompt, then a caption of it."""
    spec = task("text-to-image", "Unified model")
    tiny, model = weights("janus")
    from workbench.tasks.registry import get_task

    request = spec.request_type()(prompt="a red cube on a table", model="janus", tiny=tiny)
    drawn = ctx.wait(f"Unified model draws ({model})", _auto(spec, request).submit(spec, request),
                     presenters.summary, keep=("image_0",))
    out = [drawn]
    if drawn.state == "succeeded" and drawn.files:
        caption = get_task("caption")
        read = caption.request_type()(image=str(ctx.out / drawn.files[0]), model="janus", tiny=tiny,
                                      max_new_tokens=16)
        out.append(ctx.wait(f"The same model reads what it drew ({model})",
                            _auto(caption, read).submit(caption, read), lambda r: repr(r.text), keep=()))
    return out


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
        head: Any = c.head_node  # started above (initialize_head=True)
        fast, slow = f"ray:{head.node_id[:8]}/cpu", f"ray:{npu_node.node_id[:8]}/cpu"
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


#: The demo's steps in order; a capability adds its step here.
STEPS: list[Step] = [profile_step, selftest_step, conformer_step, fold_step, complex_step, generation_step,
                     understanding_step, unified_step, grasp_step, grasp_learning_step, place_step]
