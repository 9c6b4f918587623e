"""Scorecard delivery: the email rendered once, archived to S3 as JSON and HTML, and sent through SES
exactly once per period and recipient list (the marker lives in ``scorecards.store``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


class SendMarker(Protocol):
    def claim(self, period_id: str, recipients: Sequence[str]) -> str | None: ...

    def confirm(self, period_id: str, recipients: Sequence[str], message_id: str) -> None: ...

    def release(self, period_id: str, recipients: Sequence[str]) -> None: ...


def recipients_key(recipients: Sequence[str]) -> str:
    normalized = sorted({r.strip().lower() for r in recipients if r.strip()})
    return hashlib.sha256(json.dumps(normalized).encode()).hexdigest()[:24]


@dataclass
class Delivery:
    status: str  # "sent" | "already_sent" | "in_progress"
    message_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "message_id": self.message_id}


def deliver_scorecard(scorecard: dict[str, Any], *, brand: str, sender: str, recipients: Sequence[str],
                      marker: SendMarker, ses: Any, s3: Any | None, bucket: str | None) -> Delivery:
    from touchpoint.scorecards.email import render_email, render_html

    period_id = scorecard["period"]["id"]
    message = render_email(scorecard, brand=brand, sender=sender, recipients=list(recipients))
    if s3 is not None and bucket:
        # Archived on every run (idempotent overwrite): the latest numbers are kept even when no mail goes.
        s3.put_object(Bucket=bucket, Key=f"scorecards/{period_id}.json", ContentType="application/json",
                      Body=json.dumps(scorecard, indent=2).encode("utf-8"))
        s3.put_object(Bucket=bucket, Key=f"scorecards/{period_id}.html", ContentType="text/html; charset=utf-8",
                      Body=render_html(scorecard, brand).encode("utf-8"))
    refusal = marker.claim(period_id, recipients)
    if refusal:
        return Delivery(refusal)
    try:
        sent = ses.send_email(FromEmailAddress=sender, Destination={"ToAddresses": list(recipients)},
                              Content={"Raw": {"Data": message.as_bytes()}})
    except Exception:
        marker.release(period_id, recipients)
        raise
    marker.confirm(period_id, recipients, sent["MessageId"])
    return Delivery("sent", sent["MessageId"])
