"""Captions and visual question answering through the real transformers code path (tiny LLaVA)."""

from __future__ import annotations

import threading

import pytest
from PIL import Image

import workbench as wb
from workbench import models
from workbench.errors import Cancelled, InputError, JobFailed


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "red.png"
    Image.new("RGB", (48, 40), (200, 30, 30)).save(path)
    return path


def test_caption_streams_token_by_token(devices, image):
    job = wb.submit("caption", image=str(image), tiny=True, max_new_tokens=6, min_new_tokens=6, device="cpu")
    result = job.result(120)
    pieces = [e.progress.data["token"] for e in job.snapshot_events()
              if e.progress is not None and "token" in e.progress.data]
    assert len(pieces) == result.tokens >= 6
    assert "".join(pieces).strip() == result.text
    texts = [e.progress.data["text"] for e in job.snapshot_events() if e.progress is not None and "token" in
             e.progress.data]
    assert all(b.startswith(a) for a, b in zip(texts, texts[1:]))  # the text grows as it streams


def test_vqa_needs_a_question_and_answers(image):
    with pytest.raises(InputError, match="Give a question"):
        wb.submit("vqa", image=str(image), tiny=True, device="cpu")
    r = wb.run("vqa", image=str(image), question="what is this ?", tiny=True, max_new_tokens=4, device="cpu")
    assert r.question == "what is this ?" and r.model == "tiny-vlm" and r.tokens >= 1


def test_bad_images_are_sentences(tmp_path):
    with pytest.raises(InputError, match="No such image file"):  # before a job exists
        wb.submit("caption", image=str(tmp_path / "none.png"), tiny=True, device="cpu")
    junk = tmp_path / "junk.png"
    junk.write_text("not an image")
    with pytest.raises(InputError, match="not an image Pillow can read"):  # read at submit too, header only
        wb.submit("caption", image=str(junk), tiny=True, device="cpu")


def test_cancel_stops_generation(devices, image):
    job = wb.submit("caption", image=str(image), tiny=True, max_new_tokens=3000, min_new_tokens=3000, device="cpu")
    gate = threading.Event()
    job.on_event(lambda e: e.progress is not None and "token" in e.progress.data and gate.set())
    assert gate.wait(120)
    job.cancel()
    with pytest.raises(Cancelled):
        job.result(60)


def test_missing_model_is_one_sentence(image, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))  # what the model worker is told
    with pytest.raises(JobFailed, match="run `workbench models pull smolvlm`"):
        wb.run("caption", image=str(image), device="cpu")


def test_model_and_processor_load_once(image, monkeypatch):
    monkeypatch.setenv("WORKBENCH_ISOLATE", "native")  # the model cache of this process
    models.unload("tiny-vlm")
    before = models.load_counts["tiny-vlm"]
    for _ in range(2):
        wb.run("caption", image=str(image), tiny=True, max_new_tokens=2, device="cpu")
    assert models.load_counts["tiny-vlm"] == before + 1


def test_cli_caption_prints_the_text(image):
    from helpers import run_cli

    proc = run_cli("run", "caption", "--image", str(image), "--tiny", "--max-new-tokens", "3", "--quiet")
    assert proc.returncode == 0, proc.stderr
    # library warnings a user cannot act on stay out (they were: torchvision, token lengths, leaked semaphores)
    assert proc.stderr.strip().splitlines() == [next(iter(proc.stderr.strip().splitlines()))]  # the job line only
    assert len(proc.stdout.strip().splitlines()) == 2  # the caption, then the job folder


def test_a_decompression_bomb_is_refused_at_submit(tmp_path):
    """A 20000 x 20000 one-bit PNG is 48 kB on disk and 400 megapixels in memory."""
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)
    with pytest.raises(wb.InputError, match="too large to open safely"):
        wb.submit("caption", image=str(bomb), tiny=True, device="cpu")
    big = tmp_path / "big.png"
    Image.new("1", (9000, 9000)).save(big)
    with pytest.raises(wb.InputError, match="9000 x 9000 pixels; at most 67 megapixels"):
        wb.submit("caption", image=str(big), tiny=True, device="cpu")
