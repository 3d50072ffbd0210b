"""Boltz-2 as workbench loads it: the checkpoint and the component dictionary, side by side.

The real loader reads the Hugging Face snapshot of `boltz-community/boltz-2`
(`boltz2_conf.ckpt` + `mols.tar`, what `boltz predict` downloads into `~/.boltz`) through
`Boltz2.load_from_checkpoint` with the same inference overrides `boltz predict` passes
(Boltz-2 diffusion parameters, pairformer and MSA module arguments, no steering potentials),
so a workbench job and `boltz predict` run the same network. `tiny_boltz2` builds Boltz-2's
own classes with small widths (the pairformer keeps 64 blocks and 16 heads, the MSA module its
default shape, so `boltz predict --checkpoint` accepts the tiny checkpoint too) and a component
dictionary built by RDKit (`ccd.py`): tests and offline demos run the whole path with it.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.tasks.molecules.complexes import ccd

#: Boltz-2's network measured by instantiation (trunk, 64-block pairformer, diffusion, confidence)
BOLTZ2_PARAMETERS = 5.07e8
#: components the tiny model's dictionary holds besides the standard residues (CCD code -> SMILES)
TINY_COMPONENTS = {
    "ATP": "Nc1ncnc2c1ncn2[C@@H]1O[C@H](COP(=O)(O)OP(=O)(O)OP(=O)(O)O)[C@@H](O)[C@H]1O",
    "ADP": "Nc1ncnc2c1ncn2[C@@H]1O[C@H](COP(=O)(O)OP(=O)(O)O)[C@@H](O)[C@H]1O",
    "GTP": "Nc1nc2c(ncn2[C@@H]2O[C@H](COP(=O)(O)OP(=O)(O)OP(=O)(O)O)[C@@H](O)[C@H]2O)c(=O)[nH]1",
    "SAM": "C[S+](CC[C@H](N)C(=O)O)C[C@H]1O[C@@H](n2cnc3c(N)ncnc32)[C@H](O)[C@@H]1O",
    "NAG": "CC(=O)N[C@@H]1[C@@H](O)[C@H](O)[C@@H](CO)O[C@H]1O",
    "MG": "[Mg+2]", "ZN": "[Zn+2]",
}


@dataclass
class Boltz2Bundle:
    """What a job needs from a loaded model: the network and the dictionary it was trained with."""

    module: Any  #: boltz.model.models.boltz2.Boltz2
    mols: Path  #: component folder (`CODE.pkl`)
    checkpoint: Path | None  #: the file it came from (None: built in code)
    tiny: bool

    def to(self, *args: Any, **kwargs: Any) -> Boltz2Bundle:
        self.module = self.module.to(*args, **kwargs)
        return self

    @property
    def parameter_count(self) -> int:
        return int(sum(p.numel() for p in self.module.parameters()))


def inference_overrides(recycling_steps: int = 3, sampling_steps: int = 200, diffusion_samples: int = 1,
                        max_parallel_samples: int = 5) -> dict[str, Any]:
    """The keyword arguments `boltz predict` hands to `Boltz2.load_from_checkpoint` (its defaults)."""
    from boltz.main import Boltz2DiffusionParams, BoltzSteeringParams, MSAModuleArgs, PairformerArgsV2

    diffusion = Boltz2DiffusionParams()
    steering = BoltzSteeringParams()
    steering.fk_steering = steering.physical_guidance_update = False
    return {
        "predict_args": {"recycling_steps": recycling_steps, "sampling_steps": sampling_steps,
                         "diffusion_samples": diffusion_samples, "max_parallel_samples": max_parallel_samples,
                         "write_confidence_summary": True, "write_full_pae": True, "write_full_pde": True},
        "diffusion_process_args": asdict(diffusion), "ema": False, "use_kernels": False,
        "use_flash_attn": False, "pairformer_args": asdict(PairformerArgsV2()),
        "msa_args": asdict(MSAModuleArgs(subsample_msa=True, num_subsampled_msa=1024, use_paired_feature=True)),
        "steering_args": asdict(steering),
    }


def _load_checkpoint(path: Path) -> Any:
    import torch
    from boltz.model.models.boltz2 import Boltz2

    original = torch.load  # Lightning checkpoints hold hyper-parameters as plain objects, as boltz loads them
    torch.load = lambda *a, **kw: original(*a, **{**kw, "weights_only": False})
    try:
        return Boltz2.load_from_checkpoint(path, strict=True, map_location="cpu", **inference_overrides())
    finally:
        torch.load = original


def load_boltz2(path: Path | None, device: str, dtype: str) -> Boltz2Bundle:
    """The real loader: `boltz2_conf.ckpt` and `mols.tar` from the Hugging Face snapshot at `path`."""
    from workbench.contract.errors import ModelNotAvailable

    if path is None or not (path / "boltz2_conf.ckpt").is_file() or not (path / "mols.tar").is_file():
        raise ModelNotAvailable("The Boltz-2 snapshot lacks boltz2_conf.ckpt or mols.tar; "
                                "run `workbench models pull boltz-2` again.")
    mols = components_folder(path)
    module = _load_checkpoint(path / "boltz2_conf.ckpt")
    return Boltz2Bundle(module.eval().to(device), mols, path / "boltz2_conf.ckpt", tiny=False)


def components_folder(snapshot: Path) -> Path:
    """The snapshot's `mols.tar`, extracted once into workbench's home (the snapshot stays read-only)."""
    from workbench.paths import home

    return ccd.extract_components(snapshot / "mols.tar", home() / "boltz-components" / snapshot.name)


def tiny_components() -> Path:
    """The tiny model's dictionary: standard residues and `TINY_COMPONENTS`, built once per home."""
    from workbench.paths import home

    folder = home() / "boltz-components" / "tiny"
    marker = folder / ".complete"
    if not marker.exists():
        with tempfile.TemporaryDirectory(dir=home()) as tmp:
            built = ccd.build_components(Path(tmp) / "mols", TINY_COMPONENTS)
            folder.parent.mkdir(parents=True, exist_ok=True)
            if not folder.exists():
                built.rename(folder)
        marker.touch()
    return folder


#: Boltz-2's widths (its training configuration) and the tiny twin's; depths the tiny one keeps are the ones
#: `boltz predict` overrides at load (64 pairformer blocks of 16 heads, the MSA module's shape)
WIDTHS = {
    "full": {"atom_s": 128, "atom_z": 16, "token_s": 384, "token_z": 128, "atom_depth": 3, "atom_heads": 4,
             "dim_fourier": 256, "token_depth": 24, "token_heads": 16, "transition_layers": 2,
             "confidence_blocks": 8},
    "tiny": {"atom_s": 16, "atom_z": 8, "token_s": 32, "token_z": 16, "atom_depth": 1, "atom_heads": 2,
             "dim_fourier": 32, "token_depth": 2, "token_heads": 2, "transition_layers": 1, "confidence_blocks": 2},
}


def tiny_module(seed: int = 0) -> Any:
    """Boltz-2's own network with small widths (~4 M parameters, most in the 64 pairformer blocks), seeded."""
    return build_module("tiny", seed)


def affinity_arguments(widths: str = "tiny") -> dict[str, Any]:
    """Boltz-2's affinity model on top of its structure network: two affinity modules (an ensemble, as the
    published `boltz2_aff.ckpt` holds), each a pairformer over the pocket crop and a transformer head."""
    w = WIDTHS[widths]
    pairformer = {**inference_overrides()["pairformer_args"], "num_blocks": 4 if widths == "full" else 1, "v2": True}
    module = {"pairformer_args": pairformer, "num_dist_bins": 64, "max_dist": 22,
              "transformer_args": {"token_s": w["token_s"], "num_blocks": 4 if widths == "full" else 1,
                                   "num_heads": w["token_heads"], "activation_checkpointing": False}}
    return {"affinity_prediction": True, "affinity_ensemble": True, "affinity_mw_correction": True,
            "affinity_model_args1": module, "affinity_model_args2": module}


def build_module(widths: str = "tiny", seed: int = 0, *, affinity: bool = False) -> Any:
    """Boltz-2's own network at the given widths with random weights, seeded ("full": Boltz-2's own size,
    for measuring memory against the estimate without the real weights; `affinity`: the affinity model,
    Boltz-2's network with its affinity modules, as `boltz2_aff.ckpt` is)."""
    import numpy as np
    import torch
    from boltz.model.models.boltz2 import Boltz2
    from omegaconf import OmegaConf  # Boltz's checkpoints hold training_args as a config (attribute access)

    w = WIDTHS[widths]
    over = inference_overrides()
    pairformer = over["pairformer_args"]
    numpy_state = np.random.get_state()  # Boltz initialises some weights from numpy's global generator
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed)
        module = Boltz2(
            atom_s=w["atom_s"], atom_z=w["atom_z"], token_s=w["token_s"], token_z=w["token_z"], num_bins=64,
            atom_feature_dim=388,
            training_args=OmegaConf.create({"recycling_steps": 1, "sampling_steps": 5, "diffusion_multiplicity": 1,
                                            "diffusion_samples": 1, "max_lr": 5e-4, "weight_decay": 0.003}),
            validation_args={"recycling_steps": 1, "sampling_steps": 5, "diffusion_samples": 1},
            embedder_args={"atom_encoder_depth": w["atom_depth"], "atom_encoder_heads": w["atom_heads"],
                           "add_mol_type_feat": True, "add_method_conditioning": True, "add_modified_flag": True,
                           "add_cyclic_flag": True},
            msa_args=over["msa_args"], pairformer_args=pairformer,
            score_model_args={"sigma_data": 16, "dim_fourier": w["dim_fourier"], "atom_encoder_depth": w["atom_depth"],
                              "atom_encoder_heads": w["atom_heads"], "token_transformer_depth": w["token_depth"],
                              "token_transformer_heads": w["token_heads"], "atom_decoder_depth": w["atom_depth"],
                              "atom_decoder_heads": w["atom_heads"],
                              "conditioning_transition_layers": w["transition_layers"],
                              "transformer_post_ln": False, "activation_checkpointing": False},
            diffusion_process_args=over["diffusion_process_args"],
            diffusion_loss_args={"add_smooth_lddt_loss": True, "nucleotide_loss_weight": 5.0,
                                 "ligand_loss_weight": 10.0, "filter_by_plddt": 0.0},
            confidence_model_args={"pairformer_args": {**pairformer, "num_blocks": w["confidence_blocks"], "v2": True},
                                   "num_dist_bins": 64, "max_dist": 22, "add_s_to_z_prod": True,
                                   "add_s_input_to_s": True, "add_z_input_to_z": True, "use_s_diffusion": True,
                                   "confidence_args": {"num_plddt_bins": 50, "num_pde_bins": 64,
                                                       "num_pae_bins": 64}},
            confidence_prediction=True, alpha_pae=1.0, bond_type_feature=True, fix_sym_check=True,
            cyclic_pos_enc=True, predict_bfactor=True, validate_structure=False,
            structure_prediction_training=False, predict_args=over["predict_args"],
            steering_args=over["steering_args"],
            **(affinity_arguments(widths) if affinity else {}),
        )
    np.random.set_state(numpy_state)
    return module.eval()


def save_checkpoint(module: Any, path: Path) -> Path:
    """A Lightning-layout checkpoint (`state_dict` + `hyper_parameters`), as Boltz-2's own file is."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "pytorch-lightning_version": "2.5.0"}, path)
    return path


def tiny_boltz2(seed: int = 0) -> Boltz2Bundle:
    return Boltz2Bundle(tiny_module(seed), tiny_components(), None, tiny=True)


def tiny_boltz2_affinity(seed: int = 0) -> Boltz2Bundle:
    """The tiny affinity model: the tiny network with Boltz-2's two affinity modules, random weights."""
    return Boltz2Bundle(build_module("tiny", seed + 1, affinity=True), tiny_components(), None, tiny=True)


def load_boltz2_affinity(path: Path | None, device: str, dtype: str) -> Boltz2Bundle:
    """The real loader of Boltz-2's affinity model: `boltz2_aff.ckpt` (and `mols.tar`) of the snapshot."""
    from workbench.contract.errors import ModelNotAvailable

    if path is None or not (path / "boltz2_aff.ckpt").is_file() or not (path / "mols.tar").is_file():
        raise ModelNotAvailable("The Boltz-2 snapshot lacks boltz2_aff.ckpt or mols.tar; "
                                "run `workbench models pull boltz-2-affinity`.")
    module = _load_checkpoint(path / "boltz2_aff.ckpt")
    return Boltz2Bundle(module.eval().to(device), components_folder(path), path / "boltz2_aff.ckpt", tiny=False)


def hub_snapshot(folder: Path, seed: int = 0) -> Path:
    """Files laid out as the `boltz-community/boltz-2` snapshot, holding the tiny model: what tests put
    into a Hugging Face cache to run the real loader offline."""
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(tiny_module(seed), folder / "boltz2_conf.ckpt")
    ccd.tar_components(tiny_components(), folder / "mols.tar")
    return folder
