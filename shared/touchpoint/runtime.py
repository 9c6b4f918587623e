"""Per-cold-start dependencies of the functions, created lazily (so moto can patch the clients) and
cached for the life of the execution environment. ``reset()`` drops them (tests, key rotation)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .catalog import Catalog, load_catalog
from .secrets_source import token_key_ring, webhook_secrets
from .settings import Settings, get_settings
from .store import ResponseStore
from .tokens import KeyRing


@lru_cache(maxsize=8)
def aws_client(service: str) -> Any:
    import boto3

    return boto3.session.Session().client(service)


def settings() -> Settings:
    return get_settings()


def catalog() -> Catalog:
    return load_catalog(get_settings().catalog)


def key_ring() -> KeyRing:
    # Not cached here: Powertools Parameters caches the secret for its max age, so a rotated key
    # reaches warm functions without a redeploy.
    return token_key_ring(get_settings())


def response_store() -> ResponseStore:
    return ResponseStore(aws_client("dynamodb"), get_settings().table_name)


def ticket_store() -> Any:
    from .ticket_store import TicketStore

    return TicketStore(aws_client("dynamodb"), get_settings().table_name)


def webhook_secret(provider: str) -> str | None:
    return webhook_secrets(get_settings()).get(provider)


def event_publisher() -> Any:
    from .events_bus import EventBridgePublisher

    bus = get_settings().event_bus_name
    if not bus:
        raise RuntimeError("EVENT_BUS_NAME is not set")
    return EventBridgePublisher(aws_client("events"), bus)


@lru_cache(maxsize=1)
def idempotency_store() -> Any:
    """Powertools idempotency persistence on the IdempotencyTable (created on first use)."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    table = get_settings().idempotency_table_name
    if not table:
        raise RuntimeError("IDEMPOTENCY_TABLE_NAME is not set")
    return DynamoDBPersistenceLayer(table_name=table, boto3_client=aws_client("dynamodb"))


def aggregator() -> Any:
    from .aggregation import Aggregator

    return Aggregator(aws_client("dynamodb"), get_settings().table_name)


def targets() -> Any:
    from .scorecard import Targets

    raw = get_settings().scorecard_targets
    return Targets.model_validate_json(raw) if raw else Targets()


def scorecard(period_id: str) -> dict:
    from .reporting import RollupReader, compute_scorecard

    settings = get_settings()
    reader = RollupReader(aws_client("dynamodb"), settings.table_name)
    return compute_scorecard(reader, catalog(), period_id, targets=targets(),
                             min_sample=settings.scorecard_min_sample)


def deliver(scorecard_json: dict) -> Any:
    from .reporting import SendOnce, deliver_scorecard
    from .settings import recipients

    settings = get_settings()
    return deliver_scorecard(
        scorecard_json, brand=catalog().brand, sender=settings.sender_address, recipients=recipients(settings),
        marker=SendOnce(aws_client("dynamodb"), settings.table_name), ses=aws_client("sesv2"),
        s3=aws_client("s3") if settings.archive_bucket else None, bucket=settings.archive_bucket or None,
    )


def reset() -> None:
    from aws_lambda_powertools.utilities import parameters

    aws_client.cache_clear()
    idempotency_store.cache_clear()
    get_settings.cache_clear()
    load_catalog.cache_clear()
    parameters.clear_caches()
