"""Complex co-folding overhead and memory: the workbench `complex` job against `boltz predict`.

One run, one machine, the same tiny Boltz-2 checkpoint (Boltz's own classes, random weights) and
the same component dictionary on both sides:

- boltz: Boltz's own command, `boltz predict input.yaml --checkpoint ... --cache ...`, called
  in-process through its click entry point (preprocessing, Lightning trainer, writer), as a user
  runs it; each call loads the checkpoint, as `boltz predict` always does;
- workbench: `wb.run("complex", yaml=...)` with the same YAML, recycling and sampling steps, loaded
  through the real loader from a hub-layout cache (the model stays loaded between jobs, as it does
  for a user), PoseBusters and plots off so both sides write the same files;
- memory: the job's own estimate against the peak resident memory measured while the job runs
  (sampled every 2 ms above the resident set before it starts).

- memory at Boltz-2's own widths (0.5 B parameters, random weights: the real weights are not here):
  `predict_step` on a 183-token protein + ATP complex, peak resident memory above the features
  against the estimate the job would make; and the same for the affinity model (Boltz-2's network with
  its two affinity modules) in a job asking for affinity (BENCH_FULL=0 skips both; minutes on 2 cores).

Headline figures (one JSON line each): boltz time / workbench time (target >= 0.95, i.e. at most 5%
overhead) and estimate / measured peak (target >= 1: the estimate is never below the peak), for the
tiny model and at full width.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PROTEIN = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"
RECYCLING, SAMPLING, REPEATS = 1, 20, 3


def peak_rss_during(fn) -> tuple[object, int, int]:
    """(fn(), resident bytes before, peak resident bytes while it ran)."""
    import psutil

    proc = psutil.Process()
    before = proc.memory_info().rss
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        out = fn()
    finally:
        done.set()
        thread.join()
    return out, before, peak[0]


def full_width_case(protein: str, device: str = "cpu") -> tuple[Any, dict, int, int, int, Path]:
    """Boltz-2 at its own widths (random weights) on `device`, one short pass set up for `protein` + ATP:
    (module, features, tokens, atoms, parameters, scratch folder)."""
    from workbench.tasks.molecules.complexes import inputs, predict
    from workbench.tasks.molecules.complexes.model import build_module, tiny_components

    module = build_module("full").to(device).eval()
    parameters = sum(p.numel() for p in module.parameters())
    ents = inputs.from_fields((protein,), (), (), (), ("ATP",))
    mols = tiny_components()
    folder = Path(tempfile.mkdtemp(prefix="wb-bench-full-"))
    batch = predict.features(predict._prepare(ents, {}, "full", mols, folder), mols, device)
    tokens, atoms = int(batch["token_pad_mask"].sum()), int(batch["atom_pad_mask"].sum())
    module.predict_args.update({"recycling_steps": 0, "sampling_steps": 2, "diffusion_samples": 1,
                                "max_parallel_samples": 1})
    return module, batch, tokens, atoms, parameters, folder


def full_width_memory() -> tuple[int, int, int]:
    """(tokens, estimate, weights + measured peak activations) for Boltz-2 at its own widths."""
    import torch

    from workbench.tasks.molecules.complexes import predict

    module, batch, tokens, atoms, parameters, folder = full_width_case(PROTEIN * 2)

    def run() -> None:
        with torch.inference_mode():
            module.predict_step(batch, 0)

    _, before, peak = peak_rss_during(run)
    shutil.rmtree(folder, ignore_errors=True)
    return tokens, predict.estimate_memory(tokens, atoms, parameters=parameters), parameters * 4 + (peak - before)


def full_width_affinity_memory() -> tuple[int, int, int]:
    """(tokens, estimate, weights + measured peak) for Boltz-2's affinity model at its own widths (random
    weights): a complex job asking for affinity runs in this process with the full-width affinity model in
    place of the tiny one, so the affinity pass is measured on the real crop of a real pose."""
    import workbench as wb
    from workbench import models
    from workbench.tasks.molecules.complexes.model import Boltz2Bundle, build_module, tiny_components
    from workbench.tasks.molecules.complexes.predict import affinity_memory

    full = build_module("full", 1, affinity=True).eval()
    parameters = sum(p.numel() for p in full.parameters())
    with models._cache_lock:  # the affinity model this job loads: Boltz-2's widths, not the tiny twin's
        models._loaded[("boltz-2-affinity", "cpu", "float32", True)] = Boltz2Bundle(full, tiny_components(), None,
                                                                                     tiny=True)
    fields = {"proteins": (PROTEIN * 2,), "ligand_ccd": ("ATP",), "affinity": "B", "tiny": True,
              "recycling_steps": 0, "sampling_steps": 2, "affinity_samples": 1, "affinity_sampling_steps": 2,
              "checks": False, "plots": False, "device": "cpu"}
    result, before, peak = peak_rss_during(lambda: wb.run("complex", **fields))
    models.unload("boltz-2-affinity")
    tokens = result.tokens
    atoms = len(PROTEIN) * 2 * 8 + 31
    return tokens, affinity_memory(tokens, atoms, samples=1, parameters=parameters), parameters * 4 + (peak - before)


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="wb-bench-complex-"))
    os.environ["WORKBENCH_HOME"] = str(root / "home")
    os.environ["WORKBENCH_ISOLATE"] = "native"  # the job runs in this process: its memory is measured here
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_HUB_CACHE"] = str(root / "hub")
    import huggingface_hub.constants as hub_constants

    hub_constants.HF_HUB_CACHE = str(root / "hub")
    import logging

    import yaml
    from boltz.main import predict

    for name in ("lightning", "lightning.pytorch", "pytorch_lightning", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)  # the trainer's banner and tips, not the benchmark's

    import workbench as wb
    from workbench.tasks.molecules.complexes.inputs import boltz_yaml, from_fields
    from workbench.tasks.molecules.complexes.model import hub_snapshot, tiny_components

    snapshot = hub_snapshot(root / "hub" / "models--boltz-community--boltz-2" / "snapshots" / ("c" * 40))
    (root / "hub" / "models--boltz-community--boltz-2" / "refs").mkdir()
    (root / "hub" / "models--boltz-community--boltz-2" / "refs" / "main").write_text("c" * 40)
    cache = root / "boltz-cache"  # what `boltz predict` finds in its cache: the same checkpoint and dictionary
    cache.mkdir()
    shutil.copytree(tiny_components(), cache / "mols")
    for name in ("boltz2_conf.ckpt", "boltz2_aff.ckpt"):  # the affinity file only stops a download attempt
        shutil.copy(snapshot / "boltz2_conf.ckpt", cache / name)
    ents = from_fields((PROTEIN,), (), (), (), ("ATP",))
    source = root / "bench.yaml"
    source.write_text(yaml.safe_dump(boltz_yaml(ents), sort_keys=False))

    def run_boltz() -> None:
        out = root / "boltz-out"
        shutil.rmtree(out, ignore_errors=True)
        args = [str(source), "--out_dir", str(out), "--cache", str(cache), "--checkpoint",
                str(cache / "boltz2_conf.ckpt"), "--accelerator", "cpu", "--recycling_steps", str(RECYCLING),
                "--sampling_steps", str(SAMPLING), "--diffusion_samples", "1", "--no_kernels", "--seed", "0",
                "--num_workers", "0", "--override"]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            predict.main(args, standalone_mode=False)
        assert list(out.rglob("*_model_0.cif")), "boltz predict wrote no model"

    def run_workbench():
        return wb.run("complex", yaml=str(source), recycling_steps=RECYCLING, sampling_steps=SAMPLING,
                      checks=False, plots=False, device="cpu")

    run_workbench()  # loads the model once, as the first job of a session does
    run_boltz()
    boltz_times, wb_times = [], []
    for _ in range(REPEATS):  # interleaved, so drift on a shared machine hits both sides
        t0 = time.perf_counter()
        run_boltz()
        boltz_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        result = run_workbench()
        wb_times.append(time.perf_counter() - t0)
    boltz_s, wb_s = statistics.median(boltz_times), statistics.median(wb_times)
    result, before, peak = peak_rss_during(run_workbench)
    measured = max(1, peak - before)
    print(f"complex of {result.tokens} tokens, {RECYCLING} recycling steps, {SAMPLING} diffusion steps (tiny Boltz-2)")
    print(f"boltz predict {boltz_s:.2f} s (median of {REPEATS}), workbench job {wb_s:.2f} s")
    print(f"peak memory above the resident set {measured / 2**20:.0f} MiB; the job's estimate "
          f"{result.estimate_bytes / 2**20:.0f} MiB (fp32 weights + activations of Boltz-2's widths + 0.5 GiB)")
    print(json.dumps({"name": "complex_boltz_over_workbench_time", "value": round(boltz_s / wb_s, 3),
                      "target": 0.95, "better": "higher"}))
    print(json.dumps({"name": "complex_memory_estimate_over_peak", "value": round(result.estimate_bytes / measured, 2),
                      "target": 1.0, "better": "higher"}))
    if os.environ.get("BENCH_FULL", "1") != "0":
        tokens, estimate, used = full_width_memory()
        print(f"Boltz-2 at its own widths, {tokens} tokens: weights + peak activations {used / 2**20:.0f} MiB, "
              f"estimate {estimate / 2**20:.0f} MiB")
        print(json.dumps({"name": "complex_full_width_estimate_over_peak", "value": round(estimate / used, 2),
                          "target": 1.0, "better": "higher"}))
        tokens, estimate, used = full_width_affinity_memory()
        print(f"Boltz-2's affinity model at its own widths, a {tokens}-token complex (cropped to at most 256): "
              f"weights + peak activations {used / 2**20:.0f} MiB, estimate {estimate / 2**20:.0f} MiB")
        print(json.dumps({"name": "complex_affinity_full_width_estimate_over_peak",
                          "value": round(estimate / used, 2), "target": 1.0, "better": "higher"}))
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
