"""Success rates with a confidence interval, and failure counts per stage."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from workbench.tasks.grasping.simulate import STAGES, TrialOutcome


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a binomial rate (good at small n and near 0 or 1)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def stage_counts(trials: Sequence[TrialOutcome]) -> dict[str, int]:
    counts = Counter(t.stage for t in trials if not t.success)
    return {s: counts.get(s, 0) for s in STAGES}
