"""SurveyIntakeFunction: survey links, pages, answers and imports, erasure, the catalog and the
OpenAPI document. Powertools wiring only: each route calls one domain function of
``touchpoint.surveys`` / ``touchpoint.customers`` with what ``touchpoint.runtime`` builds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from touchpoint import runtime
from touchpoint.catalog import Touchpoint
from touchpoint.customers.erasure import erase_customer as erase
from touchpoint.customers.erasure import release_customer as release
from touchpoint.customers.models import ErasureResult, SuppressionReleased
from touchpoint.errors import ApiError
from touchpoint.platform.http import (
    answers,
    capped,
    error_response,
    html_response,
    install_error_handlers,
    json_response,
    path_value,
    request_base_url,
    text_body,
    wants_html,
)
from touchpoint.platform.settings import SurveyIntakeSettings
from touchpoint.surveys import intake as surveys
from touchpoint.surveys.models import (
    AnswerRecorded,
    ImportedResponse,
    ImportResult,
    LinkCreated,
    LinkRequest,
    LinkThrottled,
)
from touchpoint.surveys.pages import render_problem, render_thanks

logger = Logger(service="survey-intake")
app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app, logger)
runtime.cold_start(SurveyIntakeSettings)


@app.exception_handler(ApiError)
def _refused(error: ApiError) -> Response:
    """On a survey link, a browser gets a page it can read (same status); API clients get JSON."""
    if app.current_event.path.startswith("/s/") and wants_html(app.current_event):
        return html_response(error.status, render_problem(runtime.catalog().brand, error.code,
                                                          _page_locale()))
    return error_response(error)

# A mailer that retries POST /v1/links within the hour gets the very same link back, not a second
# survey for the same customer (Powertools idempotency on the request body, IdempotencyTable).
LINK_RETRY_WINDOW_SECONDS = 3600


def _now() -> datetime:
    return datetime.now(UTC)


def _accept_language() -> str | None:
    return app.current_event.headers.get("accept-language")


def _page_locale() -> str:
    token = app.current_event.path.removeprefix("/s/").split("/")[0]
    return surveys.page_locale(token, runtime.key_ring(), _accept_language())


def _base_url() -> str:
    return request_base_url(app.current_event, runtime.settings().public_base_url)


def _mint(request: LinkRequest, base_url: str) -> dict[str, Any]:
    # Compact plain JSON, so the idempotency record stays small (the email block is rendered again).
    issued = surveys.issue_link(request, runtime.catalog(), runtime.key_ring(), runtime.contact_store(), base_url,
                                _now(), runtime.suppression_store())
    return surveys.link_record(issued, request.locale)


@lru_cache(maxsize=1)
def _idempotent_mint() -> Callable[..., dict[str, Any]]:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    config = IdempotencyConfig(expires_after_seconds=LINK_RETRY_WINDOW_SECONDS)
    config.register_lambda_context(app.lambda_context)
    return idempotent_function(data_keyword_argument="request", persistence_store=runtime.idempotency_store(),
                               config=config)(_mint)


@app.post("/v1/links", summary="Mint a signed survey link", tags=["surveys"],
          responses=answers({201: (LinkCreated, "The link (the same request again: the same link)"),
                             200: (LinkThrottled, "The contact policy holds the customer back: no link")},
                            [400, 409, 413, 422]))
def create_link(request: Annotated[LinkRequest, Body()]):
    base_url = _base_url()
    issued = surveys.link_from_record(_idempotent_mint()(request=request, base_url=base_url), runtime.catalog(),
                                      base_url)
    return json_response(200 if isinstance(issued, LinkThrottled) else 201, issued)


@app.get("/s/<token>", summary="The survey page (never writes)", tags=["surveys"],
         responses=answers({200: (None, "The survey page, in HTML")}, [403, 410], html_errors=True))
def show_survey(token: str, score: Annotated[str | None, Query()] = None):
    return html_response(200, surveys.survey_page(token, score, runtime.catalog(), runtime.key_ring(), _now(),
                                                  runtime.response_store(), _accept_language()))


@app.post("/s/<token>", summary="Answer a survey (form or JSON)", tags=["surveys"],
          responses=answers({201: (AnswerRecorded, "The first answer to this link (HTML thank-you page for a form)"),
                             200: (AnswerRecorded, "An answer that replaced the earlier one")},
                            [400, 403, 410, 413, 422], html=[200, 201], html_errors=True))
def answer_survey(token: str):
    event = app.current_event
    is_form, answer = surveys.read_answer(event.headers.get("content-type") or "", text_body(event))
    created, record = surveys.submit_answer(
        token, answer, runtime.catalog(), runtime.key_ring(), runtime.response_store(), _now(), is_form=is_form,
        suppressions=runtime.suppression_store(),
    )
    status = 201 if created else 200
    if is_form:
        return html_response(status, render_thanks(runtime.catalog().brand, answer.score, answer.comment,
                                                   updated=not created, locale=_page_locale()))
    return json_response(status, surveys.answer_recorded(created, record))


@app.post("/v1/responses", summary="Import responses (one object or a list of up to 100)", tags=["surveys"],
          responses=answers({201: (ImportResult, "At least one response was created"),
                             200: (ImportResult, "Every response was imported before (duplicates)")},
                            [400, 413, 422]))
def import_responses(body: Annotated[ImportedResponse | list[ImportedResponse], Body()]):
    # A plain list (not an Annotated one) so Powertools keeps a JSON array whole; size is checked by the domain.
    result = surveys.import_responses(body if isinstance(body, list) else [body], runtime.catalog(),
                                      runtime.response_store(), _now(), runtime.suppression_store())
    return json_response(201 if result.created else 200, result)


@app.delete("/v1/customers/<customer_id>", summary="Erase every record of a customer", tags=["customers"],
            responses=answers({200: (ErasureResult, "Erased (rollups follow through the stream) or nothing found; "
                                                    "either way the id is suppressed from now on")}))
def erase_customer(customer_id: str):
    return json_response(200, erase(runtime.customer_store(), runtime.suppression_store(), runtime.event_publisher(),
                                    path_value(customer_id), _now(), archive=runtime.scorecard_archive(),
                                    retries=runtime.mint_retries()))


@app.delete("/v1/customers/<customer_id>/suppression", summary="Let an erased customer be surveyed again",
            tags=["customers"], responses=answers({200: (SuppressionReleased, "Released, or was not suppressed")}))
def release_customer(customer_id: str):
    return json_response(200, release(runtime.suppression_store(), path_value(customer_id)))


@app.get("/v1/touchpoints", summary="The active touchpoint catalog", tags=["catalog"],
         responses=answers({200: (list[Touchpoint], "Every touchpoint of the catalog in journey order")}))
def list_touchpoints():
    return json_response(200, list(runtime.catalog().touchpoints))


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
