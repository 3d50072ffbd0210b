"""A generated set of rearrangement tasks over the three tracks (position, rotation, 6-DoF), in
the spirit of Open6DOR: procedural scenes, instructions written from templates.

Every task is a (scene, instruction, track) a user could type. A rotation goal is only asked of
an object that does not already meet it (an upright can is never asked to stand upright), and
only of objects it means something for (no ball upright, handles only on the mug). Same seed,
same tasks. `phrasing="open6dor"` writes the same tasks as Open6DOR's generator phrases them
("Place the can to the left of the box on the table. We also need to specify the rotation of the
object after placement: ..."), with rotation clauses in its vocabulary's style.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.tasks.rearrange.plan import rotation_error
from workbench.tasks.rearrange.scene import matrix_of, procedural_scene

TRACKS = ("position", "rotation", "6dof")

POSITION_TEMPLATES = {
    "left_of": "put the {o} to the left of the {a}",
    "right_of": "place the {o} right of the {a}",
    "in_front_of": "move the {o} in front of the {a}",
    "behind": "put the {o} behind the {a}",
    "between": "put the {o} between the {a} and the {b}",
    "centre": "move the {o} to the centre of the table",
    "on_top_of": "put the {o} on top of the {a}",
}
ROTATION_TEMPLATES = {
    "upright": "stand the {o} upright",
    "upside_down": "turn the {o} upside down",
    "on_side": "lay the {o} on its side",
    "handle_left": "turn the {o} so its handle points left",
    "handle_right": "turn the {o} so its handle points right",
}
SIXDOF_TEMPLATES = {
    "upright": "put the {o} upright {rel}",
    "upside_down": "put the {o} upside down {rel}",
    "on_side": "lay the {o} on its side {rel}",
    "handle_left": "put the {o} {rel} with its handle pointing left",
    "handle_right": "put the {o} {rel} with its handle pointing right",
}
#: Open6DOR's phrasing: its position forms, and rotation clauses in the style of its vocabulary
OPEN6DOR_POSITION = {
    "left_of": "Place the {o} to the left of the {a} on the table. ",
    "right_of": "Place the {o} to the right of the {a} on the table. ",
    "in_front_of": "Place the {o} in front of {a} on the table. ",
    "behind": "Place the {o} behind the {a} on the table. ",
    "between": "Place the {o} between the {a} and the {b} on the table. ",
    "centre": "Place the {o} at the center of all the objects on the table. ",
    "on_top_of": "Place the {o} on top of the {a} on the table. ",
}
OPEN6DOR_CLAUSES = {
    "upright": "the object is placed upright on the table, bottom down and top up.",
    "upside_down": "the object is placed upside down on the table, its top in contact with the table.",
    "on_side": "the object is placed sideways on the table, lying on one of its sides.",
    "handle_left": "the handle of the object is on the left (pointing towards left).",
    "handle_right": "the handle of the object is on the right (pointing towards right).",
}
OPEN6DOR_ROTATION = "Please pick up the {o} and place it to specify the rotation of the object after placement: "
OPEN6DOR_SIXDOF = "We also need to specify the rotation of the object after placement: "
RELATION_PHRASES = {"left_of": "to the left of the {a}", "right_of": "right of the {a}",
                    "in_front_of": "in front of the {a}", "behind": "behind the {a}",
                    "between": "between the {a} and the {b}", "centre": "in the centre of the table"}


@dataclass(frozen=True)
class PlacementTask:
    scene: str  #: a scene spec, or an Open6DOR task file (with `objects` set)
    instruction: str
    track: str
    objects: str | None = None  #: for a task file: the benchmark's asset folder ('' for bundled objects only)


def _rotations(placed) -> list[str]:
    axes = placed.axes()
    if "up" not in axes:
        return []
    r = matrix_of(placed.quat)
    goals = ["upright", "upside_down", "on_side"] + (["handle_left", "handle_right"] if "handle" in axes else [])
    return [g for g in goals if rotation_error(g, r, axes) > 30]


def _relation(rng: np.random.Generator, names: list[str], subject: str, allow_top: bool) -> tuple[str, dict]:
    others = [n for n in names if n != subject]
    kinds = ["left_of", "right_of", "in_front_of", "behind", "centre"]
    if len(others) >= 2:
        kinds.append("between")
    tops = [n for n in others if n in ("box", "can")]  # flat tops
    if allow_top and tops:
        kinds.append("on_top_of")
    kind = kinds[int(rng.integers(len(kinds)))]
    pool = tops if kind == "on_top_of" else others
    a, b = rng.permutation(pool)[:2] if len(pool) >= 2 else (pool[0], pool[0])
    return kind, {"a": str(a), "b": str(b)}


def generate(count: int = 210, seed: int = 0, phrasing: str = "workbench") -> list[PlacementTask]:
    """`count` tasks, a third per track, each on its own procedural scene, phrased as workbench's
    templates or (`phrasing="open6dor"`) as Open6DOR's."""
    ours = phrasing != "open6dor"
    rng = np.random.default_rng(seed)
    tasks: list[PlacementTask] = []
    k = 0
    while len(tasks) < count:
        track = TRACKS[len(tasks) % 3]
        scene_seed = seed * 100_000 + k
        k += 1
        scene = procedural_scene(scene_seed)
        names = scene.names()
        if track == "position":
            subject = names[int(rng.integers(len(names)))]
            kind, refs = _relation(rng, names, subject, allow_top=subject in ("ball", "box", "can", "mug"))
            text = (POSITION_TEMPLATES if ours else OPEN6DOR_POSITION)[kind].format(o=subject, **refs)
        else:
            movable = [(p.name, _rotations(p)) for p in scene.objects]
            movable = [(n, goals) for n, goals in movable if goals]
            if not movable:
                continue
            subject, goals = movable[int(rng.integers(len(movable)))]
            goal = goals[int(rng.integers(len(goals)))]
            if track == "rotation":
                text = (ROTATION_TEMPLATES[goal].format(o=subject) if ours
                        else OPEN6DOR_ROTATION.format(o=subject) + OPEN6DOR_CLAUSES[goal])
            else:
                kind, refs = _relation(rng, names, subject, allow_top=False)
                text = (SIXDOF_TEMPLATES[goal].format(o=subject, rel=RELATION_PHRASES[kind].format(**refs)) if ours
                        else OPEN6DOR_POSITION[kind].format(o=subject, **refs) + OPEN6DOR_SIXDOF
                        + OPEN6DOR_CLAUSES[goal])
        tasks.append(PlacementTask(f"procedural:{scene_seed}", text, track))
    return tasks

