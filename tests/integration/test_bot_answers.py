"""Suspected bots through the real intake handler and the real aggregation: kept, flagged, not counted."""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

from touchpoint.rollups.rebuild import expected_rollups


def form(fields: dict) -> dict:
    return {"body": urlencode(fields), "headers": {"content-type": "application/x-www-form-urlencoded"}}


def test_page_carries_a_hidden_honeypot_and_a_render_stamp(client):
    link = client.mint()
    page = client.survey("GET", link["token"]).body
    assert re.search(r'name="website"[^>]*tabindex="-1"', page)
    assert 'aria-hidden="true"' in page
    assert re.search(r'name="rendered" value="\d+\.[0-9a-f]{32}"', page)


def test_bot_answers_are_kept_flagged_and_left_out_of_the_metrics(client, aws):
    # Given three links: a person, a honeypot filler, and a form posted straight after rendering
    person, filler, hasty = (client.mint(customer_id=c, order_id=c) for c in ("person", "filler", "hasty"))
    stamps = {}
    for name, link in (("person", person), ("filler", filler), ("hasty", hasty)):
        page = client.survey("GET", link["token"]).body
        stamps[name] = re.search(r'name="rendered" value="([^"]+)"', page).group(1)
    time.sleep(2.1)  # the person reads the question
    hasty_page = client.survey("GET", hasty["token"]).body
    stamps["hasty"] = re.search(r'name="rendered" value="([^"]+)"', hasty_page).group(1)
    # When each posts the form
    replies = [
        client.send(client.http_event("POST", f"/s/{link['token']}", path_params={"token": link["token"]},
                                      route_key="POST /s/{token}", base64=True, **form(fields)))
        for link, fields in (
            (person, {"score": 5, "rendered": stamps["person"], "website": ""}),
            (filler, {"score": 5, "rendered": stamps["filler"], "website": "http://cheap-pills"}),
            (hasty, {"score": 1, "rendered": stamps["hasty"], "website": ""}),
        )
    ]
    # Then every answer gets the same thank-you page (a bot learns nothing) and is stored
    assert [r.status for r in replies] == [201, 201, 201]
    stored = {i["customer_id"]: i for i in aws.items() if i.get("type") == "response"}
    assert "suspected_bot" not in stored["person"]
    assert (stored["filler"]["suspected_bot"], stored["filler"]["bot_reason"]) == (True, "honeypot")
    assert (stored["hasty"]["suspected_bot"], stored["hasty"]["bot_reason"]) == (True, "too_fast")
    # And only the person counts in the rollups; the two others are counted as suspected bots
    rollups = expected_rollups(stored.values())
    day = next(k for k in rollups if k[0].startswith("ROLLUP#D#") and k[1] == "TP#shipping")
    # (the person answered a counted link: one answered for the response rate; bots answer nothing)
    assert rollups[day] == {"csat_5": 1, "answered_csat": 1, "suspected_bots": 2}
    active = [k for k in rollups if k[0].startswith("ROLLUP#P#")]
    assert all(rollups[k] == {"active": 1} for k in active)
