"""Pocket and contact restraints: typed from a line of text, checked against the complex, measured in the output.

Boltz-2 steers its prediction with `constraints:` entries of its YAML. Workbench lets a user type them
(`--pocket`, `--contact`, a Gradio box, the widget) instead of writing YAML, checks every chain and
residue against the complex before a job exists (`inputs.check_sections`), and measures each
restraint in every predicted structure, so a user sees whether the model honoured it:

    pocket   "B: A:12, A:15, A:30 @ 6"  ligand chain B within 6 Å of residues 12, 15 and 30 of chain A
    contact  "A:12, B:C1 @ 8"           residue 12 of chain A within 8 Å of atom C1 of (ligand) chain B

Chains from fields are lettered in order: proteins, DNA, RNA, SMILES ligands, CCD ligands. Residues
count from 1. `@ D` is the largest distance in Å (default 6 for a pocket, 8 for a contact).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from workbench.contract import InputError

POCKET_DEFAULT_A, CONTACT_DEFAULT_A = 6.0, 8.0
_REF = re.compile(r"^\s*([A-Za-z0-9]{1,4})\s*:\s*([A-Za-z0-9']{1,8})\s*$")


def _split_limit(text: str, default: float, what: str) -> tuple[str, float]:
    body, sep, limit = text.partition("@")
    if not sep:
        return body, default
    try:
        value = float(limit)
    except ValueError:
        raise InputError(f"{what} {text[:80]!r}: the distance after @ must be a number of Å.") from None
    if not 0 < value <= 20:  # Boltz's pocket and contact potentials work up to 20 Å
        raise InputError(f"{what} {text[:80]!r}: the distance must be above 0 and at most 20 Å.")
    return body, value


def _ref(text: str, what: str, whole: str) -> list[Any]:
    m = _REF.match(text)
    if not m:
        raise InputError(f"{what} {whole[:80]!r}: {text.strip()[:20]!r} must be CHAIN:RESIDUE (A:12), "
                         "or CHAIN:ATOM for a ligand (B:C1).")
    chain, where = m.groups()
    return [chain, int(where)] if where.isdigit() else [chain, where]


def pocket(text: str) -> dict[str, Any]:
    """`"B: A:12, A:15 @ 6"` as Boltz's `pocket` constraint."""
    body, limit = _split_limit(text, POCKET_DEFAULT_A, "pocket")
    binder, sep, contacts = body.partition(":")
    if not sep or not binder.strip() or not contacts.strip():
        raise InputError(f"pocket {text[:80]!r}: write BINDER: CHAIN:RESIDUE, ... [@ Å], e.g. 'B: A:12, A:15 @ 6'.")
    refs = [_ref(c, "pocket", text) for c in re.split(r"[,\s]+(?=[A-Za-z0-9]+\s*:)", contacts.strip()) if c.strip()]
    return {"pocket": {"binder": binder.strip(), "contacts": refs, "max_distance": limit}}


def contact(text: str) -> dict[str, Any]:
    """`"A:12, B:C1 @ 8"` as Boltz's `contact` constraint."""
    body, limit = _split_limit(text, CONTACT_DEFAULT_A, "contact")
    parts = [p for p in body.split(",") if p.strip()]
    if len(parts) != 2:
        raise InputError(f"contact {text[:80]!r}: write CHAIN:RESIDUE, CHAIN:RESIDUE [@ Å], e.g. 'A:12, B:1 @ 8'.")
    return {"contact": {"token1": _ref(parts[0], "contact", text), "token2": _ref(parts[1], "contact", text),
                        "max_distance": limit}}


def constraints(pockets: tuple[str, ...], contacts: tuple[str, ...]) -> list[dict[str, Any]]:
    return [pocket(p) for p in pockets] + [contact(c) for c in contacts]


def describe(item: dict[str, Any]) -> str:
    kind, body = next(iter(item.items()))
    ref = lambda r: f"{r[0]}:{r[1]}"  # noqa: E731
    if kind == "pocket":
        return f"pocket: {body['binder']} near {', '.join(ref(r) for r in body['contacts'])}"
    if kind == "contact":
        return f"contact: {ref(body['token1'])} - {ref(body['token2'])}"
    return f"bond: {ref(body['atom1'])} - {ref(body['atom2'])}"


def _atoms(structure: Any, ref: list[Any] | str) -> Any:
    """Positions of a chain (a str), a residue ([chain, index]) or a ligand atom ([chain, name])."""
    import numpy as np

    chain_name = ref if isinstance(ref, str) else ref[0]
    out = []
    for chain in structure[0]:
        if chain.name != chain_name:
            continue
        for i, residue in enumerate(chain, 1):
            if isinstance(ref, list) and isinstance(ref[1], int):
                if residue.label_seq not in (None, ref[1]) or (residue.label_seq is None and i != ref[1]):
                    continue
            for atom in residue:
                if isinstance(ref, list) and isinstance(ref[1], str) and atom.name != ref[1]:
                    continue
                out.append(atom.pos.tolist())
    return np.array(out, dtype=float).reshape(-1, 3)


def _closest(a: Any, b: Any) -> float:
    import numpy as np

    if not len(a) or not len(b):
        return float("nan")
    return float(np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)).min())


def measure(cif: Path, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each pocket and contact restraint in a predicted structure: the distance that decides it (a pocket:
    its farthest contact residue from the binder, each residue's closest atom), the limit, and whether
    it holds. Bonds are Boltz's own and not measured."""
    import gemmi

    structure = gemmi.read_structure(str(cif))
    out = []
    for item in items:
        kind, body = next(iter(item.items()))
        if kind == "pocket":
            binder = _atoms(structure, body["binder"])
            distances = [_closest(binder, _atoms(structure, r)) for r in body["contacts"]]
            distance = max(distances)
        elif kind == "contact":
            distance = _closest(_atoms(structure, body["token1"]), _atoms(structure, body["token2"]))
        else:
            continue
        limit = float(body.get("max_distance") or (POCKET_DEFAULT_A if kind == "pocket" else CONTACT_DEFAULT_A))
        out.append({"restraint": describe(item), "distance": round(distance, 2), "limit": limit,
                    "satisfied": bool(distance <= limit)})
    return out
