"""What one send attempt came to, and how an HTTP answer is classified: the facts the
delivery state machine decides on (retry with back-off, fail at once, or done)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any


class ErrorClass(StrEnum):
    """Whether trying the same send again later may succeed."""

    RETRYABLE = "retryable"
    PERMANENT = "permanent"


@dataclass(frozen=True)
class Outcome:
    """One send attempt: delivered (``ok``) or why not, with the provider's answer.

    ``maybe_delivered`` is true when the request may have reached the provider although no
    answer came back (a read timeout, a dropped connection): a retry could then duplicate.
    ``error`` is one line that never holds a secret."""

    ok: bool
    status_code: int | None = None
    message_id: str | None = None
    error_class: ErrorClass | None = None
    error: str | None = None
    retry_after_s: float | None = None
    maybe_delivered: bool = False
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """The outcome as JSON-ready values."""
        return asdict(self)


def delivered(status_code: int | None = None, message_id: str | None = None) -> Outcome:
    """A delivered send."""
    return Outcome(ok=True, status_code=status_code, message_id=message_id)


def failed(
    error_class: ErrorClass,
    error: str,
    *,
    status_code: int | None = None,
    retry_after_s: float | None = None,
    maybe_delivered: bool = False,
) -> Outcome:
    """A send that did not deliver."""
    return Outcome(
        ok=False,
        status_code=status_code,
        error_class=error_class,
        error=error,
        retry_after_s=retry_after_s,
        maybe_delivered=maybe_delivered,
    )


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delta seconds or an HTTP date), or
    ``None`` when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def classify_status(
    status: int, retry_after_header: str | None = None, message_id: str | None = None
) -> Outcome:
    """An HTTP answer as an outcome: 2xx delivered; 408, 429 and 5xx retryable (429 and 503
    with their ``Retry-After``); any other status permanent (redirects are not followed)."""
    if 200 <= status < 300:
        return delivered(status, message_id)
    wait = retry_after(retry_after_header) if status in {429, 503} else None
    if status in {408, 429} or 500 <= status < 600:
        hint = f", retry after {wait:g} s" if wait is not None else ""
        return failed(
            ErrorClass.RETRYABLE,
            f"the endpoint answered HTTP {status}{hint}",
            status_code=status,
            retry_after_s=wait,
        )
    what = "a redirect, which is not followed" if 300 <= status < 400 else "a refusal"
    return failed(
        ErrorClass.PERMANENT,
        f"the endpoint answered HTTP {status} ({what}); check the channel's URL and the receiver",
        status_code=status,
    )
