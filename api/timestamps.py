"""RFC 3339 timestamps on the wire: always with a time zone, never a bare number."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
EXAMPLE = "2026-01-01T09:00:00Z"
_HINT = f"an RFC 3339 date-time with a time zone, e.g. {EXAMPLE}"


def parse_rfc3339(value: Any) -> datetime:
    """``value`` as an aware datetime; ``ValueError`` unless it is an RFC 3339 date-time string
    with a time zone (``Z`` or an offset)."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError(f"expected {_HINT}")
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError as error:
        raise ValueError(f"{error}; expected {_HINT}") from None


#: A request field or query parameter holding an RFC 3339 date-time with a time zone.
Rfc3339 = Annotated[
    datetime,
    BeforeValidator(parse_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time", "examples": [EXAMPLE]}),
]
