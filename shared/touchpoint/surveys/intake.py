"""Survey intake (docs/reference.md): minting links, rendering the survey page, recording answers and imports.

Pure functions over the catalog, the key ring and a ``ResponseStore``; the handler only wires them to
routes. Every check happens before the single write, so rejected input never writes.
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qs

from pydantic import ValidationError

from touchpoint.catalog import Catalog, Touchpoint
from touchpoint.errors import ApiError, unprocessable
from touchpoint.locales import DEFAULT_LOCALE
from touchpoint.locales import choose as choose_locale
from touchpoint.metrics import SCALES, SERVICE_LINK_WINDOW, scale_of
from touchpoint.platform.http import validation_error
from touchpoint.platform.pseudonyms import NoSuppressions, SuppressionCheck
from touchpoint.platform.table import response_index_key, ticket_ref
from touchpoint.surveys import pages
from touchpoint.surveys.contact import CONTACT_RETENTION, MAX_TRACKED_LINKS, decide, mint_fingerprint, still_open
from touchpoint.surveys.models import (
    MAX_IMPORT_BATCH,
    AnswerRecorded,
    ImportedResponse,
    ImportOutcome,
    ImportResult,
    LinkCreated,
    LinkRequest,
    LinkThrottled,
    SurveyAnswer,
    SurveyClosed,
)
from touchpoint.surveys.tokens import KeyRing, SurveyClaims, expiry, mint_token, survey_id_for, verify_token

# Concurrent mints for one customer: each loser reads the winner's contact and decides again. A
# writer loses a round only to another writer's success, and each writer succeeds once, so N racers
# settle within N rounds; the jittered pause spreads the retries (DynamoDB Local and DynamoDB both
# answer a lost condition at once, so without it the same writers collide again).
MAX_CONTACT_RACES = 12
CONTACT_RACE_PAUSE_SECONDS = 0.01

NO_SUPPRESSIONS = NoSuppressions()


def erased_customer(field: str) -> ApiError:
    return ApiError(409, "customer_erased", "This customer was erased and is on the suppression list: nothing is "
                    "sent or recorded for them (DELETE /v1/customers/{customer_id}/suppression lifts it)", field)


def survey_closed() -> ApiError:
    """The link of an erased customer: closed, whatever it says."""
    return ApiError(410, "survey_closed", "This survey is closed.", "token")


# A response may be dated a little ahead of our clock (the sender's clock), never further.
MAX_FUTURE_SKEW = timedelta(minutes=5)
EARLIEST_SUBMISSION = datetime(2000, 1, 1, tzinfo=UTC)  # older "history" is a data error, not a period


class ResponseWriter(Protocol):
    def upsert(self, record: dict[str, Any]) -> bool: ...

    def insert_once(self, record: dict[str, Any]) -> bool: ...

    def latest_solved_ticket(self, customer_id: str, since: datetime, until: datetime) -> dict[str, Any] | None: ...


class ContactKeeper(Protocol):
    def contact(self, customer_id: str) -> dict[str, Any] | None: ...

    def replace(self, record: dict[str, Any], read_version: int) -> bool: ...



def link_service_outcome(record: dict[str, Any], store: ResponseWriter) -> dict[str, Any]:
    """Service -> experience: tie an NPS response to the customer's latest ticket solved in
    the 30 days before it, from the ticket states known now, and keep that ticket's FCR on the record.
    One index entry is read, however many tickets the customer has (a heavy customer stays cheap)."""
    if record["metric"] != "nps":
        return record
    from touchpoint.periods import parse_time

    answered = parse_time(record["submitted_at"])
    latest = store.latest_solved_ticket(record["customer_id"], answered - SERVICE_LINK_WINDOW, answered)
    if latest:
        record["s2e_ticket"] = ticket_ref(latest["pk"])
        record["s2e_fcr"] = bool(latest.get("fcr"))
    return record


def iso(moment: datetime) -> str:
    """ISO 8601 UTC with a Z, to the millisecond: sortable as text and exact for periods."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _touchpoint(catalog: Catalog, touchpoint_id: str, field: str = "touchpoint") -> Touchpoint:
    found = catalog.get(touchpoint_id)
    if found is None:
        known = ", ".join(t.id for t in catalog.touchpoints)
        raise unprocessable("unknown_touchpoint", f"Unknown touchpoint {touchpoint_id!r}; known: {known}", field)
    return found


def check_score(metric: str, score: int, field: str = "score") -> None:
    if score not in scale_of(metric):
        low, high = SCALES[metric]
        raise unprocessable(
            "score_out_of_range", f"A {metric.upper()} score is a whole number from {low} to {high}", field
        )


# Links -----------------------------------------------------------------------------------------
def issue_link(request: LinkRequest, catalog: Catalog, ring: KeyRing, contacts: ContactKeeper, base_url: str,
               now: datetime, suppressions: SuppressionCheck = NO_SUPPRESSIONS) -> LinkCreated | LinkThrottled:
    """``POST /v1/links`` and the support CSAT link of ``TicketSolved``: a link unless the contact
    policy holds the customer back. The same request again (a retry) gets the same link while it is
    valid. Every outcome is one conditional write of the customer's contact item (none for a retry),
    which the aggregator turns into the ``minted`` and ``held_back`` counters of the response rate."""
    touchpoint = _touchpoint(catalog, request.touchpoint)
    metric = request.metric or touchpoint.metric
    if suppressions.is_suppressed(request.customer_id):
        raise erased_customer("customer_id")
    fingerprint = mint_fingerprint(request.customer_id, touchpoint.id, metric, request.order_id,
                                   request.properties, request.ttl_days)
    for attempt in range(MAX_CONTACT_RACES):
        if attempt:
            time.sleep(random.uniform(0, CONTACT_RACE_PAUSE_SECONDS * attempt))
        contact = contacts.contact(request.customer_id)
        read_version = int(contact.get("version") or 0) if contact else 0
        decision = decide(contact, fingerprint, catalog.contact_days(touchpoint), now)
        if decision.action == "reissue" and contact:
            return _link_created(catalog, touchpoint, metric, base_url, contact["token"],
                                 contact["link_expires_at"], contact["survey_id"], request.locale)
        if decision.action == "hold_back" and contact and decision.next_allowed_at:
            throttled = LinkThrottled(reason=decision.reason or "contact policy",
                                      next_allowed_at=iso(decision.next_allowed_at))
            held_back = {**contact, "held_back": int(contact.get("held_back") or 0) + 1,
                         "held_back_at": iso(now), "held_back_touchpoint": touchpoint.id,
                         "held_back_metric": metric, "held_back_fingerprint": fingerprint,
                         "held_back_since": contact["last_contact_at"]}
            if decision.counted_before or contacts.replace(held_back, read_version):
                return throttled
            continue
        open_links = still_open((contact or {}).get("open_links"), now)
        tracked = len(open_links) < MAX_TRACKED_LINKS
        link = mint_link(request, catalog, ring, base_url, now, counted=True, tracked=tracked)
        if tracked:
            expires = int(expiry(now, request.ttl_days).timestamp())  # the link's own expiry
            open_links[link.survey_id] = max(expires, open_links.get(link.survey_id, 0))
        minted = {**(contact or {}), "customer_id": request.customer_id, "last_contact_at": iso(now),
                  "open_links": open_links,
                  "touchpoint": touchpoint.id, "metric": metric, "survey_id": link.survey_id,
                  "fingerprint": fingerprint, "token": link.token, "link_expires_at": link.expires_at,
                  "mints": int((contact or {}).get("mints") or 0) + 1,
                  "held_back": int((contact or {}).get("held_back") or 0),
                  # DynamoDB TTL: past the longest policy and the link's expiry, nothing needs the item.
                  "expires_at": int((max(now + CONTACT_RETENTION,
                                         now + timedelta(days=request.ttl_days))).timestamp())}
        if contacts.replace(minted, read_version):
            return link
    raise ApiError(409, "contact_conflict", "Other links for this customer are being minted right now; retry",
                   "customer_id")


# What a mint retry record keeps of a link (Powertools idempotency, one hour): the URL and the email
# block are derived again from these, so the record is a few hundred bytes instead of several KB of
# rendered HTML (a write unit instead of nine, on every mint).
LINK_RECORD_FIELDS = ("token", "expires_at", "survey_id", "touchpoint", "metric")


def link_record(issued: LinkCreated | LinkThrottled, locale: str | None) -> dict[str, Any]:
    """The compact, JSON-plain form of a mint's outcome that a retry of the same request replays."""
    if isinstance(issued, LinkThrottled):
        return issued.model_dump(mode="json")
    return {**{name: getattr(issued, name) for name in LINK_RECORD_FIELDS}, "locale": locale}


def link_from_record(record: dict[str, Any], catalog: Catalog, base_url: str) -> LinkCreated | LinkThrottled:
    """The reply to a mint, from ``link_record``'s form: the same token, URL and email block."""
    if record.get("throttled"):
        return LinkThrottled.model_validate(record)
    touchpoint = _touchpoint(catalog, record["touchpoint"])
    return _link_created(catalog, touchpoint, record["metric"], base_url, record["token"], record["expires_at"],
                         record["survey_id"], record.get("locale"))


def mint_link(request: LinkRequest, catalog: Catalog, ring: KeyRing, base_url: str, now: datetime, *,
              counted: bool = False, tracked: bool = False) -> LinkCreated:
    """A new signed link, with no contact policy and no write (``issue_link`` applies the policy and
    counts the link: only a ``counted`` link carries its minting time, which makes its answer count
    as answered for the response rate, so answered never exceeds minted; a ``tracked`` one is listed
    on the contact item, so an erasure closes it with a tombstone)."""
    touchpoint = _touchpoint(catalog, request.touchpoint)
    metric = request.metric or touchpoint.metric
    claims = SurveyClaims(
        survey_id=survey_id_for(request.customer_id, touchpoint.id, metric, request.order_id),
        customer_id=request.customer_id,
        touchpoint=touchpoint.id,
        metric=metric,
        order_id=request.order_id,
        expires_at=expiry(now, request.ttl_days),
        properties=request.properties,
        minted_at=now if counted else None,
        locale=request.locale,
        tracked=tracked,
    )
    return _link_created(catalog, touchpoint, metric, base_url, mint_token(ring, claims), iso(claims.expires_at),
                         claims.survey_id, request.locale)


def _link_created(catalog: Catalog, touchpoint: Touchpoint, metric: str, base_url: str, token: str,
                  expires_at: str, survey_id: str, locale: str | None = None) -> LinkCreated:
    url = f"{base_url.rstrip('/')}/s/{token}"
    email_html, email_text = pages.render_email_block(catalog.brand, touchpoint, metric, url,
                                                      locale or DEFAULT_LOCALE)
    return LinkCreated(token=token, url=url, expires_at=expires_at, survey_id=survey_id,
                       touchpoint=touchpoint.id, metric=metric, email_html=email_html, email_text=email_text)


# The survey page -------------------------------------------------------------------------------
@dataclass(frozen=True)
class OpenSurvey:
    claims: SurveyClaims
    touchpoint: Touchpoint


def open_survey(token: str, catalog: Catalog, ring: KeyRing, now: datetime) -> OpenSurvey:
    claims = verify_token(ring, token, now)
    touchpoint = catalog.get(claims.touchpoint)
    if touchpoint is None:
        # Genuine token, but the touchpoint left the catalog since the link was sent.
        raise ApiError(410, "survey_closed", "This survey is no longer open.", "token")
    return OpenSurvey(claims, touchpoint)


class AnswerReader(Protocol):
    def answer(self, survey_id: str) -> dict[str, Any] | None: ...


def page_locale(token: str, ring: KeyRing, accept_language: str | None) -> str:
    """The language of a page about this link: the link's own, else the browser's, else English
    (a link that does not open, e.g. tampered, leaves it to the browser)."""
    try:
        # Authenticated, but read as of its minting era: an expired link still names its language.
        link_locale = verify_token(ring, token, EARLIEST_SUBMISSION).locale
    except ApiError:
        link_locale = None
    return choose_locale(link_locale, accept_language)


def survey_page(token: str, preselect: str | None, catalog: Catalog, ring: KeyRing, now: datetime,
                answers: AnswerReader | None = None, accept_language: str | None = None) -> str:
    """The HTML page for a link. Writes nothing (link scanners may fetch it). A link answered before
    opens on that answer, comment included, so answering again changes it instead of starting over;
    ``?score=N`` (a one-click email button) still picks the score. In the link's language, else the
    browser's (``Accept-Language``), else English."""
    survey = open_survey(token, catalog, ring, now)
    try:
        earlier = answers.answer(survey.claims.survey_id) if answers is not None else None
    except SurveyClosed:
        raise survey_closed() from None
    selected: int | None = None
    text = (preselect or "").strip()
    # isdecimal and isascii: "²" is a digit to Python but not a score
    if text.isascii() and text.isdecimal() and int(text) in scale_of(survey.claims.metric):
        selected = int(text)
    elif earlier is not None:
        selected = int(earlier["score"])
    from touchpoint.surveys.bots import render_stamp

    return pages.render_survey(catalog.brand, survey.touchpoint, survey.claims.metric, token, selected,
                               render_stamp(ring, token, now), earlier=earlier,
                               locale=choose_locale(survey.claims.locale, accept_language))


def submit_answer(
    token: str, answer: SurveyAnswer, catalog: Catalog, ring: KeyRing, store: ResponseWriter, now: datetime,
    *, is_form: bool = False, suppressions: SuppressionCheck = NO_SUPPRESSIONS,
) -> tuple[bool, dict[str, Any]]:
    """Record the answer to a link; one record per token, a resubmission replaces it.
    Returns (created, record). The link of an erased customer is closed (410), nothing written: a
    tracked link by the tombstone the erasure left on its survey id, which fails the answer's own
    conditional write (one request); any other link by a read of the suppression list first."""
    from touchpoint.surveys.bots import bot_reason

    survey = open_survey(token, catalog, ring, now)
    if not survey.claims.tracked and suppressions.is_suppressed(survey.claims.customer_id):
        raise survey_closed()
    check_score(survey.claims.metric, answer.score)
    suspicion = bot_reason(ring, token, answer.model_dump(), is_form, now)
    record = response_record(
        survey_id=survey.claims.survey_id,
        customer_id=survey.claims.customer_id,
        touchpoint=survey.touchpoint,
        metric=survey.claims.metric,
        score=answer.score,
        comment=answer.comment,
        submitted_at=now,
        order_id=survey.claims.order_id,
        source="link",
        properties=survey.claims.properties,
        link_minted_at=survey.claims.minted_at,
    )
    if suspicion:
        record["suspected_bot"], record["bot_reason"] = True, suspicion
    link_service_outcome(record, store)
    try:
        return store.upsert(record), record
    except SurveyClosed:
        raise survey_closed() from None


def answer_recorded(created: bool, record: dict[str, Any]) -> AnswerRecorded:
    """The JSON reply to an answer."""
    return AnswerRecorded(survey_id=record["survey_id"], status="created" if created else "updated",
                          score=record["score"], submitted_at=record["submitted_at"])


def read_answer(content_type_header: str, raw: str) -> tuple[bool, SurveyAnswer]:
    """The answer from a form post or a JSON body, and whether it came from a form; unparseable is
    400, invalid is 422."""
    content_type = content_type_header.split(";")[0].strip().lower()
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


# Imports ---------------------------------------------------------------------------------------
def import_responses(
    items: list[ImportedResponse], catalog: Catalog, store: ResponseWriter, now: datetime,
    suppressions: SuppressionCheck = NO_SUPPRESSIONS,
) -> ImportResult:
    """Validate the whole batch first (a bad item rejects it all, writing nothing), then write each
    item once: a response_id already imported is reported as a duplicate and left as it was; a
    response of an erased customer is reported as suppressed and not written."""
    if not 1 <= len(items) <= MAX_IMPORT_BATCH:
        raise unprocessable("batch_size", f"Send between 1 and {MAX_IMPORT_BATCH} responses per request", None)
    prefix = len(items) > 1
    records = []
    for index, item in enumerate(items):
        where = f"[{index}]." if prefix else ""
        touchpoint = _touchpoint(catalog, item.touchpoint, f"{where}touchpoint")
        check_score(item.metric, item.score, f"{where}score")
        submitted_at = item.submitted_at_utc(now)
        if submitted_at > now + MAX_FUTURE_SKEW:
            raise unprocessable("submitted_in_future", "submitted_at lies in the future", f"{where}submitted_at")
        if submitted_at < EARLIEST_SUBMISSION:
            raise unprocessable("submitted_too_early", "submitted_at must be in the year 2000 or later",
                                f"{where}submitted_at")
        survey_id = (
            "i" + hashlib.sha256(item.response_id.encode("utf-8")).hexdigest()[:31]
            if item.response_id
            else "i" + secrets.token_hex(15)
        )
        records.append(response_record(
            survey_id=survey_id, customer_id=item.customer_id, touchpoint=touchpoint, metric=item.metric,
            score=item.score, comment=item.comment, submitted_at=submitted_at, order_id=item.order_id,
            source="import", properties=item.properties, response_id=item.response_id,
        ))
    results = []
    suppressed = suppressions.suppressed_among(record["customer_id"] for record in records)
    for record in records:
        if record["customer_id"] in suppressed:
            results.append(ImportOutcome(survey_id=record["survey_id"], response_id=record.get("response_id"),
                                         status="suppressed"))
            continue
        created = store.insert_once(link_service_outcome(record, store))
        results.append(ImportOutcome(survey_id=record["survey_id"], response_id=record.get("response_id"),
                                     status="created" if created else "duplicate"))
    created_count = sum(1 for result in results if result.status == "created")
    duplicate_count = sum(1 for result in results if result.status == "duplicate")
    return ImportResult(created=created_count, duplicates=duplicate_count,
                        suppressed=len(results) - created_count - duplicate_count, results=results)


def response_record(
    *, survey_id: str, customer_id: str, touchpoint: Touchpoint, metric: str, score: int, comment: str | None,
    submitted_at: datetime, order_id: str | None, source: str, properties: dict | None = None,
    response_id: str | None = None, link_minted_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "type": "response",
        "survey_id": survey_id,
        "customer_id": customer_id,
        "touchpoint": touchpoint.id,
        "family": touchpoint.family,
        "stage": touchpoint.stage,
        "metric": metric,
        "score": score,
        "comment": comment or None,
        "submitted_at": iso(submitted_at),
        "order_id": order_id,
        "properties": properties or None,
        "response_id": response_id,
        "source": source,
        # An answered link counts for the response rate of the day its link was minted.
        "link_minted_at": iso(link_minted_at) if link_minted_at else None,
        **response_index_key(customer_id, iso(submitted_at), survey_id),
    }
