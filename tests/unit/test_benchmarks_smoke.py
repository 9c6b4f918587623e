"""`python -m benchmarks` still runs: the tiniest configuration of every measure, checked for the JSON
shape the runner prints (one object per measure with its ratio, bar and pass). No timing limits here:
the numbers are for `python -m benchmarks`, not for the test machine."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The project root is not on sys.path under plain `pytest`, hence the late imports.
from benchmarks import __main__ as runner  # noqa: E402
from benchmarks import aggregator_writes, cold_start, intake_latency, package_size, scorecard_reads  # noqa: E402


def _one_line(lines: list[dict], measure: str) -> dict:
    assert len(lines) == 1
    line = lines[0]
    json.dumps(line)  # printable as one JSON line
    assert line["measure"] == measure
    assert {"ratio", "bar", "pass"} <= set(line)
    assert isinstance(line["pass"], bool)
    assert line["ratio"] is None or isinstance(line["ratio"], float)
    return line


def test_scorecard_reads_counts_items_of_both_sets_and_both_scorecards_agree():
    line = _one_line(scorecard_reads.measure(True, small=20, big=60), "scorecard_items_read")
    for size in ("small", "big"):
        data = line[size]
        assert data["rollup_scorecard"]["items_read"] == data["rollup_scorecard"]["reader_items_read"] > 0
        assert data["naive_scan_scorecard"]["items_returned"] == line["sizes"][size]
        assert data["naive_scan_scorecard"]["items_scanned"] >= data["naive_scan_scorecard"]["items_returned"]
        assert data["naive_equals_rollup_nps_csat_ces"] is True


def test_aggregator_writes_are_counted_from_the_real_handler_and_match_the_naive_counters():
    line = _one_line(aggregator_writes.measure(True, count=30, weeks=2), "aggregator_rollup_writes_per_record")
    assert line["measured_records"] == 60 and len(line["weeks"]) == 2
    for week in line["weeks"]:
        assert week["transactions"] >= 1
        assert week["rollup_counter_writes"] == (week["actions"].get("rollup_day_counter_updates", 0)
                                                 + week["actions"].get("rollup_period_counter_updates", 0)) > 0
        assert week["floor_counter_items_per_batch_summed"] <= week["rollup_counter_writes"]
    first = line["weeks"][0]
    assert first["rebuild_drift"] == 0
    assert first["naive_per_record_updates"]["same_rollups_as_aggregator"] is True


def test_intake_latency_reports_both_routes_and_the_bare_writes():
    line = _one_line(intake_latency.measure(True, runs=3, warmup=1), "intake_handler_over_put_item")
    assert set(line["median_ms"]) == {"answer_POST_/s/{token}", "answer_untracked_link", "import_POST_/v1/responses",
                                      "bare_put_item", "bare_upsert_update_item"}
    assert line["statuses"] == {"answer": [201], "answer_untracked": [201], "import": [201]}


def test_cold_start_times_every_handler_module_and_boto3():
    line = _one_line(cold_start.measure(True, runs=1), "cold_start_import_over_boto3")
    assert set(line["ratios"]) == {"survey_intake/app.py", "ticket_webhook/app.py", "aggregator/app.py",
                                   "scorecard/app.py"}
    assert "import boto3" in line["median_ms"]


def test_package_sizes_are_skipped_in_quick_mode_and_the_runner_prints_a_summary(capsys: pytest.CaptureFixture[str]):
    assert package_size.measure(True)[0]["skipped"] is True
    assert runner.main(["--quick", "--only", "package_size"]) == 0
    lines = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert [line["measure"] for line in lines] == ["package_sizes", "summary"]
    assert lines[-1]["pass"] is True and lines[-1]["bars_missed"] == []


def test_demo_scaling_runs_two_demos_and_compares_time_per_stream_record():
    from benchmarks import demo_scaling

    line = _one_line(demo_scaling.measure(True, sizes=((8, 1), (16, 1))), "demo_seconds_per_record")
    assert line["small"]["stream_records"] > 0 and line["big"]["stream_records"] > line["small"]["stream_records"]
    assert line["small"]["drift"] == line["big"]["drift"] == 0


def test_capacity_units_follow_dynamodbs_item_size_rules():
    from benchmarks.capacity import attribute_size, item_size, read_units, write_units

    # Given DynamoDB's rules: a string is its UTF-8 bytes, a number about half its digits plus one,
    # a map or list 3 bytes plus one per element, attribute names count too
    assert attribute_size({"S": "Grüße"}) == 7
    assert attribute_size({"N": "12345"}) == 4 and attribute_size({"N": "-0.5"}) == 2
    assert attribute_size({"M": {"a": {"S": "xy"}}}) == 3 + 1 + 2 + 1
    assert attribute_size({"L": [{"BOOL": True}, {"NULL": True}]}) == 3 + 2 + 2
    assert item_size({"pk": {"S": "RESP#1"}, "score": {"N": "9"}}) == 2 + 6 + 5 + 2
    # Then units round up per 1 KB written and 4 KB read (half when eventually consistent)
    assert [write_units(n) for n in (1, 1024, 1025, 16_000)] == [1, 1, 2, 16]
    assert (read_units(4096, True), read_units(4097, True), read_units(100, False)) == (1.0, 2.0, 0.5)


def test_the_capacity_meter_counts_transactions_twice_and_index_moves():
    import boto3
    from moto import mock_aws

    from benchmarks.capacity import CapacityMeter

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        shadow = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
        client.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{"IndexName": "ByCustomer", "Projection": {"ProjectionType": "KEYS_ONLY"},
                                     "KeySchema": [{"AttributeName": "gsi1pk", "KeyType": "HASH"},
                                                   {"AttributeName": "gsi1sk", "KeyType": "RANGE"}]}])
        meter = CapacityMeter(client, shadow, projected=())
        big = {"pk": {"S": "A"}, "sk": {"S": "B"}, "blob": {"S": "x" * 1500}}
        # A 1.5 KB item: 2 units; the same in a transaction: 4
        client.put_item(TableName="t", Item=big)
        assert meter.wru == 2
        client.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": big}}])
        assert meter.wru == 6
        # An item entering the index: its write plus the index entry's
        client.put_item(TableName="t", Item={"pk": {"S": "C"}, "sk": {"S": "D"}, "gsi1pk": {"S": "CUST#1"},
                                             "gsi1sk": {"S": "X"}})
        assert meter.wru == 8
        # Moving within the index: the write, the old entry's delete and the new entry's put
        client.update_item(TableName="t", Key={"pk": {"S": "C"}, "sk": {"S": "D"}},
                           UpdateExpression="SET gsi1sk = :y", ExpressionAttributeValues={":y": {"S": "Y"}})
        assert meter.wru == 11
        assert meter.largest_item == item_size_of(big)


def item_size_of(item):
    from benchmarks.capacity import item_size

    return item_size(item)
