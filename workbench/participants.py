"""A shared Gradio server's participants: who each browser session is, what it may see and use.

`workbench gradio --workshop` (or `--max-queued`/`--max-running`/`--max-compute-s`) turns isolation
on: each session owns the jobs it submits (`Job.owner` is "gradio:<session>"), lists and cancels
only those, and submits within its quota. The host starts the server with a token (printed at start,
or `--host-token`); typed into the "host token" box (API: `/host`) it marks that session as the host's
in the session's state, which no client sends: it then shows every participant's jobs and usage and
may cancel any. Without isolation the app is one person's, as before: every job of the store is shown.

A session is Gradio's session hash: a participant who reloads the page starts a new session (their
earlier jobs keep running and stay in the host's view).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from workbench.jobs.owners import Quota, owner_name

#: a reply that does not tell whether another participant's job exists
NO_SUCH_JOB = "No job with id {job_id!r} among yours."


@dataclass(frozen=True)
class Workshop:
    """How a Gradio server shares itself (the default: not at all, one user's app)."""

    isolate: bool = False
    quota: Quota = Quota()
    #: who may see everything (empty: nobody)
    host_token: str = field(default="", repr=False)
    #: offer the tiny random models first (no weights to pull for a room of 30)
    tiny: bool = False

    @classmethod
    def preset(cls, *, max_queued: int | None = 3, max_running: int | None = 1, max_compute_s: float | None = None,
               host_token: str | None = None) -> Workshop:
        """`workbench gradio --workshop`: isolation, a quota, a host token, tiny models first."""
        return cls(True, Quota(max_queued, max_running, max_compute_s), host_token or secrets.token_urlsafe(12),
                   tiny=True)

    def owner(self, request: Any) -> str | None:
        """The owner of the session's jobs; None (the login owner) when the server is not shared."""
        if not self.isolate:
            return None
        session = getattr(request, "session_hash", None) if request is not None else None
        return owner_name(f"gradio:{session or 'anonymous'}")  # as the store keeps it, for every comparison

    def is_host(self, token: str | None) -> bool:
        if not self.host_token or not isinstance(token, str):
            return False
        given, expected = (t.strip().encode("utf-8", "backslashreplace") for t in (token, self.host_token))
        return hmac.compare_digest(given, expected)  # bytes: a str with a non-ASCII letter raises TypeError

    def sees(self, request: Any, host: bool) -> str | None:
        """The owner whose jobs this session may list and cancel; None: every job (`host`: the session gave
        the host token, see `is_host`)."""
        if not self.isolate or host:
            return None
        return self.owner(request)
