"""What a complex is made of: chains typed as protein, DNA, RNA or ligand, read and checked.

Three ways in, one result (a list of `Entity`): the request's own fields (`proteins`, `dna`,
`rna`, `ligands` as SMILES, `ligand_ccd` as CCD codes), a Boltz-style YAML file
(`sequences:` with `protein` / `dna` / `rna` / `ligand` entries; `constraints`, `templates`
and `properties` are passed through to Boltz), or a FASTA whose headers say the type as Boltz
reads them (`>A|protein`, `>B|dna`, `>C|rna`, `>D|smiles`, `>E|ccd`). Every check that can
fail runs here, before a job exists: letters per polymer type, SMILES through RDKit, CCD
codes by their form (and against the component dictionary in `predict.py`'s requirements).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.contract.errors import InputError
from workbench.paths import is_file
from workbench.tasks.molecules.sequences import first_non_ascii

ALPHABETS = {"protein": set("ACDEFGHIKLMNPQRSTVWYX"), "dna": set("ACGTN"), "rna": set("ACGUN")}
ALLOWED = {"protein": "the 20 standard amino acids or X", "dna": "A, C, G, T or N", "rna": "A, C, G, U or N"}
CCD_CODE = re.compile(r"^[A-Z0-9]{1,5}$")
MAX_TOKENS = 5000  #: more than any Boltz-2 run fits on an 80 GiB GPU
FASTA_TYPES = {"protein": "protein", "dna": "dna", "rna": "rna", "smiles": "smiles", "ccd": "ccd", "ligand": "smiles"}


@dataclass(frozen=True)
class Entity:
    kind: str  #: protein, dna, rna or ligand
    chain: str  #: chain id in the output files
    sequence: str = ""  #: polymers
    smiles: str = ""  #: ligands given as SMILES
    ccd: str = ""  #: ligands given as a CCD code
    msa: str = ""  #: an .a3m / .csv file for a protein; "" runs single-sequence

    @property
    def label(self) -> str:
        if self.kind == "ligand":
            return f"ligand {self.chain} ({self.ccd or self.smiles})"
        return f"{self.kind} {self.chain}"


def check_polymer(kind: str, sequence: str, where: str) -> str:
    text = str(sequence)
    at = first_non_ascii(text)
    if at is not None:
        raise InputError(f"{where}: {text[at]!r} (U+{ord(text[at]):04X}) is not a residue letter; use "
                         f"{ALLOWED[kind]}, in ASCII.")
    seq = re.sub(r"[ \t\r\n]", "", text).upper()
    if not seq:
        raise InputError(f"{where}: the {kind} sequence is empty.")
    bad = sorted(set(seq) - ALPHABETS[kind])
    if bad:
        pos = next(i for i, c in enumerate(seq) if c in bad) + 1
        raise InputError(f"{where}: illegal residue {bad[0]!r} at position {pos} of a {kind} sequence; "
                         f"use {ALLOWED[kind]}.")
    return seq


def heavy_atoms(smiles: str) -> int:
    from rdkit import Chem

    mol = Chem.MolFromSmiles(smiles)
    return 0 if mol is None else mol.GetNumHeavyAtoms()


def check_smiles(smiles: str, where: str) -> str:
    from rdkit import Chem, rdBase

    text = str(smiles).strip()
    if not text:
        raise InputError(f"{where}: the SMILES is empty.")
    rdBase.DisableLog("rdApp.*")
    try:
        mol = Chem.MolFromSmiles(text)
    finally:
        rdBase.EnableLog("rdApp.*")
    if mol is None:
        raise InputError(f"{where}: RDKit cannot read the SMILES {text!r}.")
    if mol.GetNumHeavyAtoms() == 0:
        raise InputError(f"{where}: the SMILES {text!r} has no heavy atoms.")
    counts: dict[str, int] = {}
    for atom in Chem.AddHs(mol).GetAtoms():
        counts[atom.GetSymbol().upper()] = counts.get(atom.GetSymbol().upper(), 0) + 1
    for symbol, n in counts.items():
        if len(symbol) + len(str(n)) > 4:  # Boltz names ligand atoms C1..C999, CL1..CL99 (PDB's 4 characters)
            raise InputError(f"{where}: the ligand has {n} {symbol.capitalize()} atoms (hydrogens added); Boltz "
                             f"names atoms in 4 characters, so it takes at most {10 ** (4 - len(symbol)) - 1} "
                             "of one element.")
    return text


def ligand_atom_names(smiles: str) -> set[str]:
    """The atom names Boltz gives a SMILES ligand (element and count, in RDKit's canonical order, hydrogens
    added): what a contact or pocket restraint may name (`B:C1`)."""
    from rdkit import Chem

    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    counts: dict[str, int] = {}
    names = set()
    for atom in mol.GetAtoms():
        symbol = atom.GetSymbol().upper()
        counts[symbol] = counts.get(symbol, 0) + 1
        names.add(f"{symbol}{counts[symbol]}")
    return names


def check_ccd(code: str, where: str) -> str:
    text = str(code).strip().upper()
    if not CCD_CODE.match(text):
        raise InputError(f"{where}: {code!r} is not a CCD code (1-5 letters or digits, such as ATP or HEM).")
    return text


def _chain_ids() -> list[str]:
    letters = string.ascii_uppercase
    return list(letters) + [a + b for a in letters for b in letters]


def from_fields(proteins: tuple[str, ...], dna: tuple[str, ...], rna: tuple[str, ...], ligands: tuple[str, ...],
                ligand_ccd: tuple[str, ...]) -> list[Entity]:
    ids = iter(_chain_ids())
    out: list[Entity] = []
    for kind, values in (("protein", proteins), ("dna", dna), ("rna", rna)):
        for i, seq in enumerate(values):
            out.append(Entity(kind, next(ids), sequence=check_polymer(kind, seq, f"{kind} {i + 1}")))
    for i, smi in enumerate(ligands):
        out.append(Entity("ligand", next(ids), smiles=check_smiles(smi, f"ligand {i + 1}")))
    for i, code in enumerate(ligand_ccd):
        out.append(Entity("ligand", next(ids), ccd=check_ccd(code, f"ligand-ccd {i + 1}")))
    return out


def _read_text(path: str, what: str) -> str:
    p = Path(path)
    if not is_file(p):
        raise InputError(f"No such {what} file: {p}")
    try:
        return p.read_text()
    except (UnicodeDecodeError, OSError):
        raise InputError(f"{p.name} is not a readable text {what} file.") from None


#: the largest Boltz YAML read (bytes), and the most values it may hold once its aliases are expanded:
#: a 554-byte file of nested aliases (`a: &a [x, x]`, `b: &b [*a, *a]`, ...) expands to gigabytes
MAX_YAML_BYTES = 1_000_000
MAX_YAML_VALUES = 200_000


def _expanded_size(data: Any, budget: int) -> int:
    """How many values `data` holds with every alias expanded, counting up to `budget` and no further."""
    seen, stack = 0, [data]
    while stack:
        item = stack.pop()
        seen += 1
        if seen > budget:
            return seen
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return seen


def _confined(base: Path, name: Any, where: str, what: str) -> str:
    """A file a YAML names, relative to the YAML's folder and inside it; refused otherwise (a job must not
    read `/etc/passwd` as an MSA or a template)."""
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{where}: the {what} must be a file name.")
    folder = base.resolve()
    target = (folder / name).resolve()
    if folder != target.parent and folder not in target.parents:
        raise InputError(f"{where}: the {what} {name!r} is outside the input's folder ({folder}); put it beside "
                         "the input file.")
    if not is_file(target):
        raise InputError(f"{where}: no such {what} file {name!r} beside the input file.")
    return str(target)


def from_yaml(path: str) -> tuple[list[Entity], dict[str, Any]]:
    """Entities of a Boltz YAML, and its other top-level sections (checked, then passed on to Boltz)."""
    import yaml

    p = Path(path)
    if is_file(p) and p.stat().st_size > MAX_YAML_BYTES:
        raise InputError(f"{p.name} is {p.stat().st_size:,} bytes; a Boltz YAML of at most {MAX_YAML_BYTES:,} "
                         "is read.")
    try:
        data = yaml.safe_load(_read_text(path, "YAML"))
    except yaml.YAMLError as exc:
        raise InputError(f"{Path(path).name} is not valid YAML ({str(exc).splitlines()[0]}).") from None
    except RecursionError:
        raise InputError(f"{Path(path).name} is nested too deeply to be a Boltz YAML.") from None
    if _expanded_size(data, MAX_YAML_VALUES) > MAX_YAML_VALUES:
        raise InputError(f"{Path(path).name} holds more than {MAX_YAML_VALUES:,} values once its aliases are "
                         "expanded (an alias bomb?); a Boltz input is far smaller.")
    if not isinstance(data, dict) or not isinstance(data.get("sequences"), list) or not data["sequences"]:
        raise InputError(f"{Path(path).name}: a Boltz YAML needs a non-empty `sequences:` list.")
    out: list[Entity] = []
    for n, item in enumerate(data["sequences"], 1):
        if not isinstance(item, dict) or len(item) != 1:
            raise InputError(f"{Path(path).name}: sequences entry {n} must be one of protein, dna, rna, ligand.")
        kind, body = next(iter(item.items()))
        if kind not in ("protein", "dna", "rna", "ligand") or not isinstance(body, dict):
            raise InputError(f"{Path(path).name}: sequences entry {n} ({kind!r}) must be protein, dna, rna or ligand.")
        chains = body.get("id")
        chains = chains if isinstance(chains, list) else [chains]
        if not all(isinstance(c, str) and c for c in chains):
            raise InputError(f"{Path(path).name}: sequences entry {n} needs an id (a chain name, or a list).")
        where = f"{Path(path).name} entry {n}"
        for chain in chains:
            if kind == "ligand":
                if ("smiles" in body) == ("ccd" in body):
                    raise InputError(f"{where}: a ligand needs exactly one of smiles or ccd.")
                out.append(Entity("ligand", chain, smiles=check_smiles(body["smiles"], where) if "smiles" in body
                                  else "", ccd=check_ccd(body["ccd"], where) if "ccd" in body else ""))
            else:
                msa = body.get("msa") or ""
                msa = "" if msa in ("", "empty") else _confined(Path(path).parent, msa, where, "MSA")
                out.append(Entity(kind, chain, sequence=check_polymer(kind, body.get("sequence", ""), where), msa=msa))
    extra = {k: v for k, v in data.items() if k not in ("sequences", "version")}
    unknown = sorted(set(extra) - {"constraints", "templates", "properties"})
    if unknown:
        raise InputError(f"{Path(path).name}: unknown section {unknown[0]!r}; a Boltz YAML has sequences, "
                         "constraints, templates and properties.")
    check_sections(out, extra, Path(path).parent, Path(path).name)
    return out, extra


def _residue(ref: Any, chains: dict[str, Entity], where: str, atom: bool = False) -> None:
    """`[CHAIN, RESIDUE]` (or `[CHAIN, RESIDUE, ATOM]`) naming a residue that exists."""
    if not isinstance(ref, list) or len(ref) not in (2, 3) or (atom and len(ref) != 3):
        raise InputError(f"{where}: {ref!r} must be [CHAIN, RESIDUE{', ATOM' if atom else ''}].")
    chain, index = ref[0], ref[1]
    if chain not in chains:
        raise InputError(f"{where}: chain {chain!r} is not in the complex (chains: {', '.join(chains)}).")
    entity = chains[chain]
    if entity.kind != "ligand":
        if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= len(entity.sequence):
            raise InputError(f"{where}: residue {index!r} of chain {chain} must be 1-{len(entity.sequence)}.")
    elif not atom:  # a ligand in a pocket or contact is named by one of its atoms, as Boltz names them
        if not isinstance(index, str) or not index:
            raise InputError(f"{where}: the ligand chain {chain} is named by an atom (such as {chain}:C1), "
                             f"not {index!r}.")
        if entity.smiles and index not in ligand_atom_names(entity.smiles):
            raise InputError(f"{where}: the ligand chain {chain} has no atom {index!r} (Boltz names them by "
                             "element and count: C1, C2, N1, O1, ...).")
    if len(ref) == 3 and (not isinstance(ref[2], str) or not ref[2]):
        raise InputError(f"{where}: the atom name in {ref!r} must be text.")


def _distance(value: Any, where: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not 0 < value <= 1000):
        raise InputError(f"{where}: max_distance must be a positive number of Å, not {value!r}.")


def check_sections(entities: list[Entity], extra: dict[str, Any], base: Path, name: str) -> None:
    """Constraints, templates and properties as Boltz reads them, checked against the complex: every chain
    and residue named exists, distances are numbers, template files lie beside the input. Boltz itself
    fails such inputs inside the job with `KeyError: 'Z'`."""
    chains = {e.chain: e for e in entities}
    constraints = extra.get("constraints") or []
    if not isinstance(constraints, list):
        raise InputError(f"{name}: constraints must be a list.")
    for n, item in enumerate(constraints, 1):
        where = f"{name} constraint {n}"
        if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in ("bond", "pocket", "contact"):
            raise InputError(f"{where}: must be one of bond, pocket or contact.")
        kind, body = next(iter(item.items()))
        if not isinstance(body, dict):
            raise InputError(f"{where}: the {kind} constraint needs its fields.")
        if kind == "bond":
            _residue(body.get("atom1"), chains, where, atom=True)
            _residue(body.get("atom2"), chains, where, atom=True)
        elif kind == "pocket":
            if body.get("binder") not in chains:
                raise InputError(f"{where}: binder {body.get('binder')!r} is not a chain of the complex.")
            contacts = body.get("contacts")
            if not isinstance(contacts, list) or not contacts:
                raise InputError(f"{where}: a pocket needs contacts: [[CHAIN, RESIDUE], ...].")
            for ref in contacts:
                _residue(ref, chains, where)
            _distance(body.get("max_distance"), where)
        else:
            _residue(body.get("token1"), chains, where)
            _residue(body.get("token2"), chains, where)
            _distance(body.get("max_distance"), where)
    templates = extra.get("templates") or []
    if not isinstance(templates, list):
        raise InputError(f"{name}: templates must be a list.")
    for n, item in enumerate(templates, 1):
        where = f"{name} template {n}"
        if not isinstance(item, dict) or not ("cif" in item or "pdb" in item):
            raise InputError(f"{where}: a template names a cif or pdb file.")
        key = "cif" if "cif" in item else "pdb"
        item[key] = _confined(base, item[key], where, "template")
        ids = item.get("chain_id")
        for chain in ids if isinstance(ids, list) else [ids] if ids is not None else []:
            if chain not in chains:
                raise InputError(f"{where}: chain {chain!r} is not in the complex.")
    properties = extra.get("properties") or []
    if not isinstance(properties, list):
        raise InputError(f"{name}: properties must be a list.")
    for n, item in enumerate(properties, 1):
        where = f"{name} property {n}"
        if not isinstance(item, dict) or set(item) != {"affinity"} or not isinstance(item["affinity"], dict):
            raise InputError(f"{where}: the one property Boltz-2 predicts is affinity: {{binder: CHAIN}}.")
        binder = item["affinity"].get("binder")
        if binder not in chains or chains[binder].kind != "ligand":
            raise InputError(f"{where}: the affinity binder {binder!r} must be a ligand chain of the complex.")


def from_fasta(path: str) -> list[Entity]:
    """`>CHAIN|TYPE[|MSA]` records, as `boltz predict` reads FASTA."""
    text = _read_text(path, "FASTA")
    out: list[Entity] = []
    header: str | None = None
    lines: list[str] = []
    records = []
    for line in text.splitlines() + [">"]:
        if line.startswith(">"):
            if header is not None:
                records.append((header, "".join(lines)))
            header, lines = line[1:].strip(), []
        elif line.strip():
            lines.append(line.strip())
    records = [r for r in records if r[0] or r[1]]
    if not records:
        raise InputError(f"{Path(path).name}: no FASTA records.")
    for n, (head, body) in enumerate(records, 1):
        parts = head.split("|")
        where = f"{Path(path).name} record {n}"
        if len(parts) < 2 or parts[1].strip().lower() not in FASTA_TYPES:
            raise InputError(f"{where}: the header must read >CHAIN|TYPE with TYPE protein, dna, rna, smiles or ccd "
                             f"(got >{head}).")
        chain, kind = parts[0].strip(), FASTA_TYPES[parts[1].strip().lower()]
        msa = parts[2].strip() if len(parts) > 2 and parts[2].strip() not in ("", "empty") else ""
        msa = _confined(Path(path).parent, msa, where, "MSA") if msa else ""
        if kind == "smiles":
            out.append(Entity("ligand", chain, smiles=check_smiles(body, where)))
        elif kind == "ccd":
            out.append(Entity("ligand", chain, ccd=check_ccd(body, where)))
        else:
            out.append(Entity(kind, chain, sequence=check_polymer(kind, body, where), msa=msa))
    return out


def check_complex(entities: list[Entity]) -> list[Entity]:
    if not entities:
        raise InputError("The complex is empty: give at least one protein, DNA, RNA or ligand.")
    chains = [e.chain for e in entities]
    dup = sorted({c for c in chains if chains.count(c) > 1})
    if dup:
        raise InputError(f"Chain id {dup[0]!r} is used twice; each chain needs its own id.")
    if tokens(entities) > MAX_TOKENS:
        raise InputError(f"The complex has {tokens(entities)} tokens (residues + ligand atoms); "
                         f"the limit is {MAX_TOKENS}.")
    return entities


def tokens(entities: list[Entity]) -> int:
    """Boltz's tokens: one per standard residue, one per ligand heavy atom (CCD ligands estimated at 30)."""
    n = 0
    for e in entities:
        if e.kind != "ligand":
            n += len(e.sequence)
        else:
            n += heavy_atoms(e.smiles) if e.smiles else 30
    return n


def atoms(entities: list[Entity]) -> int:
    """Heavy atoms, for memory: about 8 per amino acid, 21 per nucleotide."""
    per = {"protein": 8, "dna": 21, "rna": 22}
    return sum(len(e.sequence) * per[e.kind] if e.kind != "ligand" else
               (heavy_atoms(e.smiles) if e.smiles else 30) for e in entities)


def boltz_yaml(entities: list[Entity], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Boltz YAML schema (version 1); proteins without an MSA run single-sequence (`msa: empty`)."""
    sequences = []
    for e in entities:
        if e.kind == "ligand":
            body: dict[str, Any] = {"id": e.chain}
            body.update({"smiles": e.smiles} if e.smiles else {"ccd": e.ccd})
            sequences.append({"ligand": body})
        else:
            body = {"id": e.chain, "sequence": e.sequence}
            if e.kind == "protein":
                body["msa"] = e.msa or "empty"
            sequences.append({e.kind: body})
    return {"version": 1, "sequences": sequences, **(extra or {})}
