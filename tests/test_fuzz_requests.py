"""Property-based: any input to any task's request, through the Python API and the CLI, gives a
request or one readable line (`InputError`), never another exception or a crash."""

from __future__ import annotations

import math

import pytest
from helpers import run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.contract import InputError
from workbench.tasks.registry import TASKS
from workbench.tasks.requests import fields_of, make_request

#: values a person or a program might pass by mistake, of every shape
JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([math.nan, math.inf, -math.inf, -1, 0, 10**9]),
    st.text(max_size=40), st.text(alphabet="CNO()=#[]@+-123cn", max_size=60), st.binary(max_size=20),
    st.lists(st.integers(-5, 5), max_size=4), st.lists(st.text(max_size=8), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    # odd text: lone surrogates (bytes that were not UTF-8), NUL, bidi marks, megabyte strings
    st.text(alphabet=st.characters(exclude_categories=()), max_size=20),
    st.sampled_from(["na\udcffme", "CCO na\udcffme", "\x00", "CCO\x00", "\u202eCCO", "x" * 1_000_001,
                     ("CCO", "na\udcffme")]),
)


def _fields(name: str) -> st.SearchStrategy[dict]:
    names = [f.name for f in fields_of(TASKS[name].request_type())]
    keys = st.sampled_from([*names, "smile", "device", "nonsense"])
    return st.dictionaries(keys, JUNK, max_size=4)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_any_fields_give_a_request_or_one_readable_line(task):
    spec = TASKS[task]

    @settings(max_examples=60, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(fields=_fields(task))
    def check(fields):
        try:
            request = make_request(spec, **fields)
        except InputError as exc:
            text = str(exc)
            assert text and "\n" not in text and "Traceback" not in text, text
            text.encode("utf-8")  # the sentence itself is valid text: it can be stored, printed, sent
            assert len(text) < 2000
            return
        spec.requirements_for(request)  # what placement asks before anything loads: no exception
        spec.work_of(request)

    check()


@pytest.mark.slow
@settings(max_examples=8, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(task=st.sampled_from(["count", "conformers", "grasp", "selftest", "profile"]),
       flag=st.sampled_from(["--steps", "--num", "--seed", "--prune-rms", "--friction", "--object", "--dtypes",
                             "--seconds", "--energy-window", "--render", "--device"]),
       value=st.sampled_from(["nan", "inf", "-1", "0", "1e400", "abc", "", "2" * 30, "box:nan", "teapot"]))
def test_the_cli_answers_any_flag_with_a_result_or_one_line(task, flag, value):
    proc = run_cli("run", task, flag, value, "--quiet", timeout=120)
    assert proc.returncode in (0, 1, 2), proc.stderr[-500:]
    if proc.returncode == 2:
        assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr, proc.stderr
