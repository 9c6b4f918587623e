"""The layering rule of docs/architecture.md, held by tests.

Given the package as it is on disk, when its imports and AWS calls are read, then:
- the import layers and the boto3 ban of pyproject.toml's import-linter contracts hold;
- only a capability's ``store.py`` (and ``platform/dynamo.py``) calls DynamoDB, so each capability
  has at most one module that talks to it; SES/S3, EventBridge and Secrets Manager each have one home;
- handlers are Powertools wiring: they import no store, no table keys and no boto3.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "shared" / "touchpoint"
HANDLERS = sorted((ROOT / "functions").glob("*/app.py"))
CAPABILITIES = ("surveys", "tickets", "rollups", "scorecards", "customers")

DYNAMODB_CALLS = {"put_item", "get_item", "update_item", "delete_item", "query", "scan", "batch_get_item",
                  "batch_write_item", "transact_write_items", "transact_get_items"}
# Every other AWS call and the one module allowed to make it.
OTHER_AWS_CALLS = {"send_email": "scorecards/delivery.py", "put_object": "scorecards/delivery.py",
                   "get_object": "scorecards/delivery.py", "list_object_versions": "scorecards/delivery.py",
                   "delete_objects": "scorecards/delivery.py",
                   "put_events": "platform/events.py", "get_secret": "platform/secrets.py"}
# What a handler may import from the package: the composition root, the HTTP edge, settings, errors,
# periods, and the capabilities' domain entry points and models.
HANDLER_FORBIDDEN = ("touchpoint.platform.dynamo", "touchpoint.platform.table", "boto3", "botocore")


def called_methods(source: str) -> set[str]:
    """Names of the attributes called anywhere in ``source`` (``x.put_item(...)`` -> put_item)."""
    return {node.func.attr for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}


def imported_modules(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def dynamodb_modules() -> list[str]:
    return sorted(str(path.relative_to(PACKAGE)) for path in PACKAGE.rglob("*.py")
                  if called_methods(path.read_text("utf-8")) & DYNAMODB_CALLS)


def test_the_import_layers_and_the_boto3_ban_hold():
    # Given the import-linter contracts of pyproject.toml, when the package's imports are linted,
    # then every contract is kept.
    from importlinter.application.use_cases import lint_imports
    from importlinter.configuration import configure

    configure()  # what the lint-imports command does before it lints
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml")) is True


def test_only_store_modules_talk_to_dynamodb():
    # When every module's calls are read, then only store.py files (and the shared helpers) call DynamoDB.
    offenders = [m for m in dynamodb_modules() if Path(m).name != "store.py" and m != "platform/dynamo.py"]
    assert offenders == []


@pytest.mark.parametrize("capability", CAPABILITIES)
def test_each_capability_has_one_dynamodb_module(capability):
    modules = [m for m in dynamodb_modules() if m.startswith(f"{capability}/")]
    assert modules == [f"{capability}/store.py"]


def test_other_aws_services_have_one_home_each():
    for path in PACKAGE.rglob("*.py"):
        module = str(path.relative_to(PACKAGE))
        for call in called_methods(path.read_text("utf-8")) & set(OTHER_AWS_CALLS):
            assert OTHER_AWS_CALLS[call] == module, f"{module} calls {call}"


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda p: p.parent.name)
def test_handlers_import_no_store_no_keys_and_no_boto3(handler):
    imports = imported_modules(handler.read_text("utf-8"))
    assert not {m for m in imports if m.endswith(".store") or ".store." in m or m.startswith(HANDLER_FORBIDDEN)}
    assert "touchpoint.runtime" in imports or "touchpoint" in imports


def test_the_checks_can_fail():
    # Given a non-store module that calls DynamoDB, then the call is seen (the checks are not vacuous).
    assert "put_item" in called_methods("def f(client):\n    client.put_item(TableName='t', Item={})\n")
    assert "touchpoint.surveys.store" in imported_modules("from touchpoint.surveys.store import ResponseStore\n")
