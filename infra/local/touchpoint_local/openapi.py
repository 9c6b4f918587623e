"""The OpenAPI document of every HTTP route in template.yaml, merged from each function's Powertools
resolver (Powertools' OpenAPIMerge), with the SPEC error body and the admin auth of each route taken
from the template. Generated here, shipped as ``shared/touchpoint/openapi.json`` and served by
``GET /openapi.json``; a test fails when the shipped file is stale (`touchpoint openapi` rewrites it)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .template import read_stack

ERROR_SCHEMA = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {"error": {
        "type": "object", "required": ["code", "message", "field"], "additionalProperties": False,
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "field": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
    }},
}
ERROR_STATUSES = {
    "400": "Unparseable body", "401": "Bad or missing signature, or no admin credentials", "403": "Tampered token",
    "404": "Unknown route or resource", "410": "Expired survey link", "413": "Body over 64 KiB",
    "422": "Valid JSON with invalid content",
}
PLACEHOLDER_ENV = {"TABLE_NAME": "openapi", "TOKEN_KEYS_SECRET": "openapi", "WEBHOOK_SECRETS_SECRET": "openapi",
                   "EVENT_BUS_NAME": "openapi", "IDEMPOTENCY_TABLE_NAME": "openapi"}


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
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(name, None)
    schemas["Error"] = ERROR_SCHEMA
    components["securitySchemes"] = {
        "awsIam": {"type": "apiKey", "in": "header", "name": "Authorization",
                   "description": "SigV4-signed request (IAM auth on AWS)"},
        "localApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key",
                        "description": "The admin_api_key of infra/local/secrets.json (touchpoint local)"},
    }
    error_ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses[status] = {"description": description, **error_ref}
            if (method, path) in admin_routes:
                operation["security"] = [{"awsIam": []}, {"localApiKey": []}]
    return schema


def write_openapi(root: Path, target: Path) -> Path:
    target.write_text(json.dumps(build_openapi(root), indent=2, sort_keys=True) + "\n", "utf-8")
    return target
