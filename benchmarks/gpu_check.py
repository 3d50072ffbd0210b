"""The check to run whenever a CUDA machine is lent: every model task at its real widths.

The memory estimates (fold, text-to-image, complex), the autocast paths and the overhead ratios were
measured on the CPU only. Here, with random weights at the real models' widths (the weights are not
on these machines; the widths decide memory and speed):

- fold: ESMFold's widths (ESM-2 3B + the 48-block trunk), a 384-residue protein, through workbench's
  fold task and raw (`model(aatype)` in the same dtype);
- text-to-image: SD-Turbo's widths (SD 2.1 UNet, OpenCLIP-H text encoder, VAE), 512x512, 4 steps,
  through workbench's task and raw (`pipe(...)`);
- complex: Boltz-2's own widths, a 183-token protein + ATP, `predict_step` (memory only).

For each: the peak (`torch.cuda.max_memory_allocated`) against the task's own estimate (target: the
estimate is never below the peak and at most 1.5x it), workbench's run time over the raw library's
(the overhead), and the dtype the model's layers really computed in (autocast or half weights used
where the backend prefers them). One JSON line per figure. Without a CUDA device it prints one line
saying so and exits 0 (CI runs it that way).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROTEIN = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG" * 6
FOLD_LENGTH = 384


def emit(name: str, value: float | None, target: float, better: str) -> None:
    print(json.dumps({"name": name, "value": None if value is None else round(value, 3), "target": target,
                      "better": better}), flush=True)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def peak_of(fn: Callable[[], Any]) -> tuple[Any, int, float]:
    """(fn(), peak bytes allocated above what was allocated before, seconds)."""
    import torch

    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    t0 = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return out, torch.cuda.max_memory_allocated() - before, time.perf_counter() - t0


def dtype_seen(module: Any) -> Callable[[], str]:
    """The dtype the first Linear layer of `module` produced in its last call."""
    import torch

    seen = {"dtype": "none"}
    layer = next(m for m in module.modules() if isinstance(m, torch.nn.Linear))
    layer.register_forward_hook(lambda m, args, out: seen.update(dtype=str(out.dtype).replace("torch.", "")))
    return lambda: seen["dtype"]


def judge(task: str, case: str, estimate: int, used: int, raw_s: float, computed_in: str) -> None:
    """The figures of one task's check: the newest job's run time against the raw call's, the estimate
    against weights + peak, the dtype its layers computed in."""
    import workbench as wb

    job = wb.jobs()[0]
    run_s = job.finished - job.started
    say(f"{task} {case}: raw {raw_s:.2f} s, workbench {run_s:.2f} s; weights + peak {used / 2**30:.1f} GiB, "
        f"estimate {estimate / 2**30:.1f} GiB; computed in {computed_in}")
    emit(f"gpu_{task}_estimate_over_peak", estimate / used, 1.0, "higher")
    emit(f"gpu_{task}_overhead_vs_raw", run_s / raw_s, 1.1, "lower")
    emit(f"gpu_{task}_reduced_precision_used", float(computed_in != "float32"), 1.0, "higher")


def check_fold(device_id: str, dtype: str) -> None:
    import torch
    from transformers import EsmConfig, EsmForProteinFolding
    from transformers.models.esm.configuration_esm import get_default_vocab_list

    import workbench as wb
    from workbench import models
    from workbench.tasks.molecules import fold

    config = EsmConfig(  # ESM-2 3B; the folding trunk's defaults are ESMFold's own widths
        vocab_size=33, hidden_size=2560, num_hidden_layers=36, num_attention_heads=40, intermediate_size=10240,
        pad_token_id=1, mask_token_id=32, position_embedding_type="rotary", emb_layer_norm_before=False,
        token_dropout=True, is_folding_model=True, vocab_list=get_default_vocab_list(),
        esmfold_config={"fp16_esm": True, "trunk": {}})
    with torch.device("cuda"):
        model = EsmForProteinFolding(config).eval()
    model = fold.place_esmfold(model, "cuda:0", dtype)  # as the real loader places it
    parameters = sum(p.numel() for p in model.parameters())
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    models._loaded[("esmfold", "cuda:0", dtype, False)] = model  # workbench's cache: the task finds it loaded
    seen = dtype_seen(model.esm)
    sequence = PROTEIN[:FOLD_LENGTH]
    aatype = torch.tensor([fold._aatype(sequence)], device="cuda")

    def raw() -> None:
        with torch.inference_mode():
            model(aatype, attention_mask=torch.ones_like(aatype), num_recycles=0)

    raw()  # warm-up: kernels chosen, caches filled
    _, raw_peak, raw_s = peak_of(raw)
    result, peak, _ = peak_of(lambda: wb.run("fold", sequences=(sequence,), num_recycles=0, device=device_id))
    estimate = fold.estimate_memory(FOLD_LENGTH, weights_dtype_bytes=2 if dtype != "float32" else 4,
                                    chunk_size=result.chunk_size, parameters=parameters)
    judge("fold", f"{FOLD_LENGTH} residues in {dtype}", estimate, weight_bytes + max(peak, raw_peak), raw_s,
          seen())
    models.unload("esmfold")


def sd_turbo_widths(dtype: str) -> Any:
    """A StableDiffusionPipeline at SD-Turbo's widths (SD 2.1) with random weights."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from workbench.tasks.multimodal.tiny import tiny_tokenizer_files

    folder = tempfile.mkdtemp(prefix="wb-gpu-tok-")
    vocab, merges = tiny_tokenizer_files(Path(folder))
    with torch.device("cuda"):
        unet = UNet2DConditionModel(
            sample_size=96, block_out_channels=(320, 640, 1280, 1280), layers_per_block=2,
            cross_attention_dim=1024, attention_head_dim=(5, 10, 20, 20), use_linear_projection=True,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3)
        vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), latent_channels=4, layers_per_block=2,
                            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
        text = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=1024, intermediate_size=4096,
                                            num_hidden_layers=23, num_attention_heads=16, projection_dim=1024,
                                            hidden_act="gelu"))
    pipe = StableDiffusionPipeline(
        vae=vae, text_encoder=text, tokenizer=CLIPTokenizer(str(vocab), str(merges)), unet=unet,
        scheduler=EulerDiscreteScheduler(), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to("cuda:0", getattr(torch, dtype))


def check_text_to_image(device_id: str, dtype: str) -> None:
    import torch

    import workbench as wb
    from workbench import models
    from workbench.tasks.multimodal.text_to_image import Text2ImageRequest, estimate_memory

    pipe = sd_turbo_widths(dtype)
    weight_bytes = sum(p.numel() * p.element_size() for c in (pipe.unet, pipe.vae, pipe.text_encoder)
                       for p in c.parameters())
    models._loaded[("sd-turbo", "cuda:0", dtype, False)] = pipe
    seen = dtype_seen(pipe.unet)
    fields = dict(prompt="a red cube on a table", model="sd-turbo", steps=4, guidance=0.0, width=512, height=512)

    def raw() -> None:
        pipe(prompt=fields["prompt"], num_inference_steps=4, guidance_scale=0.0, width=512, height=512,
             generator=torch.Generator("cpu").manual_seed(0))

    raw()
    _, raw_peak, raw_s = peak_of(raw)
    _, peak, _ = peak_of(lambda: wb.run("text-to-image", **fields, device=device_id))
    estimate = estimate_memory(Text2ImageRequest(**fields), "sd-turbo", weight_bytes=2 if dtype != "float32" else 4)
    judge("text_to_image", f"512x512, 4 steps in {dtype}", estimate, weight_bytes + max(peak, raw_peak), raw_s,
          seen())
    models.unload("sd-turbo")


def check_complex() -> None:
    import shutil

    import torch
    from complex import full_width_case  # benchmarks/complex.py, beside this script

    from workbench.tasks.molecules.complexes import predict

    module, batch, tokens, atoms, parameters, folder = full_width_case(PROTEIN[:180], "cuda:0")

    def run() -> None:
        with torch.inference_mode():
            module.predict_step(batch, 0)

    _, peak, seconds = peak_of(run)
    shutil.rmtree(folder, ignore_errors=True)
    estimate = predict.estimate_memory(tokens, atoms, parameters=parameters)
    used = parameters * 4 + peak
    say(f"complex {tokens} tokens / {atoms} atoms at Boltz-2's widths: {seconds:.2f} s; weights + peak "
        f"{used / 2**30:.2f} GiB, estimate {estimate / 2**30:.2f} GiB")
    emit("gpu_complex_estimate_over_peak", estimate / used, 1.0, "higher")


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: skipped: no CUDA device here (torch.cuda.is_available() is False); run it on a machine "
              "with one to measure the memory estimates, overheads and autocast at the real widths.")
        return 0
    os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix="wb-gpu-check-"))
    os.environ["WORKBENCH_ISOLATE"] = "native"  # the models injected below live in this process
    from workbench.scheduling import registry

    device = registry.get("cuda:0")
    dtype = device.backend.compute_dtype()
    say(f"{device.capabilities.name}: workbench computes in {dtype}")
    failed = []
    for name, check in (("fold", lambda: check_fold("cuda:0", dtype)),
                        ("text-to-image", lambda: check_text_to_image("cuda:0", dtype)),
                        ("complex", check_complex)):
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - one task's failure must not hide the others' figures
            failed.append(name)
            say(f"{name}: FAILED: {type(exc).__name__}: {exc}")
        torch.cuda.empty_cache()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
