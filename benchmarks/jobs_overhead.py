"""Job-layer overhead: 1,000 trivial jobs through `LocalDevice.submit` vs direct calls.

Figures (one run, same process):
- added latency: median(submit -> result) of sequential jobs minus the median direct call;
- throughput: 1,000 jobs submitted at once, until the last result, in jobs/s.
Every job is written to a real result store (in a temporary WORKBENCH_HOME).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

N = 1000


def trivial(request, *, device, progress):
    return request["x"] + 1


def main() -> int:
    os.environ["WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="wb-bench-")
    from workbench.scheduling import registry

    cpu = registry.get("cpu")
    noop = lambda p: None  # noqa: E731

    direct = []
    for i in range(N):
        t0 = time.perf_counter()
        trivial({"x": i}, device="cpu", progress=noop)
        direct.append(time.perf_counter() - t0)

    for i in range(50):  # warm the workers and the store
        cpu.submit(trivial, {"x": i}).result(10)

    latency = []
    for i in range(N):
        t0 = time.perf_counter()
        cpu.submit(trivial, {"x": i}).result(10)
        latency.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    jobs = [cpu.submit(trivial, {"x": i}) for i in range(N)]
    for j in jobs:
        j.result(60)
    throughput = N / (time.perf_counter() - t0)

    added_ms = (statistics.median(latency) - statistics.median(direct)) * 1000
    p95_ms = sorted(latency)[int(0.95 * N)] * 1000
    print(f"direct call median {statistics.median(direct) * 1e6:.1f} us; job latency median "
          f"{statistics.median(latency) * 1000:.3f} ms, p95 {p95_ms:.3f} ms; "
          f"throughput {throughput:.0f} jobs/s", file=sys.stderr)
    print(json.dumps({"name": "jobs_added_latency_median_ms", "value": round(added_ms, 4),
                      "target": 1.0, "better": "lower"}))
    print(json.dumps({"name": "jobs_throughput_per_s", "value": round(throughput, 1),
                      "target": 500, "better": "higher"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
