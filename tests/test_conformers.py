"""Conformer ensembles with real RDKit: outputs, stereo, checks, bad input, parallel, cancel."""

from __future__ import annotations

import re
import threading

import numpy as np
import pytest
from helpers import cpu_context
from rdkit import Chem
from rdkit.Chem import AllChem

import workbench as wb
from workbench.contract import Progress
from workbench.errors import Cancelled, InputError, JobFailed
from workbench.tasks.molecules.checks import GeometryChecker, conformer_stereo, input_stereo
from workbench.tasks.molecules.conformers import ConformerRequest, conformers_for
from workbench.tasks.molecules.conformers import run as run_conformers
from workbench.tasks.molecules.inputs import parse_smiles

IBUPROFEN_S = "CC(C)Cc1ccc(cc1)[C@H](C)C(=O)O"
E_STILBENE = "c1ccccc1/C=C/c1ccccc1"


def _sdf_records(path):
    return [m for m in Chem.SDMolSupplier(str(path), removeHs=False)]


def test_ensemble_sdf_has_energies_weights_and_hydrogens():
    r = wb.run("conformers", smiles=(f"{IBUPROFEN_S} ibuprofen",), num_conformers=30, device="cpu")
    mol = r.molecules[0]
    assert mol.ok and mol.force_field == "MMFF94s" and mol.num_conformers > 3
    assert mol.relative_energies[0] == 0 and mol.relative_energies == sorted(mol.relative_energies)
    assert sum(mol.boltzmann_weights) == pytest.approx(1.0, abs=1e-6)
    records = _sdf_records(r.files["sdf"])
    assert len(records) == mol.num_conformers
    first = records[0]
    assert first.GetProp("_Name") == "ibuprofen_conf1"
    assert any(a.GetAtomicNum() == 1 for a in first.GetAtoms())  # explicit hydrogens
    assert first.GetConformer().Is3D()
    weights = [float(m.GetProp("boltzmann_weight")) for m in records]
    assert sum(weights) == pytest.approx(1.0, abs=1e-4)
    energies = [float(m.GetProp("energy_kcal_mol")) for m in records]
    assert energies == sorted(energies)
    # the lowest-energy record is the MMFF94s minimum: re-optimising barely moves it
    props = AllChem.MMFFGetMoleculeProperties(first, mmffVariant="MMFF94s")
    ff = AllChem.MMFFGetMoleculeForceField(first, props)
    assert ff.CalcEnergy() == pytest.approx(energies[0], abs=0.05)


@pytest.mark.parametrize("smiles", [IBUPROFEN_S, "N[C@@H](C)C(=O)O", E_STILBENE,
                                    "C[C@H]1CC[C@@H](C)CC1", "C/C=C\\Cl"])
def test_stereo_of_the_input_is_kept_in_every_conformer(smiles):
    parsed = parse_smiles(smiles, 0)
    outcome, sdf = conformers_for(parsed, ConformerRequest(smiles=(smiles,), num_conformers=20))
    assert outcome.ok, outcome.error
    expected = input_stereo(parsed.mol)
    assert expected, "the test molecules all specify stereo"
    supplier = Chem.SDMolSupplier()
    supplier.SetData(sdf, removeHs=False)
    records = list(supplier)
    assert len(records) == outcome.num_conformers
    for m in records:
        got = conformer_stereo(m, 0)
        assert all(got.get(k) == v for k, v in expected.items()), (expected, got)
    # and the checker would notice a mirror image
    mirrored = Chem.Mol(records[0])
    conf = mirrored.GetConformer()
    for i in range(mirrored.GetNumAtoms()):
        p = conf.GetAtomPosition(i)
        conf.SetAtomPosition(i, (-p.x, p.y, p.z))
    if any(k.startswith("a") for k in expected):
        assert conformer_stereo(mirrored, 0) != expected


def test_bad_molecules_fail_alone_with_a_reason():
    r = wb.run("conformers", device="cpu", num_conformers=5, smiles=(
        "CCO ethanol", "C1CC broken_ring", "C(C)(C)(C)(C)C pentavalent", "[U] uranium",
        "C" * 200 + " huge", "C1#CC1 cyclopropyne", "c1ccccc1 benzene"))
    by_name = {m.name: m for m in r.molecules}
    assert by_name["ethanol"].ok and by_name["benzene"].ok
    assert "not a valid SMILES" in by_name["broken_ring"].error
    assert "valence" in by_name["pentavalent"].error.lower()
    assert "contains U" in by_name["uranium"].error
    assert "602 atoms" in by_name["huge"].error and "limit is 250" in by_name["huge"].error
    assert "Embedding failed for cyclopropyne" in by_name["cyclopropyne"].error
    assert r.num_ok == 2 and r.num_failed == 5
    names = {m.GetProp("input_name") for m in _sdf_records(r.files["sdf"])}
    assert names == {"ethanol", "benzene"}


def test_uff_is_used_where_mmff_has_no_parameters():
    r = wb.run("conformers", smiles=("OB(O)c1ccccc1",), num_conformers=5, device="cpu")
    m = r.molecules[0]
    assert m.ok and m.force_field == "UFF" and any("used UFF" in n for n in m.notes)


def test_macrocycles_use_macrocycle_settings():
    r = wb.run("conformers", smiles=("O=C1CCCCCCCCCCCN1",), num_conformers=10, device="cpu")
    assert any("macrocycle" in n for n in r.molecules[0].notes)


def test_sdf_and_mol_input_round_trip(tmp_path):
    m = Chem.AddHs(Chem.MolFromSmiles(IBUPROFEN_S))
    AllChem.EmbedMolecule(m, randomSeed=1)
    m.SetProp("_Name", "ibu3d")
    sdf = tmp_path / "in.sdf"
    with Chem.SDWriter(str(sdf)) as w:
        w.write(m)
        w.write(Chem.MolFromSmiles("CCN"))
    mol_file = tmp_path / "one.mol"
    mol_file.write_text(Chem.MolToMolBlock(Chem.MolFromSmiles("C[C@H](O)CC")))
    r = wb.run("conformers", files=(str(sdf), str(mol_file)), num_conformers=5, device="cpu")
    assert [x.ok for x in r.molecules] == [True, True, True]
    assert r.molecules[0].name == "ibu3d"
    assert "[C@" in r.molecules[0].smiles and "[C@" in r.molecules[2].smiles
    with pytest.raises(InputError, match="No such molecule file"):  # before a job exists
        wb.submit("conformers", files=(str(tmp_path / "missing.sdf"),), device="cpu")


def test_request_validation_is_a_sentence():
    with pytest.raises(InputError, match="at least one molecule"):
        ConformerRequest()
    with pytest.raises(InputError, match="Unknown force field 'AMBER'"):
        ConformerRequest(smiles=("C",), force_field="AMBER")


def test_geometry_checker_finds_bad_bonds_and_clashes():
    m = Chem.AddHs(Chem.MolFromSmiles("CCCCCC"))
    AllChem.EmbedMolecule(m, randomSeed=3)
    checker = GeometryChecker(m)
    xyz = m.GetConformer().GetPositions()
    assert checker.problem(xyz) == ""
    stretched = xyz.copy()
    stretched[1] += np.array([2.0, 0, 0])
    assert "long" in checker.problem(stretched)
    # a clash with every bond intact: two butanes, the second moved rigidly onto the first
    two = Chem.AddHs(Chem.MolFromSmiles("CCCC.CCCC"))
    AllChem.EmbedMolecule(two, randomSeed=3)
    first, second = Chem.GetMolFrags(two)
    xyz = two.GetConformer().GetPositions()
    moved = xyz.copy()
    moved[list(second)] += xyz[first[1]] - xyz[second[1]] + np.array([1.0, 0, 0])
    problem = GeometryChecker(two).problem(moved)
    assert "clash" in problem and "long" not in problem, problem


def test_two_workers_give_the_same_ensembles_as_one():
    smiles = ("CC(=O)Oc1ccccc1C(=O)O", IBUPROFEN_S, "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "C1CCCCC1O", "CCCCCCO")
    one = run_conformers(ConformerRequest(smiles=smiles, num_conformers=10, workers=1), cpu_context())
    two = run_conformers(ConformerRequest(smiles=smiles, num_conformers=10, workers=2), cpu_context())
    assert [m.num_conformers for m in one.molecules] == [m.num_conformers for m in two.molecules]
    for a, b in zip(one.molecules, two.molecules):
        assert a.relative_energies == pytest.approx(b.relative_energies, abs=1e-6)
    assert one.files["sdf"].read_text() == two.files["sdf"].read_text()


def test_progress_per_molecule_and_cancel_mid_batch(devices):
    events: list[Progress] = []
    smiles = tuple(["CCCCCCCCCCCCO"] * 40)
    job = devices["cpu"].submit("conformers", ConformerRequest(smiles=smiles, num_conformers=30))
    seen = threading.Event()

    def watch(ev):
        if ev.progress is not None:
            events.append(ev.progress)
            if ev.progress.done >= 2:
                seen.set()

    job.on_event(watch)
    assert seen.wait(60)
    job.cancel()
    with pytest.raises(Cancelled):
        job.result(60)
    assert 2 <= events[-1].done < 40
    assert wb.job(job.id).files == {}


def test_full_batch_progress_counts_every_molecule():
    seen = []
    run_conformers(ConformerRequest(smiles=("CCO", "CCN", "CCC"), num_conformers=3), cpu_context(seen.append))
    assert [p.done for p in seen if "index" in p.data] == [1, 2, 3] and seen[-1].fraction == 1.0  # per molecule
    assert [p.done for p in seen] == sorted(p.done for p in seen)  # and within each, it only moves forward


def test_a_batch_where_every_molecule_fails_is_a_failed_job():
    with pytest.raises(JobFailed, match="No molecule could be processed: 'C1CC' is not a valid SMILES"):
        wb.run("conformers", smiles=("C1CC", "[U]"), device="cpu")


def test_cli_conformers_writes_the_sdf_and_reports_bad_molecules(tmp_path):
    from helpers import run_cli

    out = tmp_path / "out.sdf"
    proc = run_cli("run", "conformers", "--smiles", "CCO ethanol", "--smiles", "C1CC", "--num", "5",
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[0] == str(out)  # where the SDF is, then the headline
    assert "1 molecule(s) ok, 1 failed" in proc.stdout
    assert re.search(r"ethanol: \d+ conformers?\b", proc.stdout) and "mol2: 'C1CC' is not a valid" in proc.stdout
    assert "mol2: 'C1CC' is not a valid SMILES" in proc.stderr
    assert [m.GetProp("input_name") for m in _sdf_records(out)] == ["ethanol"]


def test_workers_zero_means_every_core_of_the_node_that_runs_it():
    smiles = ("CCO", "CCCO", "CCCCO")
    auto = run_conformers(ConformerRequest(smiles=smiles, num_conformers=5, workers=0), cpu_context())
    one = run_conformers(ConformerRequest(smiles=smiles, num_conformers=5, workers=1), cpu_context())
    assert auto.files["sdf"].read_text() == one.files["sdf"].read_text()


def test_a_huge_smiles_is_refused_before_rdkit_reads_it(devices):
    """About 20,000 characters overflowed RDKit's stack in MolToSmiles and killed the process."""
    huge = "C" * 25_000
    with pytest.raises(JobFailed, match="the SMILES is 25,000 characters long; the limit is 2,000"):
        wb.run("conformers", smiles=(huge,), device="cpu", timeout=60)
    assert wb.run("conformers", smiles=("CCO",), num_conformers=2, device="cpu").num_ok == 1  # still alive


def test_a_long_name_is_said_to_be_the_name_not_the_smiles(devices):
    """A 4-character SMILES with a 10,000-character title was refused as "the SMILES is 10,005 characters long"."""
    with pytest.raises(JobFailed, match="the name is 10,000 characters long; the limit is 200"):
        wb.run("conformers", smiles=("CCCO " + "n" * 10_000,), device="cpu", timeout=60)
    with pytest.raises(JobFailed, match="the name is 10,000 characters long; the limit is 200"):
        wb.run("conformers", smiles=("CCCO",), names=("n" * 10_000,), device="cpu", timeout=60)
    ok = wb.run("conformers", smiles=("CCCO " + "n" * 200,), num_conformers=2, device="cpu", timeout=60)
    assert ok.num_ok == 1


@pytest.mark.slow
def test_no_orphan_workers_after_the_process_is_killed(tmp_path):
    """kill -9 of a process running a --workers 2 job used to leave its pool processes blocked."""
    import os
    import signal
    import subprocess
    import sys
    import time

    psutil = pytest.importorskip("psutil")
    smiles = " ".join(f"--smiles {'C' * (5 + i % 20)}O" for i in range(60)).split()
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "run", "conformers", *smiles, "--num", "300",
                             "--workers", "2", "--quiet"], env={**os.environ, "WORKBENCH_HOME": str(tmp_path)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    children = []
    while time.time() < deadline and len(children) < 2:
        children = psutil.Process(proc.pid).children(recursive=True)
        time.sleep(0.2)
    assert len(children) >= 2, "the job started its pool"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    time.sleep(5)
    alive = [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], [c.cmdline() for c in alive]


#: InChIKeys of the bundled molecules, by name (PubChem's, for the drug as marketed: racemates
#: where the drug is one)
INCHIKEYS = {
    "aspirin": "BSYNRYMUTXBXSQ-UHFFFAOYSA-N", "ibuprofen": "HEFNNWSXXWATRW-UHFFFAOYSA-N",
    "caffeine": "RYYVLZVUVIJVGH-UHFFFAOYSA-N", "paracetamol": "RZVAJINKPMORJF-UHFFFAOYSA-N",
    "naproxen": "CMWTZPSULFXXJA-VIFPVBQESA-N", "diclofenac": "DCOPUUMXTXDBNB-UHFFFAOYSA-N",
    "metformin": "XZWYZXLIPXDOLR-UHFFFAOYSA-N", "sotalol": "ZBMZVLHSJCTVON-UHFFFAOYSA-N",
    "propranolol": "AQHHHDLHHXJYJD-UHFFFAOYSA-N", "atenolol": "METKIMKYRPQLGS-UHFFFAOYSA-N",
    "verapamil": "SGTNSNPWRIOYBX-UHFFFAOYSA-N", "amlodipine": "HTIQEAQVCYTUBX-UHFFFAOYSA-N",
    "nicotine": "SNICXCGAKADSCV-JTQLQIEISA-N", "imipramine": "BCGWQEUPMDMJNV-UHFFFAOYSA-N",
    "amitriptyline": "KRMDCWKBEZIMAB-UHFFFAOYSA-N", "fluoxetine": "RTHCYVBBDHJXIQ-UHFFFAOYSA-N",
    "sertraline": "VGKDLMBJGBXTGI-SJCJKPOMSA-N", "cetirizine": "ZKLPARSLTMPFCP-UHFFFAOYSA-N",
    "clozapine": "QZUDBNBUXVUHMW-UHFFFAOYSA-N", "sulfasalazine": "NCEXYHBECQHGNR-QZQOTICOSA-N",
    "hydrocortisone": "JYGXADMDTFJGBT-VWUMJDOOSA-N", "estradiol": "VOXZDWNPVJITMN-ZBRFXRBCSA-N",
    "progesterone": "RJKFOVLPORLFTN-LEKSSAKUSA-N", "testosterone": "MUMGGOZAMZWBJJ-DYKIIFRCSA-N",
    "piroxicam": "QYSPLQLAKJAUJT-UHFFFAOYSA-N", "celecoxib": "RZEKVGVHFLEQIL-UHFFFAOYSA-N",
    "sildenafil": "BNRNXUUZRGQAQC-UHFFFAOYSA-N", "ciprofloxacin": "MYSWGUAQZAJSOK-UHFFFAOYSA-N",
    "penicillin_G": "JGSARLDLIJGVTE-MBNYWOFBSA-N", "amoxicillin": "LSQZJLSUYDQPKJ-NJBDSQKTSA-N",
    "sulfamethoxazole": "JLKIGFTWXXRPMT-UHFFFAOYSA-N", "omeprazole": "SUBDBMMJDZJVOS-UHFFFAOYSA-N",
    "zolpidem": "ZAFYATHCZYHLPB-UHFFFAOYSA-N", "diazepam": "AAOVKJBEBIDNHE-UHFFFAOYSA-N",
    "warfarin": "PJVWKTKQMONHTI-UHFFFAOYSA-N", "salbutamol": "NDAUXUAQIAJITI-UHFFFAOYSA-N",
    "phenytoin": "CXOFVDLJLONNDW-UHFFFAOYSA-N", "carbamazepine": "FFGPTBGBLSHEPO-UHFFFAOYSA-N",
    "valproic_acid": "NIJJYAXOARWZEE-UHFFFAOYSA-N", "gabapentin": "UGJMXCAKCUNAIE-UHFFFAOYSA-N",
    "labetalol": "SGUAFYQXFOLMHL-UHFFFAOYSA-N", "imiquimod": "DOUYETYNHWVLEO-UHFFFAOYSA-N",
    "captopril": "FAKRSMQSSFJEIM-RQJHMYQMSA-N", "enalapril": "GBXSMTUPTTWBMN-XIRDDKMYSA-N",
    "losartan": "PSIFNNKUMBGKDQ-UHFFFAOYSA-N", "atorvastatin": "XUKUURHRXDUEBC-KAYWLYCHSA-N",
    "donepezil": "ADEBPBSSDYVVLD-UHFFFAOYSA-N", "theobromine": "YAPQBXQYLJRXSA-UHFFFAOYSA-N",
    "lidocaine": "NNJVILVZKWQKPM-UHFFFAOYSA-N", "fenofibric_acid": "MQOBSOSZFYZQOK-UHFFFAOYSA-N",
    "nateglinide": "OELFLUMRDSZNSF-BRWVUGGUSA-N",
}


def test_every_bundled_molecule_is_the_molecule_its_name_says():
    """Each SMILES of the bundled drug set and of the demo, by InChIKey against the named drug."""
    from importlib.resources import files

    from workbench.demo import DEMO_MOLECULES

    lines = files("workbench.tasks.molecules").joinpath("data/drugs50.smi").read_text().splitlines()
    entries = [line.split()[:2] for line in lines if line.strip() and not line.startswith("#")]
    entries += [line.split()[:2] for line in DEMO_MOLECULES]
    assert len(entries) == 54
    wrong = {name: Chem.MolToInchiKey(Chem.MolFromSmiles(smiles)) for smiles, name in entries
             if Chem.MolToInchiKey(Chem.MolFromSmiles(smiles)) != INCHIKEYS[name]}
    assert not wrong


@pytest.mark.parametrize("smiles", ["OC(=O)Cc1ccccc1Nc1c(Cl)cccc1Cl diclofenac",
                                    "CC/C(c1ccc(O)cc1)=C(/CC)c1ccc(O)cc1 diethylstilbestrol"])
def test_no_two_conformers_are_the_same_geometry_under_symmetry(smiles):
    """RDKit's symmetry-aware GetBestRMS finds no pair closer than 0.1 A (plain Kabsch pruning kept
    flipped-ring copies: the same check finds them, so this test can fail)."""
    import itertools

    from rdkit.Chem import rdMolAlign

    def closest(prune_symmetry: bool) -> float:
        r = wb.run("conformers", smiles=(smiles,), num_conformers=40, prune_symmetry=prune_symmetry, device="cpu")
        mols = [Chem.RemoveHs(m) for m in Chem.SDMolSupplier(str(r.files["sdf"]), removeHs=False)]
        return min(rdMolAlign.GetBestRMS(a, b) for a, b in itertools.combinations(mols, 2))

    assert closest(False) < 0.1
    assert closest(True) >= 0.1


def test_posebusters_validation_reports_its_pass_rate():
    r = wb.run("conformers", smiles=("COC(=O)C1=C(C)NC(C)=C(C(=O)OC)C1c1ccccc1[N+](=O)[O-] nifedipine",
                                     "CC(=O)Oc1ccccc1C(=O)O aspirin"), validate=True, device="cpu")
    nifedipine, aspirin = r.molecules
    assert aspirin.posebusters_passed == aspirin.num_conformers and aspirin.posebusters_failures == {}
    assert 0 <= nifedipine.posebusters_passed < nifedipine.num_conformers
    assert set(nifedipine.posebusters_failures) <= {"non-aromatic_ring_non-flatness", "internal_energy"}
    from workbench.presenters import summary

    assert f"PoseBusters {aspirin.num_conformers}/{aspirin.num_conformers} pass" in summary(r)


def test_conformers_are_superposed_on_the_lowest_energy_one():
    r = wb.run("conformers", smiles=("CCCCCCO hexanol",), num_conformers=12, device="cpu")
    mols = list(Chem.SDMolSupplier(str(r.files["sdf"]), removeHs=False))
    assert len(mols) > 2
    heavy = [a.GetIdx() for a in mols[0].GetAtoms() if a.GetAtomicNum() > 1]
    centres = np.array([m.GetConformer().GetPositions()[heavy].mean(axis=0) for m in mols])
    assert np.abs(centres - centres[0]).max() < 1e-3  # one frame: the heavy-atom centroids coincide


def test_progress_moves_within_one_molecule_and_a_cancel_there_is_the_jobs(tmp_path):
    """One molecule used to sit at 0% until it was done; now embedding and each batch of optimised
    conformers report, and a cancel seen there ends the job (not that molecule, as an error)."""
    from workbench.contract import TaskContext
    from workbench.contract.errors import Cancelled
    from workbench.hardware.backends.cpu import CpuBackend
    from workbench.tasks.molecules.conformers import ConformerRequest, run

    events = []
    backend = CpuBackend(None)
    request = ConformerRequest(smiles=("CC(C)Cc1ccc(cc1)[C@H](C)C(=O)O ibuprofen",), num_conformers=30, workers=1)
    run(request, TaskContext(backend.device_id, backend.capabilities(), backend, tmp_path, events.append))
    inside = [e.done for e in events if 0 < e.done < 1]
    assert len(inside) >= 3 and inside == sorted(inside)
    assert any("optimised" in e.message for e in events)
    def cancel_while_optimising(p):  # what the job layer's report does once the job is cancelled
        if "optimised" in p.message:
            raise Cancelled("cancelled by the user")

    with pytest.raises(Cancelled):
        run(request, TaskContext(backend.device_id, backend.capabilities(), backend, tmp_path,
                                 cancel_while_optimising))
