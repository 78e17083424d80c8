"""RFC 3339 date-times: the one parser for the API, the CLI, the producer and schedules.

A time always has a zone (``Z`` or an offset) and comes back in UTC, within the range every
store holds and every process can read back.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

EXAMPLE = "2026-01-01T09:00:00Z"
#: Python's datetime range less a day at each end: a stored time stays readable in any UTC
#: offset (PostgreSQL answers in the session's time zone), and a day of arithmetic fits.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, 23, 59, 59, 999_999, tzinfo=UTC)
#: How much of a refused value an error message repeats.
ECHO = 40

_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = r"\d{2}:\d{2}:\d{2}(\.\d{1,9})?"
_RFC3339 = re.compile(rf"{_DATE}[Tt ]{_TIME}([Zz]|[+-]\d{{2}}:\d{{2}})", re.ASCII)
_ZONELESS = re.compile(rf"{_DATE}([Tt ]\d{{2}}:\d{{2}}(:\d{{2}}(\.\d+)?)?)?", re.ASCII)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


RANGE = f"{_stamp(EARLIEST)} to {_stamp(LATEST)}"


def _shown(text: str) -> str:
    return repr(text if len(text) <= ECHO else f"{text[:ECHO]}…")


def in_store_range(moment: datetime) -> datetime:
    """``moment`` in UTC; ``ValueError`` when it has no zone or lies outside what stores hold."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a time needs a time zone (RFC 3339), e.g. {EXAMPLE}")
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # the offset pushes it past year 1 or 9999
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(f"{moment.isoformat()} is outside the times the store holds ({RANGE})")
    return utc


def parse_rfc3339(value: Any) -> datetime:
    """``value`` (an RFC 3339 date-time with a zone, or an aware datetime) as UTC, within the
    store's range; else ``ValueError`` saying what to write instead."""
    if isinstance(value, datetime):
        return in_store_range(value)
    if not isinstance(value, str):
        raise ValueError(f"expected an RFC 3339 date-time with a time zone, e.g. {EXAMPLE}")
    if _ZONELESS.fullmatch(value):
        raise ValueError(
            f"{_shown(value)} has no time zone; add Z or an offset (RFC 3339), e.g. {EXAMPLE}"
        )
    if not _RFC3339.fullmatch(value):
        raise ValueError(
            f"{_shown(value)} is not an RFC 3339 date-time; write one such as {EXAMPLE}"
        )
    try:
        moment = datetime.fromisoformat(value.upper())
    except ValueError as error:
        raise ValueError(
            f"{_shown(value)} is not an RFC 3339 date-time ({error}); write one such as {EXAMPLE}"
        ) from None
    return in_store_range(moment)


#: A request field or query parameter holding an RFC 3339 date-time (validated to UTC).
Rfc3339 = Annotated[
    datetime,
    BeforeValidator(parse_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": [EXAMPLE]}),
]
