"""Image understanding: captioning and visual question answering with image-text-to-text models.

Any `AutoModelForImageTextToText` model with a chat template works through the model
registry (`smolvlm` is the small default). The answer streams token by token: each new
piece of text is a progress event, and cancel stops generation at the next token.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from workbench import models
from workbench.contract import Cancelled, GiB, InputError, Progress, Requirements, TaskContext
from workbench.contract.errors import ModelNotAvailable
from workbench.contract.limits import Limits
from workbench.paths import is_file

CAPTION_PROMPT = "Describe this image in one sentence."


@dataclass(frozen=True)
class UnderstandRequest:
    image: str = ""  #: path to a PNG / JPEG / WebP file
    question: str = ""  #: empty: a caption
    model: str = "smolvlm"  #: a registry id (smolvlm, ...) or any Hugging Face image-text-to-text repo id
    max_new_tokens: Annotated[int, Limits(ge=1, le=4096, unit="tokens")] = 64  #: the longest answer
    #: the shortest answer (at most max_new_tokens)
    min_new_tokens: Annotated[int, Limits(ge=0, le=4096, unit="tokens")] = 0
    tiny: bool = False  #: a tiny random model of the same architecture (tests, teaching)

    def __post_init__(self) -> None:
        if not self.image:
            raise InputError("Give an image file.")
        check_image(self.image)  # readable, and not a decompression bomb: now, before a job exists
        if self.min_new_tokens > self.max_new_tokens:
            raise InputError("min_new_tokens must be at most max_new_tokens.")


@dataclass(frozen=True)
class VQARequest(UnderstandRequest):
    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.question.strip():
            raise InputError("Give a question about the image.")


@dataclass
class UnderstandResult:
    text: str
    question: str
    model: str
    tokens: int

    def summary(self) -> str:
        """The line (or few) a person reads first: the CLI's headline, `jobs list`, the widget and Gradio."""
        return self.text


@dataclass
class VisionLanguageModel:
    """A model and its processor, loaded and cached together."""

    model: Any
    processor: Any

    def to(self, device: str | None = None, dtype: Any = None) -> VisionLanguageModel:
        self.model.to(device=device, dtype=dtype)
        return self


def estimate_memory(request: UnderstandRequest, weight_bytes: int = 2) -> int:
    """Bytes a vision-language model needs: weights, one image's tokens and the KV cache."""
    if request.tiny:
        return 256 * 1024**2
    spec = models.MODELS.get(request.model)
    parameters = spec.parameters if spec and spec.parameters else 1e9
    return int(parameters * weight_bytes + GiB // 2 + request.max_new_tokens * 1024**2 // 4)


def work(request: UnderstandRequest) -> float:
    return float(request.max_new_tokens)


def requirements(request: UnderstandRequest) -> Requirements:
    return Requirements(min_memory=estimate_memory(request))


def load_vlm(path: Path | None, device: str, dtype: str) -> VisionLanguageModel:
    """The real loader: model and processor from the Hugging Face cache snapshot at `path`."""
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    if path is None:
        raise ModelNotAvailable("The vision-language model's weights are not in the cache.")
    model = AutoModelForImageTextToText.from_pretrained(path, torch_dtype=getattr(torch, dtype))
    return VisionLanguageModel(model.eval().to(device), AutoProcessor.from_pretrained(path))


#: the most pixels an image may have (64 megapixels, 8192 x 8192): the models read a few hundred
#: pixels a side, and a 20000 x 20000 PNG of a few kB decompresses to 1.2 GB
MAX_PIXELS = 8192 * 8192


def check_image(path: str) -> tuple[int, int]:
    """(width, height) of an image file, read from its header only; an `InputError` for a missing,
    unreadable or oversized file."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not is_file(p):
        raise InputError(f"No such image file: {p}")
    try:
        with Image.open(p) as img:
            width, height = img.size
    except Image.DecompressionBombError as exc:  # Pillow refused it before giving its size
        raise InputError(f"{p.name} is too large to open safely ({exc}); at most {MAX_PIXELS // 10**6} megapixels "
                         "are taken: scale it down first.") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{p.name} is not an image Pillow can read ({exc}).") from None
    if width * height > MAX_PIXELS:
        raise InputError(f"{p.name} is {width} x {height} pixels; at most {MAX_PIXELS // 10**6} megapixels are "
                         "taken (the model reads a few hundred pixels a side): scale it down first.")
    return width, height


def _open_image(path: str) -> Any:
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    check_image(path)
    try:
        with Image.open(p) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"{p.name} is not an image Pillow can read ({exc}).") from None


def run(request: UnderstandRequest, ctx: TaskContext) -> UnderstandResult:
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

    image = _open_image(request.image)
    from workbench.tasks.multimodal.unified import tiny_for

    model_id = (tiny_for(request.model) or "tiny-vlm") if request.tiny else request.model
    device, progress = ctx.torch_device, ctx.progress
    dtype = ctx.dtype()
    progress(Progress(0, request.max_new_tokens, f"loading {model_id}"))
    vlm = models.load(model_id, device, dtype, tiny=request.tiny)
    question = request.question.strip() or CAPTION_PROMPT
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    prompt = vlm.processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = vlm.processor(images=image, text=prompt, return_tensors="pt").to(device)
    streamer = TextIteratorStreamer(vlm.processor.tokenizer, skip_prompt=True, skip_special_tokens=True)
    stop = threading.Event()

    class _Stop(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
            return stop.is_set()

    failure: list[BaseException] = []

    def generate() -> None:
        try:
            with models.exclusive(vlm), torch.inference_mode():
                vlm.model.generate(**inputs, streamer=streamer, max_new_tokens=request.max_new_tokens,
                                   min_new_tokens=request.min_new_tokens, do_sample=False,
                                   stopping_criteria=StoppingCriteriaList([_Stop()]))
        except BaseException as exc:  # surfaced below, in the job's thread
            failure.append(exc)
            streamer.end()

    thread = threading.Thread(target=generate, name="workbench-generate", daemon=True)
    thread.start()
    text, pieces = "", 0
    try:
        for piece in streamer:
            text += piece
            pieces += 1
            progress(Progress(min(pieces, request.max_new_tokens), request.max_new_tokens, text[-80:],
                              {"token": piece, "text": text}))
    except Cancelled:
        stop.set()
        thread.join(30)
        raise
    thread.join()
    if failure:
        raise failure[0]
    progress(Progress(request.max_new_tokens, request.max_new_tokens, "done", {"text": text}))
    return UnderstandResult(text.strip(), request.question, model_id, pieces)
