"""``touchpoint demo``: the whole product in one go on embedded moto.

A seeded generator makes a realistic few weeks for a preset's catalog — customer journeys across the
touchpoints with weekday patterns, detractors with comments, support tickets on several helpdesks
with replies, reopens and handle times, support CSAT after solves and NPS that remembers how support
went — and drives it through the real entry points of the local stack: survey imports and signed
survey links, signed helpdesk webhooks (some delivered twice, as helpdesks retry), the real
aggregator on the real stream records, and the real scheduled scorecard function. It then writes
what a user would receive.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from touchpoint.catalog import Catalog, Touchpoint, load_catalog
from touchpoint.periods import bounds, last_complete_period, reporting_zone, shift, start_of_day

from .progress import Reporter, Silent

WEEKDAY_WEIGHT = [1.25, 1.15, 1.0, 1.0, 0.95, 0.6, 0.5]  # Monday .. Sunday: orders cluster early in the week
TOUCHPOINT_MOOD = {  # how a touchpoint tends to land, on top of the customer's own satisfaction
    "shipping": -0.12, "delivery": -0.12, "returns": -0.08, "checkout": 0.05, "packaging": 0.04,
    "billing": -0.05, "onboarding": -0.03, "food": 0.06, "reservation": 0.03,
}
PRAISE = ["Arrived a day early, thank you!", "Really easy, great job.", "Lovely packaging and a handwritten note.",
          "Exactly what I expected.", "Smooth from start to finish."]
COMPLAINTS = {
    "shipping": ["Parcel was three days late and tracking never updated.", "Courier left it in the rain."],
    "returns": ["The return label never came; I had to email twice.", "Refund took two weeks."],
    "checkout": ["Payment failed twice before it went through.", "Coupon code was rejected at checkout."],
    "website": ["Search never finds what I type.", "The size guide is confusing on mobile."],
    "support": ["I had to explain the problem three times.", "Nobody answered my chat for an hour."],
}
GENERIC_COMPLAINTS = ["Not what I hoped for.", "Too slow, and nobody told me why.", "Disappointed this time."]
PROVIDER_CHANNELS = {
    "zendesk": ["email", "email", "web", "phone"], "intercom": ["chat"], "helpscout": ["email"],
    "chatwoot": ["chat", "social"], "freshdesk": ["email", "phone"], "generic": ["in_person", "phone", "email"],
}


@dataclass
class Customer:
    id: str
    email: str
    satisfaction: float
    loyalty: float


@dataclass(order=True)
class Step:
    at: datetime
    order: int
    kind: str = field(compare=False)  # "import" | "ticket"
    payload: dict[str, Any] = field(compare=False)


@dataclass
class DemoResult:
    period: str
    scorecard: dict[str, Any]
    files: dict[str, Path]
    counts: dict[str, int]
    drift: int
    seconds: float


def _bounded(value: float) -> float:
    return min(1.0, max(0.0, value))


def _score(metric: str, mood: float, rng: random.Random) -> int:
    mood = _bounded(mood + rng.gauss(0, 0.12))
    if metric == "nps":
        return min(10, int(round(mood * 10 + 1)))
    if metric == "csat":
        return 1 + int(round(mood * 4))
    return 1 + int(round(mood * 6))


def _comment(touchpoint: Touchpoint, metric: str, score: int, rng: random.Random) -> str | None:
    detractor = score <= {"nps": 6, "csat": 2, "ces": 3}[metric]
    promoter = score >= {"nps": 9, "csat": 5, "ces": 6}[metric]
    if detractor and rng.random() < 0.65:
        pool = COMPLAINTS.get(touchpoint.id) or COMPLAINTS.get(touchpoint.stage) or GENERIC_COMPLAINTS
        return rng.choice(pool)
    if promoter and rng.random() < 0.25:
        return rng.choice(PRAISE)
    return None


def _moment(day: date, rng: random.Random, zone: tzinfo = UTC) -> datetime:
    """A moment of local ``day`` between 08:00 and 22:00 (opening hours of the reporting zone), in UTC."""
    return (start_of_day(day, zone) + timedelta(hours=rng.uniform(8, 22), seconds=rng.randint(0, 59))).astimezone(UTC)


class Generator:
    """Seeded: the same arguments give the same journeys."""

    def __init__(self, catalog: Catalog, customers: int, first_day: date, last_day: date, seed: int,
                 zone: tzinfo = UTC) -> None:
        self.rng = random.Random(seed)
        self.zone = zone
        self.catalog = catalog
        self.first_day, self.last_day = first_day, last_day
        self.customers = [
            Customer(f"cust-{i:05d}", f"customer{i:05d}@example.com", _bounded(self.rng.betavariate(7, 2)),
                     self.rng.random())
            for i in range(1, customers + 1)
        ]
        self.steps: list[Step] = []
        self._order = 0
        self._tickets = 0

    def _add(self, at: datetime, kind: str, payload: dict[str, Any]) -> None:
        self._order += 1
        self.steps.append(Step(at, self._order, kind, payload))

    def generate(self) -> list[Step]:
        cx = [t for t in self.catalog.touchpoints if t.family == "cx"]
        day = self.first_day
        while day <= self.last_day:
            weight = WEEKDAY_WEIGHT[day.weekday()]
            for customer in self.customers:
                # Roughly one order every two to three weeks, more for loyal customers.
                if self.rng.random() < (0.04 + 0.08 * customer.loyalty) * weight:
                    self._journey(customer, day, cx)
            day += timedelta(days=1)
        return sorted(self.steps)

    def _answer(self, customer: Customer, touchpoint: Touchpoint, at: datetime, mood: float,
                response_id: str, metric: str | None = None) -> None:
        metric = metric or touchpoint.metric
        score = _score(metric, mood, self.rng)
        self._add(at, "import", {
            "customer_id": customer.id, "touchpoint": touchpoint.id, "metric": metric, "score": score,
            "comment": _comment(touchpoint, metric, score, self.rng), "response_id": response_id,
            "submitted_at": at.isoformat().replace("+00:00", "Z"),
        })

    def _journey(self, customer: Customer, day: date, cx: list[Touchpoint]) -> None:
        ordered = _moment(day, self.rng, self.zone)
        for offset, touchpoint in enumerate(cx):
            if self.rng.random() < (0.22 if touchpoint.metric != "nps" else 0.3):
                at = ordered + timedelta(days=offset * 0.6 + self.rng.uniform(0, 1.5))
                mood = customer.satisfaction + TOUCHPOINT_MOOD.get(touchpoint.id, 0) \
                    + TOUCHPOINT_MOOD.get(touchpoint.stage, 0)
                self._answer(customer, touchpoint, at, mood, f"{customer.id}-{touchpoint.id}-{day}")
        if self.rng.random() < 0.16 + 0.2 * (1 - customer.satisfaction):
            self._ticket(customer, ordered + timedelta(days=self.rng.uniform(0.5, 4)))

    def _ticket(self, customer: Customer, opened: datetime) -> None:
        self._tickets += 1
        provider = self.rng.choice(list(PROVIDER_CHANNELS))
        channel = self.rng.choice(PROVIDER_CHANNELS[provider])
        ticket_id = f"{70000 + self._tickets}"
        tags = tuple(self.rng.sample(sorted(self.catalog.ticket_mapping.tags), 1)) \
            if self.catalog.ticket_mapping.tags and self.rng.random() < 0.3 else ()
        fast = channel in ("chat", "social", "phone", "in_person")
        replies = 1 if self.rng.random() < 0.62 else self.rng.randint(2, 4)
        reopen = self.rng.random() < 0.12
        events: list[tuple[str, datetime, int | None]] = [("created", opened, None)]
        at = opened + timedelta(minutes=self.rng.lognormvariate(math.log(6 if fast else 95), 0.8))
        for reply in range(replies):
            events.append(("agent_replied", at, self.rng.randint(90, 900)))
            if reply < replies - 1:
                at += timedelta(minutes=self.rng.lognormvariate(math.log(30), 0.9))
                events.append(("customer_replied", at, None))
                at += timedelta(minutes=self.rng.lognormvariate(math.log(20 if fast else 120), 0.8))
        solved = at + timedelta(minutes=self.rng.lognormvariate(math.log(15 if fast else 240), 0.9))
        events.append(("solved", solved, None))
        if reopen:
            reopened = solved + timedelta(hours=self.rng.uniform(5, 40))
            events += [("reopened", reopened, None),
                       ("agent_replied", reopened + timedelta(minutes=45), self.rng.randint(120, 600)),
                       ("solved", reopened + timedelta(hours=self.rng.uniform(1, 20)), None)]
        for sequence, (kind, moment, handle) in enumerate(events):
            self._add(moment, "ticket", {
                "provider": provider, "ticket_id": ticket_id, "kind": kind, "occurred_at": moment,
                "customer": customer, "channel": channel, "handle_seconds": handle, "tags": tags,
                "sequence": sequence,
            })
        last_solve = events[-1][1]
        fcr = replies <= 1 and not reopen
        support = self.catalog.get(self.catalog.touchpoint_for_ticket(tags)) or self.catalog.get(
            self.catalog.ticket_mapping.default)
        mood = customer.satisfaction + (0.15 if fcr else -0.25)
        if support is not None and self.rng.random() < 0.55:
            self._answer(customer, support, last_solve + timedelta(hours=self.rng.uniform(0.5, 20)), mood,
                         f"support-csat-{provider}-{ticket_id}", metric="csat")
        relationship = next((t for t in self.catalog.touchpoints if t.metric == "nps"), None)
        if relationship is not None and self.rng.random() < 0.45:
            # How support went shows in the next NPS: the service -> experience link.
            self._answer(customer, relationship, last_solve + timedelta(days=self.rng.uniform(1, 12)),
                         customer.satisfaction + (0.1 if fcr else -0.3),
                         f"nps-after-{provider}-{ticket_id}")


def _ticket_delivery(step: dict[str, Any], secret: str, now: datetime) -> tuple[str, dict[str, str], bytes]:
    """A signed delivery in the provider's own payload format."""
    from .payloads import TicketAction, delivery

    customer: Customer = step["customer"]
    action = TicketAction(
        provider=step["provider"], ticket_id=step["ticket_id"], kind=step["kind"], occurred_at=step["occurred_at"],
        customer_email=customer.email, customer_external_id=customer.id, channel=step["channel"],
        handle_seconds=step["handle_seconds"], tags=step["tags"], sequence=step["sequence"],
    )
    headers, body = delivery(action, secret, now)
    return step["provider"], headers, body


def run_demo(out: Path, preset: str = "ecommerce", customers: int = 200, weeks: int = 4, seed: int = 7,
             report: Reporter | None = None, brand: str | None = None, timezone: str = "UTC",
             dynamodb: str = "moto") -> DemoResult:
    from touchpoint.rollups.rebuild import rebuild
    from touchpoint.rollups.store import RollupStore

    from .stack import LocalStack

    report = report or Silent()
    started = time.perf_counter()
    zone = reporting_zone(timezone)
    now = datetime.now(UTC)
    period = last_complete_period("week", now, zone)
    first_day = bounds(shift(period, -(weeks - 1)))[0]
    catalog = load_catalog(preset)
    steps = Generator(catalog, customers, first_day, bounds(period)[1], seed, zone).generate()
    steps = [s for s in steps if s.at <= now - timedelta(minutes=1)]
    report.say(f"Touchpoint demo · preset {preset} · {customers} customers · {weeks} weeks to {period} ({timezone}) "
               f"· seed {seed}")
    # The template's BrandName and ReportingTimezone, as on AWS.
    parameters = {"ReportingTimezone": timezone, **({"BrandName": brand} if brand else {})}
    # Embedded moto for everything, or DynamoDB Local for DynamoDB (the rest stays embedded).
    stack = LocalStack(port=0, preset=preset, parameters=parameters, pool_size=1, pump_interval=0,
                       embedded=True, dynamodb=dynamodb)
    try:
        report.phase(f"starting the local stack ({dynamodb})")
        stack.start()
        counts = _drive(stack, steps, now, random.Random(seed), report)
        report.phase("running the scheduled scorecard function")
        result = stack.run_schedule({"period": period})
        counts["stream_records"] = sum(p.delivered for p in stack.pumps)
        report.phase("recounting every rollup from the raw records (rebuild)")
        recount = rebuild(RollupStore(_dynamodb(stack), stack.resources["FeedbackTable"]), zone=zone)
        report.phase("writing the files")
        files = _write_files(stack, out, period, result)
        report.done()
    finally:
        stack.stop()
    scorecard = {k: v for k, v in result.items() if k != "delivery"}
    counts["email_" + result["delivery"]["status"]] = 1
    return DemoResult(period, scorecard, files, counts, len(recount.drift), time.perf_counter() - started)


def _dynamodb(stack: Any) -> Any:
    import boto3

    return boto3.session.Session(region_name="us-east-1").client("dynamodb")


def _call(stack: Any, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    """One request through the stack's gateway (the same code path as HTTP, minus the socket)."""
    status, _headers, raw = stack.gateway.handle(method, path, {k.lower(): v for k, v in headers.items()}, body,
                                                 "127.0.0.1", "127.0.0.1")
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def _drive(stack: Any, steps: list[Step], now: datetime, rng: random.Random, report: Reporter) -> dict:
    admin = {"x-api-key": stack.secrets["admin_api_key"], "content-type": "application/json"}
    counts = {"responses_imported": 0, "webhook_deliveries": 0, "webhook_retries": 0, "link_answers": 0}
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        if pending:
            status, body = _call(stack, "POST", "/v1/responses", json.dumps(pending).encode(), admin)
            if status not in (200, 201):
                raise RuntimeError(f"import refused: {status} {body}")
            counts["responses_imported"] += body["created"]
            pending.clear()

    report.phase("sending survey imports and helpdesk webhooks, aggregating as they land", total=len(steps))
    for index, step in enumerate(steps):
        report.advance()
        if step.kind == "import":
            pending.append({k: v for k, v in step.payload.items() if v is not None})
            if len(pending) == 100:
                flush()
            continue
        flush()  # keep time order: a response links to the tickets known when it is recorded
        secret = stack.secrets["webhook_secrets"][step.payload["provider"]]
        # Signed when sent, as a helpdesk does (the signature window is five minutes).
        provider, headers, body = _ticket_delivery(step.payload, secret, datetime.now(UTC))
        for attempt in range(2 if rng.random() < 0.06 else 1):  # helpdesks retry now and then
            status, reply = _call(stack, "POST", f"/webhooks/{provider}", body, headers)
            if status not in (200, 202):
                raise RuntimeError(f"{provider} webhook refused: {status} {reply}")
            counts["webhook_deliveries"] += 1
            counts["webhook_retries"] += attempt
        if index % 400 == 0:
            stack.drain()
    flush()
    report.phase("draining the stream through the aggregator")
    stack.drain()
    report.phase("customers answering support CSAT links")
    counts["link_answers"] = _answer_recent_support_links(stack, rng)
    stack.drain()
    report.done()
    report.say(f"  {counts['responses_imported']} survey responses imported, {counts['webhook_deliveries']} webhook "
               f"deliveries ({counts['webhook_retries']} retries), {counts['link_answers']} survey links answered")
    return counts


def _answer_recent_support_links(stack: Any, rng: random.Random) -> int:
    """Customers answer some of the support CSAT links that TicketSolved carried (recorded now); a
    solve whose customer had a survey in the last 14 days carries no link (the contact policy)."""
    answered = 0
    for event in stack.published_events():
        if event.get("detail-type") != "TicketSolved" or rng.random() > 0.08:
            continue
        if not event["detail"].get("survey"):
            continue  # the contact policy held this customer back: no link went out
        path = urlsplit(event["detail"]["survey"]["url"]).path
        status, _ = _call(stack, "GET", path, b"", {})  # the page first, as a browser would
        score = 5 if event["detail"].get("fcr") else rng.randint(1, 4)
        # Answered as JSON, like a mailer's embedded widget: a form posted within seconds of its page
        # would rightly be set aside as a suspected bot.
        status, _ = _call(stack, "POST", path, json.dumps({"score": score}).encode(),
                          {"content-type": "application/json"})
        answered += status == 201
    return answered


def _write_files(stack: Any, out: Path, period: str, result: dict[str, Any]) -> dict[str, Path]:
    import boto3

    out.mkdir(parents=True, exist_ok=True)
    s3 = boto3.session.Session(region_name="us-east-1").client("s3")
    bucket = stack.resources["ArchiveBucket"]
    files = {
        "json": out / "scorecard.json", "html": out / "scorecard.html",
        "eml": out / "scorecard.eml", "csv": out / "scorecard.csv",
    }
    # The archived copies and the message SES received are what a user gets; write those, not re-renders.
    files["json"].write_bytes(s3.get_object(Bucket=bucket, Key=f"scorecards/{period}.json")["Body"].read())
    files["html"].write_bytes(s3.get_object(Bucket=bucket, Key=f"scorecards/{period}.html")["Body"].read())
    sent = [m for m in stack.outbox() if period in (m.get("subject") or "")]
    if not sent:
        raise RuntimeError(f"no scorecard email for {period} reached SES: {result.get('delivery')}")
    raw = sent[-1]["raw"].encode("utf-8")
    files["eml"].write_bytes(raw)
    message = message_from_bytes(raw, policy=policy.default)
    attachment = next(part for part in message.iter_attachments() if part.get_content_type() == "text/csv")
    files["csv"].write_bytes(attachment.get_payload(decode=True))
    return files


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit == "s":
        seconds = float(value)
        return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"
    return f"{value:.1f}{unit}"


def summary_lines(result: DemoResult) -> list[str]:
    card = result.scorecard
    cx, cs, s2e = card["cx"], card["cs"], card["service_to_experience"]
    before = card.get("previous") or {}
    prev_cx, prev_cs = before.get("cx") or {}, before.get("cs") or {}

    def prev(block: dict, key: str, field_name: str = "value", unit: str = "") -> str:
        return _fmt((block.get(key) or {}).get(field_name), unit)

    rows = [
        ("CX", "NPS", f"{_fmt(cx['nps']['value'])} ±{_fmt(cx['nps']['moe95'])}", cx["nps"]["n"], prev(prev_cx, "nps")),
        ("CX", "CSAT %", _fmt(cx["csat"]["value"]), cx["csat"]["n"], prev(prev_cx, "csat")),
        ("CX", "CES (1-7)", _fmt(cx["ces"]["value"]), cx["ces"]["n"], prev(prev_cx, "ces")),
        ("CS", "FCR %", _fmt(cs["fcr"]["value"]), cs["fcr"]["n"], prev(prev_cs, "fcr")),
        ("CS", "AHT", _fmt(cs["aht_seconds"]["value"], "s"), cs["aht_seconds"]["n"], prev(prev_cs, "aht_seconds",
                                                                                          unit="s")),
        ("CS", "FRT median", _fmt(cs["frt_seconds"]["median"], "s"), cs["frt_seconds"]["n"],
         prev(prev_cs, "frt_seconds", "median", "s")),
        ("CS", "Resolution median", _fmt(cs["resolution_seconds"]["median"], "s"), cs["resolution_seconds"]["n"],
         prev(prev_cs, "resolution_seconds", "median", "s")),
        ("CS", "Reopen rate %", _fmt(cs["reopen_rate"]["value"]), cs["reopen_rate"]["n"], prev(prev_cs, "reopen_rate")),
        ("CS", "Support CSAT %", _fmt(cs["support_csat"]["value"]), cs["support_csat"]["n"],
         prev(prev_cs, "support_csat")),
        ("CS", "Retention %", _fmt(cs["retention"]["value"]), cs["retention"]["base"], prev(prev_cs, "retention")),
        ("CS→CX", "NPS after FCR", _fmt(s2e["nps_after_fcr"]["value"]), s2e["nps_after_fcr"]["n"], ""),
        ("CS→CX", "NPS after non-FCR", _fmt(s2e["nps_after_non_fcr"]["value"]), s2e["nps_after_non_fcr"]["n"], ""),
    ]
    lines = [f"Scorecard {result.period} ({card['period']['start']} – {card['period']['end']}, "
             f"{card['period'].get('timezone', 'UTC')})",
             f"  {'':6} {'metric':<18} {'value':>14} {'n':>6} {'previous':>10}"]
    lines += [f"  {a:6} {b:<18} {c:>14} {d:>6} {e:>10}" for a, b, c, d, e in rows]
    counts = result.counts
    lines.append(f"Pipeline: {counts['stream_records']} stream records aggregated, rebuild drift {result.drift}, "
                 f"email {'sent' if counts.get('email_sent') else 'not sent'}")
    lines.append("Files: " + ", ".join(str(p) for p in result.files.values()))
    lines.append(f"Done in {result.seconds:.1f} s")
    return lines
