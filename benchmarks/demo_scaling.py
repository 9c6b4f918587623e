"""The demo's time grows linearly with its size: `touchpoint demo` (embedded moto) at a small and a
big size, seconds per stream record aggregated of the big run over the small one's. Before the local
stack's index-query fix (moto walked the whole table for every ByCustomer query) this grew with the
square of the size."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from .common import ratio

BAR = 1.5
FULL = ((200, 4), (800, 8))  # the sizes: the default demo and 8x its data
QUICK = ((50, 2), (200, 4))  # also 8x, in about a minute


def one_run(customers: int, weeks: int) -> dict[str, Any]:
    from touchpoint_local.demo import run_demo

    with tempfile.TemporaryDirectory() as out:
        result = run_demo(Path(out), customers=customers, weeks=weeks)
    records = result.counts["stream_records"]
    return {"customers": customers, "weeks": weeks, "seconds": round(result.seconds, 2), "stream_records": records,
            "ms_per_record": round(1000 * result.seconds / records, 3) if records else None, "drift": result.drift}


def measure(quick: bool, sizes: tuple[tuple[int, int], tuple[int, int]] | None = None) -> list[dict[str, Any]]:
    small_size, big_size = sizes or (QUICK if quick else FULL)
    small, big = one_run(*small_size), one_run(*big_size)
    per_record = ratio(big["ms_per_record"] or 0, small["ms_per_record"] or 0)
    return [{
        "measure": "demo_seconds_per_record",
        "note": "touchpoint demo on embedded moto, seconds per stream record aggregated, big run / small run",
        "small": small, "big": big, "ratio": per_record,
        "bar": f"ratio <= {BAR}",
        "pass": per_record is not None and per_record <= BAR and small["drift"] == big["drift"] == 0,
    }]
