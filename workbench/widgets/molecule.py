"""`MoleculeWidget`: SMILES, a protein sequence or a complex in, a 3D view out.

Conformers show in 3Dmol.js with a slider over the ensemble and an energy table; proteins
are coloured by pLDDT with the PAE heat map beside; a co-folded complex (mode "complex",
Boltz-2) shows its best sample, polymers as cartoons by chain and ligands as sticks, with the
samples ranked and the PAE with chain boundaries. Download buttons give the SDF, PDB, mmCIF,
confidence JSON and summary. 3Dmol.js is bundled (no CDN) and loads once per page
(`static/shared.js`).
"""

from __future__ import annotations

import base64
from typing import Any

import traitlets as t

from workbench.widgets.base import STATIC, JobWidget, widget_module


class MoleculeWidget(JobWidget):
    bounded_inputs = {"num_conformers": ("conformers", "num_conformers")}
    _esm = widget_module("molecule.js")
    _css = STATIC / "molecule.css"
    title = "Molecules"

    mode = t.Unicode("conformers").tag(sync=True)  #: "conformers" | "fold" | "complex" | "screen"
    #: SMILES (one per line), a sequence (chains joined by ':'), or a complex: one chain per line, typed as
    #: "protein: SEQ", "dna: SEQ", "rna: SEQ", "ligand: SMILES" or "ccd: CODE" (an untyped line is a protein),
    #: with "pocket: B: A:12, A:15 @ 6", "contact: A:12, B:C1 @ 8" and "affinity: B" lines; a screen: the
    #: target's protein lines and one "ligand: SMILES name" line per ligand (and pocket / contact lines)
    text = t.Unicode("").tag(sync=True)
    num_conformers = t.Int().tag(sync=True)  #: default: the conformers request's own
    tiny = t.Bool(False).tag(sync=True)  #: fold / co-fold with the tiny random model (teaching, tests)

    structure = t.Unicode("").tag(sync=True)  #: SDF (all conformers) or PDB text
    structure_format = t.Unicode("").tag(sync=True)  #: "sdf" | "pdb" | "cif"
    conformers = t.List(t.Dict()).tag(sync=True)  #: name, rank, relative energy, weight
    summary = t.List(t.Dict()).tag(sync=True)  #: one row per molecule / protein
    pae_png = t.Unicode("").tag(sync=True)  #: data URI
    plddt_png = t.Unicode("").tag(sync=True)  #: data URI: pLDDT per residue, shown beside the PAE (as ColabFold)
    downloads = t.Dict().tag(sync=True)  #: file name -> text content
    #: residues the restraints name ({chain, resi, restraint}), highlighted in the 3D view
    highlights = t.List(t.Dict()).tag(sync=True)

    @t.default("num_conformers")
    def _request_default(self) -> int:
        from workbench.tasks.requests import default_of

        return int(default_of("conformers", "num_conformers"))

    def __init__(self, text: str = "", mode: str = "conformers", device: str = "auto", **kwargs: Any):
        super().__init__(text=text, mode=mode, device=device, **kwargs)

    def _submit(self) -> Any:
        from workbench import api

        if self.mode == "fold":
            return api.submit("fold", sequences=tuple(s for s in self.text.split("\n") if s.strip()),
                              tiny=self.tiny, device=self.device)
        if self.mode == "complex":
            from workbench.tasks.molecules.complexes.predict import TINY_RUN

            return api.submit("complex", **complex_fields(self.text), tiny=self.tiny, device=self.device,
                              **(TINY_RUN if self.tiny else {}))
        if self.mode == "screen":
            from workbench.tasks.molecules.complexes.predict import TINY_RUN

            return api.submit("screen", **screen_fields(self.text), tiny=self.tiny, device=self.device,
                              **(TINY_RUN if self.tiny else {}))
        lines = tuple(s.strip() for s in self.text.splitlines() if s.strip())
        return api.submit("conformers", smiles=lines, num_conformers=self.num_conformers, device=self.device)

    # ---- results -> traitlets ---------------------------------------------------------------
    def _show(self, result: Any) -> None:
        if hasattr(result, "molecules"):
            self._show_conformers(result)
        elif hasattr(result, "rows"):
            self._show_screen(result)
        elif hasattr(result, "samples"):
            self._show_complex(result)
        else:
            self._show_fold(result)

    def _show_conformers(self, result: Any) -> None:
        rows, summary = [], []
        for m in result.molecules:
            summary.append({"name": m.name, "ok": m.ok, "conformers": m.num_conformers,
                            "force_field": m.force_field, "error": m.error})
            for rank, (e, w) in enumerate(zip(m.relative_energies, m.boltzmann_weights)):
                rows.append({"name": m.name, "rank": rank + 1, "energy": round(e, 3), "weight": round(w, 4)})
        sdf = result.files["sdf"].read_text()
        self.summary, self.conformers, self.pae_png, self.plddt_png = summary, rows, "", ""
        self.downloads = {"conformers.sdf": sdf}
        self.structure_format, self.structure = "sdf", sdf

    def _show_fold(self, result: Any) -> None:
        first = result.proteins[0]
        key = first.files[0].rsplit(".", 1)[0]
        pdb = result.files[f"{key}.pdb"].read_text()
        self.summary = [{"name": p.name, "chains": ",".join(p.chains), "length": sum(p.lengths),
                         "mean_plddt": round(p.mean_plddt, 1), "ptm": round(p.ptm, 3)} for p in result.proteins]
        self.conformers = []
        self.pae_png = _png_uri(result.files.get(f"{key}.pae"))
        self.plddt_png = _png_uri(result.files.get(f"{key}.plddt"))
        self.downloads = {f"{key}.pdb": pdb, f"{key}.cif": result.files[f"{key}.cif"].read_text()}
        self.structure_format, self.structure = "pdb", pdb

    def _show_complex(self, result: Any) -> None:
        stem = result.best_stem
        cif = result.files[f"{stem}.cif"].read_text()
        self.summary = [{"rank": s.rank, "seed": s.seed, "sample": s.sample,
                         "confidence": round(s.confidence_score, 3), "iptm": round(s.iptm, 3),
                         "plddt": round(100 * s.complex_plddt, 1),
                         "posebusters": "" if s.posebusters_passed is None else s.posebusters_passed,
                         "restraints": s.restraints_satisfied}
                        for s in result.samples]
        if result.affinity:  # of the complex, on its best pose
            self.summary[0].update(affinity=round(result.affinity["affinity_pred_value"], 3),
                                   binder=round(result.affinity["affinity_probability_binary"], 3))
        self.highlights = _highlights(result.samples[0].restraints)
        self.conformers, self.plddt_png = [], ""
        self.pae_png = _png_uri(result.files.get(f"{stem}.pae"))
        self.downloads = {f"{stem}.cif": cif, f"{stem}_confidence.json": result.files[f"{stem}.confidence"].read_text(),
                          f"{result.name}_summary.csv": result.files["summary"].read_text()}
        if result.affinity:
            self.downloads[f"{result.name}_affinity.json"] = result.files["affinity"].read_text()
        self.structure_format, self.structure = "cif", cif

    def _show_screen(self, result: Any) -> None:
        """The ranked ligands, and the best one's pose in 3D (its restraints' residues highlighted)."""
        self.summary = [{"rank": r.rank, "name": r.name, "line": r.line, "ligand_iptm": round(r.ligand_iptm, 3),
                         "confidence": round(r.confidence_score, 3), "restraints": r.restraints_satisfied,
                         "binder": "" if r.affinity_probability is None else round(r.affinity_probability, 3)}
                        for r in result.rows]
        best = result.rows[0]
        cif = result.files[best.cif].read_text()
        self.conformers, self.plddt_png, self.pae_png = [], "", ""
        self.highlights = []
        self.downloads = {"screen.csv": result.files["table"].read_text(), best.cif: cif}
        self.structure_format, self.structure = "cif", cif


    # ---- the snapshot a saved notebook keeps -------------------------------------------------
    def _snapshot_body(self) -> str:
        from workbench.widgets.snapshot import image, table

        if self.structure_format == "sdf":
            rows = [{k: r.get(k, "") for k in ("name", "ok", "conformers", "force_field", "error")}
                    for r in self.summary]
            return _depictions(self.structure) + table(rows, ["name", "ok", "conformers", "force_field", "error"])
        plots = image(self.plddt_png, "pLDDT per residue", 300) + image(self.pae_png, "predicted aligned error", 260)
        columns = list(self.summary[0]) if self.summary else []
        return f"<div>{plots}</div>" + table(self.summary, columns)


def _first_of_each(sdf: str, limit: int = 8) -> tuple[list[Any], list[str]]:
    """The first conformer of each molecule in an SDF (at most `limit`), flattened to 2D, and their names. A
    conformer's molecule is its `input_name` (the conformers task names records `NAME_confK`; grouping by
    that drew one molecule's conformers seven times and left the others out)."""
    from rdkit import Chem
    from rdkit.Chem import rdDepictor

    mols: list[Any] = []
    names: list[str] = []
    supplier = Chem.SDMolSupplier()
    supplier.SetData(sdf)
    for mol in supplier:
        if mol is None:
            continue
        name = mol.GetProp("input_name") if mol.HasProp("input_name") else (
            mol.GetProp("_Name") if mol.HasProp("_Name") else "")
        if name in names:
            continue
        flat = Chem.RemoveHs(mol)
        rdDepictor.Compute2DCoords(flat)
        mols.append(flat)
        names.append(name)
        if len(mols) == limit:
            break
    return mols, names


def _depictions(sdf: str) -> str:
    """The molecules of an SDF (`_first_of_each`) as an RDKit 2D grid, a PNG <img>."""
    import base64

    from rdkit.Chem import Draw

    from workbench.widgets.snapshot import image

    mols, names = _first_of_each(sdf)
    if not mols:
        return ""
    picture = Draw.MolsToGridImage(mols, molsPerRow=min(4, len(mols)), subImgSize=(180, 150), legends=names,
                                   returnPNG=True)
    picture = getattr(picture, "data", picture)  # in a kernel RDKit may hand back IPython's Image object
    uri = "data:image/png;base64," + base64.b64encode(picture).decode()
    return image(uri, "the molecules (2D)", 180 * min(4, len(mols)))


#: the types a complex line may start with, as in a typed FASTA header, and the restraint lines
_COMPLEX_TYPES = {"protein": "proteins", "dna": "dna", "rna": "rna", "ligand": "ligands", "smiles": "ligands",
                  "ccd": "ligand_ccd", "pocket": "pockets", "contact": "contacts", "affinity": "affinity"}


def complex_fields(text: str) -> dict[str, Any]:
    """The request fields of a complex typed one chain per line ("ligand: CCO"; untyped: a protein), with
    restraint lines ("pocket: B: A:12 @ 6", "contact: A:1, B:C1") and "affinity: B"."""
    fields: dict[str, list[str]] = {v: [] for v in _COMPLEX_TYPES.values()}
    for line in text.splitlines():
        if not line.strip():
            continue
        kind, sep, value = line.partition(":")
        if sep and kind.strip().lower() in _COMPLEX_TYPES:
            fields[_COMPLEX_TYPES[kind.strip().lower()]].append(value.strip())
        else:
            fields["proteins"].append(line.strip())
    out: dict[str, Any] = {k: tuple(v) for k, v in fields.items() if k != "affinity"}
    if fields["affinity"]:
        out["affinity"] = fields["affinity"][-1]
    return out


def screen_fields(text: str) -> dict[str, Any]:
    """A screen typed as the complex is: the protein lines are the target, each ligand line one ligand."""
    fields = complex_fields(text)
    return {"target": fields["proteins"], "smiles": fields["ligands"], "pockets": fields["pockets"],
            "contacts": fields["contacts"], "affinity": "affinity" in fields}


def _highlights(restraints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The residues each measured restraint names ("pocket: B near A:3, A:7" -> A 3, A 7), for the 3D view."""
    import re

    out = []
    for r in restraints:
        for chain, resi in re.findall(r"\b([A-Za-z0-9]{1,4}):(\d+)\b", r["restraint"]):
            out.append({"chain": chain, "resi": int(resi), "restraint": r["restraint"],
                        "satisfied": bool(r["satisfied"])})
    return out


def _png_uri(path: Any) -> str:
    """A PNG file as a data URI ("" when the task wrote none)."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode() if path else ""
