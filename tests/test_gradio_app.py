"""The Gradio app on a real server on loopback, driven with gradio_client."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import free_port

import workbench as wb

gr = pytest.importorskip("gradio")
from gradio_client import Client  # noqa: E402


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    import os

    os.environ["WORKBENCH_HOME"] = str(tmp_path_factory.mktemp("gradio-home"))
    from workbench.app import launch

    port = free_port()
    app = launch("127.0.0.1", port, block=False)
    yield Client(f"http://127.0.0.1:{port}/", verbose=False)
    app.close()


def test_conformers_tab(client):
    table, sdf, model = client.predict("CCO ethanol\nC1CC broken", 5, "auto", api_name="/conformers")
    rows = table["data"]
    assert rows[0][0] == "ethanol" and rows[0][1] == "ok" and "not a valid SMILES" in rows[1][1]
    assert open(sdf).read().count("$$$$") == rows[0][2]
    import trimesh

    scene = trimesh.load(model)  # ethanol in 3D, balls and sticks: 9 atoms and 8 bonds
    assert len(scene.geometry) == 9 + 8


def test_fold_tab_with_the_tiny_model(client):
    summary, files, pae, model = client.predict("MKTAYIAKQR:GSHMLEDP", True, "cpu", "chain", api_name="/fold")
    assert summary["headers"][3] == "mean pLDDT (0-100)"  # a table, not JSON
    assert summary["data"][0][:3] == ["seq1", "A,B", "10+8"]
    assert sorted(f.rsplit(".", 1)[1] for f in files) == ["cif", "pdb"]
    import trimesh

    scene = trimesh.load(model)  # the Cα trace: a ball per residue, a stick between neighbours of a chain
    assert len(scene.geometry) == 18 + (9 + 7)
    colours = {tuple(g.visual.face_colors[0][:3]) for g in scene.geometry.values()}
    assert len(colours) == 2  # one colour per chain


def test_complex_tab_with_the_tiny_model(client):
    table, files, pae, model = client.predict("MKTAYIAKQR", "CCO", "ATP", 2, True, "cpu", api_name="/complex")
    assert table["headers"][3] == "confidence" and [row[0] for row in table["data"]] == [1, 2]
    assert table["data"][0][3] >= table["data"][1][3]  # best first
    assert sorted(f.rsplit(".", 1)[1] for f in files) == ["cif", "csv", "json"] and pae.endswith(".png")
    import trimesh

    # a ball per Cα and per ligand atom (ethanol 3, ATP 31); sticks only where atoms are near (random weights
    # scatter them, so few or none)
    scene = trimesh.load(model)
    colours = {tuple(g.visual.face_colors[0][:3]) for g in scene.geometry.values()}
    assert len(scene.geometry) >= 10 + 3 + 31 and (48, 80, 248) in colours  # ATP's nitrogens
    from workbench.tasks.molecules.glb import CHAIN_COLOURS, PLDDT_BANDS

    bands = {colour for _, colour in PLDDT_BANDS}
    assert colours & bands and not colours & set(CHAIN_COLOURS)  # the protein by pLDDT band, as ColabFold
    *_, by_chain = client.predict("MKTAYIAKQR", "CCO", "", 1, True, "cpu", "chain", api_name="/complex")
    chain_colours = {tuple(g.visual.face_colors[0][:3]) for g in trimesh.load(by_chain).geometry.values()}
    assert CHAIN_COLOURS[0] in chain_colours and not chain_colours & bands
    with pytest.raises(Exception, match="protein 1: illegal residue .*Z.* at position 4"):
        client.predict("MKTZ", "", "", 1, True, "cpu", api_name="/complex")
    # restraints typed in the box: measured per sample; one naming a missing chain is a sentence
    table, *_ = client.predict("MKTAYIAKQR", "CCO", "", 1, True, "cpu", "pLDDT",
                               "pocket B: A:3, A:5 @ 6\ncontact A:1, A:9 @ 8", api_name="/complex")
    assert table["headers"][8] == "restraints met" and table["data"][0][8] in ("0/2", "1/2", "2/2")
    table, files, *_ = client.predict("MKTAYIAKQR", "CCO", "", 1, True, "cpu", "pLDDT", "", False, True,
                                      api_name="/complex")  # the first ligand's affinity
    assert table["headers"][-2:] == ["affinity: log10 IC50 (µM)", "binder probability"]
    assert 0 <= table["data"][0][-1] <= 1 and any(f.endswith("_affinity.json") for f in files)
    with pytest.raises(Exception, match="pocket .*Z: A:3.*: binder .*Z.* is not a chain of the complex"):
        client.predict("MKTAYIAKQR", "CCO", "", 1, True, "cpu", "pLDDT", "pocket Z: A:3", api_name="/complex")


def test_screen_section_ranks_ligands_and_reports_bad_lines(client, tmp_path):
    from gradio_client import handle_file

    table, files, skipped = client.predict("MKTAYIAKQR", "CCO ethanol\nC1CC( broken\nc1ccccc1O phenol", None,
                                           "pocket B: A:3 @ 6", True, "cpu", api_name="/screen")
    assert table["headers"][:3] == ["rank", "line", "name"] and [row[0] for row in table["data"]] == [1, 2]
    assert sorted(row[2] for row in table["data"]) == ["ethanol", "phenol"]
    assert skipped == "line 2: RDKit cannot read the SMILES 'C1CC('."
    assert files[0].endswith(".csv") and all(f.endswith(".cif") for f in files[1:])
    library = tmp_path / "lib.smi"
    library.write_text("CCN ethylamine\n")
    table, _, skipped = client.predict("MKTAYIAKQR", "", handle_file(str(library)), "", True, "cpu",
                                       api_name="/screen")
    assert [row[2] for row in table["data"]] == ["ethylamine"] and skipped == "none"


def test_grasp_tab(client):
    summary, h5, gif, scene = client.predict("box", 3, "franka", "auto", None, api_name="/grasp")
    assert summary.startswith("success ") and h5.endswith(".h5")
    import trimesh

    loaded = trimesh.load(scene)  # a glTF any 3D viewer reads: the object and 4 sticks per grasp
    assert "object" in loaded.graph.nodes and len(loaded.geometry) == 1 + 3 * 4


def test_place_tab_shows_the_goal_verdict_and_replay(client):
    goal, verdict, gif = client.predict("default", "put the ball behind the can", "auto", api_name="/place")
    assert goal.splitlines()[0] == "position: ball behind can"
    assert verdict.startswith("success (position track): position ok")
    assert gif is None or gif.endswith(".gif")


def test_grasp_learning_streams_its_training_curves(client):
    """A dataset simulated, a model trained with its curves streamed per epoch, then learned and
    antipodal grasps compared on a held-out object; the sizes a participant may ask are capped."""
    job = client.submit(4, 6, 3, "cpu", api_name="/grasp_learning")
    streamed = list(job)
    status, curves = job.result()
    assert len(streamed) >= 3 + 2  # before the data, before training, one per epoch at least
    assert "3 epochs: loss" in status and "learned grasps on held-out" in status and "antipodal grasps" in status
    assert "train_loss" in json.dumps(curves)
    with pytest.raises(Exception, match="objects must be between 2 and 32"):
        client.predict(500, 6, 3, "cpu", api_name="/grasp_learning")


@pytest.mark.parametrize("api, args, message", [
    ("/conformers", ("", 5, "auto"), "at least one molecule"),
    ("/fold", ("MKZJ", True, "cpu", "pLDDT"), "illegal letter"),
    ("/grasp", ("pyramid:1", 3, "parallel-jaw", "auto", None), "Unknown object"),
    ("/grasp", ("/etc/passwd", 3, "parallel-jaw", "auto", None), "Unknown object &#x27;/etc/passwd&#x27;"),
    ("/grasp", ("box", 3, "parallel-jaw", "tpu:0", None), "tpu:0 is not in the list of choices"),
    ("/conformers", ("<img src=x onerror=alert(1)>", 3, "cpu"), "&lt;img&#x27; is not a valid SMILES"),  # text
    ("/place", ("default", "put the mug left of the bowl", "auto"), "there is no &#x27;bowl&#x27; in the scene"),
])
def test_bad_input_per_tab_is_a_sentence(client, api, args, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        client.predict(*args, api_name=api)


def test_a_huge_smiles_fails_its_request_and_the_server_answers_the_next(client):
    """25,000 characters overflowed RDKit's stack: one participant took the whole server down."""
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="25,000 characters long; the limit is 2,000"):
        client.predict("C" * 25_000, 3, "cpu", api_name="/conformers")
    table, _, _ = client.predict("CCO ethanol", 3, "cpu", api_name="/conformers")
    assert table["data"][0][:2] == ["ethanol", "ok"]


def test_a_busy_port_is_one_sentence():
    import socket

    from workbench.app import launch
    from workbench.errors import WorkbenchError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(WorkbenchError, match=f"Port {port} on 127.0.0.1 is in use; choose another"):
            launch("127.0.0.1", port, block=False)


def test_concurrent_requests_all_finish(client):
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(client.predict, f"{'C' * (i + 2)}O m{i}", 3, "auto", api_name="/conformers")
                   for i in range(4)]
        results = [f.result(timeout=300) for f in futures]
    assert [r[0]["data"][0][0] for r in results] == ["m0", "m1", "m2", "m3"]


def test_text_to_image_tab(client):
    job = client.submit("a red cube", 3, 64, 1, True, "cpu", "auto", api_name="/text_to_image")
    streamed = list(job)  # a latent preview per denoising step, then the image
    previews = [out[0][0]["caption"] for out in streamed[:-1]]
    assert previews == [f"step {k} of 3: latent preview" for k in (1, 2, 3)]
    images, recipe = job.result()
    assert len(images) == 1 and '"seed": 1' in recipe
    assert images[0]["caption"] == "image 0: seed 1, 64x64, 3 steps"


def test_text_to_image_tab_bad_input(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Give a prompt"):
        client.predict("", 2, 64, 1, True, "cpu", "auto", api_name="/text_to_image")
    with pytest.raises(AppError, match="not in the list of choices"):  # a model is picked, never a path typed
        client.predict("a cube", 2, 64, 1, True, "cpu", "../../etc", api_name="/text_to_image")


def test_understand_tab_with_an_uploaded_image(client, tmp_path):
    from gradio_client import handle_file
    from PIL import Image

    path = tmp_path / "red.png"
    Image.new("RGB", (40, 40), (200, 20, 20)).save(path)
    job = client.submit(handle_file(str(path)), "what is this ?", "janus", True, "cpu", api_name="/understand")
    streamed = list(job)  # the answer grows token by token
    answer = job.result()
    assert len(streamed) >= 2 and all(answer.startswith(part.strip()) or not part for part in streamed[:-1])
    stored = wb.job(wb.jobs(task="vqa", limit=1)[0]["id"])  # the job the tab ran, reopened from the store
    assert stored.request["question"] == "what is this ?" and stored.request["model"] == "janus"
    assert stored.result.tokens >= 1 and answer == stored.result.text  # the tab shows the job's answer
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Upload an image first"):
        client.predict(None, "", "smolvlm", True, "cpu", api_name="/understand")


@pytest.mark.slow
def test_any_text_in_the_gradio_tabs_gives_a_result_or_a_sentence(client):
    """Property-based: junk in the molecule and grasp boxes never takes the server down or shows a
    traceback; the server answers after all of it."""
    from gradio_client.exceptions import AppError
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    junk = st.one_of(st.text(max_size=30), st.text(alphabet="CNO()=#[]@+-1c:,.", max_size=40),
                     st.sampled_from(["box:nan", "box:inf,1,1", "sphere:-1", "/etc/passwd", "../x.obj", "ring"]))

    @settings(max_examples=12, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(text=junk, api=st.sampled_from(["/conformers", "/grasp"]))
    def check(text, api):
        args = (text, 2, "cpu") if api == "/conformers" else (text, 2, "parallel-jaw", "cpu", None)
        try:
            client.predict(*args, api_name=api)
        except AppError as exc:
            message = str(exc)
            assert "Traceback" not in message and "\n" not in message.strip(), message  # one line

    check()
    table, _, _ = client.predict("CCO ethanol", 2, "cpu", api_name="/conformers")
    assert table["data"][0][:2] == ["ethanol", "ok"]


def test_devices_and_jobs_tab_is_tables_and_cancels(client):
    job = wb.submit("count", steps=100000, delay=0.01, device="cpu")
    devices, jobs, usage = client.predict(api_name="/status")
    assert usage["data"] in ([], [[""] * 7], [[None] * 7])  # one user's app: no participants' table
    assert devices["headers"][:5] == ["id", "kind", "backend", "name", "memory"]
    assert all(len(row) == len(devices["headers"]) for row in devices["data"])  # 7 headers over 8 columns before
    cpu = dict(zip(devices["headers"], next(row for row in devices["data"] if row[0] == "cpu"), strict=True))
    assert "free of" in cpu["memory"] and "free of" not in cpu["name"] and "float32" in cpu["dtypes (preferred)"]
    assert jobs["headers"] == ["id", "task", "device", "state", "created", "note"]
    assert any(row[0] == job.id for row in jobs["data"])
    assert client.predict(job.id, api_name="/cancel") == f"cancel requested for {job.id}"
    assert job.wait(30) and job.state.value == "cancelled"
    assert "already cancelled" in client.predict(job.id, api_name="/cancel")
    assert client.predict("nope", api_name="/cancel").startswith("No job")


@pytest.mark.parametrize("api, args", [
    ("/conformers", ("CCO na\udcffme", 2, "cpu")),  # a lone surrogate: it wedged the store machine-wide
    ("/conformers", ("CCO na\x00me", 2, "cpu")),
    ("/cancel", ("../jobs/x",)),
    ("/cancel", ("x" * 5000,)),
])
def test_after_each_hostile_input_another_participant_is_answered(client, api, args):
    import httpx

    # sent as raw JSON (`"\\udcff"` is valid JSON; gradio_client cannot encode a lone surrogate itself)
    base = client.src.rstrip("/")
    posted = httpx.post(f"{base}/gradio_api/call{api}", content=json.dumps({"data": list(args)}),
                        headers={"Content-Type": "application/json"}, timeout=30)
    assert posted.status_code == 200, posted.text
    stream = httpx.get(f"{base}/gradio_api/call{api}/{posted.json()['event_id']}", timeout=60).text
    assert "Traceback" not in stream
    if api == "/cancel":
        assert "No job" in stream
    else:
        assert "event: error" in stream and ("not UTF-8" in stream or "NUL" in stream), stream
    other = Client(client.src, verbose=False)  # the next participant, a plain request
    table, _, _ = other.predict("CCO ethanol", 2, "cpu", api_name="/conformers")
    assert table["data"][0][:2] == ["ethanol", "ok"]


def test_answers_leave_their_files_in_one_scratch_folder(client):
    """Each answer used to leave a `workbench-gradio-*` folder in /tmp forever; now they share one per
    server process, removed at exit, and folders older than an hour go as new ones are made."""
    import os
    import time

    from workbench import app

    client.predict("box", 2, "franka", "cpu", None, api_name="/grasp")
    client.predict("box", 2, "franka", "cpu", None, api_name="/grasp")
    (root,) = app._scratch_root
    answers = list(root.iterdir())
    assert len(answers) >= 2 and all(p.name.startswith(("scene-", "grasp-data-")) for p in answers)
    old = answers[0]
    os.utime(old, (time.time() - 2 * app.SCRATCH_KEEP_S,) * 2)
    client.predict("box", 2, "franka", "cpu", None, api_name="/grasp")
    assert not old.exists() and root.exists()
