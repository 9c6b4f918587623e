"""The shipped OpenAPI document is the one the code and the template produce today."""

from __future__ import annotations

import json
from pathlib import Path

from touchpoint_local.openapi import build_openapi
from touchpoint_local.template import read_stack

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "shared" / "touchpoint" / "openapi.json"


def test_the_shipped_document_is_current():
    # Given the functions and template as they are, When the document is rebuilt
    rebuilt = build_openapi(ROOT)
    # Then it equals the shipped file (run `touchpoint openapi` after changing a route)
    assert json.loads(SHIPPED.read_text()) == json.loads(json.dumps(rebuilt))


def test_every_template_route_is_documented_with_the_spec_error_body_and_its_auth():
    document = json.loads(SHIPPED.read_text())
    routes = read_stack(ROOT / "template.yaml").routes
    documented = {(method, path) for path, ops in document["paths"].items() for method in ops}
    expected = {(r.method.lower(), r.path) for r in routes if r.path != "/openapi.json"}
    assert documented == expected
    for route in routes:
        if route.path == "/openapi.json":
            continue
        operation = document["paths"][route.path][route.method.lower()]
        assert operation["responses"]["422"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"}
        assert ("security" in operation) == route.iam_auth
