"""Issue 6, item 1: a bounded load on loopback against a local stack of its own.

16 client threads send N mixed requests (``TOUCHPOINT_LOAD_REQUESTS``, default 1500): survey link
answers with resubmissions, survey page views, imports with resent batches, and helpdesk webhooks of
all six providers (``touchpoint_local.payloads.delivery``) with ~20 % duplicate deliveries, every
request in shuffled order. A resubmission or a duplicate is sent only once its original has been
answered (a customer resubmits after the thank-you page, a helpdesk retries after a response or a
timeout); everything else runs concurrently, a ticket's events included.

Then the stream is drained twice, the scheduled scorecard is run, and: no 5xx; every accepted item
is in the table exactly once; each ticket's state is the SPEC §5 fold of what was sent; the
scorecard equals an independent recount of the raw records; `touchpoint rebuild` finds drift 0.
A one-line JSON with the figures is printed for the README "Reliability" table.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from reliability_support import (
    iso_week,
    parse_instant,
    percentile,
    scheduled_scorecard,
)
from touchpoint.catalog import load_catalog
from touchpoint.surveys.intake import mint_link
from touchpoint.surveys.models import LinkRequest
from touchpoint.surveys.tokens import KeyRing
from touchpoint_local.payloads import SUPPORTED, TicketAction, delivery, expected_event, stored_ticket_id
from touchpoint_local.testing import Reply, RunningStack, local_secrets, running_stack

pytestmark = pytest.mark.e2e

LOAD_REQUESTS = int(os.environ.get("TOUCHPOINT_LOAD_REQUESTS", "1500"))
THREADS = 16
DUPLICATE_SHARE = 0.2
SEED = int(os.environ.get("TOUCHPOINT_LOAD_SEED", "6"))
LOAD_DEADLINE_SECONDS = max(600.0, LOAD_REQUESTS * 0.5)  # a stuck run fails instead of hanging CI
SLOW_CALL_SECONDS = max(300.0, LOAD_REQUESTS * 0.2)  # draining the aggregator's backlog, the scorecard run
CATALOG = load_catalog("ecommerce")
SECRETS = local_secrets()
CS_TOUCHPOINTS = {t.id for t in CATALOG.touchpoints if t.family == "cs"}
PROVIDERS = ("zendesk", "intercom", "helpscout", "chatwoot", "freshdesk", "generic")
CHANNELS = ("phone", "email", "chat", "social", "in_person", "web", "other")
HOSTILE = '=HYPERLINK("http://evil") <script>alert(1)</script>'


# The plan ------------------------------------------------------------------------------------------
@dataclass
class Call:
    kind: str                       # answer | view | import | webhook
    key: str                        # survey id, batch id or action id
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    action: TicketAction | None = None
    after: Call | None = None       # an original that must have been answered first
    done: threading.Event = field(default_factory=threading.Event)
    reply: Reply | None = None
    error: str | None = None


@dataclass
class Ticket:
    provider: str
    ticket_id: str
    actions: list[TicketAction]


@dataclass
class Plan:
    calls: list[Call]
    tokens: dict[str, dict[str, Any]]        # survey id -> {token, customer, touchpoint, metric, answered}
    imports: dict[str, dict[str, Any]]       # response id -> the imported item
    tickets: list[Ticket]
    resent_imports: int = 0
    duplicate_webhooks: int = 0
    resubmissions: int = 0

    @property
    def duplicates(self) -> int:
        return self.resent_imports + self.duplicate_webhooks


def _customer(index: int) -> tuple[str, str]:
    # The shop's id, and an email with capitals (adapters lowercase it).
    return f"lc-{index:04d}", f"Load.Customer{index:04d}@Example.com"


def _ticket(rng: random.Random, number: int, customers: int, start: datetime, end: datetime) -> Ticket:
    provider = PROVIDERS[number % len(PROVIDERS)]
    external, email = _customer(rng.randrange(customers))
    with_external = provider != "helpscout" and rng.random() < 0.8
    channel = rng.choice(CHANNELS)
    tags = rng.choice([(), (), ("returns",), ("vip",), ("refund", "vip")])
    carries = provider in ("generic", "freshdesk") or (provider == "zendesk" and with_external)
    kinds: list[tuple[str, int]] = [("created", 0)]
    gaps = [0]
    kinds.append(("agent_replied", 0))
    gaps.append(rng.randint(60, 4 * 3600))
    if rng.random() < 0.3:
        kinds.append(("customer_replied", 0))
        gaps.append(rng.randint(120, 3600))
    if rng.random() < 0.3:
        kinds.append(("agent_replied", 1))
        gaps.append(rng.randint(120, 7200))
    roll = rng.random()
    can_close = "closed" in SUPPORTED[provider]
    if roll < 0.8:
        kinds.append(("solved", 0))
        gaps.append(rng.randint(300, 20 * 3600))
        if rng.random() < 0.25:
            kinds += [("reopened", 0), ("solved", 1)]
            gaps += [rng.randint(600, 24 * 3600), rng.randint(600, 8 * 3600)]
        if can_close and rng.random() < 0.3:
            kinds.append(("closed", 0))
            gaps.append(rng.randint(3600, 24 * 3600))
    elif roll < 0.85 and can_close:
        kinds.append(("closed", 0))  # closed without a solve: the close counts as the solve
        gaps.append(rng.randint(600, 24 * 3600))
    span = sum(gaps)
    latest_start = end - timedelta(seconds=span + 60)
    created = start + timedelta(seconds=rng.randint(0, max(0, int((latest_start - start).total_seconds()))))
    created = min(created, latest_start)
    ticket_id = str(700000 + number)
    actions, when = [], created
    for (kind, sequence), gap in zip(kinds, gaps, strict=True):
        when = when + timedelta(seconds=gap)
        actions.append(TicketAction(
            provider=provider, ticket_id=ticket_id, kind=kind, occurred_at=when, customer_email=email,
            customer_external_id=external if with_external else None, channel=channel,
            handle_seconds=rng.randint(30, 900) if kind == "agent_replied" and carries else None,
            tags=tags, sequence=sequence))
    return Ticket(provider, ticket_id, actions)


def build_plan(total: int, base_url: str, now: datetime, seed: int = SEED) -> Plan:
    rng = random.Random(seed)
    ring = KeyRing(SECRETS["token_keys"])
    start = now - timedelta(days=9)   # the reported week, the one before, and sometimes the one before that
    end = now - timedelta(minutes=2)
    customers = max(30, total // 12)
    calls: list[Call] = []
    plan = Plan(calls, {}, {}, [])

    def stamp(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def moment() -> datetime:
        return start + timedelta(seconds=rng.randint(0, int((end - start).total_seconds())))

    # Survey links (35 % answers, a quarter of them resubmissions; 5 % page views).
    answers = int(total * 0.35)
    views = int(total * 0.05)
    distinct_tokens = max(1, int(answers * 0.75))
    link_touchpoints = [t for t in CATALOG.touchpoints]
    view_only = max(1, views // 2)
    for index in range(distinct_tokens + view_only):
        customer, _ = _customer(rng.randrange(customers))
        touchpoint = rng.choice(link_touchpoints)
        link = mint_link(LinkRequest(customer_id=customer, touchpoint=touchpoint.id, order_id=f"LO-{index}"),
                         CATALOG, ring, base_url, now)
        plan.tokens[link.survey_id] = {"token": link.token, "customer": customer, "touchpoint": touchpoint.id,
                                          "metric": link.metric, "answered": index < distinct_tokens}
    answered = [sid for sid, t in plan.tokens.items() if t["answered"]]
    unanswered = [sid for sid, t in plan.tokens.items() if not t["answered"]]
    firsts: dict[str, Call] = {}

    def answer_call(survey_id: str) -> Call:
        token = plan.tokens[survey_id]
        low, high = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[token["metric"]]
        body: dict[str, Any] = {"score": rng.randint(low, high)}
        if rng.random() < 0.3:
            body["comment"] = rng.choice(["Arrived a day early", "Too slow", HOSTILE, "ok\nthanks"])
        return Call("answer", survey_id, "POST", f"/s/{token['token']}", json.dumps(body).encode(),
                    {"content-type": "application/json"})

    for survey_id in answered:
        firsts[survey_id] = answer_call(survey_id)
        calls.append(firsts[survey_id])
    for _ in range(answers - len(answered)):
        survey_id = rng.choice(answered)
        again = answer_call(survey_id)
        again.after = firsts[survey_id]
        calls.append(again)
        plan.resubmissions += 1
    for index in range(views):
        survey_id = unanswered[index % len(unanswered)] if index % 2 == 0 else rng.choice(answered)
        query = f"?score={rng.randint(0, 10)}" if rng.random() < 0.5 else ""
        calls.append(Call("view", survey_id, "GET", f"/s/{plan.tokens[survey_id]['token']}{query}"))

    # Imports (20 % of the requests; a fifth of them resend an earlier batch).
    import_requests = int(total * 0.20)
    batches = max(1, int(import_requests / (1 + DUPLICATE_SHARE)))
    batch_calls: list[Call] = []
    for batch in range(batches):
        items = []
        for _ in range(rng.randint(1, 4)):
            response_id = f"load-import-{len(plan.imports):05d}"
            customer, _ = _customer(rng.randrange(customers))
            touchpoint = rng.choice(link_touchpoints)
            metric = touchpoint.metric if rng.random() < 0.8 else rng.choice(["nps", "csat", "ces"])
            low, high = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}[metric]
            item = {"customer_id": customer, "touchpoint": touchpoint.id, "metric": metric,
                    "score": rng.randint(low, high), "submitted_at": stamp(moment()), "response_id": response_id}
            if item["score"] <= low + 2 and rng.random() < 0.5:
                item["comment"] = rng.choice([HOSTILE, "Never again", "@SUM(1+1)*cmd|' /C calc'!A0"])
            plan.imports[response_id] = item
            items.append(item)
        call = Call("import", f"batch-{batch}", "POST", "/v1/responses", json.dumps(items).encode(),
                    {"content-type": "application/json", "x-api-key": SECRETS["admin_api_key"]})
        batch_calls.append(call)
        calls.append(call)
    for _ in range(import_requests - batches):
        original = rng.choice(batch_calls)
        calls.append(Call("import", original.key, "POST", "/v1/responses", original.body, dict(original.headers),
                          after=original))
        plan.resent_imports += 1

    # Webhooks (the rest; ~20 % duplicate deliveries).
    webhook_requests = total - len(calls)
    distinct_deliveries = int(webhook_requests / (1 + DUPLICATE_SHARE))
    deliveries: list[Call] = []
    number = 0
    while len(deliveries) < distinct_deliveries:
        ticket = _ticket(rng, number, customers, start, end)
        number += 1
        plan.tickets.append(ticket)
        for action in ticket.actions:
            deliveries.append(Call("webhook", f"{action.provider}:{action.ticket_id}:{action.kind}:{action.sequence}",
                                   "POST", f"/webhooks/{action.provider}", action=action))
    calls.extend(deliveries)
    for _ in range(max(0, webhook_requests - len(deliveries))):
        original = rng.choice(deliveries)
        calls.append(Call("webhook", original.key, "POST", original.path, action=original.action, after=original))
        plan.duplicate_webhooks += 1

    rng.shuffle(calls)
    _originals_first(calls)
    return plan


def _originals_first(calls: list[Call]) -> None:
    """In each group (an original and the calls that wait for it) put the original at the group's
    earliest position, so a worker never waits for a call that is not already running (no deadlock)."""
    groups: dict[int, list[int]] = defaultdict(list)
    for position, call in enumerate(calls):
        groups[id(call.after or call)].append(position)
    for positions in groups.values():
        if len(positions) < 2:
            continue
        members = [calls[p] for p in positions]
        original = next(c for c in members if c.after is None)
        dependents = [c for c in members if c is not original]
        for position, call in zip(positions, [original, *dependents], strict=True):
            calls[position] = call


# Sending --------------------------------------------------------------------------------------------
def send(stack: RunningStack, call: Call) -> None:
    try:
        if call.after is not None and not call.after.done.wait(timeout=120):
            call.error = "its original never completed"
            return
        body, headers = call.body, call.headers
        if call.action is not None:
            secret = SECRETS["webhook_secrets"][call.action.provider]
            headers, body = delivery(call.action, secret, datetime.now(UTC))  # signed when sent
        call.reply = stack.http.request(call.method, call.path, body, headers)
    except Exception as exc:  # a transport failure is a finding too: recorded, asserted on below
        call.error = f"{type(exc).__name__}: {exc}"
    finally:
        call.done.set()


# Expected ticket states, from SPEC §5 and what was sent ---------------------------------------------
def expected_state(ticket: Ticket) -> dict[str, Any]:
    events = [(action, expected_event(action)) for action in ticket.actions]
    first = events[0][1]
    times = {kind: [e["occurred_at"] for a, e in events if a.kind == kind] for kind in
             ("created", "agent_replied", "solved", "reopened", "closed")}
    changes = sorted((e["occurred_at"], a.kind) for a, e in events if a.kind in ("solved", "reopened", "closed"))
    status = {"solved": "solved", "closed": "closed", "reopened": "open"}[changes[-1][1]] if changes else "open"
    solved_at = max(times["solved"]) if times["solved"] else (max(times["closed"]) if times["closed"] else None)
    handles = [e["handle_seconds"] for _, e in events if e["handle_seconds"] is not None]
    solved = status in ("solved", "closed")
    # A reopen counts when it finds the ticket solved or closed (one reopen reported twice counts once).
    reopens, standing = 0, "open"
    for _moment, kind in changes:
        reopens += kind == "reopened" and standing != "open"
        standing = {"solved": "solved", "closed": "closed", "reopened": "open"}[kind]
    known = [e["channel"] for _, e in events if e["channel"] != "other"]
    tags = set(ticket.actions[0].tags)
    return {
        "provider": ticket.provider, "ticket_id": first["ticket_id"], "customer_id": first["customer_id"],
        "channel": known[0] if known else "other",
        "touchpoint": "support_returns" if tags & {"returns", "refund"} else "support",
        "status": status, "created_at": min(times["created"]),
        "first_agent_reply_at": min(times["agent_replied"]) if times["agent_replied"] else None,
        "solved_at": solved_at, "agent_replies": len(times["agent_replied"]), "reopens": reopens,
        "handle_seconds": sum(handles) if handles else None,
        "fcr": (len(times["agent_replied"]) <= 1 and not reopens) if solved else None,
    }


TIME_FIELDS = ("created_at", "first_agent_reply_at", "solved_at")


def _stored(state: dict[str, Any], name: str) -> Any:
    value = state.get(name)
    return parse_instant(value) if name in TIME_FIELDS and value else value


# The test -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stack(dynamodb_backend: str):
    with running_stack(dynamodb=dynamodb_backend) as running:
        yield running


def test_a_bounded_concurrent_load_loses_and_doubles_nothing(stack: RunningStack, dynamodb_backend: str,
                                                             capsys: pytest.CaptureFixture) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    period = iso_week(now.date())
    # Given a shuffled plan of N mixed requests over 16 threads
    plan = build_plan(LOAD_REQUESTS, stack.base, now)
    assert len(plan.calls) == LOAD_REQUESTS
    # When it is sent
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="load") as pool:
        futures = [pool.submit(send, stack, call) for call in plan.calls]
        finished, pending = wait(futures, timeout=LOAD_DEADLINE_SECONDS)
        for future in pending:
            future.cancel()
    seconds = time.perf_counter() - started
    assert not pending, f"{len(pending)} requests did not finish within {LOAD_DEADLINE_SECONDS:.0f} s"
    # Then every request got an answer, none of them a 5xx, each of the kind expected
    failed = [(c.kind, c.key, c.error) for c in plan.calls if c.error]
    assert not failed, failed[:10]
    server_errors = [(c.kind, c.reply.status, c.reply.text[:200]) for c in plan.calls if c.reply.status >= 500]
    allowed = {"answer": {200, 201}, "view": {200}, "import": {200, 201}, "webhook": {200, 202}}
    unexpected = [(c.kind, c.key, c.reply.status, c.reply.text[:200]) for c in plan.calls
                  if c.reply.status not in allowed[c.kind]]
    assert not server_errors, server_errors[:10]
    # (a refusal naming fields of ANOTHER request's body is the local stack's shared Powertools event:
    # see test_local_stack_isolation.py)
    assert not unexpected, unexpected[:10]

    # When the stream is drained twice
    # (the aggregator catches up with its backlog here: minutes for a big load, hence the long timeout)
    drain_started = time.perf_counter()
    first_drain = stack.request("POST", "/_local/drain", timeout=SLOW_CALL_SECONDS)
    drain_seconds = time.perf_counter() - drain_started
    second_drain = stack.request("POST", "/_local/drain", timeout=SLOW_CALL_SECONDS)
    assert first_drain.status == 200 and second_drain.json() == {"records": 0}
    # Then no stream batch was parked as failed
    streams = stack.request("GET", "/_local/info").json()["streams"]
    assert all(s["parked_batches"] == 0 for s in streams), streams

    items = stack.items()
    responses = [i for i in items if i.get("type") == "response"]
    by_survey = Counter(r["survey_id"] for r in responses)
    assert all(count == 1 for count in by_survey.values())  # one item per survey id (the key guarantees it)

    # And every answered link is in the table once, with an answer that was sent, the first 201 and
    # the rest 200, and as many submissions counted as were accepted
    answer_calls = defaultdict(list)
    for call in plan.calls:
        if call.kind == "answer":
            answer_calls[call.key].append(call)
    stored = {r["survey_id"]: r for r in responses}
    problems = []
    for survey_id, calls in answer_calls.items():
        record = stored.get(survey_id)
        sent_scores = {json.loads(c.body)["score"] for c in calls}
        created = sum(1 for c in calls if c.reply.status == 201)
        if record is None:
            problems.append(f"answered survey {survey_id} missing")
            continue
        if record["score"] not in sent_scores or record["source"] != "link" or created != 1 \
                or int(record["submissions"]) != len(calls):
            problems.append(f"{survey_id}: score {record['score']} of {sent_scores}, {created} x 201, "
                            f"submissions {record['submissions']} of {len(calls)}")
    # And a link that was only viewed wrote nothing
    viewed_only = [sid for sid, t in plan.tokens.items() if not t["answered"] and sid in stored]
    assert not viewed_only, viewed_only
    # And every imported response is there once, as sent, reported created exactly once
    by_response_id = defaultdict(list)
    for record in responses:
        if record.get("response_id"):
            by_response_id[record["response_id"]].append(record)
    created_reports = Counter()
    for call in plan.calls:
        if call.kind == "import":
            for result in call.reply.json()["results"]:
                created_reports[result["response_id"]] += result["status"] == "created"
    for response_id, item in plan.imports.items():
        found = by_response_id.get(response_id, [])
        if len(found) != 1:
            problems.append(f"import {response_id}: {len(found)} records")
            continue
        record = found[0]
        if (record["score"], record["customer_id"], record["touchpoint"], record["metric"]) != (
                item["score"], item["customer_id"], item["touchpoint"], item["metric"]) \
                or parse_instant(record["submitted_at"]) != parse_instant(item["submitted_at"]):
            problems.append(f"import {response_id}: stored {record} for {item}")
        if created_reports[response_id] != 1:
            problems.append(f"import {response_id}: reported created {created_reports[response_id]} times")
    assert len(responses) == len(answer_calls) + len(plan.imports), "responses nobody sent are in the table"

    # And every ticket event is stored once, and each ticket's state is the fold of what was sent
    events_by_ticket = defaultdict(list)
    states = {}
    for item in items:
        if item.get("type") == "ticket_event":
            event = item["event"]
            events_by_ticket[(event["provider"], event["ticket_id"])].append(event)
        elif item.get("type") == "ticket":
            states[(item["provider"], item["ticket_id"])] = item
    assert len(states) == len(plan.tickets)
    for ticket in plan.tickets:
        ticket_id = stored_ticket_id(ticket.provider, ticket.ticket_id)  # chatwoot: "<account>:<id>"
        stored_events = events_by_ticket[(ticket.provider, ticket_id)]
        sent = sorted((a.kind, a.occurred_at) for a in ticket.actions)
        got = sorted((e["event"], parse_instant(e["occurred_at"])) for e in stored_events)
        if got != sent:
            problems.append(f"{ticket.provider}/{ticket_id}: events {got} for {sent}")
        want = expected_state(ticket)
        state = states.get((ticket.provider, ticket_id), {})
        have = {k: _stored(state, k) for k in want}
        if have != want:
            problems.append(f"{ticket.provider}/{ticket_id}: state "
                            f"{ {k: (have[k], want[k]) for k in want if have[k] != want[k]} }")
    assert not problems, "\n".join(problems[:30])

    # When the scheduled scorecard runs for the week
    card, mismatches = scheduled_scorecard(stack, items, period, CS_TOUCHPOINTS, SLOW_CALL_SECONDS)
    # Then its numbers, and those of the week before, equal a recount of the raw records (SPEC §5)
    assert not mismatches, "\n".join(mismatches[:30])
    # (the load did land in these two weeks, whatever the weekday the test runs on)
    assert card["cx"]["nps"]["n"] + card["previous"]["cx"]["nps"]["n"] > 0
    assert card["cs"]["fcr"]["n"] + card["previous"]["cs"]["fcr"]["n"] > 0
    # And the email went out once
    assert card["delivery"]["status"] == "sent"
    outbox = [m for m in stack.request("GET", "/_local/outbox").json() if period in (m["subject"] or "")]
    assert len(outbox) == 1
    # And `touchpoint rebuild` finds no drift
    rebuilt = stack.rebuild()
    assert rebuilt.returncode == 0 and "drift 0" in rebuilt.stdout, rebuilt.stdout + rebuilt.stderr

    latencies = [c.reply.seconds * 1000 for c in plan.calls]
    figures = {
        "dynamodb": dynamodb_backend,
        "requests": len(plan.calls), "threads": THREADS, "seconds": round(seconds, 2),
        "requests_per_s": round(len(plan.calls) / seconds, 1),
        "p50_ms": round(percentile(latencies, 0.5), 1), "p95_ms": round(percentile(latencies, 0.95), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1), "max_ms": round(max(latencies), 1),
        "over_10s": sum(1 for latency in latencies if latency > 10_000),
        "5xx": len(server_errors), "duplicates": plan.duplicates,
        "duplicate_webhooks": plan.duplicate_webhooks, "resent_imports": plan.resent_imports,
        "resubmissions": plan.resubmissions,
        "tickets": len(plan.tickets), "stream_records": sum(s["delivered"] for s in streams),
        "drain_seconds": round(drain_seconds, 1),
        "drift": int(rebuilt.stdout.split("drift ")[1].split()[0]),
        "mix": dict(Counter(c.kind for c in plan.calls)),
    }
    with capsys.disabled():
        print("\nLOAD " + json.dumps(figures, separators=(",", ":")), flush=True)
