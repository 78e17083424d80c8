"""RFC 3339 timestamps in requests: a time zone is required, and nothing else passes for one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from api.timestamps import parse_rfc3339


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02t03:04:05z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02 03:04:05.25+02:00",
         datetime(2026, 1, 2, 3, 4, 5, 250_000, tzinfo=timezone(timedelta(hours=2)))),
        ("2026-01-02T03:04:05.123456789-00:30",
         datetime(2026, 1, 2, 3, 4, 5, 123_456, tzinfo=timezone(-timedelta(minutes=30)))),
    ],
)  # fmt: skip
def test_rfc3339_with_a_zone_is_parsed(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text)

    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-02T03:04:05",  # naive
        "2026-01-02",
        "2026-01-02T03:04Z",
        "2026-13-02T03:04:05Z",
        "2026-01-02T24:00:00Z",
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
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_rfc3339(value)


def test_an_aware_datetime_passes_and_a_naive_one_does_not() -> None:
    aware = datetime(2026, 1, 2, tzinfo=UTC)

    assert parse_rfc3339(aware) is aware
    with pytest.raises(ValueError, match="time zone"):
        parse_rfc3339(datetime(2026, 1, 2))
