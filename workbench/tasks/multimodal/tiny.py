"""Tiny, randomly initialised models of the real architectures, built in code (no hub).

The text-to-image pipeline is a real `StableDiffusionPipeline` (UNet2DConditionModel,
AutoencoderKL, CLIPTextModel, CLIPTokenizer, Euler scheduler) at toy size; its tokenizer
vocabulary is written to a temporary folder (letters and a few symbols, no merges).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

TINY_MAX_TOKENS = 16


def tiny_tokenizer_files(folder: Path) -> tuple[Path, Path]:
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in [chr(c) for c in range(97, 123)] + list("0123456789 .,!?-"):
        vocab.setdefault(ch, len(vocab))
        vocab.setdefault(ch + "</w>", len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    return folder / "vocab.json", folder / "merges.txt"


def tiny_text_to_image(seed: int = 0) -> Any:
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    folder = Path(tempfile.mkdtemp(prefix="workbench-tiny-sd-"))
    vocab, merges = tiny_tokenizer_files(folder)
    tokenizer = CLIPTokenizer(str(vocab), str(merges), model_max_length=TINY_MAX_TOKENS)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            block_out_channels=(32, 64), layers_per_block=1, sample_size=16, in_channels=4, out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32, norm_num_groups=8)
        vae = AutoencoderKL(
            block_out_channels=(16, 32), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=8,
            down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2, sample_size=32)
        text_encoder = CLIPTextModel(CLIPTextConfig(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37, num_attention_heads=4,
            num_hidden_layers=2, max_position_embeddings=TINY_MAX_TOKENS, bos_token_id=0, eos_token_id=1,
            pad_token_id=1))
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       num_train_timesteps=1000, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_tiny(path: Path | None, device: str, dtype: str) -> Any:
    """`tiny-sd` without tiny=True: the same random pipeline (it has no weights to load)."""
    return tiny_text_to_image(seed=0).to(device)
