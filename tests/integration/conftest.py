"""Fixtures of the intake integration tests: a client that sends HTTP API v2 events to the real handler."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from touchpoint_local.testing import HandlerClient, Reply


class Client(HandlerClient):
    """The survey intake handler, with the requests its tests make most."""

    def survey(self, method: str, token: str, body: Any = None, **kwargs: Any) -> Reply:
        """A request to /s/{token}, with the route key and path parameters API Gateway sets."""
        return self.request(method, f"/s/{token}", body, path_params={"token": token},
                            route_key=f"{method} /s/{{token}}", **kwargs)

    def mint(self, **fields: Any) -> dict[str, Any]:
        reply = self.request("POST", "/v1/links", {"customer_id": "cust-1", "touchpoint": "shipping", **fields})
        assert reply.status == 201, reply.body
        return reply.json()


@pytest.fixture
def client(survey_intake: ModuleType) -> Client:
    return Client(survey_intake)
