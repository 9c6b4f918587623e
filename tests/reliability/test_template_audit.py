"""Issue 6, item 6: an audit of template.yaml, as written (``touchpoint_local.template.load_template``)
and as CloudFormation receives it after the SAM transform (``samtranslator``, offline).

* every IAM policy statement of every function (and of every role SAM generates) names its
  resources: no ``"*"`` Resource, no wildcard account/region/resource segment, no ``service:*``
  action. The only exceptions are the AWS managed policies SAM attaches itself (listed below, with
  why they cannot name resources);
* every SQS queue is encrypted (SqsManagedSseEnabled or a KMS key);
* every DynamoDB table has SSE enabled, and FeedbackTable has point-in-time recovery;
* the archive bucket blocks public access, encrypts by default, refuses requests without TLS (its
  only bucket policy denies and never allows) and removes replaced scorecard versions;
* every function's log group is declared with a retention.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest
from touchpoint_local.template import load_template
from touchpoint_local.testing import ROOT

# Managed policies SAM attaches on its own; both grant on "*" and AWS offers no scoped variant.
MANAGED_POLICY_EXCEPTIONS = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole":
        "every function: logs:CreateLogGroup/CreateLogStream/PutLogEvents on '*' (the log group is created by "
        "Lambda at first invocation; an explicit AWS::Logs::LogGroup plus an inline policy would remove it)",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole":
        "AggregatorFunction's DynamoDB stream event source: dynamodb:DescribeStream/GetRecords/GetShardIterator/"
        "ListStreams on '*' plus logs on '*', added by SAM for every DynamoDB event source",
}
WILDCARD_RESOURCE = re.compile(r"^\*$|(^|:)\*(:|$)|(table|function|secret|bucket|queue|event-bus|stream)/\*$")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def transformed(template: dict[str, Any]) -> dict[str, Any]:
    """The template after the SAM transform, offline: local code folders replaced by S3 URIs as
    `sam package` would, and a managed policy loader that needs no AWS call."""
    import os

    from samtranslator.translator.transform import transform

    class NoIam:
        def load(self) -> dict[str, str]:
            return {}

    document = copy.deepcopy(template)
    for logical_id, resource in document["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = f"s3://touchpoint-artifacts/{logical_id}.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = f"s3://touchpoint-artifacts/{logical_id}.zip"
    saved = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"  # samtranslator resolves AWS::Region pseudo parameters
    try:
        return transform(document, {}, NoIam())
    finally:
        if saved is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = saved


def resources_of(document: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in document["Resources"].items() if r["Type"] == kind}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resource_text(resource: Any) -> str | None:
    """The literal text of a Resource, or None for Ref / GetAtt (they name one resource)."""
    if isinstance(resource, str):
        return resource
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        return sub[0] if isinstance(sub, list) else sub
    if isinstance(resource, dict) and ("Ref" in resource or "Fn::GetAtt" in resource):
        return None
    return str(resource)


def statement_problems(where: str, statement: dict[str, Any]) -> list[str]:
    problems = []
    if statement.get("Effect", "Allow") != "Allow":
        return problems
    if "NotResource" in statement or "NotAction" in statement:
        problems.append(f"{where}: NotResource/NotAction grants everything else")
    for resource in _as_list(statement.get("Resource")):
        text = _resource_text(resource)
        if resource is None or (text is not None and WILDCARD_RESOURCE.search(text.strip())):
            problems.append(f"{where}: Resource {resource!r} names no specific resource")
    for action in _as_list(statement.get("Action")):
        if not isinstance(action, str) or action == "*" or action.endswith(":*"):
            problems.append(f"{where}: Action {action!r} is a wildcard")
    return problems


def inline_statements(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, function in resources_of(document, "AWS::Serverless::Function").items():
        for index, policy in enumerate(_as_list(function["Properties"].get("Policies") or [])):
            if isinstance(policy, dict) and "Statement" in policy:
                for number, statement in enumerate(_as_list(policy["Statement"])):
                    yield f"{logical_id}.Policies[{index}].Statement[{number}]", statement


def test_every_function_policy_statement_in_the_template_names_its_resources(template):
    # Given the template as written
    functions = resources_of(template, "AWS::Serverless::Function")
    assert functions, "no functions found"
    # Then every function declares its own policies (no SAM default role with broad rights) ...
    for logical_id, function in functions.items():
        policies = function["Properties"].get("Policies")
        assert policies, f"{logical_id} has no Policies"
        for policy in _as_list(policies):
            # ... as inline statements, never a managed policy or a SAM policy template by name
            assert isinstance(policy, dict) and "Statement" in policy, f"{logical_id}: {policy!r}"
        assert "Role" not in function["Properties"], f"{logical_id} brings its own role"
    # And no statement grants on "*"
    problems = [p for where, statement in inline_statements(template) for p in statement_problems(where, statement)]
    assert not problems, "\n".join(problems)


def test_the_transformed_template_grants_nothing_on_star_beyond_the_documented_managed_policies(transformed):
    # Given every IAM role CloudFormation will create (the functions' and the ones SAM generates,
    # such as the EventBridge Scheduler role of the scorecard schedule)
    roles = resources_of(transformed, "AWS::IAM::Role")
    assert {"SurveyIntakeFunctionRole", "TicketWebhookFunctionRole", "AggregatorFunctionRole",
            "ScorecardFunctionRole"} <= set(roles), sorted(roles)
    problems = []
    for logical_id, role in roles.items():
        properties = role["Properties"]
        # Then each managed policy is one of the documented exceptions
        for arn in properties.get("ManagedPolicyArns") or []:
            if arn not in MANAGED_POLICY_EXCEPTIONS:
                problems.append(f"{logical_id}: managed policy {arn} is not a documented exception")
        # And every inline statement names its resources
        for policy in properties.get("Policies") or []:
            for number, statement in enumerate(_as_list(policy["PolicyDocument"]["Statement"])):
                problems += statement_problems(f"{logical_id}.{policy['PolicyName']}[{number}]", statement)
    for logical_id, policy in resources_of(transformed, "AWS::IAM::Policy").items():
        for number, statement in enumerate(_as_list(policy["Properties"]["PolicyDocument"]["Statement"])):
            problems += statement_problems(f"{logical_id}[{number}]", statement)
    assert not problems, "\n".join(problems)


def _queue_problems(document: dict[str, Any]) -> list[str]:
    queues = resources_of(document, "AWS::SQS::Queue")
    assert queues, "no queues found"
    return [f"{logical_id} is not encrypted: {queue.get('Properties') or {}}"
            for logical_id, queue in queues.items()
            if not ((queue.get("Properties") or {}).get("SqsManagedSseEnabled") is True
                    or (queue.get("Properties") or {}).get("KmsMasterKeyId"))]


def test_every_queue_declared_in_the_template_is_encrypted(template):
    assert _queue_problems(template) == []


def test_every_queue_after_the_sam_transform_is_encrypted(transformed):
    assert _queue_problems(transformed) == []


@pytest.mark.parametrize("which", ["template", "transformed"])
def test_every_table_is_encrypted_and_the_feedback_table_can_be_restored(which, request):
    document = request.getfixturevalue(which)
    tables = resources_of(document, "AWS::DynamoDB::Table")
    assert "FeedbackTable" in tables
    for logical_id, table in tables.items():
        assert (table["Properties"].get("SSESpecification") or {}).get("SSEEnabled") is True, logical_id
    pitr = tables["FeedbackTable"]["Properties"].get("PointInTimeRecoverySpecification") or {}
    assert pitr.get("PointInTimeRecoveryEnabled") is True
    assert tables["FeedbackTable"].get("DeletionPolicy") == "Retain"


@pytest.mark.parametrize("which", ["template", "transformed"])
def test_every_bucket_blocks_public_access_and_encrypts(which, request):
    document = request.getfixturevalue(which)
    buckets = resources_of(document, "AWS::S3::Bucket")
    assert buckets, "no buckets found"
    for logical_id, bucket in buckets.items():
        properties = bucket["Properties"]
        block = properties.get("PublicAccessBlockConfiguration") or {}
        assert all(block.get(flag) is True for flag in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls",
                                                        "RestrictPublicBuckets")), (logical_id, block)
        rules = (properties.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or []
        algorithms = {rule.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for rule in rules}
        assert algorithms & {"AES256", "aws:kms", "aws:kms:dsse"}, (logical_id, rules)
    for logical_id, policy in resources_of(document, "AWS::S3::BucketPolicy").items():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert all(statement["Effect"] == "Deny" for statement in statements), (logical_id, "could open the bucket")


@pytest.mark.parametrize("which", ["template", "transformed"])
def test_the_archive_refuses_plain_http_and_drops_replaced_versions(which, request):
    document = request.getfixturevalue(which)
    # Given the archive bucket's policy, Then a request without TLS is denied on the bucket and its objects
    denials = [statement for policy in resources_of(document, "AWS::S3::BucketPolicy").values()
               if policy["Properties"]["Bucket"] == {"Ref": "ArchiveBucket"}
               for statement in policy["Properties"]["PolicyDocument"]["Statement"]]
    assert any(statement["Effect"] == "Deny" and statement["Action"] == "s3:*"
               and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for statement in denials)
    # And a scorecard version replaced (e.g. re-archived after an erasure) expires instead of staying forever
    rules = resources_of(document, "AWS::S3::Bucket")["ArchiveBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert any(rule["Status"] == "Enabled" and rule["NoncurrentVersionExpiration"]["NoncurrentDays"] <= 30
               for rule in rules)


def test_every_function_has_a_log_group_with_a_retention(template):
    # Given the functions and the log groups declared beside them
    functions = resources_of(template, "AWS::Serverless::Function")
    groups = {group["Properties"]["LogGroupName"]["Fn::Sub"]: group["Properties"]
              for group in resources_of(template, "AWS::Logs::LogGroup").values()}
    # Then each function's /aws/lambda/<name> group exists and keeps logs for a bounded time
    for logical_id in functions:
        group = groups.get(f"/aws/lambda/${{{logical_id}}}")
        assert group is not None, logical_id
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert template["Parameters"]["LogRetentionDays"]["Default"] <= 365


def test_the_audit_itself_catches_a_star_resource():
    # The checks above must be able to fail: a broad statement is reported
    assert statement_problems("x", {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"})
    assert statement_problems("x", {"Effect": "Allow", "Action": "dynamodb:*",
                                    "Resource": {"Fn::GetAtt": ["FeedbackTable", "Arn"]}})
    assert statement_problems("x", {"Effect": "Allow", "Action": "sqs:SendMessage",
                                    "Resource": {"Fn::Sub": "arn:${AWS::Partition}:sqs:*:${AWS::AccountId}:q"}})
    assert not statement_problems("x", {"Effect": "Allow", "Action": "s3:PutObject",
                                        "Resource": {"Fn::Sub": "${ArchiveBucket.Arn}/scorecards/*"}})
