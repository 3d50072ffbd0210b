"""Screening: one target against many ligands with Boltz-2, the model loaded once, each ligand a checkpoint.

What drug-discovery users run most: a protein against a library (`.smi`, `.sdf`, or SMILES given
inline). A screen is one job. Boltz-2 is loaded once per device and kept loaded (`models.load`
caches it). Each ligand is co-folded with the target by the `complex` task's own code path.

Each ligand's best sample becomes a row, and its pose is kept as mmCIF. The row is saved as a
checkpoint, so a screen moved off a drained device, or one resumed after a restart, carries on
at the next ligand. A line that is not a molecule is reported with its line number, and the
screen goes on without it. Ligands are dealt over devices (`split` / `merge`).

With `affinity=True` Boltz-2's affinity model also runs for each ligand. The table is then ranked
by binder probability; otherwise by ligand ipTM, then by confidence. Its CSV has these columns:
rank, line, name, SMILES, binder probability, log10 IC50, confidence, ipTM, ligand ipTM, pLDDT,
PoseBusters, restraints met, mmCIF.
With random (tiny) weights every number is meaningless; it only shows the path runs.
"""

from __future__ import annotations

import csv
import functools
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workbench.contract import Cancelled, DeviceLost, InputError, Progress, Requirements, TaskContext, WorkbenchError
from workbench.contract.names import label, safe_name
from workbench.tasks.molecules.complexes import inputs
from workbench.tasks.molecules.complexes.predict import ComplexRequest, RecyclingSteps, Samples, SamplingSteps

#: ligands one screen may hold (a larger library is several screens)
MAX_LIGANDS = 10_000


@dataclass(frozen=True)
class ScreenRequest:
    target: tuple[str, ...] = ()  #: the target's protein sequences, one chain each (chains A, B, ...)
    smiles: tuple[str, ...] = ()  #: ligands as SMILES, each optionally followed by a space and a name
    #: a ligand library: .smi / .txt (SMILES [name] per line) or .sdf (one molecule per record)
    library: str | None = None
    #: pocket restraints for every ligand, "BINDER: CHAIN:RES, ... [@ Å]"; the ligand is the chain after the target
    pockets: tuple[str, ...] = ()
    contacts: tuple[str, ...] = ()  #: contact restraints for every ligand, "CHAIN:RES, CHAIN:RES|ATOM [@ Å]"
    #: Boltz-2's affinity model for every ligand: binder probability and log10 IC50; ranks the table by them
    affinity: bool = False
    #: Boltz's physical potentials for every ligand (`boltz predict --use_potentials`; slower, more valid poses)
    potentials: bool = False
    seed: int = 0  #: one seed per ligand
    samples: Samples = 1  #: diffusion samples per ligand (the best is kept)
    recycling_steps: RecyclingSteps = 3  #: trunk recycling passes (Boltz's default 3)
    sampling_steps: SamplingSteps = 200  #: diffusion steps per sample (Boltz's default 200)
    tiny: bool = False  #: random tiny Boltz-2 of the same architecture (tests, demos)
    checks: bool = True  #: PoseBusters checks of each ligand pose
    #: ligand positions (1-based, in the library) this part of the screen runs (set by `split`; empty: all)
    part: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for name in ("target", "smiles", "pockets", "contacts", "part"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, (str, int)) else tuple(value))
        if not self.target:
            raise InputError("A screen needs a target: one or more protein sequences.")
        if not self.smiles and self.library is None:
            raise InputError("A screen needs ligands: SMILES, or a library file (.smi or .sdf).")
        good, _ = self.library_entries()
        if not good:
            raise InputError("None of the ligands is a molecule RDKit can read; see the lines above.")
        self.complex_request(good[0])  # the target and restraints, checked with the first ligand

    def library_entries(self) -> tuple[list[tuple[int, str, str]], list[dict[str, Any]]]:
        """(line, name, SMILES) of each ligand to screen, and each line that is not a molecule with its
        reason (the screen goes on without it). Read and checked once per request: the checks at submit,
        `requirements`, `work`, `split` and `run` all ask (a 10,000-line library went through RDKit each time)."""
        return self._entries

    @functools.cached_property
    def _entries(self) -> tuple[list[tuple[int, str, str]], list[dict[str, Any]]]:
        entries = list(_read_library(self.library)) if self.library else []
        after = max((line for line, _ in entries), default=0)  # inline SMILES count on after the file's lines
        entries += [(after + i + 1, text) for i, text in enumerate(self.smiles)]
        if len(entries) > MAX_LIGANDS:
            raise InputError(f"A screen holds at most {MAX_LIGANDS} ligands; split the library.")
        good, bad = [], []
        for line, text in entries:
            if self.part and line not in self.part:
                continue
            if isinstance(text, dict):  # an SDF record that did not read
                bad.append({"line": line, "text": "", "reason": text["reason"]})
                continue
            smiles, _, name = text.strip().partition(" ")
            try:
                good.append((line, label(name) or f"ligand{line}", inputs.check_smiles(smiles, f"line {line}")))
            except InputError as exc:
                bad.append({"line": line, "text": label(text, limit=200),
                            "reason": str(exc).removeprefix(f"line {line}: ")})
        return good, bad

    def complex_request(self, entry: tuple[int, str, str]) -> ComplexRequest:
        line, _, smiles = entry
        return ComplexRequest(proteins=self.target, ligands=(smiles,), name=f"ligand{line}", seeds=(self.seed,),
                              samples=self.samples, recycling_steps=self.recycling_steps,
                              sampling_steps=self.sampling_steps, tiny=self.tiny, plots=False, checks=self.checks,
                              pockets=self.pockets, contacts=self.contacts, potentials=self.potentials,
                              affinity=_next_chain(len(self.target)) if self.affinity else None)


def _next_chain(n: int) -> str:
    """The chain letter the ligand gets after `n` target chains (from_fields letters them in order)."""
    return inputs._chain_ids()[n]


def _read_library(path: str) -> list[tuple[int, Any]]:
    """(line or record number, text) of each entry of a .smi/.txt or .sdf file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise InputError(f"No ligand library at {path!r}.")
    if p.suffix.lower() == ".sdf":
        from rdkit import Chem, rdBase

        rdBase.DisableLog("rdApp.*")
        out: list[tuple[int, Any]] = []
        for i, mol in enumerate(Chem.SDMolSupplier(str(p), sanitize=True), 1):
            if mol is None:
                out.append((i, {"reason": f"record {i}: RDKit cannot read this molecule"}))
                continue
            name = mol.GetProp("_Name").strip().replace(" ", "_") if mol.HasProp("_Name") else ""
            out.append((i, f"{Chem.MolToSmiles(mol)} {name}".strip()))
        return out
    text = inputs._read_text(str(p), "ligand library")
    return [(i, line) for i, line in enumerate(text.splitlines(), 1) if line.strip() and not line.startswith("#")]


@dataclass
class ScreenRow:
    line: int  #: where the ligand is in the library (1-based)
    name: str
    smiles: str
    confidence_score: float
    iptm: float
    ligand_iptm: float
    complex_plddt: float  #: 0-1
    posebusters_passed: int | None = None
    restraints_satisfied: str = ""  #: "k/n" restraints met in the best sample
    rank: int = 0  #: 1 = the best: highest binder probability with affinity, else highest ligand ipTM
    cif: str = ""  #: key into ScreenResult.files of the best pose
    affinity_probability: float | None = None  #: Boltz-2's binder probability (0-1), with affinity=True
    affinity_value: float | None = None  #: Boltz-2's log10 IC50 in µM (lower binds tighter), with affinity=True


@dataclass
class ScreenResult:
    target: list[dict[str, Any]]  #: the target's chains
    rows: list[ScreenRow]  #: ranked, best first
    skipped: list[dict[str, Any]]  #: lines that are not molecules, or whose co-folding failed: line, text, reason
    model: str
    files: dict[str, Path] = field(default_factory=dict)  #: "table" (CSV) and one mmCIF per ligand

    def summary(self) -> str:
        """The line (or few) a person reads first: the CLI's headline, `jobs list`, the widget and Gradio."""
        lines = [f"{len(self.rows)} ligand(s) screened against {len(self.target)} target chain(s)"
                 + (f"; {len(self.skipped)} line(s) skipped" if self.skipped else "")
                 + (" [random test weights: the scores mean nothing]" if self.model.endswith("tiny") else "")]
        for row in self.rows[:5]:
            line = (f"  #{row.rank} {row.name} (line {row.line}): ligand ipTM {row.ligand_iptm:.2f}, "
                    f"ipTM {row.iptm:.2f}, confidence {row.confidence_score:.3f}")
            if row.posebusters_passed is not None:
                line += ", PoseBusters " + ("pass" if row.posebusters_passed else "fail")
            if row.restraints_satisfied:
                line += f", restraints {row.restraints_satisfied} met"
            if getattr(row, "affinity_probability", None) is not None:
                line += f", binder probability {row.affinity_probability:.2f}, log10 IC50 {row.affinity_value:.2f}"
            lines.append(line)
        lines += [f"  skipped line {s['line']}: {s['reason']}" for s in self.skipped[:5]]
        return "\n".join(lines)


def requirements(request: ScreenRequest) -> Requirements:
    good, _ = request.library_entries()
    from workbench.tasks.molecules.complexes.predict import requirements as one

    return one(request.complex_request(max(good, key=lambda e: len(e[2]))))  # the largest complex decides


def work(request: ScreenRequest) -> float:
    return float(len(request.library_entries()[0]))


def split(request: ScreenRequest, n: int) -> list[ScreenRequest]:
    """Ligands dealt over up to `n` devices, by library position."""
    lines = [line for line, _, _ in request.library_entries()[0]]
    n = max(1, min(n, len(lines)))
    return [replace(request, part=tuple(lines[k::n])) for k in range(n)]


def merge(results: list[ScreenResult]) -> ScreenResult:
    rows = [r for res in results for r in res.rows]
    skipped = sorted({s["line"]: s for res in results for s in res.skipped}.values(), key=lambda s: s["line"])
    files = {k: v for res in results for k, v in res.files.items() if k != "table"}
    merged = ScreenResult(results[0].target, rows, skipped, results[0].model, files)
    _rank(merged)
    merged.files["table"] = _write_table(merged, Path(tempfile.mkdtemp(prefix="workbench-screen-")) / "screen.csv")
    return merged


def _rank(result: ScreenResult) -> None:
    """Binder probability first where affinity was predicted (Boltz's advice for telling binders from
    decoys), then ligand ipTM, confidence, and the library order."""
    result.rows.sort(key=lambda r: (-(r.affinity_probability if r.affinity_probability is not None else -1),
                                    -r.ligand_iptm, -r.confidence_score, r.line))
    for i, r in enumerate(result.rows, 1):
        r.rank = i


def _cell(text: str) -> str:
    """A text cell a spreadsheet shows as text: one that starts like a formula (`=`, `+`, `-`, `@`, a tab or
    a carriage return) gets a leading `'` (OWASP's advice against CSV injection)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _write_table(result: ScreenResult, path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["rank", "line", "name", "smiles", "affinity_probability_binary", "affinity_pred_value",
                    "confidence_score", "iptm", "ligand_iptm", "complex_plddt", "posebusters_passed",
                    "restraints_satisfied", "cif"])
        for r in result.rows:
            w.writerow([r.rank, r.line, _cell(r.name), _cell(r.smiles),
                        "" if r.affinity_probability is None else f"{r.affinity_probability:.4f}",
                        "" if r.affinity_value is None else f"{r.affinity_value:.4f}",
                        f"{r.confidence_score:.4f}", f"{r.iptm:.4f}",
                        f"{r.ligand_iptm:.4f}", f"{r.complex_plddt:.4f}",
                        "" if r.posebusters_passed is None else r.posebusters_passed, r.restraints_satisfied,
                        Path(result.files[r.cif]).name if r.cif in result.files else ""])
    return path


def _one_ligand(ctx: TaskContext, workdir: Path, index: int, count: int, name: str, started: float,
                done_before: int) -> TaskContext:
    """The context one ligand's co-folding runs in: its own working folder, no checkpoints of its own, and
    progress mapped onto the screen's (ligand i of n, with an ETA from the ligands done in this run)."""

    def report(p: Progress) -> None:
        fraction = p.fraction or 0.0
        ran = index - done_before
        eta = ""
        if ran > 0:
            left = (time.monotonic() - started) / ran * (count - index - fraction)
            eta = f", about {left:.0f} s left"
        ctx.report(Progress(index + fraction, count, f"ligand {index + 1}/{count} ({name}){eta}: {p.message}"[:200]))

    return replace(ctx, workdir_path=workdir, report=report, checkpoints={},
                   save_checkpoint=lambda key, value: None)


def _failure(exc: Exception) -> str:
    """One ligand's failure as its line's reason (the screen goes on): an input error's sentence, or the
    fault's type and text."""
    text = str(exc) if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {exc}"
    return label(text, limit=300) or type(exc).__name__


def run(request: ScreenRequest, ctx: TaskContext) -> ScreenResult:
    from workbench.tasks.molecules.complexes import predict, report

    good, bad = request.library_entries()
    bad = list(bad)
    out = ctx.workdir
    for s in bad:
        ctx.progress(Progress(0, len(good), f"skipped line {s['line']}: {s['reason']}"[:200]))
    rows: list[ScreenRow] = []
    files: dict[str, Path] = {}
    resumed = sum(1 for line, _, _ in good if str(line) in ctx.checkpoints)
    started = time.monotonic()
    target_chains: list[dict[str, Any]] = []
    for i, entry in enumerate(good):
        line, name, smiles = entry
        key = f"{safe_name(name, fallback='ligand', limit=64)}_line{line}.cif"  # never a path from the name
        cif = out / key
        if str(line) in ctx.checkpoints:  # screened by an earlier run of this job (it moved, or restarted)
            saved_row, text = ctx.checkpoints[str(line)]
            if "failed" in saved_row:
                bad.append(saved_row["failed"])
                continue
            cif.write_bytes(text)
            rows.append(ScreenRow(**saved_row))
            files[key] = cif
            continue
        sub = ctx.subdir(f"line{line}")
        try:
            result = predict.run(request.complex_request(entry),
                                 _one_ligand(ctx, sub, i, len(good), name, started, resumed))
        except (Cancelled, DeviceLost):
            raise
        except Exception as exc:  # noqa: BLE001 - one ligand's fault is its line's; the screen goes on
            failed = {"line": line, "text": label(f"{smiles} {name}", limit=200), "reason": _failure(exc)}
            bad.append(failed)
            shutil.rmtree(sub, ignore_errors=True)
            ctx.checkpoint(str(line), ({"failed": failed}, b""))
            ctx.progress(Progress(i + 1, len(good), f"line {line} failed: {failed['reason']}"[:200]))
            continue
        target_chains = [c for c in result.chains if c["type"] != "ligand"]
        best = result.samples[0]
        shutil.copyfile(result.files[f"{result.best_stem}.cif"], cif)
        row = ScreenRow(line, name, smiles, best.confidence_score, best.iptm, best.ligand_iptm, best.complex_plddt,
                        best.posebusters_passed, best.restraints_satisfied, cif=key)
        if result.affinity:
            row.affinity_probability = float(result.affinity["affinity_probability_binary"])
            row.affinity_value = float(result.affinity["affinity_pred_value"])
        rows.append(row)
        files[key] = cif
        shutil.rmtree(sub, ignore_errors=True)
        ctx.checkpoint(str(line), (row.__dict__.copy(), cif.read_bytes()))
    bad.sort(key=lambda s: s["line"])
    screened = ScreenResult(target_chains or report.chain_table(request.complex_request(good[0]).entities()[0])[:-1],
                            rows, bad, "boltz-2-tiny" if request.tiny else "boltz-2", files)
    _rank(screened)
    files["table"] = _write_table(screened, out / "screen.csv")
    ctx.progress(Progress(len(good), len(good), f"{len(rows)} ligand(s) screened"
                          + (f", {len(bad)} line(s) skipped or failed" if bad else "")))
    return screened
