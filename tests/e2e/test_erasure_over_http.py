"""Erasure on the local stack, as an auditor probes it: a customer with every kind of record (a link
answered with a comment, an imported detractor comment in an archived scorecard, a solved ticket, a
pending mint retry) is erased; then every kind of late arrival comes; then nothing of the customer
is in the table, in any version of the archive or among the mint retries, the shop's other systems
were told, and the numbers are those of a dataset that never had the customer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from touchpoint.periods import bounds, week_of
from touchpoint.tickets import sign

pytestmark = pytest.mark.e2e
NOW = datetime.now(UTC)
OLD_WEEK = week_of(NOW - timedelta(weeks=40))  # a week no other test of the session writes to
OLD_MONDAY = datetime.combine(bounds(OLD_WEEK)[0], datetime.min.time(), tzinfo=UTC)


def deliver(stack, raw: bytes):
    headers = {**sign("generic", raw, stack.secrets["webhook_secrets"]["generic"], datetime.now(UTC)),
               "content-type": "application/json"}
    return stack.request("POST", "/webhooks/generic", data=raw, headers=headers)


def archived_versions(stack, period: str) -> list[tuple[str, str, str]]:
    """(key, version id, body) of every version of the period's archived scorecard."""
    s3, bucket = stack.client("s3"), stack.info["resources"]["ArchiveBucket"]
    listing = s3.list_object_versions(Bucket=bucket, Prefix=f"scorecards/{period}.")
    return [(v["Key"], v["VersionId"],
             s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read().decode())
            for v in listing.get("Versions", [])]


def test_an_erased_customer_leaves_nothing_behind_and_nothing_comes_back(local_stack):
    tag = f"erase{int(NOW.timestamp() * 1000)}"
    gone, stays = f"{tag}.Mia+shop@Example.com", f"{tag}-stays@example.com"
    this_week = week_of(NOW)
    # Given the customer answered a survey link with a comment ...
    mint = {"customer_id": gone, "touchpoint": "relationship"}
    minted = local_stack.request("POST", "/v1/links", json_body=mint, admin=True)
    assert minted.status == 201, minted.text
    token = minted.json()["token"]
    assert local_stack.request("POST", f"/s/{token}",
                               json_body={"score": 1, "comment": f"{tag} gone: link comment"}).status == 201
    # ... has imported detractor history with a comment, beside another customer's ...
    history = [
        {"customer_id": gone, "touchpoint": "relationship", "metric": "nps", "score": 0,
         "comment": f"{tag} gone: imported comment", "response_id": f"{tag}-1",
         "submitted_at": (OLD_MONDAY + timedelta(days=2, hours=9)).isoformat()},
        {"customer_id": stays, "touchpoint": "relationship", "metric": "nps", "score": 2,
         "comment": f"{tag} stays: imported comment", "response_id": f"{tag}-2",
         "submitted_at": (OLD_MONDAY + timedelta(days=3, hours=9)).isoformat()},
    ]
    assert local_stack.request("POST", "/v1/responses", json_body=history, admin=True).status == 201
    # ... and a solved ticket
    opened, solved = (NOW - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ"), NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    delivery = json.dumps([
        {"event_id": f"{tag}-e1", "ticket_id": f"{tag}-T", "customer_id": gone, "channel": "email",
         "event": "created", "occurred_at": opened},
        {"event_id": f"{tag}-e2", "ticket_id": f"{tag}-T", "customer_id": gone, "channel": "email",
         "event": "solved", "occurred_at": solved, "handle_seconds": 240},
    ]).encode()
    assert deliver(local_stack, delivery).status == 202
    # ... and the scorecards of both weeks were archived, the old one twice (two versions)
    assert local_stack.request("POST", "/_local/drain").status == 200
    for period in (OLD_WEEK, OLD_WEEK, this_week):
        assert local_stack.request("POST", "/_local/run/scorecard", json_body={"period": period}).status == 200
    before = archived_versions(local_stack, OLD_WEEK)
    assert len(before) == 4 and all(f"{tag} gone: imported comment" in body for _, _, body in before)

    # When the customer is erased, their id encoded as an HTTP client encodes it
    erased = local_stack.request("DELETE", f"/v1/customers/{quote(gone, safe='')}", admin=True)
    assert erased.status == 200, erased.text
    result = erased.json()
    assert (result["customer_id"], result["status"], result["suppressed"]) == (gone, "erased", True)
    assert result["deleted_records"] >= 6  # 2 responses, 2 ticket events, the ticket, the contact item, alerts
    assert OLD_WEEK in result["archived_scorecards_rewritten"]
    assert result["link_retries_forgotten"] == 1
    # And everything late arrives: the helpdesk's retry, a re-import, the old link, a retried mint
    retry = deliver(local_stack, delivery)
    reimport = local_stack.request("POST", "/v1/responses", json_body=history[:1], admin=True)
    old_link = local_stack.request("POST", f"/s/{token}", json_body={"score": 9, "comment": "back?"})
    retried_mint = local_stack.request("POST", "/v1/links", json_body=mint, admin=True)
    assert local_stack.request("POST", "/_local/drain").status == 200

    # Then each late arrival was refused or dropped, with a clear status
    assert (retry.status, retry.json()["applied"], retry.json()["suppressed"]) == (200, 0, 2)
    assert reimport.status == 200 and reimport.json()["results"][0]["status"] == "suppressed"
    assert old_link.status == 410
    assert retried_mint.status == 409 and retried_mint.json()["error"]["code"] == "customer_erased"
    # And no item of the table names the customer or holds their words
    items = local_stack.items()
    assert [i for i in items if gone in json.dumps(i) or f"{tag} gone" in json.dumps(i)] == []
    # And the archive keeps one version per object, without their comment but with the other customer's
    after = archived_versions(local_stack, OLD_WEEK)
    assert sorted(key for key, _, _ in after) == [f"scorecards/{OLD_WEEK}.html", f"scorecards/{OLD_WEEK}.json"]
    assert all(f"{tag} gone" not in body and f"{tag} stays: imported comment" in body for _, _, body in after)
    assert all(f"{tag} gone" not in body for _, _, body in archived_versions(local_stack, this_week))
    # And the shop's other systems were told
    told = [e["detail"] for e in local_stack.request("GET", "/_local/events").json()
            if e["detail-type"] == "CustomerErased" and e["detail"]["customer_id"] == gone]
    assert told == [{"customer_id": gone, "erased_at": result["erased_at"], "records": result["deleted_records"]}]
    # And the old week's numbers are those of a dataset that never had the customer
    card = local_stack.request("GET", f"/v1/scorecards/{OLD_WEEK}", admin=True).json()
    first, last = (d.isoformat() for d in bounds(OLD_WEEK))
    scores = [int(i["score"]) for i in items if i.get("type") == "response" and i.get("metric") == "nps"
              and first <= i["submitted_at"][:10] <= last]
    assert card["cx"]["nps"]["n"] == len(scores)
    assert [c["comment"] for c in card["detractor_comments"] if tag in (c["comment"] or "")] == \
        [f"{tag} stays: imported comment"]
    done = local_stack.rebuild(timeout=120)
    assert done.returncode == 0 and "drift 0" in done.stdout, done.stdout + done.stderr
