"""The OpenAPI document of every HTTP route in template.yaml, merged from each function's Powertools
resolver (Powertools' OpenAPIMerge), each route with the answers it declares and the admin auth of
each route taken from the template. Generated here, shipped as ``shared/touchpoint/openapi.json`` and served by
``GET /openapi.json``; a test fails when the shipped file is stale (`touchpoint openapi` rewrites it)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .template import read_stack

# On AWS an admin route without valid SigV4 is refused by API Gateway itself, with its own body.
IAM_REFUSAL = {"description": "IAM refused the request (on AWS; API Gateway's own body)",
               "content": {"application/json": {"schema": {"type": "object",
                                                            "properties": {"message": {"type": "string"}}}}}}
PLACEHOLDER_ENV = {"TABLE_NAME": "openapi", "TOKEN_KEYS_SECRET": "openapi", "PSEUDONYM_KEY_SECRET": "openapi",
                   "WEBHOOK_SECRETS_SECRET": "openapi", "EVENT_BUS_NAME": "openapi",
                   "IDEMPOTENCY_TABLE_NAME": "openapi"}


def build_openapi(root: Path) -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

    model = read_stack(root / "template.yaml")
    saved = {k: os.environ.get(k) for k in PLACEHOLDER_ENV}
    os.environ.update({k: os.environ.get(k) or v for k, v in PLACEHOLDER_ENV.items()})
    try:
        merge = OpenAPIMerge(title="Touchpoint API", version="1.0.0",
                             summary="Survey intake, helpdesk webhooks, tickets, customers and scorecards")
        for spec in sorted(model.functions.values(), key=lambda s: s.logical_id):
            if spec.routes:
                merge.add_file(spec.code_dir / f"{spec.handler.rsplit('.', 1)[0]}.py", "app")
        schema = json.loads(merge.get_openapi_json_schema())
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return _finish(schema, {(r.method.lower(), r.path) for r in model.routes if r.iam_auth})


def _finish(schema: dict[str, Any], admin_routes: set[tuple[str, str]]) -> dict[str, Any]:
    """Each route documents its own answers (``touchpoint.platform.http.answers``); here the admin
    routes get their auth and its refusals, and Powertools' generic 422 is dropped where a route
    never returns one (it adds it to every operation)."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    components["securitySchemes"] = {
        "awsIam": {"type": "apiKey", "in": "header", "name": "Authorization",
                   "description": "SigV4-signed request (IAM auth on AWS)"},
        "localApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key",
                        "description": "The admin_api_key of infra/local/secrets.json (touchpoint local)"},
    }
    error_ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            generic = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if generic.get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
            if (method, path) in admin_routes:
                operation["security"] = [{"awsIam": []}, {"localApiKey": []}]
                responses["401"] = {"description": "No or wrong x-api-key (the local stack)", **error_ref}
                responses["403"] = IAM_REFUSAL
    used = json.dumps(schema.get("paths", {}))
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f"/{name}\"" not in used:
            schemas.pop(name, None)
    return schema


def write_openapi(root: Path, target: Path) -> Path:
    target.write_text(json.dumps(build_openapi(root), indent=2, sort_keys=True) + "\n", "utf-8")
    return target
