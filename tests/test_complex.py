"""Boltz-2 co-folding through the real code path with a tiny random Boltz-2 (Boltz's own classes) and
an RDKit-built component dictionary: files read back by gemmi, Biopython and PoseBusters, confidence,
progress, cancel, bad inputs, the real loader from a hub-layout cache.

Structure quality is not asserted: the weights are random.
"""

from __future__ import annotations

import csv
import json
import threading
import time

import gemmi
import numpy as np
import pytest
import torch
from Bio.PDB import MMCIFParser
from helpers import run_cli
from rdkit import Chem

import workbench as wb
from workbench import models
from workbench.errors import Cancelled, DeviceError, InputError, JobFailed
from workbench.tasks.molecules.complexes import inputs
from workbench.tasks.molecules.complexes.model import hub_snapshot, tiny_module
from workbench.tasks.molecules.complexes.predict import ComplexRequest, estimate_memory, split

PROTEIN = "MKTAYIAKQRQISFVKSHFSRQ"
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
FAST = {"tiny": True, "recycling_steps": 0, "sampling_steps": 3}


@pytest.fixture(scope="module")
def predicted():
    return wb.run("complex", proteins=(PROTEIN,), ligands=(ASPIRIN,), ligand_ccd=("ATP",), samples=2,
                  device="cpu", **FAST)


def test_mmcif_has_every_entity_and_ligand_atoms_as_hetatm(predicted):
    r = predicted
    assert [c["chain"] for c in r.chains] == ["A", "B", "C"] and r.model == "boltz-2-tiny"
    assert len(r.samples) == 2 and [s.rank for s in r.samples] == [1, 2]
    assert r.samples[0].confidence_score >= r.samples[1].confidence_score
    cif = r.files[r.samples[0].files[0]]
    st = gemmi.read_structure(str(cif))
    st.setup_entities()
    kinds = {e.name: (e.entity_type.name, e.polymer_type.name, list(e.subchains)) for e in st.entities}
    assert ("Polymer", "PeptideL", ["A"]) in kinds.values()
    assert sum(1 for v in kinds.values() if v[0] == "NonPolymer") == 2
    chains = {ch.name: ch for ch in st[0]}
    aspirin, atp = chains["B"][0], chains["C"][0]
    assert aspirin.het_flag == "H" and len(aspirin) == Chem.MolFromSmiles(ASPIRIN).GetNumHeavyAtoms() == 13
    assert atp.name == "ATP" and atp.het_flag == "H" and len(atp) == 31  # ATP's heavy atoms
    block = gemmi.cif.read(str(cif)).sole_block()
    assert gemmi.cif.as_string(block.find_value("_entity_poly.pdbx_seq_one_letter_code_can")) == PROTEIN
    assert "RANDOM TEST WEIGHTS" in gemmi.cif.as_string(block.find_value("_struct.pdbx_model_details"))
    formulas = dict(zip(block.find_loop("_chem_comp.id"), block.find_loop("_chem_comp.formula")))
    assert gemmi.cif.as_string(formulas["LIG1"]) == "C9 H8 O4"
    bio = MMCIFParser(QUIET=True).get_structure("c", str(cif))
    assert [c.id for c in bio[0]] == ["A", "B", "C"]
    assert [r.id[0] for r in bio[0]["B"]] == ["H_LIG1"] and len(list(bio[0]["A"])) == len(PROTEIN)


def test_confidence_json_arrays_summary_and_plots(predicted):
    r = predicted
    tokens = len(PROTEIN) + 13 + 31
    assert r.tokens == tokens
    for s in r.samples:
        stem = f"complex_seed{s.seed}_sample{s.sample}"
        conf = json.loads(r.files[f"{stem}.confidence"].read_text())
        for key in ("confidence_score", "ptm", "iptm", "ligand_iptm", "protein_iptm", "complex_plddt",
                    "complex_iplddt", "complex_pde", "chains_ptm", "pair_chains_iptm"):
            assert key in conf, key
        assert set(conf["chains_ptm_by_chain"]) == {"A", "B", "C"}
        assert set(conf["pair_chains_iptm_by_chain"]["A"]) == {"A", "B", "C"}
        assert conf["confidence_score"] == pytest.approx(s.confidence_score) and conf["random_weights"] is True
        arrays = np.load(r.files[f"{stem}.arrays"])
        assert arrays["pae"].shape == arrays["pde"].shape == (tokens, tokens)
        assert arrays["plddt"].shape == (tokens,) and list(np.unique(arrays["asym_id"])) == [0, 1, 2]
        assert r.files[f"{stem}.pae"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        # PoseBusters judged both ligands of the sample (random poses: they fail, and say which check)
        assert conf["posebusters"]["ligands"] == 2 and s.posebusters_passed == conf["posebusters"]["passed"]
        assert s.posebusters_failures and all(0 < v <= 2 for v in s.posebusters_failures.values())
    assert r.posebusters_pass_rate == pytest.approx(sum(s.posebusters_passed for s in r.samples) / 4)
    rows = list(csv.DictReader(r.files["summary"].open()))
    assert [int(row["rank"]) for row in rows] == [1, 2]
    assert [float(row["confidence_score"]) for row in rows] == sorted(
        (float(row["confidence_score"]) for row in rows), reverse=True)


def test_copies_share_an_entity_and_every_ligand_copy_is_checked():
    """A homodimer is one entity with two chains, as are two copies of a ligand (Boltz groups them); both
    copies of the ligand get their pose checked."""
    r = wb.run("complex", proteins=("MKTAYIAK", "MKTAYIAK"), ligands=(ASPIRIN, "CCO", ASPIRIN), device="cpu",
               **FAST)
    st = gemmi.read_structure(str(r.files[r.samples[0].files[0]]))
    st.setup_entities()
    subchains = sorted(sorted(e.subchains) for e in st.entities)
    assert subchains == [["A", "B"], ["C", "E"], ["D"]]
    assert [st[0][c][0].name for c in "CDE"] == ["LIG1", "LIG2", "LIG1"] and len(st[0]["E"][0]) == 13
    conf = json.loads(r.files["complex_seed0_sample0.confidence"].read_text())
    assert conf["posebusters"]["ligands"] == 3


def test_dna_rna_yaml_and_fasta_describe_the_same_complex(tmp_path):
    fields = ComplexRequest(proteins=(PROTEIN,), dna=("ACGT",), rna=("ACGU",), ligands=(ASPIRIN,),
                            ligand_ccd=("atp",)).entities()[0]
    doc = inputs.boltz_yaml(fields)
    import yaml

    (tmp_path / "c.yaml").write_text(yaml.safe_dump(doc))
    assert ComplexRequest(yaml=str(tmp_path / "c.yaml")).entities()[0] == fields
    (tmp_path / "c.fasta").write_text(f">A|protein\n{PROTEIN}\n>B|dna\nACGT\n>C|rna\nACGU\n>D|smiles\n{ASPIRIN}\n"
                                      ">E|ccd\nATP\n")
    assert ComplexRequest(fasta=str(tmp_path / "c.fasta")).entities()[0] == fields
    assert doc["sequences"][0] == {"protein": {"id": "A", "sequence": PROTEIN, "msa": "empty"}}
    assert doc["sequences"][4] == {"ligand": {"id": "E", "ccd": "ATP"}}


def test_nucleic_acid_chains_are_polymer_entities():
    r = wb.run("complex", proteins=("MKTAYIAK",), dna=("ACGT",), rna=("GGUA",), device="cpu", checks=False, **FAST)
    st = gemmi.read_structure(str(r.files[r.samples[0].files[0]]))
    st.setup_entities()
    assert sorted(e.polymer_type.name for e in st.entities) == ["Dna", "PeptideL", "Rna"]
    assert [ch[0].name for ch in st[0]] == ["MET", "DA", "G"] and r.samples[0].posebusters_passed is None


@pytest.mark.parametrize("fields, message", [
    ({"proteins": ("MKTZYIAK",)}, r"protein 1: illegal residue 'Z' at position 4 of a protein sequence"),
    ({"dna": ("ACGU",)}, r"dna 1: illegal residue 'U' at position 4"),
    ({"proteins": ("MKT",), "ligands": ("C1CC(",)}, r"ligand 1: RDKit cannot read the SMILES 'C1CC\('"),
    ({"proteins": ("MKT",), "ligand_ccd": ("NOT-A",)}, r"is not a CCD code"),
    ({}, r"The complex is empty"),
    ({"proteins": ("",)}, r"the protein sequence is empty"),
])
def test_bad_inputs_are_refused_in_one_line_before_a_job(fields, message):
    with pytest.raises(InputError, match=message) as info:
        wb.submit("complex", device="cpu", tiny=True, **fields)
    assert "\n" not in str(info.value)


def test_unknown_ccd_code_is_refused_at_submit():
    with pytest.raises(InputError, match=r"Unknown CCD code 'XYZ9': it is not in the tiny model's dictionary"):
        wb.submit("complex", proteins=("MKT",), ligand_ccd=("XYZ9",), tiny=True, device="cpu")


def test_progress_per_trunk_layer_diffusion_step_and_confidence_layer_then_cancel():
    """Every layer of every recycling pass reports (a pass of Boltz-2's 64 pairformer layers kept a bar
    at 0-2% for minutes), then each diffusion step and each confidence layer, in order, then the end."""
    from workbench.jobs.heartbeat import is_beat
    from workbench.tasks.molecules.complexes.predict import _trunk_layers

    msa, pair, conf = (len(x) for x in _trunk_layers(models.load("boltz-2", "cpu", "float32", tiny=True).module))
    seen = []
    job = wb.submit("complex", proteins=("MKTAYIAK",), ligands=("CCO",), tiny=True, recycling_steps=1,
                    sampling_steps=4, samples=1, checks=False, device="cpu")
    job.on_event(lambda e: e.progress and not is_beat(e.progress) and seen.append(e.progress))
    job.result(300)
    steps = [p for p in seen if p.message.startswith("seed 0: ") and "writing" not in p.message]
    total = 2 * (msa + pair) + 4 + conf
    assert [p.done for p in steps] == list(range(1, total + 1)) and {p.total for p in steps} == {total}
    said = [p.message.removeprefix("seed 0: ") for p in steps]
    assert said[0] == f"recycle 1/2, MSA layer 1/{msa}" and said[msa] == f"recycle 1/2, pairformer layer 1/{pair}"
    assert said[msa + pair] == f"recycle 2/2, MSA layer 1/{msa}"
    assert said[2 * (msa + pair):2 * (msa + pair) + 4] == [f"diffusion step {k}/4" for k in range(1, 5)]
    assert said[-1] == f"confidence of sample 1/1, layer {conf}/{conf}"
    assert seen[-1].fraction == 1.0

    gate = threading.Event()
    job = wb.submit("complex", proteins=(PROTEIN,), tiny=True, recycling_steps=0, sampling_steps=400,
                    device="cpu")
    job.on_event(lambda e: e.progress and "diffusion" in e.progress.message and e.progress.done >= 3
                 and gate.set())
    assert gate.wait(300)
    job.cancel()
    with pytest.raises(Cancelled):
        job.result(120)
    assert wb.job(job.id).files == {}


def test_seeds_fan_out_and_give_different_samples():
    request = ComplexRequest(proteins=("MKTAYIAK",), seeds=(0, 1, 2), **FAST)
    assert [p.seeds for p in split(request, 2)] == [(0, 1), (2,)]
    assert [p.seeds for p in split(request, 8)] == [(0,), (1,), (2,)]
    r = wb.run("complex", proteins=("MKTAYIAK",), seeds=(0, 1), checks=False, device="cpu", **FAST)
    coords = {s.seed: gemmi.read_structure(str(r.files[s.files[0]]))[0]["A"][0][0].pos for s in r.samples}
    assert coords[0].dist(coords[1]) > 1e-3


def test_seeds_fan_out_over_devices_and_merge_into_one_ranking(devices):
    job = wb.submit("complex", proteins=("MKTAYIAK",), ligand_ccd=("ATP",), seeds=(0, 1), checks=False,
                    device=["cpu", "sim:npu0"], **FAST)
    r = job.result(300)
    assert sorted(s.seed for s in r.samples) == [0, 1] and [s.rank for s in r.samples] == [1, 2]
    assert job.device == "cpu+sim:npu0"
    rows = list(csv.DictReader(r.files["summary"].open()))
    assert [(int(row["seed"]), int(row["rank"])) for row in rows] == [(s.seed, s.rank) for s in r.samples]
    for s in r.samples:  # every sample's files came back from its device
        assert all(r.files[key].is_file() for key in s.files)


def test_a_moved_job_keeps_the_seeds_it_had_predicted(devices):
    """Each seed (with its files) is a checkpoint: after the device dies, only the other seeds run again."""
    from workbench.tasks.molecules.complexes.predict import ComplexRequest as Request

    request = Request(proteins=("MKTAYIAK",), seeds=(0, 1, 2, 3), checks=False, **FAST)
    job = devices["sim:npu0"].submit("complex", request)
    deadline = time.time() + 300
    while len(job.checkpoints) < 2 and time.time() < deadline:
        time.sleep(0.01)
    devices["sim:npu0"].fail("unplugged")
    moved = job.result(300)
    assert job.device == "cpu" and job.moves == 1
    assert sorted(s.seed for s in moved.samples) == [0, 1, 2, 3]
    for key, path in moved.files.items():
        assert path.is_file() and path.stat().st_size > 0, key


def test_memory_estimate_chunking_and_refusal(devices):
    assert estimate_memory(400, 3200) > estimate_memory(200, 1600) > estimate_memory(100, 800)
    assert estimate_memory(1000, 8000, chunked=True) < estimate_memory(1000, 8000)
    assert estimate_memory(300, 2400, samples=5) > estimate_memory(300, 2400, samples=1)
    # the real model (0.5 B parameters) on the simulated 2 GiB NPU: refused at submit, no job
    with pytest.raises(DeviceError, match="Device sim:npu0 cannot run this task: .* Use cpu instead"):
        wb.submit("complex", proteins=("A" * 300,), device="sim:npu0")
    r = wb.run("complex", proteins=("MKTAYIAK",), chunking="on", checks=False, device="cpu", **FAST)
    assert r.chunked is True and len(r.samples) == 1


def test_real_loader_reads_a_hugging_face_cache(tmp_path, monkeypatch):
    """The `boltz-2` registry entry loaded offline from a cache laid out like the hub's (checkpoint + mols.tar),
    through `Boltz2.load_from_checkpoint` with `boltz predict`'s overrides: the same network as the tiny one."""
    monkeypatch.setenv("WORKBENCH_ISOLATE", "native")
    repo = tmp_path / "hub" / "models--boltz-community--boltz-2"
    hub_snapshot(repo / "snapshots" / ("b" * 40), seed=0)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("b" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    models.unload("boltz-2")
    # no SMILES ligand: Boltz embeds those with an unseeded ETKDG, so their reference conformer differs per run
    fields = {"proteins": (PROTEIN,), "ligand_ccd": ("ATP",), "recycling_steps": 0,
              "sampling_steps": 3, "checks": False, "device": "cpu"}
    r = wb.run("complex", **fields)
    tiny = wb.run("complex", tiny=True, **fields)  # in this process too: the same threads, the same sums
    assert r.model == "boltz-2" and tiny.model == "boltz-2-tiny"
    # the same network: every weight of the loaded checkpoint equals the tiny model built in code
    loaded = models.load("boltz-2", "cpu").module.state_dict()
    built = tiny_module(0).state_dict()
    assert loaded.keys() == built.keys() and all(torch.equal(loaded[k], built[k]) for k in built)
    # Boltz's first run in a process differs in the 4th digit (a first-call path in its featuriser)
    assert r.samples[0].confidence_score == pytest.approx(tiny.samples[0].confidence_score, rel=2e-3)
    with pytest.raises(InputError, match="Unknown CCD code 'QQQ'.*Chemical Component Dictionary"):
        wb.submit("complex", proteins=("MKT",), ligand_ccd=("QQQ",), device="cpu")
    models.unload("boltz-2")


def test_missing_weights_fail_the_job_with_the_pull_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    models.unload("boltz-2")
    with pytest.raises(JobFailed, match=r"run `workbench models pull boltz-2`") as info:
        wb.run("complex", proteins=("MKTAYIAK",), device="cpu")
    assert "Traceback" not in str(info.value)


def test_the_command_line_writes_the_files_and_a_ranked_summary(tmp_path):
    out = tmp_path / "out"
    proc = run_cli("run", "complex", "--protein", "MKTAYIAKQR", "--ligand", "CCO", "--ligand-ccd", "ATP", "--tiny",
                   "--recycling-steps", "0", "--sampling-steps", "3", "--seed", "0", "--seed", "1", "--no-checks",
                   "--out", str(out), timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "[random test weights]" in proc.stdout and "#1 seed" in proc.stdout
    names = sorted(p.name for p in out.iterdir())
    for seed in (0, 1):
        assert {f"complex_seed{seed}_sample0{x}" for x in (".cif", "_confidence.json", "_arrays.npz", "_pae.png")} \
            <= set(names)
    assert "complex_summary.csv" in names and "complex_input.yaml" in names
    bad = run_cli("run", "complex", "--protein", "MKTAYIAKQR", "--ligand", "C1CC(", "--tiny", timeout=120)
    assert bad.returncode != 0 and "ligand 1: RDKit cannot read the SMILES 'C1CC('" in bad.stderr
    assert "Traceback" not in bad.stderr


BOMB = "\n".join(["a: &a [x, x, x, x, x, x, x, x, x]"] + [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, "
                  f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
                  f"*{chr(97 + i)}, *{chr(97 + i)}]" for i in range(8)])


@pytest.mark.parametrize("text, message", [
    ("version: 1\nsequences:\n  - protein: {id: A, sequence: MKTAYIAK}\nconstraints: " + "[" * 5000,
     "nested too deeply|not valid YAML"),
    ("version: 1\nsequences:\n  - protein: {id: A, sequence: MKTAYIAK}\n" + BOMB + "\nconstraints: [*i]",
     "aliases are expanded"),
    ("version: 1\nsequences:\n  - protein: {id: A, sequence: MKTAYIAK}\nconstraints:\n"
     "  - pocket: {binder: Z, contacts: [[A, 2]]}", "binder 'Z' is not a chain"),
    ("version: 1\nsequences:\n  - protein: {id: A, sequence: MKTAYIAK}\n  - ligand: {id: B, smiles: CCO}\n"
     "constraints:\n  - contact: {token1: [A, 99], token2: [B, 1], max_distance: 5}",
     "residue 99 of chain A must be 1-8"),
    ("version: 1\nsequences:\n  - protein: {id: A, sequence: MKTAYIAK, msa: /etc/passwd}",
     "outside the input's folder"),
    ("version: 1\nsequences:\n  - protein: {id: A, sequence: MKTAYIAK}\ntemplates:\n  - cif: ../../etc/x.cif",
     "outside the input's folder"),
    ("version: 1\nsequences:\n  - protein: {id: A, sequence: MKTAYIAK}\nproperties:\n  - affinity: {binder: A}",
     "must be a ligand chain"),
    ("version: 1\nsequences:\n  - protein: {id: A, sequence: MKTAYIAK}\nsurprise: 1", "unknown section 'surprise'"),
])
def test_a_boltz_yaml_is_checked_whole_before_a_job(tmp_path, text, message):
    """Constraints, templates, properties and file paths are checked against the complex; an alias bomb
    or a deep nest is refused in a sentence (it made a 5.6 GB record and wedged the store)."""
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        wb.submit("complex", yaml=str(path), tiny=True, device="cpu")
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


def test_sequences_are_read_as_ascii_letters_only():
    for sequence in ("MKTß", "MKTﬁ", "MK٣T"):
        with pytest.raises(InputError, match="not a residue letter"):
            wb.submit("complex", proteins=(sequence,), tiny=True, device="cpu")
    with pytest.raises(InputError, match="seeds must be between 0 and"):
        wb.submit("complex", proteins=("MKT",), seeds=(-1,), tiny=True, device="cpu")


@pytest.mark.parametrize("fields, message", [
    ({"pockets": ("Z: A:3",)}, r"^pocket 'Z: A:3': binder 'Z' is not a chain of the complex\.$"),
    ({"pockets": ("B: A:30 @ 6",)}, r"^pocket 'B: A:30 @ 6': residue 30 of chain A must be 1-22\.$"),
    ({"pockets": ("B: A:3 @ 40",)}, r"the distance must be above 0 and at most 20 Å"),
    ({"contacts": ("A3 B1",)}, r"write CHAIN:RESIDUE, CHAIN:RESIDUE \[@ Å\]"),
    ({"contacts": ("A:3, Q:1",)}, r"^contact 'A:3, Q:1': chain 'Q' is not in the complex \(chains: A, B\)\.$"),
])
def test_a_restraint_naming_what_is_not_in_the_complex_is_refused_at_submit(fields, message):
    with pytest.raises(InputError, match=message):
        wb.submit("complex", proteins=(PROTEIN,), ligands=(ASPIRIN,), device="cpu", **FAST, **fields)
    assert wb.jobs() == []  # refused before a job existed


def test_restraints_are_passed_to_boltz_and_measured_in_every_sample(tmp_path):
    """The distances reported are the ones Biopython measures in the written mmCIF (random weights: whether
    a restraint holds is not asserted, only that it is measured right)."""
    import yaml

    r = wb.run("complex", proteins=(PROTEIN,), ligands=(ASPIRIN,), pockets=("B: A:3, A:7 @ 6",),
               contacts=("A:1, A:20 @ 8",), samples=2, device="cpu", **FAST)
    given = yaml.safe_load(r.files["input"].read_text())["constraints"]
    assert given == [{"pocket": {"binder": "B", "contacts": [["A", 3], ["A", 7]], "max_distance": 6.0}},
                     {"contact": {"token1": ["A", 1], "token2": ["A", 20], "max_distance": 8.0}}]
    for s in r.samples:
        assert [x["restraint"] for x in s.restraints] == ["pocket: B near A:3, A:7", "contact: A:1 - A:20"]
        cif = r.files[f"complex_seed{s.seed}_sample{s.sample}.cif"]
        model = MMCIFParser(QUIET=True).get_structure("m", str(cif))[0]
        ligand = np.array([a.coord for a in model["B"].get_atoms()])
        residue = {i: np.array([a.coord for a in res]) for i, res in enumerate(model["A"], 1)}
        closest = lambda a, b: np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1)).min()  # noqa: E731
        pocket = max(closest(ligand, residue[3]), closest(ligand, residue[7]))
        assert s.restraints[0]["distance"] == pytest.approx(pocket, abs=0.01)
        assert s.restraints[1]["distance"] == pytest.approx(closest(residue[1], residue[20]), abs=0.01)
        assert s.restraints[0]["satisfied"] == (pocket <= 6.0)
        conf = json.loads(r.files[f"complex_seed{s.seed}_sample{s.sample}.confidence"].read_text())
        assert conf["restraints"] == s.restraints
    rows = list(csv.DictReader(open(r.files["summary"])))
    assert [row["restraints_satisfied"] for row in rows] == [s.restraints_satisfied for s in r.samples]
    from workbench import presenters

    assert "restraints " in presenters.summary(r)


def test_potentials_switch_on_boltz_steering_for_that_run_only(monkeypatch):
    """`potentials=True` runs Boltz's Feynman-Kac steering and physical guidance (as `--use_potentials`);
    the model loaded for everyone keeps its own settings afterwards."""
    import boltz.model.modules.diffusionv2 as diffusion

    seen = []
    real = diffusion.get_potentials

    def spy(steering_args, *args, **kwargs):
        seen.append((steering_args["fk_steering"], steering_args["physical_guidance_update"],
                     steering_args["num_particles"]))
        return real(steering_args, *args, **kwargs)

    monkeypatch.setattr(diffusion, "get_potentials", spy)
    monkeypatch.setenv("WORKBENCH_ISOLATE", "native")  # the run in this process, where the spy is
    steered = wb.run("complex", proteins=("MKTAYIAK",), ligands=("CCO",), potentials=True, checks=False,
                     device="cpu", **FAST)
    assert seen and seen[-1] == (True, True, 3)
    assert len(steered.samples) == 1 and steered.samples[0].files
    wb.run("complex", proteins=("MKTAYIAK",), ligands=("CCO",), checks=False, device="cpu", **FAST)
    assert seen[-1][:2] == (False, False)  # the next run without them is not steered
    module = models.load("boltz-2", "cpu", "float32", tiny=True).module
    assert module.steering_args["fk_steering"] is False


def test_affinity_runs_boltz2s_affinity_model_and_reports_its_values(tmp_path):
    """`affinity="B"` runs the affinity model (Boltz's own classes, tiny, random weights) on the best pose and
    writes Boltz's affinity JSON; its values are in the result, the file and the headline."""
    from workbench import presenters

    r = wb.run("complex", proteins=(PROTEIN,), ligands=(ASPIRIN,), affinity="B", checks=False, device="cpu",
               **FAST)
    keys = {"affinity_pred_value", "affinity_probability_binary", "affinity_pred_value1",
            "affinity_probability_binary1", "affinity_pred_value2", "affinity_probability_binary2"}
    assert keys <= set(r.affinity) and r.affinity["binder_chain"] == "B"
    assert 0 <= r.affinity["affinity_probability_binary"] <= 1
    assert json.loads(r.files["affinity"].read_text()) == r.affinity
    assert "affinity of B: log10 IC50" in presenters.summary(r) and "meaningless" in presenters.summary(r)
    stored = wb.job(wb.jobs(limit=1)[0]["id"])  # and from the store, as the CLI and views read it
    assert stored.result.affinity == r.affinity


@pytest.mark.parametrize("fields, message", [
    ({"affinity": "A"}, r"^affinity 'A': the affinity binder 'A' must be a ligand chain of the complex\.$"),
    ({"affinity": "Q"}, r"^affinity 'Q': the affinity binder 'Q' must be a ligand chain"),
])
def test_an_affinity_binder_that_is_not_a_ligand_is_refused_at_submit(fields, message):
    with pytest.raises(InputError, match=message):
        wb.submit("complex", proteins=(PROTEIN,), ligands=(ASPIRIN,), device="cpu", **FAST, **fields)


def test_the_memory_estimate_covers_the_affinity_model():
    from workbench.tasks.molecules.complexes.predict import affinity_memory

    assert affinity_memory(1000, 8000) == affinity_memory(256, 2048)  # the pass runs on the pocket crop
    assert affinity_memory(100, 800) > 5.07e8 * 4  # at least the affinity model's weights
    from workbench.tasks.molecules.complexes.predict import requirements

    plain = requirements(ComplexRequest(proteins=(PROTEIN,), ligands=(ASPIRIN,))).min_memory
    asked = requirements(ComplexRequest(proteins=(PROTEIN,), ligands=(ASPIRIN,), affinity="B")).min_memory
    assert asked - plain >= 5.07e8 * 4  # the affinity model's weights, resident beside the structure model


def test_the_affinity_model_loads_from_its_own_checkpoint_in_a_hugging_face_cache(tmp_path, monkeypatch):
    """`boltz-2-affinity` read offline from the snapshot's `boltz2_aff.ckpt` (Boltz's own loader), beside the
    structure checkpoint: a complex asking for affinity runs both real loaders."""
    from workbench.tasks.molecules.complexes.model import build_module, save_checkpoint

    monkeypatch.setenv("WORKBENCH_ISOLATE", "native")
    repo = tmp_path / "hub" / "models--boltz-community--boltz-2"
    snapshot = hub_snapshot(repo / "snapshots" / ("d" * 40), seed=0)
    save_checkpoint(build_module("tiny", 1, affinity=True), snapshot / "boltz2_aff.ckpt")
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("d" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    models.unload()
    try:
        r = wb.run("complex", proteins=(PROTEIN,), ligands=("CCO",), affinity="B", recycling_steps=0,
                   sampling_steps=3, affinity_samples=1, checks=False, device="cpu")
        assert r.model == "boltz-2" and r.affinity["model"] == "Boltz-2 affinity"
        assert 0 <= r.affinity["affinity_probability_binary"] <= 1
        loaded = models.load("boltz-2-affinity", "cpu").module
        assert loaded.affinity_prediction and loaded.affinity_ensemble
    finally:
        models.unload()
