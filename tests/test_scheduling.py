"""Heterogeneous scheduling: per-task profiles, placement by predicted finish time, device sets,
drain, and jobs that move with their checkpoints (the Ray half is in test_ray.py)."""

from __future__ import annotations

import json
import re
import time

import pytest
from helpers import run_cli

import workbench as wb
from workbench.api import get_task, make_request
from workbench.contract import DeviceError, InputError
from workbench.jobs import perf
from workbench.jobs.store import default_store
from workbench.scheduling import registry
from workbench.scheduling.profiles import DeviceProfile, save_profile, torch_version


def _matmul(device, tflops: float) -> None:
    save_profile(device, DeviceProfile(device.id, device.capabilities.name, tflops, tflops, "float32", 10.0,
                                       torch_version(), device.capabilities.extra.get("driver")))


def test_every_finished_job_records_its_rate(devices):
    for _ in range(3):
        wb.run("count", steps=40, delay=0.001, device="cpu")
    rows = [r for r in perf.table(default_store(), "count") if r["device"] == "cpu"]
    assert len(rows) == 1 and rows[0]["source"] == "history" and rows[0]["samples"] == 3
    assert rows[0]["unit"] == "steps" and 0 < rows[0]["rate"] < 1000  # 40 steps of >= 1 ms each


def test_auto_follows_per_task_rates_even_against_the_matmul_figures(devices):
    cpu, sim = devices["cpu"], devices["sim:npu0"]
    _matmul(cpu, 1.0)
    _matmul(sim, 0.1)  # the matmul figures rank the CPU ten times faster...
    assert registry.resolve("auto", spec=wb.api.get_task("count"),
                            request=wb.api.make_request(wb.api.get_task("count"), steps=100)).device is cpu
    store = default_store()
    for _ in range(3):  # ... but on this task the simulated NPU measured five times faster
        perf.record(store, device="sim:npu0", task="count", model="-", dtype="-", unit="steps", units=100,
                    seconds=0.1)
        perf.record(store, device="cpu", task="count", model="-", dtype="-", unit="steps", units=100, seconds=0.5)
    job = wb.submit("count", steps=100, delay=0.0)
    job.result(30)
    assert job.device == "sim:npu0"
    assert re.match(r"placed on sim:npu0 about [\d.]+ s, vs cpu about [\d.]+ s", job.placement), job.placement
    assert wb.job(job.id).placement == job.placement  # stored with the job
    notes = [e.message for e in job.snapshot_events()]
    assert job.placement in notes


def test_a_device_never_measured_on_a_task_is_estimated_from_its_matmul_figure(devices):
    cpu, sim = devices["cpu"], devices["sim:npu0"]
    _matmul(cpu, 1.0)
    _matmul(sim, 4.0)
    store = default_store()
    perf.record(store, device="cpu", task="count", model="-", dtype="-", unit="steps", units=100, seconds=1.0)
    chosen = registry.resolve("auto", spec=wb.api.get_task("count"),
                              request=wb.api.make_request(wb.api.get_task("count"), steps=100))
    assert chosen.device is sim and "scaled by its matmul figure" in chosen.reason
    assert chosen.predicted["sim:npu0"] == pytest.approx(chosen.predicted["cpu"] / 4)


def test_device_sets_any_and_first(devices):
    # first: in order, the first that can run it; the simulated NPU has no float64
    job = wb.submit("selftest", dtypes=("float64",), device=wb.first_of("sim:npu0", "cpu"))
    assert job.result(60).passed and job.device == "cpu"
    assert job.placement == "placed on cpu: the first of sim:npu0, cpu that can run it (sim:npu0 cannot)"
    assert wb.submit("selftest", dtypes=("float32",), device="first:sim:npu0,cpu").device == "sim:npu0"
    # any: the one predicted to finish first, among those named only
    assert wb.submit("count", steps=1, device=wb.any_of("sim:npu0")).device == "sim:npu0"
    with pytest.raises(DeviceError, match="does not compute in float64"):
        wb.submit("selftest", dtypes=("float64",), device="any:sim:npu0")


def test_drain_moves_queued_and_running_jobs_off_a_device(devices):
    sim = devices["sim:npu0"]
    running = wb.submit("count", steps=300, delay=0.01, device="sim:npu0")
    queued = wb.submit("count", steps=20, delay=0.0, device="sim:npu0")  # one slot: it waits
    while len(running.checkpoints) < 10:
        time.sleep(0.01)
    wb.drain("sim:npu0")
    assert running.result(60).steps == 300 and queued.result(60).steps == 20
    assert running.device == "cpu" and queued.device == "cpu"
    moved = [e.message for e in running.snapshot_events() if e.message.startswith("moved from")]
    assert re.fullmatch(r"moved from sim:npu0 to cpu because sim:npu0 was drained; resuming at item \d+ of 300",
                        moved[0]), moved
    stored = wb.job(running.id).placement  # the views (sidebar, job page) say where it went and why
    assert stored.endswith("moved from sim:npu0 to cpu because sim:npu0 was drained"), stored
    assert default_store().row(running.id)["placement"] == stored
    assert sim.load() == 0  # left with no job
    assert registry.get("auto").id == "cpu" and wb.submit("count", steps=1).device == "cpu"  # no new work
    wb.drain("sim:npu0", False)
    assert wb.submit("count", steps=1, device="sim:npu0").result(30).steps == 1


def test_cli_bench_profiles_drain_and_device_sets(devices, home):
    env = {"WORKBENCH_SIMULATED_DEVICES": "npu:2GiB:float32+float16+bfloat16"}
    out = run_cli("bench", "--task", "count", "--device", "cpu", "--repeats", "2", "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["task"] == "count" and "count on cpu:" in out.stderr
    rows = json.loads(run_cli("profiles", "--json", env=env).stdout)
    bench = [r for r in rows if r["source"] == "bench"]
    assert bench and bench[0]["device"] == "cpu" and bench[0]["unit"] == "steps" and bench[0]["rate"] > 0
    assert bench[0]["extra"]["torch"] and bench[0]["extra"]["chip"]
    out = run_cli("run", "selftest", "--dtypes", "float64", "--device", "first:sim:npu0,cpu", "--quiet", env=env)
    assert out.returncode == 0 and "placed on cpu: the first of sim:npu0, cpu that can run it" in out.stderr
    assert run_cli("devices", "drain", "sim:npu0", env=env).returncode == 0
    assert "sim:npu0" in default_store().drained()
    assert run_cli("devices", "undrain", "sim:npu0", env=env).returncode == 0
    bad = run_cli("devices", "drain", "tpu:7", env=env)
    assert bad.returncode == 2 and "Unknown device 'tpu:7'" in bad.stderr


def test_a_moved_batch_gives_the_same_result_as_an_unmoved_one(devices):
    """Seeded work resumes from its checkpoints: the grasp trials of a moved job equal an unmoved run."""
    request = dict(object="box", num_grasps=10, seed=3, render=())
    reference = wb.run("grasp", device="cpu", **request)
    job = devices["sim:npu0"].submit("grasp", wb.api.make_request(wb.api.get_task("grasp"), **request))
    while len(job.checkpoints) < 3:
        time.sleep(0.01)
    devices["sim:npu0"].fail("unplugged")
    moved = job.result(120)
    assert job.device == "cpu" and job.moves == 1
    assert [(t.success, t.stage) for t in moved.trials] == [(t.success, t.stage) for t in reference.trials]
    assert moved.success_rate == reference.success_rate


def test_a_drained_job_with_nowhere_to_go_waits_then_resumes(devices):
    """Every other device drained at that moment: the job is not failed ("without failing them"); it says
    it waits, keeps its checkpoints, and resumes when a device takes work again. Cancel still works."""
    wb.drain("cpu")
    try:
        running = wb.submit("count", steps=200, delay=0.01, device="sim:npu0")
        while len(running.checkpoints) < 10:
            time.sleep(0.01)
        wb.drain("sim:npu0")
        deadline = time.time() + 20
        while not any("waits for one" in e.message for e in running.snapshot_events()) and time.time() < deadline:
            time.sleep(0.05)
        assert not running.done and any("waits for one" in e.message for e in running.snapshot_events())
        waiting = wb.submit("count", steps=200, delay=0.01, device="sim:npu0")  # drained too: it waits as well
        time.sleep(1.0)
        assert not running.done and not waiting.done
        waiting.cancel()
        with pytest.raises(wb.Cancelled):
            waiting.result(30)
        assert default_store().row(waiting.id)["state"] == "cancelled"
        wb.drain("cpu", False)
        assert running.result(60).steps == 200
        assert running.state.value == "succeeded" and running.device == "cpu"
    finally:
        wb.drain("cpu", False)
        wb.drain("sim:npu0", False)


def test_bench_runs_are_kept_apart_from_the_users_jobs_and_their_history(devices):
    """`workbench bench` used to add its runs to the user's job list and to the history placement reads
    (place went from 0.062 to 0.96 tasks/s): its jobs are tagged and hidden, its figures a fall-back."""
    from workbench.scheduling.bench import bench

    store = default_store()
    bench(["count"], ["cpu"], repeats=2)
    assert wb.jobs() == [] and len(wb.jobs(bench=True)) == 3  # a warm-up and two timed runs
    assert store.count() == 0 and store.count(tagged=True) == 3
    assert [r["source"] for r in perf.table(store, "count")] == ["bench"]
    bench_rate = store.recent_rates("count", "-", 5)
    assert [d for d, _ in bench_rate] == ["cpu"]  # no history yet: the standard case speaks
    wb.run("count", steps=7, delay=0.02, device="cpu")
    perf.flush()  # history rows are written in batches
    history = store.recent_rates("count", "-", 5)
    assert len(history) == 1 and history[0][1] < 100 < bench_rate[0][1]  # the user's own job, not the bench
    listed = run_cli("jobs", "list").stdout
    assert listed.count("  count  ") == 1 and "3 job(s) of `workbench bench` not shown; --bench" in listed


def test_drain_with_a_deadline_keeps_a_job_that_finishes_in_time_and_moves_one_that_cannot(devices):
    """`within`: the device must be free by then. A job whose pace says it ends in time stays; a job that
    cannot leaves at its next checkpoint, well before the deadline, saying why."""
    short = wb.submit("count", steps=60, delay=0.01, device="sim:npu0")
    while len(short.checkpoints) < 10:
        time.sleep(0.01)
    wb.drain("sim:npu0", within=60)
    try:
        assert short.result(60).steps == 60
        assert short.device == "sim:npu0" and short.moves == 0  # 0.6 s of work: it finished there
        assert wb.submit("count", steps=1).device == "cpu"  # but the device takes no new work
    finally:
        wb.drain("sim:npu0", False)

    long = wb.submit("count", steps=3000, delay=0.01, device="sim:npu0")  # about 30 s
    while len(long.checkpoints) < 20:
        time.sleep(0.01)
    wb.drain("sim:npu0", within=10)
    told = time.time()
    try:
        while long.device == "sim:npu0" and time.time() - told < 10:
            time.sleep(0.02)
        moved_after = time.time() - told
        assert long.device == "cpu" and moved_after < 5, moved_after  # at its next checkpoint, not at the deadline
        moved = [e.message for e in long.snapshot_events() if e.message.startswith("moved from")][0]
        assert re.match(r"moved from sim:npu0 to cpu because sim:npu0 was drained to be free within \d+ s and it "
                        r"needs about \d+ s more; resuming at item \d+ of 3000", moved), moved
        long.cancel()
    finally:
        wb.drain("sim:npu0", False)


def test_drain_within_from_the_cli_and_bad_times(devices, home):
    env = {"WORKBENCH_SIMULATED_DEVICES": "npu:2GiB:float32+float16+bfloat16"}
    out = run_cli("devices", "drain", "sim:npu0", "--within", "2m", env=env)
    assert out.returncode == 0 and "free within 120 s" in out.stdout
    deadline = default_store().drains()["sim:npu0"]
    assert deadline == pytest.approx(time.time() + 120, abs=30)
    bad = run_cli("devices", "drain", "sim:npu0", "--within", "soon", env=env)
    assert bad.returncode != 0 and "give a time above 0 such as 30s" in bad.stderr and "Traceback" not in bad.stderr
    assert run_cli("devices", "undrain", "sim:npu0", env=env).returncode == 0
    assert "sim:npu0" not in default_store().drains()
    with pytest.raises(InputError, match="within must be a number of seconds"):
        wb.drain("cpu", within=float("nan"))


def _busy_elsewhere(n: int) -> list[int]:
    """`n` processes spinning on the CPU that are not this process's children (as another user's notebook
    is not): started by a shell that exits at once."""
    import subprocess
    import sys

    out = subprocess.run(["sh", "-c", f"for i in $(seq {n}); do {sys.executable} -c 'while True: pass' "
                                      ">/dev/null 2>&1 & echo $!; done"], capture_output=True, text=True, check=True)
    return [int(pid) for pid in out.stdout.split()]


def _count_rates(store, cpu: float, sim: float) -> None:
    for _ in range(3):
        perf.record(store, device="cpu", task="count", model="-", dtype="-", unit="steps", units=100,
                    seconds=100 / cpu)
        perf.record(store, device="sim:npu0", task="count", model="-", dtype="-", unit="steps", units=100,
                    seconds=100 / sim)


def test_a_device_another_process_keeps_busy_is_avoided_while_it_is(devices):
    import os
    import signal

    spec = get_task("count")
    request = make_request(spec, steps=100)
    _count_rates(default_store(), cpu=100, sim=50)  # idle, the CPU is twice as fast on this task
    idle = registry.resolve("auto", spec=spec, request=request)
    assert idle.device.id == "cpu", idle.reason
    pids = _busy_elsewhere(os.cpu_count() or 2)
    try:
        time.sleep(0.6)
        busy = registry.resolve("auto", spec=spec, request=request)
        assert busy.device.id == "sim:npu0", busy.reason
        assert re.search(r"vs cpu about [\d.]+ s \(\d+% busy with other work\)", busy.reason), busy.reason
        assert busy.predicted["cpu"] > 2 * idle.predicted["cpu"]
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
    time.sleep(0.6)
    assert registry.resolve("auto", spec=spec, request=request).device.id == "cpu"  # free again: chosen again


def test_a_run_that_misses_its_prediction_corrects_its_devices_rate_at_once(devices):
    store = default_store()
    _count_rates(store, cpu=2000, sim=20)  # figures from another time: the CPU looks 100x faster
    spec = get_task("count")
    request = make_request(spec, steps=50, delay=0.02)
    before = registry.resolve("auto", spec=spec, request=request)
    job = wb.submit("count", steps=50, delay=0.02)  # really about 1 s: 40x the 25 ms predicted
    job.result(60)
    assert job.device == "cpu" and job.expected_s == pytest.approx(50 / 2000)
    perf.flush()
    after = registry.resolve("auto", spec=spec, request=request)
    assert after.predicted["cpu"] > 10 * before.predicted["cpu"]
    assert re.search(r"cpu about [\d.]+ s \(corrected: its last run took \d+\.\dx the predicted time\)",
                     after.reason), after.reason


def test_rates_measured_under_load_are_kept_in_idle_terms_and_their_spread_is_said():
    store = default_store()
    for seconds, busy in ((1.0, 0.5), (1.0, 0.5), (0.5, None)):
        perf.record(store, device="cpu", task="count", model="-", dtype="-", unit="steps", units=100,
                    seconds=seconds, extra={"busy": busy} if busy is not None else None)
    figure = perf.figures(store, "count", "-")["cpu"]
    assert figure.rate == pytest.approx(200)  # 100 steps/s with half the CPU taken is 200 idle
    perf.record(store, device="cpu", task="count", model="-", dtype="-", unit="steps", units=100, seconds=4.0)
    perf.record(store, device="cpu", task="count", model="-", dtype="-", unit="steps", units=100, seconds=4.0)
    figure = perf.figures(store, "count", "-")["cpu"]
    assert figure.samples == 5 and figure.spread == pytest.approx(8) and "its runs vary 8.0x" in figure.describe()
