"""`touchpoint local --dynamodb-endpoint URL` against a DynamoDB Local that someone else started (here
the test, as a checker or a Docker container would): the stack creates its own tables there, reads
the stream through that endpoint's Streams API, and a second stack on the same endpoint starts empty
and leaves the first one's data alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from touchpoint_local.dynamodb_local import DynamoDBLocal
from touchpoint_local.testing import running_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def outside_dynamodb(request: pytest.FixtureRequest) -> Iterator[DynamoDBLocal]:
    if request.config.getoption("--dynamodb") == "moto":
        pytest.skip("DynamoDB Local is not part of this run (--dynamodb moto)")
    with DynamoDBLocal() as server:
        yield server


def test_a_stack_on_an_endpoint_started_elsewhere_keeps_its_tables_and_rollups_there(outside_dynamodb):
    import boto3

    outside = boto3.client("dynamodb", endpoint_url=outside_dynamodb.endpoint, region_name="us-east-1",
                           aws_access_key_id="checker", aws_secret_access_key="checker")  # noqa: S106
    # Given a stack started on that endpoint
    with running_stack(dynamodb="moto", dynamodb_endpoint=outside_dynamodb.endpoint) as first:
        info = first.info
        # Then it reports the endpoint, and its tables are there (seen with other credentials too)
        assert info["dynamodb_endpoint"] == outside_dynamodb.endpoint
        assert info["dynamodb"] == "endpoint"
        assert {info["resources"]["FeedbackTable"], info["resources"]["IdempotencyTable"]} <= \
            set(outside.list_tables()["TableNames"])
        table = outside.describe_table(TableName=info["resources"]["FeedbackTable"])["Table"]
        assert table["StreamSpecification"]["StreamEnabled"] is True
        assert [index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])]
        # When an answer is imported and the stream drained
        answer = {"customer_id": "ep-ann", "touchpoint": "relationship", "metric": "nps", "score": 10,
                  "response_id": "ep-1"}
        assert first.request("POST", "/v1/responses", json_body=answer, admin=True).status == 201
        assert first.request("POST", "/_local/drain").status == 200
        # Then the response and its rollups are items on the outside endpoint
        items = first.items()
        assert any(i.get("type") == "response" and i.get("customer_id") == "ep-ann" for i in items)
        assert any(str(i["pk"]).startswith("ROLLUP#") for i in items)
        assert first.rebuild().returncode == 0
        first_tables = set(outside.list_tables()["TableNames"])
        # And a second stack on the same endpoint gets tables of its own, empty, beside the first's
        with running_stack(dynamodb="moto", dynamodb_endpoint=outside_dynamodb.endpoint) as second:
            assert second.info["resources"]["FeedbackTable"] != info["resources"]["FeedbackTable"]
            assert second.record_count() == 0
            assert first.record_count() == 1
        assert first_tables <= set(outside.list_tables()["TableNames"])
