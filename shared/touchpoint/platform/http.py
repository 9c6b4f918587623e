"""What every HTTP function shares: the 64 KiB body cap, the error body for every failure (including
Powertools validation errors and unknown routes: domain exceptions are mapped here, in one place),
JSON responses from Pydantic models, and the OpenAPI description of each route's real answers."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from pydantic import BaseModel

from touchpoint.errors import ApiError, ErrorBody, payload_too_large

MAX_BODY_BYTES = 64 * 1024
ERROR_MEANINGS = {
    400: "Unparseable body (not JSON, not UTF-8, wrong content type)",
    401: "Bad, stale or missing signature, or no admin credentials",
    403: "Tampered or unknown survey link",
    404: "No such resource",
    409: "Other writes for the same customer kept racing this one; retry",
    410: "Expired or closed survey link",
    413: "Body over 64 KiB",
    422: "Valid JSON with invalid content (out of range, unknown touchpoint or provider, wrong metric)",
}
HTML_CONTENT = {"text/html": {"schema": {"type": "string"}}}


def _jsonable(body: Any) -> Any:
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json")
    if isinstance(body, list):
        return [_jsonable(item) for item in body]
    return body


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON response from a Pydantic model (or a list of them, or plain JSON values)."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(_jsonable(body), ensure_ascii=False, separators=(",", ":")),
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def answers(ok: dict[int, tuple[Any, str]], errors: Iterable[int] = (), *, html: Iterable[int] = (),
            html_errors: bool = False) -> dict:
    """The ``responses`` of a route for its OpenAPI operation: each success status with its model (or
    ``None`` for an HTML-only page) and description, then the error statuses it really returns, each
    with the error body. ``html`` lists the success statuses that may also answer with an HTML page;
    ``html_errors``: a browser gets its refusals as a page too."""
    html = set(html)
    documented: dict[int, dict[str, Any]] = {}
    for status, (model, description) in ok.items():
        content: dict[str, Any] = {"application/json": {"model": model}} if model is not None else {}
        if status in html or model is None:
            content.update(HTML_CONTENT)
        documented[status] = {"description": description, "content": content}
    for status in errors:
        content = {"application/json": {"model": ErrorBody}}
        documented[status] = {"description": ERROR_MEANINGS[status],
                              "content": {**content, **HTML_CONTENT} if html_errors else content}
    return documented


def html_response(status: int, html: str) -> Response:
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=html,
        headers={
            "Cache-Control": "no-store",
            # The pages need no script, frame or remote asset; say so to the browser.
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def error_response(error: ApiError) -> Response:
    return json_response(error.status, error.body())


def body_bytes(event: dict[str, Any]) -> int:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return len(body) * 3 // 4 - body[-2:].count("=")
    return len(body.encode("utf-8"))


def _is_union_tag(part: Any) -> bool:
    """Pydantic names the union member it tried (`ImportedResponse`, `list[ImportedResponse]`);
    our field names are snake_case, so a tag is anything with a bracket or a capital."""
    return isinstance(part, str) and ("[" in part or part[:1].isupper())


def _field_of(location: tuple[Any, ...]) -> str | None:
    parts = [p for p in location if p not in ("body", "query", "path", "header") and not _is_union_tag(p)]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or None


def validation_error(errors: Sequence[Any], body: Any = None) -> ApiError:
    """Pydantic or Powertools validation failures as the error body: unparseable JSON is 400, else 422.
    For a body that may be one object or a list, report the error of the branch the client sent."""
    errors = list(errors)
    if isinstance(body, list | dict):
        list_branch = [e for e in errors if any(isinstance(p, str) and p.startswith("list[") for p in e.get("loc", ()))]
        object_branch = [e for e in errors if e not in list_branch]
        chosen = list_branch if isinstance(body, list) else object_branch
        errors = chosen or errors
    first = errors[0] if errors else {"type": "invalid", "loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        return ApiError(400, "invalid_json", "The body is not valid JSON", None)
    if first.get("type") == "unsupported_content_type":
        return ApiError(400, "unsupported_content_type", str(first.get("msg")), None)
    location = tuple(first.get("loc", ()))
    if first.get("type") == "missing" and location in (("body",), ()):
        return ApiError(400, "missing_body", "A JSON body is required", None)
    field = _field_of(location)
    message = str(first.get("msg", "invalid value"))
    return ApiError(422, "invalid_field", f"{field}: {message}" if field else message, field)


def install_error_handlers(app: APIGatewayHttpResolver, logger: Any) -> None:
    @app.exception_handler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        content_type = (app.current_event.headers.get("content-type") or "").lower()
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            # curl -d sends a form content type; the real problem is the content type, not a field.
            return error_response(ApiError(400, "unsupported_content_type", "This route takes application/json"))
        try:
            body = app.current_event.json_body
        except ValueError:
            body = None
        return error_response(validation_error(list(exc.errors()), body))

    @app.exception_handler(RecursionError)
    def _too_deep(_: RecursionError) -> Response:
        return error_response(ApiError(400, "invalid_json", "The body is nested too deeply", None))

    @app.exception_handler(UnicodeDecodeError)
    def _not_text(_: UnicodeDecodeError) -> Response:
        return error_response(ApiError(400, "invalid_body", "The body is not UTF-8 text", None))

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return error_response(ApiError(404, "not_found", "No such route", None))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(ApiError(500, "internal_error", "Something went wrong on our side", None))


def capped(resolve: Callable[[dict, Any], dict]) -> Callable[[dict, Any], dict]:
    """Wrap a resolver so bodies over 64 KiB are refused before any parsing or I/O."""

    def handler(event: dict, context: Any) -> dict:
        if body_bytes(event) > MAX_BODY_BYTES:
            return _as_proxy(payload_too_large(MAX_BODY_BYTES))
        return resolve(event, context)

    return handler


def _as_proxy(error: ApiError) -> dict[str, Any]:
    return {
        "statusCode": error.status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON, "Cache-Control": "no-store"},
        "body": json.dumps(error.body(), separators=(",", ":")),
        "isBase64Encoded": False,
    }


def raw_body(event: Any) -> bytes:
    """The request body exactly as the client sent it (signatures are computed over these bytes)."""
    body = event.body or ""
    if not event.is_base64_encoded:
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_body", "The body is not valid base64", None) from None


def text_body(event: Any) -> str:
    """The body as UTF-8 text; anything else is a 400, not a crash."""
    try:
        return raw_body(event).decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_body", "The body is not UTF-8 text", None) from None


def wants_html(event: Any) -> bool:
    """A browser (its Accept names text/html before any JSON), not an API client asking for JSON."""
    accept = (event.headers.get("accept") or "").lower()
    if "text/html" not in accept:
        return False
    return "application/json" not in accept or accept.index("text/html") < accept.index("application/json")


def path_value(segment: str) -> str:
    """A path parameter as the client meant it. API Gateway hands over the path still percent-encoded
    (``Mia.Erase%2Bshop%40Example.com``), and HTTP clients encode ``@``, ``+``, ``/``, spaces and
    non-ASCII letters, so an id is only found once decoded."""
    return unquote(segment)


def request_base_url(event: Any, configured: str) -> str:
    """Where links should point: the configured public URL, else the API's own host and stage."""
    if configured:
        return configured
    scheme = event.headers.get("x-forwarded-proto", "https")
    context = event.request_context
    stage = context.stage
    prefix = "" if stage in (None, "", "$default") else f"/{stage}"
    return f"{scheme}://{context.domain_name}{prefix}"
