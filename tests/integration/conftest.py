"""Fixtures of the intake integration tests: a client that sends HTTP API v2 events to the real handler."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str:
        return {k.lower(): v for k, v in self.headers.items()}.get(name.lower(), "")


class Client:
    """Sends HTTP API v2 events to the handler as API Gateway would."""

    def __init__(self, app: ModuleType, http_event: Callable[..., dict[str, Any]], context: Any) -> None:
        self.app, self.http_event, self.context = app, http_event, context
        self.domain = http_event("GET", "/")["requestContext"]["domainName"]

    def send(self, event: dict[str, Any]) -> Reply:
        result = self.app.lambda_handler(event, self.context)
        body = result.get("body") or ""
        if result.get("isBase64Encoded"):
            body = base64.b64decode(body).decode("utf-8")
        return Reply(result["statusCode"], result.get("headers") or {}, body)

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.send(self.http_event(method, path, body, **kwargs))

    def survey(self, method: str, token: str, body: Any = None, **kwargs: Any) -> Reply:
        """A request to /s/{token}, with the route key and path parameters API Gateway sets."""
        return self.request(method, f"/s/{token}", body, path_params={"token": token},
                            route_key=f"{method} /s/{{token}}", **kwargs)

    def mint(self, **fields: Any) -> dict[str, Any]:
        reply = self.request("POST", "/v1/links", {"customer_id": "cust-1", "touchpoint": "shipping", **fields})
        assert reply.status == 201, reply.body
        return reply.json()


@pytest.fixture
def client(survey_intake: ModuleType, http_event: Callable[..., dict[str, Any]], lambda_context: Any) -> Client:
    return Client(survey_intake, http_event, lambda_context)


