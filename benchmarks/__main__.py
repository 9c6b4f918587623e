"""``python -m benchmarks [--quick] [--only NAME ...]``: every performance measure in one process on this
machine, one JSON object per line per measure (raw figures, the ratio, the bar, pass), then a summary
line. Exits 1 when a bar is missed, naming it on stderr."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from . import (
    aggregator_writes,
    capacity,
    cold_start,
    common,
    concurrency,
    demo_scaling,
    intake_latency,
    package_size,
    scorecard_reads,
)

MEASURES: dict[str, Callable[[bool], list[dict[str, Any]]]] = {
    "scorecard": scorecard_reads.measure,
    "aggregator": aggregator_writes.measure,
    "intake": intake_latency.measure,
    "cold_start": cold_start.measure,
    "package_size": package_size.measure,
    "demo_scaling": demo_scaling.measure,
    "capacity": capacity.measure,
    "concurrency": concurrency.measure,
}
# The measures that touch DynamoDB, run once per backend; the others do not depend on it.
PER_BACKEND = ("scorecard", "aggregator", "intake")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="smaller sets (scorecard 1,000 vs 20,000, heavy customer 1,000 records), fewer runs, "
                             "no sam build: about 3 minutes")
    parser.add_argument("--only", nargs="+", choices=sorted(MEASURES), help="run only these measures")
    parser.add_argument("--dynamodb", choices=["moto", "local", "both"], default="moto",
                        help="where DynamoDB runs: in-process moto (default), DynamoDB Local (AWS's emulator, "
                             "`touchpoint dynamodb-local install`), or both side by side")
    args = parser.parse_args(argv)
    backends = ["moto", "local"] if args.dynamodb == "both" else [args.dynamodb]
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    mode = "quick" if args.quick else "full"
    missed: list[str] = []
    started = time.perf_counter()
    for name in args.only or list(MEASURES):
        for backend in backends if name in PER_BACKEND else [None]:
            common.BACKEND = backend or "moto"
            begin = time.perf_counter()
            for line in MEASURES[name](args.quick):
                line = {**line, **({"dynamodb": backend} if backend else {}), "mode": mode,
                        "seconds": round(time.perf_counter() - begin, 1)}
                print(json.dumps(line), flush=True)
                if line.get("pass") is False:
                    where = f" on {backend}" if backend else ""
                    missed.append(f"{line['measure']}{where}: ratio {line.get('ratio')} misses {line.get('bar')}")
    print(json.dumps({"measure": "summary", "mode": mode, "seconds": round(time.perf_counter() - started, 1),
                      "python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
                      "bars_missed": missed, "pass": not missed}), flush=True)
    for problem in missed:
        print(f"bar missed: {problem}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
