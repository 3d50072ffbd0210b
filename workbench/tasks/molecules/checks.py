"""Sanity checks for generated 3D structures: bond lengths, clashes, stereo kept.

These are the checks PoseBusters calls "intramolecular validity", done here with RDKit
alone so they are cheap enough to run on every conformer before it is returned. Each
returns the reason a conformer is not sane, or "" when it is.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem

_PT = Chem.GetPeriodicTable()

#: a bond is sane within these factors of the sum of covalent radii
BOND_RANGE = (0.75, 1.25)
#: two heavy atoms three or more bonds apart clash below this factor of their vdW sum
CLASH_FACTOR = 0.65


def stereo_signature(mol: Chem.Mol) -> dict[str, str]:
    """Specified stereo of `mol`: chiral tags per atom (this covers ring cis/trans, which
    has no CIP label) and E/Z per double bond, keyed by atom/bond index.

    Tags are comparable between the input and its conformers because both share one atom
    order (hydrogens are appended after the heavy atoms).
    """
    sig = {}
    for atom in mol.GetAtoms():
        tag = atom.GetChiralTag()
        if tag in (Chem.ChiralType.CHI_TETRAHEDRAL_CW, Chem.ChiralType.CHI_TETRAHEDRAL_CCW):
            sig[f"a{atom.GetIdx()}"] = str(tag)
    for bond in mol.GetBonds():
        st = bond.GetStereo()
        if st in (Chem.BondStereo.STEREOE, Chem.BondStereo.STEREOZ):
            sig[f"b{bond.GetIdx()}"] = "E" if st == Chem.BondStereo.STEREOE else "Z"
    return sig


def input_stereo(mol: Chem.Mol) -> dict[str, str]:
    """The stereo the input specifies (unspecified centres are free to vary)."""
    m = Chem.AddHs(mol, addCoords=mol.GetNumConformers() > 0)
    Chem.AssignStereochemistry(m, cleanIt=True, force=True)
    return stereo_signature(m)


def conformer_stereo(mol: Chem.Mol, conf_id: int) -> dict[str, str]:
    m = Chem.Mol(mol, confId=conf_id)
    Chem.AssignStereochemistryFrom3D(m, confId=-1, replaceExistingTags=True)
    return stereo_signature(m)


def stereo_mismatch(expected: dict[str, str], mol: Chem.Mol, conf_id: int) -> str:
    if not expected:
        return ""
    got = conformer_stereo(mol, conf_id)
    wrong = [k for k, v in expected.items() if got.get(k) != v]
    if wrong:
        return f"stereo changed at {', '.join(wrong)}"
    return ""


class GeometryChecker:
    """Precomputes bond and non-bonded pair limits once per molecule."""

    def __init__(self, mol: Chem.Mol):
        self.bonds = np.array([[b.GetBeginAtomIdx(), b.GetEndAtomIdx()] for b in mol.GetBonds()],
                              dtype=int).reshape(-1, 2)
        rcov = np.array([_PT.GetRcovalent(a.GetAtomicNum()) for a in mol.GetAtoms()])
        ideal = rcov[self.bonds[:, 0]] + rcov[self.bonds[:, 1]] if len(self.bonds) else np.zeros(0)
        self.bond_lo, self.bond_hi = ideal * BOND_RANGE[0], ideal * BOND_RANGE[1]
        heavy = np.array([a.GetAtomicNum() > 1 for a in mol.GetAtoms()])
        topo = Chem.GetDistanceMatrix(mol)
        i, j = np.triu_indices(mol.GetNumAtoms(), k=1)
        keep = heavy[i] & heavy[j] & (topo[i, j] >= 3)
        self.pi, self.pj = i[keep], j[keep]
        rvdw = np.array([_PT.GetRvdw(a.GetAtomicNum()) for a in mol.GetAtoms()])
        self.clash_min = CLASH_FACTOR * (rvdw[self.pi] + rvdw[self.pj])

    def problem(self, xyz: np.ndarray) -> str:
        if not np.isfinite(xyz).all():
            return "non-finite coordinates"
        if len(self.bonds):
            d = np.linalg.norm(xyz[self.bonds[:, 0]] - xyz[self.bonds[:, 1]], axis=1)
            bad = np.flatnonzero((d < self.bond_lo) | (d > self.bond_hi))
            if len(bad):
                a, b = self.bonds[bad[0]]
                return f"bond {a}-{b} is {d[bad[0]]:.2f} Å long"
        if len(self.pi):
            d = np.linalg.norm(xyz[self.pi] - xyz[self.pj], axis=1)
            bad = np.flatnonzero(d < self.clash_min)
            if len(bad):
                return f"atoms {self.pi[bad[0]]} and {self.pj[bad[0]]} clash ({d[bad[0]]:.2f} Å)"
        return ""
