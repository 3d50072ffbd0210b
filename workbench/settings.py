"""Every `WORKBENCH_*` environment variable in one place: its name, type, default and meaning.

`settings()` reads the environment each time it is called (cheap), so a change a test, a notebook
or `monkeypatch.setenv` makes takes effect without a restart. A value that cannot be read never
stops workbench: the default is used and `settings().problems` says why (`workbench doctor`
prints them). Worker processes get the same variables (`hardware.isolated` forwards `WORKBENCH_*`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    #: WORKBENCH_HOME: the result store, device profiles and settings (default: the user data folder)
    home: Path | None = None
    #: WORKBENCH_CACHE: derived data any store may reuse, e.g. convex decompositions (default: the user cache)
    cache: Path | None = None
    #: WORKBENCH_ISOLATE: "all" (model tasks run in a device's model worker too) or "native" (only native code)
    isolate: str = "all"
    #: WORKBENCH_PROGRESS=1: a live progress bar even when the output is not a terminal
    progress: bool = False
    #: WORKBENCH_DEBUG=1: the CLI prints the traceback behind an error's sentence
    debug: bool = False
    #: WORKBENCH_FREE_MEMORY: pretend this much RAM is free ("8GiB"); memory checks decide as with that much
    free_memory: str = ""
    #: WORKBENCH_SIMULATED_DEVICES: test chips, e.g. "npu:2GiB:float32+float16" (comma-separated)
    simulated_devices: str = ""
    #: WORKBENCH_RAY_START_ATTEMPTS: tries to start the embedded Ray cluster
    ray_start_attempts: int = 2
    #: WORKBENCH_RAY_CONNECT_TIMEOUT: seconds to reach a Ray head before saying it is not there
    ray_connect_timeout_s: float = 5.0
    #: WORKBENCH_SLOT_POOL: one file every store on the machine shares for device slots (a workshop's JupyterHub)
    slot_pool: Path | None = None
    #: WORKBENCH_OWNER: who submitted jobs belong to, for fair share and quotas (default: the login name)
    owner: str = ""
    #: WORKBENCH_MAX_QUEUED: jobs one owner may have queued or running at once (default: no limit)
    max_queued: int | None = None
    #: WORKBENCH_MAX_RUNNING: device slots one owner may hold at once, machine-wide (default: no limit)
    max_running: int | None = None
    #: WORKBENCH_MAX_COMPUTE_S: seconds of device time one owner may use in a store (default: no limit)
    max_compute_s: float | None = None
    #: WORKBENCH_DEVICE_HOST=1: model tasks run in each device's host, one per user, shared by all their processes
    device_host: bool = False
    #: WORKBENCH_HOST_DIR: where this user's device hosts keep their sockets (default: /tmp/workbench-hosts-UID)
    host_dir: Path | None = None
    #: WORKBENCH_HOST_IDLE_S: seconds a device host waits without work before it leaves (and frees its models)
    host_idle_s: float = 600.0
    #: sentences for variables that could not be read (their defaults were used)
    problems: tuple[str, ...] = field(default=(), compare=False)


#: the environment variable behind each setting
VARIABLES = {
    "home": "WORKBENCH_HOME", "cache": "WORKBENCH_CACHE", "isolate": "WORKBENCH_ISOLATE",
    "progress": "WORKBENCH_PROGRESS", "debug": "WORKBENCH_DEBUG", "free_memory": "WORKBENCH_FREE_MEMORY",
    "simulated_devices": "WORKBENCH_SIMULATED_DEVICES", "ray_start_attempts": "WORKBENCH_RAY_START_ATTEMPTS",
    "ray_connect_timeout_s": "WORKBENCH_RAY_CONNECT_TIMEOUT", "slot_pool": "WORKBENCH_SLOT_POOL",
    "owner": "WORKBENCH_OWNER", "max_queued": "WORKBENCH_MAX_QUEUED", "max_running": "WORKBENCH_MAX_RUNNING",
    "max_compute_s": "WORKBENCH_MAX_COMPUTE_S", "device_host": "WORKBENCH_DEVICE_HOST",
    "host_dir": "WORKBENCH_HOST_DIR", "host_idle_s": "WORKBENCH_HOST_IDLE_S",
}
ISOLATION = ("all", "native")
#: the largest quota counts and device seconds a setting or flag may give (beyond them, no limit is meant)
MAX_COUNT, MAX_SECONDS = 1_000_000, 1e9


def bounded_number(text: str, kind: type, low: float, high: float) -> float | int | None:
    """`text` as a `kind` (int or float) from `low` to `high`, or None: what a setting and a quota flag accept
    (NaN fails both comparisons, and a count past `high` would not fit SQLite)."""
    try:
        value = kind(text)
    except ValueError:
        return None
    return value if low <= value <= high else None


def settings() -> Settings:
    """The settings the environment gives now."""
    env = os.environ
    problems: list[str] = []
    values: dict = {}

    def number(name: str, kind: type, low: float, high: float) -> None:
        text = env.get(VARIABLES[name], "").strip()
        if not text:
            return
        value = bounded_number(text, kind, low, high)
        if value is None:
            problems.append(f"{VARIABLES[name]}={text[:40]!r} is ignored: it must be "
                            f"{'a whole number' if kind is int else 'a number'} from {low:g} to {high:,.0f}.")
            return
        values[name] = value

    for name in ("home", "cache", "slot_pool", "host_dir"):
        text = env.get(VARIABLES[name], "")
        if text:
            values[name] = Path(text).expanduser()
    isolate = env.get(VARIABLES["isolate"], "").strip().lower()
    if isolate in ISOLATION:
        values["isolate"] = isolate
    elif isolate:
        problems.append(f"{VARIABLES['isolate']}={isolate[:40]!r} is ignored: it is one of {', '.join(ISOLATION)}.")
    values["progress"] = env.get(VARIABLES["progress"]) == "1"
    values["debug"] = env.get(VARIABLES["debug"]) == "1"
    values["device_host"] = env.get(VARIABLES["device_host"]) == "1"
    values["free_memory"] = env.get(VARIABLES["free_memory"], "").strip()
    values["simulated_devices"] = env.get(VARIABLES["simulated_devices"], "").strip()
    number("ray_start_attempts", int, 1, 100)
    number("ray_connect_timeout_s", float, 0.1, 3600)
    number("max_queued", int, 1, MAX_COUNT)
    number("max_running", int, 1, MAX_COUNT)
    number("max_compute_s", float, 1, MAX_SECONDS)
    number("host_idle_s", float, 1, MAX_SECONDS)
    values["owner"] = env.get(VARIABLES["owner"], "").strip()  # normalised where it is used (jobs.owners)
    return Settings(**values, problems=tuple(problems))


def described() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for each setting, from the field comments above (for docs and doctor)."""
    import inspect

    source = inspect.getsource(Settings).splitlines()
    meaning: dict[str, str] = {}
    for i, line in enumerate(source):
        stripped = line.strip()
        if ":" in stripped and not stripped.startswith(("#", "@", "class", '"')):
            name = stripped.split(":", 1)[0]
            above = source[i - 1].strip()
            if above.startswith("#:"):
                meaning[name] = above[2:].split(": ", 1)[-1].strip()
    return [(VARIABLES[f.name], str(f.default if f.default is not None else ""), meaning.get(f.name, ""))
            for f in fields(Settings) if f.name in VARIABLES]
