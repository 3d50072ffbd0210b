"""A predicted structure as PDBx/mmCIF with ModelCIF quality metrics, and a PDB with unique serials.

What structure tools expect of a model file, and Biopython's `MMCIFIO` alone does not write:
entities (`_entity`, `_entity_poly` with the one-letter sequence, `_entity_poly_seq`), the
chains that instantiate them (`_struct_asym`, `_pdbx_poly_seq_scheme`), the residue types
(`_chem_comp`) and elements (`_atom_type`), label and auth numbering in `_atom_site`, and the
confidence as ModelCIF metrics (`_ma_qa_metric`, `_ma_qa_metric_global` with the mean pLDDT
and pTM, `_ma_qa_metric_local` with pLDDT per residue), so Mol*, ChimeraX and gemmi see
entities and colour by pLDDT as a quality metric, not only as a B-factor. Chains with the
same sequence share one entity (a homodimer is one entity, two chains).

A file written by a model with random weights (the tiny test model) says so in its title and
a `_pdbx_database_remark`-style note, and the PDB says so in a REMARK: such files parse like
real predictions and must not be mistaken for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gemmi

#: chem_comp name and formula of the 20 standard amino acids (residues as in a polymer)
AMINO_ACIDS = {
    "ALA": ("ALANINE", "C3 H7 N O2"), "ARG": ("ARGININE", "C6 H15 N4 O2 1"), "ASN": ("ASPARAGINE", "C4 H8 N2 O3"),
    "ASP": ("ASPARTIC ACID", "C4 H7 N O4"), "CYS": ("CYSTEINE", "C3 H7 N O2 S"),
    "GLN": ("GLUTAMINE", "C5 H10 N2 O3"), "GLU": ("GLUTAMIC ACID", "C5 H9 N O4"), "GLY": ("GLYCINE", "C2 H5 N O2"),
    "HIS": ("HISTIDINE", "C6 H10 N3 O2 1"), "ILE": ("ISOLEUCINE", "C6 H13 N O2"), "LEU": ("LEUCINE", "C6 H13 N O2"),
    "LYS": ("LYSINE", "C6 H15 N2 O2 1"), "MET": ("METHIONINE", "C5 H11 N O2 S"),
    "PHE": ("PHENYLALANINE", "C9 H11 N O2"), "PRO": ("PROLINE", "C5 H9 N O2"), "SER": ("SERINE", "C3 H7 N O3"),
    "THR": ("THREONINE", "C4 H9 N O3"), "TRP": ("TRYPTOPHAN", "C11 H12 N2 O2"), "TYR": ("TYROSINE", "C9 H11 N O3"),
    "VAL": ("VALINE", "C5 H11 N O2"),
}

RANDOM_WEIGHTS_NOTE = "RANDOM TEST WEIGHTS: this file is not a prediction (workbench tiny model)"


def _category(block: Any, name: str, data: dict[str, list[str]]) -> None:
    """An mmCIF category from string columns; "?" (unknown) and "." (not applicable) stay CIF's nulls,
    every other value is quoted as CIF needs."""
    nulls = {"?": None, ".": False}
    block.set_mmcif_category(name, {k: [nulls.get(v, v) for v in values] for k, values in data.items()})


def _one_letter(name: str) -> str:
    return gemmi.find_tabulated_residue(name).one_letter_code.upper() if gemmi.find_tabulated_residue(name) else "X"


def write_modelcif(structure: Any, path: Path, *, title: str, model_name: str, mean_plddt: float, ptm: float,
                   random_weights: bool) -> Path:
    """Write the Biopython `structure` (one model; pLDDT per residue in the B-factors) to `path`."""
    chains = [chain for chain in structure[0]]
    sequences = [[res.get_resname() for res in chain] for chain in chains]
    entity_of: dict[tuple[str, ...], str] = {}
    chain_entity = []
    for seq in sequences:
        chain_entity.append(entity_of.setdefault(tuple(seq), str(len(entity_of) + 1)))

    doc = gemmi.cif.Document()
    block = doc.add_new_block(structure.id or "model")
    block.set_pair("_entry.id", gemmi.cif.quote(structure.id or "model"))
    block.set_pair("_struct.entry_id", gemmi.cif.quote(structure.id or "model"))
    block.set_pair("_struct.title", gemmi.cif.quote((RANDOM_WEIGHTS_NOTE + ". ") * random_weights + title))
    _category(block, "_audit_conform", {"dict_name": ["mmcif_ma.dic"], "dict_version": ["1.4.5"]})
    _category(block, "_software", {
        "pdbx_ordinal": ["1", "2"], "name": [model_name, "workbench"], "classification": ["model building", "other"],
        "type": ["program", "package"]})
    if random_weights:
        _category(block, "_pdbx_database_remark", {"id": ["1"], "text": [RANDOM_WEIGHTS_NOTE]})

    entities = sorted(entity_of.items(), key=lambda kv: int(kv[1]))
    strands = {eid: ",".join(c.id for c, e in zip(chains, chain_entity) if e == eid) for _, eid in entities}
    _category(block, "_entity", {
        "id": [eid for _, eid in entities], "type": ["polymer"] * len(entities),
        "src_method": ["?"] * len(entities), "pdbx_description": [f"chain(s) {strands[eid]}" for _, eid in entities]})
    codes = ["".join(_one_letter(r) for r in seq) for seq, _ in entities]
    _category(block, "_entity_poly", {
        "entity_id": [eid for _, eid in entities], "type": ["polypeptide(L)"] * len(entities),
        "nstd_linkage": ["no"] * len(entities), "nstd_monomer": ["no"] * len(entities),
        "pdbx_seq_one_letter_code": codes, "pdbx_seq_one_letter_code_can": codes,
        "pdbx_strand_id": [strands[eid] for _, eid in entities]})
    poly_seq: dict[str, list[str]] = {"entity_id": [], "num": [], "mon_id": [], "hetero": []}
    for residues, eid in entities:
        for k, name in enumerate(residues, 1):
            poly_seq["entity_id"].append(eid)
            poly_seq["num"].append(str(k))
            poly_seq["mon_id"].append(name)
            poly_seq["hetero"].append("n")
    _category(block, "_entity_poly_seq", poly_seq)
    _category(block, "_struct_asym", {"id": [c.id for c in chains], "entity_id": chain_entity})
    names = sorted({r for seq in sequences for r in seq})
    _category(block, "_chem_comp", {
        "id": names, "type": ["L-peptide linking"] * len(names),
        "name": [AMINO_ACIDS.get(n, (n, "?"))[0] for n in names],
        "formula": [AMINO_ACIDS.get(n, (n, "?"))[1] for n in names]})

    scheme: dict[str, list[str]] = {k: [] for k in ("asym_id", "entity_id", "seq_id", "mon_id", "pdb_seq_num",
                                                    "auth_seq_num", "pdb_mon_id", "auth_mon_id", "pdb_strand_id",
                                                    "pdb_ins_code", "hetero")}
    atoms: dict[str, list[str]] = {k: [] for k in (
        "group_PDB", "id", "type_symbol", "label_atom_id", "label_alt_id", "label_comp_id", "label_asym_id",
        "label_entity_id", "label_seq_id", "pdbx_PDB_ins_code", "Cartn_x", "Cartn_y", "Cartn_z", "occupancy",
        "B_iso_or_equiv", "pdbx_formal_charge", "auth_seq_id", "auth_comp_id", "auth_asym_id", "auth_atom_id",
        "pdbx_PDB_model_num")}
    local: dict[str, list[str]] = {k: [] for k in ("ordinal_id", "model_id", "label_asym_id", "label_seq_id",
                                                   "label_comp_id", "metric_id", "metric_value")}
    elements: set[str] = set()
    serial = 0
    for chain, eid in zip(chains, chain_entity):
        for seq_id, res in enumerate(chain, 1):
            name = res.get_resname()
            auth = str(res.id[1])
            for key, value in (("asym_id", chain.id), ("entity_id", eid), ("seq_id", str(seq_id)), ("mon_id", name),
                               ("pdb_seq_num", auth), ("auth_seq_num", auth), ("pdb_mon_id", name),
                               ("auth_mon_id", name), ("pdb_strand_id", chain.id), ("pdb_ins_code", "."),
                               ("hetero", "n")):
                scheme[key].append(value)
            plddt = None
            for atom in res:
                serial += 1
                element = (atom.element or atom.get_id()[0]).strip().upper()
                elements.add(element)
                x, y, z = (f"{v:.3f}" for v in atom.coord)
                plddt = float(atom.get_bfactor())
                for key, value in (("group_PDB", "ATOM"), ("id", str(serial)), ("type_symbol", element),
                                   ("label_atom_id", atom.get_id()), ("label_alt_id", "."), ("label_comp_id", name),
                                   ("label_asym_id", chain.id), ("label_entity_id", eid),
                                   ("label_seq_id", str(seq_id)), ("pdbx_PDB_ins_code", "?"), ("Cartn_x", x),
                                   ("Cartn_y", y), ("Cartn_z", z), ("occupancy", "1.00"),
                                   ("B_iso_or_equiv", f"{plddt:.2f}"), ("pdbx_formal_charge", "?"),
                                   ("auth_seq_id", auth), ("auth_comp_id", name), ("auth_asym_id", chain.id),
                                   ("auth_atom_id", atom.get_id()), ("pdbx_PDB_model_num", "1")):
                    atoms[key].append(value)
            if plddt is not None:
                for key, value in (("ordinal_id", str(len(local["ordinal_id"]) + 1)), ("model_id", "1"),
                                   ("label_asym_id", chain.id), ("label_seq_id", str(seq_id)),
                                   ("label_comp_id", name), ("metric_id", "3"), ("metric_value", f"{plddt:.2f}")):
                    local[key].append(value)
    _category(block, "_pdbx_poly_seq_scheme", scheme)
    _category(block, "_atom_type", {"symbol": sorted(elements)})
    _category(block, "_ma_model_list", {
        "ordinal_id": ["1"], "model_id": ["1"], "model_group_id": ["1"], "model_name": [title],
        "model_group_name": [model_name], "data_id": ["1"], "model_type": ["Ab initio model"]})
    _category(block, "_ma_qa_metric", {
        "id": ["1", "2", "3"], "name": ["pLDDT", "pTM", "pLDDT"],
        "description": ["mean predicted lDDT-CA of the model", "predicted TM-score", "predicted lDDT-CA per residue"],
        "type": ["pLDDT", "pTM", "pLDDT"], "mode": ["global", "global", "local"],
        "software_group_id": ["?", "?", "?"]})
    _category(block, "_ma_qa_metric_global", {
        "ordinal_id": ["1", "2"], "model_id": ["1", "1"], "metric_id": ["1", "2"],
        "metric_value": [f"{mean_plddt:.2f}", f"{ptm:.4f}"]})
    _category(block, "_ma_qa_metric_local", local)
    _category(block, "_atom_site", atoms)
    doc.write_file(str(path))
    return path


def renumber_pdb(text: str, remarks: list[str]) -> str:
    """PDB text with one serial per ATOM/HETATM/TER record (a TER takes its own number, the next atom
    the one after), and `remarks` as REMARK 1 lines at the top."""
    out = [f"REMARK   1 {line[:68]}" for line in remarks]
    serial = 0
    for line in text.splitlines():
        if line.startswith(("ATOM  ", "HETATM", "TER")):
            serial += 1
            line = line.ljust(11)
            line = f"{line[:6]}{serial:5d}{line[11:]}".rstrip() if line.startswith("TER") else \
                f"{line[:6]}{serial:5d}{line[11:]}"
        out.append(line)
    return "\n".join(out) + "\n"
