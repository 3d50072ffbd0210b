"""A Boltz-2 prediction written as the field reads it, and judged.

`BoltzWriter` (Boltz's own) writes each sample's mmCIF, confidence JSON and PAE / PDE / pLDDT
arrays; this module renames them per seed and sample, and mends what the field's tools would
otherwise read wrongly:

* the mmCIF's protein one-letter sequences (Boltz writes every amino acid as `(MET)` and the
  canonical sequence as `X`s, so sequence-aware tools see an unknown polymer), a title, the
  random-weights note for the tiny model, and formulas for ligands given as SMILES;
* chain names beside Boltz's chain indices in the confidence JSON;
* a PAE heat map per sample with chain boundaries and names;
* PoseBusters' redock-free checks of each ligand pose (config `dock`: sanitisation, bond
  lengths and angles, internal clashes, flatness, internal energy, distance to and volume
  overlap with the polymers) plus "stereo kept" (CIP labels of the pose against the input).
"""

from __future__ import annotations

import csv
import json
import logging
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np

from workbench.tasks.checkpoint_files import pack_files, unpack_files
from workbench.tasks.molecules.complexes.inputs import Entity
from workbench.tasks.molecules.modelcif import RANDOM_WEIGHTS_NOTE


def chain_table(ents: list[Entity]) -> list[dict[str, Any]]:
    return [{"chain": e.chain, "type": e.kind,
             **({"length": len(e.sequence)} if e.kind != "ligand" else
                {"ligand": e.ccd or e.smiles, "given_as": "ccd" if e.ccd else "smiles"})} for e in ents]


# ---- mmCIF ------------------------------------------------------------------------------

def polish_mmcif(path: Path, *, title: str, random_weights: bool, formulas: dict[str, str]) -> None:
    """One-letter sequences of protein entities, a title, the random-weights note, ligand formulas."""
    import gemmi

    doc = gemmi.cif.read(str(path))
    block = doc.sole_block()
    seqs: dict[str, list[str]] = {}
    for row in block.find("_entity_poly_seq.", ["entity_id", "mon_id"]):
        seqs.setdefault(row.str(0), []).append(row.str(1))
    poly = block.find("_entity_poly.", ["entity_id", "type", "pdbx_seq_one_letter_code",
                                        "pdbx_seq_one_letter_code_can"])
    for row in poly:
        if row.str(1) != "polypeptide(L)":
            continue
        code, can = [], []
        for mon in seqs.get(row.str(0), []):
            info = gemmi.find_tabulated_residue(mon)
            letter = info.one_letter_code.upper() if info is not None and info.is_amino_acid() else "X"
            standard = info is not None and info.is_standard()
            code.append(letter if standard else f"({mon})")
            can.append(letter)
        row[2] = gemmi.cif.quote("".join(code))
        row[3] = gemmi.cif.quote("".join(can))
    block.set_pair("_struct.title", gemmi.cif.quote(title))
    if random_weights:
        block.set_pair("_struct.pdbx_model_details", gemmi.cif.quote(RANDOM_WEIGHTS_NOTE))
    comp = block.find("_chem_comp.", ["id", "formula"])
    for row in comp:
        if row.str(0) in formulas:
            row[1] = gemmi.cif.quote(formulas[row.str(0)])
    doc.write_file(str(path))


# ---- ligand poses -----------------------------------------------------------------------

def ligand_references(processed: Path, mols: Path, ents: list[Entity], name: str) -> dict[str, Any]:
    """Chain id -> the ligand's RDKit molecule (heavy atoms, atoms named as in the mmCIF)."""
    from rdkit import Chem

    extra_path = processed / "mols" / f"{name}.pkl"
    extra = pickle.loads(extra_path.read_bytes()) if extra_path.exists() else {}
    refs: dict[str, Any] = {}
    # Boltz makes one entity per distinct (type, sequence) and names SMILES ligands LIG1, LIG2, ... in the
    # order their entities first appear: copies of one SMILES share its name
    order = list(dict.fromkeys(e.smiles for e in ents if e.kind == "ligand" and e.smiles))
    for e in ents:
        if e.kind != "ligand":
            continue
        if e.smiles:
            mol = extra.get(f"LIG{order.index(e.smiles) + 1}")
        else:
            mol = pickle.loads((mols / f"{e.ccd}.pkl").read_bytes())
        if mol is not None:
            refs[e.chain] = Chem.RemoveHs(mol, sanitize=False)
    return refs


def posed_ligand(reference: Any, residue: Any) -> Any:
    """The reference molecule with the predicted coordinates (matched by atom name)."""
    from rdkit import Chem
    from rdkit.Geometry import Point3D

    mol = Chem.Mol(reference)
    mol.RemoveAllConformers()
    conf = Chem.Conformer(mol.GetNumAtoms())
    coords = {a.name: a.pos for a in residue}
    for atom in mol.GetAtoms():
        pos = coords.get(atom.GetProp("name"))
        if pos is None:
            return None
        conf.SetAtomPosition(atom.GetIdx(), Point3D(pos.x, pos.y, pos.z))
    mol.AddConformer(conf, assignId=True)
    Chem.SanitizeMol(mol, catchErrors=True)
    return mol


def check_ligands(cif: Path, refs: dict[str, Any], folder: Path) -> tuple[int, int, dict[str, int]]:
    """PoseBusters (config "dock") and stereo of each ligand against the polymers of the same model:
    (ligands checked, ligands passing every check, check -> ligands failing it)."""
    import gemmi
    from rdkit import Chem

    from workbench.tasks.molecules.checks import input_stereo, stereo_mismatch

    logging.getLogger("posebusters").setLevel(logging.ERROR)
    st = gemmi.read_structure(str(cif))
    polymers = st.clone()
    for chain in list(polymers[0]):
        if chain.name in refs:
            polymers[0].remove_chain(chain.name)
    posed, stereo_ok = [], []
    for chain in st[0]:
        if chain.name not in refs:
            continue
        mol = posed_ligand(refs[chain.name], chain[0])
        if mol is None:
            continue
        posed.append(mol)
        reference = Chem.Mol(refs[chain.name])
        Chem.AssignStereochemistry(reference, cleanIt=True, force=True)
        stereo_ok.append(not stereo_mismatch(input_stereo(reference), mol, 0))
    if not posed:
        return 0, 0, {}
    cond = folder / f"{cif.stem}_polymers.pdb"
    if len(polymers[0]):
        polymers.setup_entities()
        cond.write_text(polymers.make_pdb_string())
    try:
        checks = _bust(posed, cond if len(polymers[0]) else None)
    finally:
        cond.unlink(missing_ok=True)
    checks["stereo_kept"] = stereo_ok
    passed = int(checks.all(axis=1).sum())
    failures = {col: int((~checks[col]).sum()) for col in checks.columns if not checks[col].all()}
    return len(posed), passed, failures


def _bust(posed: list[Any], cond: Path | None) -> Any:
    """PoseBusters' table of boolean checks. Its volume-overlap check grids the bounding box of ligand and
    protein and fails inside RDKit on poses spread over kilometres-wide boxes (random weights); such a pose
    is checked without it and fails that check."""
    import importlib.resources

    import yaml
    from posebusters import PoseBusters

    config = "dock" if cond is not None else "mol"
    try:
        return PoseBusters(config=config).bust(posed, None, cond).select_dtypes(include=["bool"]).copy()
    except (IndexError, ValueError, RuntimeError, MemoryError):
        if cond is None:
            raise
    spec = yaml.safe_load((importlib.resources.files("posebusters") / "config" / "dock.yml").read_text())
    spec["modules"] = [m for m in spec["modules"] if m.get("function") != "volume_overlap"]
    checks = PoseBusters(config=spec).bust(posed, None, cond).select_dtypes(include=["bool"]).copy()
    checks["volume_overlap_with_protein"] = False
    return checks


# ---- plots ------------------------------------------------------------------------------

def pae_plot(pae: np.ndarray, chains: list[str], asym: np.ndarray, path: Path, title: str) -> Path:
    """PAE over tokens, a line at each chain boundary and the chain names on the axes."""
    from workbench.tasks.molecules.plots import pae_png

    starts = [i for i in range(1, len(asym)) if asym[i] != asym[i - 1]]
    labels = [chains[int(asym[s])] if int(asym[s]) < len(chains) else str(int(asym[s])) for s in [0, *starts]]
    return pae_png(pae, path, title, starts, labels, unit="token (chain)")


# ---- one seed ---------------------------------------------------------------------------

def ligand_formulas(path: Path) -> dict[str, str]:
    """`LIGn` -> its formula as mmCIF writes it ("C9 H8 O4"), for the ligands Boltz parsed from SMILES."""
    from rdkit.Chem.rdMolDescriptors import CalcMolFormula

    if not path.exists():
        return {}
    out = {}
    for code, mol in pickle.loads(path.read_bytes()).items():
        mol.UpdatePropertyCache(strict=False)  # stored without hydrogens and unsanitised: count them again
        out[code] = " ".join(re.findall(r"[A-Z][a-z]?\d*", CalcMolFormula(mol)))
    return out


def _by_chain(values: dict[Any, Any], chains: list[str]) -> dict[str, Any]:
    def name(k: Any) -> str:
        i = int(k)
        return chains[i] if i < len(chains) else str(k)

    return {name(k): (_by_chain(v, chains) if isinstance(v, dict) else v) for k, v in values.items()}


def write_seed(prediction: dict[str, Any], batch: dict[str, Any], processed: Path, mols: Path,
               ents: list[Entity], request: Any, seed: int, out: Path, work: Path, sample_type: type,
               sample_stem: Any, extra_constraints: list[dict[str, Any]] | None = None
               ) -> tuple[list[Any], dict[str, Path]]:
    """Boltz's writer for one seed's samples, then renamed, mended, plotted and checked. The task hands
    in its sample type and file-stem rule (`predict.ComplexSample`, `predict.sample_stem`), so this
    module does not import the task module that imports it."""
    from boltz.data.write.writer import BoltzWriter

    written = work / f"seed{seed}"
    BoltzWriter(data_dir=str(processed / "structures"), output_dir=str(written), output_format="mmcif",
                boltz2=True).write_on_batch_end(None, None, prediction, [0], batch, 0, 0)
    record = batch["record"][0].id
    chains = [e.chain for e in ents]
    refs = ligand_references(processed, mols, ents, request.name) if request.checks else {}
    formulas = ligand_formulas(processed / "mols" / f"{request.name}.pkl")
    asym = batch["asym_id"][0][batch["token_pad_mask"][0].bool()].cpu().numpy()
    model_name = "Boltz-2 (tiny, random weights)" if request.tiny else "Boltz-2"
    samples, files = [], {}
    for k in range(request.samples):
        src = written / record
        stem = sample_stem(request.name, seed, k)
        cif = out / f"{stem}.cif"
        (src / f"{record}_model_{k}.cif").replace(cif)
        polish_mmcif(cif, title=f"{model_name} model of {request.name} (seed {seed}, sample {k})",
                     random_weights=request.tiny, formulas=formulas)
        conf = json.loads((src / f"confidence_{record}_model_{k}.json").read_text())
        conf["chain_ids"] = chains
        for key in ("chains_ptm", "pair_chains_iptm", "chains_pae", "pair_chains_pae"):
            if key in conf:
                conf[f"{key}_by_chain"] = _by_chain(conf[key], chains)
        conf.update({"model": model_name, "seed": seed, "sample": k, "random_weights": request.tiny})
        arrays = {kind: np.load(src / f"{kind}_{record}_model_{k}.npz")[kind]
                  for kind in ("pae", "pde", "plddt") if (src / f"{kind}_{record}_model_{k}.npz").exists()}
        npz = out / f"{stem}_arrays.npz"
        np.savez_compressed(npz, **arrays, asym_id=asym)
        entry = {f"{stem}.cif": cif, f"{stem}.arrays": npz}
        sample = sample_type(seed, k, 0, float(conf["confidence_score"]), float(conf["ptm"]),
                               float(conf["iptm"]), float(conf.get("ligand_iptm", 0.0)),
                               float(conf["complex_plddt"]))
        measured = [c for c in (extra_constraints or []) if next(iter(c)) in ("pocket", "contact")]
        if measured:
            from workbench.tasks.molecules.complexes.restraints import measure

            sample.restraints = measure(cif, measured)
            conf["restraints"] = sample.restraints
        if refs:
            checked, passed, failures = check_ligands(cif, refs, out)
            sample.posebusters_passed, sample.posebusters_failures = passed, failures
            conf["posebusters"] = {"ligands": checked, "passed": passed, "failures": failures}
        conf_path = out / f"{stem}_confidence.json"
        conf_path.write_text(json.dumps(conf, indent=2))
        entry[f"{stem}.confidence"] = conf_path
        if request.plots and "pae" in arrays:
            entry[f"{stem}.pae"] = pae_plot(arrays["pae"], chains, asym, out / f"{stem}_pae.png",
                                            f"{request.name} seed {seed} sample {k}")
        sample.files = list(entry)
        files.update(entry)
        samples.append(sample)
    return samples, files


def checkpoint(samples: list[Any], files: dict[str, Path]) -> tuple[list[Any], dict[str, tuple[str, bytes]]]:
    """A seed's samples and files as bytes, so they travel from a Ray node too."""
    return samples, pack_files(files, files)


def restore(saved: tuple[list[Any], dict[str, tuple[str, bytes]]], out: Path, files: dict[str, Path]) -> list[Any]:
    samples, blobs = saved
    unpack_files(blobs, out, files)
    return samples


# ---- over all seeds ---------------------------------------------------------------------

def rank(result: Any) -> None:
    result.samples.sort(key=lambda s: -s.confidence_score)
    for i, s in enumerate(result.samples, 1):
        s.rank = i
    checked = [s for s in result.samples if s.posebusters_passed is not None]
    ligands = sum(1 for c in result.chains if c["type"] == "ligand")
    result.posebusters_pass_rate = (sum(s.posebusters_passed for s in checked) / (ligands * len(checked))
                                    if checked and ligands else None)


def write_summary(result: Any, path: Path) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["rank", "seed", "sample", "confidence_score", "ptm", "iptm", "ligand_iptm", "complex_plddt",
                    "posebusters_passed", "restraints_satisfied", "cif"])
        for s in result.samples:
            cif = next((Path(k).stem for k in s.files if k.endswith(".cif")), "")
            w.writerow([s.rank, s.seed, s.sample, f"{s.confidence_score:.4f}", f"{s.ptm:.4f}", f"{s.iptm:.4f}",
                        f"{s.ligand_iptm:.4f}", f"{s.complex_plddt:.4f}",
                        "" if s.posebusters_passed is None else s.posebusters_passed,
                        getattr(s, "restraints_satisfied", ""), f"{cif}.cif"])
    return path
