"""How much of this process's cores other work is using now: what placement sees of a busy machine.

A CPU device shares its cores with everything else on the host: a second notebook, a Gradio server,
a compile. Its measured rates were taken at some other load, so placement scales them by the share
of the cores left to it. The share used by others is the busy time of the cores this process may run
on (its CPU affinity: a Ray node pinned to some cores sees those) minus this process tree's own time
(its jobs are already counted as queued work), over the interval since the last look when that was
between MIN_INTERVAL_S and WINDOW_S ago, else over a fresh SAMPLE_S. Nothing here imports torch.
"""

from __future__ import annotations

import os
import threading
import time

import psutil

#: looks closer together than this return the last figure
MIN_INTERVAL_S = 0.25
#: a look with no recent sample measures this long
SAMPLE_S = 0.1
#: the share is of the last moments only: a reading older than this describes another moment (the job
#: that ran there a few seconds ago), so a look after it samples afresh
WINDOW_S = 1.0


def _cores() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux: every core
        return list(range(psutil.cpu_count() or 1))


def _own_seconds() -> float:
    """CPU seconds of this process and its children (model workers, grasp workers) so far."""
    me = psutil.Process()
    total = 0.0
    for p in [me, *me.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def _busy_seconds(cores: list[int]) -> float:
    per_core = psutil.cpu_times(percpu=True)
    busy = 0.0
    for i in cores:
        if i < len(per_core):
            t = per_core[i]
            # guest time is already inside user time; waiting for I/O is not using the core
            idle = t.idle + sum(getattr(t, name, 0.0) for name in ("iowait", "guest", "guest_nice"))
            busy += sum(t) - idle
    return busy


class HostLoad:
    """The share (0..1) of this process's cores that other processes are using."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: tuple[float, float, float] | None = None  # (monotonic time, busy s, own s)
        self._value = 0.0
        self.cores = _cores()

    def read(self) -> tuple[float, float, float]:
        """A reading (monotonic time, busy seconds of these cores, this process tree's seconds) to measure
        a later share from (`share_since`)."""
        return time.monotonic(), _busy_seconds(self.cores), _own_seconds()

    def _share(self, then: tuple[float, float, float], now: tuple[float, float, float]) -> float:
        span = (now[0] - then[0]) * len(self.cores)
        # a child that exited takes its seconds with it: its share counts as others' (never below 0)
        others = (now[1] - then[1]) - max(0.0, now[2] - then[2])
        return min(1.0, max(0.0, others / span)) if span > 0 else 0.0

    def share_since(self, reading: tuple[float, float, float]) -> float:
        """Others' share of the cores between `reading` and now (a job's whole run, say)."""
        return self._share(reading, self.read())

    def others(self) -> float:
        with self._lock:
            now = time.monotonic()
            if self._last is not None and now - self._last[0] < MIN_INTERVAL_S:
                return self._value
            if self._last is None or now - self._last[0] > WINDOW_S:
                self._last = self.read()
                time.sleep(SAMPLE_S)
            current = self.read()
            self._value = self._share(self._last, current)
            self._last = current
            return self._value


HOST_LOAD = HostLoad()
