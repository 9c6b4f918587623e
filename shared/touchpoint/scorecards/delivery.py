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


class ScorecardArchive:
    """The archived scorecards (``scorecards/<period>.json|html`` in a versioned bucket), as erasure
    needs them: a customer's detractor comments taken out of every period that shows them, and every
    older version of those objects deleted (the bucket's lifecycle rule would take 7 days)."""

    def __init__(self, s3: Any, bucket: str, brand: str) -> None:
        self._s3, self._bucket, self._brand = s3, bucket, brand

    def remove_comments(self, period_id: str, comments: set[tuple[int, str]]) -> bool:
        """Rewrite the period's archive without the comments given as (score, submitted_at); True when
        the archive showed one of them."""
        from touchpoint.scorecards.email import render_html

        json_key = f"scorecards/{period_id}.json"
        try:
            card = json.loads(self._s3.get_object(Bucket=self._bucket, Key=json_key)["Body"].read())
        except self._s3.exceptions.NoSuchKey:
            return False
        shown = card.get("detractor_comments") or []
        kept = [c for c in shown if (c.get("score"), c.get("submitted_at")) not in comments]
        if len(kept) == len(shown):
            return False
        card["detractor_comments"] = kept
        self._s3.put_object(Bucket=self._bucket, Key=json_key, ContentType="application/json",
                            Body=json.dumps(card, indent=2).encode("utf-8"))
        self._s3.put_object(Bucket=self._bucket, Key=f"scorecards/{period_id}.html",
                            ContentType="text/html; charset=utf-8",
                            Body=render_html(card, self._brand).encode("utf-8"))
        for key in (json_key, f"scorecards/{period_id}.html"):
            self._delete_older_versions(key)
        return True

    def _delete_older_versions(self, key: str) -> None:
        listing = self._s3.list_object_versions(Bucket=self._bucket, Prefix=key)
        old = [{"Key": v["Key"], "VersionId": v["VersionId"]}
               for v in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]
               if v["Key"] == key and not v.get("IsLatest")]
        if old:
            self._s3.delete_objects(Bucket=self._bucket, Delete={"Objects": old, "Quiet": True})


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
