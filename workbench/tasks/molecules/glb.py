"""Structures as glTF binaries, for 3D viewers that do not read chemistry formats (Gradio's
Model3D, Blender, a browser): a conformer as balls and sticks in the usual element colours, a
protein as a Cα trace coloured by pLDDT in AlphaFold's four bands (or one colour per chain).
Coordinates stay in ångström.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: CPK-style element colours (RGB 0-255); anything else is pink, as in most viewers
ELEMENTS = {"H": (235, 235, 235), "C": (120, 120, 120), "N": (48, 80, 248), "O": (230, 40, 40),
            "S": (230, 200, 40), "P": (255, 128, 0), "F": (144, 224, 80), "Cl": (31, 240, 31),
            "Br": (166, 41, 41), "I": (148, 0, 148)}
#: AlphaFold's pLDDT bands: very high, confident, low, very low
PLDDT_BANDS = ((90, (0, 83, 214)), (70, (101, 203, 243)), (50, (255, 219, 19)), (0, (255, 125, 69)))
CHAIN_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75))


def _export(parts: list, path: Path) -> Path:
    import trimesh

    scene = trimesh.Scene()
    for k, (mesh, colour) in enumerate(parts):
        mesh.visual.face_colors = [*colour, 255]
        scene.add_geometry(mesh, node_name=f"part{k}")
    path.write_bytes(scene.export(file_type="glb"))
    return path


def molecule_glb(sdf: Path, path: Path, index: int = 0, hydrogens: bool = True) -> Path:
    """Record `index` of an SDF as balls and sticks."""
    import trimesh
    from rdkit import Chem

    mol = Chem.SDMolSupplier(str(sdf), removeHs=False)[index]
    if mol is None:
        raise ValueError(f"record {index} of {sdf.name} is not a molecule")
    xyz = mol.GetConformer().GetPositions()
    keep = [a.GetIdx() for a in mol.GetAtoms() if hydrogens or a.GetSymbol() != "H"]
    parts = []
    for i in keep:
        symbol = mol.GetAtomWithIdx(i).GetSymbol()
        ball = trimesh.creation.icosphere(subdivisions=2, radius=0.22 if symbol == "H" else 0.32)
        ball.apply_translation(xyz[i])
        parts.append((ball, ELEMENTS.get(symbol, (255, 20, 147))))
    for bond in mol.GetBonds():
        a, b = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        if a in keep and b in keep:
            stick = trimesh.creation.cylinder(radius=0.1, segment=np.stack([xyz[a], xyz[b]]), sections=8)
            parts.append((stick, (180, 180, 180)))
    return _export(parts, path)


def _plddt_colour(value: float) -> tuple[int, int, int]:
    return next(colour for floor, colour in PLDDT_BANDS if value >= floor)


def protein_glb(pdb: Path, path: Path, colour_by: str = "plddt") -> Path:
    """The Cα trace of a PDB file (pLDDT read from the B-factor column), per chain."""
    import trimesh

    chains: dict[str, list[tuple[np.ndarray, float]]] = {}
    for line in pdb.read_text().splitlines():
        if line.startswith("ATOM") and line[12:16].strip() == "CA":
            xyz = np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])])
            chains.setdefault(line[21], []).append((xyz, float(line[60:66] or 0)))
    if not chains:
        raise ValueError(f"{pdb.name} holds no Cα atoms")
    parts = []
    for k, residues in enumerate(chains.values()):
        chain_colour = CHAIN_COLOURS[k % len(CHAIN_COLOURS)]
        for i, (xyz, plddt) in enumerate(residues):
            colour = chain_colour if colour_by == "chain" else _plddt_colour(plddt)
            ball = trimesh.creation.icosphere(subdivisions=1, radius=0.5)
            ball.apply_translation(xyz)
            parts.append((ball, colour))
            if i:
                previous = residues[i - 1][0]
                stick = trimesh.creation.cylinder(radius=0.35, segment=np.stack([previous, xyz]), sections=8)
                parts.append((stick, colour))
    return _export(parts, path)


#: atoms that trace a polymer chain: Cα for amino acids, C4' for nucleotides
TRACE_ATOMS = ("CA", "C4'")


def complex_glb(cif: Path, path: Path, colour_by: str = "plddt") -> Path:
    """A co-folded complex: each polymer chain as a trace coloured by pLDDT in AlphaFold's bands (Boltz
    writes it in the B-factor column, 0-1 or 0-100) or in its chain colour, each ligand as balls and
    sticks in element colours (bonds between heavy atoms closer than 1.9 Å)."""
    import gemmi
    import trimesh

    st = gemmi.read_structure(str(cif))
    st.setup_entities()
    parts = []
    b_values = [atom.b_iso for chain in st[0] for res in chain for atom in res]
    scale = 100.0 if b_values and max(b_values) <= 1.0 else 1.0
    for k, chain in enumerate(st[0]):
        chain_colour = CHAIN_COLOURS[k % len(CHAIN_COLOURS)]
        trace = [(np.array(atom.pos.tolist()), atom.b_iso * scale) for res in chain for atom in res
                 if atom.name in TRACE_ATOMS and res.het_flag != "H"]
        for i, (xyz, plddt) in enumerate(trace):
            colour = chain_colour if colour_by == "chain" else _plddt_colour(plddt)
            ball = trimesh.creation.icosphere(subdivisions=1, radius=0.5)
            ball.apply_translation(xyz)
            parts.append((ball, colour))
            if i and np.linalg.norm(xyz - trace[i - 1][0]) < 8.0:  # no stick across a chain break
                parts.append((trimesh.creation.cylinder(radius=0.35, segment=np.stack([trace[i - 1][0], xyz]),
                                                        sections=8), colour))
        for res in chain:
            if res.het_flag != "H":
                continue
            atoms = [(atom.element.name, np.array(atom.pos.tolist())) for atom in res]
            for symbol, xyz in atoms:
                ball = trimesh.creation.icosphere(subdivisions=2, radius=0.32)
                ball.apply_translation(xyz)
                parts.append((ball, ELEMENTS.get(symbol.capitalize(), (255, 20, 147))))
            for i, (_, a) in enumerate(atoms):
                for _, b in atoms[i + 1:]:
                    if np.linalg.norm(a - b) < 1.9:
                        parts.append((trimesh.creation.cylinder(radius=0.1, segment=np.stack([a, b]), sections=8),
                                      (180, 180, 180)))
    if not parts:
        raise ValueError(f"{cif.name} holds no atoms to draw")
    return _export(parts, path)
