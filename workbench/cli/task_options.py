"""`workbench run TASK` options, generated from each task's request type (never written by hand).

Every field of a request dataclass becomes an option named after it (`num_conformers` ->
`--num-conformers`) with its type, its default and its `#:` comment as help; a task's spec may add
short aliases (`--num`) and hide fields a command line cannot express (nested poses, protocols).
Repeated values (`tuple` fields) are given by repeating the option, or comma-separated where the
spec says so; a tuple with a non-empty default also gets `--no-<name>` for none. The values given
go through the same checks as the Python API (`workbench.tasks.requests.make_request`).
"""

from __future__ import annotations

import argparse
from typing import Any

from workbench.contract.limits import describe
from workbench.contract.task import TaskSpec
from workbench.tasks.requests import FieldInfo, fields_of

SIMPLE = (int, float, str, bool)


def _csv(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    return str(value)


def cli_fields(spec: TaskSpec) -> list[FieldInfo]:
    """The request fields a command line can express."""
    hints = spec.cli
    out = []
    for info in fields_of(spec.request_type()):
        if hints.get(info.name, {}).get("hide"):
            continue
        if info.type in SIMPLE or (info.type is tuple and info.item in SIMPLE):
            out.append(info)
    return out


def add_options(parser: argparse.ArgumentParser, spec: TaskSpec) -> None:
    """Add one option per field of the task's request (values left unset take the request's default)."""
    group = parser.add_argument_group(f"{spec.name} request")
    for info in cli_fields(spec):
        hint = spec.cli.get(info.name, {})
        flags = [f"--{info.name.replace('_', '-')}", *hint.get("flags", ())]
        help_text = info.help or info.name.replace("_", " ")
        notes = [f"one of {', '.join(map(str, info.choices))}"] if info.choices else []
        if info.limits is not None:
            notes.append(describe(info.limits))
        if info.max_length is not None:
            notes.append(f"at most {info.max_length} {'values' if info.type is tuple else 'characters'}")
        if info.type is bool:
            group.add_argument(*flags, dest=info.name, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=f"{help_text} (default: {info.default})")
            continue
        notes.append("required" if info.required else "optional" if info.default in (None, "")
                     else f"default: {_shown(info.default)}")  # an empty text is "not given", not a value
        default_text = "; ".join(notes)
        if info.type is tuple:
            item = info.item
            if hint.get("csv"):
                group.add_argument(*flags, dest=info.name, action="extend", type=_csv, default=argparse.SUPPRESS,
                                   metavar=hint.get("metavar", "A,B"), help=f"{help_text}; comma-separated "
                                   f"or repeated ({default_text})")
            else:
                group.add_argument(*flags, dest=info.name, action="append", type=item, default=argparse.SUPPRESS,
                                   metavar=hint.get("metavar", item.__name__.upper()),
                                   help=f"{help_text}; repeat for more ({default_text})")
            if info.default:
                group.add_argument(f"--no-{info.name.replace('_', '-')}", dest=info.name, action="store_const",
                                   const=(), default=argparse.SUPPRESS,
                                   help=f"give none (instead of the default {_shown(info.default)})")
            continue
        group.add_argument(*flags, dest=info.name, type=info.type, default=argparse.SUPPRESS,
                           metavar=hint.get("metavar", info.type.__name__.upper()),
                           choices=info.choices or None, required=info.required,
                           help=f"{help_text} ({default_text})")


def fields_from_args(spec: TaskSpec, args: argparse.Namespace) -> dict[str, Any]:
    """The request fields the options gave (unchecked: `wb.submit(**fields)` checks them, once)."""
    given = {info.name: getattr(args, info.name) for info in cli_fields(spec) if hasattr(args, info.name)}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}

