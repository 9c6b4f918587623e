"""The composition root: what each function's handler needs, built from the settings and created
lazily (so moto can patch the clients), cached for the life of the execution environment. Only the
handlers import this module; the domain gets every client and store passed in. ``reset()`` drops the
caches (tests, key rotation)."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from touchpoint.catalog import Catalog, load_catalog
from touchpoint.platform.settings import Settings, get_settings, validate_environment

if TYPE_CHECKING:  # imported lazily below, off the cold-start path of the routes that do not need them
    from datetime import timedelta

    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from touchpoint.customers.store import CustomerStore, MintRetries, SuppressionStore
    from touchpoint.metrics import Targets
    from touchpoint.platform.events import EventBridgePublisher
    from touchpoint.platform.pseudonyms import Pseudonyms
    from touchpoint.rollups.aggregator import Aggregator
    from touchpoint.rollups.store import RollupStore
    from touchpoint.scorecards.delivery import Delivery, ScorecardArchive
    from touchpoint.scorecards.store import RollupReader, SendOnce
    from touchpoint.surveys.store import ContactStore, ResponseStore
    from touchpoint.surveys.tokens import KeyRing
    from touchpoint.tickets.store import TicketStore


def cold_start(model: type[Settings]) -> Settings:
    """Validate the environment a function needs, once, when its module loads: a missing variable
    stops the cold start with a clear message instead of failing the first request that needs it."""
    return validate_environment(model)


@lru_cache(maxsize=8)
def aws_client(service: str) -> Any:
    import boto3

    return boto3.session.Session().client(service)


def settings() -> Settings:
    return get_settings()


def catalog() -> Catalog:
    current = get_settings()
    return _catalog(current.catalog, current.brand.strip())


@lru_cache(maxsize=4)
def _catalog(name_or_path: str, brand: str) -> Catalog:
    loaded = load_catalog(name_or_path)
    # BrandName of the template (TOUCHPOINT_BRAND) names the shop without editing a catalog file.
    return loaded.model_copy(update={"brand": brand}) if brand else loaded


def key_ring() -> KeyRing:
    # Not cached here: Powertools Parameters caches the secret for its max age, so a rotated key
    # reaches warm functions without a redeploy.
    from touchpoint.platform.secrets import token_keys
    from touchpoint.surveys.tokens import KeyRing

    return KeyRing(token_keys(get_settings()))


def webhook_secrets() -> dict[str, str]:
    """{provider: secret} and the opt-in ``chatwoot_url_token`` (Powertools caches the secret)."""
    from touchpoint.platform.secrets import webhook_secrets as read

    return read(get_settings())


def response_store() -> ResponseStore:
    from touchpoint.surveys.store import ResponseStore

    return ResponseStore(aws_client("dynamodb"), get_settings().table_name)


def contact_store() -> ContactStore:
    from touchpoint.surveys.store import ContactStore

    return ContactStore(aws_client("dynamodb"), get_settings().table_name)


def ticket_store() -> TicketStore:
    from touchpoint.tickets.store import TicketStore

    return TicketStore(aws_client("dynamodb"), get_settings().table_name)


def customer_store() -> CustomerStore:
    from touchpoint.customers.store import CustomerStore

    return CustomerStore(aws_client("dynamodb"), get_settings().table_name)


def _pseudonyms() -> Pseudonyms:
    """Customers' keyed pseudonyms (the key from Secrets Manager, cached by Powertools Parameters)."""
    from touchpoint.platform.pseudonyms import Pseudonyms
    from touchpoint.platform.secrets import pseudonym_key

    return Pseudonyms(pseudonym_key(get_settings()))


def suppression_store() -> SuppressionStore:
    """The suppression list of erased customers."""
    from touchpoint.customers.store import SuppressionStore

    return SuppressionStore(aws_client("dynamodb"), get_settings().table_name, _pseudonyms())


def webhook_max_event_age() -> timedelta | None:
    """WebhookMaxEventAgeDays as a duration; None when 0 (no limit)."""
    from datetime import timedelta

    days = get_settings().webhook_max_event_age_days
    return timedelta(days=days) if days else None


def scorecard_archive() -> ScorecardArchive | None:
    """The archived scorecards erasure rewrites (None where no ARCHIVE_BUCKET is set)."""
    from touchpoint.scorecards.delivery import ScorecardArchive

    bucket = get_settings().archive_bucket
    return ScorecardArchive(aws_client("s3"), bucket, catalog().brand) if bucket else None


def mint_retries() -> MintRetries:
    """The idempotency records of POST /v1/links, as erasure deletes a customer's."""
    from touchpoint.customers.store import MintRetries
    from touchpoint.surveys.tokens import customer_of

    ring = key_ring()
    return MintRetries(aws_client("dynamodb"), get_settings().idempotency_table_name,
                       lambda token: customer_of(ring, token))


def rollup_store() -> RollupStore:
    from touchpoint.rollups.store import RollupStore

    return RollupStore(aws_client("dynamodb"), get_settings().table_name, pseudonyms=_pseudonyms())


def aggregator() -> Aggregator:
    from touchpoint.rollups.aggregator import Aggregator

    return Aggregator(rollup_store(), get_settings().zone)


def event_publisher() -> EventBridgePublisher:
    from touchpoint.platform.events import EventBridgePublisher

    bus = get_settings().event_bus_name
    if not bus:
        raise RuntimeError("EVENT_BUS_NAME is not set")
    return EventBridgePublisher(aws_client("events"), bus)


@lru_cache(maxsize=1)
def idempotency_store() -> DynamoDBPersistenceLayer:
    """Powertools idempotency persistence on the IdempotencyTable (created on first use)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    table = get_settings().idempotency_table_name
    if not table:
        raise RuntimeError("IDEMPOTENCY_TABLE_NAME is not set")
    return DynamoDBPersistenceLayer(table_name=table, boto3_client=aws_client("dynamodb"))


def targets() -> Targets:
    from touchpoint.metrics import Targets

    raw = get_settings().scorecard_targets
    return Targets.model_validate_json(raw) if raw else Targets()


def rollup_reader() -> RollupReader:
    from touchpoint.scorecards.store import RollupReader

    return RollupReader(aws_client("dynamodb"), get_settings().table_name)


def send_marker() -> SendOnce:
    from touchpoint.scorecards.store import SendOnce

    return SendOnce(aws_client("dynamodb"), get_settings().table_name)


def scorecard(period_id: str) -> dict[str, Any]:
    from touchpoint.scorecards.compute import compute_scorecard

    current = get_settings()
    return compute_scorecard(rollup_reader(), catalog(), period_id, targets=targets(),
                             min_sample=current.scorecard_min_sample, zone=current.zone)


def deliver(scorecard_json: dict[str, Any]) -> Delivery:
    from touchpoint.platform.settings import recipients
    from touchpoint.scorecards.delivery import deliver_scorecard

    current = get_settings()
    return deliver_scorecard(
        scorecard_json, brand=catalog().brand, sender=current.sender_address, recipients=recipients(current),
        marker=send_marker(), ses=aws_client("sesv2"),
        s3=aws_client("s3") if current.archive_bucket else None, bucket=current.archive_bucket or None,
    )


def reset() -> None:
    from aws_lambda_powertools.utilities import parameters

    aws_client.cache_clear()
    idempotency_store.cache_clear()
    get_settings.cache_clear()
    load_catalog.cache_clear()
    _catalog.cache_clear()
    parameters.clear_caches()
