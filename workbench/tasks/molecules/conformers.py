"""Conformer ensembles with RDKit: ETKDGv3 -> MMFF94s (or UFF) -> checks -> pruning -> SDF.

The pipeline per molecule, top to bottom:

1. add explicit hydrogens; refuse molecules over `max_atoms` and elements no force field
   knows, with a sentence each;
2. embed `num_conformers` with ETKDGv3 from random starting coordinates (macrocycle torsions
   and 1-4 handling for rings of 12 or more atoms), retrying with more iterations if the first
   pass finds none. Random starts spread the ensemble: on 120 PDB ligands at 50 conformers,
   best RMSD to the crystal pose median 0.44 Å and 91% under 1 Å, against 0.54 Å and 83%
   from eigenvector starts pruned at 0.5 Å (`benchmarks/conformers.py`);
3. optimise with MMFF94s, falling back to UFF where MMFF has no parameters;
4. drop conformers that fail the sanity checks (bond lengths, clashes, stereo changed);
5. prune by heavy-atom RMSD after optimisation, lowest energy first, taking the best RMSD
   over the molecule's symmetries (a flipped phenyl or swapped carboxylate oxygens is the
   same geometry; plain RMSD kept such copies and spread Boltzmann weight over them), and by
   energy window;
6. superpose the conformers on the lowest-energy one (heavy atoms) and write an SDF record
   per conformer with its energy, relative energy and Boltzmann weight.

A batch runs molecule by molecule in this process (`workers=1`) or fanned out over a pool
of worker processes; a bad molecule never stops the others.
"""

from __future__ import annotations

import io
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdDistGeom, rdForceFieldHelpers, rdMolAlign

from workbench.contract import InputError, Progress, ProgressCallback, Requirements, TaskContext
from workbench.contract.errors import Cancelled
from workbench.contract.limits import Limits
from workbench.contract.wording import count
from workbench.paths import is_file
from workbench.tasks.molecules.checks import GeometryChecker, input_stereo, stereo_mismatch
from workbench.tasks.molecules.inputs import ParsedMolecule, read_inputs
from workbench.tasks.pool import completed

log = logging.getLogger(__name__)

FORCE_FIELDS = ("MMFF94s", "MMFF94", "UFF", "none")
KCAL_PER_MOL_K = 0.0019872041  # gas constant R in kcal/(mol K)
MACROCYCLE_RING = 12

Chem.SetDefaultPickleProperties(Chem.PropertyPickleOptions.AllProps)


@dataclass(frozen=True)
class ConformerRequest:
    """What to embed and how. Defaults follow common practice for drug-like molecules."""

    smiles: tuple[str, ...] = ()  #: a SMILES, optionally followed by a space and a name
    files: tuple[str, ...] = ()  #: SDF, MOL or SMI files
    names: tuple[str, ...] = ()  #: titles for the SMILES, in order
    num_conformers: Annotated[int, Limits(ge=1, le=5000, unit="conformers")] = 50  #: conformers per molecule
    #: Å, heavy atoms; applied at embedding and after optimisation (0.3: closer ensembles than 0.5 reach
    #: crystal poses better, measured on 120 PDB ligands)
    prune_rms: Annotated[float, Limits(ge=0, le=10, unit="Å")] = 0.3
    prune_symmetry: bool = True  #: prune by the best RMSD over the molecule's symmetries (no duplicate geometries)
    #: start each embedding from random coordinates (RDKit's useRandomCoords): more diverse ensembles that reach
    #: crystal poses more often; false: from the distance matrix's eigenvectors (RDKit's default)
    random_coords: bool = True
    force_field: Literal["MMFF94s", "MMFF94", "UFF", "none"] = "MMFF94s"  #: optimisation after embedding
    max_iterations: Annotated[int, Limits(ge=0, le=100_000, unit="steps")] = 2000  #: force-field steps per conformer
    #: kcal/mol above the minimum; None keeps all
    energy_window: Annotated[float, Limits(ge=0, le=10_000, unit="kcal/mol")] | None = None
    temperature: Annotated[float, Limits(gt=0, le=10_000, unit="K")] = 298.15  #: K, for Boltzmann weights
    seed: int = 42  #: RDKit's random seed for embedding (the same seed gives the same ensemble)
    max_atoms: Annotated[int, Limits(ge=1, le=2000, unit="atoms")] = 250  #: including hydrogens
    #: worker processes for a batch; 0: every core of the node that runs it
    workers: Annotated[int, Limits(ge=0, le=256, unit="processes")] = 1
    validate: bool = False  #: run PoseBusters' molecule checks on every returned conformer

    def __post_init__(self) -> None:
        for name in ("smiles", "files", "names"):
            value = getattr(self, name)
            if isinstance(value, (str, Path)):
                value = (value,)
            object.__setattr__(self, name, tuple(str(v) for v in value))
        if not self.smiles and not self.files:
            raise InputError("Give at least one molecule (SMILES, or an SDF / MOL / SMI file).")
        if self.force_field not in FORCE_FIELDS:
            raise InputError(f"Unknown force field {self.force_field!r}; choose from {', '.join(FORCE_FIELDS)}.")
        for f in self.files:
            if not is_file(f):
                raise InputError(f"No such molecule file: {f}")


@dataclass
class MoleculeConformers:
    """The outcome for one input molecule."""

    index: int
    name: str
    source: str
    ok: bool
    error: str = ""
    smiles: str = ""
    num_atoms: int = 0
    num_conformers: int = 0
    force_field: str = ""
    min_energy: float | None = None  #: kcal/mol
    relative_energies: list[float] = field(default_factory=list)  #: kcal/mol, ascending
    boltzmann_weights: list[float] = field(default_factory=list)
    rejected: dict[str, int] = field(default_factory=dict)  #: reason -> count
    notes: list[str] = field(default_factory=list)
    posebusters_passed: int | None = None  #: conformers passing every PoseBusters check (validate=True)
    posebusters_failures: dict[str, int] = field(default_factory=dict)  #: check -> conformers failing it
    seconds: float = 0.0


@dataclass
class ConformerResult:
    molecules: list[MoleculeConformers]
    num_ok: int
    num_failed: int
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def errors(self) -> dict[str, str]:
        return {m.name: m.error for m in self.molecules if not m.ok}

    def summary(self) -> str:
        """The line (or few) a person reads first: the CLI's headline, `jobs list`, the widget and Gradio."""
        lines = [f"{self.num_ok} molecule(s) ok, {self.num_failed} failed"]
        for m in self.molecules:
            if not m.ok:
                lines.append(f"  {m.name}: {m.error}")
                continue
            line = f"  {m.name}: {count(m.num_conformers, 'conformer')}"
            if len(m.relative_energies) > 1:
                line += f" within {m.relative_energies[-1]:.1f} kcal/mol"
            if getattr(m, "posebusters_passed", None) is not None:
                line += f"; PoseBusters {m.posebusters_passed}/{m.num_conformers} pass"
                if m.posebusters_failures:
                    line += " (" + ", ".join(f"{k} {v}" for k, v in m.posebusters_failures.items()) + ")"
            lines.append(line)
        return "\n".join(lines)


def work(request: ConformerRequest) -> float:
    return (len(request.smiles) + len(request.files)) * request.num_conformers


def requirements(request: ConformerRequest) -> Requirements:
    return Requirements(kinds=("cpu",))  # RDKit computes on CPU cores


# ---- one molecule ---------------------------------------------------------------------

def _largest_ring(mol: Chem.Mol) -> int:
    rings = mol.GetRingInfo().AtomRings()
    return max((len(r) for r in rings), default=0)


def _unsupported_elements(mol: Chem.Mol) -> list[str]:
    if rdForceFieldHelpers.UFFHasAllMoleculeParams(mol):
        return []
    bad = set()  # probe each element alone for UFF parameters
    for atom in mol.GetAtoms():
        probe = Chem.RWMol()
        probe.AddAtom(Chem.Atom(atom.GetAtomicNum()))
        m = probe.GetMol()
        m.UpdatePropertyCache(strict=False)
        if not rdForceFieldHelpers.UFFHasAllMoleculeParams(m):
            bad.add(atom.GetSymbol())
    return sorted(bad)


def _embed(mol: Chem.Mol, request: ConformerRequest, notes: list[str]) -> list[int]:
    params: Any = rdDistGeom.ETKDGv3()  # Any: RDKit's stubs type its fields as the class itself
    params.randomSeed = request.seed
    params.pruneRmsThresh = request.prune_rms
    params.numThreads = 1
    params.enforceChirality = True
    params.useRandomCoords = request.random_coords
    if _largest_ring(mol) >= MACROCYCLE_RING:
        params.useMacrocycleTorsions = True
        params.useMacrocycle14config = True
        notes.append("macrocycle: ETKDGv3 macrocycle torsions")
    cids = list(rdDistGeom.EmbedMultipleConfs(mol, request.num_conformers, params))
    if not cids:
        params.useRandomCoords = True
        params.maxIterations = 10 * max(1, mol.GetNumAtoms())
        cids = list(rdDistGeom.EmbedMultipleConfs(mol, request.num_conformers, params))
        if cids:
            notes.append("embedded from random coordinates with more iterations after the first pass failed")
    return cids


def _optimise(mol: Chem.Mol, request: ConformerRequest, notes: list[str],
              report: Callable[[int, int], None] | None = None) -> tuple[str, list[tuple[int, float]]]:
    """Minimise every conformer; `report(done, total)` after each batch of conformers. One MMFF force
    field per conformer, minimised as MMFFOptimizeMoleculeConfs does (the same energies and
    coordinates), so progress can move while a large ensemble is optimised."""
    ff = request.force_field
    if ff.startswith("MMFF"):
        if rdForceFieldHelpers.MMFFHasAllMoleculeParams(mol):
            props = rdForceFieldHelpers.MMFFGetMoleculeProperties(mol, mmffVariant=ff)
            cids = [c.GetId() for c in mol.GetConformers()]
            every = max(1, len(cids) // 10)
            res = []
            for k, cid in enumerate(cids, 1):
                field = rdForceFieldHelpers.MMFFGetMoleculeForceField(mol, props, confId=cid)
                not_converged = field.Minimize(maxIts=request.max_iterations)
                res.append((not_converged, field.CalcEnergy()))
                if report is not None and (k % every == 0 or k == len(cids)):
                    report(k, len(cids))
            return ff, res
        notes.append(f"{ff} has no parameters for this molecule; used UFF")
        ff = "UFF"
    if ff == "UFF":
        res = rdForceFieldHelpers.UFFOptimizeMoleculeConfs(mol, numThreads=1, maxIters=request.max_iterations)
        return "UFF", res
    return "none", [(0, 0.0) for _ in range(mol.GetNumConformers())]


def _kabsch_rmsd(ref: np.ndarray, others: np.ndarray) -> np.ndarray:
    """RMSD of each of `others` (k, n, 3) to `ref` (n, 3) after optimal superposition."""
    ref = ref - ref.mean(0)
    others = others - others.mean(1, keepdims=True)
    h = np.einsum("kni,nj->kij", others, ref)
    u, s, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(np.einsum("kij,kjl->kil", u, vt)))
    s[:, -1] *= d
    e = (np.sum(others**2, axis=(1, 2)) + np.sum(ref**2)) - 2 * s.sum(1)
    return np.sqrt(np.maximum(e, 0) / ref.shape[0])


#: most symmetry permutations of the heavy atoms considered (RDKit's GetBestRMS caps its matches too)
MAX_SYMMETRIES = 1000


def heavy_atom_symmetries(mol: Chem.Mol, heavy: list[int], limit: int = MAX_SYMMETRIES) -> np.ndarray:
    """The automorphisms of the heavy-atom graph as index arrays into `heavy` (identity first).

    Atoms match by element and connectivity, bond orders and charges ignored, so the two oxygens
    of a carboxylate or nitro group count as equivalent (RDKit's `symmetrizeConjugatedTerminalGroups`),
    as do the rings of a phenyl flip and the methyls of a tert-butyl."""
    graph = Chem.RWMol()
    for i in heavy:
        graph.AddAtom(Chem.Atom(mol.GetAtomWithIdx(i).GetAtomicNum()))
    position = {atom: k for k, atom in enumerate(heavy)}
    for bond in mol.GetBonds():
        a, b = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        if a in position and b in position:
            graph.AddBond(position[a], position[b], Chem.BondType.SINGLE)
    graph = graph.GetMol()
    graph.UpdatePropertyCache(strict=False)
    matches = graph.GetSubstructMatches(graph, uniquify=False, useChirality=False, maxMatches=limit)
    perms = np.array(matches, dtype=int) if matches else np.arange(len(heavy))[None]
    identity = np.arange(len(heavy))
    return np.concatenate([identity[None], perms[(perms != identity).any(axis=1)]])


def symmetric_rmsd(ref: np.ndarray, others: np.ndarray, symmetries: np.ndarray) -> np.ndarray:
    """Best RMSD of each of `others` (k, n, 3) to `ref` over the symmetry permutations of its atoms."""
    permuted = others[:, symmetries]  # (k, s, n, 3)
    k, n_sym = permuted.shape[:2]
    return _kabsch_rmsd(ref, permuted.reshape(k * n_sym, *others.shape[1:])).reshape(k, n_sym).min(axis=1)


def _prune(xyz: np.ndarray, order: list[int], threshold: float, symmetries: np.ndarray | None = None) -> list[int]:
    """Greedy: keep a conformer unless it is within `threshold` Å of a kept, lower one (over the
    molecule's symmetries when given: a phenyl flipped by 180 degrees is the same geometry)."""
    kept: list[int] = []
    for c in order:
        if kept and threshold > 0:
            if symmetries is None or len(symmetries) == 1:
                nearest = _kabsch_rmsd(xyz[c], xyz[kept]).min()
            else:
                nearest = symmetric_rmsd(xyz[c], xyz[kept], symmetries).min()
            if nearest < threshold:
                continue
        kept.append(c)
    return kept


def _reason_kind(why: str) -> str:
    if why.startswith("stereo"):
        return "stereo changed"
    if "clash" in why:
        return "clash"
    if why.startswith("bond"):
        return "bond length"
    return why


def conformers_for(parsed: ParsedMolecule, request: ConformerRequest,
                   report: Callable[[float, str], None] | None = None) -> tuple[MoleculeConformers, str]:
    """The ensemble of one molecule: its outcome and its SDF text ("" on failure). `report(fraction,
    message)`, when given, follows the molecule's own stages (embedding, then optimisation batches)."""
    t0 = time.perf_counter()
    out = MoleculeConformers(parsed.index, parsed.name, parsed.source, ok=False)
    try:
        sdf = _conformers_for(parsed, request, out, report)
        out.ok = True
        return out, sdf
    except Cancelled:
        raise  # a cancel seen by a progress report is the job's, not this molecule's error
    except InputError as exc:
        out.error = str(exc)
    except Exception as exc:  # an RDKit fault on one molecule is that molecule's error
        log.debug("conformers_for: ignored", exc_info=True)
        out.error = f"RDKit failed on this molecule: {type(exc).__name__}: {exc}"
    finally:
        out.seconds = time.perf_counter() - t0
    return out, ""


def _conformers_for(parsed: ParsedMolecule, request: ConformerRequest, out: MoleculeConformers,
                    report: Callable[[float, str], None] | None = None) -> str:
    if parsed.mol is None:
        raise InputError(parsed.error)
    mol = parsed.mol
    out.smiles = Chem.MolToSmiles(Chem.RemoveHs(mol))
    expected = input_stereo(mol)
    has3d = mol.GetNumConformers() > 0 and mol.GetConformer().Is3D()
    molh = Chem.AddHs(mol, addCoords=has3d)
    out.num_atoms = molh.GetNumAtoms()
    if out.num_atoms > request.max_atoms:
        raise InputError(
            f"{parsed.name} has {out.num_atoms} atoms with hydrogens; the limit is {request.max_atoms} "
            "(raise max_atoms, at the cost of time and memory).")
    bad = _unsupported_elements(molh)
    if bad:
        raise InputError(f"{parsed.name} contains {', '.join(bad)}, which no force field here has parameters for.")
    unspecified = [c for c, lab in Chem.FindMolChiralCenters(mol, includeUnassigned=True,
                                                              useLegacyImplementation=False) if lab == "?"]
    if unspecified:
        out.notes.append(f"{len(unspecified)} stereocentre(s) unspecified in the input; they vary across conformers")
    if report is not None:
        report(0.0, f"{parsed.name}: embedding {request.num_conformers} conformers (ETKDGv3)")
    cids = _embed(molh, request, out.notes)
    if not cids:
        raise InputError(
            f"Embedding failed for {parsed.name}: ETKDG found no 3D coordinates that satisfy its distance "
            "bounds (often impossible ring strain or stereo); check the structure.")

    def optimised(done: int, total: int) -> None:
        if report is not None:  # embedding is about a third of the time, optimisation most of the rest
            report(0.35 + 0.6 * done / total,
                   f"{parsed.name}: optimised {done}/{total} conformers ({request.force_field})")

    if report is not None:
        report(0.35, f"{parsed.name}: embedded {len(cids)} conformers; optimising")
    ff, results = _optimise(molh, request, out.notes, optimised)
    out.force_field = ff
    energies = {cid: e for cid, (_, e) in zip(cids, results)}
    converged = {cid: not nc for cid, (nc, _) in zip(cids, results)}

    checker = GeometryChecker(molh)
    good = []
    for cid in cids:
        xyz = molh.GetConformer(cid).GetPositions()
        why = checker.problem(xyz) or stereo_mismatch(expected, molh, cid)
        if why:
            key = _reason_kind(why)
            out.rejected[key] = out.rejected.get(key, 0) + 1
            continue
        good.append(cid)
    if not good:
        reasons = ", ".join(f"{k} ({v})" for k, v in out.rejected.items())
        raise InputError(f"No sane conformer for {parsed.name}: every embedding was rejected: {reasons}.")

    order = sorted(good, key=lambda c: energies[c])
    heavy = [a.GetIdx() for a in molh.GetAtoms() if a.GetAtomicNum() > 1]
    xyz_all = {c: molh.GetConformer(c).GetPositions()[heavy] for c in order}
    stacked = np.stack([xyz_all[c] for c in order])
    symmetries = heavy_atom_symmetries(molh, heavy) if request.prune_symmetry else None
    kept = [order[i] for i in _prune(stacked, list(range(len(order))), request.prune_rms, symmetries)]
    if len(kept) < len(order):
        out.rejected["duplicate after optimisation"] = len(order) - len(kept)
    e_min = energies[kept[0]]
    if request.energy_window is not None:
        within = [c for c in kept if energies[c] - e_min <= request.energy_window]
        if len(within) < len(kept):
            out.rejected["outside energy window"] = len(kept) - len(within)
        kept = within
    rel = [energies[c] - e_min for c in kept]
    if ff == "none":
        weights = [1.0 / len(kept)] * len(kept)
    else:
        rt = KCAL_PER_MOL_K * request.temperature
        boltz = [math.exp(-r / rt) for r in rel]
        weights = [b / sum(boltz) for b in boltz]
    out.num_conformers = len(kept)
    out.min_energy = e_min if ff != "none" else None
    out.relative_energies = rel
    out.boltzmann_weights = weights

    if len(kept) > 1:  # every conformer superposed on the lowest-energy one: ready to overlay in any viewer
        rdMolAlign.AlignMolConformers(molh, atomIds=heavy, confIds=kept)
    if request.validate:
        _posebusters(molh, kept, out)
    buf = io.StringIO()
    writer = Chem.SDWriter(buf)
    writer.SetForceV3000(out.num_atoms > 999)
    for rank, (cid, r, w) in enumerate(zip(kept, rel, weights)):
        molh.SetProp("_Name", f"{parsed.name}_conf{rank + 1}")
        molh.SetProp("input_name", parsed.name)
        molh.SetProp("input_smiles", out.smiles)
        molh.SetIntProp("conformer_rank", rank + 1)
        molh.SetProp("force_field", ff)
        if ff != "none":
            molh.SetProp("energy_kcal_mol", f"{energies[cid]:.4f}")
            molh.SetProp("relative_energy_kcal_mol", f"{r:.4f}")
            molh.SetProp("ff_converged", "yes" if converged[cid] else "no")
        molh.SetProp("boltzmann_weight", f"{w:.6f}")
        writer.write(molh, confId=cid)
    writer.close()
    return buf.getvalue()


def _posebusters(molh: Chem.Mol, kept: list[int], out: MoleculeConformers) -> None:
    """PoseBusters' checks for a molecule on its own (config "mol": sanitisation, bond lengths and
    angles, internal clashes, ring and double-bond flatness, internal energy) on each conformer."""
    import logging

    from posebusters import PoseBusters

    logging.getLogger("posebusters").setLevel(logging.ERROR)
    single = []
    for cid in kept:
        mol = Chem.Mol(molh, confId=cid)
        mol.GetConformer().SetId(0)
        single.append(mol)
    table = PoseBusters(config="mol").bust(single, None, None)
    checks = table.select_dtypes(include=["bool"])
    out.posebusters_passed = int(checks.all(axis=1).sum())
    out.posebusters_failures = {name: int((~checks[name]).sum()) for name in checks.columns if not checks[name].all()}


# ---- a batch ----------------------------------------------------------------------------

def _report(progress: ProgressCallback, done: int, total: int, outcome: MoleculeConformers) -> None:
    msg = (f"{outcome.name}: {outcome.num_conformers} conformers" if outcome.ok
           else f"{outcome.name}: {outcome.error}")
    progress(Progress(done, total, msg, {"index": outcome.index, "ok": outcome.ok,
                                          "num_conformers": outcome.num_conformers}))


def run(request: ConformerRequest, ctx: TaskContext) -> ConformerResult:
    """Conformer ensembles for every molecule of the request, in one SDF."""
    progress = ctx.progress
    parsed = read_inputs(request.smiles, request.files, request.names)
    total = len(parsed)
    progress(Progress(0, total, f"{total} molecule(s)"))
    # molecules finished by an earlier run of this job (it moved here) are not embedded again
    outcomes: dict[int, tuple[MoleculeConformers, str]] = {int(k): v for k, v in ctx.checkpoints.items()}
    todo = [p for p in parsed if p.index not in outcomes]

    def finished(outcome: MoleculeConformers, sdf: str) -> None:
        outcomes[outcome.index] = (outcome, sdf)
        ctx.checkpoint(str(outcome.index), (outcome, sdf))
        _report(progress, len(outcomes), total, outcome)

    workers = request.workers or os.cpu_count() or 1  # 0 is resolved where the job runs
    if workers == 1 or len(todo) == 1:
        for p in todo:  # in this process: progress also moves within a molecule, batch by batch
            def partial(fraction: float, message: str) -> None:
                progress(Progress(len(outcomes) + fraction, total, message))

            finished(*conformers_for(p, request, partial))
    else:
        with closing(completed(workers, conformers_for, ((p, request) for p in todo))) as results:
            for outcome, sdf in results:
                finished(outcome, sdf)
    molecules = [outcomes[p.index][0] for p in parsed]
    if not any(m.ok for m in molecules):
        reasons = "; ".join(m.error for m in molecules[:5])
        raise InputError(f"No molecule could be processed: {reasons}")
    sdf_path = ctx.workdir / "conformers.sdf"
    sdf_path.write_text("".join(outcomes[p.index][1] for p in parsed))
    ok = sum(m.ok for m in molecules)
    return ConformerResult(molecules, ok, total - ok, {"sdf": sdf_path})



# ---- fan-out across devices -------------------------------------------------------------

def split(request: ConformerRequest, n: int) -> list[ConformerRequest]:
    """Up to `n` requests with the SMILES dealt in contiguous blocks (files go whole)."""
    from dataclasses import replace

    items = [("s", i) for i in range(len(request.smiles))] + [("f", i) for i in range(len(request.files))]
    n = max(1, min(n, len(items)))
    size = -(-len(items) // n)
    parts = []
    for k in range(n):
        block = items[k * size:(k + 1) * size]
        if not block:
            continue
        smiles = tuple(request.smiles[i] for kind, i in block if kind == "s")
        names = tuple(request.names[i] if i < len(request.names) else "" for kind, i in block
                      if kind == "s") if request.names else ()
        files = tuple(request.files[i] for kind, i in block if kind == "f")
        parts.append(replace(request, smiles=smiles, names=names, files=files))
    return parts


def merge(results: list[ConformerResult]) -> ConformerResult:
    """One result and one SDF, in the order of the parts."""
    molecules: list[Any] = []
    texts: list[str] = []
    for r in results:
        for m in r.molecules:
            m.index = len(molecules)
            molecules.append(m)
        if "sdf" in r.files and Path(r.files["sdf"]).exists():
            texts.append(Path(r.files["sdf"]).read_text())
    out = Path(tempfile.mkdtemp(prefix="workbench-conformers-")) / "conformers.sdf"
    out.write_text("".join(texts))
    ok = sum(m.ok for m in molecules)
    return ConformerResult(molecules, ok, len(molecules) - ok, {"sdf": out})
