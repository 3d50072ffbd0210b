"""Job ids: how they are made and the one pattern every id from outside is checked against.

Why a check: a job id typed by a person (`workbench jobs cancel ID`, the Gradio cancel box, a
REST path) becomes a folder name. `../jobs/<id>` or a 5000-character id must be refused with a
sentence before any path is built or the index is searched.
"""

from __future__ import annotations

import re
import time
import uuid

from workbench.contract.errors import JobNotFound

#: Time-sortable ids (`20261123-204455-3fa9c1`); older or hand-made ids: letters, digits, `-`, `_`.
JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def new_job_id() -> str:
    """Time-sortable, human-readable ids: `20261123-204455-3fa9c1`."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


def check_job_id(job_id: object) -> str:
    """`job_id` when it has the shape of a job id; else `JobNotFound` with a short sentence."""
    if isinstance(job_id, str) and JOB_ID.fullmatch(job_id):
        return job_id
    shown = repr(job_id)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    raise JobNotFound(f"{shown} is not a job id (ids look like 20261123-204455-3fa9c1).")
