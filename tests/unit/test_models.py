"""Input limits of the intake models: what a client may send, and what is refused before any write."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError
from touchpoint.surveys.models import (
    MAX_COMMENT_CHARS,
    MAX_PROPERTIES,
    MAX_PROPERTY_VALUE_CHARS,
    ImportedResponse,
    LinkRequest,
    SurveyAnswer,
)

IMPORT = {"customer_id": "cust-1", "touchpoint": "support", "metric": "csat", "score": 4}
LINK = {"customer_id": "cust-1", "touchpoint": "support"}


def error_fields(exc: pytest.ExceptionInfo[ValidationError]) -> set[str]:
    return {".".join(str(p) for p in err["loc"]) for err in exc.value.errors()}


# Comments ----------------------------------------------------------------------------------------
def test_comment_up_to_2000_characters_is_kept_verbatim() -> None:
    text = "é" * (MAX_COMMENT_CHARS - 2) + "\n\t"
    assert MAX_COMMENT_CHARS == 2000
    assert SurveyAnswer(score=5, comment=text).comment == text
    assert ImportedResponse(**IMPORT, comment=text).comment == text


def test_comment_over_2000_characters_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        SurveyAnswer(score=5, comment="x" * (MAX_COMMENT_CHARS + 1))
    assert error_fields(caught) == {"comment"}
    with pytest.raises(ValidationError):
        ImportedResponse(**IMPORT, comment="x" * (MAX_COMMENT_CHARS + 1))


def test_hostile_markup_in_a_comment_is_stored_as_given() -> None:
    # Escaping is the pages' job; the model must not mangle what the customer wrote.
    text = "<script>alert('x')</script> & \"quotes\""
    assert SurveyAnswer(score=1, comment=text).comment == text


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b[31m", "\x7f"])
def test_comment_control_characters_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        SurveyAnswer(score=3, comment=f"hello {bad} world")


@pytest.mark.parametrize("score", ["x", 4.5, None, [4]])
def test_score_must_be_a_whole_number(score: object) -> None:
    with pytest.raises(ValidationError) as caught:
        SurveyAnswer.model_validate({"score": score})
    assert error_fields(caught) == {"score"}


def test_score_from_a_form_field_is_read_as_a_number() -> None:
    assert SurveyAnswer.model_validate({"score": "9"}).score == 9


# Identifiers -------------------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["customer_id", "order_id", "response_id"])
@pytest.mark.parametrize("bad", ["a\x00b", "a\nb", "a\x1fb", "a\x7fb"])
def test_control_characters_in_ids_are_refused(field: str, bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ImportedResponse(**{**IMPORT, field: bad})
    assert error_fields(caught) == {field}


def test_control_characters_in_link_ids_are_refused() -> None:
    with pytest.raises(ValidationError):
        LinkRequest(**{**LINK, "customer_id": "cust\r\n1"})
    with pytest.raises(ValidationError):
        LinkRequest(**LINK, order_id="o\x00")


def test_ids_are_trimmed_and_must_not_be_blank() -> None:
    assert ImportedResponse(**{**IMPORT, "customer_id": "  cust-1  "}).customer_id == "cust-1"
    for blank in ("", "   "):
        with pytest.raises(ValidationError):
            ImportedResponse(**{**IMPORT, "customer_id": blank})


def test_id_length_limits() -> None:
    assert LinkRequest(**{**LINK, "customer_id": "c" * 256}).customer_id
    with pytest.raises(ValidationError):
        LinkRequest(**{**LINK, "customer_id": "c" * 257})
    with pytest.raises(ValidationError):
        LinkRequest(**LINK, order_id="o" * 129)


def test_unknown_fields_are_refused_on_admin_routes() -> None:
    with pytest.raises(ValidationError) as caught:
        ImportedResponse(**IMPORT, rating=5)
    assert error_fields(caught) == {"rating"}
    with pytest.raises(ValidationError):
        LinkRequest(**LINK, expires="tomorrow")


@pytest.mark.parametrize("metric", ["NPS", "star", ""])
def test_metric_must_be_one_of_the_three(metric: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ImportedResponse(**{**IMPORT, "metric": metric})
    assert error_fields(caught) == {"metric"}


# Properties --------------------------------------------------------------------------------------
def test_properties_up_to_the_count_limit() -> None:
    ok = {f"k{i}": i for i in range(MAX_PROPERTIES)}
    assert ImportedResponse(**IMPORT, properties=ok).properties == ok
    with pytest.raises(ValidationError) as caught:
        ImportedResponse(**IMPORT, properties={**ok, "one_more": 1})
    assert error_fields(caught) == {"properties"}


def test_property_value_size_limit() -> None:
    assert ImportedResponse(**IMPORT, properties={"note": "v" * MAX_PROPERTY_VALUE_CHARS}).properties
    with pytest.raises(ValidationError):
        ImportedResponse(**IMPORT, properties={"note": "v" * (MAX_PROPERTY_VALUE_CHARS + 1)})


def test_property_name_limits() -> None:
    with pytest.raises(ValidationError):
        ImportedResponse(**IMPORT, properties={"": 1})
    with pytest.raises(ValidationError):
        ImportedResponse(**IMPORT, properties={"k" * 65: 1})
    with pytest.raises(ValidationError):
        ImportedResponse(**IMPORT, properties={"bad\x00name": 1})


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_property_numbers_are_refused(value: float) -> None:
    with pytest.raises(ValidationError):
        ImportedResponse(**IMPORT, properties={"amount": value})
    with pytest.raises(ValidationError):
        LinkRequest(**LINK, properties={"amount": value})


def test_nested_property_values_are_refused() -> None:
    with pytest.raises(ValidationError):
        ImportedResponse(**IMPORT, properties={"nested": {"a": 1}})
    with pytest.raises(ValidationError):
        ImportedResponse(**IMPORT, properties={"list": [1, 2]})


def test_scalar_property_values_are_kept() -> None:
    props = {"s": "text", "i": 3, "f": 2.5, "b": True, "n": None}
    assert ImportedResponse(**IMPORT, properties=props).properties == props


def test_link_properties_are_capped_to_keep_the_url_short() -> None:
    # 5 x 250 characters is allowed for an import (< 4 KiB) but too much inside a link URL (1 KiB)
    props = {f"k{i}": "v" * 250 for i in range(5)}
    assert ImportedResponse(**IMPORT, properties=props).properties == props
    with pytest.raises(ValidationError) as caught:
        LinkRequest(**LINK, properties=props)
    assert error_fields(caught) == {"properties"}


def test_import_properties_are_capped_at_4_kib_of_json() -> None:
    props = {f"k{i}": "ü" * 120 for i in range(20)}  # each value is 240 bytes in UTF-8
    with pytest.raises(ValidationError):
        ImportedResponse(**IMPORT, properties=props)


# Links -------------------------------------------------------------------------------------------
def test_link_ttl_days_bounds() -> None:
    assert LinkRequest(**LINK).ttl_days == 30
    assert LinkRequest(**LINK, ttl_days=1).ttl_days == 1
    assert LinkRequest(**LINK, ttl_days=365).ttl_days == 365
    for bad in (0, -1, 366):
        with pytest.raises(ValidationError) as caught:
            LinkRequest(**LINK, ttl_days=bad)
        assert error_fields(caught) == {"ttl_days"}


def test_link_metric_is_optional() -> None:
    assert LinkRequest(**LINK).metric is None
    assert LinkRequest(**LINK, metric="nps").metric == "nps"


# Imports -----------------------------------------------------------------------------------------
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_submitted_at_defaults_to_now() -> None:
    assert ImportedResponse(**IMPORT).submitted_at_utc(NOW) == NOW


def test_submitted_at_with_an_offset_is_converted_to_utc() -> None:
    item = ImportedResponse(**IMPORT, submitted_at="2026-03-01T09:30:00+02:00")
    assert item.submitted_at_utc(NOW) == datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
    assert item.submitted_at_utc(NOW).utcoffset() == timedelta(0)


def test_submitted_at_without_a_zone_is_utc() -> None:
    item = ImportedResponse(**IMPORT, submitted_at="2026-03-01T09:30:00")
    assert item.submitted_at_utc(NOW) == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_submitted_at_from_another_zone_object() -> None:
    zone = timezone(timedelta(hours=-5))
    item = ImportedResponse(**IMPORT, submitted_at=datetime(2026, 1, 1, 20, 0, tzinfo=zone))
    assert item.submitted_at_utc(NOW) == datetime(2026, 1, 2, 1, 0, tzinfo=UTC)


def test_submitted_at_must_be_a_timestamp() -> None:
    with pytest.raises(ValidationError):
        ImportedResponse(**IMPORT, submitted_at="last tuesday")


def test_import_batch_limit_is_100() -> None:
    from touchpoint.surveys.models import MAX_IMPORT_BATCH

    assert MAX_IMPORT_BATCH == 100  # SPEC §3: a list of at most 100
