"""Widgets on the kernel side: a real job behind each button, results in the traitlets."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

anywidget = pytest.importorskip("anywidget")

from workbench import presenters  # noqa: E402
from workbench.widgets import MoleculeWidget  # noqa: E402
from workbench.widgets.molecule import complex_fields  # noqa: E402


def _settle(widget, job, timeout=60):
    assert job is not None, widget.error
    job.wait(timeout)
    deadline = time.time() + 5
    while widget.state not in ("succeeded", "failed", "cancelled") and time.time() < deadline:
        time.sleep(0.02)


def test_conformer_widget_runs_a_job_and_shows_the_ensemble():
    w = MoleculeWidget("CC(C)Cc1ccc(cc1)[C@H](C)C(=O)O ibuprofen\nC1CC", num_conformers=10)
    assert "cpu" in w.devices and w.devices[0] == "auto"
    sent = []
    w.send = sent.append  # what the kernel sends the front end
    w._on_front_end_message(w, {"type": "library", "name": "3Dmol.es6-min.js"}, [])
    assert "createViewer" in sent[0]["source"]  # 3Dmol.js is bundled (no CDN), sent once when asked
    assert len(json.dumps(w.get_state(), default=str)) < 100_000  # and never part of the saved state
    job = w.run()
    _settle(w, job)
    assert w.state == "succeeded" and w.progress == 1.0 and w.job_id == job.id
    assert w.structure_format == "sdf" and w.structure.count("$$$$") == len(w.conformers)
    assert [r["ok"] for r in w.summary] == [True, False]
    assert "not a valid SMILES" in w.summary[1]["error"]
    # the status ends on the result's headline (what succeeded first), not on the last molecule's error
    # alone, which read as if the run had failed (#29)
    assert w.message == presenters.summary(job.result(0)) and w.message.startswith("1 molecule(s)")
    assert w.conformers[0]["rank"] == 1 and w.conformers[0]["energy"] == 0
    assert list(w.downloads) == ["conformers.sdf"]


def test_the_saved_2d_grid_shows_each_molecule_once():
    """With aspirin and pentanol the grid drew pentanol's conformers seven times and no aspirin: it grouped by
    the record name (`pentanol_conf1`, ...), not by the molecule."""
    import workbench as wb
    from workbench.widgets.molecule import _first_of_each

    r = wb.run("conformers", smiles=("CC(=O)Oc1ccccc1C(=O)O aspirin", "CCCCCO pentanol"), num_conformers=7,
               device="cpu")
    sdf = r.files["sdf"].read_text()
    assert sdf.count("$$$$") >= 8  # several conformers of each
    mols, names = _first_of_each(sdf)
    assert names == ["aspirin", "pentanol"] and [m.GetNumAtoms() for m in mols] == [13, 6]


def test_fold_widget_shows_plddt_structure_and_pae():
    w = MoleculeWidget("MKTAYIAKQR:GSHMLEDP", mode="fold", tiny=True)
    _settle(w, w.run())
    assert w.state == "succeeded" and w.structure_format == "pdb"
    assert w.summary[0]["chains"] == "A,B" and w.summary[0]["length"] == 18
    assert w.pae_png.startswith("data:image/png;base64,") and w.plddt_png.startswith("data:image/png;base64,")
    assert sorted(w.downloads) == ["seq1.cif", "seq1.pdb"]
    assert " 50.00 " in w.structure  # pLDDT in the B-factor column


def test_complex_widget_shows_the_best_sample_ranked_samples_and_pae():
    w = MoleculeWidget("protein: MKTAYIAKQR\nligand: CCO\nccd: ATP", mode="complex", tiny=True)
    _settle(w, w.run())
    assert w.state == "succeeded" and w.structure_format == "cif"
    assert w.summary[0]["rank"] == 1 and set(w.summary[0]) >= {"confidence", "iptm", "plddt", "posebusters"}
    assert w.pae_png.startswith("data:image/png;base64,")
    assert sorted(w.downloads) == ["complex_seed0_sample0.cif", "complex_seed0_sample0_confidence.json",
                                   "complex_summary.csv"]
    assert "HETATM" in w.structure and " ATP " in w.structure
    assert complex_fields("MKT\ndna: ACGT\nsmiles: CCO\nccd: HEM") == {
        "proteins": ("MKT",), "dna": ("ACGT",), "rna": (), "ligands": ("CCO",), "ligand_ccd": ("HEM",),
        "pockets": (), "contacts": ()}


def test_complex_widget_highlights_the_residues_its_restraints_name_and_shows_affinity():
    w = MoleculeWidget("protein: MKTAYIAKQR\nligand: CCO\npocket: B: A:3, A:7 @ 6\naffinity: B", mode="complex",
                       tiny=True)
    _settle(w, w.run())
    assert w.state == "succeeded", w.error
    assert [(h["chain"], h["resi"]) for h in w.highlights] == [("A", 3), ("A", 7)]
    assert w.summary[0]["restraints"] in ("0/1", "1/1") and 0 <= w.summary[0]["binder"] <= 1
    assert "complex_affinity.json" in w.downloads


def test_screen_mode_ranks_the_ligands_and_shows_the_best_pose():
    w = MoleculeWidget("MKTAYIAKQR\nligand: CCO ethanol\nligand: C1CC( broken\nligand: c1ccccc1O phenol",
                       mode="screen", tiny=True)
    _settle(w, w.run())
    assert w.state == "succeeded", w.error
    assert [r["rank"] for r in w.summary] == [1, 2] and {r["name"] for r in w.summary} == {"ethanol", "phenol"}
    assert w.structure_format == "cif" and "HETATM" in w.structure and "screen.csv" in w.downloads


def test_widget_errors_are_sentences_not_tracebacks():
    w = MoleculeWidget("MKZ", mode="fold", tiny=True)
    assert w.run() is None  # refused before a job exists
    assert w.state == "failed" and w.error.startswith("seq1: illegal letter Z")
    w = MoleculeWidget("CCO", device="tpu")
    assert w.run() is None
    assert w.state == "failed" and w.error.startswith("Unknown device 'tpu'")
    w = MoleculeWidget("protein: MKT\nligand: C1CC(", mode="complex", tiny=True)
    assert w.run() is None
    assert w.state == "failed" and w.error.startswith("ligand 1: RDKit cannot read the SMILES")


def test_cancel_from_the_widget():
    w = MoleculeWidget("\n".join(["CCCCCCCCCCCCCCO"] * 30), num_conformers=50)
    job = w.run()
    deadline = time.time() + 30
    while w.progress == 0 and time.time() < deadline:
        time.sleep(0.01)
    w._on_front_end_message(w, {"type": "cancel"}, [])
    _settle(w, job)
    assert w.state == "cancelled" and "cancelled from the widget" in w.error


def test_grasp_widget_fills_in_trials_live_and_renders_a_clicked_one():
    from workbench.widgets import GraspWidget

    w = GraspWidget("can", num_grasps=5)
    assert w.mesh == {}  # the constructor computes nothing
    w._on_front_end_message(w, {"type": "ready"}, [])  # the view rendered: now the mesh loads
    assert len(w.mesh["faces"]) % 3 == 0 and len(w.mesh["faces"]) > 0
    assert len(json.dumps(w.get_state(), default=str)) < 100_000  # three.js is not in the state
    seen = []
    w.observe(lambda change: seen.append(len(change["new"])), names="grasps")
    _settle(w, w.run())
    assert w.state == "succeeded" and len(w.grasps) == 5
    assert seen == [1, 2, 3, 4, 5]  # one glyph per finished trial, as they finish
    assert all(len(g["pose"]) == 16 for g in w.grasps) and w.summary.startswith("success ")
    w.selected = w.grasps[2]["index"]  # what a click in the view sets
    deadline = time.time() + 60
    while not w.trial_image and time.time() < deadline:
        time.sleep(0.05)
    assert w.trial_image.startswith("data:image/gif;base64,")


def test_grasp_widget_bad_object_is_a_sentence():
    from workbench.widgets import GraspWidget

    w = GraspWidget("pyramid:3")
    w._on_front_end_message(w, {"type": "ready"}, [])
    assert "Unknown object" in w.error
    assert w.run() is None and "Unknown object" in w.error


def test_generation_widget_previews_and_gallery():
    from workbench.widgets import GenerationWidget

    w = GenerationWidget("a red cube", steps=3, width=64, height=64, tiny=True)
    previews = []
    w.observe(lambda change: previews.append(change["new"]), names="preview")
    _settle(w, w.run())
    assert w.state == "succeeded"
    assert len([p for p in previews if p]) >= 3  # one latent preview per step, then the image
    assert len(w.gallery) >= 1 and w.gallery[0]["recipe"]["prompt"] == "a red cube"
    assert w.gallery[0]["file"] == "files/image_0.png"  # the PNG itself stays in the store
    assert len(json.dumps(w.get_state(), default=str)) < 100_000
    again = GenerationWidget()  # a new view (or kernel) sees the same gallery from the store
    assert again.gallery == []  # ... once it is shown, not in the constructor
    again._on_front_end_message(again, {"type": "ready"}, [])
    assert again.gallery[0]["job"] == w.gallery[0]["job"]


def test_generation_widget_caption_from_an_upload():
    import base64
    import io

    from PIL import Image

    from workbench.widgets import GenerationWidget

    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (20, 200, 20)).save(buf, format="PNG")
    w = GenerationWidget(mode="vqa", question="what is this ?", tiny=True)
    assert w.run() is None and w.error == "Upload an image first."
    w.upload = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    job = w.run()
    _settle(w, job)
    result = job.result()
    assert w.state == "succeeded" and result.tokens >= 1
    assert w.answer.strip() == result.text  # the streamed answer is the job's answer


# ---- junk from the front end: every widget answers with a state and a sentence -----------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

JUNK_TEXT = st.one_of(st.text(max_size=40), st.sampled_from(["", " ", "C1CC", "MKZ", "x" * 3000, "\x00", "../etc",
                                                            "CCO", "MKTAYIAKQR", "box", "nan", "-1"]))
JUNK_INT = st.one_of(st.integers(-10, 10), st.sampled_from([0, 2**31, 2**63 - 1, -(2**63), 5001, 100_000]))
JUNK_DEVICE = st.sampled_from(["auto", "cpu", "tpu", "", "cuda:0", "any:cpu", "first:cpu,tpu", "sim:none"])


def _answers_with_a_state(widget) -> None:
    job = widget.run()  # what the front end's Run button does; it must never raise into the kernel
    if job is None:
        assert widget.state == "failed" and widget.error.strip() and "Traceback" not in widget.error
        return
    job.cancel("the property test only checks that it started")
    job.wait(120)
    deadline = time.time() + 5
    while widget.state not in ("succeeded", "failed", "cancelled") and time.time() < deadline:
        time.sleep(0.02)
    assert widget.state in ("succeeded", "failed", "cancelled")
    assert "Traceback" not in widget.error


SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@SETTINGS
@given(text=JUNK_TEXT, mode=st.sampled_from(["conformers", "fold", "complex", "docking", ""]), num=JUNK_INT,
       tiny=st.booleans(), device=JUNK_DEVICE)
def test_molecule_widget_answers_junk_with_a_state(text, mode, num, tiny, device):
    w = MoleculeWidget("CCO")
    w.set_state({"text": text, "mode": mode, "num_conformers": num, "tiny": tiny, "device": device})
    _answers_with_a_state(w)


@SETTINGS
@given(obj=JUNK_TEXT, gripper=st.sampled_from(["franka", "wide", "robotiq", ""]), num=JUNK_INT, seed=JUNK_INT,
       device=JUNK_DEVICE)
def test_grasp_widget_answers_junk_with_a_state(obj, gripper, num, seed, device):
    from workbench.widgets import GraspWidget

    w = GraspWidget("box")
    w.set_state({"object": obj, "gripper": gripper, "num_grasps": num, "seed": seed, "device": device})
    _answers_with_a_state(w)


@SETTINGS
@given(mode=st.sampled_from(["text-to-image", "caption", "vqa", "video"]), prompt=JUNK_TEXT, question=JUNK_TEXT,
       steps=JUNK_INT, width=JUNK_INT, height=JUNK_INT, seed=JUNK_INT, upload=st.sampled_from(
           ["", "data:image/png;base64,AAAA", "not a data uri", "data:text/plain;base64,aGVsbG8="]),
       device=JUNK_DEVICE)
def test_generation_widget_answers_junk_with_a_state(mode, prompt, question, steps, width, height, seed, upload,
                                                     device):
    from workbench.widgets import GenerationWidget

    w = GenerationWidget(tiny=True)
    w.set_state({"mode": mode, "prompt": prompt, "question": question, "steps": steps, "width": width,
                 "height": height, "seed": seed, "upload": upload, "device": device})
    _answers_with_a_state(w)


def test_grasp_training_widget_draws_its_curves_epoch_by_epoch(tmp_path):
    from workbench.datasets import make_grasp_dataset
    from workbench.widgets import GraspTrainingWidget

    make_grasp_dataset("procedural:3", tmp_path / "data", grasps_per_object=6, devices=["cpu"])
    w = GraspTrainingWidget(tmp_path / "data", epochs=4)
    seen = []
    w.observe(lambda change: seen.append(len(change["new"])), names="curves")
    _settle(w, w.run())
    assert w.state == "succeeded" and [c["epoch"] for c in w.curves] == [1, 2, 3, 4]
    assert seen[-4:] == [1, 2, 3, 4]  # appended live, one epoch at a time
    assert "4 epochs: loss" in w.summary and (tmp_path / "data").exists()
    from pathlib import Path

    assert (Path(w.model_folder) / "scorer.pt").is_file()  # a folder for sampler="learned:..."
    snapshot = w.snapshot_html()  # what a saved notebook shows without a kernel: the curves as a picture
    assert "alt='training curves'" in snapshot and "data:image/png;base64," in snapshot and "4 epochs" in snapshot
    bad = GraspTrainingWidget(tmp_path / "nowhere")
    assert bad.run() is None and "is not a grasp dataset" in bad.error


def test_a_new_run_starts_from_a_clean_status():
    """No stale 'succeeded 100% ...' beside the sentence of the next, refused, run."""
    w = MoleculeWidget("CCO", num_conformers=3)
    _settle(w, w.run())
    assert w.state == "succeeded" and w.progress == 1.0 and w.message
    w.set_state({"mode": "fold", "text": "MKZ", "tiny": True})
    assert w.run() is None
    assert w.state == "failed" and w.progress == 0.0 and w.message == "" and w.job_id == ""
    assert w.error.startswith("seq1: illegal letter Z")


def test_place_widget_shows_the_goal_before_run_then_the_verdict_and_replay():
    from workbench.widgets import PlaceWidget

    w = PlaceWidget("put the mug upright to the left of the box")
    assert w.objects == []  # the constructor builds no meshes
    assert w.constraints == ["position: mug left of box", "rotation: mug upright (its up axis along +z)"]
    w.instruction = "put the mug left of the bowl"  # typed: the refusal shows before any run
    assert w.constraints == [] and "no 'bowl'" in w.refusal
    assert w.run() is None and w.state == "failed" and "no 'bowl'" in w.error
    w.instruction = "put the ball behind the can"
    assert w.refusal == "" and w.constraints[0] == "position: ball behind can"
    w._on_front_end_message(w, {"type": "ready"}, [])
    assert [o["name"] for o in w.objects] == ["box", "can", "ball", "bar", "mug"]
    before = {o["name"]: o["pose"] for o in w.objects}
    stages = []
    w.observe(lambda change: stages.append(change["new"]), names="stage")
    _settle(w, w.run(), timeout=120)
    assert w.state == "succeeded" and w.verdict["success"] and w.verdict["position"] is True
    assert w.target["name"] == "ball" and len(w.target["pose"]) == 16
    after = {o["name"]: o["pose"] for o in w.objects}
    assert after["ball"][7] > before["can"][7]  # y of the ball now beyond the can's (row-major 4x4: [1][3])
    assert "approach" in stages and "release" in stages
    assert w.replay.startswith("data:image/gif;base64,") and w.summary.startswith("success (position track)")
    w.scene = "procedural:3"  # another scene: its objects, no stale verdict
    assert w.verdict == {} and w.replay == "" and len(w.objects) >= 3


def test_views_start_from_the_requests_own_defaults():
    """One default per field: the widget and Gradio read the request's (they had drifted to 30 and 20)."""
    from workbench.tasks.molecules.conformers import ConformerRequest
    from workbench.tasks.multimodal.t2i_request import Text2ImageRequest
    from workbench.widgets import GenerationWidget

    assert MoleculeWidget("CCO").num_conformers == ConformerRequest(smiles=("CCO",)).num_conformers == 50
    assert GenerationWidget("x").steps == Text2ImageRequest(prompt="x").steps
    from workbench.app import build_app

    app = build_app()
    numbers = {c.label: c for c in app.blocks.values() if type(c).__name__ == "Number"}
    assert numbers["conformers"].value == 50 and numbers["steps"].value == Text2ImageRequest(prompt="x").steps
    # and the request's limits bound the boxes: Gradio refuses what the request would
    assert (numbers["conformers"].minimum, numbers["conformers"].maximum) == (1, 5000)
    assert (numbers["samples"].minimum, numbers["samples"].maximum) == (1, 25)
    assert numbers["conformers"].info == "conformers per molecule"
    # the widgets' number inputs too: the kernel sends each input's bounds from the same limits
    assert MoleculeWidget("CCO").bounds == {"num_conformers": {"info": "conformers per molecule", "minimum": 1,
                                                               "maximum": 5000}}
    assert GenerationWidget("x").bounds["steps"] == {"info": "denoising steps", "minimum": 1, "maximum": 500}


WIDGET_MODULES = ["generation.js", "grasp.js", "grasp_learning.js", "molecule.js", "place.js"]


def test_widget_modules_import_their_shared_parts_instead_of_copying_them():
    """Each widget's JavaScript is an ES module that imports what it shares from ./shared.js (the status
    line, el, the GIF player, the library loader...), and defines none of those itself."""
    import re

    from workbench.widgets.base import STATIC, widget_module

    shared = re.findall(r"^export (?:async )?function (\w+)", (STATIC / "shared.js").read_text(), re.M)
    assert {"el", "showStatus", "loadLibrary", "gifPlayer", "handReplay"} <= set(shared)
    for name in WIDGET_MODULES:
        text = (STATIC / name).read_text()
        imported = re.search(r'^import \{ ([\w, ]+) \} from "\./shared\.js";$', text, re.M)
        assert imported, name
        assert "showStatus" in imported.group(1), name  # one status block, not five
        assert not [f for f in shared if re.search(rf"^(?:async )?function {f}\(", text, re.M)], name
        assert "./shared.js" not in widget_module(name)  # pointed at a URL a blob-loaded module can import


def test_the_module_anywidget_gets_links_in_an_es_module_loader(tmp_path):
    """node imports each widget's module exactly as anywidget receives it (the shared module through its
    data: URL) and finds `render`: the import graph resolves, with no DOM needed to load it."""
    import base64
    import shutil

    from workbench.widgets.base import widget_module

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the browser tests load the same modules in JupyterLab")
    for name in WIDGET_MODULES:
        url = "data:text/javascript;base64," + base64.b64encode(widget_module(name).encode()).decode()
        script = f"const m = await import({json.dumps(url)}); console.log(typeof m.default.render);"
        out = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and out.stdout.strip() == "function", (name, out.stderr[-2000:])
