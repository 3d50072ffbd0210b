"""`MoleculeWidget`: SMILES or a protein sequence in, a 3D view out.

Conformers show in 3Dmol.js with a slider over the ensemble and an energy table; proteins
are coloured by pLDDT with the PAE heat map beside. Download buttons give the SDF, PDB
and mmCIF. 3Dmol.js is bundled (no CDN) and loads once per page (`static/libraries.js`).
"""

from __future__ import annotations

import base64
from typing import Any

import traitlets as t

from workbench.widgets.base import STATIC, JobWidget, widget_module


class MoleculeWidget(JobWidget):
    _esm = widget_module("molecule.js")
    _css = STATIC / "molecule.css"

    mode = t.Unicode("conformers").tag(sync=True)  #: "conformers" | "fold"
    text = t.Unicode("").tag(sync=True)  #: SMILES (one per line) or a sequence (chains joined by ':')
    num_conformers = t.Int(30).tag(sync=True)
    tiny = t.Bool(False).tag(sync=True)  #: fold with the tiny random model (teaching, tests)

    structure = t.Unicode("").tag(sync=True)  #: SDF (all conformers) or PDB text
    structure_format = t.Unicode("").tag(sync=True)  #: "sdf" | "pdb"
    conformers = t.List(t.Dict()).tag(sync=True)  #: name, rank, relative energy, weight
    summary = t.List(t.Dict()).tag(sync=True)  #: one row per molecule / protein
    pae_png = t.Unicode("").tag(sync=True)  #: data URI
    plddt_png = t.Unicode("").tag(sync=True)  #: data URI: pLDDT per residue, shown beside the PAE (as ColabFold)
    downloads = t.Dict().tag(sync=True)  #: file name -> text content

    def __init__(self, text: str = "", mode: str = "conformers", device: str = "auto", **kwargs: Any):
        super().__init__(text=text, mode=mode, device=device, **kwargs)

    def _submit(self) -> Any:
        from workbench import api

        if self.mode == "fold":
            return api.submit("fold", sequences=tuple(s for s in self.text.split("\n") if s.strip()),
                              tiny=self.tiny, device=self.device)
        lines = tuple(s.strip() for s in self.text.splitlines() if s.strip())
        return api.submit("conformers", smiles=lines, num_conformers=self.num_conformers, device=self.device)

    # ---- results -> traitlets ---------------------------------------------------------------
    def _show(self, result: Any) -> None:
        if hasattr(result, "molecules"):
            self._show_conformers(result)
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


def _png_uri(path: Any) -> str:
    """A PNG file as a data URI ("" when the task wrote none)."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode() if path else ""
