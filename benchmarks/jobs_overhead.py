"""Job-layer overhead, on the path users take: `wb.submit("count", ...)` of a registered task, end to
end (request checks, placement, machine-wide slot lease, task context and working folder, the record
written to a real result store), against calling the same task function directly.

Figures (one run, same process, 1,000 jobs each):
- added latency: median(submit -> result) of sequential jobs minus the median direct call;
- throughput: 1,000 jobs submitted at once, until the last result, in jobs/s;
- for comparison, the same two figures for a plain function through `LocalDevice.submit`
  (what this benchmark measured before the device contract).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

N = 1000


def plain(request, ctx):
    return request["x"] + 1


def measure(submit, direct_call) -> tuple[float, float, float]:
    direct = []
    for _ in range(N):
        t0 = time.perf_counter()
        direct_call()
        direct.append(time.perf_counter() - t0)
    for _ in range(50):  # warm the workers and the store
        submit().result(10)
    latency = []
    for _ in range(N):
        t0 = time.perf_counter()
        submit().result(10)
        latency.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    jobs = [submit() for _ in range(N)]
    for j in jobs:
        j.result(60)
    throughput = N / (time.perf_counter() - t0)
    added_ms = (statistics.median(latency) - statistics.median(direct)) * 1000
    return added_ms, sorted(latency)[int(0.95 * N)] * 1000, throughput


def main() -> int:
    os.environ["WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="wb-bench-")
    import workbench as wb
    from workbench.hardware.local import standalone_context
    from workbench.tasks.diagnostics import CountRequest
    from workbench.tasks.diagnostics import run as count

    ctx = standalone_context()
    request = CountRequest(steps=1, delay=0.0)
    new = measure(lambda: wb.submit("count", steps=1, delay=0.0, device="cpu"), lambda: count(request, ctx))
    cpu = wb.devices.get("cpu")
    old = measure(lambda: cpu.submit(plain, {"x": 1}), lambda: plain({"x": 1}, ctx))
    for label, (added, p95, rate) in (("wb.submit('count')", new), ("LocalDevice.submit(function)", old)):
        print(f"{label}: added latency median {added:.3f} ms, p95 {p95:.3f} ms; {rate:.0f} jobs/s",
              file=sys.stderr)
    print(json.dumps({"name": "jobs_added_latency_median_ms", "value": round(new[0], 4), "target": 1.0,
                      "better": "lower"}))
    print(json.dumps({"name": "jobs_throughput_per_s", "value": round(new[2], 1), "target": 500,
                      "better": "higher"}))
    print(json.dumps({"name": "jobs_added_latency_median_ms_plain_function", "value": round(old[0], 4),
                      "target": 1.0, "better": "lower"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
