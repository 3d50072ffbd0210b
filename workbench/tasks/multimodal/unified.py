"""Unified autoregressive models (the Emu3 / Janus line): one model that reads and draws images.

Understanding goes through the same code as any image-text-to-text model
(`understand.run`). Drawing is autoregressive over the model's image tokens: a logits
processor reports one progress event per image token (and is where a cancel lands), then
the VQ decoder turns the tokens into pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workbench.contract import Progress, ProgressCallback, TaskContext
from workbench.contract.errors import InputError

#: models that draw through `generate(generation_mode="image")`
IMAGE_GENERATORS = ("janus", "tiny-janus")
#: models that draw with next-token prediction constrained to visual tokens
EMU3_GENERATORS = ("emu3-gen", "tiny-emu3")

#: draws one image: (its seed, the token reporter) -> a PIL image
Drawer = Callable[[int, Any], Any]


def tiny_for(model: str) -> str:
    """The tiny test model of the same architecture as `model`."""
    if model.startswith("emu3") or model == "tiny-emu3":
        return "tiny-emu3"
    if model in ("janus", "tiny-janus"):
        return "tiny-janus"
    return ""


def token_reporter(total: int, progress: ProgressCallback, label: str = "token") -> Any:
    """A logits processor that reports one progress event per generated token (and so is where
    a cancel lands: the progress callback raises)."""
    from transformers import LogitsProcessor

    class Report(LogitsProcessor):
        done = 0

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            self.done += 1
            progress(Progress(self.done, total, f"{label} {self.done}/{total}", {"step": self.done}))
            return scores

    return Report()


def emu3_drawer(vlm: Any, prompt: str, *, width: int, height: int, ctx: TaskContext) -> tuple[int, Drawer]:
    """Emu3 draws row by row: visual tokens, an end-of-line token after each row, then the end
    markers; `prefix_allowed_tokens_fn` keeps every step inside that grammar. Returns the tokens one
    image takes and a function that draws one image from its seed."""
    import torch
    from transformers import LogitsProcessorList

    processor, model = vlm.processor, vlm.model
    inputs = processor(text=[prompt], padding=True, return_tensors="pt", return_for_image_generation=True,
                       image_area=width * height)
    rows, cols = (int(x) for x in inputs.pop("image_sizes")[0])
    inputs = inputs.to(ctx.torch_device)
    tok = processor.tokenizer
    wrapper, eoi, eof, eol = (tok.convert_tokens_to_ids(t) for t in
                              ("<|image token|>", tok.eoi_token, tok.eof_token, "<|extra_200|>"))
    visual = model.vocabulary_mapping.image_tokens
    body = (cols + 1) * rows

    def allowed(batch_id: int, ids: Any) -> list[int]:
        offset = ids.shape[0] - int(torch.nonzero(ids == wrapper, as_tuple=True)[0][0])
        if offset % (cols + 1) == 0 and offset <= body:
            return [eol]
        return {body + 1: [eof], body + 2: [eoi], body + 3: [tok.eos_token_id]}.get(
            offset, visual if offset <= body else [tok.pad_token_id])

    per_image = body + 3  # the rows (each closed by an end-of-line), then eof, eoi and eos

    def draw(seed: int, report: Any) -> Any:
        with ctx.backend.fork_rng():
            ctx.backend.seed(seed)
            out = model.generate(**inputs, max_new_tokens=per_image, prefix_allowed_tokens_fn=allowed,
                                 do_sample=True, logits_processor=LogitsProcessorList([report]))
        with torch.inference_mode():
            pixels = model.decode_image_tokens(image_tokens=out[:, inputs["input_ids"].shape[1]:],
                                               height=rows, width=cols)
        return processor.postprocess(list(pixels.float().cpu()), return_tensors="PIL.Image.Image")["pixel_values"][0]

    return per_image, draw


def janus_drawer(vlm: Any, prompt: str, *, guidance: float, ctx: TaskContext) -> tuple[int, Drawer]:
    """Janus draws through `generate(generation_mode="image")`: the tokens one image takes, and a
    function that draws one image from its seed."""
    import numpy as np
    import torch
    from PIL import Image
    from transformers import LogitsProcessorList

    processor, model = vlm.processor, vlm.model
    n_tokens = model.model.vision_model.config.num_image_tokens
    messages = [{"role": "user", "content": [{"type": "text", "text": prompt}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = processor(text=text, generation_mode="image", return_tensors="pt").to(ctx.torch_device)

    def draw(seed: int, report: Any) -> Any:
        with ctx.backend.fork_rng():
            ctx.backend.seed(seed)
            tokens = model.generate(**inputs, generation_mode="image", do_sample=True, use_cache=True,
                                    guidance_scale=max(guidance, 1.0) if guidance else 5.0,
                                    logits_processor=LogitsProcessorList([report]))
        with torch.inference_mode():
            pixels = model.decode_image_tokens(tokens)[0].float().cpu().clamp(-1, 1)  # H x W x C, [-1, 1]
        return Image.fromarray(((pixels.numpy() + 1) * 127.5).round().astype(np.uint8))

    return n_tokens, draw


def check_can_draw(model_id: str) -> None:
    if model_id == "emu3-chat":
        raise InputError("emu3-chat answers about images; draw with emu3-gen (the same architecture, "
                         "trained for generation).")
