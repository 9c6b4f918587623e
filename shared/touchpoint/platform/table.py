"""The key design of the single FeedbackTable, in one place (docs/data-model.md explains it).

Every item has ``pk``/``sk``. Items that belong to a customer also carry ``gsi1pk = CUST#<customer>``
and a ``gsi1sk`` that starts with the item's kind, so erasure is one query on the ``ByCustomer``
index; a solved ticket's ``gsi1sk`` starts with its solve time, so intake finds the latest solve
before an answer by reading one index entry, whatever the customer's history.

item                    pk                           sk                                  gsi1sk
survey response         RESP#<survey_id>             RESPONSE                            RESP#<submitted_at>#<id>
closed survey (erased)  RESP#<survey_id>             RESPONSE                            (none: no customer in it)
ticket state            TICKET#<provider>#<ticket>   STATE                               TICKET#S#<solved_at>#<p>#<t>
                                                                                         (open: TICKET#O#<p>#<t>)
ticket event            TICKET#<provider>#<ticket>   EVT#<event_id>                      TEVT#<provider>#<ticket>#<evt>
customer contact        CONTACT#<customer>           CONTACT                             CONTACT
customer activity       ACT#<pseudonym(customer)>    ACTIVITY                            (none: outlives erasure)
stream delivery marker  BATCH#<event id of 1st rec.> BATCH                               (none: 2-day TTL)
detractor alert         ALERT#<day>                  <score:02>#<submitted_at>#<survey>  ALERT#<survey_id>
day rollup              ROLLUP#D#<day>               TP#<touchpoint> or CH#<channel>
period customer rollup  ROLLUP#P#<period>            CUSTOMERS
scorecard email marker  SENT#<period>                <hash of the recipient list>
suppressed customer     SUPPRESSED#<pseudonym(c.)>   SUPPRESSED                          (none: outlives erasure)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from touchpoint.metrics import SOLVED_STATUSES

# --- the ByCustomer index: what it is called and what it carries -------------------------------------------
CUSTOMER_INDEX = "ByCustomer"
# INCLUDE projection of template.yaml: what intake needs to link an NPS answer to the latest solved ticket.
CUSTOMER_INDEX_ATTRIBUTES = ("type", "status", "solved_at", "fcr")

# --- sort keys and prefixes ----------------------------------------------------------------------------------
RESPONSE_PREFIX = "RESP#"
RESPONSE_SK = "RESPONSE"
TICKET_PREFIX = "TICKET#"
TICKET_STATE_SK = "STATE"
TICKET_EVENT_PREFIX = "EVT#"
TICKET_EVENT_INDEX_PREFIX = "TEVT#"
CUSTOMER_PREFIX = "CUST#"
CONTACT_PREFIX = "CONTACT#"
CONTACT_SK = "CONTACT"
ACTIVITY_PREFIX = "ACT#"
ACTIVITY_SK = "ACTIVITY"
DELIVERY_PREFIX = "BATCH#"
DELIVERY_SK = "BATCH"
ALERT_PREFIX = "ALERT#"
DAY_ROLLUP_PREFIX = "ROLLUP#D#"
PERIOD_ROLLUP_PREFIX = "ROLLUP#P#"
CUSTOMERS_SK = "CUSTOMERS"
TOUCHPOINT_ROLLUP_PREFIX = "TP#"
CHANNEL_ROLLUP_PREFIX = "CH#"
SENT_PREFIX = "SENT#"
SUPPRESSION_PREFIX = "SUPPRESSED#"
SUPPRESSION_SK = "SUPPRESSED"


def key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    """A primary key as DynamoDB's low-level API takes it."""
    return {"pk": {"S": pk}, "sk": {"S": sk}}


# --- customers -------------------------------------------------------------------------------------------------
def customer_partition(customer_id: str) -> str:
    return f"{CUSTOMER_PREFIX}{customer_id}"


def contact_key(customer_id: str) -> dict[str, str]:
    """The customer's one contact item (the contact policy's memory), found by erasure through the index."""
    return {"pk": f"{CONTACT_PREFIX}{customer_id}", "sk": CONTACT_SK,
            "gsi1pk": customer_partition(customer_id), "gsi1sk": CONTACT_SK}


def checkpoint_name(source: str) -> str:
    """The name a source item's checkpoint had in its owner's activity item (``pk|sk``; the contact item
    just ``CONTACT``), as versions before delivery markers wrote them: read while such checkpoints drain."""
    return CONTACT_SK if source.startswith(CONTACT_PREFIX) else source


def activity_key(pseudonym: str) -> tuple[str, str]:
    # Activity items outlive an erasure by a few days (TTL): named by the customer's keyed pseudonym
    # (platform.pseudonyms), never the id or a plain hash of it that a guessed id could be tested against.
    return f"{ACTIVITY_PREFIX}{pseudonym}", ACTIVITY_SK


# --- stream deliveries -----------------------------------------------------------------------------------------
def delivery_key(first_event_id: str) -> dict[str, dict[str, str]]:
    """The marker of one stream delivery, named by the event id of the delivery's first record: Lambda
    retries a batch from that same record (or from the record a failure was reported at, which gets a
    marker of its own), so a retry finds what the earlier attempt applied."""
    return key(f"{DELIVERY_PREFIX}{first_event_id}", DELIVERY_SK)


# --- survey responses ------------------------------------------------------------------------------------------
def response_key(survey_id: str) -> dict[str, str]:
    return {"pk": f"{RESPONSE_PREFIX}{survey_id}", "sk": RESPONSE_SK}


# An erased customer's open link, closed: the response key holds this instead of an answer until the
# link expires (TTL), so the answer's own conditional write refuses it (surveys.store.ResponseStore).
CLOSED_SURVEY_TYPE = "closed"


def closed_survey_item(survey_id: str, link_expires_epoch: int) -> dict[str, Any]:
    """The tombstone of an erased customer's open link: the key, the type and the expiry; no customer,
    no score, no index key (erasure must not find it again, and it names nobody)."""
    return {**response_key(survey_id), "type": CLOSED_SURVEY_TYPE, "expires_at": link_expires_epoch}


def response_index_key(customer_id: str, submitted_at: str, survey_id: str) -> dict[str, str]:
    return {"gsi1pk": customer_partition(customer_id), "gsi1sk": f"{RESPONSE_PREFIX}{submitted_at}#{survey_id}"}


# --- tickets ---------------------------------------------------------------------------------------------------
def ticket_partition(provider: str, ticket_id: str) -> str:
    return f"{TICKET_PREFIX}{provider}#{ticket_id}"


def ticket_ref(partition: str) -> str:
    """``<provider>#<ticket_id>`` from a ticket partition (how a response names the ticket it follows)."""
    return partition.removeprefix(TICKET_PREFIX)


TICKET_SOLVED_INDEX_PREFIX = f"{TICKET_PREFIX}S#"
TICKET_OPEN_INDEX_PREFIX = f"{TICKET_PREFIX}O#"


def _index_time(moment: datetime) -> str:
    # One fixed width (milliseconds, Z), so the index orders solves as time orders them.
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ticket_index_key(customer_id: str, provider: str, ticket_id: str, status: str,
                     solved_at: datetime | None) -> dict[str, str]:
    """A ticket state in the ByCustomer index: a solved one sorted by its solve time (the latest solve
    before an answer is one entry of a reverse range query), any other apart."""
    solved = solved_at if status in SOLVED_STATUSES else None
    sort_key = (f"{TICKET_SOLVED_INDEX_PREFIX}{_index_time(solved)}#{provider}#{ticket_id}" if solved
                else f"{TICKET_OPEN_INDEX_PREFIX}{provider}#{ticket_id}")
    return {"gsi1pk": customer_partition(customer_id), "gsi1sk": sort_key}


def solved_between(since: datetime, until: datetime) -> tuple[str, str]:
    """The ByCustomer sort-key range of tickets solved from ``since`` to ``until``, both included."""
    return (f"{TICKET_SOLVED_INDEX_PREFIX}{_index_time(since)}",
            f"{TICKET_SOLVED_INDEX_PREFIX}{_index_time(until)}$")  # "$" sorts after the "#" that follows a time


def ticket_event_key(provider: str, ticket_id: str, event_id: str) -> dict[str, str]:
    return {"pk": ticket_partition(provider, ticket_id), "sk": f"{TICKET_EVENT_PREFIX}{event_id}"}


def ticket_event_index_key(customer_id: str, provider: str, ticket_id: str, event_id: str) -> dict[str, str]:
    return {"gsi1pk": customer_partition(customer_id),
            "gsi1sk": f"{TICKET_EVENT_INDEX_PREFIX}{provider}#{ticket_id}#{event_id}"}


# --- detractor alerts ------------------------------------------------------------------------------------------
def alert_partition(day: str) -> str:
    return f"{ALERT_PREFIX}{day}"


def alert_from_key(pk: str, sk: str) -> tuple[str, int, str] | None:
    """(day, score, submitted_at) of a detractor alert's key; None for any other item."""
    if not pk.startswith(ALERT_PREFIX):
        return None
    score, submitted_at, _survey = sk.split("#", 2)
    return pk[len(ALERT_PREFIX):], int(score), submitted_at


def alert_keys(customer_id: str, day: str, score: int, submitted_at: str, survey_id: str) -> dict[str, str]:
    """Keyed by day, lowest score first, so the scorecard reads a bounded number of a period's worst
    comments whatever the volume."""
    return {"pk": alert_partition(day), "sk": f"{score:02d}#{submitted_at}#{survey_id}",
            "gsi1pk": customer_partition(customer_id), "gsi1sk": f"{ALERT_PREFIX}{survey_id}"}


# --- rollups ---------------------------------------------------------------------------------------------------
def day_partition(day: str) -> str:
    return f"{DAY_ROLLUP_PREFIX}{day}"


def period_partition(period_id: str) -> str:
    return f"{PERIOD_ROLLUP_PREFIX}{period_id}"


def touchpoint_rollup_sk(touchpoint: str) -> str:
    return f"{TOUCHPOINT_ROLLUP_PREFIX}{touchpoint}"


def channel_rollup_sk(channel: str) -> str:
    return f"{CHANNEL_ROLLUP_PREFIX}{channel}"


def is_rollup_partition(pk: str) -> bool:
    return pk.startswith((DAY_ROLLUP_PREFIX, PERIOD_ROLLUP_PREFIX))


# --- scorecard email markers -----------------------------------------------------------------------------------
def sent_marker_key(period_id: str, recipients_hash: str) -> dict[str, Any]:
    return key(f"{SENT_PREFIX}{period_id}", recipients_hash)


def suppression_key(pseudonym: str) -> dict[str, Any]:
    """An erased customer on the suppression list, named by its keyed pseudonym (platform.pseudonyms)."""
    return key(f"{SUPPRESSION_PREFIX}{pseudonym}", SUPPRESSION_SK)
