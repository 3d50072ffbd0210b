"""Text-to-image with diffusers' `AutoPipelineForText2Image`, one model registry for all.

Pipeline, top to bottom: validate the size (before anything loads) -> choose the model
(`auto`: a turbo model on small devices, SDXL on large accelerators) and the dtype the
device's backend prefers -> load once per device -> the backend's memory policy (attention
slicing, CPU offload) when memory is short -> draw image i of a batch alone with a CPU generator
seeded seed + i, one progress event per denoising step (optionally with a cheap latent preview),
cancel between steps -> each image a PNG with its recipe in the text chunks, and a checkpoint (a
moved job resumes at the next image).
"""

from __future__ import annotations

import base64
import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import models
from workbench.contract import Progress, Requirements, TaskContext
from workbench.tasks.checkpoint_files import pack_files, unpack_files
from workbench.tasks.multimodal.recipe import save_png
from workbench.tasks.multimodal.t2i_request import Text2ImageRequest

log = logging.getLogger(__name__)

#: SD latent -> RGB, a linear approximation widely used for cheap previews
LATENT_RGB = ((0.298, 0.207, 0.208), (0.187, 0.286, 0.173), (-0.158, 0.189, 0.264), (-0.184, -0.271, -0.473))
GiB = 1024**3


@dataclass
class GeneratedImage:
    index: int
    recipe: dict[str, Any]


@dataclass
class Text2ImageResult:
    images: list[GeneratedImage]
    model: str
    dtype: str
    notes: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        """The line (or few) a person reads first: the CLI's headline, `jobs list`, the widget and Gradio."""
        return ", ".join(f"image {i.index}: seed {i.recipe.get('seed')}, {i.recipe.get('width')}x"
                         f"{i.recipe.get('height')}" for i in self.images) + f" ({self.model}, {self.dtype})"


def estimate_memory(request: Text2ImageRequest, model_id: str, weight_bytes: int = 2) -> int:
    """Bytes a pipeline needs: its weights, plus activations that grow with the pixels drawn."""
    if request.tiny:
        return 256 * 1024**2
    spec = models.MODELS.get(model_id)
    parameters = spec.parameters if spec and spec.parameters else models.DEFAULT_DIFFUSION_PARAMETERS
    width, height = request.size
    pixels = width * height  # the images are drawn one at a time
    return int(parameters * weight_bytes + GiB // 2 + GiB * pixels / (512 * 512))


def work(request: Text2ImageRequest) -> float:
    return float(request.steps * request.num_images)


def requirements(request: Text2ImageRequest) -> Requirements:
    # the least any device needs: the smallest model `auto` may choose, in half precision
    model_id = "sd-turbo" if request.model == "auto" else request.model
    return Requirements(min_memory=estimate_memory(request, model_id))


def choose_model(request: Text2ImageRequest, ctx: TaskContext) -> str:
    if request.tiny:
        from workbench.tasks.multimodal.unified import tiny_for

        return tiny_for(request.model) or "tiny-sd"
    if request.model != "auto":
        return request.model
    big = ctx.capabilities.is_accelerator and ctx.free_memory() >= 12 * GiB
    return "sdxl" if big else "sd-turbo"


def load_text_to_image(path: Path | None, device: str, dtype: str) -> Any:
    """The real loader: a diffusers pipeline from the Hugging Face cache snapshot at `path`."""
    import torch
    from diffusers import AutoPipelineForText2Image

    pipe = AutoPipelineForText2Image.from_pretrained(path, torch_dtype=getattr(torch, dtype))
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def _preview(latents: Any) -> str:
    """A small PNG data URI from the latents, without running the VAE."""
    import numpy as np
    import torch
    from PIL import Image

    lat = latents[0].float().cpu()
    if lat.shape[0] != 4:
        lat = lat[:4]
    rgb = torch.einsum("chw,cr->hwr", lat, torch.tensor(LATENT_RGB))
    arr = ((rgb.clamp(-1, 1) + 1) * 127.5).numpy().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).resize((arr.shape[1] * 4, arr.shape[0] * 4)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def run(request: Text2ImageRequest, ctx: TaskContext) -> Text2ImageResult:
    import torch

    from workbench.tasks.multimodal import unified

    device, progress = ctx.torch_device, ctx.progress
    model_id = choose_model(request, ctx)
    unified.check_can_draw(model_id)
    dtype = ctx.dtype()
    n = request.num_images
    progress(Progress(0, request.steps * n, f"loading {model_id}"))
    pipe = models.load(model_id, device, dtype, tiny=request.tiny)
    if model_id in unified.IMAGE_GENERATORS or model_id in unified.EMU3_GENERATORS:
        if model_id in unified.IMAGE_GENERATORS:
            per_image, draw_tokens = unified.janus_drawer(pipe, request.prompt, guidance=request.guidance, ctx=ctx)
        else:
            width, height = request.size
            per_image, draw_tokens = unified.emu3_drawer(pipe, request.prompt, width=width, height=height, ctx=ctx)
        report = unified.token_reporter(per_image * n, progress, "image token")

        def draw_autoregressive(i: int) -> Any:
            report.done = per_image * i  # the tokens of the images before this one, drawn here or before a move
            return draw_tokens(request.seed + i, report)

        with models.exclusive(pipe):
            return _draw_all(request, model_id, dtype, ctx, draw_autoregressive, [], "autoregressive",
                             _hash_of(pipe, model_id, request.tiny))
    notes: list[str] = []
    tokenizer = getattr(pipe, "tokenizer", None)
    if tokenizer is not None:
        length = len(tokenizer(request.prompt).input_ids)
        if length > tokenizer.model_max_length:
            notes.append(f"The prompt is {length} tokens; the text encoder reads {tokenizer.model_max_length}, so "
                         "it was truncated.")
    policy = ctx.backend.memory_policy()
    if policy.attention_slicing:
        pipe.enable_attention_slicing()
        notes.append(policy.reasons[0])
    if policy.cpu_offload and hasattr(pipe, "enable_model_cpu_offload"):
        try:  # needs `accelerate`; keeps only the running component on the accelerator
            pipe.enable_model_cpu_offload(device=device)
            notes.append(policy.reasons[-1])
        except Exception as exc:
            log.debug("run: ignored", exc_info=True)
            notes.append(f"CPU offload unavailable ({type(exc).__name__}); running fully on {ctx.device_id}")

    def draw_diffusion(i: int) -> Any:
        def on_step(pipeline: Any, step: int, timestep: Any, tensors: dict) -> dict:
            data: dict[str, Any] = {"step": step + 1, "image": i}
            if request.preview_every and (step + 1) % request.preview_every == 0 and "latents" in tensors:
                data["preview"] = _preview(tensors["latents"])
            where = f"image {i + 1}/{n}, " if n > 1 else ""
            progress(Progress(i * request.steps + step + 1, request.steps * n,
                              f"{where}step {step + 1}/{request.steps}", data))
            return tensors

        generator = torch.Generator(device="cpu").manual_seed(request.seed + i)
        output = pipe(prompt=request.prompt, negative_prompt=request.negative_prompt or None,
                      num_inference_steps=request.steps, guidance_scale=request.guidance, width=request.width,
                      height=request.height, num_images_per_prompt=1, generator=generator,
                      callback_on_step_end=on_step, callback_on_step_end_tensor_inputs=["latents"])
        return output.images[0]

    with models.exclusive(pipe):  # a pipeline's scheduler keeps per-run state
        return _draw_all(request, model_id, dtype, ctx, draw_diffusion, notes, type(pipe.scheduler).__name__,
                         _hash_of(pipe, model_id, request.tiny))


def _hash_of(pipe: Any, model_id: str, tiny: bool) -> str | None:
    """A1111's `Model hash` of the weights that draw (see `model_hash`); None when it cannot be told."""
    from workbench.tasks.multimodal.model_hash import model_hash

    try:
        snapshot = None if tiny or model_id not in models.MODELS else models.local_path(model_id)
        return model_hash(pipe, snapshot)
    except Exception:  # noqa: BLE001 - a missing hash never costs the images
        log.debug("_hash_of: ignored", exc_info=True)
        return None


def _draw_all(request: Text2ImageRequest, model_id: str, dtype: str, ctx: TaskContext, draw: Callable[[int], Any],
              notes: list[str], scheduler: str, weights_hash: str | None = None) -> Text2ImageResult:
    """Image i is drawn alone from seed + i (AUTOMATIC1111's rule for a batch), so it is the same image
    whether or not the job moved, and each finished PNG is a checkpoint: a job moved after its second
    image redraws none of the first two."""
    spec = models.get_spec(model_id) if model_id in models.MODELS else None
    out_dir = ctx.workdir
    t0 = time.time()
    images: list[Any] = []
    files: dict[str, Path] = {}
    for i in range(request.num_images):
        key = f"image_{i}"
        if key in ctx.checkpoints:  # drawn before the job moved here
            recipe, blobs = ctx.checkpoints[key]
            unpack_files(blobs, out_dir, files)
        else:
            image = draw(i)
            recipe = {
                "model": request.model, "resolved_model": model_id,
                "repo_id": spec.repo_id if spec else model_id, "revision": spec.revision if spec else None,
                "model_hash": weights_hash, "prompt": request.prompt, "negative_prompt": request.negative_prompt,
                "seed": request.seed,
                "image_seed": request.seed + i, "image_index": i, "batch_size": request.num_images,
                "steps": request.steps, "guidance": request.guidance, "width": image.width,
                # the device it ran on ("sim:npu0", not "npu": a simulated chip is not one) and that device's kind
                "height": image.height, "scheduler": scheduler, "device": ctx.device_id,
                "device_kind": ctx.capabilities.kind,
                "dtype": dtype, "tiny": request.tiny,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t0)),
            }
            files[key] = save_png(image, out_dir / f"{key}.png", recipe)
            ctx.checkpoint(key, (recipe, pack_files([key], files)))
        images.append(GeneratedImage(i, recipe))
    return Text2ImageResult(images, model_id, dtype, notes, files)
