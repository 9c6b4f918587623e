"""Pseudonyms of customers: a keyed hash (HMAC-SHA256 with the PseudonymKeySecret) of the customer id,
for what must outlive an erasure without keeping the id: the suppression list. Without the key, no
one holding the table can tell whose pseudonym it is, or test a guessed email address against it."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from typing import Protocol

PSEUDONYM_HEX_CHARACTERS = 40  # 160 bits


class Pseudonyms:
    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the pseudonym key must be at least 16 bytes")
        self._key = key

    def of(self, customer_id: str) -> str:
        digest = hmac.new(self._key, customer_id.encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:PSEUDONYM_HEX_CHARACTERS]


class SuppressionCheck(Protocol):
    """Which customers were erased and must not come back (customers.store.SuppressionStore)."""

    def is_suppressed(self, customer_id: str) -> bool: ...

    def suppressed_among(self, customer_ids: Iterable[str]) -> set[str]: ...


class NoSuppressions:
    """For code paths and tests with no suppression list."""

    def is_suppressed(self, customer_id: str) -> bool:
        return False

    def suppressed_among(self, customer_ids: Iterable[str]) -> set[str]:
        return set()
