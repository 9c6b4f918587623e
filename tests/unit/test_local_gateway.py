"""The local stack's gateway: /_local/* drives the whole stack, so only this machine reaches it without
the admin key (a stack started with --host 0.0.0.0 is reachable from the network)."""

from __future__ import annotations

import json

import pytest
from touchpoint_local.gateway import Gateway

KEY = "local-admin-key-for-tests"


@pytest.fixture
def gateway() -> Gateway:
    info = lambda query, headers, body: (200, {"Content-Type": "application/json"}, b'{"ok": true}')  # noqa: E731
    return Gateway(routes=[], functions={}, admin_api_key=KEY, local_routes={("GET", "/_local/info"): info})


@pytest.mark.parametrize("source", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_this_machine_reaches_local_routes_without_the_key(gateway: Gateway, source: str) -> None:
    status, _headers, body = gateway.handle("GET", "/_local/info", {}, b"", "127.0.0.1:3000", source)
    assert (status, json.loads(body)) == (200, {"ok": True})


@pytest.mark.parametrize("source", ["10.0.0.5", "192.168.1.20", "2001:db8::7", "::ffff:10.0.0.5", "not-an-ip"])
def test_another_host_needs_the_admin_key(gateway: Gateway, source: str) -> None:
    # Given a request from another host
    # When it carries no key, or a wrong one, Then it is refused with the error body
    for headers in ({}, {"x-api-key": "wrong"}):
        status, _headers, body = gateway.handle("GET", "/_local/info", headers, b"", "0.0.0.0:3000", source)
        assert status == 401 and json.loads(body)["error"]["code"] == "unauthorized"
    # And with the admin key it is served
    status, _headers, _body = gateway.handle("GET", "/_local/info", {"x-api-key": KEY}, b"", "0.0.0.0:3000", source)
    assert status == 200
