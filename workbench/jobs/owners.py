"""Who a job belongs to, and what one owner may use: the basis of fair share and quotas.

An owner is a login name (a JupyterHub user, `WORKBENCH_OWNER` to override) or a Gradio session.
Every job records its owner when it is created: queues take waiting jobs round-robin by owner
(`fair_order`), the slot pool counts what each owner holds, and a view can show a participant
only their own jobs. The owner of the code running now is a context variable, so a Gradio
handler (one thread per request) acts for its participant without passing it through every call.
"""

from __future__ import annotations

import contextlib
import contextvars
import getpass
import hashlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from workbench.contract.errors import WorkbenchError
from workbench.contract.names import printable
from workbench.settings import settings


class QuotaExceeded(WorkbenchError):
    """A participant asked for more than their share; nothing was queued."""


@dataclass(frozen=True)
class Quota:
    """What one owner may use (None: no limit)."""

    #: jobs queued or running at once
    max_queued: int | None = None
    #: device slots held at once, machine-wide (the slot pool enforces it)
    max_running: int | None = None
    #: seconds of device time, summed over the owner's jobs in the store
    max_compute_s: float | None = None

    @classmethod
    def from_settings(cls) -> Quota:
        s = settings()
        return cls(s.max_queued, s.max_running, s.max_compute_s)

    @property
    def limited(self) -> bool:
        return any(v is not None for v in (self.max_queued, self.max_running, self.max_compute_s))


_acting: contextvars.ContextVar[tuple[str, Quota] | None] = contextvars.ContextVar("workbench_owner", default=None)


#: the longest owner name kept as given; a longer one keeps its start and a digest of the whole
OWNER_LIMIT = 80


def owner_name(text: str) -> str:
    """An owner as the store keeps it and every query asks for it: valid UTF-8 (bytes an environment could
    not decode shown as `\udcff`), no control characters (NUL included), spaces collapsed, at most
    `OWNER_LIMIT` characters; a longer name keeps its first 60 and a digest of the whole, so two long names
    never become one. The same function for storing and for querying: a 100-character Gradio session was
    stored cut short and looked up whole, so its quota counted nothing and it saw none of its jobs."""
    name = printable(text)
    if len(name) > OWNER_LIMIT:
        digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:16]
        name = f"{name[:60]}~{digest}"
    return name



def login_owner() -> str:
    """The owner of work this process submits by default: `WORKBENCH_OWNER`, else the login name."""
    configured = owner_name(settings().owner)
    if configured:
        return configured
    try:
        return owner_name(getpass.getuser()) or "user"
    except Exception:  # noqa: BLE001 - no login name (a container without a passwd entry)
        return "user"


def current() -> str:
    acting = _acting.get()
    return acting[0] if acting is not None else login_owner()


def current_quota() -> Quota:
    acting = _acting.get()
    return acting[1] if acting is not None else Quota.from_settings()


@contextlib.contextmanager
def acting_as(owner: str | None, quota: Quota | None = None) -> Iterator[None]:
    """Run the block for `owner` (None: the login owner) under `quota` (None: the settings' quota)."""
    token = _acting.set(((owner_name(owner) if owner else "") or login_owner(),
                         quota if quota is not None else Quota.from_settings()))
    try:
        yield
    finally:
        _acting.reset(token)


_admitting: contextvars.ContextVar[bool] = contextvars.ContextVar("workbench_admitting", default=False)


@contextlib.contextmanager
def admitting() -> Iterator[None]:
    """A submit by a person (`wb.submit`, Gradio, the CLI): the job created in this block is checked against
    its owner's quota when the store records it, in the same transaction (`admission`). Jobs made for a job
    already admitted (a batch's parts, a moved job) are not counted twice."""
    token = _admitting.set(True)
    try:
        yield
    finally:
        _admitting.reset(token)


def admission() -> Quota | None:
    """The quota a job created now must fit when it is recorded, or None (not a person's submit)."""
    return current_quota() if _admitting.get() else None


def check_quota(usage: dict[str, float], quota: Quota) -> None:
    """Refuse, in one sentence, a submit that would take an owner with `usage` (their row of
    `ResultStore.usage`, read in the transaction that records the job) past `quota`."""
    active = usage.get("queued", 0) + usage.get("running", 0)
    if quota.max_queued is not None and active >= quota.max_queued:
        raise QuotaExceeded(
            f"You already have {active:.0f} job{'s' if active != 1 else ''} queued or running, the most one "
            f"participant may have ({quota.max_queued}); wait for one to finish, or cancel one.")
    used = usage.get("compute_s", 0.0)
    if quota.max_compute_s is not None and used >= quota.max_compute_s:
        raise QuotaExceeded(
            f"You have used {used:.0f} s of device time, your share on this server ({quota.max_compute_s:.0f} s); "
            "ask the host for more.")


def fair_order(waiting: Iterable[tuple[str, str, float]], holding: dict[str, int],
               served: dict[str, float] | None = None) -> list[str]:
    """Job ids in the order they get a free slot: round-robin by owner.

    `waiting`: (job id, owner, when it began waiting); `holding`: slots each owner holds now; `served`:
    when each owner last got a slot. A job's turn is the slots its owner already holds plus the jobs of
    that owner waiting before it, so an owner who holds nothing goes before the second job of one who
    holds one. Among equal turns the owner served longest ago goes first (never served: first of all),
    then the job that waited longest: a burst of one owner's jobs, all old, does not go before a
    newcomer's first job once its owner has been served.
    """
    served = served or {}
    ahead: dict[str, int] = {}
    keyed = []
    for job_id, owner, since in sorted(waiting, key=lambda w: (w[2], w[0])):
        turn = holding.get(owner, 0) + ahead.get(owner, 0)
        ahead[owner] = ahead.get(owner, 0) + 1
        keyed.append((turn, served.get(owner, float("-inf")), since, job_id))
    return [job_id for *_, job_id in sorted(keyed)]


def compute_seconds(started: float | None, finished: float | None, now: float | None = None) -> float:
    """Device time of one job so far (0 before it started)."""
    if started is None:
        return 0.0
    end = finished if finished is not None else (now if now is not None else time.time())
    return max(0.0, end - started)
