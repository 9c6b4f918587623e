"""Measure 1: the scorecard reads rollups, not records (bar: items read for 100,000 responses ≤ 1.1×
those for 1,000 in the same period).

For each data set, in its own fresh moto account: the raw response items, the detractor alert items
the aggregator would write, and the rollup items of ``touchpoint.rollups.rebuild.expected_rollups`` are written
directly with BatchWriteItem (this measure is about reading, not aggregating). Then the real
``RollupReader`` + ``compute_scorecard`` (ecommerce catalog) reads the scorecard of the week, and a
naive scorecard scans the table for the records of the week and its previous one and computes NPS, CSAT
and CES from them. Items are counted on botocore's after-call hook (Count / Item of each response).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from functools import partial
from typing import Any

from .common import PERIOD, DynamoCounter, batch_write, median_ms, moto_stack, ratio, responses, stored_response, timed

BAR = 1.1
ROLLUP_RUNS = 3  # the rollup scorecard is cheap: median of a few runs


def naive_scorecard(client: Any, table: str, period_id: str) -> dict[str, Any]:
    """NPS, CSAT and CES of the period and the previous one from every raw record: one Scan of the
    table (filtered to responses of the two periods, projected to the fields needed)."""
    from touchpoint.periods import bounds, parse_time, previous

    start, _ = bounds(previous(period_id))
    _, end = bounds(period_id)
    request: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "#t = :response AND submitted_at BETWEEN :start AND :end",
        "ProjectionExpression": "#t, touchpoint, metric, score, submitted_at, suspected_bot",
        "ExpressionAttributeNames": {"#t": "type"},
        "ExpressionAttributeValues": {":response": {"S": "response"}, ":start": {"S": start.isoformat()},
                                      ":end": {"S": f"{end.isoformat()}T23:59:59.999Z"}},
    }
    scores: dict[str, dict[str, Counter[int]]] = defaultdict(lambda: defaultdict(Counter))
    current_start, _ = bounds(period_id)
    while True:
        page = client.scan(**request)
        for item in page["Items"]:
            if item.get("suspected_bot", {}).get("BOOL"):
                continue
            when = parse_time(item["submitted_at"]["S"]).date()
            which = "current" if when >= current_start else "previous"
            scores[which][item["metric"]["S"]][int(item["score"]["N"])] += 1
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return {which: _metrics(scores[which]) for which in ("current", "previous")}


def _metrics(by_metric: dict[str, Counter[int]]) -> dict[str, float | None]:
    def share(counts: Counter[int], keep: Any) -> float | None:
        n = sum(counts.values())
        return 100 * sum(c for s, c in counts.items() if keep(s)) / n if n else None

    nps, csat, ces = by_metric.get("nps", Counter()), by_metric.get("csat", Counter()), by_metric.get("ces", Counter())
    n_ces = sum(ces.values())
    promoters, detractors = share(nps, lambda s: s >= 9), share(nps, lambda s: s <= 6)
    return {"nps": None if promoters is None or detractors is None else promoters - detractors,
            "csat": share(csat, lambda s: s >= 4),
            "ces": sum(s * c for s, c in ces.items()) / n_ces if n_ces else None}


def _populate(stack: Any, count: int, seed: int) -> dict[str, int]:
    from touchpoint.rollups.plan import alert_record, is_detractor
    from touchpoint.rollups.rebuild import expected_rollups

    records = responses(count, seed=seed)
    alerts = [alert_record(r) for r in records if is_detractor(r)]
    rollups = [{"pk": pk, "sk": sk, "type": "rollup", **counters}
               for (pk, sk), counters in expected_rollups(records).items()]
    batch_write(stack.dynamodb, stack.table, [stored_response(r) for r in records] + alerts + rollups)
    return {"responses": len(records), "alert_items": len(alerts), "rollup_items": len(rollups)}


def _agree(card: dict[str, Any], naive: dict[str, Any]) -> bool:
    for metric in ("nps", "csat", "ces"):
        for got, want in ((card["cx"][metric]["value"], naive["current"][metric]),
                          (card["previous"]["cx"][metric]["value"], naive["previous"][metric])):
            if (got is None) != (want is None) or (got is not None and not math.isclose(got, want)):
                return False
    return True


def one_set(count: int, seed: int) -> dict[str, Any]:
    from touchpoint.catalog import load_catalog
    from touchpoint.scorecards.compute import compute_scorecard
    from touchpoint.scorecards.store import RollupReader

    catalog = load_catalog("ecommerce")
    with moto_stack() as stack:
        written = _populate(stack, count, seed)
        counter = DynamoCounter().attach(stack.dynamodb)
        times: list[float] = []
        readers: list[int] = []
        card: dict[str, Any] | None = None
        for _ in range(ROLLUP_RUNS):
            counter.reset()
            reader = RollupReader(stack.dynamodb, stack.table)
            seconds, card = timed(partial(compute_scorecard, reader, catalog, PERIOD))
            times.append(seconds)
            readers.append(reader.items_read)
        rollup = {"items_read": counter.items_read, "reader_items_read": readers[-1],
                  "requests": sum(counter.requests.values()), "requests_by_operation": dict(counter.requests),
                  "median_ms": median_ms(times), "runs": ROLLUP_RUNS}
        counter.reset()
        seconds, naive = timed(lambda: naive_scorecard(stack.dynamodb, stack.table, PERIOD))
        scan = {"items_returned": counter.items_read, "items_scanned": counter.scanned,
                "requests": sum(counter.requests.values()), "ms": round(seconds * 1000, 1)}
        counter.detach(stack.dynamodb)
    assert card is not None
    return {"written": written, "rollup_scorecard": rollup, "naive_scan_scorecard": scan,
            "naive_equals_rollup_nps_csat_ces": _agree(card, naive)}


def measure(quick: bool, small: int = 1_000, big: int | None = None) -> list[dict[str, Any]]:
    big = big or (20_000 if quick else 100_000)
    low, high = one_set(small, seed=1), one_set(big, seed=2)
    items_ratio = ratio(high["rollup_scorecard"]["items_read"], low["rollup_scorecard"]["items_read"])
    return [{
        "measure": "scorecard_items_read",
        "period": PERIOD,
        "sizes": {"small": small, "big": big},
        "note": (f"{'quick mode: ' if quick else ''}{small:,} vs {big:,} responses in one ISO week "
                 "(the bar names 1,000 vs 100,000); raw responses, detractor alert items and rollup items "
                 "(touchpoint.rollups.rebuild.expected_rollups) written directly with BatchWriteItem, not through the "
                 "aggregator, since this measures reading; the previous week is empty in both sets"),
        "small": low,
        "big": high,
        "ratio": items_ratio,
        "ratio_of": "rollup scorecard items read, big set / small set",
        "time_ratio_rollup": ratio(high["rollup_scorecard"]["median_ms"], low["rollup_scorecard"]["median_ms"]),
        "time_ratio_naive_scan": ratio(high["naive_scan_scorecard"]["ms"], low["naive_scan_scorecard"]["ms"]),
        "naive_over_rollup_items_big": ratio(high["naive_scan_scorecard"]["items_scanned"],
                                             high["rollup_scorecard"]["items_read"]),
        "naive_over_rollup_time_big": ratio(high["naive_scan_scorecard"]["ms"], high["rollup_scorecard"]["median_ms"]),
        "bar": f"ratio <= {BAR}",
        "pass": items_ratio is not None and items_ratio <= BAR,
    }]
