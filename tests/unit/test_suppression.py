"""The suppression list, with fakes: pseudonyms name nobody, the erasure suppresses before it deletes
and tells other systems, and every entry point drops what belongs to an erased customer."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest
from test_surveys import CATALOG, NOW, RING, FakeStore, imported
from touchpoint.customers.erasure import erase_customer, release_customer
from touchpoint.errors import ApiError
from touchpoint.platform.pseudonyms import Pseudonyms
from touchpoint.surveys.intake import import_responses, mint_link, submit_answer
from touchpoint.surveys.models import LinkRequest, SurveyAnswer

KEY = b"unit-test-pseudonym-key"


class FakeSuppressions:
    """SuppressionStore in memory, keyed by pseudonym as the real one is."""

    def __init__(self, pseudonyms: Pseudonyms, journal: list[str] | None = None) -> None:
        self.pseudonyms = pseudonyms
        self.entries: dict[str, dict[str, Any]] = {}
        self.journal = journal if journal is not None else []

    def is_suppressed(self, customer_id: str) -> bool:
        return self.pseudonyms.of(customer_id) in self.entries

    def suppressed_among(self, customer_ids: Iterable[str]) -> set[str]:
        return {c for c in customer_ids if self.is_suppressed(c)}

    def suppress(self, customer_id: str, erased_at: str, records: int) -> None:
        self.journal.append("suppress")
        self.entries[self.pseudonyms.of(customer_id)] = {"erased_at": erased_at, "erased_records": records}

    def release(self, customer_id: str) -> bool:
        return self.entries.pop(self.pseudonyms.of(customer_id), None) is not None


class FakeCustomers:
    """CustomerStore in memory: the customer's keys and the open links of their contact item."""

    def __init__(self, keys: list[dict[str, Any]], journal: list[str], links: dict[str, int] | None = None) -> None:
        self.keys, self.journal, self.links = keys, journal, links or {}
        self.tombstones: dict[str, int] = {}

    def keys_of(self, customer_id: str) -> list[dict[str, Any]]:
        self.journal.append("read keys")
        return list(self.keys)

    def open_links(self, customer_id: str) -> dict[str, int]:
        return dict(self.links)

    def close_surveys(self, links: dict[str, int]) -> int:
        self.journal.append(f"close {len(links)}")
        self.tombstones.update(links)
        return 0

    def delete(self, keys: list[dict[str, Any]]) -> None:
        self.journal.append(f"delete {len(keys)}")
        self.keys = []


class Told:
    def __init__(self, journal: list[str]) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.journal = journal

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.journal.append(f"publish {detail_type}")
        self.events.append((detail_type, detail))


def test_a_pseudonym_is_keyed_stable_and_not_the_plain_hash() -> None:
    # Given two keys
    one, other = Pseudonyms(KEY), Pseudonyms(b"another-pseudonym-key")
    # Then a pseudonym is stable under one key, differs under another, and is not sha256 of the id
    assert one.of("mia@example.com") == one.of("mia@example.com")
    assert one.of("mia@example.com") != other.of("mia@example.com")
    assert one.of("mia@example.com") != one.of("Mia@example.com")
    assert one.of("mia@example.com") not in hashlib.sha256(b"mia@example.com").hexdigest()
    assert len(one.of("x")) == 40


def test_a_short_pseudonym_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Pseudonyms(b"short")


def test_the_erasure_suppresses_before_it_deletes_and_then_tells_other_systems() -> None:
    # Given a customer with three records
    journal: list[str] = []
    suppressions = FakeSuppressions(Pseudonyms(KEY), journal)
    told = Told(journal)
    customers = FakeCustomers([{"pk": f"RESP#{n}"} for n in range(3)], journal)
    # When they are erased
    result = erase_customer(customers, suppressions, told, "mia@example.com", datetime(2026, 12, 3, 9, tzinfo=UTC))
    # Then the suppression came first (an answer arriving mid-erasure is refused), then the open links
    # were closed, then the index was read and its records deleted, then the count was noted and
    # CustomerErased sent with the id, the time and the count
    assert journal == ["suppress", "close 0", "read keys", "delete 3", "suppress", "publish CustomerErased"]
    assert told.events == [("CustomerErased", {"customer_id": "mia@example.com",
                                               "erased_at": "2026-12-03T09:00:00.000Z", "records": 3})]
    assert result.status == "erased" and result.deleted_records == 3 and result.suppressed
    # And the entry holds no id
    assert "mia@example.com" not in repr(suppressions.entries)


def test_erasing_an_unknown_id_still_suppresses_it_and_says_nothing_found() -> None:
    journal: list[str] = []
    suppressions = FakeSuppressions(Pseudonyms(KEY), journal)
    result = erase_customer(FakeCustomers([], journal), suppressions, Told(journal), "never@seen", NOW)
    assert result.status == "nothing_found" and result.deleted_records == 0
    assert suppressions.is_suppressed("never@seen")


def test_a_released_customer_is_no_longer_suppressed() -> None:
    suppressions = FakeSuppressions(Pseudonyms(KEY))
    suppressions.suppress("mia", "2026-12-03T09:00:00.000Z", 1)
    assert release_customer(suppressions, "mia").status == "released"
    assert not suppressions.is_suppressed("mia")
    assert release_customer(suppressions, "mia").status == "not_suppressed"


def test_an_import_writes_the_others_and_reports_the_erased_as_suppressed() -> None:
    # Given an erased customer
    suppressions = FakeSuppressions(Pseudonyms(KEY))
    suppressions.suppress("gone", "2026-12-03T09:00:00.000Z", 2)
    store = FakeStore()
    # When a batch mixes their responses with someone else's
    result = import_responses([imported(customer_id="gone", response_id="a"), imported(customer_id="here",
                                                                                      response_id="b"),
                               imported(customer_id="gone", response_id="c")], CATALOG, store, NOW, suppressions)
    # Then only the other customer's response is written, and the reply says which were dropped
    assert [r.status for r in result.results] == ["suppressed", "created", "suppressed"]
    assert (result.created, result.duplicates, result.suppressed) == (1, 0, 2)
    assert [item["customer_id"] for item in store.items.values()] == ["here"]


def test_an_old_link_of_an_erased_customer_is_closed_and_writes_nothing() -> None:
    # Given a link sent before the erasure
    token = mint_link(LinkRequest(customer_id="gone", touchpoint="shipping"), CATALOG, RING,
                      "https://feedback.example.com", NOW).token
    suppressions = FakeSuppressions(Pseudonyms(KEY))
    suppressions.suppress("gone", "2026-12-03T09:00:00.000Z", 1)
    store = FakeStore()
    # When it is answered
    with pytest.raises(ApiError) as refused:
        submit_answer(token, SurveyAnswer(score=4), CATALOG, RING, store, NOW, suppressions=suppressions)
    # Then the survey is closed (410) and nothing was written
    assert (refused.value.status, refused.value.code) == (410, "survey_closed")
    assert store.writes == 0


def test_an_old_tracked_link_is_closed_by_its_tombstone_without_reading_the_suppression_list() -> None:
    from touchpoint.surveys.intake import issue_link
    from touchpoint_local.testing import FakeContactStore

    class Unread:
        """A suppression list that must not be consulted."""

        def is_suppressed(self, customer_id: str) -> bool:
            raise AssertionError("a tracked link needs no suppression read")

        def suppressed_among(self, customer_ids: Iterable[str]) -> set[str]:
            raise AssertionError("a tracked link needs no suppression read")

    # Given a link minted through the contact policy (tracked), then its customer erased
    contacts = FakeContactStore()
    link = issue_link(LinkRequest(customer_id="gone", touchpoint="shipping"), CATALOG, RING, contacts,
                      "https://feedback.example.com", NOW)
    journal: list[str] = []
    customers = FakeCustomers([], journal, links=contacts.items["gone"]["open_links"])
    erase_customer(customers, FakeSuppressions(Pseudonyms(KEY), journal), Told(journal), "gone", NOW)
    store = FakeStore()
    store.items.update({survey_id: {"type": "closed"} for survey_id in customers.tombstones})
    # When it is answered
    with pytest.raises(ApiError) as refused:
        submit_answer(link.token, SurveyAnswer(score=4), CATALOG, RING, store, NOW, suppressions=Unread())
    # Then the tombstone on its survey id closed it (410), nothing was written, nothing else was read
    assert list(customers.tombstones) == [link.survey_id]
    assert (refused.value.status, refused.value.code) == (410, "survey_closed")
    assert store.writes == 0


def test_the_erasure_closes_only_the_links_that_are_still_open() -> None:
    # Given a contact item listing a link that expired an hour ago and one open for a week
    journal: list[str] = []
    now_epoch = int(NOW.timestamp())
    customers = FakeCustomers([], journal, links={"r-expired": now_epoch - 3600, "r-open": now_epoch + 7 * 86400})
    # When the customer is erased
    erase_customer(customers, FakeSuppressions(Pseudonyms(KEY), journal), Told(journal), "mia", NOW)
    # Then only the open link gets a tombstone, until its own expiry
    assert customers.tombstones == {"r-open": now_epoch + 7 * 86400}


class FakeArchive:
    def __init__(self, showing: dict[str, set[tuple[int, str]]]) -> None:
        self.showing, self.asked = showing, []

    def remove_comments(self, period_id: str, comments: set[tuple[int, str]]) -> bool:
        self.asked.append((period_id, comments))
        return bool(self.showing.get(period_id, set()) & comments)


class FakeRetries:
    def forget(self, customer_id: str) -> int:
        return 2


def test_the_erasure_rewrites_the_archived_weeks_and_months_that_show_the_customers_comments() -> None:
    # Given a customer with a detractor alert on Sunday 2026-11-22 (week 47, November) and a response
    journal: list[str] = []
    alert = {"pk": {"S": "ALERT#2026-11-22"}, "sk": {"S": "01#2026-11-22T21:30:00.000Z#o123"}}
    customers = FakeCustomers([alert, {"pk": {"S": "RESP#o123"}, "sk": {"S": "RESPONSE"}}], journal)
    archive = FakeArchive({"2026-W47": {(1, "2026-11-22T21:30:00.000Z")}})
    # When they are erased
    result = erase_customer(customers, FakeSuppressions(Pseudonyms(KEY), journal), Told(journal), "mia", NOW,
                            archive=archive, retries=FakeRetries())
    # Then the week and the month of the alert were asked for that comment, and the rewritten ones reported
    assert archive.asked == [("2026-11", {(1, "2026-11-22T21:30:00.000Z")}),
                             ("2026-W47", {(1, "2026-11-22T21:30:00.000Z")})]
    assert result.archived_scorecards_rewritten == ["2026-W47"]
    assert result.link_retries_forgotten == 2


def test_a_contact_checkpoint_does_not_carry_the_customer_id() -> None:
    from touchpoint.platform.table import checkpoint_name

    assert checkpoint_name("CONTACT#mia@example.com|CONTACT") == "CONTACT"
    assert checkpoint_name("RESP#o123|RESPONSE") == "RESP#o123|RESPONSE"


def test_suppression_reads_dynamodb_keeps_unprocessed_fail_closed() -> None:
    from touchpoint.customers.store import SuppressionStore

    class Throttled:
        """A DynamoDB that leaves every key of a BatchGetItem unprocessed (sustained throttling)."""

        calls = 0

        def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803 - boto3's name
            Throttled.calls += 1
            return {"Responses": {}, "UnprocessedKeys": RequestItems}

    # Given a table that never answers the suppression reads
    store = SuppressionStore(Throttled(), "t", Pseudonyms(KEY))
    # Then the check fails (the request is retried) rather than treating the unread ids as not erased
    with pytest.raises(RuntimeError, match="unprocessed"):
        store.suppressed_among(["mia", "ann"])
    assert Throttled.calls == 10
