"""Survey intake logic over an in-memory store (no AWS): every check happens before the write, so a
refused request writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from touchpoint.catalog import load_catalog
from touchpoint.errors import ApiError
from touchpoint.surveys.intake import import_responses, mint_link, submit_answer
from touchpoint.surveys.models import ImportedResponse, LinkCreated, LinkRequest, SurveyAnswer, SurveyClosed
from touchpoint.surveys.tokens import KeyRing, verify_token

NOW = datetime(2026, 11, 22, 12, 30, 15, 123456, tzinfo=UTC)
RING = KeyRing({"k1": "survey-test-key-0123456789"})
CATALOG = load_catalog("ecommerce")
BASE = "https://feedback.example.com"


class FakeStore:
    """ResponseWriter in memory, with the semantics of store.ResponseStore."""

    def __init__(self, tickets: list[dict[str, Any]] | None = None) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.writes = 0
        self.tickets = tickets or []  # ticket states, as the ByCustomer index returns them

    def latest_solved_ticket(self, customer_id: str, since: datetime, until: datetime) -> dict[str, Any] | None:
        from touchpoint.periods import parse_time

        solved = [t for t in self.tickets if t["customer_id"] == customer_id and t.get("status") in ("solved", "closed")
                  and t.get("solved_at") and since <= parse_time(t["solved_at"]) <= until]
        return max(solved, key=lambda t: (parse_time(t["solved_at"]), t["pk"])) if solved else None

    def upsert(self, record: dict[str, Any]) -> bool:
        old = self.items.get(record["survey_id"])
        if old is not None and old.get("type") == "closed":
            raise SurveyClosed(record["survey_id"])  # both conditional writes fail on a tombstone
        self.writes += 1
        item = {k: v for k, v in record.items() if v is not None}
        item["first_submitted_at"] = old["first_submitted_at"] if old else record["submitted_at"]
        item["submissions"] = (old["submissions"] if old else 0) + 1
        self.items[record["survey_id"]] = item
        return old is None

    def insert_once(self, record: dict[str, Any]) -> bool:
        self.writes += 1
        if record["survey_id"] in self.items:
            return False
        self.items[record["survey_id"]] = {**record, "first_submitted_at": record["submitted_at"], "submissions": 1}
        return True


def refused(call, *args: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args)
    return caught.value


def imported(**changes: Any) -> ImportedResponse:
    base = {"customer_id": "cust-1", "touchpoint": "support", "metric": "csat", "score": 4}
    return ImportedResponse(**{**base, **changes})


def link(**changes: Any) -> LinkCreated:
    return mint_link(LinkRequest(**{"customer_id": "cust-1", "touchpoint": "shipping", **changes}), CATALOG, RING,
                     BASE, NOW)


# Links -------------------------------------------------------------------------------------------
def test_link_metric_defaults_to_the_touchpoint_default() -> None:
    for touchpoint, default in (("shipping", "csat"), ("checkout", "ces"), ("relationship", "nps")):
        minted = link(touchpoint=touchpoint)
        assert minted.metric == default
        assert verify_token(RING, minted.token, NOW).metric == default


def test_link_metric_can_be_chosen() -> None:
    minted = link(touchpoint="shipping", metric="nps")
    assert verify_token(RING, minted.token, NOW).metric == "nps"


def test_link_url_expiry_and_claims() -> None:
    minted = link(order_id="order-1", ttl_days=7, properties={"sku": "A-1"})
    assert minted.url == f"{BASE}/s/{minted.token}"
    assert minted.expires_at == "2026-11-29T12:30:15.000Z"
    claims = verify_token(RING, minted.token, NOW)
    assert (claims.customer_id, claims.touchpoint, claims.order_id) == ("cust-1", "shipping", "order-1")
    assert claims.properties == {"sku": "A-1"}
    assert claims.expires_at == datetime(2026, 11, 29, 12, 30, 15, tzinfo=UTC)


def test_link_url_has_no_double_slash_with_a_trailing_slash_base() -> None:
    minted = mint_link(LinkRequest(customer_id="c", touchpoint="shipping"), CATALOG, RING, BASE + "/", NOW)
    assert minted.url == f"{BASE}/s/{minted.token}"


def test_link_for_unknown_touchpoint_is_422() -> None:
    error = refused(lambda: link(touchpoint="teleport"))
    assert (error.status, error.code, error.field) == (422, "unknown_touchpoint", "touchpoint")


def test_links_for_the_same_order_are_the_same_survey() -> None:
    assert link(order_id="o-1").survey_id == link(order_id="o-1").survey_id
    assert link().survey_id != link().survey_id


# Answers -----------------------------------------------------------------------------------------
def test_answer_creates_then_replaces_one_record() -> None:
    store = FakeStore()
    token = link(touchpoint="relationship").token
    created, record = submit_answer(token, SurveyAnswer(score=3, comment="meh"), CATALOG, RING, store, NOW)
    assert created is True
    assert record["score"] == 3 and record["metric"] == "nps" and record["source"] == "link"
    assert record["family"] == "cx" and record["stage"] == "loyalty"
    later = NOW + timedelta(minutes=5)
    created, record = submit_answer(token, SurveyAnswer(score=10), CATALOG, RING, store, later)
    assert created is False
    assert len(store.items) == 1
    item = store.items[record["survey_id"]]
    assert item["score"] == 10 and "comment" not in item
    assert item["first_submitted_at"] == "2026-11-22T12:30:15.123Z"
    assert item["submitted_at"] == "2026-11-22T12:35:15.123Z"


def test_answer_record_carries_the_link_claims() -> None:
    store = FakeStore()
    token = link(order_id="order-5", properties={"store": "north"}).token
    _, record = submit_answer(token, SurveyAnswer(score=5), CATALOG, RING, store, NOW)
    assert record["customer_id"] == "cust-1"
    assert record["order_id"] == "order-5"
    assert record["properties"] == {"store": "north"}
    assert record["gsi1pk"] == "CUST#cust-1"
    assert record["gsi1sk"].startswith("RESP#2026-11-22T12:30:15.123Z#")


@pytest.mark.parametrize(("touchpoint", "bad_scores"), [
    ("relationship", [-1, 11, 100]),  # NPS 0-10
    ("shipping", [0, 6]),  # CSAT 1-5
    ("checkout", [0, 8]),  # CES 1-7
])
def test_answer_out_of_range_is_422_and_writes_nothing(touchpoint: str, bad_scores: list[int]) -> None:
    store = FakeStore()
    token = link(touchpoint=touchpoint).token
    for score in bad_scores:
        error = refused(submit_answer, token, SurveyAnswer(score=score), CATALOG, RING, store, NOW)
        assert (error.status, error.code, error.field) == (422, "score_out_of_range", "score")
    assert store.writes == 0


def test_answer_with_expired_or_forged_token_writes_nothing() -> None:
    store = FakeStore()
    token = link(ttl_days=1).token
    error = refused(submit_answer, token, SurveyAnswer(score=5), CATALOG, RING, store, NOW + timedelta(days=2))
    assert error.status == 410
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    error = refused(submit_answer, forged, SurveyAnswer(score=5), CATALOG, RING, store, NOW)
    assert error.status == 403
    assert store.writes == 0


def test_answer_for_a_touchpoint_gone_from_the_catalog_is_closed() -> None:
    store = FakeStore()
    token = link(touchpoint="shipping").token
    error = refused(submit_answer, token, SurveyAnswer(score=5), load_catalog("saas"), RING, store, NOW)
    assert (error.status, error.code) == (410, "survey_closed")
    assert store.writes == 0


# Imports -----------------------------------------------------------------------------------------
def test_import_unknown_touchpoint_is_422_and_writes_nothing() -> None:
    store = FakeStore()
    error = refused(import_responses, [imported(touchpoint="teleport")], CATALOG, store, NOW)
    assert (error.status, error.code, error.field) == (422, "unknown_touchpoint", "touchpoint")
    assert store.writes == 0


def test_import_score_out_of_range_is_422_and_writes_nothing() -> None:
    store = FakeStore()
    error = refused(import_responses, [imported(metric="nps", score=11)], CATALOG, store, NOW)
    assert (error.status, error.code, error.field) == (422, "score_out_of_range", "score")
    assert store.writes == 0


def test_import_future_submitted_at_is_422_and_writes_nothing() -> None:
    store = FakeStore()
    error = refused(import_responses, [imported(submitted_at=NOW + timedelta(hours=1))], CATALOG, store, NOW)
    assert (error.status, error.code, error.field) == (422, "submitted_in_future", "submitted_at")
    assert store.writes == 0


def test_import_allows_small_clock_skew() -> None:
    store = FakeStore()
    results = import_responses([imported(submitted_at=NOW + timedelta(minutes=4))], CATALOG, store, NOW)
    assert results.results[0].status == "created"


@pytest.mark.parametrize(("bad", "field", "code"), [
    ({"touchpoint": "teleport"}, "[1].touchpoint", "unknown_touchpoint"),
    ({"score": 0}, "[1].score", "score_out_of_range"),
    ({"submitted_at": NOW + timedelta(days=1)}, "[1].submitted_at", "submitted_in_future"),
])
def test_one_bad_item_in_a_batch_of_three_writes_nothing(bad: dict, field: str, code: str) -> None:
    store = FakeStore()
    batch = [imported(response_id="a"), imported(response_id="b", **bad), imported(response_id="c")]
    error = refused(import_responses, batch, CATALOG, store, NOW)
    assert (error.status, error.code, error.field) == (422, code, field)
    assert store.writes == 0


def test_import_batch_size_is_1_to_100() -> None:
    store = FakeStore()
    for size in (0, 101):
        error = refused(import_responses, [imported()] * size, CATALOG, store, NOW)
        assert error.status == 422
    assert store.writes == 0
    assert import_responses([imported()] * 100, CATALOG, store, NOW).created == 100


def test_import_is_idempotent_on_response_id() -> None:
    store = FakeStore()
    first = import_responses([imported(response_id="zendesk-1", score=2)], CATALOG, store, NOW)
    again = import_responses([imported(response_id="zendesk-1", score=5)], CATALOG, store, NOW)
    assert first.results[0].status == "created" and again.results[0].status == "duplicate"
    assert (first.created, first.duplicates, again.created, again.duplicates) == (1, 0, 0, 1)
    assert first.results[0].survey_id == again.results[0].survey_id
    assert len(store.items) == 1
    assert store.items[first.results[0].survey_id]["score"] == 2  # first import wins


def test_import_without_response_id_always_creates() -> None:
    store = FakeStore()
    import_responses([imported(), imported()], CATALOG, store, NOW)
    assert len(store.items) == 2


def test_import_keeps_submitted_at_in_utc_and_the_given_metric() -> None:
    store = FakeStore()
    item = imported(touchpoint="shipping", metric="nps", score=9, submitted_at="2025-06-01T23:30:00-02:00")
    result = import_responses([item], CATALOG, store, NOW)
    record = store.items[result.results[0].survey_id]
    assert record["submitted_at"] == "2025-06-02T01:30:00.000Z"
    assert record["metric"] == "nps"  # the metric sent, not the touchpoint's default
    assert record["source"] == "import"


# Service -> experience (SPEC §5) ---------------------------------------------------------------
def ticket(ticket_id: str, solved_at: datetime, fcr: bool, customer_id: str = "cust-1") -> dict[str, Any]:
    return {"pk": f"TICKET#zendesk#{ticket_id}", "customer_id": customer_id, "status": "solved",
            "solved_at": solved_at.isoformat().replace("+00:00", "Z"), "fcr": fcr}


def test_nps_answer_is_tied_to_the_latest_ticket_solved_in_the_30_days_before() -> None:
    store = FakeStore([
        ticket("old", NOW - timedelta(days=40), fcr=True),
        ticket("t1", NOW - timedelta(days=10), fcr=True),
        ticket("t2", NOW - timedelta(days=2), fcr=False),
        ticket("later", NOW + timedelta(days=1), fcr=True),
        ticket("other", NOW - timedelta(days=1), fcr=True, customer_id="cust-2"),
    ])
    token = link(touchpoint="relationship").token
    _, record = submit_answer(token, SurveyAnswer(score=9), CATALOG, RING, store, NOW)
    assert record["s2e_ticket"] == "zendesk#t2"
    assert record["s2e_fcr"] is False


def test_answers_without_a_recent_ticket_or_not_nps_are_not_tied() -> None:
    store = FakeStore([ticket("old", NOW - timedelta(days=31), fcr=True)])
    _, record = submit_answer(link(touchpoint="relationship").token, SurveyAnswer(score=9), CATALOG, RING, store,
                              NOW)
    assert "s2e_ticket" not in record
    store = FakeStore([ticket("t1", NOW - timedelta(days=1), fcr=True)])
    _, record = submit_answer(link(touchpoint="shipping").token, SurveyAnswer(score=5), CATALOG, RING, store, NOW)
    assert "s2e_ticket" not in record


def test_imported_nps_history_is_tied_by_its_own_submitted_at() -> None:
    store = FakeStore([ticket("t1", datetime(2026, 3, 1, tzinfo=UTC), fcr=True)])
    result = import_responses([imported(metric="nps", score=10, submitted_at="2026-03-05T00:00:00Z")], CATALOG, store,
                              NOW)
    assert store.items[result.results[0].survey_id]["s2e_ticket"] == "zendesk#t1"
