"""Command-line options for each task: how `workbench run TASK ...` builds its request.

This is view code: it only turns flags into a task's request. Each entry adds the
task's own options to its sub-parser and converts the parsed namespace.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TaskArgs:
    add: Callable[[argparse.ArgumentParser], None]
    request: Callable[[argparse.Namespace], Any]


def _csv(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _selftest_add(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dtypes", type=_csv, default=("float32",),
                   help="comma-separated dtypes to check (default: float32)")
    p.add_argument("--seed", type=int, default=0)


def _selftest_request(a: argparse.Namespace) -> Any:
    from workbench.tasks.selftest import SelftestRequest

    return SelftestRequest(dtypes=a.dtypes, seed=a.seed)


def _profile_add(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=float, default=0.3, help="time budget per figure")


def _profile_request(a: argparse.Namespace) -> Any:
    from workbench.tasks.profile import ProfileRequest

    return ProfileRequest(seconds_per_figure=a.seconds)


def _conformers_add(p: argparse.ArgumentParser) -> None:
    p.add_argument("--smiles", action="append", default=[], metavar="SMILES",
                   help="a SMILES (optionally followed by a space and a name); repeat for more")
    p.add_argument("--sdf", action="append", default=[], metavar="FILE",
                   help="an SDF, MOL or SMI file; repeat for more")
    p.add_argument("--num", type=int, default=50, help="conformers to embed per molecule (default 50)")
    p.add_argument("--prune-rms", type=float, default=0.5, help="Å heavy-atom RMSD pruning (default 0.5)")
    p.add_argument("--force-field", default="MMFF94s", choices=["MMFF94s", "MMFF94", "UFF", "none"])
    p.add_argument("--energy-window", type=float, default=None, help="kcal/mol above the minimum to keep")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--workers", type=int, default=1, help="worker processes for a batch")


def _conformers_request(a: argparse.Namespace) -> Any:
    from workbench.tasks.molecules.conformers import ConformerRequest

    return ConformerRequest(smiles=tuple(a.smiles), files=tuple(a.sdf), num_conformers=a.num,
                            prune_rms=a.prune_rms, force_field=a.force_field,
                            energy_window=a.energy_window, seed=a.seed, workers=a.workers)


def _fold_add(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sequence", action="append", default=[], metavar="SEQ",
                   help="a protein sequence; chains of a complex joined by ':'; repeat for more")
    p.add_argument("--fasta", help="a FASTA file")
    p.add_argument("--num-recycles", type=int, default=None)
    p.add_argument("--chunk-size", type=int, default=None, help="trunk chunk size (default: from free memory)")
    p.add_argument("--tiny", action="store_true", help="random tiny model of the same architecture (testing)")


def _fold_request(a: argparse.Namespace) -> Any:
    from workbench.tasks.molecules.fold import FoldRequest

    return FoldRequest(sequences=tuple(a.sequence), fasta=a.fasta, num_recycles=a.num_recycles,
                       chunk_size=a.chunk_size, tiny=a.tiny)


def _count_add(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--delay", type=float, default=0.01)


def _count_request(a: argparse.Namespace) -> Any:
    from workbench.tasks.diagnostics import CountRequest

    return CountRequest(steps=a.steps, delay=a.delay)


def _grasp_add(p: argparse.ArgumentParser) -> None:
    p.add_argument("--object", default="box",
                   help="a mesh file (OBJ/STL/PLY), box:X,Y,Z, cylinder:R,H, sphere:R (metres), or a bundled "
                        "object: box, can, ball, bar, wide-box")
    p.add_argument("--num", type=int, default=20, help="grasps to sample and evaluate")
    p.add_argument("--gripper", default="parallel-jaw")
    p.add_argument("--max-opening", type=float, default=None, help="m")
    p.add_argument("--force", type=float, default=None, help="N per finger")
    p.add_argument("--mass", type=float, default=None, help="kg (default: density x volume)")
    p.add_argument("--density", type=float, default=500.0)
    p.add_argument("--friction", type=float, default=1.0)
    p.add_argument("--scale", type=float, default=1.0, help="mesh units to metres")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--render", type=int, action="append", default=None, metavar="TRIAL",
                   help="render this trial to PNG + GIF (default: trial 0; -1 for none); repeat for more")


def _grasp_request(a: argparse.Namespace) -> Any:
    from workbench.tasks.grasping.grasp import GraspRequest

    return GraspRequest(object=a.object, num_grasps=a.num, gripper=a.gripper, max_opening=a.max_opening,
                        force=a.force, mass=a.mass, density=a.density, friction=a.friction, scale=a.scale,
                        seed=a.seed, workers=a.workers,
                        render=tuple(i for i in (a.render if a.render is not None else [0]) if i >= 0))


def _t2i_add(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prompt", required=True)
    p.add_argument("--negative-prompt", default="")
    p.add_argument("--model", default="auto", help="sd-turbo, sdxl-turbo, sdxl, any diffusers repo id, or auto")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--guidance", type=float, default=0.0)
    p.add_argument("--width", type=int, default=512)
    p.add_argument("--height", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-images", type=int, default=1)
    p.add_argument("--tiny", action="store_true", help="tiny random pipeline of the same architecture (testing)")


def _t2i_request(a: argparse.Namespace) -> Any:
    from workbench.tasks.multimodal.text_to_image import Text2ImageRequest

    return Text2ImageRequest(prompt=a.prompt, negative_prompt=a.negative_prompt, model=a.model, steps=a.steps,
                             guidance=a.guidance, width=a.width, height=a.height, seed=a.seed,
                             num_images=a.num_images, tiny=a.tiny)


def _understand_add(p: argparse.ArgumentParser, question: bool) -> None:
    p.add_argument("--image", required=True, help="PNG / JPEG / WebP file")
    if question:
        p.add_argument("--question", required=True)
    p.add_argument("--model", default="smolvlm")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--tiny", action="store_true", help="tiny random model of a real architecture (testing)")


def _understand_request(a: argparse.Namespace) -> Any:
    from workbench.tasks.multimodal.understand import UnderstandRequest, VQARequest

    cls = VQARequest if getattr(a, "question", None) is not None else UnderstandRequest
    return cls(image=a.image, question=getattr(a, "question", "") or "", model=a.model,
               max_new_tokens=a.max_new_tokens, tiny=a.tiny)


TASK_ARGS: dict[str, TaskArgs] = {
    "caption": TaskArgs(lambda p: _understand_add(p, False), _understand_request),
    "vqa": TaskArgs(lambda p: _understand_add(p, True), _understand_request),
    "text-to-image": TaskArgs(_t2i_add, _t2i_request),
    "grasp": TaskArgs(_grasp_add, _grasp_request),
    "count": TaskArgs(_count_add, _count_request),
    "fold": TaskArgs(_fold_add, _fold_request),
    "conformers": TaskArgs(_conformers_add, _conformers_request),
    "selftest": TaskArgs(_selftest_add, _selftest_request),
    "profile": TaskArgs(_profile_add, _profile_request),
}
