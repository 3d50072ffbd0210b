"""Model registry: short ids -> where the weights live and how to load them.

Weights come from the Hugging Face cache through `huggingface_hub`; nothing here
downloads implicitly. `pull` fetches, `local_path` only looks, and a missing model
raises `ModelNotAvailable` with the one command that fixes it. Loaded models are
kept per (model, device, dtype) so a second job on a device never loads weights again;
`load_counts` lets tests and benchmarks check that.

Tiny, randomly initialised builders of the real architectures live beside the loaders
(`ModelSpec.tiny`); tests and offline demos use them through the same `load` path.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.contract.errors import InputError, ModelNotAvailable


@dataclass(frozen=True)
class ModelSpec:
    id: str  #: what users type: "esmfold"
    task: str  #: the task that uses it
    description: str
    loader: str  #: "module:function(path: Path | None, device: str, dtype: str) -> model"
    repo_id: str | None = None  #: Hugging Face repo; None for models built in code
    revision: str | None = None
    size_hint: str = ""  #: download size, for people deciding whether to pull
    tiny: str | None = None  #: "module:function(seed: int) -> model", random weights, for tests
    allow_patterns: tuple[str, ...] | None = None
    parameters: float = 0  #: for memory estimates before loading (0: unknown)
    place: str | None = None  #: "module:function(model, device, dtype) -> model" when `.to` is not enough


MODELS: dict[str, ModelSpec] = {}
#: a diffusers repo id not in the registry is estimated as an SD 2.x-class pipeline
DEFAULT_DIFFUSION_PARAMETERS = 1.3e9


def register(spec: ModelSpec) -> ModelSpec:
    MODELS[spec.id] = spec
    return spec


register(ModelSpec(
    id="tiny-transformer", task="selftest",
    description="2-layer transformer encoder built in code (seeded); the device self-test model.",
    loader="workbench.models:build_tiny_transformer",
))
register(ModelSpec(
    id="esmfold", task="fold", repo_id="facebook/esmfold_v1",
    description="ESMFold v1 protein structure prediction (ESM-2 3B + folding trunk).",
    loader="workbench.tasks.molecules.fold:load_esmfold",
    tiny="workbench.tasks.molecules.fold:tiny_esmfold", size_hint="8.4 GB",
    place="workbench.tasks.molecules.fold:place_esmfold",
    allow_patterns=("*.json", "*.txt", "*.safetensors", "*.bin"), parameters=3.5e9,
))

register(ModelSpec(
    id="boltz-2", task="complex", repo_id="boltz-community/boltz-2",
    description="Boltz-2 all-atom co-folding (proteins, DNA, RNA, ligands) with its chemical component dictionary.",
    loader="workbench.tasks.molecules.complexes.model:load_boltz2",
    tiny="workbench.tasks.molecules.complexes.model:tiny_boltz2", size_hint="4.4 GB",
    allow_patterns=("boltz2_conf.ckpt", "mols.tar"), parameters=5.07e8,
))

register(ModelSpec(
    id="boltz-2-affinity", task="complex", repo_id="boltz-community/boltz-2",
    description="Boltz-2's affinity model (binding affinity and binder probability of one ligand), run after "
                "co-folding when a complex asks for affinity.",
    loader="workbench.tasks.molecules.complexes.model:load_boltz2_affinity",
    tiny="workbench.tasks.molecules.complexes.model:tiny_boltz2_affinity", size_hint="2.1 GB",
    allow_patterns=("boltz2_aff.ckpt", "mols.tar"), parameters=5.07e8,
))

register(ModelSpec(
    id="sd-turbo", task="text-to-image", repo_id="stabilityai/sd-turbo",
    description="SD-Turbo: 1-4 step text-to-image, the small default for laptops and CPUs.",
    loader="workbench.tasks.multimodal.text_to_image:load_text_to_image",
    tiny="workbench.tasks.multimodal.tiny:tiny_text_to_image", size_hint="5.2 GB", parameters=1.3e9,
    allow_patterns=("*.json", "*.txt", "*.fp16.safetensors", "*/*.json", "*/*.txt", "*/*.fp16.safetensors"),
))
register(ModelSpec(
    id="sdxl-turbo", task="text-to-image", repo_id="stabilityai/sdxl-turbo",
    description="SDXL-Turbo: 1-4 step text-to-image at 512 px.",
    loader="workbench.tasks.multimodal.text_to_image:load_text_to_image", size_hint="7 GB", parameters=3.5e9,
    allow_patterns=("*.json", "*.txt", "*/*.json", "*/*.txt", "*/*.fp16.safetensors"),
))
register(ModelSpec(
    id="sdxl", task="text-to-image", repo_id="stabilityai/stable-diffusion-xl-base-1.0",
    description="SDXL base 1.0: the quality default on GPUs with 12 GiB or more.",
    loader="workbench.tasks.multimodal.text_to_image:load_text_to_image", size_hint="7 GB", parameters=3.5e9,
    allow_patterns=("*.json", "*.txt", "*/*.json", "*/*.txt", "*/*.fp16.safetensors"),
))
register(ModelSpec(
    id="tiny-sd", task="text-to-image",
    description="A tiny random Stable Diffusion pipeline built in code (tests and teaching, no download).",
    loader="workbench.tasks.multimodal.tiny:load_tiny", tiny="workbench.tasks.multimodal.tiny:tiny_text_to_image",
))


register(ModelSpec(
    id="smolvlm", task="caption / vqa", repo_id="HuggingFaceTB/SmolVLM-256M-Instruct",
    description="SmolVLM 256M Instruct: small image-text-to-text model for captions and questions.",
    loader="workbench.tasks.multimodal.understand:load_vlm", size_hint="0.5 GB", parameters=0.26e9,
))
register(ModelSpec(
    id="tiny-vlm", task="caption / vqa",
    description="A tiny random LLaVA (CLIP vision + Llama) built in code (tests and teaching).",
    loader="workbench.tasks.multimodal.tiny:load_tiny_vlm",
    tiny="workbench.tasks.multimodal.tiny:tiny_vision_language",
))


register(ModelSpec(
    id="janus", task="unified (caption / vqa / text-to-image)", repo_id="deepseek-community/Janus-Pro-1B",
    description="Janus-Pro 1B: one autoregressive model that answers about images and draws them.",
    loader="workbench.tasks.multimodal.understand:load_vlm", tiny="workbench.tasks.multimodal.tiny:tiny_janus",
    size_hint="4.1 GB", parameters=2.0e9,
))
register(ModelSpec(
    id="tiny-janus", task="unified (caption / vqa / text-to-image)",
    description="A tiny random Janus built in code (tests and teaching).",
    loader="workbench.tasks.multimodal.tiny:load_tiny_janus", tiny="workbench.tasks.multimodal.tiny:tiny_janus",
))
register(ModelSpec(
    id="emu3-chat", task="caption / vqa", repo_id="BAAI/Emu3-Chat-hf",
    description="Emu3 Chat: the understanding side of the Emu3 unified model.",
    loader="workbench.tasks.multimodal.understand:load_vlm", tiny="workbench.tasks.multimodal.tiny:tiny_emu3",
    size_hint="17 GB", parameters=8.5e9,
))
register(ModelSpec(
    id="emu3-gen", task="text-to-image", repo_id="BAAI/Emu3-Gen-hf",
    description="Emu3 Gen: the drawing side of the Emu3 unified model (next-token image generation).",
    loader="workbench.tasks.multimodal.understand:load_vlm", tiny="workbench.tasks.multimodal.tiny:tiny_emu3",
    size_hint="17 GB", parameters=8.5e9,
))
register(ModelSpec(
    id="tiny-emu3", task="unified (caption / vqa / text-to-image)",
    description="A tiny random Emu3 built in code (tests and teaching).",
    loader="workbench.tasks.multimodal.tiny:load_tiny_emu3", tiny="workbench.tasks.multimodal.tiny:tiny_emu3",
))
register(ModelSpec(
    id="qwen2.5-0.5b-instruct", task="place (instruction parsing)", repo_id="Qwen/Qwen2.5-0.5B-Instruct",
    description="Qwen2.5 0.5B Instruct: rewrites a free-text request as one instruction the rule parser checks.",
    loader="workbench.tasks.rearrange.language:load_instruction_lm",
    tiny="workbench.tasks.rearrange.language:tiny_instruction_lm", size_hint="1.0 GB", parameters=0.49e9,
))
register(ModelSpec(
    id="tiny-instruct", task="place (instruction parsing)",
    description="A tiny random Qwen2 decoder built in code (tests and teaching; its readings are noise).",
    loader="workbench.tasks.rearrange.language:load_tiny_instruction_lm",
    tiny="workbench.tasks.rearrange.language:tiny_instruction_lm",
))


def build_tiny_transformer(path: Path | None, device: str, dtype: str) -> Any:
    import torch

    torch_dtype = getattr(torch, dtype)
    g = torch.random.fork_rng(devices=[])
    with g:
        torch.manual_seed(1234)
        layer = torch.nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128,
                                                 dropout=0.0, batch_first=True)
        model = torch.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
    model.d_model = 64  # type: ignore[assignment]  # read by the selftest; torch's hint for attributes is Tensor | Module
    return model.eval().to(device=device, dtype=torch_dtype)


def get_spec(model_id: str) -> ModelSpec:
    """The registry entry; a Hugging Face repo id ("org/name") becomes a text-to-image entry."""
    if model_id in MODELS:
        return MODELS[model_id]
    if "/" in model_id and " " not in model_id:
        return register(ModelSpec(
            id=model_id, task="text-to-image", repo_id=model_id, description=f"{model_id} (diffusers)",
            loader="workbench.tasks.multimodal.text_to_image:load_text_to_image"))
    raise InputError(f"Unknown model {model_id!r}. Known models: {', '.join(sorted(MODELS))}.")


def _import(target: str) -> Callable[..., Any]:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def _patterns(spec: ModelSpec) -> list[str] | None:
    """The spec's file patterns as huggingface_hub takes them (a list)."""
    return list(spec.allow_patterns) if spec.allow_patterns is not None else None


def _missing_sentence(spec: ModelSpec) -> str:
    return (
        f"The weights of {spec.id!r} ({spec.repo_id}) are not in the local Hugging Face cache; "
        f"run `workbench models pull {spec.id}` on a machine with internet access "
        "(or copy its Hugging Face cache here)."
    )


def local_path(model_id: str) -> Path | None:
    """The cached snapshot folder, None for models built in code; never downloads."""
    spec = get_spec(model_id)
    if spec.repo_id is None:
        return None
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        # the cache folder as the environment says now (huggingface_hub reads it once, at import)
        cache = os.environ.get("HF_HUB_CACHE") or None
        return Path(snapshot_download(spec.repo_id, revision=spec.revision, cache_dir=cache,
                                      local_files_only=True, allow_patterns=_patterns(spec)))
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        raise ModelNotAvailable(_missing_sentence(spec)) from None


def is_cached(model_id: str) -> bool:
    try:
        local_path(model_id)
    except ModelNotAvailable:
        return False
    return True


def cached_size(model_id: str) -> int:
    try:
        path = local_path(model_id)
    except ModelNotAvailable:
        return 0
    if path is None:
        return 0
    return sum(p.resolve().stat().st_size for p in path.rglob("*") if p.is_file())


def pull(model_id: str) -> Path | None:
    """Download (or verify) a model into the Hugging Face cache."""
    spec = get_spec(model_id)
    if spec.repo_id is None:
        return None
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(spec.repo_id, revision=spec.revision,
                                      allow_patterns=_patterns(spec)))
    except Exception as exc:
        raise ModelNotAvailable(
            f"Could not download {spec.id!r} ({spec.repo_id}): {type(exc).__name__}. "
            "Check the network (or HF_ENDPOINT / HF_TOKEN), or copy a Hugging Face cache "
            "that holds it into HF_HOME."
        ) from None


def list_models() -> list[dict[str, Any]]:
    rows = []
    for spec in MODELS.values():
        cached = spec.repo_id is None or is_cached(spec.id)
        rows.append({
            "id": spec.id, "task": spec.task, "repo_id": spec.repo_id,
            "description": spec.description, "cached": cached,
            "size_bytes": cached_size(spec.id) if spec.repo_id else 0,
            "download_size": spec.size_hint, "builtin": spec.repo_id is None,
        })
    return rows


# ---- loaded-model cache -----------------------------------------------------------------

_loaded: dict[tuple[str, str, str, bool], Any] = {}
_key_locks: dict[tuple[str, str, str, bool], threading.Lock] = {}
_cache_lock = threading.Lock()
load_counts: Counter[str] = Counter()  #: how often each model's weights were really loaded


def quiet_libraries() -> None:
    """transformers' and diffusers' warnings that a user cannot act on (an optional torchvision missing,
    the tokenizer's length notice next to workbench's own truncation note, dtype casting advice for the
    tiny models) stay out of the CLI and the notebooks; errors still show."""
    for name in ("transformers", "diffusers"):
        try:
            logging = importlib.import_module(f"{name}.utils.logging")
        except ImportError:
            continue
        logging.set_verbosity_error()
        logging.disable_progress_bar()  # "Loading weights" bars; workbench reports its own progress


def load(model_id: str, device: str, dtype: str = "float32", *, tiny: bool = False) -> Any:
    """The model on `device` in `dtype`, loaded once per process and then reused.

    `tiny=True` builds the randomly initialised test-size model of the same architecture.
    """
    spec = get_spec(model_id)
    key = (model_id, str(device), dtype, tiny)
    with _cache_lock:
        if key in _loaded:
            return _loaded[key]
        lock = _key_locks.setdefault(key, threading.Lock())
    with lock:  # two jobs asking at once load once
        if key in _loaded:
            return _loaded[key]
        quiet_libraries()
        if tiny:
            if spec.tiny is None:
                raise InputError(f"Model {model_id!r} has no tiny test version.")
            model = _import(spec.tiny)(seed=0)
            if spec.place:
                model = _import(spec.place)(model, device, dtype)
            elif hasattr(model, "to"):  # the tiny twin runs in the dtype the device's backend chose
                import torch

                model = model.to(device=device, dtype=getattr(torch, dtype))
        else:
            path = local_path(model_id)
            model = _import(spec.loader)(path, device, dtype)
        load_counts[model_id] += 1
        with _cache_lock:
            _loaded[key] = model
        return model


def unload(model_id: str | None = None) -> None:
    """Forget loaded models (all, or one id) so memory can be freed."""
    with _cache_lock:
        for key in [k for k in _loaded if model_id is None or k[0] == model_id]:
            del _loaded[key]


_use_locks: dict[int, threading.Lock] = {}


def exclusive(model: Any) -> threading.Lock:
    """A lock for a loaded model that keeps state while it runs (a diffusers scheduler, progress
    hooks, a chunk size). Two jobs on one device run on two threads; they take turns on it."""
    with _cache_lock:
        return _use_locks.setdefault(id(model), threading.Lock())
