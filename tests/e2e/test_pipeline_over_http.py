"""The whole pipeline on the local stack: imports, answers, webhooks, resubmissions, reopens and an
erasure; then /_local/drain, `touchpoint rebuild`, the scheduled scorecard and the outbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy

import pytest
from touchpoint.periods import bounds, last_complete_period
from touchpoint.tickets import sign

pytestmark = pytest.mark.e2e
NOW = datetime.now(UTC)
PERIOD = last_complete_period("week", NOW)
MONDAY = datetime.combine(bounds(PERIOD)[0], datetime.min.time(), tzinfo=UTC)


def at(days: float, hours: float = 10) -> str:
    return (MONDAY + timedelta(days=days, hours=hours)).isoformat().replace("+00:00", "Z")


def webhook(stack, event: dict) -> int:
    body = json.dumps(event).encode()
    headers = {**sign("generic", body, stack.secrets["webhook_secrets"]["generic"], datetime.now(UTC)),
               "content-type": "application/json"}
    return stack.request("POST", "/webhooks/generic", data=body, headers=headers).status


def test_drain_rebuild_scorecard_and_outbox_agree_with_an_independent_recount(local_stack):
    tag = f"pipe{int(NOW.timestamp())}"
    # Given imported history for three customers in the reported week ...
    answers = [
        {"customer_id": f"{tag}-a", "touchpoint": "relationship", "metric": "nps", "score": 10, "submitted_at": at(0)},
        {"customer_id": f"{tag}-b", "touchpoint": "relationship", "metric": "nps", "score": 3, "submitted_at": at(1),
         "comment": "=HYPERLINK(\"http://evil\") <script>alert(1)</script>"},
        {"customer_id": f"{tag}-c", "touchpoint": "shipping", "metric": "csat", "score": 4, "submitted_at": at(2)},
        {"customer_id": f"{tag}-gone", "touchpoint": "relationship", "metric": "nps", "score": 0,
         "submitted_at": at(2)},
    ]
    for i, answer in enumerate(answers):
        answer["response_id"] = f"{tag}-{i}"
    assert local_stack.request("POST", "/v1/responses", json_body=answers, admin=True).status == 201
    # ... a ticket solved, reopened and solved again, delivered out of order with a duplicate ...
    base = {"ticket_id": f"{tag}-T", "customer_id": f"{tag}-c", "channel": "chat"}
    events = [("e3", "solved", at(3, 12)), ("e1", "created", at(3, 9)), ("e2", "agent_replied", at(3, 9.5)),
              ("e5", "solved", at(4, 9)), ("e4", "reopened", at(4, 8)), ("e3", "solved", at(3, 12))]
    for event_id, kind, when in events:
        assert webhook(local_stack, {**base, "event_id": f"{tag}-{event_id}", "event": kind, "occurred_at": when,
                                     "handle_seconds": 60}) in (200, 202)
    # ... and one customer erased
    assert local_stack.request("DELETE", f"/v1/customers/{tag}-gone", admin=True).status == 200
    # When the stream is drained twice (the stack's background pump may have delivered some already)
    assert local_stack.request("POST", "/_local/drain").status == 200
    assert local_stack.request("POST", "/_local/drain").json() == {"records": 0}
    # Then rebuild finds no drift, for the week and overall
    for args in ((), ("--period", PERIOD)):
        done = local_stack.rebuild(*args, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "drift 0" in done.stdout
    # And the scorecard holds these answers and this ticket on top of whatever else this session wrote
    card = local_stack.request("POST", "/_local/run/scorecard", json_body={"period": PERIOD}).json()
    start, end = bounds(PERIOD)
    assert {k: card["period"][k] for k in ("id", "start", "end", "timezone")} == \
        {"id": PERIOD, "start": start.isoformat(), "end": end.isoformat(), "timezone": "UTC"}
    # ... equal to an independent recount of the raw records by the SPEC §5 formulas
    first_day, last_day = (d.isoformat() for d in bounds(PERIOD))
    items = local_stack.items()
    in_week = [i for i in items if i.get("type") == "response" and first_day <= i["submitted_at"][:10] <= last_day]
    scores = [int(i["score"]) for i in in_week if i["metric"] == "nps"]
    promoters, detractors = sum(s >= 9 for s in scores), sum(s <= 6 for s in scores)
    nps = card["cx"]["nps"]
    assert (nps["n"], nps["promoters"], nps["detractors"]) == (len(scores), promoters, detractors)
    assert nps["value"] == pytest.approx(100 * (promoters - detractors) / len(scores))
    csat = [int(i["score"]) for i in in_week if i["metric"] == "csat"]
    assert card["cx"]["csat"]["n"] == len(csat)
    assert card["cx"]["csat"]["value"] == pytest.approx(100 * sum(s >= 4 for s in csat) / len(csat))
    solved = [i for i in items if i.get("type") == "ticket" and i.get("status") in ("solved", "closed")
              and first_day <= i["solved_at"][:10] <= last_day]
    assert card["cs"]["fcr"]["n"] == len(solved)
    assert card["cs"]["fcr"]["value"] == pytest.approx(100 * sum(bool(t["fcr"]) for t in solved) / len(solved))
    ours = next(t for t in solved if t["ticket_id"] == f"{tag}-T")
    assert (ours["reopens"], ours["fcr"], ours["solved_at"]) == (1, False, at(4, 9))
    # And exactly one email went out for the week; a re-run says so and sends nothing
    rerun = local_stack.request("POST", "/_local/run/scorecard", json_body={"period": PERIOD}).json()
    assert rerun["delivery"]["status"] == "already_sent"
    outbox = [m for m in local_stack.request("GET", "/_local/outbox").json() if PERIOD in (m["subject"] or "")]
    assert len(outbox) == 1
    message = message_from_string(outbox[0]["raw"], policy=policy.default)
    kinds = sorted(part.get_content_type() for part in message.walk() if not part.is_multipart())
    assert kinds == ["text/csv", "text/html", "text/plain"]
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<script>alert(1)</script>" not in html
    csv_text = next(p for p in message.iter_attachments()).get_content()
    assert '\n=HYPERLINK' not in csv_text and ',=HYPERLINK' not in csv_text


def test_scorecard_route_refuses_a_bad_period(local_stack):
    reply = local_stack.request("GET", "/v1/scorecards/2026-W99", admin=True)
    assert reply.status == 422 and reply.json()["error"]["field"] == "period"
    assert local_stack.request("GET", f"/v1/scorecards/{PERIOD}").status == 401
