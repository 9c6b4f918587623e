"""Measure 4: cold-start import of each handler module vs ``import boto3`` alone (bar: ≤ 1.5×).

Every sample is a fresh interpreter (this one's executable, ``-S`` not used: site-packages as the
function has them) that times, with ``perf_counter`` around the import only, either ``import boto3``
or functions/<name>/app.py loaded from its file the way Lambda loads a handler, with the environment
template.yaml gives that function (TABLE_NAME etc.). Rounds run every target once in a shuffled order;
medians are reported. In full mode ``-X importtime`` of the slowest module names its top offenders.
"""

from __future__ import annotations

import os
import random
import re
import statistics
import subprocess
import sys
from typing import Any

from touchpoint_local.testing import REAL_AWS_SETTINGS

from .common import AWS_ENV, ROOT, function_environment, ratio

BAR = 1.5
_TIMER = """
import importlib.util, sys, time
path = sys.argv[1]
start = time.perf_counter()
if path == "boto3":
    import boto3
else:
    spec = importlib.util.spec_from_file_location("app", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
elapsed = time.perf_counter() - start
print("boto3" in sys.modules)
print(elapsed)
"""


def _targets() -> dict[str, tuple[str, dict[str, str]]]:
    """name -> (what to import, environment): boto3 and each function of template.yaml."""
    from touchpoint_local.template import read_stack

    base = {k: v for k, v in os.environ.items() if k not in REAL_AWS_SETTINGS and not k.startswith("POWERTOOLS_")}
    base.update(AWS_ENV)
    targets = {"boto3": ("boto3", base)}
    for logical_id, spec in read_stack(ROOT / "template.yaml", {"LogLevel": "WARNING"}).functions.items():
        module, _, _ = spec.handler.rpartition(".")
        path = spec.code_dir / f"{module}.py"
        targets[f"{spec.code_dir.name}/{path.name}"] = (str(path), {**base, **function_environment(logical_id)})
    return targets


def _run(what: str, env: dict[str, str], *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *flags, "-c", _TIMER, what], env=env, capture_output=True,  # noqa: S603
                          text=True, check=True, cwd=ROOT)


def import_offenders(what: str, env: dict[str, str], top: int = 12) -> dict[str, Any]:
    """``-X importtime`` of one import: the packages it pulls in directly, heaviest first (cumulative
    µs), and the heaviest single modules (self µs)."""
    stderr = _run(what, env, "-X", "importtime").stderr
    rows = []
    for line in stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            rows.append((int(match.group(1)), int(match.group(2)), len(match.group(3)), match.group(4)))
    top_level = min((depth for *_, depth, _ in rows), default=1)
    direct = sorted(((cum, name) for _, cum, depth, name in rows if depth == top_level), reverse=True)
    heaviest = sorted(((own, name) for own, _, _, name in rows), reverse=True)
    return {"total_us": sum(own for own, *_ in rows), "modules": len(rows),
            "top_level_by_cumulative_us": [[name, cum] for cum, name in direct[:top]],
            "modules_by_self_us": [[name, own] for own, name in heaviest[:top]]}


def measure(quick: bool, runs: int | None = None) -> list[dict[str, Any]]:
    runs = runs or (5 if quick else 15)
    targets = _targets()
    samples: dict[str, list[float]] = {name: [] for name in targets}
    loads_boto3: dict[str, bool] = {}
    rng = random.Random(5)
    for _ in range(runs):
        order = list(targets)
        rng.shuffle(order)
        for name in order:
            what, env = targets[name]
            boto3_loaded, seconds = _run(what, env).stdout.split()[-2:]
            samples[name].append(float(seconds))
            loads_boto3[name] = boto3_loaded == "True"
    medians = {name: round(statistics.median(values) * 1000, 2) for name, values in samples.items()}
    boto3_ms = medians.pop("boto3")
    ratios = {name: ratio(ms, boto3_ms) for name, ms in medians.items()}
    worst = max(ratios, key=lambda name: ratios[name] or 0)
    line: dict[str, Any] = {
        "measure": "cold_start_import_over_boto3",
        "note": (f"median of {runs} fresh interpreters per target ({sys.executable}, Python "
                 f"{sys.version.split()[0]}; Lambda runs python3.12), import timed alone, with each function's "
                 "template.yaml environment; targets interleaved in shuffled order"),
        "median_ms": {"import boto3": boto3_ms, **medians},
        "ratios": ratios,
        "boto3_imported_by_the_import": loads_boto3,
        "worst": worst,
        "ratio": ratios[worst],
        "ratio_of": "slowest handler module import / import boto3 (each handler module must pass)",
        "bar": f"every ratio <= {BAR}",
        "pass": all(value is not None and value <= BAR for value in ratios.values()),
    }
    if not quick:
        line["importtime_worst"] = import_offenders(*targets[worst])
        line["importtime_boto3"] = import_offenders(*targets["boto3"], top=5)
    return [line]
