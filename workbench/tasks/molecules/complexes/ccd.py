"""Chemical components in the layout Boltz-2 reads: one pickled RDKit molecule per CCD code.

Boltz-2 ships the wwPDB Chemical Component Dictionary as `mols.tar` (one `CODE.pkl` per
component: an RDKit molecule with hydrogens, an atom property `name` holding the CCD atom
name, `leaving_atom` flags, and a conformer). `workbench models pull boltz-2` fetches it
with the weights. This module reads that folder, checks codes before a job starts, and can
also *build* a small one from RDKit: the 20 amino acids, UNK, the four RNA and four DNA
nucleotides (RDKit's sequence reader names their atoms as the PDB does) and any extra
components given as SMILES. The tiny model and the tests use the built one, so the whole
pipeline runs offline; real predictions use the pulled dictionary.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rdkit import Chem, rdBase
from rdkit.Chem import rdDistGeom

#: one-letter code -> CCD code, per polymer kind
AMINO_ACIDS = {"A": "ALA", "R": "ARG", "N": "ASN", "D": "ASP", "C": "CYS", "Q": "GLN", "E": "GLU",
               "G": "GLY", "H": "HIS", "I": "ILE", "L": "LEU", "K": "LYS", "M": "MET", "F": "PHE",
               "P": "PRO", "S": "SER", "T": "THR", "W": "TRP", "Y": "TYR", "V": "VAL", "X": "UNK"}
RNA = {"A": "A", "C": "C", "G": "G", "U": "U", "N": "N"}
DNA = {"A": "DA", "C": "DC", "G": "DG", "T": "DT", "N": "DN"}
#: RDKit MolFromSequence flavours: nucleotides with their 5' phosphate (P, OP1, OP2, OP3 as in the CCD)
_FLAVOUR = {"protein": 0, "rna": 3, "dna": 7}
#: atoms a CCD entry marks as leaving when the residue is linked into a chain
_LEAVING = {"OXT", "OP3", "H2", "HXT", "HOP3", "HOP2"}


def _named(mol: Chem.Mol, code: str) -> Chem.Mol:
    """Hydrogens, a 3D conformer named as the CCD's ("Computed"), and every atom named."""
    for atom in mol.GetAtoms():
        info = atom.GetPDBResidueInfo()
        atom.SetProp("name", info.GetName().strip() if info else "")
    counts: dict[str, int] = {}
    for atom in mol.GetAtoms():  # SMILES components: element + running number, as CCD names read
        if not atom.GetProp("name"):
            counts[atom.GetSymbol()] = counts.get(atom.GetSymbol(), 0) + 1
            atom.SetProp("name", f"{atom.GetSymbol().upper()}{counts[atom.GetSymbol()]}")
    mol = Chem.AddHs(mol, addCoords=False)
    h_count = 0
    for atom in mol.GetAtoms():
        if atom.GetAtomicNum() == 1 and not atom.HasProp("name"):
            h_count += 1
            atom.SetProp("name", f"H{h_count}")
    params: Any = rdDistGeom.ETKDGv3()  # Any: RDKit's stubs type its fields as the class itself
    params.randomSeed = 0xC0DE
    rdBase.DisableLog("rdApp.*")  # UFF typing notes on ions: nothing a user can act on
    try:
        ok = rdDistGeom.EmbedMolecule(mol, params) == 0
        if not ok:
            params.useRandomCoords = True
            ok = rdDistGeom.EmbedMolecule(mol, params) == 0
    finally:
        rdBase.EnableLog("rdApp.*")
    if not ok:
        raise ValueError(f"RDKit could not embed the component {code}")
    mol.GetConformer().SetProp("name", "Computed")
    for atom in mol.GetAtoms():
        atom.SetProp("leaving_atom", "1" if atom.GetProp("name") in _LEAVING else "0")
    mol.SetProp("PDB_NAME", code)
    mol.SetProp("_Name", code)
    return mol


def residue(code: str, letter: str, kind: str) -> Chem.Mol:
    """A standard residue as the CCD holds it (free monomer with its leaving atoms)."""
    if code == "UNK":  # an unknown amino acid: the backbone and CB, as Boltz's reference atoms say
        mol = Chem.MolFromSequence("A", flavor=0)
    elif code in ("N", "DN"):  # an unknown nucleotide: an abasic sugar-phosphate, built from A / DA
        mol = Chem.MolFromSequence("A", flavor=_FLAVOUR[kind])
        backbone = {"P", "OP1", "OP2", "OP3", "O5'", "C5'", "C4'", "O4'", "C3'", "O3'", "C2'", "O2'", "C1'"}
        editable = Chem.RWMol(mol)
        for atom in sorted(mol.GetAtoms(), key=lambda a: -a.GetIdx()):
            if atom.GetPDBResidueInfo().GetName().strip() not in backbone:
                editable.RemoveAtom(atom.GetIdx())
        mol = editable.GetMol()
        Chem.SanitizeMol(mol)
    else:
        mol = Chem.MolFromSequence(letter, flavor=_FLAVOUR[kind])
    return _named(mol, code)


def from_smiles(code: str, smiles: str) -> Chem.Mol:
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"RDKit could not read the SMILES of component {code}: {smiles!r}")
    return _named(mol, code)


def build_components(folder: Path, extra: Mapping[str, str] | None = None) -> Path:
    """Write a Boltz-layout component folder: standard residues plus `extra` (CCD code -> SMILES)."""
    folder.mkdir(parents=True, exist_ok=True)
    Chem.SetDefaultPickleProperties(Chem.PropertyPickleOptions.AllProps)  # names travel in the pickle
    components: dict[str, Chem.Mol] = {}
    for kind, table in (("protein", AMINO_ACIDS), ("rna", RNA), ("dna", DNA)):
        for letter, code in table.items():
            components[code] = residue(code, letter, kind)
    for code, smiles in (extra or {}).items():
        components[code] = from_smiles(code, smiles)
    for code, mol in components.items():
        (folder / f"{code}.pkl").write_bytes(pickle.dumps(mol))
    return folder


def tar_components(folder: Path, tar_path: Path) -> Path:
    """`mols.tar` as Boltz-2 distributes it: a top-level `mols/` folder of pickles."""
    with tarfile.open(tar_path, "w") as tar:
        for pkl in sorted(folder.glob("*.pkl")):
            data = pkl.read_bytes()
            info = tarfile.TarInfo(f"mols/{pkl.name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return tar_path


def extract_components(tar_path: Path, cache: Path) -> Path:
    """The `mols/` folder next to the model, extracted once from `mols.tar`."""
    folder = cache / "mols"
    marker = cache / ".extracted"
    stamp = f"{tar_path.resolve()}:{tar_path.stat().st_size}"
    if folder.is_dir() and marker.exists() and marker.read_text() == stamp:
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path) as tar:
        members = [m for m in tar.getmembers()
                   if m.isfile() and m.name.startswith("mols/") and m.name.endswith(".pkl") and ".." not in m.name]
        tar.extractall(cache, members=members, filter="data")
    marker.write_text(stamp)
    return folder


def known(folder: Path, code: str) -> bool:
    return (folder / f"{code}.pkl").is_file()
