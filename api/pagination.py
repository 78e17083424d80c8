"""Opaque keyset cursors for listing jobs: urlsafe base64 of ``created_at`` and ``id``."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

from workers.timestamps import parse_rfc3339

_SEP = "|"
_NOT_OURS = "not a cursor from this API; pass next_cursor back unchanged"


def encode_cursor(created_at: datetime, job_id: uuid.UUID) -> str:
    """The cursor pointing just after the job created at ``created_at`` with ``job_id``."""
    raw = f"{created_at.isoformat()}{_SEP}{job_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position in ``cursor``; ``ValueError`` when it is not one this API issued."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, sep, ident = raw.partition(_SEP)
        # The one RFC 3339 parser: a crafted time the store cannot hold is refused here.
        created_at = parse_rfc3339(stamp)
        job_id = uuid.UUID(ident)
    except ValueError:
        raise ValueError(_NOT_OURS) from None
    if not sep:
        raise ValueError(_NOT_OURS)
    return created_at, job_id
