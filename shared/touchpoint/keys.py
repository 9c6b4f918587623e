"""Key design of the single FeedbackTable (see docs/data-model.md).

Every record has ``pk``/``sk``; records that belong to a customer also carry ``gsi1pk =
CUST#<customer_id>`` so erasure and per-customer lookups are one query on the ``ByCustomer`` index.
"""

from __future__ import annotations

RESPONSE_SK = "RESPONSE"
TICKET_STATE_SK = "STATE"
TICKET_EVENT_PREFIX = "EVT#"


def response_key(survey_id: str) -> dict[str, str]:
    return {"pk": f"RESP#{survey_id}", "sk": RESPONSE_SK}


def ticket_partition(provider: str, ticket_id: str) -> str:
    return f"TICKET#{provider}#{ticket_id}"


def customer_partition(customer_id: str) -> str:
    return f"CUST#{customer_id}"
