"""What the browser tests share: Debian's Chromium (never `playwright install`), its flags, and the
skip (or, with WORKBENCH_REQUIRE_BROWSER=1 as in CI, the error) when it is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "browser"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--use-gl=swiftshader", "--enable-unsafe-swiftshader"]


def require_chromium() -> None:
    """Skip the calling test module without Chromium (fail instead when the browser is required)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("WORKBENCH_REQUIRE_BROWSER") == "1":
            raise RuntimeError("Chromium is required for the browser tests (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed", allow_module_level=True)
