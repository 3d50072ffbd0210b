"""Protein structure prediction with ESMFold (transformers' `EsmForProteinFolding`).

Pipeline per protein, top to bottom:

1. normalise the sequence (case, whitespace) and refuse illegal letters;
2. join complex chains with a poly-G linker and a residue-index gap (how ESMFold folds
   multimers), then run the model once, reporting progress per trunk block (which is
   also where a cancel takes effect);
3. cut the linker out, split the chains back, write a PDB (pLDDT in the B-factor column) and
   a PDBx/mmCIF with entities and ModelCIF quality metrics (`modelcif.py`), PAE as AlphaFold
   DB JSON and `.npy`, pLDDT per residue as CSV, a PAE heat map and a pLDDT plot.

Weights come from the model registry (`workbench models pull esmfold`); `tiny=True` uses a
randomly initialised model of the same architecture, for tests and offline demos.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np

from workbench import models
from workbench.contract import InputError, Progress, Requirements, TaskContext
from workbench.contract.limits import Limits
from workbench.tasks.checkpoint_files import pack_files, unpack_files
from workbench.tasks.molecules.modelcif import RANDOM_WEIGHTS_NOTE, renumber_pdb, write_modelcif
from workbench.tasks.molecules.plots import pae_png, plddt_png
from workbench.tasks.molecules.sequences import ProteinInput, file_stem, read_proteins
from workbench.tasks.molecules.structure_io import pdb_string, split_chains

GiB = 1024**3
#: ESMFold v1: ESM-2 3B language model plus the folding trunk, about 3.5e9 parameters
ESMFOLD_PARAMETERS = 3.5e9
PAIR_DIM = 128
MAX_LENGTH = 4000


@dataclass(frozen=True)
class FoldRequest:
    sequences: tuple[str, ...] = ()  #: one per protein; chains of a complex joined by ':'
    fasta: str | None = None  #: a FASTA file: one protein per record (its header names it)
    names: tuple[str, ...] = ()  #: names for the sequences, in order (default: protein_1, protein_2, ...)
    #: None: the model's default (4 for ESMFold v1)
    num_recycles: Annotated[int, Limits(ge=0, le=48, unit="recycles")] | None = None
    #: None: chosen from the device's free memory
    chunk_size: Annotated[int, Limits(ge=1, le=4096, unit="residues")] | None = None
    linker_length: Annotated[int, Limits(ge=0, le=200, unit="residues")] = 25  #: glycines between chains of a complex
    residue_gap: Annotated[int, Limits(ge=1, le=10_000)] = 512  #: residue-index jump between chains
    tiny: bool = False  #: random tiny model of the same architecture (tests, demos)
    plots: bool = True  #: PAE heat map and pLDDT plot as PNG

    def __post_init__(self) -> None:
        for name in ("sequences", "names"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        if not self.sequences and not self.fasta:
            raise InputError("Give at least one protein sequence (or a FASTA file).")
        read_proteins(self.sequences, self.fasta, self.names)  # illegal letters and bad files: now, not in a job


@dataclass
class FoldedProtein:
    name: str
    chains: list[str]  #: chain ids in the output files
    lengths: list[int]
    mean_plddt: float  #: 0-100
    ptm: float
    plddt: list[float]  #: per residue, linker removed
    files: list[str] = field(default_factory=list)  #: keys into FoldResult.files


@dataclass
class FoldResult:
    proteins: list[FoldedProtein]
    model: str
    dtype: str
    chunk_size: int | None
    files: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        """The line (or few) a person reads first: the CLI's headline, `jobs list`, the widget and Gradio."""
        lines = []
        for p in self.proteins:
            line = f"{p.name}: mean pLDDT {p.mean_plddt:.1f}, pTM {p.ptm:.2f}"
            if len(p.chains) > 1:
                per_chain, start = [], 0
                for chain, length in zip(p.chains, p.lengths):
                    values = p.plddt[start:start + length]
                    per_chain.append(f"{chain} {sum(values) / max(1, len(values)):.1f} ({length} res)")
                    start += length
                line += "; pLDDT per chain " + ", ".join(per_chain)
            else:
                line += f" ({p.lengths[0]} residues)"
            lines.append(line + (" [random test weights]" if self.model.endswith("tiny") else ""))
        return "\n".join(lines)


# ---- memory -----------------------------------------------------------------------------

def estimate_memory(length: int, *, weights_dtype_bytes: int = 2, chunk_size: int | None = None,
                    parameters: float = ESMFOLD_PARAMETERS) -> int:
    """Bytes ESMFold needs for a (joined) sequence of `length` residues.

    Weights, plus the pair representation (L^2 x 128 fp32) times the working copies the
    triangular updates and attention keep alive: about 12 without chunking, 4 with.
    """
    copies = 12 if chunk_size is None else 4
    return int(parameters * weights_dtype_bytes + length**2 * PAIR_DIM * 4 * copies + 1 * GiB)


def joined_length(protein: ProteinInput, linker: int) -> int:
    return protein.length + linker * (len(protein.chains) - 1)


def work(request: FoldRequest) -> float:
    return float(sum(p.length for p in read_proteins(request.sequences, request.fasta, request.names)))


def requirements(request: FoldRequest) -> Requirements:
    if request.tiny:
        return Requirements()
    proteins = read_proteins(request.sequences, request.fasta, request.names)
    longest = max(joined_length(p, request.linker_length) for p in proteins)
    # with the smallest chunk: the least any device needs (chunking is chosen per device)
    return Requirements(min_memory=estimate_memory(longest, chunk_size=32), workload="compute")


def choose_chunk_size(length: int, free: int, weights_bytes: int, parameters: float) -> int | None:
    """No chunking when it fits; else the largest chunk that fits; refuses when none does."""
    for chunk in (None, 128, 64, 32):
        if estimate_memory(length, weights_dtype_bytes=weights_bytes, chunk_size=chunk,
                           parameters=parameters) <= free:
            return chunk
    need = estimate_memory(length, weights_dtype_bytes=weights_bytes, chunk_size=32, parameters=parameters)
    raise InputError(
        f"A {length}-residue fold needs about {need / GiB:.1f} GiB on this device and {free / GiB:.1f} GiB "
        "is free; use a device with more memory or a shorter sequence.")


# ---- model ------------------------------------------------------------------------------

def load_esmfold(path: Path | None, device: str, dtype: str) -> Any:
    """The real loader: weights from the Hugging Face cache snapshot at `path`."""
    import torch
    from transformers import EsmForProteinFolding

    model = EsmForProteinFolding.from_pretrained(path, low_cpu_mem_usage=True)
    torch.backends.cuda.matmul.allow_tf32 = True
    return place_esmfold(model, device, dtype)


def place_esmfold(model: Any, device: str, dtype: str) -> Any:
    """The language model in the device's reduced dtype, the folding trunk in float32 (as ESMFold
    runs in half precision), on `device`."""
    import torch

    if dtype != "float32":
        model.esm = model.esm.to(getattr(torch, dtype))
    return model.eval().to(device)


def tiny_esmfold(seed: int = 0) -> Any:
    """A randomly initialised ESMFold with a 2-layer ESM-2 and a 2-block trunk (~0.1 M parameters)."""
    import torch
    from transformers import EsmConfig, EsmForProteinFolding
    from transformers.models.esm.configuration_esm import get_default_vocab_list

    config = EsmConfig(
        vocab_size=33, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        pad_token_id=1, mask_token_id=32, position_embedding_type="rotary", emb_layer_norm_before=False,
        token_dropout=True, is_folding_model=True, vocab_list=get_default_vocab_list(),
        esmfold_config={
            "fp16_esm": False, "lddt_head_hid_dim": 16,
            "trunk": {
                "num_blocks": 2, "sequence_state_dim": 32, "pairwise_state_dim": 16,
                "sequence_head_width": 8, "pairwise_head_width": 8, "position_bins": 16,
                "max_recycles": 2, "chunk_size": None,
                "structure_module": {
                    "sequence_dim": 32, "pairwise_dim": 16, "ipa_dim": 8, "resnet_dim": 16,
                    "num_heads_ipa": 2, "num_qk_points": 2, "num_v_points": 2, "num_blocks": 2,
                },
            },
        },
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = EsmForProteinFolding(config)
    return model.eval()


def _aatype(sequence: str) -> list[int]:
    from transformers.models.esm.openfold_utils import residue_constants as rc

    return [rc.restype_order_with_x.get(c, rc.restype_num) for c in sequence]


# ---- the task ---------------------------------------------------------------------------

def run(request: FoldRequest, ctx: TaskContext) -> FoldResult:
    import torch

    device, progress = ctx.torch_device, ctx.progress
    proteins = read_proteins(request.sequences, request.fasta, request.names)
    for p in proteins:
        if joined_length(p, request.linker_length) > MAX_LENGTH:
            raise InputError(f"{p.name}: {p.length} residues is longer than ESMFold's {MAX_LENGTH}-residue limit.")
    dev = torch.device(device)
    dtype = ctx.dtype()  # the language model's; the trunk stays in float32
    progress(Progress(0, len(proteins), "loading ESMFold" + (" (tiny, random weights)" if request.tiny else "")))
    model = models.load("esmfold", device, dtype, tiny=request.tiny)
    n_params = float(sum(p.numel() for p in model.parameters()))
    trunk = model.trunk
    passes = (request.num_recycles + 1) if request.num_recycles is not None else max(1, trunk.config.max_recycles)
    per_protein = len(trunk.blocks) * passes
    total = per_protein * len(proteins)
    state: dict[str, Any] = {"done": 0, "label": ""}

    def on_block(module: Any, args: Any) -> None:  # progress per trunk block; raises on cancel
        state["done"] += 1
        progress(Progress(state["done"], total, state["label"]))

    out_dir = ctx.workdir
    files: dict[str, Path] = {}
    folded = []
    chunk_used: int | None = None
    lock = models.exclusive(model)  # the hooks and the chunk size belong to this job while it runs
    lock.acquire()
    hooks = [b.register_forward_pre_hook(on_block) for b in trunk.blocks]
    try:
        for i, protein in enumerate(proteins):
            state["done"] = i * per_protein
            state["label"] = f"{protein.name} ({protein.length} residues)"
            if str(i) in ctx.checkpoints:  # folded by an earlier run of this job (it moved here)
                folded.append(_restore(ctx.checkpoints[str(i)], out_dir, files))
                continue
            linker = "G" * request.linker_length
            joined = linker.join(protein.chains)
            positions: list[int] = []
            offset = 0
            for c, chain in enumerate(protein.chains):
                start = offset + c * request.residue_gap
                positions.extend(range(start, start + len(chain)))
                if c < len(protein.chains) - 1:
                    positions.extend(range(start + len(chain), start + len(chain) + request.linker_length))
                offset += len(chain) + request.linker_length
            chunk = request.chunk_size
            if chunk is None:
                chunk = choose_chunk_size(len(joined), ctx.free_memory() + _model_bytes(model),
                                          4 if dtype == "float32" else 2, n_params)
            trunk.set_chunk_size(chunk)
            chunk_used = chunk
            aatype = torch.tensor([_aatype(joined)], device=dev)
            mask = torch.ones_like(aatype)
            pos = torch.tensor([positions], device=dev)
            with torch.inference_mode():
                out = model(aatype, attention_mask=mask, position_ids=pos, num_recycles=request.num_recycles)
            folded.append(_write_outputs(model, out, protein, request, out_dir, files))
            # the protein and its files (as bytes, so they travel from a Ray node too) are a checkpoint
            ctx.checkpoint(str(i), (folded[-1], pack_files(folded[-1].files, files)))
    finally:
        for h in hooks:
            h.remove()
        lock.release()
    progress(Progress(total, total, "written PDB, mmCIF and plots"))
    return FoldResult(folded, "esmfold-tiny" if request.tiny else "esmfold", dtype, chunk_used, files)


def _restore(checkpoint: tuple[FoldedProtein, dict[str, tuple[str, bytes]]], out_dir: Path,
             files: dict[str, Path]) -> FoldedProtein:
    """A protein folded before the job moved: its files written again into this run's folder."""
    protein, blobs = checkpoint
    unpack_files(blobs, out_dir, files)
    return protein


def _model_bytes(model: Any) -> int:
    """The weights are already resident, so they do not count against free memory."""
    return int(sum(p.numel() * p.element_size() for p in model.parameters()))


def _write_outputs(model: Any, out: dict, protein: ProteinInput, request: FoldRequest, out_dir: Path,
                   files: dict[str, Path]) -> FoldedProtein:
    plddt_joined = out["plddt"][0, :, 1].float().cpu().numpy() * 100  # CA lDDT, 0-100
    pdb_text = model.output_to_pdb({k: v for k, v in out.items() if hasattr(v, "to")})[0]
    keep = np.concatenate([np.arange(s, s + len(c)) for s, c in zip(_chain_starts(protein, request), protein.chains)])
    plddt = plddt_joined[keep]
    pae = out["predicted_aligned_error"][0].float().cpu().numpy()[np.ix_(keep, keep)]
    max_pae = out["max_predicted_aligned_error"] if "max_predicted_aligned_error" in out else pae.max()
    structure = split_chains(pdb_text, protein.name, [len(c) for c in protein.chains], request.linker_length,
                             plddt_joined)
    safe = file_stem(protein.name)
    pdb_path, cif_path = out_dir / f"{safe}.pdb", out_dir / f"{safe}.cif"
    ptm = float(out["ptm"].float().item())
    model_name = "ESMFold (tiny, random weights)" if request.tiny else "ESMFold"
    remarks = ([RANDOM_WEIGHTS_NOTE] if request.tiny else []) + [
        f"{model_name} model of {protein.name}; mean pLDDT {plddt.mean():.2f}, pTM {ptm:.4f}",
        "B-factor column: per-residue pLDDT (0-100)"]
    pdb_path.write_text(renumber_pdb(pdb_string(structure), remarks))
    write_modelcif(structure, cif_path, title=f"{model_name} model of {protein.name}", model_name=model_name,
                   mean_plddt=float(plddt.mean()), ptm=ptm, random_weights=request.tiny)
    pae_rounded = np.round(pae, 2)
    pae_json = out_dir / f"{safe}_pae.json"  # the AlphaFold DB layout PAE viewers read
    pae_json.write_text(json.dumps([{"predicted_aligned_error": pae_rounded.tolist(),
                                     "max_predicted_aligned_error": round(float(max_pae), 2)}]))
    pae_npy = out_dir / f"{safe}_pae.npy"
    np.save(pae_npy, pae.astype(np.float32))
    plddt_csv = out_dir / f"{safe}_plddt.csv"
    rows = ["chain,residue,residue_name,plddt"]
    for chain in structure[0]:
        for res in chain:
            rows.append(f"{chain.id},{res.id[1]},{res.get_resname()},{next(iter(res)).get_bfactor():.2f}")
    plddt_csv.write_text("\n".join(rows) + "\n")
    outputs = [("pdb", pdb_path), ("cif", cif_path), ("pae_json", pae_json), ("pae_npy", pae_npy),
               ("plddt_csv", plddt_csv)]
    if request.plots:
        boundaries = list(np.cumsum([len(c) for c in protein.chains])[:-1])
        outputs.append(("pae", pae_png(pae, out_dir / f"{safe}_pae.png", protein.name, boundaries)))
        outputs.append(("plddt", plddt_png(plddt, out_dir / f"{safe}_plddt.png", protein.name, boundaries)))
    keys = []
    for kind, path in outputs:
        key = f"{safe}.{kind}"
        files[key] = path
        keys.append(key)
    ids = [ch.id for ch in structure[0]]
    return FoldedProtein(protein.name, ids, [len(c) for c in protein.chains], float(plddt.mean()), ptm,
                         [round(float(x), 2) for x in plddt], keys)


def _chain_starts(protein: ProteinInput, request: FoldRequest) -> list[int]:
    starts, offset = [], 0
    for chain in protein.chains:
        starts.append(offset)
        offset += len(chain) + request.linker_length
    return starts
