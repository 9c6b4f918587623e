"""Settings per function, validated at cold start: a missing or malformed variable stops the cold start
with one line naming it, instead of failing the first request that needs it."""

from __future__ import annotations

import pytest
from touchpoint.platform.settings import (
    AggregatorSettings,
    ScorecardSettings,
    SettingsError,
    SurveyIntakeSettings,
    TicketWebhookSettings,
    validate_environment,
)

COMPLETE = {
    "TABLE_NAME": "t", "TOKEN_KEYS_SECRET": "k", "PSEUDONYM_KEY_SECRET": "p", "IDEMPOTENCY_TABLE_NAME": "i",
    "WEBHOOK_SECRETS_SECRET": "w", "EVENT_BUS_NAME": "b",
}
NEEDS = {
    SurveyIntakeSettings: {"TABLE_NAME", "TOKEN_KEYS_SECRET", "PSEUDONYM_KEY_SECRET", "IDEMPOTENCY_TABLE_NAME",
                           "EVENT_BUS_NAME"},
    TicketWebhookSettings: {"TABLE_NAME", "TOKEN_KEYS_SECRET", "PSEUDONYM_KEY_SECRET", "WEBHOOK_SECRETS_SECRET",
                            "EVENT_BUS_NAME"},
    AggregatorSettings: {"TABLE_NAME", "EVENT_BUS_NAME", "PSEUDONYM_KEY_SECRET"},
    ScorecardSettings: {"TABLE_NAME"},
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch):
    def set_to(values: dict[str, str]) -> None:
        for name in COMPLETE:
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
    return set_to


@pytest.mark.parametrize("model", list(NEEDS), ids=lambda m: m.__name__)
def test_each_function_starts_with_its_complete_environment(environment, model):
    environment(COMPLETE)
    assert validate_environment(model).table_name == "t"


@pytest.mark.parametrize(("model", "missing"), [(m, v) for m, needs in NEEDS.items() for v in sorted(needs)],
                         ids=lambda x: getattr(x, "__name__", x))
def test_a_missing_variable_is_named_at_cold_start(environment, model, missing):
    # Given the function's environment without one variable it needs
    environment({k: v for k, v in COMPLETE.items() if k != missing})
    # When the function validates it at cold start, Then the error names the variable
    with pytest.raises(SettingsError, match=missing):
        validate_environment(model)


def test_variables_a_function_does_not_use_are_not_required(environment):
    environment({"TABLE_NAME": "t", "EVENT_BUS_NAME": "b", "PSEUDONYM_KEY_SECRET": "p"})
    assert validate_environment(AggregatorSettings).token_keys_secret is None


@pytest.mark.parametrize(("name", "value"), [("SCORECARD_TARGETS", "{not json"),
                                             ("SCORECARD_TARGETS", '{"nps": {"value": "high"}}'),
                                             ("SCORECARD_MIN_SAMPLE", "0"), ("SCORECARD_GRANULARITY", "day")])
def test_malformed_scorecard_settings_fail_the_cold_start(environment, name, value):
    environment({"TABLE_NAME": "t", name: value})
    with pytest.raises(SettingsError, match=name):
        validate_environment(ScorecardSettings)


def test_a_handler_without_its_event_bus_fails_when_it_loads_not_on_first_use(environment, monkeypatch):
    # Given the ticket webhook's environment without EVENT_BUS_NAME
    from touchpoint_local.testing import load_handler

    environment({k: v for k, v in COMPLETE.items() if k != "EVENT_BUS_NAME"})
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # When Lambda loads the handler module (a cold start), Then it stops there, naming the variable
    with pytest.raises(SettingsError, match="EVENT_BUS_NAME"):
        load_handler("ticket_webhook")
