"""Building a task's request from keyword fields, with one readable line for every mistake.

A request type is declared once: a frozen dataclass with typed fields, `#:` comments as help, and
limits as data (`Annotated[int, Limits(ge=1, le=5000, unit="conformers")]`, `MaxLen(64)`). The CLI's
options and their help, the Python API's keyword checks, the OpenAPI schema and Gradio's input bounds
are all generated from it (`fields_of`); `__post_init__` keeps only what limits cannot say (a SMILES
RDKit reads, a file that exists, one field against another).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Union

from workbench.contract.errors import InputError
from workbench.contract.hints import type_hints
from workbench.contract.limits import Limits, MaxLen, describe, within
from workbench.contract.task import TaskSpec


@dataclass(frozen=True)
class FieldInfo:
    """One request field as a view needs it."""

    name: str
    type: Any  #: the base type: int, float, str, bool, or tuple for repeated values
    item: Any  #: for tuples: the item type
    default: Any
    optional: bool  #: None is allowed
    required: bool  #: no default: the caller must give it
    help: str
    choices: tuple[Any, ...] = ()
    limits: Limits | None = None  #: bounds of a number (from `Annotated[..., Limits(...)]`)
    max_length: int | None = None  #: the longest text (from `Annotated[str, MaxLen(n)]`)


def _base(tp: Any) -> tuple[Any, bool, tuple[Any, ...]]:
    """(type without None and without `Annotated`, whether None is allowed, the `Annotated` metadata)."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner, _, meta = _base(args[0]) if len(args) == 1 else (Any, False, ())
        return inner, type(None) in typing.get_args(tp), meta
    if origin is typing.Annotated:
        return tp.__origin__, False, tuple(tp.__metadata__)
    return tp, False, ()


def field_docs(request_type: type) -> dict[str, str]:
    """The `#:` comment of each field (the Sphinx attribute-doc convention), over the class's bases."""
    docs: dict[str, str] = {}
    for cls in reversed(request_type.__mro__):
        if not dataclasses.is_dataclass(cls):
            continue
        try:
            source = inspect.getsource(cls)
        except (OSError, TypeError):
            continue
        above: list[str] = []  # `#:` lines directly above a field document it too (Sphinx reads both)
        for line in source.splitlines():
            comment = re.match(r"^\s+#:\s*(.*)$", line)
            if comment:
                above.append(comment.group(1).strip())
                continue
            field = re.match(r"^\s+(\w+)\s*:[^#]*?(?:#:\s*(.+))?$", line)
            if field and (field.group(2) or above):
                docs[field.group(1)] = (field.group(2) or " ".join(above)).strip()
            above = []
    return docs


@functools.cache
def fields_of(request_type: type) -> tuple[FieldInfo, ...]:
    """The fields of a request dataclass, with help from their `#:` comments (read once per type)."""
    hints = type_hints(request_type, extras=True)
    docs = field_docs(request_type)
    out = []
    for f in dataclasses.fields(request_type):
        if not f.init or f.name.startswith("_"):
            continue
        tp, optional, meta = _base(hints.get(f.name, Any))
        item = None
        literal: tuple[Any, ...] = ()  # a Literal's values: the field's choices
        if typing.get_origin(tp) is tuple:
            args = typing.get_args(tp)
            item = args[0] if args else str
            tp = tuple
        elif typing.get_origin(tp) is typing.Literal:
            literal = typing.get_args(tp)
            tp = type(literal[0])
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
        choices = tuple(f.metadata.get("choices", ())) or literal
        limits = next((m for m in meta if isinstance(m, Limits)), None)
        max_length = next((m.max_length for m in meta if isinstance(m, MaxLen)), None)
        out.append(FieldInfo(f.name, tp, item, None if default is dataclasses.MISSING else default, optional,
                             default is dataclasses.MISSING, f.metadata.get("help", docs.get(f.name, "")), choices,
                             limits, max_length))
    return tuple(out)


def field_of(task: str, field: str) -> FieldInfo:
    """One field of a task's request, as `fields_of` describes it."""
    from workbench.tasks.registry import get_task

    for info in fields_of(get_task(task).request_type()):
        if info.name == field:
            return info
    raise KeyError(f"{task} has no field {field!r}")


def default_of(task: str, field: str) -> Any:
    """A request field's default, written once in its request type: widgets and Gradio start from it (they
    had drifted: 50 conformers in the request, 30 in the widget, 20 in Gradio)."""
    return field_of(task, field).default


def input_bounds(task: str, field: str) -> dict[str, Any]:
    """A number input's `minimum` and `maximum` (Gradio's names) from the field's limits, and its help as
    `info`: a Gradio box cannot take a value the request would refuse."""
    info = field_of(task, field)
    lim = info.limits
    out: dict[str, Any] = {"info": info.help} if info.help else {}
    if lim is not None:
        low, high = (lim.ge if lim.ge is not None else lim.gt), (lim.le if lim.le is not None else lim.lt)
        out.update({k: v for k, v in (("minimum", low), ("maximum", high)) if v is not None})
    return out


def _check_value(task: str, info: FieldInfo, value: Any) -> Any:
    """The value with the field's type and within its limits, or an `InputError` saying what was expected."""
    value = _check_type(task, info, value)
    if value is None:
        return value
    if info.limits is not None and not within(info.limits, value):
        raise InputError(f"{task}: {info.name} must be {describe(info.limits)}, not {value}.")
    if info.max_length is not None and len(value) > info.max_length:
        what = "items" if info.type is tuple else "characters"
        raise InputError(f"{task}: {info.name} has {len(value):,} {what}; at most {info.max_length:,} are taken.")
    if info.choices and info.type is not tuple and value not in info.choices:
        raise InputError(f"{task}: {info.name} must be one of {', '.join(map(str, info.choices))}, not {value!r}.")
    return value


def _check_type(task: str, info: FieldInfo, value: Any) -> Any:
    """The value with the field's type, or an `InputError` saying what was expected."""
    if value is None:
        if info.optional:
            return None
        raise InputError(f"{task}: {info.name} must not be empty.")
    expected = info.type

    def bad(kind: str) -> InputError:
        return InputError(f"{task}: {info.name} must be {kind}, not {type(value).__name__} {value!r:.60}.")

    if expected is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and math.isfinite(value) and value.is_integer():
                value = int(value)
            else:
                raise bad("a whole number")
        if info.name in ("seed", "seeds") or info.name.endswith("_seed"):  # what numpy, torch and RDKit accept
            if not 0 <= value <= MAX_SEED:
                raise InputError(f"{task}: {info.name} must be between 0 and {MAX_SEED}, not {value}.")
        elif not -MAX_INT <= value <= MAX_INT:
            raise InputError(f"{task}: {info.name} is out of range ({value}).")
        return value
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        if not math.isfinite(value):
            raise InputError(f"{task}: {info.name} must be a finite number, not {value}.")
        return float(value)
    if expected is str:
        if not isinstance(value, str):
            raise bad("text")
        return _check_text(task, info.name, value)
    if expected is tuple:
        if isinstance(value, (str, bytes)) and info.item is not str:
            raise bad("a list")
        items = (value,) if isinstance(value, str) else value
        try:
            items = tuple(items)
        except TypeError:
            raise bad("a list") from None
        sub = FieldInfo(info.name, info.item or Any, None, None, False, False, "")
        if info.item in (int, float, str, bool):
            return tuple(_check_value(task, sub, v) for v in items)
        if typing.get_origin(info.item) is tuple:  # rows of numbers (grasp poses): every one finite
            number = FieldInfo(info.name, float, None, None, False, False, "")
            for row in items:
                if isinstance(row, (str, bytes)) or not hasattr(row, "__iter__"):
                    raise bad("a list of lists of numbers")
                for v in row:
                    _check_value(task, number, v)
        return items
    return value


#: the longest text any field takes (tasks set tighter limits of their own: SMILES 2,000, sequences...)
MAX_TEXT = 1_000_000
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")


def _check_text(task: str, name: str, value: str) -> str:
    """Text a job can store and a library can read: no lone surrogates (bytes that were not UTF-8,
    kept by Python as `\\udcff`), no NUL, not megabytes long."""
    if len(value) > MAX_TEXT:
        raise InputError(f"{task}: {name} is {len(value):,} characters long; at most {MAX_TEXT:,} are taken.")
    bad = _NOT_TEXT.search(value)
    if bad:
        what = "a NUL character" if bad.group() == "\x00" else "a byte that is not UTF-8 text"
        raise InputError(f"{task}: {name} holds {what} at character {bad.start() + 1} "
                         f"({value[max(0, bad.start() - 10):bad.start()]!r} comes before it); "
                         "give the text as UTF-8.")
    return value


#: seeds: what numpy's, torch's and RDKit's generators accept
MAX_SEED = 2**32 - 1
MAX_INT = 2**63 - 1


def check_request(spec: TaskSpec, request: Any) -> Any:
    """A request object built elsewhere, checked like keyword fields (types, finite numbers, seeds)."""
    kind: type = type(request)
    for info in fields_of(kind):
        _check_value(spec.name, info, getattr(request, info.name))
    return request


def make_request(spec: TaskSpec, request: Any = None, **fields: Any) -> Any:
    """The task's request: given (checked to be of its type) or built from keyword fields."""
    cls = spec.request_type()
    if request is not None:
        if fields:
            raise InputError("Pass either a request object or keyword fields, not both.")
        if isinstance(request, dict):
            return make_request(spec, **request)
        if not isinstance(request, cls):
            raise InputError(f"Task {spec.name!r} takes a {cls.__name__}, not a {type(request).__name__}.")
        return check_request(spec, request)
    infos = {i.name: i for i in fields_of(cls)}
    for key in fields:
        if key not in infos:
            close = difflib.get_close_matches(key, infos, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else f"; the fields are {', '.join(infos)}."
            raise InputError(f"unknown field {key!r} for task {spec.name!r}{hint}")
    missing = [name for name, info in infos.items() if info.required and name not in fields]
    if missing:
        raise InputError(f"Task {spec.name!r} needs {', '.join(missing)}.")
    checked = {k: _check_value(spec.name, infos[k], v) for k, v in fields.items()}
    try:
        return cls(**checked)
    except InputError:
        raise
    except (TypeError, ValueError, OverflowError, UnicodeError) as exc:  # a check the type's own code made
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{spec.name}: {text}") from None


_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}


def json_schema(spec: TaskSpec) -> dict[str, Any]:
    """The request of a task as an OpenAPI 3 schema, from the same fields the CLI and `make_request` use."""
    props: dict[str, Any] = {}
    required = []
    for info in fields_of(spec.request_type()):
        if info.type is tuple:
            item = _JSON_TYPES.get(info.item)
            prop: dict[str, Any] = {"type": "array", "items": {"type": item} if item else {}}
        elif info.type in _JSON_TYPES:
            prop = {"type": _JSON_TYPES[info.type]}
        else:
            prop = {"type": "object"}
        if info.help:
            prop["description"] = info.help
        prop.update(_bounds(info))
        if info.choices:
            prop["enum"] = list(info.choices)
        if info.optional:
            prop["nullable"] = True
        if info.required:
            required.append(info.name)
        elif info.default is not None and info.type in (*_JSON_TYPES, tuple):
            prop["default"] = list(info.default) if isinstance(info.default, tuple) else info.default
        props[info.name] = prop
    schema: dict[str, Any] = {"type": "object", "description": spec.summary, "properties": props,
                              "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


def _bounds(info: FieldInfo) -> dict[str, Any]:
    """A field's limits in OpenAPI 3.0's words (`minimum` with a boolean `exclusiveMinimum`...)."""
    out: dict[str, Any] = {}
    lim = info.limits
    if lim is not None:
        for low, high, key, exclusive in (("ge", "gt", "minimum", "exclusiveMinimum"),
                                          ("le", "lt", "maximum", "exclusiveMaximum")):
            closed, opened = getattr(lim, low), getattr(lim, high)
            if closed is not None:
                out[key] = closed
            elif opened is not None:
                out[key], out[exclusive] = opened, True
        if lim.unit:
            out["x-unit"] = lim.unit
    if info.max_length is not None:
        out["maxItems" if info.type is tuple else "maxLength"] = info.max_length
    return out


def openapi_components() -> dict[str, Any]:
    """`{"<task>-request": schema}` for every registered task (written into the server's openapi.json)."""
    from workbench.tasks.registry import TASKS

    return {f"{name}-request": json_schema(spec) for name, spec in sorted(TASKS.items())}


def write_openapi(path: str | None = None) -> str:
    """Rewrite the request schemas (`<task>-request`) of the server's `openapi.json` from the request types;
    everything else in the file is kept. `python -m workbench.tasks.requests` runs it."""
    import json
    from pathlib import Path

    target = Path(path) if path else Path(__file__).resolve().parents[1] / "server" / "openapi.json"
    spec = json.loads(target.read_text())
    schemas = {k: v for k, v in spec["components"]["schemas"].items() if not k.endswith("-request")}
    spec["components"]["schemas"] = {**schemas, **openapi_components()}
    target.write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n")
    return str(target)


if __name__ == "__main__":
    print(f"wrote {write_openapi()}")
