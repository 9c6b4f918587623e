"""Create the resources of template.yaml in a moto server. Each resource type is created from its own
properties in the template, so a key, index or stream added there appears locally too."""

from __future__ import annotations

import json
from typing import Any

from .template import StackModel

# Types with no local counterpart: code and APIs run in-process, schedules are fired on request.
IN_PROCESS_TYPES = {
    "AWS::Serverless::Function", "AWS::Serverless::LayerVersion", "AWS::Serverless::HttpApi",
    "AWS::Scheduler::Schedule", "AWS::Scheduler::ScheduleGroup", "AWS::Lambda::EventSourceMapping",
    "AWS::IAM::Role", "AWS::Lambda::Permission",
    # Nothing to enforce locally: logs go to the terminal, and the local bucket is reached on loopback.
    "AWS::Logs::LogGroup", "AWS::S3::BucketPolicy",
}


def create_table_request(name: str, props: dict[str, Any]) -> dict[str, Any]:
    """CreateTable arguments from a template table's properties (as CloudFormation would create it)."""
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = [
            {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
            for gsi in props["GlobalSecondaryIndexes"]
        ]
    if props.get("StreamSpecification"):
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    return request


def tap_queue_name(bus_name: str) -> str:
    return f"{bus_name}-local-tap"


def tap_event_bus(session: Any, bus_name: str) -> None:
    """Locally only: a rule copies every Touchpoint event on the bus to a queue, so `GET /_local/events`
    (and tests) can see what was published."""
    sqs, events = session.client("sqs"), session.client("events")
    queue_url = sqs.create_queue(QueueName=tap_queue_name(bus_name))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=f"{bus_name}-local-tap", EventBusName=bus_name,
                    EventPattern=json.dumps({"source": ["touchpoint"]}))
    events.put_targets(Rule=f"{bus_name}-local-tap", EventBusName=bus_name,
                       Targets=[{"Id": "local-tap", "Arn": queue_arn}])


def provision(model: StackModel, session: Any, local_secrets: dict[str, Any], sender: str | None) -> dict[str, str]:
    """Create every resource; returns {logical id: physical name} of what was created."""
    created: dict[str, str] = {}
    for logical_id, resource in model.resources.items():
        kind, props = resource["Type"], resource.get("Properties", {}) or {}
        name = model.physical_names[logical_id]
        if kind == "AWS::DynamoDB::Table":
            dynamodb = session.client("dynamodb")
            dynamodb.create_table(**create_table_request(name, props))
            ttl = props.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):
                dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )
        elif kind == "AWS::S3::Bucket":
            s3 = session.client("s3")
            s3.create_bucket(Bucket=name)
            # As the template says: erasure relies on the versions being there to delete.
            if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        elif kind == "AWS::SQS::Queue":
            session.client("sqs").create_queue(QueueName=name)
        elif kind == "AWS::Events::EventBus":
            session.client("events").create_event_bus(Name=name)
            tap_event_bus(session, name)
        elif kind == "AWS::SecretsManager::Secret":
            local_key = (resource.get("Metadata") or {}).get("LocalSecret")
            if local_key not in local_secrets:
                raise ValueError(f"{logical_id}: Metadata.LocalSecret {local_key!r} is not in secrets.json")
            session.client("secretsmanager").create_secret(
                Name=name, SecretString=json.dumps(local_secrets[local_key])
            )
        elif kind in IN_PROCESS_TYPES:
            continue
        else:
            raise ValueError(f"{logical_id}: the local stack cannot create {kind} yet")
        created[logical_id] = name
    if sender:
        # moto's SES refuses to send from unverified identities, like SES in its sandbox.
        session.client("ses").verify_email_identity(EmailAddress=sender)
        session.client("sesv2").create_email_identity(EmailIdentity=sender)
    return created
