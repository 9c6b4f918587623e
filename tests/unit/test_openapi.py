"""The shipped OpenAPI document is the one the code and the template produce today."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from touchpoint_local.openapi import build_openapi
from touchpoint_local.template import read_stack

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "shared" / "touchpoint" / "openapi.json"


def test_the_shipped_document_is_current():
    # Given the functions and template as they are, When the document is rebuilt
    rebuilt = build_openapi(ROOT)
    # Then it equals the shipped file (run `touchpoint openapi` after changing a route)
    assert json.loads(SHIPPED.read_text()) == json.loads(json.dumps(rebuilt))


def test_every_template_route_is_documented_with_its_answers_the_error_body_and_its_auth():
    document = json.loads(SHIPPED.read_text())
    routes = read_stack(ROOT / "template.yaml").routes
    documented = {(method, path) for path, ops in document["paths"].items() for method in ops}
    expected = {(r.method.lower(), r.path) for r in routes if r.path != "/openapi.json"}
    assert documented == expected
    for route in routes:
        if route.path == "/openapi.json":
            continue
        operation = document["paths"][route.path][route.method.lower()]
        responses = operation["responses"]
        # Then each success status has a body schema (JSON from a model, or an HTML page) ...
        successes = {status: answer for status, answer in responses.items() if status.startswith("2")}
        assert successes, route.path
        for answer in successes.values():
            content = answer["content"]
            assert content.get("application/json", {}).get("schema") or "text/html" in content
        # ... every refusal of ours has the error body ...
        for status, answer in responses.items():
            if status.startswith("4") and not (route.iam_auth and status == "403"):
                assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
        # ... and the admin routes carry their auth and its refusals
        assert ("security" in operation) == route.iam_auth
        assert ("401" in responses) == (route.iam_auth or route.path.startswith("/webhooks/"))


REAL_STATUSES = {
    ("post", "/v1/links"): {"200", "201", "400", "401", "403", "409", "413", "422"},  # 200: held back
    ("get", "/s/{token}"): {"200", "403", "410"},
    ("post", "/s/{token}"): {"200", "201", "400", "403", "410", "413", "422"},
    ("post", "/v1/responses"): {"200", "201", "400", "401", "403", "413", "422"},
    ("post", "/webhooks/{provider}"): {"200", "202", "400", "401", "409", "413", "422"},
    ("get", "/v1/tickets/{provider}/{ticket_id}"): {"200", "401", "403", "404", "422"},
    ("get", "/v1/scorecards/{period}"): {"200", "401", "403", "422"},
    ("delete", "/v1/customers/{customer_id}"): {"200", "401", "403"},
    ("get", "/v1/touchpoints"): {"200", "401", "403"},
}


@pytest.mark.parametrize(("method", "path"), sorted(REAL_STATUSES))
def test_each_operation_documents_the_status_codes_it_really_returns(method, path):
    # Given the shipped document, Then each operation lists exactly the codes the route answers with
    # (201 and 202 where they are the success, not a generic 200).
    operation = json.loads(SHIPPED.read_text())["paths"][path][method]
    assert set(operation["responses"]) == REAL_STATUSES[(method, path)]


def test_the_response_schemas_are_the_models_the_routes_return():
    components = json.loads(SHIPPED.read_text())["components"]["schemas"]
    assert {"LinkCreated", "AnswerRecorded", "ImportResult", "WebhookReceipt", "TicketView", "Scorecard",
            "ErasureResult", "Touchpoint", "ErrorBody"} <= set(components)
    assert set(components["LinkCreated"]["required"]) >= {"token", "url", "expires_at"}
    assert set(components["Scorecard"]["required"]) >= {"period", "cx", "cs", "service_to_experience", "previous"}
