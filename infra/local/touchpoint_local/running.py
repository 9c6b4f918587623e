"""Which local stack is running: `touchpoint local` records its URL so that `rebuild` and `link` find
it on any port without `--stack` (the record lives in ``$TOUCHPOINT_STATE_DIR`` or
``~/.cache/touchpoint``, and a record whose process is gone is ignored)."""

from __future__ import annotations

import contextlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

DEFAULT_STACK = "http://127.0.0.1:3000"


class StackUnreachable(Exception):
    """No local stack answers where we looked; the message says what to do."""


def _record_path() -> Path:
    base = os.environ.get("TOUCHPOINT_STATE_DIR") or str(Path.home() / ".cache" / "touchpoint")
    return Path(base) / "local-stack.json"


def remember(url: str) -> None:
    """Called by `touchpoint local` once it serves: the newest stack is the one commands talk to."""
    path = _record_path()
    with contextlib.suppress(OSError):  # a read-only home only loses the convenience
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"url": url, "pid": os.getpid()}), "utf-8")


def forget() -> None:
    """Called when `touchpoint local` stops: drop the record if it is still this process's."""
    path = _record_path()
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text("utf-8")).get("pid") == os.getpid():
            path.unlink()


def recorded_stack() -> str | None:
    """The URL of the newest `touchpoint local` still running, if any."""
    try:
        record = json.loads(_record_path().read_text("utf-8"))
        os.kill(int(record["pid"]), 0)  # signal 0: is the process there
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(record["url"])


def stack_info(url: str, timeout: float = 5.0) -> dict[str, Any]:
    """``GET /_local/info`` of the stack at ``url``, or StackUnreachable in one line."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/_local/info", timeout=timeout) as reply:  # noqa: S310
            info = json.loads(reply.read())
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise StackUnreachable(
            f"no local stack answers at {url} ({reason}): start one with `touchpoint local`, "
            "or pass --stack URL") from None
    if not isinstance(info, dict) or "resources" not in info:
        raise StackUnreachable(f"{url} answers, but not as a `touchpoint local` stack (no /_local/info)")
    return info
