"""Log-bucket histograms (DDSketch-style) for durations, with a relative error of at most 1 %.

A positive value x falls in bucket ``i = ceil(log_gamma(x))`` with ``gamma = (1 + a) / (1 - a)``;
the bucket's representative ``2 gamma^i / (gamma + 1)`` is within ``a`` of every value in it. Zero
(and negative, clamped) values have their own bucket. Buckets are plain counters, so histograms add
and subtract exactly: a rollup can take a ticket out of one day and put it into another.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

RELATIVE_ACCURACY = 0.01
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
ZERO_BUCKET = "z"


def bucket_of(value: float) -> str:
    if value <= 0:
        return ZERO_BUCKET
    return str(math.ceil(math.log(value) / _LOG_GAMMA - 1e-12))


def representative(bucket: str) -> float:
    if bucket == ZERO_BUCKET:
        return 0.0
    return 2 * GAMMA ** int(bucket) / (GAMMA + 1)


def nearest_rank(histogram: Mapping[str, int], q: float) -> float | None:
    """The ⌈q·n⌉-th smallest value (nearest rank, docs/reference.md#metrics), from bucket counts; None when empty."""
    total = sum(count for count in histogram.values() if count > 0)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total - 1e-9))
    ordered = sorted(((-math.inf if b == ZERO_BUCKET else int(b)), b) for b, c in histogram.items() if c > 0)
    seen = 0
    for _, bucket in ordered:
        seen += histogram[bucket]
        if seen >= rank:
            return representative(bucket)
    return representative(ordered[-1][1])  # unreachable: ranks never exceed the total
