"""Discovery, plug-ins, placement and profiles, with the CPU and a simulated NPU."""

from __future__ import annotations

import json
from importlib.metadata import entry_points

import pytest
import torch

import workbench as wb
from workbench.contract import GiB, Requirements
from workbench.errors import DeviceError
from workbench.scheduling import placement, registry
from workbench.scheduling.profiles import DeviceProfile, cached_profiles, profile_device, save_profile
from workbench.tasks.selftest import SelftestRequest


def test_cpu_is_discovered_with_real_capabilities():
    cpu = registry.get("cpu")
    caps = cpu.capabilities
    assert caps.kind == "cpu" and caps.torch_device == "cpu" and caps.index is None
    assert caps.total_memory > 256 * 1024**2 and 0 < caps.free_memory <= caps.total_memory
    assert {"float32", "float64"} <= set(caps.dtypes)
    assert cpu in wb.devices()


def test_simulated_npu_comes_through_the_entry_point_group(devices):
    names = {ep.name for ep in entry_points(group=registry.ENTRY_POINT_GROUP)}
    assert "simulated" in names
    sim = devices["sim:npu0"]
    caps = sim.capabilities
    assert caps.kind == "npu" and caps.backend == "simulated" and caps.torch_device == "cpu"
    assert caps.total_memory == 2 * GiB and "float64" not in caps.dtypes


def test_broken_plugin_is_reported_not_fatal(monkeypatch):
    monkeypatch.setenv("WORKBENCH_SIMULATED_DEVICES", "npu:lots")
    found = registry.discover(refresh=True)
    assert [d.id for d in found] == ["cpu"]
    assert any("simulated" in p and "lots" in p for p in registry.problems)
    monkeypatch.delenv("WORKBENCH_SIMULATED_DEVICES")
    registry.discover(refresh=True)


def test_explicit_device_that_cannot_satisfy_says_why_and_what_would(devices):
    req = Requirements(dtype="float64")
    with pytest.raises(DeviceError) as info:
        registry.get("sim:npu0", req)
    msg = str(info.value)
    assert "sim:npu0 cannot run this task" in msg and "float64" in msg and "Use cpu instead" in msg
    big = Requirements(min_memory=1024 * GiB)
    with pytest.raises(DeviceError, match="No available device can; it needs 1.0 TiB free memory"):
        registry.get("sim:npu0", big)
    with pytest.raises(DeviceError, match="No device can run this task"):
        registry.get("auto", big)


def test_auto_respects_requirements(devices):
    assert registry.get("auto", Requirements(kinds=("npu",))).id == "sim:npu0"
    assert registry.get("auto", Requirements(accelerator=True)).id == "sim:npu0"
    assert registry.get("auto", Requirements(dtype="float64")).id == "cpu"
    assert registry.get("npu").id == "sim:npu0"  # a kind names the best device of that kind


def _profile(device_id, name, tflops, gbps):
    return DeviceProfile(device_id, name, tflops, tflops * 2, "bfloat16", gbps,
                         torch.__version__, None)


def test_auto_follows_the_profiles(devices):
    cpu, sim = devices["cpu"], devices["sim:npu0"]
    save_profile(cpu, _profile("cpu", cpu.capabilities.name, 5.0, 50.0))
    save_profile(sim, _profile("sim:npu0", sim.capabilities.name, 1.0, 400.0))
    assert registry.get("auto", Requirements()).id == "cpu"  # compute-bound: cpu is faster
    assert registry.get("auto", Requirements(workload="memory")).id == "sim:npu0"
    save_profile(sim, _profile("sim:npu0", sim.capabilities.name, 50.0, 400.0))
    assert registry.get("auto", Requirements()).id == "sim:npu0"
    # a profile from another torch version is stale and ignored
    stale = _profile("sim:npu0", sim.capabilities.name, 50.0, 400.0)
    stale.torch_version = "0.0.1"
    save_profile(sim, stale)
    assert "sim:npu0" not in cached_profiles([sim])


def test_auto_spreads_by_load(devices):
    cpu, sim = devices["cpu"], devices["sim:npu0"]
    save_profile(cpu, _profile("cpu", cpu.capabilities.name, 1.0, 50.0))
    save_profile(sim, _profile("sim:npu0", sim.capabilities.name, 1.2, 50.0))
    import threading

    gate = threading.Event()

    def wait(request, ctx):
        gate.wait(20)

    busy = [sim.submit(wait, {}) for _ in range(3)]
    try:
        assert registry.get("auto").id == "cpu"  # 1.2 / (1 + 3) < 1.0
    finally:
        gate.set()
        for j in busy:
            j.result(30)


def test_unknown_device_lists_the_real_ones(devices):
    with pytest.raises(DeviceError, match="Unknown device 'tpu:3'. Available devices: cpu, sim:npu0"):
        registry.get("tpu:3")


def test_profile_measures_and_caches(devices, home):
    cpu = devices["cpu"]
    p = profile_device(cpu, seconds_per_figure=0.05)
    assert p.matmul_tflops_fp32 > 0 and p.matmul_tflops_fast > 0 and p.memory_gbps > 0
    assert p.torch_version == torch.__version__
    cached = json.loads((home / "profiles.json").read_text())
    assert any(v["device_id"] == "cpu" for v in cached.values())
    assert cached_profiles([cpu])["cpu"].matmul_tflops_fp32 == p.matmul_tflops_fp32
    assert any(r["task"] == "profile" for r in wb.jobs())  # profiling is a job like any other


def test_submit_places_a_named_task_by_its_requirements(devices):
    job = wb.submit("selftest", dtypes=("float64",), device="auto")
    assert job.device == "cpu"
    assert job.result(60).passed
    job = wb.submit("selftest", SelftestRequest(dtypes=("bfloat16",)), device="sim:npu0")
    result = job.result(60)
    assert result.passed and result.checks[0].dtype == "bfloat16"
    with pytest.raises(DeviceError, match="does not compute in float64"):
        wb.submit("selftest", dtypes=("float64",), device="sim:npu0")


def test_placement_unmet_lists_every_reason(devices):
    sim = devices["sim:npu0"]
    why = placement.unmet(sim, Requirements(dtype="float64", min_memory=4 * GiB, kinds=("cuda",)))
    assert len(why) == 3


def test_a_profile_and_the_device_list_agree_on_the_fast_dtype(devices):
    """One fast-dtype truth: `run profile` measures the dtype `workbench devices` shows; on the CPU
    (fast dtype float32) there is one matmul figure, not a second 'bfloat16' one."""
    from workbench.presenters import profile_text

    for device_id in ("cpu", "sim:npu0"):
        r = wb.run("profile", seconds_per_figure=0.02, matmul_size=64, copy_mib=1, device=device_id)
        assert r.fast_dtype == devices[device_id].capabilities.fast_dtype
    cpu = wb.run("profile", seconds_per_figure=0.02, matmul_size=64, copy_mib=1, device="cpu")
    assert cpu.fast_dtype == "float32" and cpu.matmul_tflops_fast == cpu.matmul_tflops_fp32
    assert "bfloat16" not in profile_text(cpu.__dict__)


@pytest.mark.parametrize(("figure", "fits"), [("3GiB", False), ("64GiB", True)])
def test_free_memory_figure_decides_as_on_a_machine_with_that_much(monkeypatch, figure, fits):
    """WORKBENCH_FREE_MEMORY stands in for the measured figure (the suite runs at 8 GiB): memory checks
    decide the same on every machine, and the refusal names the figure."""
    monkeypatch.setenv("WORKBENCH_FREE_MEMORY", figure)
    cpu = registry.discover(refresh=True)[0]
    assert cpu.capabilities.free_memory == int(figure[:-3]) * GiB
    need = Requirements(min_memory=int(4.5 * GiB))
    if fits:
        assert registry.get("cpu", need) is cpu
    else:
        with pytest.raises(DeviceError, match="it has 3.0 GiB free and the task needs 4.5 GiB"):
            registry.get("cpu", need)


def test_memory_figure_that_cannot_be_read_is_one_sentence(monkeypatch):
    monkeypatch.setenv("WORKBENCH_FREE_MEMORY", "lots")
    found = registry.discover(refresh=True)
    assert "cpu" in [d.id for d in found]  # a typo never hides the CPU
    assert any("WORKBENCH_FREE_MEMORY is ignored: Cannot read the memory size 'lots'; write it like 2GiB" in p
               for p in registry.problems)
