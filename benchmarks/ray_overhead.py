"""Ray overhead: 200 small jobs through `RayDevice` against raw `ray.remote` tasks.

One run, one embedded loopback cluster (2 CPUs), the same function (the `count` task with
one step) both ways:
- raw: 200 `ray.remote` tasks submitted at once, `ray.get` on all;
- workbench: 200 jobs submitted to the cluster's CPU devices at once, `result()` on all
  (each job streams its events through the device actor and is written to the store);
- model reuse: the first and second `selftest` job on one Ray device (the first starts
  the actor and loads the model, the second reuses both).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

N = 200


def main() -> int:
    os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix="wb-bench-"))
    import workbench as wb
    from workbench.scheduling import cluster as ray_devices
    from workbench.tasks.diagnostics import CountRequest
    from workbench.tasks.diagnostics import run as count
    from workbench.tasks.selftest import SelftestRequest

    devices = ray_devices.connect(None, num_cpus=2)
    import ray

    cpu_nodes = [d for d in devices if d.kind == "cpu" and not d.is_class]
    node = cpu_nodes[0]

    t0 = time.perf_counter()
    node.submit("selftest", SelftestRequest(dtypes=("float32",))).result(300)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    node.submit("selftest", SelftestRequest(dtypes=("float32",))).result(300)
    second = time.perf_counter() - t0

    @ray.remote(num_cpus=0)
    def raw_task(request):
        from workbench.hardware.local import standalone_context

        return count(request, standalone_context())

    req = CountRequest(steps=1, delay=0.0)
    ray.get([raw_task.remote(req) for _ in range(20)])  # warm the raw worker pool too
    t0 = time.perf_counter()
    ray.get([raw_task.remote(req) for _ in range(N)])
    raw = time.perf_counter() - t0

    target = wb.device("ray:cpu")
    for j in [target.submit("count", req) for _ in range(20)]:
        j.result(60)
    t0 = time.perf_counter()
    jobs = [target.submit("count", req) for _ in range(N)]
    for j in jobs:
        j.result(300)
    ours = time.perf_counter() - t0

    print(f"{N} jobs: raw ray.remote {raw:.3f} s ({N / raw:.0f}/s), workbench RayDevice {ours:.3f} s "
          f"({N / ours:.0f}/s); selftest first {first:.2f} s, second {second:.3f} s", file=sys.stderr)
    print(json.dumps({"name": "ray_jobs_time_vs_raw_ray", "value": round(ours / raw, 3), "target": 1.2,
                      "better": "lower"}))
    print(json.dumps({"name": "ray_second_model_job_speedup", "value": round(first / second, 1), "target": 10,
                      "better": "higher"}))
    ray_devices.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
