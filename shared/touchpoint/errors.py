"""The one error type the domain raises and the HTTP layer maps (in one place, platform/http.py) to
the error body every route answers with: ``{"error": {"code", "message", "field"}}``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine code, e.g. score_out_of_range")
    message: str = Field(description="What went wrong, for a person")
    field: str | None = Field(description="The offending field (dotted, [i] for list items), or null")


class ErrorBody(BaseModel):
    """Every refusal, whatever the route: nothing was written."""

    error: ErrorDetail


class ApiError(Exception):
    """A client-visible failure: HTTP status, stable machine code, human message, offending field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "field": self.field}}

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"ApiError({self.status}, {self.code!r}, {self.message!r}, field={self.field!r})"


def bad_request(message: str, field: str | None = None, code: str = "invalid_json") -> ApiError:
    return ApiError(400, code, message, field)


def unprocessable(code: str, message: str, field: str | None = None) -> ApiError:
    return ApiError(422, code, message, field)


def not_found(message: str = "No such resource", field: str | None = None) -> ApiError:
    return ApiError(404, "not_found", message, field)


def payload_too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"Request body exceeds {limit} bytes", None)
