"""Erasure by any id: customer ids that an HTTP client percent-encodes (email addresses with `+` and
`@`, ids with `/`, spaces, non-ASCII letters) are found and erased; an id that matches nothing says so."""

from __future__ import annotations

from urllib.parse import quote

import pytest

IDS = ["Mia.Erase+shop@Example.com", "shop/42", "Ana Souza", "zoë.müller@example.de", "顧客-7", "50%off"]


def import_answer(client, customer_id: str, response_id: str) -> None:
    reply = client.request("POST", "/v1/responses", {"customer_id": customer_id, "touchpoint": "shipping",
                                                     "metric": "csat", "score": 4, "response_id": response_id})
    assert reply.status == 201, reply.body


def erase(client, customer_id: str):
    # What an HTTP client sends: the id percent-encoded into one path segment, as API Gateway passes it.
    encoded = quote(customer_id, safe="")
    return client.request("DELETE", f"/v1/customers/{encoded}", path_params={"customer_id": encoded},
                          route_key="DELETE /v1/customers/{customer_id}")


@pytest.mark.parametrize("customer_id", IDS)
def test_an_id_that_needs_percent_encoding_is_erased(client, aws, customer_id: str) -> None:
    # Given a customer with an answer, and another customer beside them
    import_answer(client, customer_id, f"erase-{IDS.index(customer_id)}")
    import_answer(client, "someone-else", f"keep-{IDS.index(customer_id)}")
    # When the customer is erased through the API, their id encoded as a client encodes it
    reply = erase(client, customer_id)
    # Then the decoded id was found and every record of theirs is gone, and only theirs
    assert reply.status == 200, reply.body
    answer = reply.json()
    assert {k: answer[k] for k in ("customer_id", "status", "deleted_records", "suppressed")} == \
        {"customer_id": customer_id, "status": "erased", "deleted_records": 1, "suppressed": True}
    left = [item for item in aws.items() if item.get("customer_id") == customer_id]
    assert left == []
    assert any(item.get("customer_id") == "someone-else" for item in aws.items())


def test_an_id_that_matches_nothing_says_so(client, aws) -> None:
    # Given a customer who was erased already
    import_answer(client, "Once+Here@example.com", "once")
    assert erase(client, "Once+Here@example.com").json()["status"] == "erased"
    # When the erasure is asked again (a retry), or for an id that never existed
    again, never = erase(client, "Once+Here@example.com"), erase(client, "never-seen@example.com")
    # Then both answer 200 with an explicit "nothing found", not a silent zero
    for reply in (again, never):
        assert reply.status == 200
        assert reply.json()["status"] == "nothing_found" and reply.json()["deleted_records"] == 0
