"""Every generated image carries its full recipe, in the store and in the PNG's text chunks.

The recipe is enough to regenerate the image exactly on the same device type: model id and
revision, prompt, negative prompt, seed, steps, guidance, size, scheduler, device kind,
dtype and time. Two chunks carry it:

- `workbench-recipe`: the whole recipe as JSON (`read_recipe(png)`, `request_from_recipe`);
- `parameters`: the same in AUTOMATIC1111's text layout (prompt; `Negative prompt: ...`;
  `Steps: 4, Sampler: Euler a, CFG scale: 0, Seed: 3, Size: 512x512, Model: sd-turbo, ...`),
  which Civitai, sd-parsers and image browsers show; with several images per prompt it adds
  A1111's `Batch size` and `Batch pos`, and `Seed` is the image's own seed (seed + position), as
  A1111 writes it: image i of a batch is image 0 of a one-image run with that seed.
  `request_from_parameters` reads it back into a request (and the image's batch position).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from workbench.tasks.multimodal.t2i_request import Text2ImageRequest

RECIPE_KEY = "workbench-recipe"


def save_png(image: Any, path: Path, recipe: dict[str, Any]) -> Path:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", a1111_parameters(recipe))
    info.add_text(RECIPE_KEY, json.dumps(recipe, sort_keys=True))
    info.add_text("Software", "workbench")
    image.save(path, pnginfo=info)
    return path


def read_recipe(path: str | Path) -> dict[str, Any]:
    from PIL import Image

    with Image.open(path) as img:
        text = img.text.get(RECIPE_KEY) if hasattr(img, "text") else None
    if not text:
        from workbench.contract.errors import InputError

        raise InputError(f"{Path(path).name} carries no workbench recipe.")
    return json.loads(text)


def request_from_recipe(recipe: dict[str, Any]) -> Any:
    fields = {k: recipe[k] for k in ("prompt", "negative_prompt", "model", "steps", "guidance", "width", "height",
                                     "seed", "tiny") if k in recipe}
    return Text2ImageRequest(**fields, num_images=int(recipe.get("batch_size", 1)))


#: diffusers scheduler classes under the names A1111 gives its samplers
SAMPLER_NAMES = {
    "EulerAncestralDiscreteScheduler": "Euler a", "EulerDiscreteScheduler": "Euler",
    "LMSDiscreteScheduler": "LMS", "HeunDiscreteScheduler": "Heun", "DPMSolverMultistepScheduler": "DPM++ 2M",
    "DPMSolverSinglestepScheduler": "DPM++ SDE", "KDPM2DiscreteScheduler": "DPM2",
    "KDPM2AncestralDiscreteScheduler": "DPM2 a", "DDIMScheduler": "DDIM", "PNDMScheduler": "PLMS",
    "UniPCMultistepScheduler": "UniPC", "LCMScheduler": "LCM",
}


def _quote(value: Any) -> str:
    """A1111's rule: a value with a comma, colon or newline is written as a JSON string."""
    text = str(value)
    return json.dumps(text) if any(c in text for c in ",:\n\"") else text


def a1111_parameters(recipe: dict[str, Any]) -> str:
    """The recipe in AUTOMATIC1111's `parameters` layout."""
    fields = {
        "Steps": recipe["steps"], "Sampler": SAMPLER_NAMES.get(recipe.get("scheduler", ""), recipe.get("scheduler")),
        "CFG scale": recipe["guidance"], "Seed": recipe.get("image_seed", recipe["seed"]),
        "Size": f"{recipe['width']}x{recipe['height']}",
        "Model hash": recipe.get("model_hash"),
        "Model": recipe.get("resolved_model") or recipe.get("model"), "Model repo": recipe.get("repo_id"),
        "Model revision": recipe.get("revision"),
    }
    if recipe.get("batch_size", 1) > 1:
        fields["Batch size"] = recipe["batch_size"]
        fields["Batch pos"] = recipe.get("image_index", 0)
    if recipe.get("tiny"):
        fields["Tiny random model"] = "yes"
    fields["Version"] = "workbench"
    lines = [recipe["prompt"]]
    if recipe.get("negative_prompt"):
        lines.append(f"Negative prompt: {recipe['negative_prompt']}")
    lines.append(", ".join(f"{k}: {_quote(v)}" for k, v in fields.items() if v is not None))
    return "\n".join(lines)


_KEY = re.compile(r"[\w ./-]+")
_STRING = json.JSONDecoder()


def _fields(line: str) -> dict[str, Any] | None:
    """The `Key: value, Key: "quoted, value"` fields of A1111's last line, or None when the line is not
    made of them. One pass over the line: each key and value is found with `str.find` and a JSON string
    is decoded where it starts (a regular expression with backtracking took 21 s on a 32,000-character
    line, and hours on a megabyte)."""
    fields: dict[str, Any] = {}
    i, n = 0, len(line)
    while i < n:
        colon = line.find(":", i)
        if colon < 0:
            return None
        key = line[i:colon].strip()
        if not _KEY.fullmatch(key):
            return None
        j = colon + 1
        while j < n and line[j] == " ":
            j += 1
        if j < n and line[j] == '"':
            try:
                value, j = _STRING.raw_decode(line, j)
            except ValueError:  # a bad escape or no closing quote: not A1111's layout
                return None
            if not isinstance(value, str):
                return None
            comma = line.find(",", j)
            if line[j:comma if comma >= 0 else n].strip():
                return None
        else:
            comma = line.find(",", j)
            value = line[j:comma if comma >= 0 else n].strip()
        fields[key] = value
        i = comma + 1 if comma >= 0 else n
    return fields


def parse_parameters(text: str) -> dict[str, Any]:
    """An A1111 `parameters` text as {"prompt", "negative_prompt", and each `Key: value` field}."""
    lines = text.strip().split("\n")
    fields: dict[str, Any] = {}
    last = _fields(lines[-1]) if lines and "Steps:" in lines[-1] else None
    if last is not None and "Steps" in last:
        fields = last
        lines.pop()
    prompt: list[str] = []
    negative: list[str] = []
    in_negative = False
    for line in lines:
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[len("Negative prompt:"):].strip()
        (negative if in_negative else prompt).append(line)
    return {"prompt": "\n".join(prompt), "negative_prompt": "\n".join(negative), **fields}


def request_from_parameters(text: str) -> tuple[Any, int]:
    """(the request that regenerates the image, its position in the batch) from A1111 `parameters`."""
    from workbench.contract.errors import InputError

    p = parse_parameters(text)
    tiny = p.get("Tiny random model") == "yes"
    try:
        width, height = (int(v) for v in p["Size"].split("x"))
        request = Text2ImageRequest(prompt=p["prompt"], negative_prompt=p["negative_prompt"],
                                    model="auto" if tiny else p.get("Model", "auto"), steps=int(p["Steps"]),
                                    guidance=float(p["CFG scale"]), width=width, height=height,
                                    seed=int(p["Seed"]) - int(p.get("Batch pos", 0)),  # the image's own seed
                                    num_images=int(p.get("Batch size", 1)), tiny=tiny)
    except (KeyError, ValueError) as exc:
        raise InputError(f"These A1111 parameters lack what a regeneration needs ({exc}).") from None
    return request, int(p.get("Batch pos", 0))
