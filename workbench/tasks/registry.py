"""Named tasks: the name a user types maps to `run(request, ctx)` and its request type.

Task modules are imported only when a task is used, so `import workbench` stays light
and a missing optional dependency (RDKit, MuJoCo, diffusers) only affects its own task,
with a sentence naming the extra to install.

Another package adds a task without editing this file: an entry point in the group
`workbench.tasks` whose object is a `TaskSpec` (by import paths, so loading it imports
nothing heavy). The CLI, `wb.submit`, the OpenAPI file and `jobs list` then know it like a
built-in one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Union

from workbench.contract.errors import UnknownTask
from workbench.contract.task import TaskSpec

__all__ = ["TASKS", "TaskLike", "TaskSpec", "get_task", "register", "task_function"]


TASKS: dict[str, TaskSpec] = {}
ENTRY_POINT_GROUP = "workbench.tasks"


#: plug-ins that could not be registered, each as one sentence (`workbench doctor` lists them)
PLUGIN_PROBLEMS: list[str] = []


def register(spec: TaskSpec, *, replace: bool = False) -> TaskSpec:
    """Make `spec` a task by its name. A name already taken by another spec is refused unless `replace=True`
    (a plug-in must not silently swap a built-in task for its own)."""
    known = TASKS.get(spec.name)
    if known is not None and known != spec and not replace:
        raise ValueError(f"The task name {spec.name!r} is taken; pass replace=True to replace it on purpose.")
    TASKS[spec.name] = spec
    return spec


register(TaskSpec(
    name="selftest",
    run="workbench.tasks.selftest:run",
    request="workbench.tasks.selftest:SelftestRequest",
    summary="Run a tiny transformer on the device in each dtype and check it against float64.",
    requirements="workbench.tasks.selftest:requirements",
    cli={"dtypes": {"csv": True, "metavar": "DTYPE,..."}},
    unit="forward passes", work="workbench.tasks.selftest:work",
    bench={"dtypes": ("float32",), "batch": 16, "seq_len": 64, "repeats": 20},
))
register(TaskSpec(
    name="profile",
    run="workbench.tasks.profile:run",
    request="workbench.tasks.profile:ProfileRequest",
    cli={"seconds_per_figure": {"flags": ["--seconds"]}},
    unit="figures", work="workbench.tasks.profile:work",
    summary="Measure matmul TFLOP/s and memory GB/s of a device.",
))

TaskLike = Union[str, TaskSpec, Callable[..., Any]]  # noqa: UP007 - a runtime alias on 3.10


def get_task(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError:
        known = ", ".join(sorted(TASKS))
        raise UnknownTask(f"Unknown task {name!r}. Known tasks: {known}.") from None


def task_function(task: TaskLike, task_name: str | None = None) -> tuple[str, Callable[..., Any]]:
    """(name, function) for a task given by name, spec or plain function (named apart from
    `scheduling.registry.resolve`, which picks a device)."""
    if isinstance(task, str):
        spec = get_task(task)
        return spec.name, spec.load()
    if isinstance(task, TaskSpec):
        return task.name, task.load()
    if callable(task):
        name = str(task_name or getattr(task, "__qualname__", None) or getattr(task, "__name__", "task"))
        return name, task
    raise TypeError(f"not a task: {task!r}")

register(TaskSpec(
    name="conformers",
    run="workbench.tasks.molecules.conformers:run",
    request="workbench.tasks.molecules.conformers:ConformerRequest",
    summary="3D conformer ensembles (ETKDGv3 + MMFF94s) for SMILES / SDF / MOL, as SDF.",
    requirements="workbench.tasks.molecules.conformers:requirements",
    extra="molecules",
    split="workbench.tasks.molecules.conformers:split",
    cli={"smiles": {"metavar": "'SMILES [NAME]'"}, "files": {"flags": ["--sdf"], "metavar": "FILE"},
         "num_conformers": {"flags": ["--num"]}},
    unit="conformers", work="workbench.tasks.molecules.conformers:work", isolate=True,
    bench={"smiles": ("CC(=O)Oc1ccccc1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "CC(C)Cc1ccc(cc1)C(C)C(=O)O"),
           "num_conformers": 10},
    merge="workbench.tasks.molecules.conformers:merge",
))
register(TaskSpec(
    name="fold",
    run="workbench.tasks.molecules.fold:run",
    request="workbench.tasks.molecules.fold:FoldRequest",
    summary="Protein structure with ESMFold: PDB + mmCIF with pLDDT, PAE and pLDDT plots.",
    requirements="workbench.tasks.molecules.fold:requirements",
    cli={"sequences": {"flags": ["--sequence"], "metavar": "SEQ[:CHAIN2...]"}},
    unit="residues", work="workbench.tasks.molecules.fold:work",
    bench={"sequences": ("MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG",),
           "tiny": True, "num_recycles": 0},
    extra="molecules",
    isolate_model=True,
))
register(TaskSpec(
    name="complex",
    run="workbench.tasks.molecules.complexes.predict:run",
    request="workbench.tasks.molecules.complexes.predict:ComplexRequest",
    summary="Protein-ligand / protein-nucleic-acid co-folding with Boltz-2: mmCIF, confidence, PAE, PoseBusters.",
    requirements="workbench.tasks.molecules.complexes.predict:requirements",
    cli={"proteins": {"flags": ["--protein"], "metavar": "SEQ"},
         "ligands": {"flags": ["--ligand"], "metavar": "SMILES"}, "ligand_ccd": {"metavar": "CODE"},
         "dna": {"metavar": "SEQ"}, "rna": {"metavar": "SEQ"}, "seeds": {"flags": ["--seed"]},
         "pockets": {"flags": ["--pocket"]}, "contacts": {"flags": ["--contact"]}},
    unit="tokens", work="workbench.tasks.molecules.complexes.predict:work",
    split="workbench.tasks.molecules.complexes.predict:split",
    merge="workbench.tasks.molecules.complexes.predict:merge",
    bench={"proteins": ("MKTAYIAKQRQISFVKSHFSRQ",), "ligands": ("CC(=O)Oc1ccccc1C(=O)O",), "tiny": True,
           "recycling_steps": 1, "sampling_steps": 5},
    extra="complexes",
    isolate_model=True,
))
register(TaskSpec(
    name="screen",
    run="workbench.tasks.molecules.complexes.screen:run",
    request="workbench.tasks.molecules.complexes.screen:ScreenRequest",
    summary="Screen one protein target against many ligands with Boltz-2: a ranked table and each ligand's pose.",
    requirements="workbench.tasks.molecules.complexes.screen:requirements",
    cli={"target": {"flags": ["--target"], "metavar": "SEQ"}, "smiles": {"flags": ["--ligand"], "metavar": "SMILES"},
         "library": {"flags": ["--ligands"], "metavar": "FILE"}, "pockets": {"flags": ["--pocket"]},
         "contacts": {"flags": ["--contact"]}, "part": {"hide": True}},
    unit="ligands", work="workbench.tasks.molecules.complexes.screen:work",
    split="workbench.tasks.molecules.complexes.screen:split",
    merge="workbench.tasks.molecules.complexes.screen:merge",
    extra="complexes",
    isolate_model=True,
))
register(TaskSpec(
    name="count",
    run="workbench.tasks.diagnostics:run",
    request="workbench.tasks.diagnostics:CountRequest",
    summary="Count to N with progress per step (checks progress, cancel and migration).",
    unit="steps", work="workbench.tasks.diagnostics:work", bench={"steps": 200, "delay": 0.0},
))
register(TaskSpec(
    name="grasp",
    run="workbench.tasks.grasping.grasp:run",
    request="workbench.tasks.grasping.grasp:GraspRequest",
    summary="Sample antipodal parallel-jaw grasps and evaluate each in MuJoCo (lift and shake).",
    requirements="workbench.tasks.grasping.grasp:requirements",
    extra="grasping",
    split="workbench.tasks.grasping.grasp:split",
    cli={"num_grasps": {"flags": ["--num"]}, "render": {"metavar": "TRIAL"}},
    unit="trials", work="workbench.tasks.grasping.grasp:work", bench={"object": "box", "num_grasps": 8, "render": ()},
    isolate=True,
    merge="workbench.tasks.grasping.grasp:merge",
))
register(TaskSpec(
    name="grasp-train",
    run="workbench.tasks.grasping.train:run",
    request="workbench.tasks.grasping.train:GraspTrainRequest",
    summary="Train the learned grasp scorer on a dataset from `workbench grasp-dataset` (held-out objects kept).",
    requirements="workbench.tasks.grasping.train:requirements",
    unit="epochs", work="workbench.tasks.grasping.train:work",
    extra="grasping",
    isolate_model=True,
))
register(TaskSpec(
    name="text-to-image",
    run="workbench.tasks.multimodal.text_to_image:run",
    request="workbench.tasks.multimodal.t2i_request:Text2ImageRequest",
    summary="Images from a prompt with a diffusers pipeline; PNGs carry their full recipe.",
    requirements="workbench.tasks.multimodal.text_to_image:requirements",
    unit="denoising steps", work="workbench.tasks.multimodal.text_to_image:work",
    bench={"prompt": "a red cube on a table", "tiny": True, "steps": 4, "width": 64, "height": 64},
    extra="multimodal",
    isolate_model=True,
))
register(TaskSpec(
    name="caption",
    run="workbench.tasks.multimodal.understand:run",
    request="workbench.tasks.multimodal.understand:UnderstandRequest",
    cli={"question": {"hide": True}},
    summary="Describe an image with an image-text-to-text model, streamed token by token.",
    requirements="workbench.tasks.multimodal.understand:requirements",
    unit="tokens", work="workbench.tasks.multimodal.understand:work",
    extra="multimodal",
    isolate_model=True,
))
register(TaskSpec(
    name="vqa",
    run="workbench.tasks.multimodal.understand:run",
    request="workbench.tasks.multimodal.understand:VQARequest",
    summary="Answer a question about an image, streamed token by token.",
    requirements="workbench.tasks.multimodal.understand:requirements",
    unit="tokens", work="workbench.tasks.multimodal.understand:work",
    extra="multimodal",
    isolate_model=True,
))
register(TaskSpec(
    name="place",
    run="workbench.tasks.rearrange.place:run",
    request="workbench.tasks.rearrange.place:PlaceRequest",
    summary="Carry out an instruction ('put the mug upright left of the box') on a MuJoCo tabletop; judge "
            "position and rotation.",
    requirements="workbench.tasks.rearrange.place:requirements",
    extra="grasping",
    unit="tasks", work="workbench.tasks.rearrange.place:work",
    bench={"instruction": "put the can left of the box", "render": False},
    isolate=True,
))


def _load_plugins() -> None:
    """Register the `TaskSpec`s other packages declare (entry point group `workbench.tasks`). One that cannot
    be loaded (it raises, or even exits), is not a spec, or would replace a task is skipped: one line in the
    log (the traceback at debug level) and in `PLUGIN_PROBLEMS`; it must not take the built-ins, or the CLI,
    down with it."""
    import logging
    from importlib.metadata import entry_points

    log = logging.getLogger(__name__)

    def skipped(ep: Any, why: str) -> None:
        PLUGIN_PROBLEMS.append(f"task plug-in {ep.name} ({ep.value}) {why}; skipped")
        log.warning("%s", PLUGIN_PROBLEMS[-1])

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            spec = ep.load()
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a broken plug-in is said, the rest still works
            log.debug("task plug-in %s failed to load", ep.name, exc_info=True)
            what = f"exit({exc.code!r})" if isinstance(exc, SystemExit) else f"{type(exc).__name__}: {exc}"
            skipped(ep, f"could not be loaded ({what[:200]})")
            continue
        if not isinstance(spec, TaskSpec):
            skipped(ep, f"is a {type(spec).__name__}, not a TaskSpec")
        elif spec.name in TASKS and TASKS[spec.name] != spec:
            skipped(ep, f"would replace the task {spec.name!r}")
        else:
            register(spec)


_load_plugins()
