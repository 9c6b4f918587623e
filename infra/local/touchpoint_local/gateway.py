"""API Gateway HTTP API (payload 2.0) in-process: matches the template's routes, enforces admin auth
with ``x-api-key`` where the template asks for IAM auth, builds the v2 event, invokes the handler and
turns its proxy result back into an HTTP response."""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .functions import LocalFunction
from .template import HttpRoute

TEXT_TYPES = ("application/json", "text/", "application/xml", "application/javascript")
LocalRoute = Callable[[str, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"error": {"code": code, "message": message, "field": None}}).encode()
    return status, {"Content-Type": "application/json"}, body


def build_event(route: HttpRoute, method: str, raw_path: str, raw_query: str, headers: dict[str, str],
                body: bytes, path_parameters: dict[str, str], host: str, source_ip: str,
                iam_identity: bool) -> dict[str, Any]:
    content_type = headers.get("content-type", "").lower()
    is_text = not content_type or any(content_type.startswith(t) or t in content_type for t in TEXT_TYPES)
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        # HTTP API joins repeated query parameters with commas.
        query[key] = f"{query[key]},{value}" if key in query else value
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": headers.get("user-agent", "")},
            "requestId": uuid.uuid4().hex,
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if "cookie" in headers:
        event["cookies"] = [c.strip() for c in headers["cookie"].split(";")]
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = path_parameters
    if iam_identity:
        event["requestContext"]["authorizer"] = {"iam": {
            "accessKey": "LOCALADMIN", "accountId": "123456789012", "callerId": "local-admin",
            "principalOrgId": None, "userArn": "arn:aws:iam::123456789012:user/local-admin", "userId": "local-admin",
        }}
    if body:
        if is_text:
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
        else:
            # Like HTTP API, bodies it does not treat as text (forms included) arrive base64-encoded.
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


class Gateway:
    def __init__(self, routes: list[HttpRoute], functions: dict[str, LocalFunction], admin_api_key: str,
                 local_routes: dict[tuple[str, str], LocalRoute]) -> None:
        self.routes = routes
        self.functions = functions
        self.admin_api_key = admin_api_key
        self.local_routes = local_routes

    def match(self, method: str, path: str) -> tuple[HttpRoute | None, dict[str, str], bool]:
        """(route, path parameters, whether the path exists under another method)."""
        path_exists = False
        for route in self.routes:
            found = route.pattern.match(path)
            if found:
                path_exists = True
                if route.method in (method, "ANY"):
                    return route, found.groupdict(), True
        return None, {}, path_exists

    def _admin(self, headers: dict[str, str]) -> bool:
        presented = headers.get("x-api-key", "")
        return bool(presented) and hmac.compare_digest(presented.encode(), self.admin_api_key.encode())

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, host: str,
               source_ip: str) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        path = parts.path or "/"
        local = self.local_routes.get((method, path))
        if local is not None:
            # /_local/* inspects and drives the whole stack: from anywhere but this machine (a stack
            # started with --host 0.0.0.0), it takes the admin key like an admin route.
            if not _is_loopback(source_ip) and not self._admin(headers):
                return _error(401, "unauthorized", "/_local routes from another host need the header x-api-key")
            try:
                return local(parts.query, headers, body)
            except Exception as exc:  # an answer, not a dropped connection, so the caller sees what broke
                return _error(500, "internal_error", f"{method} {path} failed: {type(exc).__name__}: {exc}")
        route, path_parameters, path_exists = self.match(method, path)
        if route is None:
            return _error(405 if path_exists else 404, "not_found", f"No route for {method} {path}")
        if route.iam_auth and not self._admin(headers):
            return _error(401, "unauthorized", "This admin route needs the header x-api-key")
        headers = {**headers, "x-forwarded-proto": "http", "x-forwarded-for": source_ip}
        event = build_event(route, method, path, parts.query, headers, body, path_parameters, host, source_ip,
                            iam_identity=route.iam_auth)
        try:
            result = self.functions[route.function].invoke(event)
        except Exception as exc:  # a crashed function is a 500 from API Gateway too
            return _error(500, "internal_error", f"{route.function} failed: {type(exc).__name__}")
        return _proxy_result(result)


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1, as a dual-stack socket reports it
    return (mapped or ip).is_loopback


def _proxy_result(result: Any) -> tuple[int, dict[str, str], bytes]:
    if not isinstance(result, dict) or "statusCode" not in result:
        # Payload 2.0: a bare value is returned as JSON with status 200.
        return 200, {"Content-Type": "application/json"}, json.dumps(result).encode()
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[key] = ", ".join(values)
    return int(result["statusCode"]), headers, raw


def make_server(gateway: Gateway, host: str, port: int, max_body: int = 10 * 1024 * 1024,
                access_log: Callable[[str], None] | None = None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "TouchpointLocal/1"

        def _serve(self) -> None:
            started = time.perf_counter()
            length = int(self.headers.get("content-length") or 0)
            if length > max_body:  # API Gateway's own payload limit
                status, headers, body = _error(413, "payload_too_large", "Request body exceeds 10 MB")
                self.close_connection = True
            else:
                body = self.rfile.read(length) if length else b""
                lowered: dict[str, str] = {}
                for key, value in self.headers.items():
                    k = key.lower()
                    lowered[k] = f"{lowered[k]},{value}" if k in lowered else value
                status, headers, body = gateway.handle(
                    self.command, self.path, lowered, body, self.headers.get("host") or f"{host}:{port}",
                    self.client_address[0],
                )
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() not in ("content-length", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            if access_log:
                elapsed_ms = (time.perf_counter() - started) * 1000
                access_log(f"{self.command} {self.path.split('?')[0]} {status} {elapsed_ms:.1f} ms")

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
