"""ESMFold through the real code path with a tiny random model: files, pLDDT, chains, errors.

Structure quality is not asserted: the weights are random.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
from Bio.PDB import MMCIFParser, PDBParser

import workbench as wb
from workbench import models
from workbench.contract import GiB
from workbench.errors import Cancelled, DeviceError, InputError, JobFailed
from workbench.tasks.molecules.fold import FoldRequest, choose_chunk_size, estimate_memory, tiny_esmfold
from workbench.tasks.molecules.sequences import normalise
from workbench.tasks.molecules.structure_io import ca_rmsd

UBIQUITIN = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"


def test_single_chain_outputs_pdb_cif_plots_with_plddt_in_bfactors():
    r = wb.run("fold", sequences=(UBIQUITIN,), names=("ubiquitin",), tiny=True, device="cpu")
    p = r.proteins[0]
    assert p.name == "ubiquitin" and p.chains == ["A"] and p.lengths == [76]
    assert len(p.plddt) == 76 and 0 <= p.mean_plddt <= 100 and 0 <= p.ptm <= 1
    assert p.mean_plddt == pytest.approx(np.mean(p.plddt), abs=0.01)
    pdb = PDBParser(QUIET=True).get_structure("u", r.files["ubiquitin.pdb"])
    residues = list(pdb[0]["A"])
    assert len(residues) == 76 and residues[0].get_resname() == "MET"
    bfactors = [res["CA"].get_bfactor() for res in residues]
    assert bfactors == pytest.approx(p.plddt, abs=0.01)
    cif = MMCIFParser(QUIET=True).get_structure("u", r.files["ubiquitin.cif"])
    assert len(list(cif[0].get_residues())) == 76
    for key in ("ubiquitin.pae", "ubiquitin.plddt"):
        assert r.files[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ca_rmsd(r.files["ubiquitin.pdb"], r.files["ubiquitin.pdb"]) == pytest.approx(0, abs=1e-4)


def test_complex_is_joined_with_a_linker_and_split_back_into_chains():
    r = wb.run("fold", sequences=("MKTAYIAKQRQISFVKSH:GSHMLEDPVDAFQ",), names=("dimer",), tiny=True,
               linker_length=25, device="cpu")
    p = r.proteins[0]
    assert p.chains == ["A", "B"] and p.lengths == [18, 13] and len(p.plddt) == 31
    s = PDBParser(QUIET=True).get_structure("d", r.files["dimer.pdb"])
    chains = {c.id: [res.id[1] for res in c] for c in s[0]}
    assert chains == {"A": list(range(1, 19)), "B": list(range(1, 14))}
    # no glycine linker left over: chain B starts with the real sequence
    assert [res.get_resname() for res in s[0]["B"]][:3] == ["GLY", "SER", "HIS"]
    assert len(list(s[0]["B"])) == 13
    # the PAE covers both chains and nothing of the linker: 31 x 31, in the AlphaFold DB layout
    pae = json.loads(r.files["dimer.pae_json"].read_text())[0]
    matrix = np.array(pae["predicted_aligned_error"])
    assert matrix.shape == (31, 31) and np.isfinite(matrix).all()
    assert 0 < matrix.max() <= pae["max_predicted_aligned_error"]
    assert r.files["dimer.pae"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mmcif_has_entities_and_modelcif_metrics_read_by_gemmi_and_biopython():
    """A homodimer and a third chain: two entities, three chains; pLDDT as ModelCIF metrics; the
    PDB has one serial per record; random weights say so in both files."""
    import gemmi
    from Bio.PDB.MMCIF2Dict import MMCIF2Dict

    r = wb.run("fold", sequences=("MKTAYIAKQR:MKTAYIAKQR:GSHMLE",), names=("trimer",), tiny=True, device="cpu")
    p = r.proteins[0]
    d = MMCIF2Dict(str(r.files["trimer.cif"]))
    for category in ("_entity.id", "_entity_poly.pdbx_seq_one_letter_code", "_entity_poly_seq.mon_id",
                     "_struct_asym.id", "_chem_comp.id", "_atom_type.symbol", "_ma_qa_metric.id",
                     "_ma_qa_metric_global.metric_value", "_ma_qa_metric_local.metric_value"):
        assert category in d, category
    assert d["_entity.id"] == ["1", "2"] and d["_struct_asym.entity_id"] == ["1", "1", "2"]
    assert d["_entity_poly.pdbx_seq_one_letter_code"] == ["MKTAYIAKQR", "GSHMLE"]
    assert set(d["_atom_site.label_entity_id"]) == {"1", "2"} and "?" not in d["_atom_site.label_seq_id"]
    assert "RANDOM TEST WEIGHTS" in d["_struct.title"][0]
    metrics = dict(zip(d["_ma_qa_metric.id"], d["_ma_qa_metric.type"]))
    glob = {metrics[m]: float(v) for m, v in zip(d["_ma_qa_metric_global.metric_id"],
                                                 d["_ma_qa_metric_global.metric_value"])}
    assert glob["pLDDT"] == pytest.approx(p.mean_plddt, abs=0.01) and glob["pTM"] == pytest.approx(p.ptm, abs=1e-4)
    assert [float(v) for v in d["_ma_qa_metric_local.metric_value"]] == pytest.approx(p.plddt, abs=0.01)

    st = gemmi.read_structure(str(r.files["trimer.cif"]))
    assert [(e.entity_type, e.polymer_type, list(e.subchains)) for e in st.entities] == [
        (gemmi.EntityType.Polymer, gemmi.PolymerType.PeptideL, ["A", "B"]),
        (gemmi.EntityType.Polymer, gemmi.PolymerType.PeptideL, ["C"])]
    assert gemmi.one_letter_code(st.entities[1].full_sequence) == "GSHMLE"
    assert [len(chain) for chain in st[0]] == [10, 10, 6]

    pdb_lines = r.files["trimer.pdb"].read_text().splitlines()
    serials = [int(line[6:11]) for line in pdb_lines if line.startswith(("ATOM", "HETATM", "TER"))]
    assert serials == list(range(1, len(serials) + 1))
    assert any("RANDOM TEST WEIGHTS" in line for line in pdb_lines if line.startswith("REMARK"))
    assert np.load(r.files["trimer.pae_npy"]).shape == (26, 26)
    rows = r.files["trimer.plddt_csv"].read_text().splitlines()
    assert rows[0] == "chain,residue,residue_name,plddt" and len(rows) == 27 and rows[-1].startswith("C,6,GLU,")


def test_sequences_are_normalised_and_bad_ones_refused(tmp_path):
    assert normalise(" mkt ay\n iak ", "x") == ("MKTAYIAK",)
    assert normalise("MKT:gsh", "x") == ("MKT", "GSH")
    with pytest.raises(InputError, match="illegal letters B, J .first at position 3 of chain 1."):
        normalise("MKBJ", "x")
    with pytest.raises(InputError, match="empty"):
        normalise("  \n ", "x")
    before = len(wb.jobs(limit=None))
    with pytest.raises(InputError, match="seq1: illegal letter Z"):  # refused before a job exists
        wb.submit("fold", sequences=("MKZ",), tiny=True, device="cpu")
    assert len(wb.jobs(limit=None)) == before
    fasta = tmp_path / "in.fasta"
    fasta.write_text(">first protein\nMKTAY\nIAKQR\n>second\nGSHML\n")
    r = wb.run("fold", fasta=str(fasta), tiny=True, device="cpu")
    assert [(p.name, p.lengths) for p in r.proteins] == [("first", [10]), ("second", [5])]


def test_memory_estimate_refuses_a_sequence_no_device_fits(devices):
    huge = "A" * 3000
    with pytest.raises(DeviceError, match="No device can run this task: it needs .* GiB free memory"):
        wb.submit("fold", sequences=(huge,), device="auto")
    with pytest.raises(DeviceError, match="Device sim:npu0 cannot run this task: it has 2.0 GiB free"):
        wb.submit("fold", sequences=("A" * 300,), device="sim:npu0")
    assert estimate_memory(1000) > estimate_memory(500) > estimate_memory(100)
    assert estimate_memory(1000, chunk_size=64) < estimate_memory(1000)


def test_chunk_size_follows_free_memory():
    params = 3.5e9
    assert choose_chunk_size(200, 64 * GiB, 2, params) is None
    tight = estimate_memory(2000, chunk_size=64, parameters=params) + 1
    assert choose_chunk_size(2000, tight, 2, params) in (64, 128)
    with pytest.raises(InputError, match="needs about .* GiB on this device"):
        choose_chunk_size(2000, 8 * GiB, 2, params)


def test_model_is_loaded_once_per_device(monkeypatch):
    monkeypatch.setenv("WORKBENCH_ISOLATE", "native")  # the model cache of this process
    models.unload("esmfold")
    before = models.load_counts["esmfold"]
    wb.run("fold", sequences=("MKTAYIAK",), tiny=True, device="cpu")
    wb.run("fold", sequences=("GSHMLEDP",), tiny=True, device="cpu")
    assert models.load_counts["esmfold"] == before + 1


def test_real_loader_reads_a_hugging_face_cache(tmp_path, monkeypatch):
    """The `esmfold` registry entry, loaded offline from a cache laid out like the hub's."""
    monkeypatch.setenv("WORKBENCH_ISOLATE", "native")  # loaded here, so unload() below reaches it
    snapshot = tmp_path / "hub" / "models--facebook--esmfold_v1" / "snapshots" / ("a" * 40)
    tiny_esmfold(seed=3).save_pretrained(snapshot)
    (tmp_path / "hub" / "models--facebook--esmfold_v1" / "refs").mkdir(parents=True)
    (tmp_path / "hub" / "models--facebook--esmfold_v1" / "refs" / "main").write_text("a" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hub"))
    models.unload("esmfold")
    assert models.local_path("esmfold") == snapshot
    r = wb.run("fold", sequences=("MKTAYIAKQR",), device="cpu")
    assert r.model == "esmfold" and r.dtype == "float32" and r.proteins[0].lengths == [10]
    models.unload("esmfold")


def test_missing_weights_fail_the_job_with_the_pull_command(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))  # what the model worker is told
    models.unload("esmfold")
    with pytest.raises(JobFailed, match="run `workbench models pull esmfold`"):
        wb.run("fold", sequences=("MKTAYIAKQR",), device="cpu")


def test_progress_per_trunk_block_and_cancel(devices):
    seen = []
    r = wb.submit("fold", sequences=("MKTAYIAKQR", "GSHMLEDP"), tiny=True, num_recycles=3, device="cpu")
    r.on_event(lambda e: e.progress and seen.append(e.progress))
    r.result(60)
    # 2 trunk blocks x 4 passes x 2 proteins, plus the loading and the final report
    assert [p.done for p in seen[1:-1]] == list(range(1, 17))
    assert seen[-1].fraction == 1.0

    gate = threading.Event()
    job = wb.submit("fold", sequences=tuple([UBIQUITIN] * 40), tiny=True, num_recycles=8, device="cpu")
    job.on_event(lambda e: e.progress and e.progress.done >= 3 and gate.set())
    assert gate.wait(60)
    job.cancel()
    with pytest.raises(Cancelled):
        job.result(60)
    assert wb.job(job.id).files == {}


def test_request_validation():
    with pytest.raises(InputError, match="at least one protein"):
        FoldRequest()


def test_two_fold_jobs_at_once_report_only_their_own_progress(devices):
    jobs = [wb.submit("fold", sequences=(UBIQUITIN[:n],), tiny=True, num_recycles=3, device="cpu") for n in (30, 40)]
    for job in jobs:
        job.result(120)
        done = [e.progress.done for e in job.snapshot_events() if e.progress is not None][1:-1]
        assert done == list(range(1, 9))  # 2 blocks x 4 passes, no events from the other job


def test_a_moved_fold_keeps_the_proteins_it_had_folded(devices):
    """Each folded protein (with its files) is a checkpoint: after a move only the rest is folded."""
    sequences = tuple(UBIQUITIN[:n] for n in (30, 34, 38, 42, 46, 50))
    reference = wb.run("fold", sequences=sequences, tiny=True, num_recycles=2, device="cpu")
    job = devices["sim:npu0"].submit("fold", FoldRequest(sequences=sequences, tiny=True, num_recycles=2))
    while len(job.checkpoints) < 2:
        time.sleep(0.01)
    devices["sim:npu0"].fail("unplugged")
    moved = job.result(120)
    assert job.device == "cpu" and job.moves == 1
    assert [p.name for p in moved.proteins] == [p.name for p in reference.proteins]
    assert [p.mean_plddt for p in moved.proteins] == pytest.approx([p.mean_plddt for p in reference.proteins])
    for key, path in moved.files.items():  # every file is there, including those folded before the move
        assert path.is_file() and path.stat().st_size > 0, key
    assert sorted(moved.files) == sorted(reference.files)


@pytest.mark.parametrize("sequence, char", [("MKTß", "ß"), ("MKTﬁ", "ﬁ"), ("MK٣TA", "٣")])
def test_letters_of_other_scripts_are_refused_not_case_mapped(sequence, char):
    """`upper()` made `MKTß` a 5-residue protein (`SS`) and `\\d` dropped Arabic-Indic digits."""
    with pytest.raises(InputError, match=f"{char!r} .* is not an amino-acid letter"):
        normalise(sequence, "p")
    assert normalise("mkt a 12 yi*", "p") == ("MKTAYI",)  # ASCII case, spaces, line numbers, stops: as before


def test_two_proteins_whose_files_would_collide_are_refused():
    with pytest.raises(InputError, match="same name"):
        wb.submit("fold", sequences=("MKT", "MKV"), names=("p", "p"), tiny=True, device="cpu")
    with pytest.raises(InputError, match="same file name 'a_b'"):
        wb.submit("fold", sequences=("MKT", "MKV"), names=("a b", "a/b"), tiny=True, device="cpu")
