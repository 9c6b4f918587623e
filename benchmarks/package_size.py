"""Measure 5: the built layer and function packages (no SPEC bar; Lambda allows 250 MB unzipped for a
function with its layers). ``sam build --build-dir <tmp>`` with PYENV_VERSION set (sam needs python3.12
on PATH), then the bytes of each artifact directory, unzipped and as a deflate zip, and the heaviest
top-level entries of the layer. Full mode only: a build takes a while and needs PyPI."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from .common import ROOT

PYENV_VERSION = "3.11.7:3.12.1:3.13.0"


def _bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _zipped(path: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(path.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(path))
    return buffer.tell()


def _sam() -> str:
    beside = Path(sys.executable).with_name("sam")
    return str(beside) if beside.exists() else (shutil.which("sam") or "sam")


def measure(quick: bool) -> list[dict[str, Any]]:
    line: dict[str, Any] = {"measure": "package_sizes", "bar": "none (reported only)", "pass": None}
    if quick:
        return [{**line, "skipped": True, "note": "quick mode skips sam build; run the full mode for sizes"}]
    with tempfile.TemporaryDirectory(prefix="touchpoint-sam-") as tmp:
        build = Path(tmp) / "build"
        env = {**os.environ, "PYENV_VERSION": os.environ.get("PYENV_VERSION", PYENV_VERSION)}
        env.pop("AWS_ENDPOINT_URL", None)
        start = time.perf_counter()
        done = subprocess.run([_sam(), "build", "--build-dir", str(build)], cwd=ROOT, env=env,  # noqa: S603
                              capture_output=True, text=True, check=False)
        seconds = round(time.perf_counter() - start, 1)
        if done.returncode:
            return [{**line, "pass": False, "error": "sam build failed", "log_tail": done.stdout[-2000:] +
                     done.stderr[-2000:]}]
        artifacts = {d.name: {"bytes": _bytes(d), "zipped_bytes": _zipped(d),
                              "files": sum(1 for f in d.rglob("*") if f.is_file())}
                     for d in sorted(build.iterdir()) if d.is_dir()}
        layer = build / "TouchpointSharedLayer" / "python"
        heaviest = sorted(((_bytes(p) if p.is_dir() else p.stat().st_size, p.name) for p in layer.iterdir()),
                          reverse=True)[:8] if layer.is_dir() else []
    largest_function = max((a["bytes"] for n, a in artifacts.items() if n.endswith("Function")), default=0)
    return [{**line, "note": f"sam build --build-dir <tmp> (PYENV_VERSION={env['PYENV_VERSION']}), {seconds} s",
             "artifacts": artifacts, "layer_top_entries_bytes": [[name, size] for size, name in heaviest],
             "largest_function_plus_layer_bytes": largest_function
             + artifacts.get("TouchpointSharedLayer", {}).get("bytes", 0)}]
