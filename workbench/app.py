"""The Gradio app: a tab per capability, built on the same tasks and jobs as everything else.

A workshop teacher runs `workbench gradio` for a room: Gradio's queue shows each participant
their position, `concurrency_limit` keeps the CPU tasks from over-subscribing the machine,
and the job layer's per-device queues do the same for every device. Handlers only build a
request, submit it, stream the job's progress into `gr.Progress`, and show the result.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import gradio as gr

from workbench import presenters
from workbench.contract.errors import WorkbenchError
from workbench.jobs import owners
from workbench.participants import NO_SUCH_JOB, Workshop

#: 3D views with a transparent background: the theme's block colour shows through, light or dark (a fixed
#: light grey stayed light in dark mode)
SEE_THROUGH = (0.0, 0.0, 0.0, 0.0)


def _device_choices() -> list[str]:
    from workbench.scheduling import registry

    return ["auto", *registry.names()]


def _follow(job: Any, progress: Any) -> Any:
    """Mirror a job's progress into Gradio's progress bar; the result, or a gr.Error sentence."""
    for event in job.events():
        if event.progress is not None and event.progress.fraction is not None:
            progress(event.progress.fraction, desc=event.progress.message[:80])
    try:
        return job.result(0)
    except WorkbenchError as exc:
        raise _error(exc) from None


#: how this server is shared (`build_app(workshop=...)`; the default: one user's app)
_workshop: list[Workshop] = [Workshop()]


def _submit(task: str, device: str, request: Any, **fields: Any) -> Any:
    """Submit for the session's participant (the login owner when the server is not shared), within
    their quota."""
    from workbench import api

    shared = _workshop[0]
    try:
        with owners.acting_as(shared.owner(request), shared.quota if shared.isolate else None):
            return api.submit(task, device=device or "auto", **fields)
    except WorkbenchError as exc:  # bad input or device, or a quota: a sentence in the UI
        raise _error(exc) from None


def _error(exc: Exception) -> Any:
    """A sentence for the UI, as text: Gradio renders error messages as HTML, and the message may
    quote what a participant typed."""
    return gr.Error(html.escape(str(exc)))


#: how long a result's scratch folder outlives its answer (Gradio copies what it serves into its own cache)
SCRATCH_KEEP_S = 3600.0
_scratch_root: list[Path] = []


def _scratch(prefix: str) -> Path:
    """A new folder for one answer's files, inside one folder per server process that is removed when
    the process exits; folders older than `SCRATCH_KEEP_S` are removed as new ones are made (each
    answer used to leave a temporary folder behind forever)."""
    import atexit
    import shutil
    import tempfile
    import time

    if not _scratch_root:
        root = Path(tempfile.mkdtemp(prefix="workbench-gradio-"))
        _scratch_root.append(root)
        atexit.register(shutil.rmtree, root, True)
    root = _scratch_root[0]
    now = time.time()
    for old in root.iterdir():
        try:
            if now - old.stat().st_mtime > SCRATCH_KEEP_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return Path(tempfile.mkdtemp(prefix=prefix, dir=root))


def _glb_path(name: str) -> Path:
    return _scratch("scene-") / name


def conformers(smiles: str, num: float, device: str, progress: Any = gr.Progress(), request: gr.Request | None = None
               ) -> tuple[list[list[Any]], str, str | None]:
    """The ensembles as a table, the SDF, and the first molecule's lowest-energy conformer in 3D."""
    from workbench.tasks.molecules.glb import molecule_glb

    lines = tuple(s.strip() for s in (smiles or "").splitlines() if s.strip())
    job = _submit("conformers", device, request, smiles=lines, num_conformers=int(num))
    result = _follow(job, progress)
    rows = [[m.name, "ok" if m.ok else m.error, m.num_conformers, m.force_field,
             round(m.relative_energies[-1], 3) if m.relative_energies else None] for m in result.molecules]
    model = None
    if any(m.ok for m in result.molecules):  # the SDF holds the ok molecules' conformers, lowest energy first
        model = str(molecule_glb(result.files["sdf"], _glb_path("conformer.glb")))
    return rows, str(result.files["sdf"]), model


FOLD_HEADERS = ["protein", "chains", "residues", "mean pLDDT (0-100)", "pTM (0-1)"]


def fold(sequence: str, tiny: bool, device: str, colour: str = "pLDDT", progress: Any = gr.Progress(),
         request: gr.Request | None = None) -> tuple[list[list[Any]], list[str], str, str]:
    """Confidence table, PDB and mmCIF, PAE, and the structure in 3D (Cα trace by pLDDT band or by chain)."""
    from workbench.tasks.molecules.glb import protein_glb

    seqs = tuple(s.strip() for s in (sequence or "").splitlines() if s.strip())
    job = _submit("fold", device, request, sequences=seqs, tiny=bool(tiny))
    result = _follow(job, progress)
    p = result.proteins[0]
    key = p.files[0].rsplit(".", 1)[0]
    rows = [[x.name, ",".join(x.chains), "+".join(map(str, x.lengths)), round(x.mean_plddt, 1), round(x.ptm, 3)]
            for x in result.proteins]
    model = protein_glb(Path(result.files[f"{key}.pdb"]), _glb_path("structure.glb"),
                        "chain" if colour == "chain" else "plddt")
    return (rows, [str(result.files[f"{key}.pdb"]), str(result.files[f"{key}.cif"])], str(result.files[f"{key}.pae"]),
            str(model))


COMPLEX_HEADERS = ["rank", "seed", "sample", "confidence", "ipTM", "ligand ipTM", "pLDDT (0-100)",
                   "ligands passing PoseBusters", "restraints met", "affinity: log10 IC50 (µM)",
                   "binder probability"]


def _restraint_lines(text: str) -> dict[str, tuple[str, ...]]:
    """"pocket B: A:12, A:15 @ 6" and "contact A:12, B:C1 @ 8" lines as the request's fields."""
    out: dict[str, list[str]] = {"pockets": [], "contacts": []}
    for line in (text or "").splitlines():
        kind, _, rest = line.strip().partition(" ")
        if not kind:
            continue
        if kind.lower() not in ("pocket", "contact"):
            raise gr.Error(html.escape(f"Restraint {line.strip()[:80]!r}: start each line with pocket or contact."))
        out[kind.lower() + "s"].append(rest)
    return {k: tuple(v) for k, v in out.items() if v}


def complex_fold(proteins: str, smiles: str, ccd: str, samples: float, tiny: bool, device: str,
                 colour: str = "pLDDT", restraint_text: str = "", potentials: bool = False,
                 affinity: bool = False, progress: Any = gr.Progress(),
                 request: gr.Request | None = None) -> tuple[list[list[Any]], list[str], str | None, str]:
    """Boltz-2 co-folding: the ranked samples, the best sample's files, its PAE and the complex in 3D
    (polymers by pLDDT band or by chain)."""
    from workbench.tasks.molecules.complexes.predict import TINY_RUN
    from workbench.tasks.molecules.glb import complex_glb

    lines = [s.strip() for s in (proteins or "").splitlines() if s.strip()]
    ligands = tuple(s.strip() for s in (smiles or "").splitlines() if s.strip())
    codes = tuple(c.strip() for c in (ccd or "").replace(",", " ").split() if c.strip())
    fields: dict[str, Any] = {"proteins": tuple(lines), "ligands": ligands, "ligand_ccd": codes,
                              "samples": int(samples or 1), "tiny": bool(tiny), "potentials": bool(potentials),
                              **_restraint_lines(restraint_text)}
    if affinity:  # of the first ligand: its chain follows the protein chains
        if not (ligands or codes):
            raise gr.Error("Affinity is predicted for a ligand: give one.")
        fields["affinity"] = chr(ord("A") + len(lines))
    if tiny:  # random weights: a short run shows the whole path
        fields.update(TINY_RUN)
    job = _submit("complex", device, request, **fields)
    result = _follow(job, progress)
    rows = [[s.rank, s.seed, s.sample, round(s.confidence_score, 3), round(s.iptm, 3), round(s.ligand_iptm, 3),
             round(100 * s.complex_plddt, 1), "" if s.posebusters_passed is None else s.posebusters_passed,
             s.restraints_satisfied, "", ""] for s in result.samples]
    stem = result.best_stem
    files = [str(result.files[f"{stem}.cif"]), str(result.files[f"{stem}.confidence"]), str(result.files["summary"])]
    if result.affinity:  # one value per complex (on the best pose), shown on the best sample's row
        rows[0][-2:] = [round(result.affinity["affinity_pred_value"], 3),
                        round(result.affinity["affinity_probability_binary"], 3)]
        files.append(str(result.files["affinity"]))
    pae = result.files.get(f"{stem}.pae")
    model = complex_glb(result.files[f"{stem}.cif"], _glb_path("complex.glb"),
                        "chain" if colour == "chain" else "plddt")
    return rows, files, str(pae) if pae else None, str(model)


def _uploaded(path: str) -> bool:
    """Whether `path` is a file Gradio received (its upload cache), not any path a request names."""
    import os
    import tempfile

    cache = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()
    return Path(path).resolve().is_relative_to(cache)


SCREEN_HEADERS = ["rank", "line", "name", "ligand ipTM", "ipTM", "confidence", "pLDDT (0-100)", "PoseBusters",
                  "restraints met", "binder probability", "affinity: log10 IC50 (µM)"]
#: ligands one participant may screen from the app (the CLI and Python take libraries of up to 10,000)
SCREEN_MAX = 200


def screen(target: str, ligands: str, library: str | None, restraint_text: str, tiny: bool, device: str,
           affinity: bool = False, progress: Any = gr.Progress(), request: gr.Request | None = None
           ) -> tuple[list[list[Any]], list[str], str]:
    """One target against many ligands: the ranked table, the CSV and the best three poses, and the lines
    that were skipped (not molecules), each with its reason."""
    from workbench.tasks.molecules.complexes.predict import TINY_RUN

    chains = tuple(s.strip() for s in (target or "").splitlines() if s.strip())
    lines = tuple(s.strip() for s in (ligands or "").splitlines() if s.strip())
    if library and not _uploaded(library):  # never a file of the server: its lines would be quoted back
        raise gr.Error("Upload the library with the file box; a path on the server is not read.")
    if len(lines) > SCREEN_MAX:
        raise gr.Error(f"At most {SCREEN_MAX} ligands here; use `workbench screen` for a larger library.")
    fields: dict[str, Any] = {"target": chains, "smiles": lines, "library": library or None, "tiny": bool(tiny),
                              "affinity": bool(affinity), **_restraint_lines(restraint_text)}
    if tiny:
        fields.update(TINY_RUN)
    job = _submit("screen", device, request, **fields)
    result = _follow(job, progress)
    rows = [[r.rank, r.line, r.name, round(r.ligand_iptm, 3), round(r.iptm, 3), round(r.confidence_score, 3),
             round(100 * r.complex_plddt, 1), "" if r.posebusters_passed is None else
             ("pass" if r.posebusters_passed else "fail"), r.restraints_satisfied,
             "" if r.affinity_probability is None else round(r.affinity_probability, 3),
             "" if r.affinity_value is None else round(r.affinity_value, 3)] for r in result.rows]
    files = [str(result.files["table"]), *(str(result.files[r.cif]) for r in result.rows[:3])]
    skipped = "\n".join(f"line {s['line']}: {s['reason']}" for s in result.skipped) or "none"
    return rows, files, skipped


def grasp(obj: str, num: float, gripper: str, device: str, mesh: str | None = None,
          progress: Any = gr.Progress(), request: gr.Request | None = None) -> tuple[str, str, str | None, str]:
    """The object is an uploaded mesh, a bundled name or a primitive: never a path on the server
    (which would tell a remote participant what files exist and load any mesh on the server)."""
    from workbench.tasks.grasping.objects import BUNDLED

    if mesh:
        obj = mesh  # Gradio's own upload folder
    elif obj.split(":")[0] not in (*BUNDLED, "box", "cylinder", "sphere"):
        raise gr.Error(html.escape(f"Unknown object {obj[:80]!r}: choose a bundled object ({', '.join(BUNDLED)}), "
                                   "box:X,Y,Z, cylinder:R,H or sphere:R, or upload a mesh file."))
    job = _submit("grasp", device, request, object=obj, num_grasps=int(num), gripper=gripper)
    result = _follow(job, progress)
    summary = presenters.summary(result)
    image = result.files.get("trial_0_gif")
    return summary, str(result.files["acronym"]), str(image) if image else None, _grasp_scene(result)


def _grasp_scene(result: Any) -> str:
    """The object with every grasp as ACRONYM's Franka marker (green held, red failed), as GLB for Model3D."""
    import numpy as np
    import trimesh

    from workbench.tasks.grasping.export import write_scene_glb

    mesh = trimesh.load(result.files["mesh"], force="mesh")
    poses = np.load(result.files["numpy"])["transforms"]
    return str(write_scene_glb(_glb_path("grasps.glb"), mesh, poses, [t.success for t in result.trials]))


#: scenes a participant may pick (never a file on the server)
PLACE_SCENES = ("default", *(f"procedural:{k}" for k in range(1, 21)))


def place(scene: str, instruction: str, device: str, progress: Any = gr.Progress(),
          request: gr.Request | None = None) -> tuple[str, str, str | None]:
    """The parsed goal first (or the sentence saying what was not understood), then the verdict and the GIF."""
    if scene not in PLACE_SCENES:
        raise gr.Error(html.escape(f"Unknown scene {scene[:80]!r}: choose default or procedural:1 to procedural:20."))
    job = _submit("place", device, request, scene=scene, instruction=instruction or "")
    result = _follow(job, progress)
    goal = "\n".join(result.goal.get("constraints", []))
    gif = result.files.get("gif")
    return goal, presenters.summary(result).split("\n")[0], str(gif) if gif else None


#: what one participant may ask of a shared server
LEARNING_LIMITS = {"objects": (2, 32), "grasps": (4, 32), "epochs": (1, 60)}


def grasp_learning(objects: float, grasps: float, epochs: float, device: str,
                   request: gr.Request | None = None) -> Any:
    """Simulate a small procedural dataset, train the grasp scorer on it with its loss curves
    drawn live, then compare learned and antipodal grasps on a held-out object. Streams
    (status, curves) as it goes; the data lives in a temporary folder of the server."""

    import pandas as pd

    from workbench.datasets import make_grasp_dataset

    values = {"objects": objects, "grasps": grasps, "epochs": epochs}
    for name, (low, high) in LEARNING_LIMITS.items():
        if values[name] is None or not low <= values[name] <= high:
            raise gr.Error(f"{name} must be between {low} and {high} here.")
    n, k, e = int(objects), int(grasps), int(epochs)
    # the chart is left alone until there is a point to draw: an empty frame drew axes over no data, and the
    # chart never drew a line afterwards ("Infinite extent" warnings in the browser)
    empty = gr.skip()
    yield f"simulating {n} procedural objects x {k} grasps ...", empty
    folder = _scratch("grasp-data-")
    shared = _workshop[0]
    try:
        with owners.acting_as(shared.owner(request), shared.quota if shared.isolate else None):
            report = make_grasp_dataset(f"procedural:{n}", folder, grasps_per_object=k,
                                        devices=[device] if device and device != "auto" else None)
    except WorkbenchError as exc:
        raise _error(exc) from None
    yield f"{report.grasps} grasps simulated ({report.success_rate:.0%} held); training ...", empty
    job = _submit("grasp-train", device, request, data=str(folder), epochs=e)
    rows: list[dict[str, Any]] = []
    for event in job.events():
        data = event.progress.data if event.progress is not None else {}
        if "epoch" in data:
            for curve in ("train_loss", "val_loss", "val_top10"):
                rows.append({"epoch": data["epoch"], "value": data[curve], "curve": curve})
            yield event.progress.message, pd.DataFrame(rows)
    try:
        model = job.result(0)
    except WorkbenchError as exc:
        raise _error(exc) from None
    lines = [presenters.summary(model)]
    held = folder / "meshes" / f"{model.held_out_objects[0]}.obj"
    for sampler in (f"learned:{model.files['scorer'].parent}", "antipodal"):
        r = _submit("grasp", device, request, object=str(held), num_grasps=10, sampler=sampler, render=()).result()
        lines.append(f"{sampler.split(':')[0]} grasps on held-out {model.held_out_objects[0]}: "
                     f"{r.success_rate:.0%} (95% CI {r.ci_low:.0%}-{r.ci_high:.0%})")
    yield "\n".join(lines), pd.DataFrame(rows)


#: text-to-image models a participant may pick (registry ids; auto picks by the device)
T2I_MODELS = ("auto", "sd-turbo", "sdxl-turbo", "sdxl", "emu3-gen")


def _picture(uri: str) -> Any:
    """A PIL image from a `data:image/png;base64,...` preview."""
    import base64
    import io

    from PIL import Image

    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def text_to_image(prompt: str, steps: float, size: float, seed: float, tiny: bool, device: str, model: str = "auto",
                  progress: Any = gr.Progress(), request: gr.Request | None = None) -> Any:
    """A latent preview per denoising step while it draws (cheap, no VAE), then the images and recipe."""
    side = int(size) // 8 * 8
    if model not in T2I_MODELS:
        raise gr.Error(html.escape(f"Unknown model {str(model)[:80]!r}: choose one of {', '.join(T2I_MODELS)}."))
    job = _submit("text-to-image", device, request, prompt=prompt or "", steps=int(steps), width=side, height=side,
                  seed=int(seed), tiny=bool(tiny), model=model, preview_every=1)
    for event in job.events():
        p = event.progress
        if p is None:
            continue
        if p.fraction is not None:
            progress(p.fraction, desc=p.message[:80])
        if "preview" in p.data:
            yield [(_picture(p.data["preview"]), f"step {p.done:.0f} of {p.total:.0f}: latent preview")], ""
    try:
        result = job.result(0)
    except WorkbenchError as exc:
        raise _error(exc) from None
    captions = [f"image {i.index}: seed {i.recipe.get('image_seed', i.recipe['seed'])}, "
                f"{i.recipe['width']}x{i.recipe['height']}, "
                f"{i.recipe['steps']} steps" for i in result.images]
    yield ([(str(result.files[f"image_{i.index}"]), caption) for i, caption in zip(result.images, captions)],
           json.dumps(result.images[0].recipe, indent=1))


def understand(image: str | None, question: str, model: str, tiny: bool, device: str,
               request: gr.Request | None = None) -> Any:
    """The answer streamed token by token as the job reports it, then the stored result's text."""
    if not image:
        raise gr.Error("Upload an image first.")
    task = "vqa" if (question or "").strip() else "caption"
    job = _submit(task, device, request, image=image, question=question or "", model=model or "smolvlm",
                  tiny=bool(tiny))
    for event in job.events():
        if event.progress is not None and "text" in event.progress.data:
            yield event.progress.data["text"]
    try:
        yield job.result(0).text
    except WorkbenchError as exc:
        raise _error(exc) from None


def build_app(workshop: Workshop | None = None) -> Any:
    """The app; `workshop`: shared by a room (participants isolated, quotas, a host view; see
    `workbench.participants`). Inputs start from the requests' own defaults (`default_of`)."""
    from workbench.scheduling import registry
    from workbench.tasks.requests import default_of, input_bounds

    shared = _workshop[0] = workshop or Workshop()
    cpu_slots = max(1, getattr(registry.get("cpu"), "concurrency", 1))
    devices = _device_choices()

    def limit(n: int) -> int | None:
        # a shared server lets every request through to the job layer, whose queues are fair between
        # participants; Gradio's own queue is first come, first served (one flood would hold up the room)
        return None if shared.isolate else n
    with gr.Blocks(title="workbench") as app:
        gr.Markdown("# workbench\nMolecules and grasps on the devices of this machine (and its cluster).")
        with gr.Tab("Molecules"):
            with gr.Row():
                smiles = gr.Textbox(label="SMILES (one per line, optional name after a space)",
                                    value="CC(C)Cc1ccc(cc1)[C@H](C)C(=O)O ibuprofen", lines=3)
                with gr.Column():
                    num = gr.Number(label="conformers", value=default_of("conformers", "num_conformers"),
                                    precision=0, **input_bounds("conformers", "num_conformers"))
                    mol_device = gr.Dropdown(devices, value="auto", label="device")
                    run_conf = gr.Button("Generate conformers", variant="primary")
            table = gr.Dataframe(headers=["name", "status", "conformers", "force field", "max ΔE (kcal/mol)"],
                                 label="ensembles")
            with gr.Row():
                sdf = gr.File(label="SDF")
                conformer3d = gr.Model3D(label="lowest-energy conformer of the first molecule (Å; C grey, N blue, "
                                         "O red, S yellow)", clear_color=SEE_THROUGH)
            run_conf.click(conformers, [smiles, num, mol_device], [table, sdf, conformer3d], api_name="conformers",
                           concurrency_limit=limit(cpu_slots), concurrency_id="cpu")
            gr.Markdown("### Protein structure (ESMFold)")
            with gr.Row():
                seq = gr.Textbox(label="sequence (chains joined by ':')", value="MKTAYIAKQRQISFVKSHFSRQ", lines=2)
                with gr.Column():
                    tiny = gr.Checkbox(label="tiny random model (no weights needed)", value=True)
                    fold_device = gr.Dropdown(devices, value="auto", label="device")
                    fold_colour = gr.Radio(["pLDDT", "chain"], value="pLDDT", label="colour the 3D view by")
                    run_fold = gr.Button("Fold", variant="primary")
            fold_summary = gr.Dataframe(headers=FOLD_HEADERS, label="confidence")
            fold_files = gr.File(label="PDB / mmCIF", file_count="multiple")
            with gr.Row():
                fold3d = gr.Model3D(label="Cα trace (pLDDT: blue >= 90, light blue 70-90, yellow 50-70, orange < 50; "
                                    "or one colour per chain)", clear_color=SEE_THROUGH)
                pae = gr.Image(label="PAE", type="filepath")
            run_fold.click(fold, [seq, tiny, fold_device, fold_colour], [fold_summary, fold_files, pae, fold3d],
                           api_name="fold", concurrency_limit=limit(1), concurrency_id="fold")
        with gr.Tab("Complexes"):
            gr.Markdown("### Protein + ligand / DNA / RNA co-folding (Boltz-2)")
            with gr.Row():
                cx_proteins = gr.Textbox(label="protein sequences (one chain per line)",
                                         value="MKTAYIAKQRQISFVKSHFSRQ", lines=2)
                cx_smiles = gr.Textbox(label="ligands as SMILES (one per line)", value="CC(=O)Oc1ccccc1C(=O)O",
                                       lines=2)
                with gr.Column():
                    cx_ccd = gr.Textbox(label="ligands as CCD codes (ATP, HEM ...)", value="ATP")
                    cx_samples = gr.Number(label="samples", value=default_of("complex", "samples"), precision=0,
                                           **input_bounds("complex", "samples"))
                    cx_tiny = gr.Checkbox(label="tiny random Boltz-2 (no weights needed)", value=True)
                    cx_device = gr.Dropdown(devices, value="auto", label="device")
                    cx_colour = gr.Radio(["pLDDT", "chain"], value="pLDDT", label="colour the polymers by")
                    run_cx = gr.Button("Co-fold", variant="primary")
            cx_restraints = gr.Textbox(label="restraints, one per line (chains lettered: proteins, then SMILES, then "
                                       "CCD ligands): pocket B: A:12, A:15 @ 6 / contact A:12, B:C1 @ 8",
                                       lines=2, value="")
            with gr.Row():
                cx_potentials = gr.Checkbox(label="physical potentials (Boltz's --use_potentials: more physically "
                                            "valid poses, slower)", value=False)
                cx_affinity = gr.Checkbox(label="affinity of the first ligand (Boltz-2's affinity model; log10 IC50 "
                                          "in µM, lower binds tighter, and the binder probability)", value=False)
            cx_table = gr.Dataframe(headers=COMPLEX_HEADERS, label="samples, best first")
            cx_files = gr.File(label="best sample: mmCIF, confidence JSON; summary CSV", file_count="multiple")
            with gr.Row():
                cx3d = gr.Model3D(label="polymers as traces (pLDDT: blue >= 90, light blue 70-90, yellow 50-70, "
                                  "orange < 50; or one colour per chain), ligands as balls and sticks",
                                  clear_color=SEE_THROUGH)
                cx_pae = gr.Image(label="PAE with chain boundaries", type="filepath")
            run_cx.click(complex_fold, [cx_proteins, cx_smiles, cx_ccd, cx_samples, cx_tiny, cx_device, cx_colour,
                                        cx_restraints, cx_potentials, cx_affinity],
                         [cx_table, cx_files, cx_pae, cx3d], api_name="complex", concurrency_limit=limit(1),
                         concurrency_id="fold")
            with gr.Accordion("Screen one target against many ligands (Boltz-2)", open=False):
                with gr.Row():
                    sc_target = gr.Textbox(label="target protein (one chain per line)", value="MKTAYIAKQRQISFVKSHFSRQ",
                                           lines=2)
                    sc_ligands = gr.Textbox(label="ligands: SMILES and an optional name, one per line",
                                            value="CCO ethanol\nCC(=O)Oc1ccccc1C(=O)O aspirin\nc1ccccc1O phenol",
                                            lines=4)
                    with gr.Column():
                        sc_library = gr.File(label="or a library (.smi, .sdf)", file_types=[".smi", ".sdf", ".txt"],
                                             type="filepath")
                        sc_tiny = gr.Checkbox(label="tiny random Boltz-2 (no weights; scores mean nothing)",
                                              value=True)
                        sc_device = gr.Dropdown(devices, value="auto", label="device")
                        sc_affinity = gr.Checkbox(label="affinity (ranks by binder probability)", value=False)
                        run_sc = gr.Button("Screen", variant="primary")
                sc_restraints = gr.Textbox(label="restraints for every ligand (the ligand is the chain after the "
                                           "target's): pocket B: A:12, A:15 @ 6", lines=1, value="")
                sc_table = gr.Dataframe(headers=SCREEN_HEADERS, label="ligands, best first (ligand ipTM)")
                with gr.Row():
                    sc_files = gr.File(label="ranked CSV and the best three poses (mmCIF)", file_count="multiple")
                    sc_skipped = gr.Textbox(label="lines skipped (not molecules)", lines=3)
                run_sc.click(screen, [sc_target, sc_ligands, sc_library, sc_restraints, sc_tiny, sc_device,
                                      sc_affinity],
                             [sc_table, sc_files, sc_skipped], api_name="screen", concurrency_limit=limit(1),
                             concurrency_id="fold")
        with gr.Tab("Grasping"):
            with gr.Row():
                with gr.Column():
                    obj = gr.Textbox(label="object (bundled name, box:X,Y,Z, cylinder:R,H or sphere:R, metres)",
                                     value="can")
                    mesh_upload = gr.File(label="or upload a mesh (OBJ, STL, PLY)", file_types=[".obj", ".stl", ".ply"],
                                          type="filepath")
                with gr.Column():
                    n_grasps = gr.Number(label="grasps", value=10, precision=0, **input_bounds("grasp", "num_grasps"))
                    gripper = gr.Dropdown(["franka", "parallel-jaw", "wide"], value="franka", label="gripper")
                    grasp_device = gr.Dropdown(devices, value="auto", label="device")
                    run_grasp = gr.Button("Sample and simulate", variant="primary")
            grasp_summary = gr.Textbox(label="outcome")
            h5 = gr.File(label="ACRONYM HDF5")
            with gr.Row():
                scene3d = gr.Model3D(label="grasps in 3D (green held, red failed; ACRONYM's Franka marker)",
                                     clear_color=SEE_THROUGH)
                gif = gr.Image(label="trial 0", type="filepath")
            run_grasp.click(grasp, [obj, n_grasps, gripper, grasp_device, mesh_upload],
                            [grasp_summary, h5, gif, scene3d],
                            api_name="grasp",
                            concurrency_limit=limit(cpu_slots), concurrency_id="cpu")
            with gr.Accordion("Learn grasps: simulate a dataset, train a model, compare", open=False):
                with gr.Row():
                    learn_objects = gr.Number(label="procedural objects", value=8, precision=0)
                    learn_grasps = gr.Number(label="grasps per object", value=12, precision=0)
                    learn_epochs = gr.Number(label="epochs", value=15, precision=0,
                                             **input_bounds("grasp-train", "epochs"))
                    learn_device = gr.Dropdown(devices, value="auto", label="device")
                    run_learning = gr.Button("Simulate and train", variant="primary")
                learn_status = gr.Textbox(label="status", lines=3)
                learn_curves = gr.LinePlot(x="epoch", y="value", color="curve", label="training curves")
                run_learning.click(grasp_learning, [learn_objects, learn_grasps, learn_epochs, learn_device],
                                   [learn_status, learn_curves], api_name="grasp_learning",
                                   concurrency_limit=limit(1), concurrency_id="grasp-learning")
        with gr.Tab("Pick and place"):
            with gr.Row():
                place_scene = gr.Dropdown(list(PLACE_SCENES), value="default", label="scene (default: box, can, "
                                          "ball, bar, mug)")
                place_text = gr.Textbox(label="instruction", value="put the mug upright to the left of the box",
                                        scale=3)
                place_device = gr.Dropdown(devices, value="auto", label="device")
                run_place = gr.Button("Plan and carry out", variant="primary")
            with gr.Row():
                with gr.Column():
                    place_goal = gr.Textbox(label="goal (as parsed)", lines=2)
                    place_verdict = gr.Textbox(label="verdict")
                place_gif = gr.Image(label="the task, replayed", type="filepath")
            run_place.click(place, [place_scene, place_text, place_device], [place_goal, place_verdict, place_gif],
                            api_name="place", concurrency_limit=limit(cpu_slots), concurrency_id="cpu")
        with gr.Tab("Multimodal"):
            with gr.Row():
                prompt = gr.Textbox(label="prompt", value="a red cube on a wooden table", lines=2)
                with gr.Column():
                    t2i_steps = gr.Number(label="steps", value=default_of("text-to-image", "steps"), precision=0,
                                          **input_bounds("text-to-image", "steps"))
                    t2i_size = gr.Number(label="size (px)", value=512, precision=0)
                    t2i_seed = gr.Number(label="seed", value=0, precision=0)
                    t2i_tiny = gr.Checkbox(label="tiny random model (no weights needed)", value=shared.tiny)
                    t2i_device = gr.Dropdown(devices, value="auto", label="device")
                    t2i_model = gr.Dropdown(list(T2I_MODELS), value="auto", label="model (auto: by the device)")
                    run_t2i = gr.Button("Generate", variant="primary")
            # the whole image, scaled to fit: with the columns fitted to the images, one square image filled the
            # width (684 px) of a 420 px gallery and was cut off; two columns always keep one inside it
            gallery = gr.Gallery(label="images", object_fit="contain", height=420, columns=2, fit_columns=False,
                                 elem_id="wb-t2i-gallery")
            recipe = gr.Code(label="recipe (also in each PNG)", language="json")
            run_t2i.click(text_to_image, [prompt, t2i_steps, t2i_size, t2i_seed, t2i_tiny, t2i_device, t2i_model],
                          [gallery, recipe], api_name="text_to_image", concurrency_limit=limit(1), concurrency_id="t2i")
            gr.Markdown("### Image understanding (caption, or a question about the image)")
            with gr.Row():
                picture = gr.Image(label="image", type="filepath")
                with gr.Column():
                    ask = gr.Textbox(label="question (empty: a caption)")
                    vlm = gr.Dropdown(["smolvlm", "janus", "emu3-chat"], value="smolvlm", label="model",
                                      allow_custom_value=True)
                    vlm_tiny = gr.Checkbox(label="tiny random model (no weights needed)", value=shared.tiny)
                    vlm_device = gr.Dropdown(devices, value="auto", label="device")
                    run_vlm = gr.Button("Ask", variant="primary")
            answer = gr.Textbox(label="answer")
            run_vlm.click(understand, [picture, ask, vlm, vlm_tiny, vlm_device], answer, api_name="understand",
                          concurrency_limit=limit(1), concurrency_id="vlm")
        with gr.Tab("Devices & jobs"):
            dev_table = gr.Dataframe(headers=DEVICE_HEADERS, label="devices", interactive=False, elem_id="wb-devices")
            jobs_table = gr.Dataframe(headers=JOB_HEADERS, label="your recent jobs (refreshed every 3 s)"
                                      if shared.isolate else "recent jobs (refreshed every 3 s)", interactive=False,
                                      elem_id="wb-jobs")
            usage_table = gr.Dataframe(headers=USAGE_HEADERS, label="jobs and device time per participant "
                                       "(host view)", interactive=False, visible=shared.isolate, elem_id="wb-usage")
            host_token = gr.Textbox(label="host token (the host sees and may cancel every participant's jobs)",
                                    type="password", visible=bool(shared.host_token), elem_id="wb-host-token")
            host = gr.State(False)  # per session, never sent by a client: the token was right
            host_note = gr.Markdown(visible=bool(shared.host_token))
            with gr.Row():
                cancel_id = gr.Textbox(label="job id to cancel", scale=3)
                cancel_button = gr.Button("Cancel job", scale=1)
                cancel_note = gr.Textbox(label="what happened", scale=3, interactive=False)
            cancel_button.click(_cancel, [cancel_id, host], cancel_note, api_name="cancel")
            tables = [dev_table, jobs_table, usage_table]
            host_token.submit(_claim_host, host_token, [host, host_note], api_name="host").then(_status, host, tables,
                                                                                   api_name=False)
            gr.Timer(3.0).tick(_status, host, tables, api_name=False)  # type: ignore[arg-type]  # False: no endpoint
            app.load(_status, host, tables, api_name="status")  # filled on open
    app.queue(default_concurrency_limit=limit(cpu_slots))
    return app


#: the presenters' own columns (the CLI's), so a header always sits over its column
DEVICE_HEADERS = [h.lower() for h in presenters.device_table([])[0]]
JOB_HEADERS = [h.lower() for h in presenters.job_table([])[0]]
USAGE_HEADERS = [h.lower() for h in presenters.usage_table({})[0]]


#: what `/host` answers
HOST_YES = "Host view: every participant's jobs and usage are shown, and you may cancel any."
HOST_NO = "That is not the host token; you see your own jobs."


def _claim_host(token: str) -> tuple[bool, str]:
    """The session's host flag (True when `token` is the server's host token), and a sentence."""
    yes = _workshop[0].is_host(token)
    return yes, HOST_YES if yes else HOST_NO


def _status(host: bool = False, request: gr.Request | None = None
            ) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """Devices, recent jobs and usage per participant as tables (the presenters' rows, as the CLI prints
    them). On a shared server a participant sees their own jobs and usage; the host sees all."""
    from workbench import api
    from workbench.jobs.store import default_store
    from workbench.scheduling import registry

    shared = _workshop[0]
    who = shared.sees(request, host)
    rows = [presenters.device_row(d.id, d.capabilities, d.load()) for d in registry.discover()]
    _, devices = presenters.device_table(rows)
    _, jobs = presenters.job_table(api.list_jobs(limit=20, owner=who))
    usage: list[list[str]] = []
    if shared.isolate:
        _, usage = presenters.usage_table(default_store().usage(owner=who))
    return devices, jobs, usage


def _cancel(job_id: str, host: bool = False, request: gr.Request | None = None) -> str:
    """What `workbench jobs cancel` does (`wb.cancel`): flag the job in the store; its runner, in any process,
    stops it. On a shared server only the participant's own jobs (the host's: any); another's job is
    answered exactly as a job that does not exist."""
    from workbench.jobs import cancel
    from workbench.jobs.store import default_store

    job_id = (job_id or "").strip()
    if not job_id:
        return "Give the id of a job (first column)."
    store = default_store()
    who = _workshop[0].sees(request, host)
    try:
        if who is not None and store.row(job_id).get("owner") != who:
            return NO_SUCH_JOB.format(job_id=job_id[:40])
        requested = cancel(job_id)
    except WorkbenchError:  # not the store's own sentence: it names a folder of the server
        return NO_SUCH_JOB.format(job_id=job_id[:40]) if who is not None else f"No job with id {job_id[:40]!r}."
    return f"cancel requested for {job_id}" if requested else f"job {job_id} already {store.row(job_id)['state']}"


def port_free(host: str, port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


#: worker threads of a shared server: every participant's requests wait in the job layer's fair queues
WORKSHOP_THREADS = 200


def launch(host: str = "127.0.0.1", port: int | None = None, auth: tuple[str, str] | None = None,
           share: bool = False, block: bool = True, workshop: Workshop | None = None) -> Any:
    if port is not None and not port_free(host, port):
        raise WorkbenchError(f"Port {port} on {host} is in use; choose another with --port, or leave --port out "
                             "to take a free one.")
    app = build_app(workshop)
    threads = WORKSHOP_THREADS if workshop is not None and workshop.isolate else 40
    app.launch(server_name=host, server_port=port, auth=auth, share=share, prevent_thread_lock=not block,
               show_error=True, max_threads=threads)
    return app
