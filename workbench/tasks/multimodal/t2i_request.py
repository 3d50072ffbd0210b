"""The text-to-image request: what a user asks for, checked at the door (size, steps, a model that
can draw). Its own module so the recipe readers (`recipe.py`), which rebuild a request from a PNG,
and the task (`text_to_image.py`), which writes recipes, do not import each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from workbench.contract import InputError
from workbench.contract.limits import Limits

MAX_SIDE = 2048


@dataclass(frozen=True)
class Text2ImageRequest:
    prompt: str = ""  #: what to draw
    negative_prompt: str = ""  #: what to steer away from (with guidance above 1)
    model: str = "auto"  #: a registry id (sd-turbo, sdxl-turbo, sdxl), any diffusers repo id, or auto
    steps: Annotated[int, Limits(ge=1, le=500, unit="steps")] = 4  #: denoising steps
    guidance: Annotated[float, Limits(ge=0, le=100)] = 0.0  #: classifier-free guidance; 0 for turbo models
    width: int | None = None  #: pixels; default 512, or 64 with tiny (random weights draw noise at any size)
    height: int | None = None  #: pixels; default 512, or 64 with tiny
    seed: int = 0  #: the first image's seed; image i uses seed + i (each PNG records its own)
    num_images: Annotated[int, Limits(ge=1, le=16, unit="images")] = 1  #: images to draw
    preview_every: Annotated[int, Limits(ge=0, le=500, unit="steps")] = 0  #: a latent preview every N steps (0: none)
    tiny: bool = False  #: a tiny random pipeline of the same architecture (tests, teaching)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels: as given, else 512, or 64 with tiny (random weights draw noise at any size)."""
        default = 64 if self.tiny else 512
        return (self.width if self.width is not None else default, self.height if self.height is not None else default)

    def __post_init__(self) -> None:
        from workbench.tasks.multimodal.unified import check_can_draw

        if not self.prompt.strip():
            raise InputError("Give a prompt.")
        check_can_draw(self.model)  # at the door: placement would refuse an 8 B model for memory first
        width, height = self.size
        object.__setattr__(self, "width", width)
        object.__setattr__(self, "height", height)
        for side in (width, height):
            if side % 8 or not 32 <= side <= MAX_SIDE:
                raise InputError(f"Unsupported size {self.width}x{self.height}: width and height must be multiples "
                                 f"of 8 between 32 and {MAX_SIDE}.")
        if not 0 <= self.preview_every <= self.steps:
            raise InputError(f"preview_every must be between 0 (none) and steps ({self.steps}).")
