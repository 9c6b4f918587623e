"""SurveyIntakeFunction: survey links, pages, answers and imports (SPEC §3). Routes only; the work is
done by ``touchpoint.surveys``."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated
from urllib.parse import parse_qs

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError
from touchpoint import runtime
from touchpoint.errors import ApiError
from touchpoint.platform.http import (
    capped,
    html_response,
    install_error_handlers,
    json_response,
    request_base_url,
    text_body,
    validation_error,
)
from touchpoint.platform.settings import SurveyIntakeSettings
from touchpoint.surveys import intake as surveys
from touchpoint.surveys.models import ImportedResponse, LinkRequest, SurveyAnswer
from touchpoint.surveys.pages import render_thanks

logger = Logger(service="survey-intake")
app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app, logger)
runtime.cold_start(SurveyIntakeSettings)


def _now() -> datetime:
    return datetime.now(UTC)


def _base_url() -> str:
    return request_base_url(app.current_event, runtime.settings().public_base_url)


# A mailer that retries POST /v1/links within the hour gets the very same link back, not a second
# survey for the same customer (Powertools idempotency on the request body, IdempotencyTable).
LINK_RETRY_WINDOW_SECONDS = 3600


def _mint(request: LinkRequest, base_url: str) -> dict:
    return surveys.mint_link(request, runtime.catalog(), runtime.key_ring(), base_url, _now())


@lru_cache(maxsize=1)
def _idempotent_mint() -> Callable[..., dict]:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    config = IdempotencyConfig(expires_after_seconds=LINK_RETRY_WINDOW_SECONDS)
    config.register_lambda_context(app.lambda_context)
    return idempotent_function(data_keyword_argument="request", persistence_store=runtime.idempotency_store(),
                               config=config)(_mint)


@app.post("/v1/links", summary="Mint a signed survey link", tags=["surveys"])
def create_link(request: Annotated[LinkRequest, Body()]):
    link = _idempotent_mint()(request=request, base_url=_base_url())
    return json_response(201, link)


@app.get("/s/<token>", summary="The survey page (never writes)", tags=["surveys"])
def show_survey(token: str, score: Annotated[str | None, Query()] = None):
    page = surveys.survey_page(token, score, runtime.catalog(), runtime.key_ring(), _now())
    return html_response(200, page)


@app.post("/s/<token>", summary="Answer a survey (form or JSON)", tags=["surveys"])
def answer_survey(token: str):
    is_form, answer = _read_answer()
    created, record = surveys.submit_answer(
        token, answer, runtime.catalog(), runtime.key_ring(), runtime.response_store(), _now(), is_form=is_form
    )
    status = 201 if created else 200
    if is_form:
        return html_response(status, render_thanks(runtime.catalog().brand, answer.score, answer.comment,
                                                   updated=not created))
    return json_response(status, {"survey_id": record["survey_id"], "status": "created" if created else "updated",
                                  "score": record["score"], "submitted_at": record["submitted_at"]})


def _read_answer() -> tuple[bool, SurveyAnswer]:
    """The answer from a form post or a JSON body; unparseable is 400, invalid is 422."""
    event = app.current_event
    content_type = (event.headers.get("content-type") or "").split(";")[0].strip().lower()
    raw = text_body(event)
    is_form = content_type == "application/x-www-form-urlencoded"
    if is_form:
        fields = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        fields["comment"] = fields.get("comment", "").strip() or None
        data: object = fields
    elif content_type in ("", "application/json") or content_type.endswith("+json"):
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            raise ApiError(400, "invalid_json", "The body is not valid JSON", None) from None
        if not isinstance(data, dict):
            raise ApiError(422, "invalid_field", "The body must be a JSON object {score, comment?}", None)
    else:
        raise ApiError(400, "unsupported_content_type",
                       "Send application/x-www-form-urlencoded or application/json", None)
    try:
        return is_form, SurveyAnswer.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc.errors()) from None


@app.post("/v1/responses", summary="Import responses (one object or a list of up to 100)", tags=["surveys"])
def import_responses(body: Annotated[ImportedResponse | list[ImportedResponse], Body()]):
    # A plain list (not an Annotated one) so Powertools keeps a JSON array whole; size is checked below.
    items = body if isinstance(body, list) else [body]
    results = surveys.import_responses(items, runtime.catalog(), runtime.response_store(), _now())
    created = sum(1 for r in results if r["status"] == "created")
    payload = {"created": created, "duplicates": len(results) - created, "results": results}
    return json_response(201 if created else 200, payload)


@app.delete("/v1/customers/<customer_id>", summary="Erase every record of a customer", tags=["customers"])
def erase_customer(customer_id: str):
    from touchpoint.customers.erasure import erase_customer as erase

    deleted = erase(runtime.customer_store(), customer_id)
    return json_response(200, {"customer_id": customer_id, "deleted_records": deleted})


@app.get("/v1/touchpoints", summary="The active touchpoint catalog", tags=["catalog"])
def list_touchpoints():
    return json_response(200, runtime.catalog().public())


@app.get("/openapi.json", summary="This OpenAPI document", include_in_schema=False)
def openapi_document():
    # Every function's routes, merged at build time (touchpoint openapi) and shipped in the layer.
    return Response(status_code=200, content_type="application/json", body=openapi_json(),
                    headers={"Cache-Control": "public, max-age=300"})


@lru_cache(maxsize=1)
def openapi_json() -> str:
    from importlib import resources

    return resources.files("touchpoint").joinpath("openapi.json").read_text("utf-8")


@logger.inject_lambda_context(clear_state=True)
def _resolve(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)


lambda_handler = capped(_resolve)
