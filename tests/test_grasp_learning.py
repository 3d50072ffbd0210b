"""Grasp datasets made by simulation, a grasp model trained on them, and the sampler it powers."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

import workbench as wb
from workbench.datasets import make_grasp_dataset
from workbench.errors import InputError


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grasp-data")
    report = make_grasp_dataset("procedural:4", folder, grasps_per_object=10, devices=["cpu"])
    return folder, report


def test_the_dataset_is_acronym_files_with_a_manifest(dataset):
    import trimesh

    folder, report = dataset
    assert report.objects == 4 and report.made_now == 4 and report.grasps == 40
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [o["name"] for o in manifest["objects"]] == ["proc0000_box", "proc0001_cylinder", "proc0002_sphere",
                                                       "proc0003_capsule"]
    for entry in manifest["objects"]:
        with h5py.File(folder / entry["grasps"]) as f:  # as ACRONYM's loader: object/file under the dataset root
            transforms = f["grasps/transforms"][()]
            labels = f["grasps/qualities/flex/object_in_gripper"][()]
            mesh = trimesh.load(folder / f["object/file"][()].decode(), force="mesh")
            assert f["gripper/type"][()].decode() == "franka"
        assert transforms.shape == (10, 4, 4) and set(labels) <= {0, 1}
        assert mesh.is_watertight and np.allclose(mesh.center_mass, 0, atol=1e-6)  # the frame of the grasps
        assert entry["success_rate"] == pytest.approx(labels.mean())
    assert 0 < report.success_rate < 1  # jittered grasps: successes and failures to learn from


def test_a_stopped_dataset_resumes_without_redoing_objects(dataset, tmp_path):
    folder, _ = dataset
    before = {p.name: p.stat().st_mtime_ns for p in (folder / "grasps").iterdir()}
    more = make_grasp_dataset("procedural:5", folder, grasps_per_object=10, devices=["cpu"])
    assert more.made_now == 1 and more.objects == 5
    after = {p.name: p.stat().st_mtime_ns for p in (folder / "grasps").iterdir()}
    assert {k: after[k] for k in before} == before  # finished objects untouched
    with pytest.raises(InputError, match="made with the franka gripper and the jittered sampler"):
        make_grasp_dataset("procedural:5", folder, grasps_per_object=10, sampler="antipodal")


def test_bad_dataset_inputs_are_one_sentence(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no mesh files .* it is empty"):
        make_grasp_dataset(str(tmp_path / "empty"), tmp_path / "out")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("hello")
    with pytest.raises(InputError, match="its 1 file\\(s\\) are something else"):
        make_grasp_dataset(str(tmp_path / "notes"), tmp_path / "out")
    with pytest.raises(InputError, match="procedural:N needs a number"):
        make_grasp_dataset("procedural:many", tmp_path / "out")
    with pytest.raises(InputError, match="is not a grasp dataset"):
        wb.run("grasp-train", data=str(tmp_path / "notes"), device="cpu")


@pytest.fixture(scope="module")
def model(dataset):
    folder, _ = dataset
    return wb.run("grasp-train", data=str(folder), epochs=8, held_out=0.25, device="cpu", timeout=300)


def test_training_lowers_the_loss_and_records_the_held_out_objects(model, dataset):
    assert model.train_loss[-1] < model.train_loss[0]
    assert len(model.held_out_objects) >= 1 and not set(model.held_out_objects) & set(model.train_objects)
    config = json.loads(model.files["config"].read_text())
    assert config["kind"] == "grasp-scorer" and config["held_out"] == model.held_out_objects
    assert model.files["curves"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_learned_sampler_proposes_valid_grasps(model):
    from workbench.tasks.grasping.grasp import GraspRequest, _gripper, _object, _world, sample

    folder = model.files["scorer"].parent
    request = GraspRequest(object="box:0.04,0.06,0.1", num_grasps=6, sampler=f"learned:{folder}", render=())
    world, gripper, obj = _world(request), _gripper(request), _object(request)
    seen = []
    candidates = sample(request, obj, gripper, world, seen.append)
    assert len(candidates) == 6 and "by the learned model" in seen[0].message
    for c in candidates:
        assert np.allclose(c.pose[:3, :3] @ c.pose[:3, :3].T, np.eye(3), atol=1e-9)
        assert c.width <= gripper.max_opening  # the object fits between the fingers
        assert not world.starts_in_collision(c.pose, 0.0)  # the open gripper touches nothing
    assert "it learned from" not in seen[0].message  # the physics it was trained on
    result = wb.run("grasp", request, device="cpu")
    assert len(result.trials) == 6
    slippery = GraspRequest(object="box:0.04,0.06,0.1", num_grasps=6, sampler=f"learned:{folder}", friction=0.5,
                            render=())
    sample(slippery, _object(slippery), gripper, _world(slippery), seen.append)
    assert "it learned from friction 1, density 500, this run is 0.5, 500" in seen[-1].message


def test_a_model_for_another_gripper_or_no_model_is_refused(model, tmp_path):
    folder = model.files["scorer"].parent
    with pytest.raises(InputError, match="trained for the 'franka' gripper, not 'wide'"):
        wb.submit("grasp", object="box", gripper="wide", sampler=f"learned:{folder}", device="cpu")
    with pytest.raises(InputError, match="is not a grasp model folder"):
        wb.submit("grasp", object="box", sampler=f"learned:{tmp_path}", device="cpu")
    with pytest.raises(InputError, match="Unknown sampler 'best'"):
        wb.submit("grasp", object="box", sampler="best", device="cpu")
    stale = tmp_path / "old-model"
    stale.mkdir()
    (stale / "scorer.pt").write_bytes((folder / "scorer.pt").read_bytes())
    config = json.loads((folder / "config.json").read_text())
    del config["inputs"]  # a folder from before the network read normals, centre of mass and gravity
    (stale / "config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match="trained by an older workbench .* train it again"):
        wb.submit("grasp", object="box", sampler=f"learned:{stale}", device="cpu")


def test_the_network_sees_the_centre_of_mass_gravity_and_a_close_up_from_the_gripper():
    from workbench.tasks.grasping.learned import SCALE, in_gripper_frame

    # two points along the object's +x (normals +x): 1 cm and 5 cm from the centre of mass
    surface = np.array([[0.01, 0.0, 0.0, 1.0, 0.0, 0.0], [0.05, 0.0, 0.0, 1.0, 0.0, 0.0]])
    pose = np.eye(4)
    pose[:3, :3] = [[0, 0, 1], [0, 1, 0], [-1, 0, 0]]  # approaching along the object's +x: gripper z = object x
    pose[:3, 3] = [-0.1, 0.0, 0.0]  # 10 cm back from the centre of mass
    clouds, context = in_gripper_frame(surface, pose[None], centre_z=0.15, mass=0.3, num_points=2, local_points=1)
    assert clouds.shape == (1, 3, 7)
    assert np.allclose(clouds[0, 0], [0, 0, 0.11 * SCALE, 0, 0, 1, 0])  # straight ahead, normal ahead
    assert np.allclose(clouds[0, 1], [0, 0, 0.15 * SCALE, 0, 0, 1, 0])
    assert np.allclose(clouds[0, 2], [0, 0, 0.15 * SCALE, 0, 0, 1, 1])  # the close-up: nearest the grasp centre
    assert np.allclose(context[0, :3], [0, 0, 0.1 * SCALE])  # the centre of mass 10 cm ahead
    assert np.allclose(context[0, 3:], [1, 0, 0, 0.3])  # the gripper's x axis is the object's -z: down


def test_the_score_is_the_same_for_the_gripper_turned_half_a_turn(model):
    """The two fingers are alike: a grasp and the same grasp with the hand turned 180 degrees about
    its approach axis are one grasp, and the model scores them alike."""
    from workbench.tasks.grasping.grasp import GraspRequest, _object
    from workbench.tasks.grasping.gripper import GRIPPERS
    from workbench.tasks.grasping.learned import load, score
    from workbench.tasks.grasping.sampler import antipodal

    net, config = load(model.files["scorer"].parent, "franka")
    obj = _object(GraspRequest(object="box:0.04,0.06,0.1"))
    poses = np.stack([c.pose for c in antipodal(obj, GRIPPERS["franka"], 12, seed=3)])
    turned = poses.copy()
    turned[:, :3, :2] *= -1  # x and y reversed: a rotation by pi about z
    scores = score(net, config, obj.mesh, obj.mass, poses)
    assert np.allclose(scores, score(net, config, obj.mesh, obj.mass, turned), atol=1e-5)
    assert scores.std() > 0  # and the poses are told apart


def _copy_model(folder, to, config_change=None, weights=None):
    to.mkdir()
    (to / "scorer.pt").write_bytes(weights if weights is not None else (folder / "scorer.pt").read_bytes())
    config = json.loads((folder / "config.json").read_text())
    config = config_change(config) if config_change else config
    (to / "config.json").write_text(json.dumps(config))
    return to


@pytest.mark.parametrize("change, weights, message", [
    (lambda c: [], None, "is not a grasp model's config"),
    (lambda c: {**c, "width": 10**6}, None, "width must be a whole number 1-4096"),
    (lambda c: {**c, "centre_z": "high"}, None, "centre_z must be a finite number"),
    (None, b"not a torch file at all", "is not the weights of this grasp model"),
    (None, "pickle", "is not the weights of this grasp model"),
])
def test_a_bad_model_folder_is_refused_at_submit(model, tmp_path, change, weights, message):
    """A config of `[]` was a traceback; width 10^6 tried to allocate 8 TB; a pickle was an UnpicklingError in
    the job. The weights are loaded at submit with weights_only=True (a pickle never runs)."""
    import pickle

    if weights == "pickle":
        weights = pickle.dumps({"fc.weight": object()})
    folder = _copy_model(model.files["scorer"].parent, tmp_path / "m", change, weights)
    with pytest.raises(InputError, match=message) as info:
        wb.submit("grasp", object="box", sampler=f"learned:{folder}", device="cpu")
    assert "\n" not in str(info.value)


def _grasp_file(path, transforms, labels=None, mass=0.1):
    with h5py.File(path, "w") as f:
        f["grasps/transforms"] = transforms
        if labels is not None:
            f["grasps/qualities/flex/object_in_gripper"] = labels
        f["object/mass"] = mass
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda t, lab: (np.where(np.eye(4, dtype=bool)[None], np.nan, t), lab, 0.1), "grasp 0 holds numbers that are not"),
    (lambda t, lab: (t * 2, lab, 0.1), "grasp 0 is not a rigid transform"),
    (lambda t, lab: (t, lab * 7, 0.1), "must be 1 \\(held\\) or 0 \\(lost\\)"),
    (lambda t, lab: (t, lab, -5.0), "object/mass must be a positive number"),
])
def test_bad_grasp_file_contents_are_refused_at_submit(tmp_path, edit, message):
    transforms = np.repeat(np.eye(4)[None], 3, axis=0)
    transforms[:, 2, 3] = 0.1
    t, lab, mass = edit(transforms, np.array([1, 0, 1]))
    path = _grasp_file(tmp_path / "g.h5", t, lab, mass)
    with pytest.raises(InputError, match=message):
        wb.submit("grasp", grasps=str(path), object="box", device="cpu")


@pytest.mark.parametrize("manifest, message", [
    ("[]", "is not a grasp dataset manifest"),
    ("{not json", "is not readable JSON"),
    ('{"objects": [{"name": "a", "grasps": "../../etc/passwd", "mesh": "m.obj"}, {"name": "b", "grasps": "x"}]}',
     "which is not a file inside the dataset"),
])
def test_a_bad_dataset_is_refused_before_training(tmp_path, manifest, message):
    (tmp_path / "manifest.json").write_text(manifest)
    with pytest.raises(InputError, match=message):
        wb.submit("grasp-train", data=str(tmp_path), device="cpu")
