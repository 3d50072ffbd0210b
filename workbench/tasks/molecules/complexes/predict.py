"""Co-folding of proteins, nucleic acids and ligands with Boltz-2, as a workbench task.

The job runs Boltz's own pipeline, step for step what `boltz predict` runs, without the
Lightning trainer around it: `process_input` (parse, single-sequence MSA, structure and
records), `PredictionDataset` + `collate` (tokens, features), `Boltz2.predict_step`, and
`BoltzWriter` (mmCIF, confidence JSON, PAE / PDE / pLDDT arrays). What workbench adds:

* checks before a job exists (`inputs.py`; CCD codes against the model's dictionary here);
* a memory estimate from tokens and atoms, a device chosen by it, Boltz's chunked inference
  switched on where the unchunked run would not fit, a refusal where neither fits;
* progress at every trunk layer of every recycling pass, every diffusion step and every confidence
  layer (forward hooks on
  Boltz's modules; a cancel takes effect at the next one);
* seeds as a batch (`split` deals them over devices; `merge` ranks the union), each seed a
  checkpoint, so a job that moves keeps the seeds it has;
* the outputs the field reads (`report.py`): mmCIF with entities and one-letter sequences,
  confidence JSON with chain names, a ranked summary, PAE plots with chain boundaries,
  PoseBusters checks of each ligand pose against the protein.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from workbench import models
from workbench.contract import InputError, Progress, Requirements, TaskContext
from workbench.contract.errors import DeviceError, ModelNotAvailable
from workbench.contract.limits import Limits, MaxLen
from workbench.contract.names import label, safe_name
from workbench.tasks.molecules.complexes import ccd, inputs, restraints
from workbench.tasks.molecules.complexes.inputs import Entity

GiB = 1024**3
#: a short run for the tiny random model (demo, widget, Gradio): the whole path, in seconds
TINY_RUN: dict[str, Any] = {"recycling_steps": 1, "sampling_steps": 20}
TOKEN_Z, TOKEN_S, PAIR_COPIES, TRI_HEADS = 128, 384, 14, 4
CHUNKED_COPIES, CHUNK = 5, 128


#: Boltz's knobs, bounded once for `complex` and `screen`
Samples = Annotated[int, Limits(ge=1, le=25, unit="samples")]
RecyclingSteps = Annotated[int, Limits(ge=0, le=20, unit="steps")]
SamplingSteps = Annotated[int, Limits(ge=1, le=1000, unit="steps")]


@dataclass(frozen=True)
class ComplexRequest:
    proteins: tuple[str, ...] = ()  #: protein sequences, one chain each
    dna: tuple[str, ...] = ()  #: DNA sequences (A, C, G, T), one chain each
    rna: tuple[str, ...] = ()  #: RNA sequences (A, C, G, U), one chain each
    ligands: tuple[str, ...] = ()  #: ligands as SMILES
    ligand_ccd: tuple[str, ...] = ()  #: ligands as CCD codes (ATP, HEM, ...)
    yaml: str | None = None  #: a Boltz-style YAML file (sequences, constraints, templates)
    fasta: str | None = None  #: a FASTA file with typed headers (>A|protein, >B|smiles, >C|ccd)
    name: Annotated[str, MaxLen(64)] = "complex"  #: the prediction's name in file names
    seeds: tuple[int, ...] = (0,)  #: one run per seed; seeds fan out over devices
    samples: Samples = 1  #: diffusion samples per seed
    recycling_steps: RecyclingSteps = 3  #: trunk recycling passes (Boltz's default 3)
    sampling_steps: SamplingSteps = 200  #: diffusion steps per sample (Boltz's default 200)
    chunking: Literal["auto", "on", "off"] = "auto"  #: auto: chunked only where the plain run does not fit
    tiny: bool = False  #: random tiny Boltz-2 of the same architecture (tests, demos)
    plots: bool = True  #: PAE heat maps with chain boundaries
    checks: bool = True  #: PoseBusters checks of every ligand pose against the polymers
    #: pocket restraints, "BINDER: CHAIN:RES, ... [@ Å]" (e.g. "B: A:12, A:15 @ 6"); chains are lettered
    #: proteins, DNA, RNA, SMILES ligands, CCD ligands; measured in every sample
    pockets: tuple[str, ...] = ()
    #: contact restraints, "CHAIN:RES, CHAIN:RES|ATOM [@ Å]" (e.g. "A:12, B:C1 @ 8"); measured in every sample
    contacts: tuple[str, ...] = ()
    #: Boltz's inference-time physical potentials (`boltz predict --use_potentials`): Feynman-Kac steering
    #: with 3 particles and physical guidance, for physically valid poses (more PoseBusters passes, slower)
    potentials: bool = False
    #: the ligand chain whose binding affinity Boltz-2's affinity model predicts after co-folding (e.g. "B");
    #: a YAML `properties: - affinity: binder: B` entry asks the same
    affinity: str | None = None
    #: diffusion steps of the affinity model's own pose (None: as `sampling_steps`; Boltz's default is 200)
    affinity_sampling_steps: SamplingSteps | None = None
    affinity_samples: Samples = 5  #: diffusion samples of the affinity pass (Boltz's default 5)

    def __post_init__(self) -> None:
        for name in ("proteins", "dna", "rna", "ligands", "ligand_ccd", "seeds", "pockets", "contacts"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, (str, int)) else tuple(value))
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise InputError("Give one or more different seeds.")
        if not isinstance(self.name, str) or safe_name(self.name, fallback="") != self.name:
            raise InputError(f"name {label(str(self.name))!r} names the output files: use 1-64 letters, digits, "
                             "'-', '_' or '.' (not first).")
        self.entities()  # every input check, now

    def entities(self) -> tuple[list[Entity], dict[str, Any]]:
        given = [bool(self.proteins or self.dna or self.rna or self.ligands or self.ligand_ccd),
                 self.yaml is not None, self.fasta is not None]
        if sum(given) > 1:
            raise InputError("Give the complex one way: sequences and ligands, a YAML file, or a FASTA file.")
        if self.yaml is not None:
            ents, extra = inputs.from_yaml(self.yaml)
        elif self.fasta is not None:
            ents, extra = inputs.from_fasta(self.fasta), {}
        else:
            ents, extra = inputs.from_fields(self.proteins, self.dna, self.rna, self.ligands, self.ligand_ccd), {}
        typed = restraints.constraints(self.pockets, self.contacts)
        for text, item in zip((*self.pockets, *self.contacts), typed, strict=True):
            try:  # every chain and residue it names is in the complex
                inputs.check_sections(ents, {"constraints": [item]}, Path.cwd(), "")
            except InputError as exc:
                raise InputError(f"{next(iter(item))} {text[:80]!r}: {str(exc).split(': ', 1)[-1]}") from None
        if typed:
            extra = {**extra, "constraints": [*(extra.get("constraints") or []), *typed]}
        if self.affinity is not None:
            if extra.get("properties"):
                raise InputError("Ask for affinity once: the YAML's properties already name a binder.")
            asked = {"properties": [{"affinity": {"binder": self.affinity}}]}
            try:
                inputs.check_sections(ents, asked, Path.cwd(), "")
            except InputError as exc:
                raise InputError(f"affinity {self.affinity[:20]!r}: {str(exc).split(': ', 1)[-1]}") from None
            extra = {**extra, **asked}
        return inputs.check_complex(ents), extra


@dataclass
class ComplexSample:
    seed: int
    sample: int
    rank: int  #: 1 = the highest confidence score over all seeds and samples
    confidence_score: float
    ptm: float
    iptm: float
    ligand_iptm: float
    complex_plddt: float  #: 0-1
    posebusters_passed: int | None = None  #: ligands passing every check (None: no ligand or checks off)
    posebusters_failures: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  #: keys into ComplexResult.files
    #: each pocket / contact restraint measured in this sample: restraint, distance (Å), limit, satisfied
    restraints: list[dict[str, Any]] = field(default_factory=list)

    @property
    def restraints_satisfied(self) -> str:
        """"k/n" of the restraints that hold in this sample ("" without restraints)."""
        return f"{sum(r['satisfied'] for r in self.restraints)}/{len(self.restraints)}" if self.restraints else ""


@dataclass
class ComplexResult:
    name: str
    chains: list[dict[str, Any]]  #: chain id, type, length / ligand
    tokens: int
    samples: list[ComplexSample]  #: best first
    model: str
    chunked: bool
    estimate_bytes: int
    posebusters_pass_rate: float | None = None  #: ligand poses passing every check, over all samples
    files: dict[str, Path] = field(default_factory=dict)
    #: Boltz-2's affinity prediction for the binder, as its `affinity_*.json`: `affinity_pred_value`
    #: (log10 of an IC50 in µM: lower binds tighter; -3 is 1 nM, 0 is 1 µM, 2 is 100 µM),
    #: `affinity_probability_binary` (0-1, the chance the ligand is a binder at all), the two ensemble
    #: members' values, `binder_chain`; None when no affinity was asked
    affinity: dict[str, Any] | None = None

    @property
    def best_stem(self) -> str:
        """The file stem of the best sample: `files[f"{best_stem}.cif"]`, `.confidence`, `.arrays`, `.pae`."""
        return sample_stem(self.name, self.samples[0].seed, self.samples[0].sample)

    def summary(self) -> str:
        """The line (or few) a person reads first: the CLI's headline, `jobs list`, the widget and Gradio."""
        chains = ", ".join(f"{c['chain']} {c['type']}" + (f" {c['length']}" if "length" in c else f" {c['ligand']}")
                           for c in self.chains)
        lines = [f"{self.name}: {chains}; {self.tokens} tokens" + (", chunked" if self.chunked else "")
                 + (" [random test weights]" if self.model.endswith("tiny") else "")]
        for s in self.samples[:5]:
            line = (f"  #{s.rank} seed {s.seed} sample {s.sample}: confidence {s.confidence_score:.3f}, "
                    f"pTM {s.ptm:.2f}, ipTM {s.iptm:.2f}, pLDDT {100 * s.complex_plddt:.1f}")
            if s.posebusters_passed is not None:
                line += f", PoseBusters {s.posebusters_passed} ligand(s) pass"
            held = getattr(s, "restraints", None) or []
            if held:
                line += f", restraints {sum(bool(x['satisfied']) for x in held)}/{len(held)} met (" + "; ".join(
                    f"{x['restraint']} {x['distance']:.1f} of {x['limit']:g} Å" for x in held) + ")"
            lines.append(line)
        if self.posebusters_pass_rate is not None:
            lines.append(f"  ligand poses passing every PoseBusters check: {self.posebusters_pass_rate:.0%}")
        a = getattr(self, "affinity", None)
        if a:
            lines.append(affinity_line(a))
        return "\n".join(lines)


def affinity_line(a: Any) -> str:
    """Boltz-2's affinity values with their units and meaning, in one line."""
    value, chance = float(a["affinity_pred_value"]), float(a["affinity_probability_binary"])
    return (f"  affinity of {a.get('binder_chain', 'the ligand')}: log10 IC50 {value:.2f} (IC50 about "
            f"{10 ** value:.3g} µM; lower binds tighter), binder probability {chance:.2f}"
            + (" [random weights: meaningless]" if a.get("random_weights") else ""))


def sample_stem(name: str, seed: int, sample: int) -> str:
    return f"{name}_seed{seed}_sample{sample}"


# ---- memory -----------------------------------------------------------------------------

def estimate_memory(tokens: int, atoms: int, *, samples: int = 1, chunked: bool = False,
                    parameters: float = 5.07e8, msa_rows: int = 1, token_z: int = TOKEN_Z,
                    token_s: int = TOKEN_S) -> int:
    """Bytes a Boltz-2 run needs: weights (fp32), the pair representation and its working copies in
    the pairformer (triangle updates and attention: 14 copies; 5 when chunked, where triangle attention
    also works in 128-row chunks), triangle-attention logits, the MSA stack, the diffusion samples run
    together (atoms in 32 x 128 windows, token attention) and the confidence/distogram logits."""
    n = tokens
    pair = n * n * token_z * 4
    copies = CHUNKED_COPIES if chunked else PAIR_COPIES
    tri = TRI_HEADS * (min(n, CHUNK) if chunked else n) * n * n * 4
    msa = msa_rows * n * 64 * 4 * 6
    windows = -(-atoms // 32)
    diffusion = samples * (windows * 32 * 128 * 16 * 4 * 3 + n * n * 16 * 4 + atoms * 128 * 4 * 8)
    heads = samples * n * n * (64 + 64 + 64) * 4 + n * n * 64 * 4
    single = n * token_s * 4 * 8
    return int(parameters * 4 + pair * copies + tri + msa + diffusion + heads + single + GiB // 2)


def _estimate(ents: list[Entity], samples: int, parameters: float, chunked: bool) -> int:
    return estimate_memory(inputs.tokens(ents), inputs.atoms(ents), samples=min(samples, 5), chunked=chunked,
                           parameters=parameters)


#: Boltz crops the affinity pass to the pocket: at most this many tokens and atoms
AFFINITY_CROP = (256, 2048)


def affinity_memory(tokens: int, atoms: int, samples: int = 5, parameters: float = 5.07e8) -> int:
    """Bytes the affinity pass adds: its model's weights, resident beside the structure model's, a run on
    the pocket crop (Boltz's 256-token / 2048-atom crop) with its diffusion samples, and the pair stacks of
    its two affinity modules over the crop and the trunk's kept beside them (measured at Boltz-2's widths,
    `benchmarks/complex.py`: without them the estimate was 0.92x the peak; with two stacks 1.02x, too close
    to run-to-run noise; three are counted)."""
    crop = min(tokens, AFFINITY_CROP[0])
    heads = 3 * crop * crop * TOKEN_Z * 4 * PAIR_COPIES  # two modules' stacks and the trunk's, kept beside them
    return estimate_memory(crop, min(atoms, AFFINITY_CROP[1]), samples=min(samples, 5), parameters=parameters) + heads


def _affinity_estimate(ents: list[Entity], request: ComplexRequest, extra: dict[str, Any]) -> int:
    if not extra.get("properties"):
        return 0
    return affinity_memory(inputs.tokens(ents), inputs.atoms(ents), request.affinity_samples,
                           models.get_spec("boltz-2-affinity").parameters)


def requirements(request: ComplexRequest) -> Requirements:
    """Checked at submit, before a job exists: CCD codes against the dictionary, and the least memory
    any device needs (chunked)."""
    ents, extra = request.entities()
    check_components(ents, request.tiny)
    if request.tiny:
        return Requirements()
    return Requirements(min_memory=_estimate(ents, request.samples, models.get_spec("boltz-2").parameters,
                                             chunked=True) + _affinity_estimate(ents, request, extra),
                        workload="compute")


def check_components(ents: list[Entity], tiny: bool) -> None:
    """Every CCD code the complex names is in the component dictionary the model will use."""
    codes = [e.ccd for e in ents if e.ccd]
    if not codes:
        return
    from workbench.tasks.molecules.complexes.model import TINY_COMPONENTS, components_folder, tiny_components

    if tiny:
        folder, what = tiny_components(), f"the tiny model's dictionary ({', '.join(sorted(TINY_COMPONENTS))})"
    else:
        try:
            snapshot = models.local_path("boltz-2")
        except ModelNotAvailable:  # the job will say which command pulls the model
            return
        if snapshot is None or not (snapshot / "mols.tar").is_file():
            return
        folder, what = components_folder(snapshot), "the Chemical Component Dictionary of Boltz-2"
    for code in codes:
        if not ccd.known(folder, code):
            raise InputError(f"Unknown CCD code {code!r}: it is not in {what}; give the ligand as SMILES instead.")


def work(request: ComplexRequest) -> float:
    ents, _ = request.entities()
    return float(inputs.tokens(ents) * len(request.seeds) * request.samples)


def split(request: ComplexRequest, n: int) -> list[ComplexRequest]:
    """Seeds dealt over up to `n` devices (the samples of one seed stay together)."""
    n = max(1, min(n, len(request.seeds)))
    size = -(-len(request.seeds) // n)
    return [replace(request, seeds=request.seeds[k * size:(k + 1) * size]) for k in range(n)
            if request.seeds[k * size:(k + 1) * size]]


def merge(results: list[ComplexResult]) -> ComplexResult:
    from workbench.tasks.molecules.complexes import report

    first = results[0]
    samples = [s for r in results for s in r.samples]
    files = {k: v for r in results for k, v in r.files.items()}
    out = Path(tempfile.mkdtemp(prefix="workbench-complex-"))  # the parent's own files: the merged summary
    merged = ComplexResult(first.name, first.chains, first.tokens, samples, first.model,
                           any(r.chunked for r in results), max(r.estimate_bytes for r in results), files=files)
    report.rank(merged)
    files["summary"] = report.write_summary(merged, out / f"{first.name}_summary.csv")
    return merged


# ---- the task ---------------------------------------------------------------------------

def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _prepare(ents: list[Entity], extra: dict[str, Any], name: str, mols: Path, folder: Path) -> Path:
    """Boltz's own preprocessing of one input, quietly (it prints as a command line tool would)."""
    import yaml
    from boltz.data.mol import load_canonicals
    from boltz.data.types import Manifest, Record
    from boltz.main import process_input

    folder.mkdir(parents=True, exist_ok=True)
    source = folder / f"{name}.yaml"
    source.write_text(yaml.safe_dump(inputs.boltz_yaml(ents, extra), sort_keys=False))
    processed = folder / "processed"
    dirs = {k: processed / k for k in ("msa", "constraints", "templates", "mols", "structures", "records")}
    for d in [*dirs.values(), folder / "msa"]:
        d.mkdir(parents=True, exist_ok=True)
    from rdkit import rdBase

    rdBase.DisableLog("rdApp.info")  # RDKit's "Initializing Normalizer" on Boltz's first standardisation
    with contextlib.redirect_stdout(io.StringIO()):
        process_input(source, ccd=load_canonicals(mols), msa_dir=folder / "msa", mol_dir=mols, boltz2=True,
                      use_msa_server=False, msa_server_url="", msa_pairing_strategy="greedy",
                      msa_server_username=None, msa_server_password=None, api_key_header=None,
                      api_key_value=None, max_msa_seqs=8192, processed_msa_dir=dirs["msa"],
                      processed_constraints_dir=dirs["constraints"], processed_templates_dir=dirs["templates"],
                      processed_mols_dir=dirs["mols"], structure_dir=dirs["structures"],
                      records_dir=dirs["records"])
    Manifest([Record.load(p) for p in dirs["records"].glob("*.json")]).dump(processed / "manifest.json")
    return processed


def features(processed: Path, mols: Path, device: str) -> dict[str, Any]:
    """Tokens and features of the one record, on `device`, as Boltz's data module hands them over."""
    from boltz.data.module.inferencev2 import Boltz2InferenceDataModule, PredictionDataset, collate
    from boltz.data.types import Manifest

    dataset = PredictionDataset(
        manifest=Manifest.load(processed / "manifest.json"), target_dir=processed / "structures",
        msa_dir=processed / "msa", mol_dir=mols, constraints_dir=processed / "constraints",
        template_dir=processed / "templates", extra_mols_dir=processed / "mols")
    batch = collate([dataset[0]])
    import torch

    return Boltz2InferenceDataModule.transfer_batch_to_device(None, batch, torch.device(device), 0)


@contextlib.contextmanager
def _chunked(on: bool):
    """Boltz switches to chunked triangle attention and transitions above a token threshold; a job
    that needs chunking to fit lowers it while it holds the model."""
    from boltz.data import const

    before = const.chunk_size_threshold
    if on:
        const.chunk_size_threshold = 0
    try:
        yield
    finally:
        const.chunk_size_threshold = before


def _layers(module: Any, name: str) -> list[Any]:
    return list(getattr(getattr(module, name, None), "layers", None) or [])


def _trunk_layers(module: Any) -> tuple[list[Any], list[Any], list[Any]]:
    """The MSA and pairformer layers of each recycling pass, and the confidence module's pairformer."""
    confidence = getattr(module, "confidence_module", None)
    return (_layers(module, "msa_module"), _layers(module, "pairformer_module"),
            _layers(confidence, "pairformer_stack") if confidence is not None else [])


def _hooks(module: Any, report: Any) -> list[Any]:
    """Progress (and cancel) at every MSA and pairformer layer of every recycling pass (a pass of the
    full model's 64 pairformer layers takes seconds even on a GPU), every diffusion step and every
    layer of each confidence pass."""
    msa, pair, conf = _trunk_layers(module)
    hooks = []

    def at(stage: str, i: int, n: int) -> Any:
        return lambda m, a: report(stage, i, n)

    for stage, layers in (("MSA", msa), ("pairformer", pair), ("confidence", conf)):
        hooks += [layer.register_forward_pre_hook(at(stage, i, len(layers))) for i, layer in enumerate(layers)]
    hooks.append(module.structure_module.score_model.register_forward_pre_hook(lambda m, a: report("diffusion", 0, 0)))
    return hooks


@contextlib.contextmanager
def _holding(module: Any, step: Any, predict_args: dict[str, Any], potentials: bool) -> Any:
    """The shared model held by one run: its lock, progress hooks (`step`), this run's predict arguments and
    steering; all given back as they were, whatever happens."""
    lock = models.exclusive(module)
    lock.acquire()
    hooks = _hooks(module, step)
    saved_args, saved_steering = dict(module.predict_args), module.steering_args
    try:
        module.predict_args.update(predict_args)
        module.steering_args = steering(saved_steering, potentials)
        yield module
    finally:
        module.predict_args.clear()
        module.predict_args.update(saved_args)
        module.steering_args = saved_steering
        for h in hooks:
            h.remove()
        lock.release()


def steering(current: dict[str, Any] | None, potentials: bool) -> dict[str, Any]:
    """The model's steering arguments for one run: with `potentials`, Boltz's Feynman-Kac steering and
    physical guidance on, as `boltz predict --use_potentials` sets them; contact guidance (which steers
    towards pocket and contact restraints) stays as loaded."""
    args = dict(current or {})
    args["fk_steering"] = args["physical_guidance_update"] = bool(potentials)
    if potentials:
        args.setdefault("num_particles", 3)
        args.setdefault("fk_lambda", 4.0)
        args.setdefault("fk_resampling_interval", 3)
        args.setdefault("num_gd_steps", 20)
    return args


def _affinity(request: ComplexRequest, ctx: TaskContext, processed: Path, work_dir: Path, mols: Path,
              ranked_seeds: list[int], device: str, autocast: Any, chunk: bool) -> dict[str, Any]:
    """Boltz-2's affinity pass, as `boltz predict` runs it after co-folding: the affinity model (its own
    checkpoint) on the pocket crop of the best pose (`pre_affinity_*.npz`, written by Boltz's writer),
    with its own recycling and diffusion, written by `BoltzAffinityWriter`. Progress per layer and step;
    a cancel takes effect at the next one."""
    import torch
    from boltz.data.module.inferencev2 import Boltz2InferenceDataModule, PredictionDataset, collate
    from boltz.data.types import Manifest
    from boltz.data.write.writer import BoltzAffinityWriter
    from boltz.main import expand_affinity_records

    record = Manifest.load(processed / "manifest.json").records[0]
    seed = next((s for s in ranked_seeds if (work_dir / f"seed{s}" / record.id /
                                             f"pre_affinity_{record.id}.npz").is_file()), None)
    if seed is None:  # every seed came from an earlier run's checkpoints: no pose file to crop here
        raise InputError("The affinity pass needs a pose predicted in this run; run the job again.")
    ctx.progress(Progress(0, None, "affinity: loading Boltz-2's affinity model"
                          + (" (tiny, random weights)" if request.tiny else "")))
    module = models.load("boltz-2-affinity", device, "float32", tiny=request.tiny).module
    dataset = PredictionDataset(
        manifest=expand_affinity_records(Manifest([record])), target_dir=work_dir / f"seed{seed}",
        msa_dir=processed / "msa", mol_dir=mols, constraints_dir=processed / "constraints",
        template_dir=processed / "templates", extra_mols_dir=processed / "mols", override_method="other",
        affinity=True)
    batch = Boltz2InferenceDataModule.transfer_batch_to_device(None, collate([dataset[0]]), torch.device(device), 0)
    sampling = request.affinity_sampling_steps or request.sampling_steps
    recycling = min(5, request.recycling_steps) if request.tiny else 5  # Boltz runs the affinity trunk 5 times
    msa, pair, conf = _trunk_layers(module)
    total = (recycling + 1) * (len(msa) + len(pair)) + sampling * -(-request.affinity_samples // 5) + len(conf) * \
        request.affinity_samples
    done = [0]

    def step(stage: str, i: int, n: int) -> None:
        done[0] += 1
        ctx.progress(Progress(min(done[0], total), total, f"affinity: {stage}" + (f" layer {i + 1}/{n}" if n else
                                                                                    " step")))

    args = {"recycling_steps": recycling, "sampling_steps": sampling, "diffusion_samples": request.affinity_samples,
            "max_parallel_samples": min(5, request.affinity_samples), "write_confidence_summary": False,
            "write_full_pae": False, "write_full_pde": False}
    with _holding(module, step, args, request.potentials):
        _seed_everything(seed)
        with torch.inference_mode(), _chunked(chunk), autocast:
            prediction = module.predict_step(batch, 0)
    if prediction.get("exception"):
        raise DeviceError(f"{ctx.device_id} ran out of memory in the affinity pass; use a device with more memory.")
    written = work_dir / "affinity"
    BoltzAffinityWriter(data_dir=str(processed / "structures"), output_dir=str(written)).write_on_batch_end(
        None, None, prediction, [0], batch, 0, 0)
    found = sorted(written.rglob("affinity_*.json"))
    values = json.loads(found[0].read_text())
    values.update({"model": "Boltz-2 affinity (tiny, random weights)" if request.tiny else "Boltz-2 affinity",
                   "pose_seed": seed, "random_weights": request.tiny,
                   "units": "affinity_pred_value: log10(IC50 / 1 µM); affinity_probability_binary: 0-1"})
    return values


def run(request: ComplexRequest, ctx: TaskContext) -> ComplexResult:
    import torch

    from workbench.tasks.molecules.complexes import report

    ents, extra = request.entities()
    check_components(ents, request.tiny)
    device = ctx.torch_device
    progress = ctx.progress
    progress(Progress(0, None, "loading Boltz-2" + (" (tiny, random weights)" if request.tiny else "")))
    bundle = models.load("boltz-2", device, "float32", tiny=request.tiny)
    module = bundle.module
    n_params = float(bundle.parameter_count)
    extra_need = _affinity_estimate(ents, request, extra)  # the affinity model and its pass, when asked
    plain = _estimate(ents, request.samples, n_params, chunked=False) + extra_need
    chunked_need = _estimate(ents, request.samples, n_params, chunked=True) + extra_need
    free = ctx.free_memory() + int(n_params * 4)  # the weights are resident already
    if request.chunking == "on":
        chunk = True
    elif request.chunking == "off":
        chunk = False
    else:
        chunk = plain > free
    need = chunked_need if chunk else plain
    if need > free and not request.tiny:
        raise InputError(f"This complex needs about {need / GiB:.1f} GiB on {ctx.device_id} and "
                         f"{free / GiB:.1f} GiB is free; use a device with more memory or fewer samples.")
    out = ctx.workdir
    work_dir = ctx.subdir("boltz")
    progress(Progress(0, None, f"preparing {len(ents)} chain(s) (Boltz's input processing)"))
    processed = _prepare(ents, extra, request.name, bundle.mols, work_dir)
    progress(Progress(0, None, "building features"))
    batch = features(processed, bundle.mols, device)
    n_tokens = int(batch["token_pad_mask"].sum().item())

    # one unit per trunk layer, diffusion step and confidence layer, per seed
    parallel = min(request.samples, 5)
    msa, pair, conf = _trunk_layers(module)
    passes = request.recycling_steps + 1
    diffusion_steps = request.sampling_steps * -(-request.samples // parallel)
    per_seed = passes * (len(msa) + len(pair)) + diffusion_steps + request.samples * max(1, len(conf))
    total = per_seed * len(request.seeds)
    state: dict[str, Any] = {"done": 0, "label": "", "pass": 0, "diffusion": 0, "confidence": 0}

    def step(stage: str, i: int, n: int) -> None:
        state["done"] += 1
        if stage in ("MSA", "pairformer"):
            if i == 0 and (stage == "MSA" or not msa):
                state["pass"] += 1
            where = f"recycle {state['pass']}/{passes}, {stage} layer {i + 1}/{n}"
        elif stage == "diffusion":
            state["diffusion"] += 1
            where = f"diffusion step {state['diffusion']}/{diffusion_steps}"
        else:
            state["confidence"] += i == 0
            where = f"confidence of sample {state['confidence']}/{request.samples}, layer {i + 1}/{n}"
        progress(Progress(min(state["done"], total), total, f"{state['label']}: {where}"))

    samples: list[ComplexSample] = []
    files: dict[str, Path] = {}
    autocast = (torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
                if ctx.dtype() == "bfloat16" else contextlib.nullcontext())
    args = {"recycling_steps": request.recycling_steps, "sampling_steps": request.sampling_steps,
            "diffusion_samples": request.samples, "max_parallel_samples": parallel}
    with _holding(module, step, args, request.potentials):
        for i, seed in enumerate(request.seeds):
            state.update({"done": i * per_seed, "label": f"seed {seed}", "pass": 0, "diffusion": 0, "confidence": 0})
            if str(seed) in ctx.checkpoints:  # predicted by an earlier run of this job (it moved here)
                samples.extend(report.restore(ctx.checkpoints[str(seed)], out, files))
                continue
            _seed_everything(seed)
            with torch.inference_mode(), _chunked(chunk), autocast:
                prediction = module.predict_step(batch, 0)
            if prediction.get("exception"):
                raise DeviceError(f"{ctx.device_id} ran out of memory on a {n_tokens}-token complex; "
                                  "use a device with more memory, chunking=on, or fewer samples.")
            progress(Progress(state["done"], total, f"seed {seed}: writing {request.samples} sample(s) and "
                                                     "checking their poses"))
            seed_samples, seed_files = report.write_seed(
                prediction, batch, processed, bundle.mols, ents, request, seed, out, work_dir, ComplexSample,
                sample_stem, extra.get("constraints"))
            samples.extend(seed_samples)
            files.update(seed_files)
            ctx.checkpoint(str(seed), report.checkpoint(seed_samples, seed_files))
    result = ComplexResult(request.name, report.chain_table(ents), n_tokens, samples,
                           "boltz-2-tiny" if request.tiny else "boltz-2", chunk, need, files=files)
    report.rank(result)
    if extra.get("properties"):  # Boltz-2's second model, on the best pose written in this run
        result.affinity = _affinity(request, ctx, processed, work_dir, bundle.mols,
                                    [s.seed for s in result.samples], device, autocast, chunk)
        path = out / f"{request.name}_affinity.json"
        path.write_text(json.dumps(result.affinity, indent=2))
        files["affinity"] = path
    files["summary"] = report.write_summary(result, out / f"{request.name}_summary.csv")
    (out / f"{request.name}_input.yaml").write_text((work_dir / f"{request.name}.yaml").read_text())
    files["input"] = out / f"{request.name}_input.yaml"
    shutil.rmtree(work_dir, ignore_errors=True)
    progress(Progress(total, total, f"{len(samples)} sample(s) written"))
    return result

