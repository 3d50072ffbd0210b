"""Structures in standard formats with Biopython: chain splitting, PDB / mmCIF, RMSD.

ESMFold folds a complex as one chain with a poly-G linker and a residue-index gap; here
that single chain is cut back into the real chains (linker dropped, each chain numbered
from 1), with per-residue pLDDT in the B-factor column; `modelcif.py` writes the files.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from Bio.PDB import PDBIO, PDBParser, Superimposer
from Bio.PDB.Chain import Chain
from Bio.PDB.Model import Model
from Bio.PDB.Structure import Structure

CHAIN_IDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def split_chains(pdb_text: str, name: str, chain_lengths: list[int], linker: int,
                 plddt: np.ndarray) -> Structure:
    """The folded single chain as a structure with one chain per input chain.

    `plddt` is per residue of the joined sequence (0-100); it becomes every atom's B-factor.
    """
    joined = PDBParser(QUIET=True).get_structure(name, io.StringIO(pdb_text))
    residues = list(joined[0].get_residues())
    out = Structure(name)
    model = Model(0)
    out.add(model)
    start = 0
    for c, length in enumerate(chain_lengths):
        chain = Chain(CHAIN_IDS[c % len(CHAIN_IDS)])
        for k, res in enumerate(residues[start:start + length]):
            res = res.copy()
            res.detach_parent()
            res.id = (" ", k + 1, " ")
            for atom in res:
                atom.set_bfactor(float(plddt[start + k]))
            chain.add(res)
        model.add(chain)
        start += length + linker
    return out


def pdb_string(structure: Structure) -> str:
    pdb = PDBIO()
    pdb.set_structure(structure)
    buffer = io.StringIO()
    pdb.save(buffer)
    return buffer.getvalue()


def ca_coords(path: str | Path) -> np.ndarray:
    parser: Any = PDBParser(QUIET=True)
    if str(path).endswith(".cif"):
        from Bio.PDB import MMCIFParser

        parser = MMCIFParser(QUIET=True)
    s = parser.get_structure("s", str(path))
    return np.array([r["CA"].coord for r in s[0].get_residues() if "CA" in r])


def ca_rmsd(a: str | Path, b: str | Path) -> float:
    """CA RMSD after optimal superposition (Biopython's Superimposer), same residue order."""
    parser = PDBParser(QUIET=True)
    ca_a = [r["CA"] for r in parser.get_structure("a", str(a))[0].get_residues() if "CA" in r]
    ca_b = [r["CA"] for r in parser.get_structure("b", str(b))[0].get_residues() if "CA" in r]
    if len(ca_a) != len(ca_b) or not ca_a:
        raise ValueError(f"the structures have {len(ca_a)} and {len(ca_b)} CA atoms; they must match")
    sup = Superimposer()
    sup.set_atoms(ca_a, ca_b)
    return float(sup.rms)
