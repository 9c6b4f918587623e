"""Measure 3: intake handler time over a bare ``put_item`` on the same store (bar: ≤ 1.5×).

The real SurveyIntakeFunction handler (functions/survey_intake/app.py) gets real HTTP API v2 events:
``POST /s/{token}`` with a JSON answer to a fresh CSAT link (shipping) each time, the route the bar
applies to, with tokens as ``POST /v1/links`` mints them (counted and tracked on the contact item, so
an erasure closes them by a tombstone and the answer needs no suppression read); the same answer to a
link minted offline (``touchpoint link``: untracked, one suppression read first) and ``POST
/v1/responses`` with one imported CSAT response are reported beside it. The
baseline is ``put_item`` of a similar response item through the handler's own DynamoDB client, on the
same moto table. A fourth series, ``ResponseStore.upsert`` of a similar record (the very UpdateItem the
answer route sends), and a clock on the client's botocore hooks (from ``provide-client-params`` to
``after-call``) tell the handler's own time from the time of its DynamoDB requests in moto.
The four are interleaved in a shuffled order each round, after warm-up rounds (the
first request reads the token keys from Secrets Manager); medians are reported.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from touchpoint_local.testing import http_event, load_handler

from .common import CONTEXT, median_ms, moto_stack, ratio, stored_response, timed

BAR = 1.5
WARMUP = 20


class DynamoClock:
    """Seconds spent inside the client's DynamoDB calls (parameter building to parsed response)."""

    def __init__(self, client: Any) -> None:
        self.seconds = 0.0
        self._start = 0.0
        client.meta.events.register("provide-client-params.dynamodb.*", self._begin)
        client.meta.events.register("after-call.dynamodb.*", self._end)

    def _begin(self, **_: Any) -> None:
        self._start = time.perf_counter()

    def _end(self, **_: Any) -> None:
        self.seconds += time.perf_counter() - self._start


def _answer_event(ring: Any, index: int, tracked: bool = True) -> dict[str, Any]:
    from touchpoint.surveys.tokens import SurveyClaims, expiry, mint_token, survey_id_for

    customer = f"{'cust' if tracked else 'offline'}-{index:06d}"
    now = datetime.now(UTC)
    claims = SurveyClaims(survey_id=survey_id_for(customer, "shipping", "csat", f"A-{index}"), customer_id=customer,
                          touchpoint="shipping", metric="csat", order_id=f"A-{index}",
                          expires_at=expiry(now, 30), minted_at=now if tracked else None, tracked=tracked)
    token = mint_token(ring, claims)
    return http_event("POST", f"/s/{token}", {"score": 4, "comment": "Arrived a day early"},
                      route_key="POST /s/{token}", path_params={"token": token})


def _import_event(index: int) -> dict[str, Any]:
    submitted = (datetime.now(UTC) - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    body = {"customer_id": f"imp-{index:06d}", "touchpoint": "shipping", "metric": "csat", "score": 5,
            "response_id": f"legacy-{index}", "submitted_at": submitted, "comment": "Fine"}
    return http_event("POST", "/v1/responses", body, route_key="POST /v1/responses")


def _record(prefix: str, index: int) -> dict[str, Any]:
    from touchpoint.catalog import load_catalog
    from touchpoint.surveys.intake import response_record

    return response_record(survey_id=f"{prefix}{index:07d}", customer_id=f"{prefix}-{index:06d}",
                           touchpoint=load_catalog("ecommerce").get("shipping"), metric="csat", score=4,
                           comment="Arrived a day early", submitted_at=datetime.now(UTC), order_id=f"A-{index}",
                           source="link")


def measure(quick: bool, runs: int | None = None, warmup: int = WARMUP) -> list[dict[str, Any]]:
    from touchpoint import runtime
    from touchpoint.platform.dynamo import to_item
    from touchpoint.surveys.store import ResponseStore
    from touchpoint.surveys.tokens import KeyRing

    runs = runs or 300
    rng = random.Random(11)
    with moto_stack() as stack:
        app = load_handler("survey_intake", prefix="_bench")
        client = runtime.aws_client("dynamodb")  # the handler's own client: the same store
        ring = KeyRing(stack.secrets["token_keys"])
        store = ResponseStore(client, stack.table)
        samples: dict[str, list[float]] = {"answer": [], "answer_untracked": [], "import": [], "put_item": [],
                                           "upsert": []}
        own: dict[str, list[float]] = {"answer": [], "import": []}  # handler time outside DynamoDB calls
        clock = DynamoClock(client)
        statuses: dict[str, set[int]] = {"answer": set(), "answer_untracked": set(), "import": set()}
        for index in range(warmup + runs):
            answer, imported = _answer_event(ring, index), _import_event(index)
            offline = _answer_event(ring, index, tracked=False)
            item, record = to_item(stored_response(_record("put", index))), _record("upsert", index)
            calls = {"answer": lambda e=answer: app.lambda_handler(e, CONTEXT),
                     "answer_untracked": lambda e=offline: app.lambda_handler(e, CONTEXT),
                     "import": lambda e=imported: app.lambda_handler(e, CONTEXT),
                     "put_item": lambda i=item: client.put_item(TableName=stack.table, Item=i),
                     "upsert": lambda r=record: store.upsert(r)}
            order = list(calls)
            rng.shuffle(order)
            for name in order:
                in_dynamodb = clock.seconds
                seconds, result = timed(calls[name])
                if name in statuses:
                    statuses[name].add(result["statusCode"])
                if index >= warmup:
                    samples[name].append(seconds)
                    if name in own:
                        own[name].append(seconds - (clock.seconds - in_dynamodb))
    put_ms = median_ms(samples["put_item"])
    answer_ms, import_ms, upsert_ms = (median_ms(samples[k]) for k in ("answer", "import", "upsert"))
    untracked_ms = median_ms(samples["answer_untracked"])
    value = ratio(answer_ms, put_ms)
    return [{
        "measure": "intake_handler_over_put_item",
        "note": (f"median of {runs} interleaved calls each after {warmup} warm-up rounds, in-process moto (same "
                 "table, the handler's own client); events are built before the clock starts; the bar applies to "
                 "the answer route POST /s/{token} (JSON answer, CSAT touchpoint, first answer: 201)"),
        "median_ms": {"answer_POST_/s/{token}": answer_ms, "answer_untracked_link": untracked_ms,
                      "import_POST_/v1/responses": import_ms,
                      "bare_put_item": put_ms, "bare_upsert_update_item": upsert_ms},
        "handler_time_outside_dynamodb_median_ms": {"answer": median_ms(own["answer"]),
                                                    "import": median_ms(own["import"])},
        "ratio_answer_over_bare_upsert": ratio(answer_ms, upsert_ms),
        "ratio_if_the_answer_write_cost_a_put_item": ratio(median_ms(own["answer"]) + put_ms, put_ms),
        "ratio_upsert_over_put_item_in_moto": ratio(upsert_ms, put_ms),
        "statuses": {name: sorted(codes) for name, codes in statuses.items()},
        "ratio": value,
        "ratio_of": "answer route handler median / bare put_item median",
        "ratio_import_route": ratio(import_ms, put_ms),
        "ratio_answer_untracked_link": ratio(untracked_ms, put_ms),
        "bar": f"ratio <= {BAR} (answer route)",
        "pass": value is not None and value <= BAR,
    }]
