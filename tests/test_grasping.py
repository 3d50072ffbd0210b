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
    g = get_gripper("franka")
    pose = pose_fn(obj, g)
    width = float(np.ptp(obj.mesh.vertices @ pose[:3, 0]))
    return Trial(obj, g, Protocol()).run(0, pose, width)


def test_box_grasped_across_its_short_side_at_the_centre_succeeds():
    # close along x (5 cm) through the centre, approaching sideways along y, pads reaching past the centre
    out = _run("box:0.05,0.08,0.1",
               lambda o, g: frame(np.zeros(3), np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), g, depth=0.9))
    assert out.success and out.stage == "" and out.contacts >= 2 and out.slip_mm < 20


def test_fingers_closing_on_air_fail_at_lift():
    out = _run("box:0.05,0.05,0.1", lambda o, g: top_grasp(o, g, lift=0.3))
    assert not out.success and out.stage == "lift" and out.contacts == 0


def test_object_wider_than_the_opening_is_refused_before_simulation():
    out = _run("box:0.04,0.2,0.05")
    assert out.stage == "refused" and "200 mm wide" in out.reason and "opens 80 mm" in out.reason
    with pytest.raises(JobFailed, match="wider than the gripper's 80 mm opening"):
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
    assert [t.slip_mm for t in one.trials] == pytest.approx([t.slip_mm for t in two.trials], abs=1e-6)
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
        assert f["object/file"][()].decode() == "meshes/" + r.files["mesh"].name
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
    assert names[:3] == ["grasps.h5", "grasps.npz", "meshes"]
    assert (tmp_path / "out" / "meshes" / "box_0.05_0.05_0.1.obj").exists()


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
    g = get_gripper("franka")
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


# ---- ACRONYM's format and Franka frame, read the way ACRONYM's own tools read them ------------

#: ACRONYM's Franka marker (acronym_tools.create_gripper_marker): fingers at x = +-0.041 m from
#: z = 0.066 m to the tips at 0.112 m, a cross bar at z = 0.066, a stem down to the hand base
MARKER_X, PAD_Z0, TIP_Z = 0.041, 0.066, 0.11217
#: the Panda hand's body (published dimensions: 0.204 m long along the closing axis, 0.063 m thick)
HAND_HALF, HAND_TOP = (0.102, 0.0315), 0.058


def acronym_load_grasps(path):
    """What ACRONYM's `load_grasps` returns: the transforms and the success flags."""
    with h5py.File(path, "r") as data:
        return data["grasps/transforms"][()], data["grasps/qualities/flex/object_in_gripper"][()]


def acronym_load_mesh(path, mesh_root_dir):
    """What ACRONYM's `load_mesh` does: `object/file` joined to the mesh root, scaled by `object/scale`."""
    import os

    import trimesh

    with h5py.File(path, "r") as data:
        mesh_file = data["object/file"][()].decode("utf-8")
        scale = data["object/scale"][()]
    return trimesh.load(os.path.join(mesh_root_dir, mesh_file), force="mesh").apply_scale(scale)


def franka_points(pose):
    """Points filling ACRONYM's Franka marker fingers and the Panda hand body, in the object frame."""
    z = np.linspace(PAD_Z0, TIP_Z, 12)
    fingers = [np.stack([np.full_like(z, sx * MARKER_X), np.zeros_like(z) + dy, z], axis=1)
               for sx in (-1, 1) for dy in (-0.008, 0.0, 0.008)]
    gx, gy, gz = np.meshgrid(np.linspace(-HAND_HALF[0], HAND_HALF[0], 21), np.linspace(-HAND_HALF[1], HAND_HALF[1], 7),
                             np.linspace(0.005, HAND_TOP, 6))
    hand = np.stack([gx.ravel(), gy.ravel(), gz.ravel()], axis=1)
    local = np.concatenate(fingers + [hand])
    return local @ pose[:3, :3].T + pose[:3, 3]


@pytest.mark.parametrize("spec", ["box:0.05,0.05,0.05", "cylinder:0.03,0.12"])
def test_successful_grasps_hold_the_object_between_franka_fingertips_without_collision(spec):
    r = wb.run("grasp", object=spec, num_grasps=12, seed=1, render=(), device="cpu")
    transforms, success = acronym_load_grasps(r.files["acronym"])
    mesh = acronym_load_mesh(r.files["acronym"], r.files["acronym"].parent)
    assert success.sum() >= 10
    low, high = mesh.bounds
    for pose in transforms[success == 1]:
        midpoint = pose[:3, :3] @ np.array([0, 0, (PAD_Z0 + TIP_Z) / 2]) + pose[:3, 3]
        assert np.all(midpoint >= low - 1e-9) and np.all(midpoint <= high + 1e-9)
        closing = pose[:3, 0]  # the object lies between the fingers along x
        assert np.ptp(mesh.vertices @ closing) <= 2 * MARKER_X
        assert not mesh.contains(franka_points(pose)).any()


def test_acronym_metadata_is_complete_and_the_mesh_resolves(tmp_path):
    r = wb.run("grasp", object="box:0.04,0.05,0.06", num_grasps=3, mass=0.2, render=(), device="cpu")
    with h5py.File(r.files["acronym"]) as f:
        assert f["gripper/type"][()].decode() == "franka"
        assert f["gripper/configuration"][()] == pytest.approx([0.04, 0.04])
        for key in ("com", "density", "inertia", "mass", "volume", "friction", "scale", "file"):
            assert f"object/{key}" in f
        assert f["object/volume"][()] == pytest.approx(0.04 * 0.05 * 0.06, rel=1e-6)
        assert f["object/density"][()] == pytest.approx(0.2 / (0.04 * 0.05 * 0.06), rel=1e-6)
        expected = 0.2 / 12 * np.diag([0.05**2 + 0.06**2, 0.04**2 + 0.06**2, 0.04**2 + 0.05**2])
        assert f["object/inertia"][()] == pytest.approx(expected, rel=1e-6, abs=1e-12)
        assert f["object/com"][()] == pytest.approx([0, 0, 0], abs=1e-9)
        assert f["grasps/qualities/workbench/slip"].attrs["unit"] == "mm"
    mesh = acronym_load_mesh(r.files["acronym"], r.files["acronym"].parent)
    assert mesh.extents == pytest.approx([0.04, 0.05, 0.06])


@pytest.mark.parametrize("spec", ["box:0.05,0.05,0.05", "cylinder:0.03,0.12", "sphere:0.015"])
def test_easy_objects_are_grasped_nine_times_in_ten(spec):
    """Default gripper, friction and sampler: a 5 cm cube, a 6 cm can and a 3 cm ball."""
    r = wb.run("grasp", object=spec, num_grasps=30, seed=0, render=(), device="cpu", workers=2)
    assert r.success_rate >= 0.9, (r.stage_counts, [t.reason for t in r.trials if not t.success])
    for t in r.trials:
        assert t.slip_mm < 60 if t.success else t.reason and t.lost is not None


def test_a_labelled_acronym_file_is_re_evaluated_and_agreement_reported(tmp_path):
    """Grasps of one file (the mesh found from the file's own folder, as in ACRONYM's layout), labels
    flipped on a known subset: the agreement counts exactly those flips."""
    import shutil

    first = wb.run("grasp", object="box:0.05,0.05,0.05", num_grasps=10, seed=2, render=(), device="cpu")
    root = tmp_path / "dataset"
    (root / "grasps").mkdir(parents=True)
    shutil.copytree(first.files["mesh"].parent, root / "meshes")
    labelled = root / "grasps" / "box.h5"
    shutil.copy(first.files["acronym"], labelled)
    with h5py.File(labelled, "r+") as f:  # ACRONYM's layout: object/file relative to the dataset root
        labels = f["grasps/qualities/flex/object_in_gripper"]
        flipped = labels[()].copy()
        flipped[:3] = 1 - flipped[:3]
        labels[...] = flipped
    again = wb.run("grasp", grasps=str(labelled), num_grasps=100, render=(), device="cpu")
    assert [t.success for t in again.trials] == [t.success for t in first.trials]
    a = again.agreement
    assert a.total == 10 and a.accuracy == pytest.approx(0.7)
    assert a.false_positive + a.false_negative == 3
    from workbench.presenters import summary

    assert "agreement with the file's labels 70%" in summary(again)
    from helpers import run_cli

    proc = run_cli("run", "grasp", "--grasps", str(labelled), "--num", "4")
    assert proc.returncode == 0, proc.stderr
    assert "over 4 grasps" in proc.stdout and "agreement with the file's labels" in proc.stdout
    bad = run_cli("run", "grasp", "--grasps", str(tmp_path / "none.h5"))
    assert bad.returncode == 2 and bad.stderr.strip().endswith("No such grasp file: " + str(tmp_path / "none.h5"))
    (tmp_path / "lonely.h5").write_bytes(labelled.read_bytes())
    lonely = run_cli("run", "grasp", "--grasps", str(tmp_path / "lonely.h5"))
    assert lonely.returncode == 2 and "pass the mesh with --object" in lonely.stderr


def test_a_given_pose_pinching_a_ring_wall_is_as_wide_as_the_wall(tmp_path):
    """Poses given (or read from a file) are measured between the open fingers: a ring 9 cm across,
    pinched by its 1 cm wall from above, is not refused as 90 mm wide; it is simulated."""
    import trimesh

    path = tmp_path / "ring.obj"
    trimesh.creation.annulus(r_min=0.035, r_max=0.045, height=0.02, sections=48).export(path)
    gripper = get_gripper("franka")
    pose = frame(np.array([0.04, 0.0, 0.0]), np.array([1.0, 0, 0]), np.array([0, 0, -1.0]), gripper, depth=0.5)
    result = wb.run("grasp", object=str(path), poses=(tuple(pose.ravel()),), render=(), device="cpu")
    trial = result.trials[0]
    assert trial.stage != "refused" and trial.width == pytest.approx(0.01, abs=0.002)
    assert trial.success  # a light ring (density 500) held by its wall
