"""Survey scales of SPEC §5: which scores each metric accepts."""

from __future__ import annotations

from typing import Literal

Metric = Literal["nps", "csat", "ces"]

SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def scale_of(metric: str) -> range:
    low, high = SCALES[metric]
    return range(low, high + 1)
