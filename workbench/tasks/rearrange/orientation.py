"""Orientation clauses as people and benchmarks write them, read into a rotation goal.

The rule parser's own phrases ("upright", "with its handle pointing left") are short. Open6DOR's
rotation track describes an orientation in a sentence or two: what rests on the table, which way a
named part points, and often the same fact again from the other end ("its cap towards left and its
bottom on the right"). This module reads such a clause: the first statement of a part pointing
somewhere decides (a later one that restates it from the other end is not read), else the posture
(upside down, lying flat, sideways, upright). Goals are `upright`, `upside_down`, `on_side`,
`lying_flat` or `<part>_<side>` (see `plan.SIDES`).
"""

from __future__ import annotations

import re

#: what a person calls a part -> the part's name in an object's axes
PART_WORDS = {
    "handle": "handle", "cap": "cap", "lid": "lid", "top": "top", "bottom": "bottom", "tip": "tip",
    "ballpoint": "tip", "point": "tip", "opening": "opening", "mouth": "opening", "spout": "spout",
    "blade": "blade", "blades": "blade", "head": "head", "plug": "plug", "scoop": "scoop", "prong": "prong",
    "prongs": "prong", "bulb": "bulb", "lens": "lens", "screen": "screen", "buttons": "buttons",
    "button": "buttons", "earpiece": "earpiece", "earpieces": "earpiece", "clasp": "clasp", "rear": "rear",
    "visor": "visor", "brim": "visor", "label": "label", "nozzle": "nozzle", "jaw": "jaw",
}
#: the words for a side -> a key of plan.SIDES
SIDE_WORDS = {
    "left": "left", "right": "right", "front": "front", "forth": "front", "forward": "front", "forwards": "front",
    "viewer": "front", "back": "back", "backward": "back", "backwards": "back", "away": "back",
    "up": "up", "upward": "up", "upwards": "up", "down": "down", "downward": "down", "downwards": "down",
}
_PART = "|".join(sorted(PART_WORDS, key=len, reverse=True))
_SIDE = "|".join(sorted(SIDE_WORDS, key=len, reverse=True))
#: "<part> [end|side|part] [of the x] [is|are] [all] <how> [towards|to] [the] <side>"
_POINTS = re.compile(
    rf"\b(?P<part>{_PART})(?: end| side| part)?(?: of the [a-z]+(?: [a-z]+)?)?(?: is| are)?(?: all)?"
    rf"(?: (?:pointing|points|pointed|oriented|facing|faces|directed|turned|placed))?"
    rf"(?: (?:towards?|to|on|at))?(?: the)? (?P<side>{_SIDE})\b")
#: nearer / farther from the person: earpieces "closer to the nearer edge" point front
_NEAR_FAR = re.compile(rf"\b(?P<part>{_PART}) (?:are |is )?(?P<how>closer|nearer|farther|further)\b")
#: postures, in the order they are tried (the first that matches decides)
POSTURES = (
    ("upside_down", r"\bupside[ -]down\b|\bbottom (?:side )?(?:is )?facing up\b|\btop or cap [a-z ]*in contact"),
    ("lying_flat", r"\b(?:lying|lies|lie|laid|lay) flat\b|\blarger face in contact\b|\bflat on the table\b"),
    ("on_side", r"\bsideways\b|\bon (?:one of )?its sides?\b|\blateral surface in contact\b|\blying on its side\b"),
    ("upright", r"\bupright\b|\bbottom down and top up\b|\bstanding up\b|\bright side up\b"),
)
#: what opens the rotation part of an Open6DOR instruction
CLAUSE_START = re.compile(
    r"\b(?:we also need to|please pick up the (?P<subject>[a-z][a-z0-9_-]*) and place it to|also) specify the "
    r"rotation of the (?:object|[a-z][a-z0-9_-]*)(?: after placement)?\b"
    r"|\bthe rotation of the object after placement\b")


def read_clause(text: str) -> str:
    """The rotation goal a clause states ('' when it states none). `text` is normalised (lower case,
    punctuation as spaces)."""
    text = re.sub(r"\bbottom down and (?:the )?top up\b|\btop up and (?:the )?bottom down\b", "upright", text)
    m = _POINTS.search(text)
    if m:
        return f"{PART_WORDS[m.group('part')]}_{SIDE_WORDS[m.group('side')]}"
    m = _NEAR_FAR.search(text)
    if m:
        return f"{PART_WORDS[m.group('part')]}_{'front' if m.group('how') in ('closer', 'nearer') else 'back'}"
    for goal, pattern in POSTURES:
        if re.search(pattern, text):
            return goal
    return ""


def split_clause(text: str) -> tuple[str, str]:
    """(what comes before the rotation clause, the clause) of a normalised instruction; the clause is ''
    when the instruction has no Open6DOR-style rotation part."""
    m = CLAUSE_START.search(text)
    if not m:
        return text, ""
    named = m.group("subject") if m.group("subject") not in (None, "object") else ""
    return f"{text[:m.start()]} {named}".strip(), text[m.end():].strip()
