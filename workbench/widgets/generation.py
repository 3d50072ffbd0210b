"""`GenerationWidget`: prompt in, images out, with a gallery of past results from the store.

Text-to-image shows a live latent preview per step; caption / VQA take an uploaded image
and stream the answer. The gallery lists earlier text-to-image jobs from the result store
(any kernel's), with each image's recipe on hover and a download link.
"""

from __future__ import annotations

import base64
import io
import logging
import tempfile
from pathlib import Path
from typing import Any

import traitlets as t

from workbench.contract.errors import InputError
from workbench.widgets.base import JobWidget, widget_module

log = logging.getLogger(__name__)

GALLERY_SIZE = 24
PREVIEW_SIDE = 320  #: the finished image as shown (the PNG itself is in the store)


def _data_uri(path: Path, thumb: int | None = None) -> str:
    """A JPEG data URI (small: widget state is saved in the notebook); the PNG with its recipe
    stays in the store and is downloaded from there."""
    from PIL import Image

    with Image.open(path) as opened:
        img = opened.convert("RGB")
        if thumb:
            img.thumbnail((thumb, thumb))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


class GenerationWidget(JobWidget):
    bounded_inputs = {"steps": ("text-to-image", "steps"), "guidance": ("text-to-image", "guidance")}
    _esm = widget_module("generation.js")
    title = "Generation"

    mode = t.Unicode("text-to-image").tag(sync=True)  #: text-to-image | caption | vqa
    prompt = t.Unicode("").tag(sync=True)
    negative_prompt = t.Unicode("").tag(sync=True)
    question = t.Unicode("").tag(sync=True)
    model = t.Unicode("auto").tag(sync=True)
    steps = t.Int().tag(sync=True)  #: default: the text-to-image request's own
    guidance = t.Float(0.0).tag(sync=True)  #: classifier-free guidance (0 for turbo models)
    width = t.Int(0).tag(sync=True)  #: 0: the task's default (512, or 64 with the tiny model)
    height = t.Int(0).tag(sync=True)
    seed = t.Int(0).tag(sync=True)
    tiny = t.Bool(False).tag(sync=True)
    upload = t.Unicode("").tag(sync=True)  #: data URI of the uploaded image (caption / vqa)

    preview = t.Unicode("").tag(sync=True)
    answer = t.Unicode("").tag(sync=True)
    gallery = t.List(t.Dict()).tag(sync=True)  #: job, name, file (in the job folder), src (thumbnail), recipe

    @t.default("steps")
    def _request_default(self) -> int:
        from workbench.tasks.requests import default_of

        return int(default_of("text-to-image", "steps"))

    def __init__(self, prompt: str = "", **kwargs: Any):
        super().__init__(prompt=prompt, **kwargs)

    def _on_ready(self) -> None:
        self.refresh_gallery()  # read the store when shown, not in the constructor

    def _upload_file(self) -> str:
        if not self.upload.startswith("data:image/"):
            raise InputError("Upload an image first.")
        data = base64.b64decode(self.upload.split(",", 1)[1])
        path = Path(tempfile.mkdtemp(prefix="workbench-upload-")) / "upload.png"
        path.write_bytes(data)
        return str(path)

    def _submit(self) -> Any:
        from workbench import api

        self.preview, self.answer = "", ""
        if self.mode == "text-to-image":
            return api.submit("text-to-image", prompt=self.prompt, negative_prompt=self.negative_prompt,
                              model=self.model, steps=self.steps, guidance=self.guidance,
                              width=self.width or None, height=self.height or None, seed=self.seed,
                              tiny=self.tiny, preview_every=1, device=self.device)
        model = "smolvlm" if self.model == "auto" else self.model
        if self.mode == "vqa":
            return api.submit("vqa", image=self._upload_file(), question=self.question, model=model,
                              tiny=self.tiny, device=self.device)
        return api.submit("caption", image=self._upload_file(), model=model, tiny=self.tiny, device=self.device)

    def _on_progress(self, progress: Any) -> None:
        if "preview" in progress.data:
            self.preview = progress.data["preview"]
        if "text" in progress.data:
            self.answer = progress.data["text"]

    def _show(self, result: Any) -> None:
        if hasattr(result, "images"):
            first = result.files.get("image_0")
            if first is not None:
                self.preview = _data_uri(first, PREVIEW_SIDE)
            self.refresh_gallery()
        else:
            self.answer = result.text

    def _snapshot_body(self) -> str:
        from workbench.widgets.snapshot import esc, image, table

        result = self._result
        if hasattr(result, "images"):  # this job's images, small, with the recipe each was drawn from
            files = sorted((k, p) for k, p in result.files.items() if k.startswith("image_"))
            pictures = "".join(image(_data_uri(Path(p), 192), f"image {k}", 192) for k, p in files[:8])
            rows = [{"image": i, "seed": r.get("image_seed", r.get("seed", "")),
                     "model": r.get("resolved_model") or r.get("model", ""), "model hash": r.get("model_hash", ""),
                     "steps": r.get("steps", "")} for i, r in enumerate(img.recipe for img in result.images)]
            return (f"<p>{esc(self.prompt)}</p><div>{pictures}</div>"
                    + table(rows, ["image", "seed", "model", "model hash", "steps"]))
        asked = f"<p><b>Q:</b> {esc(self.question)}</p>" if self.mode == "vqa" else ""
        seen = image(self.upload, "the image asked about", 192) if len(self.upload) < 400_000 else ""
        return f"<div>{seen}</div>{asked}<p><b>{'A' if asked else 'Caption'}:</b> {esc(self.answer)}</p>"

    def refresh_gallery(self) -> None:
        """Past text-to-image results of every kernel, newest first, from the result store."""
        from workbench.jobs.store import default_store

        store = default_store()
        items = []
        for row in store.list(limit=GALLERY_SIZE, state="succeeded", task="text-to-image"):
            try:
                job = store.get(row["id"])
            except Exception:  # a broken record must not break the gallery
                log.debug("GenerationWidget.refresh_gallery: ignored", exc_info=True)
                continue
            images = getattr(job.result, "images", None) or []  # a Text2ImageResult, as the live job gave
            for key, path in sorted(job.files.items()):
                if not key.startswith("image_") or not Path(path).exists():
                    continue
                index = int(key.split("_")[1])
                recipe = images[index].recipe if index < len(images) else {}
                items.append({"job": job.id, "name": Path(path).name, "src": _data_uri(path, 96),
                              "file": str(Path(path).relative_to(job.folder or Path(path).parent)), "recipe": recipe})
        self.gallery = items[:GALLERY_SIZE]
