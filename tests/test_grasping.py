"""Grasp simulation with real MuJoCo physics: outcomes that are known on primitives."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import workbench as wb
from workbench.errors import InputError, JobFailed
from workbench.tasks.grasping.gripper import get_gripper
from workbench.tasks.grasping.metrics import wilson_interval
from workbench.tasks.grasping.objects import make_object
from workbench.tasks.grasping.sampler import frame
from workbench.tasks.grasping.simulate import Protocol, Trial


def top_grasp(obj, gripper, *, closing=(0, 1, 0), below_top=0.02, lift=0.0):
    """Approach from above (gripper z pointing down), contact line `below_top` under the top face."""
    centre = np.array([0.0, 0.0, obj.mesh.bounds[1][2] - below_top + lift])
    return frame(centre, np.array(closing, float), np.array([0, 0, -1.0]), gripper, depth=0.5)


def _run(spec, pose_fn=top_grasp, **kw):
    obj = make_object(spec, **kw)
    g = get_gripper("parallel-jaw")
    pose = pose_fn(obj, g)
    width = float(np.ptp(obj.mesh.vertices @ pose[:3, 1]))
    return Trial(obj, g, Protocol()).run(0, pose, width)


def test_box_grasped_across_its_short_side_at_the_centre_succeeds():
    # close along x (5 cm) through the centre, approaching sideways along y, pads reaching past the centre
    out = _run("box:0.05,0.08,0.1",
               lambda o, g: frame(np.zeros(3), np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), g, depth=0.9))
    assert out.success and out.stage == "" and out.contacts >= 2 and out.slip < 0.02


def test_fingers_closing_on_air_fail_at_lift():
    out = _run("box:0.05,0.05,0.1", lambda o, g: top_grasp(o, g, lift=0.3))
    assert not out.success and out.stage == "lift" and out.contacts == 0


def test_object_wider_than_the_opening_is_refused_before_simulation():
    out = _run("box:0.04,0.2,0.05")
    assert out.stage == "refused" and "200 mm wide" in out.reason and "opens 85 mm" in out.reason
    with pytest.raises(JobFailed, match="wider than the gripper's 85 mm opening"):
        wb.run("grasp", object="wide-box", num_grasps=5, device="cpu")


def test_grasp_starting_in_collision_is_reported():
    out = _run("box:0.05,0.05,0.1", lambda o, g: top_grasp(o, g, below_top=0.09))
    assert out.stage == "collision" and "inside the object" in out.reason


def test_heavy_low_friction_object_slips():
    held = _run("box:0.05,0.05,0.1", mass=0.2, friction=1.0)
    slips = _run("box:0.05,0.05,0.1", mass=5.0, friction=0.1)
    assert held.success
    assert not slips.success and slips.stage in ("lift", "shake")


def test_same_seed_same_results_on_one_and_two_workers():
    one = wb.run("grasp", object="can", num_grasps=8, seed=3, workers=1, device="cpu")
    two = wb.run("grasp", object="can", num_grasps=8, seed=3, workers=2, device="cpu")
    assert [(t.success, t.stage) for t in one.trials] == [(t.success, t.stage) for t in two.trials]
    assert [t.slip for t in one.trials] == pytest.approx([t.slip for t in two.trials], abs=1e-9)
    poses_one = np.load(one.files["numpy"])["transforms"]
    poses_two = np.load(two.files["numpy"])["transforms"]
    assert np.array_equal(poses_one, poses_two)


def test_acronym_export_and_metrics():
    r = wb.run("grasp", object="box", num_grasps=10, device="cpu")
    assert len(r.trials) == 10 and 0 <= r.ci_low <= r.success_rate <= r.ci_high <= 1
    assert sum(r.stage_counts.values()) == sum(not t.success for t in r.trials)
    with h5py.File(r.files["acronym"]) as f:
        transforms = f["grasps/transforms"][()]
        flags = f["grasps/qualities/flex/object_in_gripper"][()]
        assert transforms.shape == (10, 4, 4) and np.allclose(transforms[:, 3], [0, 0, 0, 1])
        assert list(flags) == [int(t.success) for t in r.trials]
        assert f["object/file"][()].decode() == r.files["mesh"].name
        assert f["object/mass"][()] == pytest.approx(r.object["mass"])
        assert f["object/scale"][()] == 1.0
    assert r.files["mesh"].exists()


def test_progress_per_trial(devices):
    job = wb.submit("grasp", object="ball", num_grasps=6, device="cpu")
    job.result(120)
    trials = [e.progress for e in job.snapshot_events() if e.progress is not None and "trial" in e.progress.data]
    assert sorted(p.data["trial"] for p in trials) == list(range(6))
    assert trials[-1].fraction == 1.0


def test_meshes_are_loaded_repaired_or_refused(tmp_path):
    import trimesh

    good = tmp_path / "bottle.stl"
    trimesh.creation.cylinder(radius=0.03, height=0.15).export(good)
    r = wb.run("grasp", object=str(good), num_grasps=4, device="cpu")
    assert r.object["kind"] == "mesh" and len(r.trials) == 4
    box = trimesh.creation.box(extents=(0.05, 0.05, 0.05))
    lid_off = tmp_path / "lid_off.obj"  # one side missing: a flat hole, closed exactly
    trimesh.Trimesh(box.vertices, box.faces[:-2], process=False).export(lid_off)
    obj = make_object(str(lid_off))
    assert obj.mesh.is_watertight and obj.mesh.volume == pytest.approx(0.05**3, rel=0.01)
    corner_off = tmp_path / "open.obj"  # two sides missing: the hole is bent, closing it would invent a wedge
    trimesh.Trimesh(box.vertices, box.faces[:-4], process=False).export(corner_off)
    with pytest.raises(InputError, match="not watertight: 1 of its holes are not flat"):
        make_object(str(corner_off))
    sheet = tmp_path / "sheet.obj"
    trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0.3]], [[0, 1, 2], [1, 3, 2]]).export(sheet)
    with pytest.raises(InputError, match="not watertight"):
        make_object(str(sheet))
    with pytest.raises(InputError, match="Unknown object 'pyramid:1'"):
        make_object("pyramid:1")
    with pytest.raises(InputError, match="needs 3 positive"):
        make_object("box:0.1,0.1")


def test_wilson_interval():
    low, high = wilson_interval(8, 10)
    assert 0.49 < low < 0.5 and 0.94 < high < 0.95
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_cli_grasp_writes_the_files(tmp_path):
    from helpers import run_cli

    proc = run_cli("run", "grasp", "--object", "box:0.05,0.05,0.1", "--num", "4", "--out", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names[:3] == ["box_0.05_0.05_0.1.obj", "grasps.h5", "grasps.npz"]


def test_a_trial_is_rendered_offscreen():
    r = wb.run("grasp", object="box", num_grasps=2, render=(1,), device="cpu")
    assert r.files["trial_1_png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert r.files["trial_1_gif"].read_bytes()[:6] == b"GIF89a"
    assert r.notes == []


def test_a_batch_split_over_two_devices_gives_the_single_device_results(devices):
    from workbench.tasks.grasping.grasp import GraspRequest

    request = GraspRequest(object="can", num_grasps=8, seed=5, render=())
    alone = wb.run("grasp", request, device="cpu")
    job = wb.submit("grasp", request, device=["cpu", "cpu"])
    split = job.result(180)
    assert [(t.index, t.success, t.stage) for t in split.trials] == [(t.index, t.success, t.stage)
                                                                      for t in alone.trials]
    assert np.array_equal(np.load(split.files["numpy"])["transforms"], np.load(alone.files["numpy"])["transforms"])
    assert split.success_rate == alone.success_rate
    with h5py.File(split.files["acronym"]) as f:
        assert f["grasps/transforms"].shape == (8, 4, 4)


def test_concave_meshes_collide_through_their_convex_decomposition():
    """A finger in the hole of a ring is free with the CoACD parts and in collision with the hull."""
    ring = make_object("ring")
    assert len(ring.parts) > 1 and "convex parts" in ring.notes[0]
    g = get_gripper("parallel-jaw")
    top = ring.mesh.bounds[1][2]
    # pinch the wall at x = 3.25 cm from above: one finger opens into the hole, one outside the ring
    pose = frame(np.array([0.0325, 0.0, top - 0.01]), np.array([1.0, 0, 0]), np.array([0, 0, -1.0]), g, depth=0.7)
    with_parts = Trial(ring, g, Protocol()).run(0, pose, 0.015)
    assert with_parts.stage != "collision", with_parts
    hull = make_object("ring")
    hull.parts = [hull.mesh]
    assert Trial(hull, g, Protocol()).run(0, pose, 0.015).stage == "collision"
    again = make_object("ring")  # decomposed once, then read from the cache
    assert "cached" in again.notes[0] and len(again.parts) == len(ring.parts)
