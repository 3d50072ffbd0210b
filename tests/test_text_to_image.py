"""Text-to-image through the real diffusers pipeline code, with a tiny random SD built in code."""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest
from PIL import Image

import workbench as wb
from workbench import models
from workbench.errors import Cancelled, InputError, JobFailed
from workbench.tasks.multimodal.recipe import read_recipe, request_from_recipe
from workbench.tasks.multimodal.text_to_image import Text2ImageRequest


def _pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_sizes_count_and_seed_determinism():
    a = wb.run("text-to-image", prompt="a red cube", steps=3, width=64, height=72, num_images=2, seed=7, tiny=True,
               device="cpu")
    b = wb.run("text-to-image", prompt="a red cube", steps=3, width=64, height=72, num_images=2, seed=7, tiny=True,
               device="cpu")
    c = wb.run("text-to-image", prompt="a red cube", steps=3, width=64, height=72, num_images=1, seed=8, tiny=True,
               device="cpu")
    assert sorted(a.files) == ["image_0", "image_1"]
    assert Image.open(a.files["image_0"]).size == (64, 72)
    assert np.array_equal(_pixels(a.files["image_0"]), _pixels(b.files["image_0"]))
    assert not np.array_equal(_pixels(a.files["image_0"]), _pixels(c.files["image_0"]))


def test_one_progress_event_per_step_with_previews(devices):
    job = wb.submit("text-to-image", prompt="a cat", steps=5, width=64, height=64, preview_every=2, tiny=True,
                    device="cpu")
    job.result(120)
    steps = [e.progress for e in job.snapshot_events() if e.progress is not None and "step" in e.progress.data]
    assert [p.data["step"] for p in steps] == [1, 2, 3, 4, 5]
    assert [("preview" in p.data) for p in steps] == [False, True, False, True, False]
    assert steps[1].data["preview"].startswith("data:image/png;base64,")


def test_cancel_mid_run_leaves_no_image_in_the_store(devices):
    gate = threading.Event()
    job = wb.submit("text-to-image", prompt="a dog", steps=400, width=64, height=64, tiny=True, device="cpu")
    job.on_event(lambda e: e.progress is not None and e.progress.data.get("step", 0) >= 2 and gate.set())
    assert gate.wait(120)
    job.cancel()
    with pytest.raises(Cancelled):
        job.result(60)
    stored = wb.job(job.id)
    assert stored.state == "cancelled" and stored.files == {}
    assert not list((stored.folder or wb.job(job.id).folder).glob("**/*.png"))


def test_recipe_round_trip_regenerates_the_same_image():
    first = wb.run("text-to-image", prompt="a blue ball", steps=2, width=64, height=64, seed=3, tiny=True,
                   device="cpu")
    recipe = read_recipe(first.files["image_0"])
    assert recipe["prompt"] == "a blue ball" and recipe["seed"] == 3 and recipe["device"] == "cpu"
    assert recipe == first.images[0].recipe
    again = wb.run("text-to-image", request_from_recipe(recipe), device="cpu")
    assert np.array_equal(_pixels(first.files["image_0"]), _pixels(again.files["image_0"]))


def test_a1111_parameters_are_read_by_sd_parsers_and_regenerate_the_image():
    """The `parameters` chunk in AUTOMATIC1111's layout: sd-parsers recognises it, and the request read
    back from it (image 2 of a batch of 2, a prompt with a comma and a colon) draws the same pixels."""
    from PIL import Image
    from sd_parsers import ParserManager

    from workbench.tasks.multimodal.recipe import request_from_parameters

    first = wb.run("text-to-image", prompt="a blue ball, shiny: glossy", negative_prompt="blurry", steps=2,
                   width=64, height=48, seed=3, num_images=2, tiny=True, device="cpu")
    info = ParserManager().parse(first.files["image_1"])
    assert info.generator.name == "AUTOMATIC1111"
    sampler = info.samplers[0]
    assert sampler.prompts[0].value == "a blue ball, shiny: glossy" and sampler.negative_prompts[0].value == "blurry"
    # image 1 of a batch seeded 3 carries its own seed, 4, as AUTOMATIC1111 writes it
    assert sampler.parameters["seed"] == "4" and sampler.parameters["steps"] == "2" and sampler.name == "Euler"
    assert info.metadata["Size"] == "64x48" and info.metadata["Batch pos"] == "1"
    # A1111's Model hash: 10 hex digits of the weights that drew (the tiny twin's tensors; a snapshot's UNet file)
    model = next(iter(info.models))  # sd-parsers reads it as the model's hash, as image sites do
    assert model.name == "tiny-sd" and re.fullmatch(r"[0-9a-f]{10}", model.hash)
    assert first.images[0].recipe["model_hash"] == model.hash
    with Image.open(first.files["image_1"]) as img:
        request, index = request_from_parameters(img.text["parameters"])
    assert index == 1 and request.num_images == 2 and request.negative_prompt == "blurry"
    again = wb.run("text-to-image", request, device="cpu")
    assert np.array_equal(_pixels(first.files["image_1"]), _pixels(again.files[f"image_{index}"]))


def test_image_i_of_a_batch_is_the_one_image_run_with_seed_plus_i():
    batch = wb.run("text-to-image", prompt="a green cone", steps=2, width=64, height=64, seed=5, num_images=3,
                   tiny=True, device="cpu")
    alone = wb.run("text-to-image", prompt="a green cone", steps=2, width=64, height=64, seed=7, tiny=True,
                   device="cpu")
    assert np.array_equal(_pixels(batch.files["image_2"]), _pixels(alone.files["image_0"]))
    assert [im.recipe["image_seed"] for im in batch.images] == [5, 6, 7]
    assert not np.array_equal(_pixels(batch.files["image_0"]), _pixels(batch.files["image_1"]))


@pytest.fixture
def two_npus(monkeypatch):
    """Two simulated NPUs of one kind (same dtype, same numbers), so a job can move between equals."""
    from helpers import SIM

    from workbench.scheduling import registry

    monkeypatch.setenv("WORKBENCH_SIMULATED_DEVICES", f"{SIM},{SIM}")
    registry.discover(refresh=True)
    yield
    monkeypatch.delenv("WORKBENCH_SIMULATED_DEVICES")
    registry.discover(refresh=True)


def test_a_batch_moved_after_its_second_image_redraws_at_most_one_and_draws_the_same_images(two_npus):
    """Drained mid batch: the images already written are checkpoints, so the new device starts at the next
    image, and every image is the one an unmoved run draws."""
    fields = dict(prompt="a yellow star", steps=40, width=64, height=64, seed=11, num_images=4, tiny=True)
    unmoved = wb.run("text-to-image", **fields, device="sim:npu1")
    wb.drain("cpu")  # so the drained job's only place is the other NPU
    job = wb.submit("text-to-image", **fields, device="sim:npu0")
    starts = []  # (device, image) each time an image's first denoising step is reported
    job.on_event(lambda e: e.progress is not None and e.progress.data.get("step") == 1
                 and starts.append((job.device, e.progress.data["image"])))
    try:
        deadline = time.time() + 120
        while len(job.checkpoints) < 2 and time.time() < deadline:
            time.sleep(0.01)
        first_start = job.started
        wb.drain("sim:npu0")
        moved = job.result(180)
    finally:
        wb.drain("sim:npu0", False)
        wb.drain("cpu", False)
    assert job.device == "sim:npu1" and job.moves == 1
    assert job.started == first_start and wb.job(job.id).started == first_start  # the whole job's time
    note = [e.message for e in job.snapshot_events() if e.message.startswith("moved from")][0]
    assert "sim:npu0 was drained" in note
    images = [i for _, i in starts]
    redone = len(images) - len(set(images))
    assert redone <= 1 and sorted(set(images)) == [0, 1, 2, 3], starts
    after = {i for d, i in starts if d == "sim:npu1"}
    assert after >= {2, 3} and 0 not in after, starts
    for i in range(4):
        assert np.array_equal(_pixels(moved.files[f"image_{i}"]), _pixels(unmoved.files[f"image_{i}"])), i
    assert [im.recipe["image_seed"] for im in moved.images] == [11, 12, 13, 14]
    # the recipe names the device that drew, not only its kind (it said "npu" for a simulated chip)
    assert unmoved.images[0].recipe["device"] == "sim:npu1" and unmoved.images[0].recipe["device_kind"] == "npu"


def test_the_model_hash_is_the_sha256_of_the_snapshots_denoiser_weights(tmp_path):
    import hashlib

    from workbench.tasks.multimodal.model_hash import file_hash, model_hash, weights_file

    (tmp_path / "unet").mkdir()
    weights = tmp_path / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(b"not really weights, but bytes all the same" * 1000)
    assert weights_file(tmp_path) == weights
    assert model_hash(object(), tmp_path) == hashlib.sha256(weights.read_bytes()).hexdigest()[:10] == file_hash(weights)


def test_long_prompt_is_truncated_with_a_note():
    r = wb.run("text-to-image", prompt="a very long prompt about many things", steps=1, width=64, height=64,
               tiny=True, device="cpu")
    assert any("truncated" in n for n in r.notes)


def test_unsupported_size_is_refused_before_loading_anything():
    models.unload("tiny-sd")
    before = models.load_counts["tiny-sd"]
    with pytest.raises(InputError, match="Unsupported size 100x64"):
        Text2ImageRequest(prompt="x", width=100, height=64, tiny=True)
    with pytest.raises(InputError, match="Unsupported size"):
        wb.submit("text-to-image", prompt="x", width=4096, height=64, tiny=True, device="cpu")
    assert models.load_counts["tiny-sd"] == before


def test_missing_weights_offline_give_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))  # what the model worker is told
    with pytest.raises(JobFailed, match="run `workbench models pull sd-turbo`"):
        wb.run("text-to-image", prompt="x", model="sd-turbo", device="cpu")
    with pytest.raises(JobFailed, match="run `workbench models pull someone/some-model`"):
        wb.run("text-to-image", prompt="x", model="someone/some-model", device="cpu")


def test_second_call_reuses_the_loaded_pipeline(monkeypatch):
    monkeypatch.setenv("WORKBENCH_ISOLATE", "native")  # the model cache of this process
    models.unload("tiny-sd")
    before = models.load_counts["tiny-sd"]
    for _ in range(2):
        wb.run("text-to-image", prompt="x", steps=1, width=64, height=64, tiny=True, device="cpu")
    assert models.load_counts["tiny-sd"] == before + 1


def test_cli_text_to_image(tmp_path):
    from helpers import run_cli

    proc = run_cli("run", "text-to-image", "--prompt", "a red cube", "--tiny", "--steps", "2",
                   "--out", str(tmp_path / "out"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    png = tmp_path / "out" / "image_0.png"
    recipe = read_recipe(png)
    assert recipe["steps"] == 2 and (recipe["width"], recipe["height"]) == (64, 64)  # tiny: small by default
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr  # the job line; no library warnings
    assert Text2ImageRequest(prompt="x").width == 512


def test_two_jobs_on_one_device_share_the_pipeline_safely(devices):
    """The CPU runs two jobs at once on one cached pipeline: each gets exactly its own steps and image."""
    jobs = [wb.submit("text-to-image", prompt="a red cube", steps=s, width=64, height=64, seed=1, tiny=True,
                      device="cpu") for s in (6, 9)]
    results = [j.result(120) for j in jobs]
    for job, steps in zip(jobs, (6, 9)):
        seen = [e.progress.data["step"] for e in job.snapshot_events()
                if e.progress is not None and "step" in e.progress.data]
        assert seen == list(range(1, steps + 1))
    alone = wb.run("text-to-image", prompt="a red cube", steps=6, width=64, height=64, seed=1, tiny=True,
                   device="cpu")
    assert np.array_equal(_pixels(results[0].files["image_0"]), _pixels(alone.files["image_0"]))
