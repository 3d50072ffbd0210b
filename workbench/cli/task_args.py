"""Command-line options for each task: how `workbench run TASK ...` builds its request.

This is view code: it only turns flags into a task's request. Each entry adds the
task's own options to its sub-parser and converts the parsed namespace.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TaskArgs:
    add: Callable[[argparse.ArgumentParser], None]
    request: Callable[[argparse.Namespace], Any]


def _csv(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in text.split(",") if s.strip())


def _selftest_add(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dtypes", type=_csv, default=("float32",),
                   help="comma-separated dtypes to check (default: float32)")
    p.add_argument("--seed", type=int, default=0)


def _selftest_request(a: argparse.Namespace) -> Any:
    from workbench.tasks.selftest import SelftestRequest

    return SelftestRequest(dtypes=a.dtypes, seed=a.seed)


def _profile_add(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seconds", type=float, default=0.3, help="time budget per figure")


def _profile_request(a: argparse.Namespace) -> Any:
    from workbench.devices.profile import ProfileRequest

    return ProfileRequest(seconds_per_figure=a.seconds)


TASK_ARGS: dict[str, TaskArgs] = {
    "selftest": TaskArgs(_selftest_add, _selftest_request),
    "profile": TaskArgs(_profile_add, _profile_request),
}
