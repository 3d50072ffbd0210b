"""Text-to-image overhead: the workbench task against the raw diffusers pipeline call.

One run, same process, identical components (the tiny random Stable Diffusion pipeline the
task loads), same prompt, steps, size and seed:
- raw: `pipe(prompt, num_inference_steps, width, height, generator)` and `image.save(png)`;
- workbench: the `text-to-image` task through `LocalDevice.submit` (job, per-step progress,
  recipe in the PNG, result store);
- reload: time from a job's start to its first denoising step (loading the pipeline, or
  finding it loaded), first job on a fresh model cache against the second.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

STEPS, SIDE, REPEATS = 20, 128, 7


def main() -> int:
    os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix="wb-bench-"))
    import torch

    from workbench import models
    from workbench.scheduling import registry
    from workbench.tasks.multimodal.text_to_image import Text2ImageRequest

    cpu = registry.get("cpu")
    req = Text2ImageRequest(prompt="a red cube", steps=STEPS, width=SIDE, height=SIDE, seed=0, tiny=True)
    def time_to_first_step() -> float:
        job = cpu.submit("text-to-image", req)
        job.result(300)
        events = job.snapshot_events()
        first_step = next(e.time for e in events if e.progress is not None and e.progress.data.get("step") == 1)
        return first_step - job.started

    models.unload("tiny-sd")
    first = time_to_first_step()
    second = time_to_first_step()

    pipe = models.load("tiny-sd", "cpu", "float32", tiny=True)  # the very same components
    out = tempfile.mkdtemp(prefix="wb-bench-raw-")
    raw, ours = [], []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        image = pipe("a red cube", num_inference_steps=STEPS, guidance_scale=0.0, width=SIDE, height=SIDE,
                     generator=torch.Generator().manual_seed(0)).images[0]
        image.save(os.path.join(out, "raw.png"))
        raw.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        cpu.submit("text-to-image", req).result(300)
        ours.append(time.perf_counter() - t0)
    overhead = statistics.median(ours) / statistics.median(raw) - 1
    print(f"{STEPS} steps at {SIDE}px: raw pipeline median {statistics.median(raw):.3f} s, workbench job median "
          f"{statistics.median(ours):.3f} s; start to first step: first job {first:.3f} s, second {second:.4f} s",
          file=sys.stderr)
    print(json.dumps({"name": "text_to_image_overhead_vs_raw_diffusers", "value": round(overhead, 4),
                      "target": 0.05, "better": "lower"}))
    print(json.dumps({"name": "text_to_image_second_call_speedup", "value": round(first / second, 2),
                      "target": 10, "better": "higher"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
