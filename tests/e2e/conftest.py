"""End-to-end fixtures: `touchpoint local` started as a user would, on a free loopback port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass
class LocalStackProcess:
    base: str
    admin_key: str
    info: dict[str, Any]
    secrets: dict[str, Any]

    def request(self, method: str, path: str, *, json_body: Any = None, data: bytes | None = None,
                headers: dict[str, str] | None = None, admin: bool = False) -> Reply:
        all_headers = dict(headers or {})
        if json_body is not None:
            data = json.dumps(json_body).encode()
            all_headers.setdefault("content-type", "application/json")
        if admin:
            all_headers["x-api-key"] = self.admin_key
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback only
                return Reply(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as err:
            return Reply(err.code, dict(err.headers), err.read())

    def dynamodb(self) -> Any:
        import boto3

        return boto3.client("dynamodb", endpoint_url=self.info["aws_endpoint"], region_name=self.info["region"],
                            aws_access_key_id="local", aws_secret_access_key="local")

    def item_count(self) -> int:
        table = self.info["resources"]["FeedbackTable"]
        return self.dynamodb().scan(TableName=table, Select="COUNT")["Count"]

    def items(self) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        table = self.info["resources"]["FeedbackTable"]
        deserialize = TypeDeserializer().deserialize
        raw = self.dynamodb().scan(TableName=table)["Items"]
        return [{k: deserialize(v) for k, v in item.items()} for item in raw]


@pytest.fixture(scope="session")
def local_stack() -> LocalStackProcess:
    exe = shutil.which("touchpoint") or str(Path(sys.executable).parent / "touchpoint")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    proc = subprocess.Popen([exe, "local", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    threading.Thread(target=lambda: [lines.append(line) for line in proc.stdout], daemon=True).start()
    ready = f"Touchpoint local stack on http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline and not any(ready in line for line in lines) and proc.poll() is None:
        time.sleep(0.1)
    if not any(ready in line for line in lines):
        proc.kill()
        pytest.fail("local stack did not start:\n" + "".join(lines[-40:]))
    base = f"http://127.0.0.1:{port}"
    secrets = json.loads((ROOT / "infra" / "local" / "secrets.json").read_text())
    with urllib.request.urlopen(base + "/_local/info", timeout=10) as resp:  # noqa: S310 - loopback only
        info = json.loads(resp.read())
    yield LocalStackProcess(base, secrets["admin_api_key"], info, secrets)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
