"""Secrets through Powertools Parameters (Secrets Manager, cached for ``SECRETS_MAX_AGE_SECONDS``)."""

from __future__ import annotations

from typing import Any

from touchpoint.platform.settings import Settings


def _secret_json(secret_id: str, max_age: int) -> Any:
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(secret_id, transform="json", max_age=max_age)


def token_keys(settings: Settings) -> dict[str, str]:
    """{key id: key} of the survey-link keys; the last one listed signs."""
    if not settings.token_keys_secret:
        raise RuntimeError("TOKEN_KEYS_SECRET is not set: the function cannot sign or verify survey links")
    keys = _secret_json(settings.token_keys_secret, settings.secrets_max_age_seconds)
    if not isinstance(keys, dict):
        raise RuntimeError("the token key secret must be a JSON object {key id: key}")
    return keys


def webhook_secrets(settings: Settings) -> dict[str, str]:
    """{provider: secret}; a provider with no (or an empty) secret accepts nothing."""
    if not settings.webhook_secrets_secret:
        raise RuntimeError("WEBHOOK_SECRETS_SECRET is not set: webhooks cannot be verified")
    secrets = _secret_json(settings.webhook_secrets_secret, settings.secrets_max_age_seconds)
    if not isinstance(secrets, dict):
        raise RuntimeError("the webhook secret must be a JSON object {provider: secret}")
    return {str(k): str(v) for k, v in secrets.items() if isinstance(v, str)}
