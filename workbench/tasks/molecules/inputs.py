"""Reading molecules: SMILES, SDF and MOL, one or many, with a reason for each failure.

A batch never fails as a whole because one entry is bad: every entry becomes either a
parsed molecule or a `MoleculeInputError` with a sentence for a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rdkit import Chem, RDLogger, rdBase

from workbench.errors import InputError


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
        return str(exc).strip().splitlines()[0]
    return ""


def parse_smiles(smiles: str, index: int, name: str | None = None) -> ParsedMolecule:
    text = smiles.strip()
    if " " in text:  # "CCO ethanol": SMILES then a title, as in .smi files
        text, _, title = text.partition(" ")
        name = name or title.strip()
    name = name or f"mol{index + 1}"
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


def parse_block(block: str, index: int, source: str) -> ParsedMolecule:
    """One MOL block (V2000/V3000) with its 2D or 3D coordinates and stereo."""
    with rdBase.BlockLogs():
        mol = Chem.MolFromMolBlock(block, sanitize=False, removeHs=False)
        if mol is None:
            return ParsedMolecule(index, f"mol{index + 1}", None, source,
                                  f"record {index + 1} of {source} is not a readable MOL block")
        why = _sanitize_error(mol)
    name = mol.GetProp("_Name").strip() if mol.HasProp("_Name") else ""
    name = name or f"mol{index + 1}"
    if why:
        return ParsedMolecule(index, name, None, source, f"{name} is not a valid molecule: {why}")
    if mol.GetNumConformers() and mol.GetConformer().Is3D():
        Chem.AssignStereochemistryFrom3D(mol)
    else:
        Chem.AssignChiralTypesFromBondDirs(mol)
        Chem.AssignStereochemistry(mol, cleanIt=True, force=True)
    return ParsedMolecule(index, name, mol, f"{source}#{index + 1}")


def read_file(path: str | Path, start: int = 0) -> list[ParsedMolecule]:
    """All records of an SDF, MOL or SMILES file."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"No such file: {p}")
    text = p.read_text()
    suffix = p.suffix.lower()
    if suffix in (".smi", ".smiles", ".txt"):
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
        return [parse_smiles(ln, start + i) for i, ln in enumerate(lines)]
    if suffix not in (".sdf", ".sd", ".mol"):
        raise InputError(f"Cannot read {p.name}: use .sdf, .mol or .smi.")
    blocks = [b for b in text.split("$$$$") if b.strip()]
    out = []
    for i, block in enumerate(blocks):
        mol_block = block.lstrip("\r\n").split("\n>", 1)[0]
        if "M  END" not in mol_block:
            mol_block = mol_block.rstrip() + "\nM  END\n"
        out.append(parse_block(mol_block, start + i, p.name))
    return out


def read_inputs(smiles: list[str] | tuple[str, ...] = (), files: list[str] | tuple[str, ...] = (),
                names: list[str] | tuple[str, ...] = ()) -> list[ParsedMolecule]:
    """SMILES strings and files, in order; `names` label the SMILES."""
    RDLogger.DisableLog("rdApp.*")
    parsed = [parse_smiles(s, i, names[i] if i < len(names) else None) for i, s in enumerate(smiles)]
    for f in files:
        parsed.extend(read_file(f, start=len(parsed)))
    if not parsed:
        raise InputError("Give at least one molecule (SMILES, or an SDF / MOL / SMI file).")
    return parsed
