"""How an HTTP answer classifies: the table the delivery state machine will decide on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tasks.notifications.outcomes import ErrorClass, classify_status, retry_after


@pytest.mark.parametrize(
    ("status", "header", "ok", "error_class", "wait"),
    [
        (200, None, True, None, None),
        (202, None, True, None, None),
        (204, None, True, None, None),
        (301, None, False, ErrorClass.PERMANENT, None),
        (400, None, False, ErrorClass.PERMANENT, None),
        (401, None, False, ErrorClass.PERMANENT, None),
        (404, None, False, ErrorClass.PERMANENT, None),
        (410, None, False, ErrorClass.PERMANENT, None),
        (408, None, False, ErrorClass.RETRYABLE, None),
        (429, "7", False, ErrorClass.RETRYABLE, 7.0),
        (429, None, False, ErrorClass.RETRYABLE, None),
        (429, "soon", False, ErrorClass.RETRYABLE, None),
        (500, None, False, ErrorClass.RETRYABLE, None),
        (502, "9", False, ErrorClass.RETRYABLE, None),
        (503, "30", False, ErrorClass.RETRYABLE, 30.0),
        (504, None, False, ErrorClass.RETRYABLE, None),
    ],
)
def test_status_classification(
    status: int, header: str | None, ok: bool, error_class: ErrorClass | None, wait: float | None
) -> None:
    outcome = classify_status(status, header)

    assert (outcome.ok, outcome.error_class, outcome.retry_after_s) == (ok, error_class, wait)
    assert outcome.status_code == status
    assert (outcome.error is None) == ok


def test_retry_after_reads_an_http_date() -> None:
    now = datetime(2026, 1, 1, 9, 0, 0, tzinfo=UTC)

    assert retry_after("Thu, 01 Jan 2026 09:00:42 GMT", now) == 42.0
    assert retry_after("Thu, 01 Jan 2026 08:59:00 GMT", now) == 0.0
    assert retry_after(None, now) is None
