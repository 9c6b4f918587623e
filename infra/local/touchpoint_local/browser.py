"""Real Chromium for layout tests and screenshots: Debian's (or any) Chromium driven by Playwright's
Python package, which is given the executable (it cannot download its own browser here)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# As a root process on a closed network: no sandbox, and none of Chromium's background connections.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


class ChromiumUnavailable(Exception):
    """No Chromium to drive; the message says how to get one."""


def find_chromium() -> str | None:
    configured = os.environ.get("TOUCHPOINT_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_chromium() -> str:
    found = find_chromium()
    if found is None:
        raise ChromiumUnavailable(
            "Chromium is missing: run `touchpoint test-tools install` (as root it runs apt-get install chromium), "
            "or `sudo apt-get install chromium`, or set TOUCHPOINT_CHROMIUM to a Chrome or Chromium executable")
    return found


def install_chromium() -> str:
    """Chromium from the system's packages when it is missing (Debian/Ubuntu, as root)."""
    found = find_chromium()
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise ChromiumUnavailable("Chromium is missing and this is not root on Debian/Ubuntu: install Chromium "
                                  "(e.g. `sudo apt-get install chromium`) or set TOUCHPOINT_CHROMIUM")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "-q", "--no-install-recommends", "chromium"]
    if subprocess.run(install, env=environment, capture_output=True, check=False).returncode != 0:  # noqa: S603
        subprocess.run([apt, "update", "-q"], env=environment, capture_output=True, check=False)  # noqa: S603
        done = subprocess.run(install, env=environment, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise ChromiumUnavailable(f"apt-get install chromium failed: {done.stderr.strip()[-300:]}")
    return require_chromium()


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright Browser) for the block."""
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
