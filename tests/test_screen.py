"""Screening one target against a ligand library with Boltz-2 (tiny random Boltz-2, Boltz's own classes):
ranking, bad lines reported per line, restraints per ligand, SDF libraries, the CLI, resume after a drain.

Scores are not asserted: the weights are random.
"""

from __future__ import annotations

import csv
import re
import time

import gemmi
import pytest
from helpers import run_cli
from rdkit import Chem

import workbench as wb
from workbench.errors import InputError

TARGET = "MKTAYIAKQRQISFVKSHFSRQ"
FAST = {"tiny": True, "recycling_steps": 0, "sampling_steps": 3}
LIBRARY = "# five lines, one not a molecule\nCCO ethanol\nCC(=O)Oc1ccccc1C(=O)O aspirin\nC1CC( broken\n" \
          "c1ccccc1O phenol\nCCN(CC)CC triethylamine\n"


def test_a_five_line_screen_with_one_bad_smiles_ranks_four_and_reports_the_line(tmp_path):
    library = tmp_path / "library.smi"
    library.write_text(LIBRARY)
    job = wb.submit("screen", target=(TARGET,), library=str(library), pockets=("B: A:3, A:5 @ 6",), device="cpu",
                    **FAST)
    r = job.result(600)
    assert sorted(row.name for row in r.rows) == ["aspirin", "ethanol", "phenol", "triethylamine"]
    assert [row.rank for row in r.rows] == [1, 2, 3, 4]
    assert [(row.ligand_iptm, row.confidence_score) for row in r.rows] == sorted(
        ((row.ligand_iptm, row.confidence_score) for row in r.rows), reverse=True)  # best first
    assert r.skipped == [{"line": 4, "text": "C1CC( broken", "reason": "RDKit cannot read the SMILES 'C1CC('."}]
    assert any("skipped line 4" in e.progress.message for e in job.snapshot_events() if e.progress is not None)
    table = list(csv.DictReader(open(r.files["table"])))
    assert [row["name"] for row in table] == [row.name for row in r.rows]
    for row in r.rows:  # each ligand's best pose, as mmCIF gemmi reads, with the target and the ligand
        assert row.restraints_satisfied in ("0/1", "1/1")
        structure = gemmi.read_structure(str(r.files[row.cif]))
        assert [ch.name for ch in structure[0]] == ["A", "B"]
        assert len(structure[0]["B"][0]) == Chem.MolFromSmiles(row.smiles).GetNumHeavyAtoms()
    ligand_progress = [e.progress.message for e in job.snapshot_events() if e.progress is not None]
    assert any(re.match(r"ligand 2/4 \(aspirin\), about \d+ s left: ", m) for m in ligand_progress)
    from workbench import presenters

    text = presenters.summary(r)
    assert "4 ligand(s) screened" in text and "skipped line 4" in text and "mean nothing" in text


def test_an_sdf_library_and_inline_smiles_and_bad_input(tmp_path):
    sdf = tmp_path / "library.sdf"
    writer = Chem.SDWriter(str(sdf))
    for smi, name in (("CCO", "ethanol"), ("c1ccccc1", "benzene")):
        mol = Chem.MolFromSmiles(smi)
        mol.SetProp("_Name", name)
        writer.write(mol)
    writer.close()
    r = wb.run("screen", target=(TARGET,), library=str(sdf), smiles=("CCN propylamine-ish",), checks=False,
               device="cpu", timeout=600, **FAST)
    assert sorted((row.line, row.name) for row in r.rows) == [(1, "ethanol"), (2, "benzene"), (3, "propylamine-ish")]
    with pytest.raises(InputError, match="None of the ligands is a molecule"):
        wb.submit("screen", target=(TARGET,), smiles=("C1CC(",), **FAST)
    with pytest.raises(InputError, match=r"^pocket 'Z: A:3': binder 'Z' is not a chain of the complex\.$"):
        wb.submit("screen", target=(TARGET,), smiles=("CCO",), pockets=("Z: A:3",), **FAST)
    with pytest.raises(InputError, match="No ligand library at"):
        wb.submit("screen", target=(TARGET,), library=str(tmp_path / "missing.smi"), **FAST)
    assert len(wb.jobs()) == 1  # the refused ones never became jobs


def test_the_command_line_screen(tmp_path):
    library = tmp_path / "library.smi"
    library.write_text("CCO ethanol\nnot-a-molecule\nc1ccccc1O phenol\n")
    out = run_cli("screen", "--target", TARGET, "--ligands", str(library), "--tiny", "--recycling-steps", "0",
                  "--sampling-steps", "3", "--no-checks", "--out", str(tmp_path / "out"), "--quiet")
    assert out.returncode == 0, out.stderr
    assert "2 ligand(s) screened against 1 target chain(s); 1 line(s) skipped" in out.stdout
    assert "skipped line 2:" in out.stdout
    assert (tmp_path / "out" / "screen.csv").is_file()


def test_a_screen_moved_off_a_drained_device_redoes_at_most_one_ligand(devices):
    smiles = tuple(f"{'C' * (k + 1)}O alcohol{k + 1}" for k in range(6))
    job = devices["sim:npu0"].submit("screen", wb.tasks.registry.get_task("screen").request_type()(
        target=(TARGET,), smiles=smiles, checks=False, **FAST))
    deadline = time.time() + 300
    while len(job.checkpoints) < 2 and time.time() < deadline:
        time.sleep(0.01)
    wb.drain("sim:npu0")
    try:
        r = job.result(600)
    finally:
        wb.drain("sim:npu0", False)
    assert job.device == "cpu" and job.moves == 1
    assert sorted(row.name for row in r.rows) == [f"alcohol{k + 1}" for k in range(6)]
    started = [e.progress.message for e in job.snapshot_events()
               if e.progress is not None and e.progress.message.endswith(": loading Boltz-2 (tiny, random weights)")]
    assert 6 <= len(started) <= 7, started  # each ligand once, and at most the one cut off by the drain again
    for key, path in r.files.items():
        assert path.is_file() and path.stat().st_size > 0, key


def test_a_screen_with_affinity_ranks_by_binder_probability():
    r = wb.run("screen", target=(TARGET,), smiles=("CCO ethanol", "c1ccccc1O phenol", "CCN(CC)CC tea"),
               affinity=True, checks=False, device="cpu", timeout=600, **FAST)
    chances = [row.affinity_probability for row in r.rows]
    assert all(c is not None and 0 <= c <= 1 for c in chances) and chances == sorted(chances, reverse=True)
    assert all(row.affinity_value is not None for row in r.rows)
    table = list(csv.DictReader(open(r.files["table"])))
    assert [float(row["affinity_probability_binary"]) for row in table] == pytest.approx(chances, abs=1e-4)
    from workbench import presenters

    assert "binder probability" in presenters.summary(r)
