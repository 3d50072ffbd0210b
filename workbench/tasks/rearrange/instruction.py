"""Instructions to goals: a rule-based parser for the templates of open-instruction 6-DoF
rearrangement (position relations, rotation goals, both together), offline.

It reads workbench's own phrasing and Open6DOR's: "Place the can to the left of the box on the
table." ("on the table" names the support, not a reference object), "... at the center of all the
objects on the table.", and a rotation clause after "We also need to specify the rotation of the
object after placement:" read by `orientation.read_clause` (a part pointing a way, or a posture).

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
from workbench.tasks.rearrange.orientation import PART_WORDS, SIDE_WORDS, read_clause, split_clause

#: relation -> (the axis it constrains: x, y, or xy for both; words after the object)
RELATIONS = {
    "left_of": ("x", "left of"),
    "right_of": ("x", "right of"),
    "in_front_of": ("y", "in front of"),
    "behind": ("y", "behind"),
    "on_top_of": ("xy", "on top of"),
    "between": ("xy", "between"),
    "centre": ("xy", "at the centre of the table"),
    "centre_of_objects": ("xy", "at the centre of all the other objects"),
}
#: rotation goal -> how it reads
ROTATIONS = {
    "upright": "upright (its up axis along +z)",
    "upside_down": "upside down (its up axis along -z)",
    "on_side": "lying on its side (its up axis level)",
    "lying_flat": "lying flat (its up axis level)",
    "handle_left": "upright with its handle pointing left (-x)",
    "handle_right": "upright with its handle pointing right (+x)",
    "opening_up": "with its opening facing up (+z)",
}

#: goals about the up axis alone (`plan.BASE_ROTATIONS`); every other goal is `<part>_<side>`
BASE_ROTATIONS = ("upright", "upside_down", "on_side", "lying_flat")
_ROTATION_PATTERNS = [
    (r"(?:with )?(?:its |the )?(?:open side|open end) (?:facing|faces|pointing|points|turned) up(?:wards?)?",
     "opening_up"),
    (r"(?:with |so )?(?:its |the )?(" + "|".join(sorted(PART_WORDS, key=len, reverse=True)) + r")(?: end| side)?"
     r"(?: is| are)? (?:pointing|points|pointed|facing|faces|oriented|directed|turned|to the|towards the|toward the|"
     r"towards|toward|on the) (?:the )?(" + "|".join(sorted(SIDE_WORDS, key=len, reverse=True)) + r")(?: side)?",
     "part"),
    (r"upside[ -]down|(?:turn(?:ed)?|flip(?:ped)?) (?:it )?over", "upside_down"),
    (r"(?:lying |laid |lie |lay )?(?:down )?on its side|lying down|lying flat|on its side|(?:lay|lie) (?:it )?down",
     "on_side"),
    (r"upright|standing(?: up)?|stand(?:ing)? (?:it )?up|up straight|(?:right|rightside|right side)[ -]up",
     "upright"),
]
_REF = r"(?:the )?([a-z][a-z0-9_-]*(?: [0-9]+)?)"
_RELATION_PATTERNS = [
    (rf"between {_REF} and {_REF}", "between"),
    (r"(?:at|in|to|into) the (?:centre|center|middle) of (?:all )?(?:the )?(?:other )?objects", "centre_of_objects"),
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
#: the support named after the goal ("... to the left of the USB on the table."): not a reference object
_SUPPORT = r"\b(?:on|onto|upon) (?:the )?(?:table ?top|table|desk)\b"


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
        lines.append(f"rotation: {self.object} " + (describe_rotation(self.rotation) if self.rotation else kept))
        return lines

    def to_json(self) -> dict:
        return {"object": self.object, "relations": [{"kind": r.kind, "anchors": list(r.anchors)}
                                                     for r in self.relations],
                "rotation": self.rotation, "track": self.track, "constraints": self.constraints()}


def describe_rotation(rotation: str) -> str:
    """How a rotation goal reads: 'upright (its up axis along +z)', 'with its cap pointing left (-x)'."""
    if rotation in ROTATIONS:
        return ROTATIONS[rotation]
    part, _, side = rotation.rpartition("_")
    return f"with its {part} pointing {SIDE_PHRASES.get(side, side)}"


#: how a side of the table reads in a goal
SIDE_PHRASES = {"left": "left (-x)", "right": "right (+x)", "front": "towards the viewer (-y)",
                "back": "away from the viewer (+y)", "up": "up (+z)", "down": "down (-z)"}


def _normalise(text: str) -> str:
    text = text.lower().replace("’", "'")
    text = re.sub(r"[,.;:!?()/\[\]\"]", " ", text)
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


def parse(instruction: str, scene, subject: str | None = None) -> Goal:
    """The goal of `instruction` in `scene`, or an InputError saying in one sentence what is wrong.
    `subject`: the object meant where the instruction says only "the object" (an Open6DOR task file
    names its target)."""
    text = _normalise(instruction)
    if not text:
        raise InputError("The instruction is empty; say what to move, e.g. 'put the can left of the box'.")
    limit = 300 if len(text) == len(_normalise(split_clause(text)[0])) else 1200  # a rotation clause is long
    if len(text) > limit:
        raise InputError(f"The instruction is longer than {limit} characters; say it in one short sentence.")
    said = f"In {instruction.strip()[:120]!r}"
    text, clause = split_clause(text)
    text = re.sub(r"^please pick up (?:the object|it) and\b", " ", text).strip()
    verb = re.match(_VERBS, text)
    rest = re.sub(_VERBS, " ", text)
    rest = re.sub(_SUPPORT, " ", rest)
    rotations: list[str] = []
    if clause:
        stated = read_clause(clause)
        if not stated:
            raise InputError(f"{said}: did not understand the orientation {clause[:80]!r}; say which way is up "
                             "(upright, upside down, lying flat, sideways) or where a part points (its handle "
                             "on the left, its cap towards right).")
        rotations.append(stated)
    for pattern, kind in _ROTATION_PATTERNS:
        pattern = rf"\b(?:{pattern})\b"
        for m in re.finditer(pattern, rest):
            rotations.append(f"{PART_WORDS[m.group(1)]}_{SIDE_WORDS[m.group(2)]}" if kind == "part" else kind)
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
    if subject_words in (["object"], []):
        if subject is not None or len(scene.names()) == 1:  # "the object": the one the task names, or the only one
            subject_words = [subject or scene.names()[0]]
        elif subject_words or clause:
            raise InputError(f"{said}: 'the object' could be any of {', '.join(scene.names())}; name it.")
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
    relations = [Relation(r.kind, tuple(n for n in scene.names() if n != subject))
                 if r.kind == "centre_of_objects" else r for r in relations]
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
    if len(unique) > 1 and set(unique) - {"upright"} and all(u not in ROTATIONS or u == "upright" for u in unique):
        unique = [u for u in unique if u != "upright"]  # "upright with its spout left": the part goal
    if len(unique) > 1:
        raise InputError(f"{said}: the rotation goals contradict each other "
                         f"({' and '.join(describe_rotation(u).split(' (')[0] for u in unique)}).")
    return unique[0] if unique else ""


def check(goal: Goal, scene, said: str = "The instruction") -> None:
    """Refuse a goal the scene cannot hold, before any simulation."""
    subject = scene.get(goal.object)
    axes = subject.axes()
    if not goal.relations and not goal.rotation:
        raise InputError(f"{said}: it names {goal.object} but no place or rotation for it.")
    if goal.rotation and "up" not in axes:
        raise InputError(f"{said}: the {goal.object} looks the same in every orientation, so "
                         f"'{describe_rotation(goal.rotation).split(' (')[0]}' means nothing for it.")
    part = goal.rotation.rpartition("_")[0] if goal.rotation and goal.rotation not in BASE_ROTATIONS else ""
    if part and part not in axes:
        others = sorted(set(axes) - {"up"})
        raise InputError(f"{said}: the {goal.object} has no {part}" + (f" (it has {', '.join(others)})."
                                                                       if others else "."))
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
