"""ACRONYM's own file (a ShapeNetSem table, 2,000 FleX-labelled grasps) read in ACRONYM's frame and
simulated: the reference data is the judge, not a round trip of our own files."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from helpers import run_cli
from reference_data import ACRONYM_TABLE, need

import workbench as wb
from workbench.jobs.heartbeat import is_beat
from workbench.tasks.grasping.export import object_metadata
from workbench.tasks.grasping.grasp import GraspRequest, _object


def test_the_object_is_in_acronyms_frame_and_scale():
    path = need(ACRONYM_TABLE)
    obj = _object(GraspRequest(grasps=str(path), render=()))
    with h5py.File(path) as f:
        com, mass, scale = f["object/com"][()], f["object/mass"][()], f["object/scale"][()]
    assert obj.scale == pytest.approx(scale)
    # where we place the centre of mass, in the mesh file's frame, is where ACRONYM's own metadata says it is
    assert np.allclose(object_metadata(obj)["com"], com, atol=5e-4)
    assert obj.mass == pytest.approx(mass)
    assert np.allclose(obj.to_source(obj.from_source(np.eye(4)[None]))[0], np.eye(4))
    assert 0.1 < obj.mesh.extents.max() < 0.25  # a table 20 cm tall, not 20 m (the scale applied)


def test_flex_good_grasps_hold_and_the_files_stay_in_acronyms_frame(tmp_path):
    """On main the file was simulated in a recentred frame: 0 of FleX's good grasps succeeded."""
    path = need(ACRONYM_TABLE)
    messages = []
    job = wb.submit("grasp", grasps=str(path), num_grasps=160, workers=2, render=(), device="cpu")
    for event in job.events():
        if event.progress is not None and event.progress.message and not is_beat(event.progress):
            messages.append(event.progress.message)
    result = job.result(600)
    said = [i for i, m in enumerate(messages) if "evaluating the first 160 of 2000 grasps" in m]
    trials = [i for i, m in enumerate(messages) if m.startswith("trial")]
    assert said, messages[:5]
    assert not trials or said[0] < trials[0], messages[:5]  # said before the first trial is reported
    agreed = result.agreement
    assert agreed.total == 160
    assert agreed.accuracy >= 0.8, agreed.summary()  # measured 0.86-0.87; 0.35 before the frame was right
    assert agreed.recall >= 0.8 and agreed.true_negative >= 10  # both classes, not one called for everything
    with h5py.File(path) as f:
        given = f["grasps/transforms"][:160]
    with h5py.File(result.files["acronym"]) as f:  # what we write is in the same frame as what we read
        assert np.allclose(f["grasps/transforms"][()], given)
    import csv

    rows = list(csv.DictReader(result.files["agreement"].open()))
    assert len(rows) == 160 and "object_motion_during_shaking_linear" in rows[0]
    differ = [r for r in rows if r["agree"] == "0"]
    assert len(differ) == agreed.false_positive + agreed.false_negative
    assert all(r["why_they_differ"].startswith("the file says") for r in differ)


def test_a_mesh_given_by_hand_takes_the_files_scale():
    path = need(ACRONYM_TABLE)
    mesh = path.parents[1] / "meshes" / "Table" / "99cf659ae2fe4b87b72437fd995483b.obj"
    obj = _object(GraspRequest(grasps=str(path), object=str(mesh), render=()))
    assert 0.1 < obj.mesh.extents.max() < 0.25


def test_the_cli_evaluates_a_whole_file_by_default_and_says_so(tmp_path):
    path = need(ACRONYM_TABLE)
    out = run_cli("run", "grasp", "--help")
    assert "--grasps" in out.stdout and "(0: all of them)" in " ".join(out.stdout.split())
    request = GraspRequest(grasps=str(path), render=())
    from workbench.tasks.grasping.grasp import grasp_count

    assert grasp_count(request) == 2000
