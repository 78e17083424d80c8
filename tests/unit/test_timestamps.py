"""The one RFC 3339 parser: a time zone is required, nothing else passes for one, and only
times the store can hold come out, in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.hostile import TIMESTAMPS, UNREPRESENTABLE
from workers.timestamps import EARLIEST, LATEST, in_store_range, parse_rfc3339


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02t03:04:05z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02 03:04:05.25+02:00", datetime(2026, 1, 2, 1, 4, 5, 250_000, tzinfo=UTC)),
        ("2026-01-02T03:04:05.123456789-00:30",
         datetime(2026, 1, 2, 3, 34, 5, 123_456, tzinfo=UTC)),
        ("0001-01-02T00:00:00Z", EARLIEST),
        ("9999-12-30T23:59:59.999999Z", LATEST),
    ],
)  # fmt: skip
def test_rfc3339_with_a_zone_comes_back_in_utc(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text)

    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-02T03:04:05",  # naive
        "2026-01-02",
        "2026-01-02T03:04Z",  # fromisoformat takes it; RFC 3339 wants seconds
        "20260102T030405Z",  # ISO 8601 basic format, not RFC 3339
        "2026-13-02T03:04:05Z",
        "2026-01-02T24:00:00Z",
        "2026-12-31T23:59:60Z",
        "2026-01-02T03:04:05+24:00",
        "1700000000",
        1_700_000_000,
        "tomorrow",
        "",
        "2026-01-02T03:04:05+0200",
        "\uff12\uff10\uff12\uff16-01-02T03:04:05Z",  # fullwidth (non-ASCII) digits
        None,
    ],
)
def test_anything_else_is_refused_with_an_example(value: object) -> None:
    with pytest.raises(ValueError, match="RFC 3339") as raised:
        parse_rfc3339(value)

    assert "2026-01-01T09:00:00Z" in str(raised.value)


@pytest.mark.parametrize("text", [*UNREPRESENTABLE, "0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z"])
def test_times_outside_what_the_store_holds_are_refused_with_the_range(text: str) -> None:
    with pytest.raises(ValueError, match="outside the times the store holds") as raised:
        parse_rfc3339(text)

    assert "0001-01-02T00:00:00Z to 9999-12-30T23:59:59Z" in str(raised.value)


def test_a_refused_value_is_echoed_only_in_part() -> None:
    with pytest.raises(ValueError, match="not an RFC 3339 date-time") as raised:
        parse_rfc3339("x" * 10_000)

    assert len(str(raised.value)) < 200


def test_an_aware_datetime_is_checked_like_text() -> None:
    aware = datetime(2026, 1, 2, 3, tzinfo=timezone(timedelta(hours=2)))

    assert parse_rfc3339(aware) == aware
    assert parse_rfc3339(aware).tzinfo is UTC
    with pytest.raises(ValueError, match="time zone"):
        parse_rfc3339(datetime(2026, 1, 2))
    with pytest.raises(ValueError, match="outside"):
        in_store_range(datetime(9999, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=23))))


@settings(max_examples=300, deadline=None)
@given(TIMESTAMPS)
def test_any_text_parses_into_the_store_range_or_is_a_value_error(text: str) -> None:
    try:
        parsed = parse_rfc3339(text)
    except ValueError as error:
        message = str(error)
    else:
        assert parsed.tzinfo is UTC
        assert EARLIEST <= parsed <= LATEST
        return
    assert "RFC 3339" in message or "outside the times the store holds" in message


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(1, 1, 3), max_value=datetime(9999, 12, 29)),
    st.integers(-(23 * 60 + 59), 23 * 60 + 59),
)
def test_a_time_in_range_round_trips_in_any_offset(moment: datetime, offset_min: int) -> None:
    zone = timezone(timedelta(minutes=offset_min))
    aware = moment.replace(tzinfo=zone)

    assert parse_rfc3339(aware.isoformat()) == aware
