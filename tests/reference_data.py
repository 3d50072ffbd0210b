"""Where the field's reference data lies: `../shared/data/` beside the repository (or
`WORKBENCH_REFERENCE_DATA`). It is not copied into the repository (ACRONYM's grasps are CC BY-NC)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("WORKBENCH_REFERENCE_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
ACRONYM_TABLE = ROOT / "acronym" / "grasps" / "Table_99cf659ae2fe4b87b72437fd995483b_0.009700376721042367.h5"
CRYSTAL_SDF = ROOT / "crystal" / "genentech_dev_120.sdf"


def need(path: Path) -> Path:
    """`path`, or skip the test with where the data was looked for."""
    if not path.exists():
        pytest.skip(f"reference data not found at {path} (set WORKBENCH_REFERENCE_DATA to ../shared/data)")
    return path
