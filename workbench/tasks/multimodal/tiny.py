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

from workbench.tasks.word_tokenizer import word_level_tokenizer

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
    pipe: Any = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_tiny(path: Path | None, device: str, dtype: str) -> Any:
    """`tiny-sd` without tiny=True: the same random pipeline (it has no weights to load)."""
    return tiny_text_to_image(seed=0).to(device)


TINY_WORDS = ("<unk> <pad> <s> </s> <image> USER: ASSISTANT: a an the this that is are what which of in on with "
              "and image picture photo cat dog cube ball red green blue small large one two describe sentence . , ?")


def tiny_vision_language(seed: int = 0) -> Any:
    """A tiny random LLaVA (CLIP vision tower + Llama decoder) with a word-level tokenizer and a
    chat template, as `AutoModelForImageTextToText` / `AutoProcessor` would load it."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    from workbench.tasks.multimodal.understand import VisionLanguageModel

    tokenizer, vocab = word_level_tokenizer(TINY_WORDS.split(), bos_token="<s>", eos_token="</s>")
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    template = ("{% for m in messages %}{% if m['role'] == 'user' %}USER: {% for c in m['content'] %}"
                "{% if c['type'] == 'image' %}<image> {% else %}{{ c['text'] }} {% endif %}{% endfor %}"
                "{% endif %}{% endfor %}ASSISTANT:")
    tokenizer.chat_template = template
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        tokenizer=tokenizer, patch_size=8, num_additional_image_tokens=1,
        vision_feature_select_strategy="default", chat_template=template)
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                                       num_attention_heads=4, image_size=32, patch_size=8),
        text_config=LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=37,
                                num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                max_position_embeddings=4096, pad_token_id=1, bos_token_id=2, eos_token_id=3),
        image_token_index=vocab["<image>"], projector_hidden_act="gelu", vision_feature_select_strategy="default",
        vision_feature_layer=-1)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlavaForConditionalGeneration(config).eval()
    return VisionLanguageModel(model, processor)


def load_tiny_vlm(path: Path | None, device: str, dtype: str) -> Any:
    return tiny_vision_language(seed=0).to(device)


def tiny_janus(seed: int = 0) -> Any:
    """A tiny random Janus (SigLIP-style vision encoder, Llama decoder, VQ image tokenizer) with a
    word-level tokenizer carrying the image special tokens, as its processor expects."""
    import torch
    from transformers import (
        JanusConfig,
        JanusForConditionalGeneration,
        JanusImageProcessor,
        JanusProcessor,
    )

    from workbench.tasks.multimodal.understand import VisionLanguageModel

    words = ("<unk> <pad> <s> </s> <image_placeholder> <begin_of_image> <end_of_image> <|User|>: <|Assistant|>: "
             + TINY_WORDS.split(" ", 7)[-1]).split()
    tokenizer, vocab = word_level_tokenizer(
        words, bos_token="<s>", eos_token="</s>",
        extra_special_tokens={"image_token": "<image_placeholder>", "boi_token": "<begin_of_image>",
                              "eoi_token": "<end_of_image>"})
    template = ("{% for m in messages %}{% if m['role'] == 'user' %}<|User|>: {% for c in m['content'] %}"
                "{% if c['type'] == 'image' %}<image_placeholder> {% else %}{{ c['text'] }} {% endif %}"
                "{% endfor %}{% endif %}{% endfor %}<|Assistant|>:")
    tokens = 16
    processor = JanusProcessor(image_processor=JanusImageProcessor(size={"height": 32, "width": 32}, min_size=8),
                               tokenizer=tokenizer, chat_template=template, num_image_tokens=tokens,
                               use_default_system_prompt=False)
    config = JanusConfig(
        text_config={"model_type": "llama", "vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 37,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                     "max_position_embeddings": 512, "pad_token_id": 1, "bos_token_id": 2, "eos_token_id": 3},
        vision_config={"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4,
                       "image_size": 32, "patch_size": 8, "projection_dim": 32, "num_image_tokens": tokens},
        vq_config={"embed_dim": 8, "num_embeddings": 64, "base_channels": 32, "channel_multiplier": [1, 1, 1, 1],
                   "num_res_blocks": 1, "latent_channels": 8, "image_token_embed_dim": 32, "num_patches": 4,
                   "projection_dim": 32},
        image_token_id=vocab["<image_placeholder>"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = JanusForConditionalGeneration(config).eval()
    model.generation_config.generation_kwargs = {"boi_token_id": vocab["<begin_of_image>"]}
    return VisionLanguageModel(model, processor)


def load_tiny_janus(path: Path | None, device: str, dtype: str) -> Any:
    return tiny_janus(seed=0).to(device)


def tiny_emu3(seed: int = 0) -> Any:
    """A tiny random Emu3 (VQ image tokenizer + Llama-style decoder over text and visual tokens) with
    a word-level tokenizer holding 64 visual tokens and Emu3's special tokens."""
    import torch
    from transformers import (
        Emu3Config,
        Emu3ForConditionalGeneration,
        Emu3ImageProcessor,
        Emu3Processor,
    )

    from workbench.tasks.multimodal.understand import VisionLanguageModel

    special = ["<unk>", "<pad>", "<|extra_203|>", "<|extra_204|>", "<image>", "<|image start|>", "<|image end|>",
               "<|image token|>", "<|extra_201|>", "<|extra_200|>"]
    visual = [f"<|visual token {i:06d}|>" for i in range(64)]
    words = special + visual + ["USER:", "ASSISTANT:"] + TINY_WORDS.split()[7:]
    tokenizer, vocab = word_level_tokenizer(
        words, bos_token="<|extra_203|>", eos_token="<|extra_204|>",
        extra_special_tokens={"image_token": "<image>", "boi_token": "<|image start|>", "eoi_token": "<|image end|>",
                              "image_wrapper_token": "<|image token|>", "eof_token": "<|extra_201|>"})
    template = ("{% for m in messages %}{% if m['role'] == 'user' %}USER: {% for c in m['content'] %}"
                "{% if c['type'] == 'image' %}<image> {% else %}{{ c['text'] }} {% endif %}{% endfor %}"
                "{% endif %}{% endfor %}ASSISTANT:")
    processor = Emu3Processor(image_processor=Emu3ImageProcessor(min_pixels=32 * 32, max_pixels=32 * 32,
                                                                 spatial_factor=8),
                              tokenizer=tokenizer, chat_template=template)
    config = Emu3Config(
        vq_config={"codebook_size": 64, "embed_dim": 4, "latent_channels": 4, "base_channels": 32,
                   "channel_multiplier": [1, 1, 1, 1], "num_res_blocks": 1, "attn_resolutions": [],
                   "hidden_size": 32, "num_attention_heads": 1, "temporal_downsample_factor": 4},
        text_config={"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 37,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                     "max_position_embeddings": 512, "pad_token_id": 1, "bos_token_id": 2, "eos_token_id": 3},
        vocabulary_map=vocab)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Emu3ForConditionalGeneration(config).eval()
    return VisionLanguageModel(model, processor)


def load_tiny_emu3(path: Path | None, device: str, dtype: str) -> Any:
    return tiny_emu3(seed=0).to(device)
