"""Keyset cursors for listing jobs: opaque, round-tripping, and strict about what they accept."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from api.pagination import decode_cursor, encode_cursor


@pytest.mark.parametrize(
    "created_at",
    [
        datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_a_cursor_round_trips_exactly(created_at: datetime) -> None:
    job_id = uuid.uuid4()

    cursor = encode_cursor(created_at, job_id)

    assert decode_cursor(cursor) == (created_at, job_id)
    assert "=" not in cursor
    assert cursor.replace("-", "").replace("_", "").isalnum()


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "%%%",
        "not a cursor",
        "ÿÿ",
        _b64("2026-01-02T03:04:05+00:00"),
        _b64("yesterday|3f6c0d52-8a3e-4c59-9d1e-2b7c4e5a6f10"),
        _b64("2026-01-02T03:04:05+00:00|not-a-uuid"),
        _b64("2026-01-02T03:04:05|3f6c0d52-8a3e-4c59-9d1e-2b7c4e5a6f10"),  # naive: not one we issue
        base64.urlsafe_b64encode(b"\xff\xfe|x").decode(),
    ],
)
def test_anything_else_is_refused_with_a_hint(cursor: str) -> None:
    with pytest.raises(ValueError, match="next_cursor"):
        decode_cursor(cursor)
