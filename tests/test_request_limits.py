"""Request limits are data (`Annotated[int, Limits(...)]`): one checker enforces them, and the same
numbers reach `--help`, the OpenAPI file and pydantic, because they are written once."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from helpers import run_cli

from workbench.contract import InputError
from workbench.contract.limits import Limits, describe, within
from workbench.tasks.registry import TASKS
from workbench.tasks.requests import fields_of, json_schema, make_request

LIMITED = [(task, info) for task, spec in sorted(TASKS.items()) for info in fields_of(spec.request_type())
           if info.limits is not None]


def test_every_field_of_every_task_has_help():
    missing = [f"{task}.{info.name}" for task, spec in TASKS.items() for info in fields_of(spec.request_type())
               if not info.help.strip()]
    assert not missing


def test_the_ranges_that_were_code_are_declared():
    """The bounds `__post_init__` used to hold, now read from the types (a sample of each kind)."""
    limits = {(task, info.name): info.limits for task, info in LIMITED}
    assert limits["conformers", "num_conformers"] == Limits(ge=1, le=5000, unit="conformers")
    assert limits["complex", "samples"] == limits["screen", "samples"]  # one alias, two tasks
    assert limits["grasp-train", "held_out"].gt == 0 and limits["grasp-train", "held_out"].lt == 1
    assert len(LIMITED) >= 45


@pytest.mark.parametrize(("task", "info"), LIMITED, ids=[f"{t}.{i.name}" for t, i in LIMITED])
def test_each_limit_refuses_just_outside_and_says_the_range(task, info):
    lim = info.limits
    step = 1 if info.type is int else 1e-9
    outside = [v for v in ((lim.ge - step) if lim.ge is not None else None, lim.gt,
                           (lim.le + step) if lim.le is not None else None, lim.lt) if v is not None]
    assert outside
    for value in outside:
        value = int(value) if info.type is int else float(value)
        assert not within(lim, value)
        with pytest.raises(InputError) as err:
            make_request(TASKS[task], **{info.name: value})
        assert str(err.value) == f"{task}: {info.name} must be {describe(lim)}, not {value}."
    assert not within(lim, math.nan)


def test_a_value_on_a_closed_bound_passes_the_limit_check():
    """At the bound itself the limit holds; what fails next is the task's own check (no molecule given)."""
    with pytest.raises(InputError, match="Give at least one molecule"):
        make_request(TASKS["conformers"], num_conformers=5000)
    assert make_request(TASKS["conformers"], smiles=("CCO",), num_conformers=5000).num_conformers == 5000


def test_the_openapi_schema_and_the_committed_file_carry_the_bounds():
    prop = json_schema(TASKS["conformers"])["properties"]["num_conformers"]
    assert (prop["minimum"], prop["maximum"], prop["x-unit"], prop["default"]) == (1, 5000, "conformers", 50)
    held_out = json_schema(TASKS["grasp-train"])["properties"]["held_out"]
    assert held_out["exclusiveMinimum"] is True and held_out["exclusiveMaximum"] is True
    assert json_schema(TASKS["complex"])["properties"]["name"]["maxLength"] == 64
    committed = json.loads((Path(__file__).resolve().parents[1] / "workbench/server/openapi.json").read_text())
    assert committed["components"]["schemas"]["conformers-request"]["properties"]["num_conformers"] == prop


def test_pydantic_reads_the_same_bounds():
    """`Limits` is an `annotated_types.Interval`: pydantic, which Gradio builds on, enforces it unchanged."""
    import typing

    import pydantic

    hints = typing.get_type_hints(TASKS["conformers"].request_type(), include_extras=True)
    adapter = pydantic.TypeAdapter(hints["num_conformers"])
    assert adapter.validate_python(5000) == 5000
    with pytest.raises(pydantic.ValidationError, match="less than or equal to 5000"):
        adapter.validate_python(5001)


def test_the_cli_help_shows_the_range_and_refuses_in_the_same_words():
    out = run_cli("run", "conformers", "--help")
    assert out.returncode == 0
    assert "between 1 and 5000 conformers; default: 50" in " ".join(out.stdout.split())
    bad = run_cli("run", "conformers", "--smiles", "CCO", "--num", "0")
    assert bad.returncode != 0
    assert "num_conformers must be between 1 and 5000 conformers, not 0." in bad.stderr
    assert "Traceback" not in bad.stderr
