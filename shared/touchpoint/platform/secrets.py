"""Secrets through Powertools Parameters (Secrets Manager, cached for ``SECRETS_MAX_AGE_SECONDS``)."""

from __future__ import annotations

from typing import Any

from touchpoint.platform.settings import Settings


def _json_object(secret_id: str | None, variable: str, what: str, settings: Settings) -> dict[str, Any]:
    """The secret named by ``variable`` as a JSON object (Powertools caches it for its max age)."""
    from aws_lambda_powertools.utilities import parameters

    if not secret_id:
        raise RuntimeError(f"{variable} is not set: the function has no {what}")
    value = parameters.get_secret(secret_id, transform="json", max_age=settings.secrets_max_age_seconds)
    if not isinstance(value, dict):
        raise RuntimeError(f"the secret of {variable} must be a JSON object of {what}")
    return value


def token_keys(settings: Settings) -> dict[str, str]:
    """{key id: key} of the survey-link keys; the last one listed signs."""
    return _json_object(settings.token_keys_secret, "TOKEN_KEYS_SECRET", "survey link keys {key id: key}", settings)


def webhook_secrets(settings: Settings) -> dict[str, str]:
    """{provider: secret}; a provider with no (or an empty) secret accepts nothing."""
    secrets = _json_object(settings.webhook_secrets_secret, "WEBHOOK_SECRETS_SECRET",
                           "webhook secrets {provider: secret}", settings)
    return {str(k): str(v) for k, v in secrets.items() if isinstance(v, str)}


def pseudonym_key(settings: Settings) -> bytes:
    """The key of the keyed hash that names erased customers (touchpoint.platform.pseudonyms)."""
    secret = _json_object(settings.pseudonym_key_secret, "PSEUDONYM_KEY_SECRET", "the pseudonym key {key: ...}",
                          settings)
    key = secret.get("key")
    if not isinstance(key, str) or len(key) < 16:
        raise RuntimeError("the secret of PSEUDONYM_KEY_SECRET needs a \"key\" of at least 16 characters")
    return key.encode("utf-8")
