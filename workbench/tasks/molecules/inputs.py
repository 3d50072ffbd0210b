"""Reading molecules: SMILES, SDF and MOL, one or many, with a reason for each failure.

A batch never fails as a whole because one entry is bad: every entry becomes either a
parsed molecule or a `MoleculeInputError` with a sentence for a person.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from rdkit import Chem, rdBase

from workbench.contract.errors import InputError
from workbench.paths import is_file

log = logging.getLogger(__name__)


@dataclass
class ParsedMolecule:
    index: int
    name: str
    mol: Chem.Mol | None  #: None when `error` is set
    source: str  #: the SMILES or "file.sdf#3"
    error: str = ""


def _sanitize_error(mol: Chem.Mol) -> str:
    try:
        Chem.SanitizeMol(mol)
    except Exception as exc:  # RDKit raises several MolSanitizeException subclasses
        log.debug("_sanitize_error: ignored", exc_info=True)
        return str(exc).strip().splitlines()[0]
    return ""


#: longer SMILES overflow RDKit's stack (a segfault at about 20,000 characters) and no molecule
#: within `max_atoms` needs more than a few hundred; checked before RDKit sees the text
MAX_SMILES_LENGTH = 2000


#: the longest molecule name kept (a title after the SMILES, or `names=`)
MAX_NAME_LENGTH = 200


def parse_smiles(smiles: str, index: int, name: str | None = None) -> ParsedMolecule:
    text = smiles.strip()
    if " " in text:  # "CCO ethanol": SMILES then a title, as in .smi files
        text, _, title = text.partition(" ")
        name = name or title.strip()
    fallback = f"mol{index + 1}"
    if name and len(name) > MAX_NAME_LENGTH:  # say which part is too long: the name, not the SMILES
        return ParsedMolecule(index, fallback, None, text[:40],
                              f"the name is {len(name):,} characters long; the limit is {MAX_NAME_LENGTH:,}")
    if len(text) > MAX_SMILES_LENGTH:
        return ParsedMolecule(index, name or fallback, None, text[:40] + "...",
                              f"the SMILES is {len(text):,} characters long; the limit is {MAX_SMILES_LENGTH:,}")
    name = name or fallback
    if not text:
        return ParsedMolecule(index, name, None, smiles, "empty SMILES")
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(text, sanitize=False)
        if mol is None:
            return ParsedMolecule(index, name, None, text,
                                  f"{text!r} is not a valid SMILES (RDKit could not parse it)")
        why = _sanitize_error(mol)
    if why:
        return ParsedMolecule(index, name, None, text, f"{text!r} is not a valid molecule: {why}")
    return ParsedMolecule(index, name, mol, text)


def _from_record(mol: Chem.Mol | None, index: int, source: str, record: int) -> ParsedMolecule:
    """One MOL/SDF record with its 2D or 3D coordinates and stereo."""
    where = f"{source}#{record}"
    if mol is None:
        return ParsedMolecule(index, f"mol{index + 1}", None, where,
                              f"record {record} of {source} is not a readable MOL block")
    name = mol.GetProp("_Name").strip() if mol.HasProp("_Name") else ""
    name = name or f"mol{index + 1}"
    with rdBase.BlockLogs():
        why = _sanitize_error(mol)
    if why:
        return ParsedMolecule(index, name, None, where, f"{name} is not a valid molecule: {why}")
    if mol.GetNumConformers() and mol.GetConformer().Is3D():
        Chem.AssignStereochemistryFrom3D(mol)
    else:
        Chem.AssignChiralTypesFromBondDirs(mol)
        Chem.AssignStereochemistry(mol, cleanIt=True, force=True)
    return ParsedMolecule(index, name, mol, where)


def read_file(path: str | Path, start: int = 0) -> list[ParsedMolecule]:
    """All records of an SDF, MOL or SMILES file."""
    p = Path(path)
    if not is_file(p):
        raise InputError(f"No such file: {p}")
    suffix = p.suffix.lower()
    if suffix in (".smi", ".smiles", ".txt"):
        lines = [ln for ln in p.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        return [parse_smiles(ln, start + i) for i, ln in enumerate(lines)]
    with rdBase.BlockLogs():
        if suffix == ".mol":
            mols = [Chem.MolFromMolFile(str(p), sanitize=False, removeHs=False)]
        elif suffix in (".sdf", ".sd"):
            mols = list(Chem.SDMolSupplier(str(p), sanitize=False, removeHs=False))
        else:
            raise InputError(f"Cannot read {p.name}: use .sdf, .mol or .smi.")
    if not mols:
        raise InputError(f"{p.name} holds no molecules.")
    return [_from_record(m, start + i, p.name, i + 1) for i, m in enumerate(mols)]


def read_inputs(smiles: list[str] | tuple[str, ...] = (), files: list[str] | tuple[str, ...] = (),
                names: list[str] | tuple[str, ...] = ()) -> list[ParsedMolecule]:
    """SMILES strings and files, in order; `names` label the SMILES."""
    rdBase.DisableLog("rdApp.*")
    parsed = [parse_smiles(s, i, names[i] if i < len(names) else None) for i, s in enumerate(smiles)]
    for f in files:
        parsed.extend(read_file(f, start=len(parsed)))
    if not parsed:
        raise InputError("Give at least one molecule (SMILES, or an SDF / MOL / SMI file).")
    return parsed
