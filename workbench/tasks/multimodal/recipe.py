"""Every generated image carries its full recipe, in the store and in the PNG's text chunks.

The recipe is enough to regenerate the image exactly on the same device type: model id and
revision, prompt, negative prompt, seed, steps, guidance, size, scheduler, device kind,
dtype and time. `read_recipe(png)` gives it back; `request_from_recipe` turns it into a
request.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RECIPE_KEY = "workbench-recipe"


def save_png(image: Any, path: Path, recipe: dict[str, Any]) -> Path:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
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
    from workbench.tasks.multimodal.text_to_image import Text2ImageRequest

    fields = {k: recipe[k] for k in ("prompt", "negative_prompt", "model", "steps", "guidance", "width", "height",
                                     "seed", "tiny") if k in recipe}
    return Text2ImageRequest(**fields, num_images=1)
