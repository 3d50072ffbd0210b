"""Numbers in words, shared by the views (`workbench.presenters`) and the results' own `summary()`
methods, which live in the task modules below the views: "14 conformers", "0.41 TFLOP/s"."""

from __future__ import annotations

from typing import Any


def sig2(x: float | None) -> str:
    """Two significant digits: 0.0013, 0.41, 3.2, 150 (None: '-')."""
    if x is None:
        return "-"
    if x == 0:
        return "0"
    rounded = float(f"{x:.2g}")
    return f"{rounded:.2g}" if abs(x) < 100 else f"{rounded:,.0f}"


def count(n: int, noun: str) -> str:
    """`1 conformer`, `14 conformers`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def profile_text(profile: Any) -> str:
    """`0.41 TFLOP/s float32, 0.41 TFLOP/s bfloat16, 12 GB/s` (one fast-dtype truth: the profile's)."""
    if not profile:
        return "not profiled"
    p = profile if isinstance(profile, dict) else profile.to_dict()
    figures = [f"{sig2(p['matmul_tflops_fp32'])} TFLOP/s float32"]
    if p.get("fast_dtype") and p["fast_dtype"] != "float32":
        figures.append(f"{sig2(p['matmul_tflops_fast'])} TFLOP/s {p['fast_dtype']}")
    figures.append(f"{sig2(p['memory_gbps'])} GB/s copy")
    return ", ".join(figures)
