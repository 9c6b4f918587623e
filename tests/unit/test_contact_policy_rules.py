"""The contact policy on the mint path (issue_link), over an in-memory contact store: one survey per
customer per N days across touchpoints, per-touchpoint overrides, 0 = never held back, a retried
identical mint gets its link back, and the counters the response rate is made of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from touchpoint.catalog import CatalogError, load_catalog, parse_catalog
from touchpoint.rollups.contribution import contact_events
from touchpoint.surveys.intake import issue_link
from touchpoint.surveys.models import LinkCreated, LinkRequest, LinkThrottled
from touchpoint.surveys.tokens import KeyRing, verify_token
from touchpoint_local.testing import FakeContactStore

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
RING = KeyRing({"k1": "contact-test-key-0123456789"})
BASE = "https://feedback.example.com"
CATALOG = load_catalog("ecommerce")


def with_days(default: int, **per_touchpoint: int):
    """The ecommerce preset with another policy and some touchpoints' own N."""
    touchpoints = tuple(t.model_copy(update={"contact_days": per_touchpoint.get(t.id)}) for t in CATALOG.touchpoints)
    return CATALOG.model_copy(update={"contact_policy": CATALOG.contact_policy.model_copy(update={"days": default}),
                                      "touchpoints": touchpoints, "_by_id": {t.id: t for t in touchpoints}})


def issue(store, at, catalog=CATALOG, **fields):
    request = LinkRequest(**{"customer_id": "cust-1", "touchpoint": "shipping", **fields})
    return issue_link(request, catalog, RING, store, BASE, at)


def test_a_second_survey_within_14_days_is_held_back_across_touchpoints():
    # Given a shipping survey sent to the customer
    store = FakeContactStore()
    first = issue(store, NOW)
    assert isinstance(first, LinkCreated)
    # When an NPS survey at another touchpoint is asked for 3 days later
    second = issue(store, NOW + timedelta(days=3), touchpoint="relationship")
    # Then it is held back until 14 days after the first, with no token
    assert isinstance(second, LinkThrottled) and second.throttled is True
    assert second.next_allowed_at == "2026-11-16T09:00:00.000Z"
    assert "14 days" in second.reason
    assert "token" not in second.model_dump()


def test_the_day_boundary_is_the_instant_n_days_after_the_last_contact():
    store = FakeContactStore()
    issue(store, NOW)
    # One second before 14 days: held back; at 14 days exactly: allowed
    assert isinstance(issue(store, NOW + timedelta(days=14, seconds=-1), touchpoint="checkout"), LinkThrottled)
    assert isinstance(issue(store, NOW + timedelta(days=14), touchpoint="checkout"), LinkCreated)


def test_a_touchpoint_with_its_own_n_decides_for_its_links():
    # Given returns surveyed after 3 days, relationship after 30
    catalog = with_days(14, returns=3, relationship=30)
    store = FakeContactStore()
    issue(store, NOW, catalog)
    # Then 4 days later returns may survey, while relationship waits 30 days from the latest contact
    assert isinstance(issue(store, NOW + timedelta(days=4), catalog, touchpoint="returns"), LinkCreated)
    held = issue(store, NOW + timedelta(days=20), catalog, touchpoint="relationship")
    assert isinstance(held, LinkThrottled)
    assert held.next_allowed_at == "2026-12-06T09:00:00.000Z"  # 30 days after the returns link


def test_contact_days_0_is_never_held_back_and_still_counts_as_a_contact():
    catalog = with_days(14, checkout=0)
    store = FakeContactStore()
    issue(store, NOW, catalog)
    # When checkout (0) surveys an hour later, it goes out
    assert isinstance(issue(store, NOW + timedelta(hours=1), catalog, touchpoint="checkout"), LinkCreated)
    # And it is the latest contact: shipping must wait 14 days from it
    held = issue(store, NOW + timedelta(days=14), catalog)
    assert isinstance(held, LinkThrottled) and held.next_allowed_at == "2026-11-16T10:00:00.000Z"


def test_a_policy_of_0_days_never_holds_back():
    store = FakeContactStore()
    for hour in range(3):
        assert isinstance(issue(store, NOW + timedelta(hours=hour), with_days(0), order_id=f"o-{hour}"), LinkCreated)


def test_a_retried_identical_mint_returns_the_same_link_and_writes_nothing():
    store = FakeContactStore()
    first = issue(store, NOW, order_id="A-1", properties={"sku": "x"})
    writes = store.writes
    # When the same request comes again the next day (a mailer's retry)
    again = issue(store, NOW + timedelta(days=1), order_id="A-1", properties={"sku": "x"})
    # Then it is the very same link: same token, same expiry, no second mint
    assert isinstance(again, LinkCreated)
    assert (again.token, again.expires_at, again.survey_id) == (first.token, first.expires_at, first.survey_id)
    assert store.writes == writes and store.items["cust-1"]["mints"] == 1
    # But a request that differs in anything (here the ttl) is a new survey, held back
    assert isinstance(issue(store, NOW + timedelta(days=1), order_id="A-1", properties={"sku": "x"}, ttl_days=10),
                      LinkThrottled)


def test_a_held_back_retry_is_counted_once():
    store = FakeContactStore()
    issue(store, NOW)
    for _ in range(3):
        issue(store, NOW + timedelta(days=1), touchpoint="relationship")
    assert store.items["cust-1"]["held_back"] == 1


def test_a_mint_that_loses_a_race_is_held_back_by_the_winner():
    # Given another mint for the customer lands between our read and our write
    store = FakeContactStore()
    store.race = lambda: issue(store, NOW, touchpoint="relationship")
    # When we try to mint
    ours = issue(store, NOW)
    # Then exactly one link went out: ours is held back by the winner
    assert isinstance(ours, LinkThrottled)
    assert store.items["cust-1"]["mints"] == 1 and store.items["cust-1"]["touchpoint"] == "relationship"


def test_a_counted_link_carries_its_minting_time():
    link = issue(FakeContactStore(), NOW)
    assert verify_token(RING, link.token, NOW).minted_at == NOW.replace(microsecond=0)


def test_each_write_of_the_contact_item_is_one_minted_or_held_back_count():
    store = FakeContactStore()
    issue(store, NOW)
    minted = store.contact("cust-1")
    issue(store, NOW + timedelta(days=1), touchpoint="support")
    held = store.contact("cust-1")
    # Then the first write is one minted shipping CSAT link, the second one held-back support CSAT
    assert contact_events(None, minted) == {("ROLLUP#D#2026-11-02", "TP#shipping", "minted_csat"): 1}
    assert contact_events(minted, held) == {("ROLLUP#D#2026-11-03", "TP#support", "held_back_csat"): 1}
    # And an erasure subtracts nothing (anonymous counts of what was sent)
    assert contact_events(held, None) == {}


@pytest.mark.parametrize("bad", ["contact_policy: {days: -1}", "contact_policy: {days: 400}",
                                 "contact_policy: {weeks: 2}"])
def test_the_catalog_refuses_a_bad_policy(bad):
    text = """name: t
touchpoints:
  - {id: support, label: Support, family: cs, stage: support, metric: csat}
ticket_mapping: {default: support}
""" + bad
    with pytest.raises(CatalogError, match="contact_policy"):
        parse_catalog(text)


def test_the_presets_default_to_14_days():
    assert CATALOG.contact_policy.days == 14
    assert CATALOG.contact_days(CATALOG.get("shipping")) == 14


def test_the_contact_item_lists_the_open_links_so_an_erasure_can_close_them():
    # Given links minted 20 days apart, each open for 30 days
    store = FakeContactStore()
    first = issue(store, NOW, ttl_days=30)
    second = issue(store, NOW + timedelta(days=20), touchpoint="relationship", ttl_days=30)
    # Then both are tracked (their tokens say so) and listed with their expiry
    assert verify_token(RING, first.token, NOW).tracked and verify_token(RING, second.token, NOW).tracked
    listed = store.items["cust-1"]["open_links"]
    assert listed == {first.survey_id: int((NOW + timedelta(days=30)).timestamp()),
                      second.survey_id: int((NOW + timedelta(days=50)).timestamp())}
    # When a third is minted after the first expired
    third = issue(store, NOW + timedelta(days=40), touchpoint="checkout", ttl_days=30)
    # Then the expired one is no longer listed: the list holds the links an answer could still use
    assert set(store.items["cust-1"]["open_links"]) == {second.survey_id, third.survey_id}


def test_beyond_the_tracked_limit_a_link_is_minted_untracked_and_the_contact_item_stays_small():
    from touchpoint.surveys.contact import MAX_TRACKED_LINKS

    # Given a touchpoint that never holds back, and a customer surveyed more often than the limit
    catalog = with_days(0)
    store = FakeContactStore()
    links = [issue(store, NOW + timedelta(minutes=i), catalog, order_id=f"A-{i}") for i in range(MAX_TRACKED_LINKS + 5)]
    # Then the first MAX_TRACKED_LINKS are tracked, the rest are not (their answers read the
    # suppression list), and the list never grows past the limit
    tracked = [verify_token(RING, link.token, NOW + timedelta(hours=2)).tracked for link in links]
    assert tracked == [True] * MAX_TRACKED_LINKS + [False] * 5
    assert len(store.items["cust-1"]["open_links"]) == MAX_TRACKED_LINKS
