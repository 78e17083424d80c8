"""What a sender sends: a subject, a text body, an optional HTML body, data, and the key
that lets a provider recognise a repeat."""

from __future__ import annotations

import ssl
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from workers.settings import get_settings


@dataclass(frozen=True)
class Message:
    """One message for one channel."""

    subject: str
    text: str
    html: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str = field(default_factory=lambda: uuid.uuid4().hex)


def channel_test_message(channel: str) -> Message:
    """The message ``POST /v1/channels/{id}/test`` and ``taskyard channels test`` send."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return Message(
        subject=f"Taskyard test message for channel {channel}",
        text=f"This is a test message sent to channel {channel} at {now}. "
        "If you read it, the channel works.",
        data={"test": True},
    )


def tls_context() -> ssl.SSLContext:
    """Certificate-checking TLS for SMTP and HTTPS: the system's CAs plus
    ``TASKYARD_NOTIFY_CA_FILE`` when set. One per process and CA file, shared by every send:
    loading the system's CAs takes tens of milliseconds, and nothing changes a context after
    it is made (a CA file edited in place is read again after a restart)."""
    return _context(get_settings().notify_ca_file)


@lru_cache(maxsize=4)
def _context(extra: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if extra is not None:
        context.load_verify_locations(cafile=str(extra))
    return context
