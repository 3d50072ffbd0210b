"""Instructions to goals: a rule-based parser for the templates of open-instruction 6-DoF
rearrangement (position relations, rotation goals, both together), offline.

A `Goal` is what the user is shown before anything moves: the object, its position relations
(each naming its reference objects) and its rotation goal. The parser is strict: every word
must be part of a phrase it knows (or a filler word); anything else is refused in one sentence
that quotes the words it did not understand. The checks a goal must pass against a scene
(objects exist, relations do not contradict, a sphere has no "upright") are here too, so an
impossible instruction is refused before any simulation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.contract.errors import InputError

#: relation -> (the axis it constrains: x, y, or xy for both; words after the object)
RELATIONS = {
    "left_of": ("x", "left of"),
    "right_of": ("x", "right of"),
    "in_front_of": ("y", "in front of"),
    "behind": ("y", "behind"),
    "on_top_of": ("xy", "on top of"),
    "between": ("xy", "between"),
    "centre": ("xy", "at the centre of the table"),
}
#: rotation goal -> how it reads
ROTATIONS = {
    "upright": "upright (its up axis along +z)",
    "upside_down": "upside down (its up axis along -z)",
    "on_side": "lying on its side (its up axis level)",
    "handle_left": "upright with its handle pointing left (-x)",
    "handle_right": "upright with its handle pointing right (+x)",
    "opening_up": "with its opening facing up (+z)",
}

_ROTATION_PATTERNS = [
    (r"(?:with )?(?:its |the )?handle (?:pointing|points|facing|faces|turned|to the|towards the|toward the|on the) "
     r"(left|right)(?: side)?", "handle_"),
    (r"(?:with )?(?:its |the )?(?:opening|open side|open end|mouth) (?:facing|faces|pointing|points|turned) "
     r"up(?:wards?)?", "opening_up"),
    (r"upside[ -]down|(?:turn(?:ed)?|flip(?:ped)?) (?:it )?over", "upside_down"),
    (r"(?:lying |laid |lie |lay )?(?:down )?on its side|lying down|lying flat|on its side|(?:lay|lie) (?:it )?down",
     "on_side"),
    (r"upright|standing(?: up)?|stand(?:ing)? (?:it )?up|up straight|(?:right|rightside|right side)[ -]up",
     "upright"),
]
_REF = r"(?:the )?([a-z][a-z0-9_-]*(?: [0-9]+)?)"
_RELATION_PATTERNS = [
    (rf"between {_REF} and {_REF}", "between"),
    (rf"(?:to the |on the )?left (?:of|side of) {_REF}", "left_of"),
    (rf"(?:to the |on the )?right (?:of|side of) {_REF}", "right_of"),
    (rf"in front of {_REF}", "in_front_of"),
    (rf"(?:behind|in back of|at the back of) {_REF}", "behind"),
    (r"(?:at|in|to|into|on) the (?:centre|center|middle)(?: of the table)?|(?:at|in) the table'?s (?:centre|center)",
     "centre"),
    (rf"(?:on top of|onto|on to|on) {_REF}", "on_top_of"),
]
_VERBS = r"^(?:please )?(?:put|place|move|set|stand|lay|turn|rotate|flip|position|arrange|get|make)\b"
_FILLER = {"the", "it", "so", "that", "and", "a", "an", "with", "is", "please", "then", "its", "be", "now", "there",
           "way", "up", "down", "also", "should", "sits", "stands", "lies", "ends", "end", "of", "table"}


@dataclass(frozen=True)
class Relation:
    kind: str  #: a key of RELATIONS
    anchors: tuple[str, ...] = ()  #: the reference objects' names (two for between, none for centre)

    def describe(self, subject: str) -> str:
        words = RELATIONS[self.kind][1]
        if self.kind == "between":
            return f"{subject} between {self.anchors[0]} and {self.anchors[1]}"
        if self.kind == "centre":
            return f"{subject} {words}"
        return f"{subject} {words} {self.anchors[0]}"


@dataclass(frozen=True)
class Goal:
    object: str
    relations: tuple[Relation, ...] = ()
    rotation: str = ""  #: a key of ROTATIONS, or '' to keep the object's orientation
    text: str = ""

    @property
    def track(self) -> str:
        """Which benchmark track the goal belongs to: position, rotation or 6dof."""
        if self.relations and self.rotation:
            return "6dof"
        return "rotation" if self.rotation else "position"

    def constraints(self) -> list[str]:
        """The goal as the sentences shown to a user before execution."""
        lines = [f"position: {r.describe(self.object)}" for r in self.relations]
        if not self.relations:
            lines.append(f"position: {self.object} stays where it is")
        kept = "keeps which way is up (it may turn about the vertical)"
        lines.append(f"rotation: {self.object} " + (ROTATIONS[self.rotation] if self.rotation else kept))
        return lines

    def to_json(self) -> dict:
        return {"object": self.object, "relations": [{"kind": r.kind, "anchors": list(r.anchors)}
                                                     for r in self.relations],
                "rotation": self.rotation, "track": self.track, "constraints": self.constraints()}


def _normalise(text: str) -> str:
    text = text.lower().replace("’", "'")
    text = re.sub(r"[,.;!?]", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _resolve(word: str, scene, where: str) -> str:
    """The scene name a person's word refers to (a name, or an alias of exactly one object's kind)."""
    names = scene.names()
    if word in names:
        return word
    if word.endswith("s") and word[:-1] in names:
        return word[:-1]
    matches = [p.name for p in scene.objects if word in p.words()]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise InputError(f"{where}: {word!r} could be {' or '.join(matches)}; name one.")
    raise InputError(f"{where}: there is no {word!r} in the scene; it holds {', '.join(names)}.")


def parse(instruction: str, scene) -> Goal:
    """The goal of `instruction` in `scene`, or an InputError saying in one sentence what is wrong."""
    text = _normalise(instruction)
    if not text:
        raise InputError("The instruction is empty; say what to move, e.g. 'put the can left of the box'.")
    if len(text) > 300:
        raise InputError("The instruction is longer than 300 characters; say it in one short sentence.")
    said = f"In {instruction.strip()[:120]!r}"
    verb = re.match(_VERBS, text)
    rest = re.sub(_VERBS, " ", text)
    rotations: list[str] = []
    for pattern, kind in _ROTATION_PATTERNS:
        pattern = rf"\b(?:{pattern})\b"
        for m in re.finditer(pattern, rest):
            rotations.append(kind + m.group(1) if kind == "handle_" else kind)
        rest = re.sub(pattern, " ", rest)
    relations: list[Relation] = []
    for pattern, kind in _RELATION_PATTERNS:
        pattern = rf"\b(?:{pattern})\b"
        for m in re.finditer(pattern, rest):
            anchors = tuple(_resolve(g, scene, said) for g in m.groups())
            relations.append(Relation(kind, anchors))
        rest = re.sub(pattern, " ", rest)
    words = rest.split()
    subject_words = [w for w in words if w not in _FILLER]
    if not subject_words:
        raise InputError(f"{said}: no object to move was named; the scene holds {', '.join(scene.names())}.")
    subject_text = " ".join(subject_words)
    try:
        subject = _resolve(subject_text, scene, said)
    except InputError:
        known = [w for w in subject_words if _known(w, scene)]
        unknown = [w for w in subject_words if not _known(w, scene)]
        if len(known) == 1 and unknown:
            raise InputError(f"{said}: did not understand {' '.join(unknown)!r}; it knows left of, right of, "
                             "in front of, behind, on top of, between ... and ..., at the centre, upright, upside "
                             "down, on its side, handle pointing left/right and opening facing up.") from None
        raise
    if not rotations and verb is not None:  # "stand the bar up", "lay the box down", "flip the mug"
        implied = {"stand": "upright", "lay": "on_side", "flip": "upside_down"}.get(verb.group(0).split()[-1])
        rotations = [implied] if implied else []
    goal = Goal(subject, tuple(relations), _one_rotation(rotations, said), instruction.strip())
    check(goal, scene, said)
    return goal


def _known(word: str, scene) -> bool:
    try:
        _resolve(word, scene, "")
        return True
    except InputError:
        return False


def _one_rotation(found: list[str], said: str) -> str:
    unique = list(dict.fromkeys(found))
    if "opening_up" in unique and "upright" in unique:
        unique.remove("opening_up")  # the same goal said twice
    if len(unique) > 1 and set(unique) - {"upright"} and all(u.startswith("handle_") or u == "upright"
                                                              for u in unique):
        unique = [u for u in unique if u != "upright"]  # "upright with its handle left" is the handle goal
    if len(unique) > 1:
        raise InputError(f"{said}: the rotation goals contradict each other "
                         f"({' and '.join(ROTATIONS[u].split(' (')[0] for u in unique)}).")
    return unique[0] if unique else ""


def check(goal: Goal, scene, said: str = "The instruction") -> None:
    """Refuse a goal the scene cannot hold, before any simulation."""
    subject = scene.get(goal.object)
    axes = subject.axes()
    if not goal.relations and not goal.rotation:
        raise InputError(f"{said}: it names {goal.object} but no place or rotation for it.")
    if goal.rotation and "up" not in axes:
        raise InputError(f"{said}: the {goal.object} looks the same in every orientation, so "
                         f"'{ROTATIONS[goal.rotation].split(' (')[0]}' means nothing for it.")
    if goal.rotation.startswith("handle_") and "handle" not in axes:
        raise InputError(f"{said}: the {goal.object} has no handle.")
    if goal.rotation == "opening_up" and goal.object != "mug" and subject.object != "mug":
        raise InputError(f"{said}: the {goal.object} has no opening.")
    by_axis: dict[str, Relation] = {}
    for rel in goal.relations:
        if goal.object in rel.anchors:
            raise InputError(f"{said}: the {goal.object} cannot be placed relative to itself.")
        if rel.kind == "between" and rel.anchors[0] == rel.anchors[1]:
            raise InputError(f"{said}: 'between' needs two different objects.")
        if rel.kind == "on_top_of":
            anchor = scene.get(rel.anchors[0])
            if "up" not in anchor.axes():
                raise InputError(f"{said}: the {anchor.name} is round; nothing stays on top of it.")
        axis = RELATIONS[rel.kind][0]
        for taken in ("x", "y") if axis == "xy" else (axis,):
            other = by_axis.get(taken)
            if other is not None and other != rel:
                raise InputError(f"{said}: '{other.describe(goal.object)}' and '{rel.describe(goal.object)}' "
                                 "cannot both hold.")
            by_axis[taken] = rel
