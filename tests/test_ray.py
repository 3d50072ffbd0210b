"""Ray devices on a real three-node cluster on 127.0.0.1 (one module-scoped cluster).

Nodes: the head (1 CPU), one with a custom {"NPU": 1} resource, one CPU-only worker that
the migration test removes mid job.
"""

from __future__ import annotations

import json
import re
import threading
import time

import pytest
from helpers import run_cli

ray = pytest.importorskip("ray")

import workbench as wb  # noqa: E402
from workbench.contract import Requirements  # noqa: E402
from workbench.errors import Cancelled, DeviceError  # noqa: E402
from workbench.scheduling import cluster as ray_devices  # noqa: E402
from workbench.scheduling import registry  # noqa: E402
from workbench.scheduling.profiles import DeviceProfile, save_profile  # noqa: E402

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, connect=False, head_node_args={
        "num_cpus": 1, "include_dashboard": False,
        "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 3,
                           "health_check_initial_delay_ms": 0}})
    npu = c.add_node(num_cpus=1, resources={"NPU": 1})
    spare = c.add_node(num_cpus=1)
    c.wait_for_nodes()
    devices = ray_devices.connect(c.address)
    yield {"cluster": c, "npu": npu, "spare": spare, "devices": {d.id: d for d in devices}}
    ray_devices.disconnect()
    c.shutdown()


def _node_device(cluster, node, kind="cpu"):
    short = node.node_id[:8]
    return registry.get(f"ray:{short}/cpu" if kind == "cpu" else f"ray:{short}/{kind}:0")


def test_discovery_lists_every_node_and_resource(cluster):
    ids = set(cluster["devices"])
    npu_short, spare_short = cluster["npu"].node_id[:8], cluster["spare"].node_id[:8]
    assert {f"ray:{npu_short}/npu:0", f"ray:{npu_short}/cpu", f"ray:{spare_short}/cpu", "ray:cpu", "ray:npu"} <= ids
    npu = cluster["devices"][f"ray:{npu_short}/npu:0"]
    assert npu.capabilities.kind == "npu" and npu.capabilities.backend == "ray"
    assert npu.capabilities.extra["node_id"] == cluster["npu"].node_id
    listed = {d.id for d in wb.devices()}
    assert "cpu" in listed and ids <= listed  # local and cluster devices side by side


def test_cli_lists_the_cluster(cluster, home):
    out = run_cli("devices", "--cluster", cluster["cluster"].address, "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["id"]: r for r in json.loads(out.stdout)}
    assert "cpu" in rows and rows["ray:npu"]["kind"] == "npu"


def test_npu_job_runs_on_the_npu_node_with_ordered_progress(cluster, home):
    job = wb.submit("count", steps=30, delay=0.005, device="ray:npu")
    events = list(job.events(timeout=120))
    result = job.result(10)
    node_dev = _node_device(cluster, cluster["npu"], "npu")
    assert job.device == node_dev.id
    assert result.pid == node_dev.info()["pid"]  # it ran in that device's actor
    done = [e.progress.done for e in events if e.progress is not None]
    assert done == list(range(1, 31))
    assert [e.state for e in events if e.kind == "state"] == ["queued", "running", "succeeded"]
    assert registry.get("auto", Requirements(kinds=("npu",))).capabilities.kind == "npu"


def test_results_and_files_come_back_to_the_local_store(cluster, home):
    job = wb.submit("selftest", dtypes=("float32",), device=_node_device(cluster, cluster["npu"]).id)
    result = job.result(120)
    assert result.passed and result.files["report"].exists()
    assert str(result.files["report"]).startswith(str(home))
    stored = wb.job(job.id)
    assert stored.state == "succeeded" and stored.files["report"].exists()


def test_models_stay_loaded_in_the_device_actor(cluster, home):
    dev = _node_device(cluster, cluster["npu"], "npu")
    for _ in range(3):
        wb.submit("selftest", dtypes=("float32",), device=dev.id).result(120)
    # one float64 reference and one float32 copy, loaded once for three jobs
    assert dev.info()["load_counts"]["tiny-transformer"] == 2


def test_cancel_stops_remote_work_promptly(cluster, home):
    job = wb.submit("count", steps=100000, delay=0.01, device="ray:npu")
    started = threading.Event()
    job.on_event(lambda e: e.progress is not None and started.set())
    assert started.wait(60)
    at_cancel = job.last_progress.done
    job.cancel()
    with pytest.raises(Cancelled):
        job.result(30)
    # the remote task stops at a progress report soon after: far from its 100,000 steps
    assert job.last_progress.done - at_cancel < 500
    assert wb.job(job.id).state == "cancelled"


def test_auto_follows_profiles_across_the_cluster(cluster, home):
    npu_cpu = _node_device(cluster, cluster["npu"])
    spare_cpu = _node_device(cluster, cluster["spare"])
    local = registry.get("cpu")
    for dev, tflops in ((local, 0.05), (npu_cpu, 0.5), (spare_cpu, 2.0)):
        save_profile(dev, DeviceProfile(dev.id, dev.capabilities.name, tflops, tflops, "float32", 10.0,
                                        "x", None))
    assert registry.get("auto", Requirements(kinds=("cpu",))).id == spare_cpu.id


def test_impossible_requests_fail_fast_with_the_missing_resource(cluster, home):
    before = len(wb.jobs(limit=None))
    with pytest.raises(DeviceError, match="Unknown device 'ray:tpu'"):
        wb.submit("count", device="ray:tpu")
    with pytest.raises(DeviceError, match="needs a device of kind tpu"):
        registry.get("auto", Requirements(kinds=("tpu",)))
    assert len(wb.jobs(limit=None)) == before  # refused before any job or worker existed


def test_node_dying_mid_job_migrates_the_job(cluster, home):
    spare = _node_device(cluster, cluster["spare"])
    done_before = wb.submit("count", steps=3, device=spare.id)
    done_before.result(60)
    job = wb.submit("count", steps=400, delay=0.02, device=spare.id)
    started = threading.Event()
    job.on_event(lambda e: e.progress is not None and e.progress.done > 5 and started.set())
    assert started.wait(60)
    queued = wb.submit("count", steps=20, delay=0.0, device=spare.id)  # waits for the node's one slot
    time.sleep(0.3)
    cluster["cluster"].remove_node(cluster["spare"], allow_graceful=False)
    result = job.result(180)
    assert result.steps == 400 and job.device != spare.id
    # the queued job moves too (it failed with ActorAlreadyExistsError: a new actor under the dead one's name)
    assert queued.result(180).steps == 20 and queued.device != spare.id
    assert any(e.message.startswith(f"moved from {spare.id}") for e in queued.snapshot_events())
    notes = [e.message for e in job.snapshot_events() if e.kind == "note"]
    moved = [n for n in notes if n.startswith(f"moved from {spare.id} to ")]
    assert len(moved) == 1 and "because" in moved[0], notes
    # it resumed from its checkpoints: every step done once, on the dead node or after the move
    where = [job.checkpoints[str(i)] for i in range(400)]
    k = next(i for i, w in enumerate(where) if w != spare.id)
    assert k >= 5 and set(where[k:]) == {job.device}
    assert re.search(r"resuming at item (\d+) of 400", moved[0])
    assert int(re.search(r"resuming at item (\d+) of 400", moved[0]).group(1)) - 1 == k  # nothing redone
    assert wb.job(done_before.id).state == "succeeded"  # finished work is untouched
    with pytest.raises(DeviceError, match=f"Unknown device '{spare.id}'"):
        wb.submit("count", device=spare.id)  # the dead node's device is gone from the registry


def test_every_ray_port_listens_on_loopback_only(cluster):
    psutil = pytest.importorskip("psutil")
    ray_pids = set()
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(proc.info.get("cmdline") or [])
        if "ray" in cmd and ("gcs_server" in cmd or "raylet" in cmd or "ray::" in cmd or "default_worker" in cmd
                             or "ray/_private" in cmd or "dashboard" in cmd):
            ray_pids.add(proc.info["pid"])
    listening = [c for c in psutil.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN and c.pid in ray_pids]
    assert listening, "the cluster listens somewhere"
    exposed = [f"{c.laddr.ip}:{c.laddr.port}" for c in listening
               if c.laddr.ip not in ("127.0.0.1", "::ffff:127.0.0.1", "::1")]
    assert not exposed, exposed


def test_batch_fans_out_across_local_and_cluster_devices(cluster, home):
    smiles = ("CCO a", "CCCO b", "CCCCO c", "c1ccccc1O d", "CC(=O)O e", "C1CC bad")
    job = wb.submit("conformers", smiles=smiles, num_conformers=5, device=["cpu", "ray:cpu"])
    fractions = []
    job.on_event(lambda e: e.progress is not None and e.progress.fraction is not None
                 and fractions.append(e.progress.fraction))
    result = job.result(180)
    assert [m.name for m in result.molecules] == ["a", "b", "c", "d", "e", "bad"]
    assert result.num_ok == 5 and "not a valid SMILES" in result.molecules[-1].error
    notes = [e.message for e in job.snapshot_events() if e.kind == "note"]
    assert any("on cpu" in n for n in notes) and any("on ray:" in n for n in notes)
    assert fractions and fractions[-1] == 1.0
    from rdkit import Chem

    names = [m.GetProp("input_name") for m in Chem.SDMolSupplier(str(result.files["sdf"]), removeHs=False)]
    assert sorted(set(names)) == ["a", "b", "c", "d", "e"]
    assert wb.job(job.id).state == "succeeded"


def test_a_grasp_batch_resumes_on_another_node_with_the_unmoved_result(cluster, home):
    """Seeded trials are checkpoints: after the node dies the job finishes elsewhere, redoing at most
    the trial that was running, and its result equals an unmoved run."""
    request = dict(object="box", num_grasps=40, seed=5, render=())
    reference = wb.run("grasp", device="cpu", **request)
    node = cluster["cluster"].add_node(num_cpus=1)
    cluster["cluster"].wait_for_nodes()
    ray_devices.refresh()
    doomed = _node_device(cluster, node)
    job = wb.submit("grasp", device=doomed.id, **request)
    deadline = time.time() + 120
    while len(job.checkpoints) < 3 and time.time() < deadline:
        time.sleep(0.02)
    before = len(job.checkpoints)
    assert before >= 3
    cluster["cluster"].remove_node(node, allow_graceful=False)
    result = job.result(300)
    assert job.device != doomed.id and job.moves == 1
    assert [(t.success, t.stage) for t in result.trials] == [(t.success, t.stage) for t in reference.trials]
    assert result.success_rate == reference.success_rate
    moved = [e.message for e in job.snapshot_events() if e.message.startswith("moved from")][0]
    resumed_at = int(re.search(r"resuming at item (\d+) of 40", moved).group(1))
    assert resumed_at - 1 >= before - 1  # at most the trial that was running is redone


def test_a_grasp_dataset_is_dealt_over_a_local_device_and_a_ray_node(cluster, home, tmp_path):
    """Procedural objects travel as specs (procedural:SEED:K), so a node builds them itself; the files
    come back to the dataset folder, each labelled with the device that simulated it."""
    import h5py

    from workbench.datasets import make_grasp_dataset

    node = f"ray:{cluster['npu'].node_id[:8]}/cpu"
    report = make_grasp_dataset("procedural:4", tmp_path / "data", grasps_per_object=6, devices=["cpu", node])
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert report.objects == 4 and {o["device"] for o in manifest["objects"]} == {"cpu", node}
    assert set(report.grasps_per_second) == {"cpu", node}
    for entry in manifest["objects"]:
        with h5py.File(tmp_path / "data" / entry["grasps"]) as f:
            assert f["grasps/transforms"].shape == (6, 4, 4)
            assert (tmp_path / "data" / f["object/file"][()].decode()).is_file()


def test_an_embedded_cluster_with_a_declared_npu_starts_without_tracebacks(tmp_path):
    """A node declaring an NPU without Ascend's `acl` made Ray print a traceback per start (and a
    note about token authentication) into the notebook; the device layer says it in one line."""
    import subprocess
    import sys

    code = ("import workbench as wb; wb.connect(num_cpus=1, resources={'NPU': 1}); import ray; "
            "print(sorted(d.id for d in wb.devices() if d.id.startswith('ray:'))); ray.shutdown()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240,
                          env={**__import__("os").environ, "WORKBENCH_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "ray:npu" in done.stdout
    assert "Traceback" not in done.stderr and "Failed to detect NPU type" not in done.stderr, done.stderr
    assert "Token authentication is enabled" not in done.stderr


def test_an_embedded_cluster_is_refused_when_ray_was_imported_first(tmp_path):
    """Ray reads its loopback switch at import: started after a plain `import ray`, the embedded
    cluster would listen on every interface. Refused in one sentence instead."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"}
    code = ("import ray, workbench as wb\ntry:\n    wb.connect(num_cpus=1)\nexcept wb.WorkbenchError as exc:\n"
            "    print(exc)\nprint(ray.is_initialized())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**env, "WORKBENCH_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("Ray was imported before workbench could make the embedded cluster listen on 127.0.0.1")
    assert lines[-1] == "False"  # nothing was started
