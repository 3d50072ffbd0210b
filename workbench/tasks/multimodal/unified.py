"""Unified autoregressive models (the Janus line): one model that reads and draws images.

Understanding goes through the same code as any image-text-to-text model
(`understand.run`). Drawing is autoregressive over the model's image tokens: a logits
processor reports one progress event per image token (and is where a cancel lands), then
the VQ decoder turns the tokens into pixels.
"""

from __future__ import annotations

from typing import Any

from workbench.errors import InputError
from workbench.jobs.job import Progress, ProgressCallback

#: models that draw through `generate(generation_mode="image")`
IMAGE_GENERATORS = ("janus", "tiny-janus")


def generate_images(vlm: Any, prompt: str, *, seed: int, num_images: int, guidance: float, device: str,
                    progress: ProgressCallback) -> list[Any]:
    import numpy as np
    import torch
    from PIL import Image
    from transformers import LogitsProcessor, LogitsProcessorList

    processor, model = vlm.processor, vlm.model
    n_tokens = model.model.vision_model.config.num_image_tokens
    total = n_tokens * num_images
    done = [0]

    class Report(LogitsProcessor):
        def __call__(self, input_ids: Any, scores: Any) -> Any:
            done[0] += 1
            progress(Progress(done[0], total, f"image token {done[0]}/{total}", {"step": done[0]}))
            return scores

    messages = [{"role": "user", "content": [{"type": "text", "text": prompt}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(text=text, generation_mode="image", return_tensors="pt").to(device)
    images = []
    with torch.random.fork_rng(devices=[] if device == "cpu" else None):
        torch.manual_seed(seed)
        for _ in range(num_images):
            tokens = model.generate(**inputs, generation_mode="image", do_sample=True, use_cache=True,
                                    guidance_scale=max(guidance, 1.0) if guidance else 5.0,
                                    logits_processor=LogitsProcessorList([Report()]))
            with torch.inference_mode():
                pixels = model.decode_image_tokens(tokens)[0].float().cpu().clamp(-1, 1)  # H x W x C, [-1, 1]
            images.append(Image.fromarray(((pixels.numpy() + 1) * 127.5).round().astype(np.uint8)))
    return images


def check_can_draw(model_id: str) -> None:
    if model_id.startswith("emu3"):
        raise InputError("Emu3 image generation is not supported yet; use Emu3 for captions and questions, "
                         "or janus / a diffusers model to draw.")
