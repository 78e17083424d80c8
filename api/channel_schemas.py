"""Request and response bodies of ``/v1/channels``: settings go in, secrets never come out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.resources import Page, PatchBody, RecordOut, same_named
from tasks.notifications.channels import MAX_DESCRIPTION, ChannelConfig
from tasks.notifications.outcomes import ErrorClass, Outcome
from tasks.notifications.store import secret_names
from workers.names import NAME_PATTERN
from workers.store.models import Channel

_NAME = NAME_PATTERN.pattern
_CONFIG = (
    "The kind's settings, told apart by `kind`: `email` (host, port, security, username, "
    "password, sender, recipients), `webhook` (url, secret), `slack` (url) or `apprise` (url). "
    "Secrets (password, secret, the Slack and Apprise URLs) are write-only. Every kind also "
    "takes `rate_limit` (sends across all workers, e.g. `20/second`) and `idempotent` (the "
    "receiver drops a repeated `Idempotency-Key` or `Message-ID`; default false)."
)
_PATCH_CONFIG = (
    "Only the settings to change; a secret left out is kept, `null` clears an optional one. "
    "The kind cannot change."
)


class ChannelIn(BaseModel):
    """A new channel: a unique name and its kind's settings."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=_NAME, examples=["ops-mail"])
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    config: ChannelConfig = Field(description=_CONFIG)


class ChannelPatch(PatchBody):
    """Fields to change; absent ones stay."""

    not_null = ("name", "config")
    name: str | None = Field(default=None, min_length=1, max_length=200, pattern=_NAME)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    config: dict[str, Any] | None = Field(default=None, description=_PATCH_CONFIG)


class ChannelOut(RecordOut):
    """A channel as the API shows it: its public settings and the names of its secrets."""

    id: uuid.UUID
    name: str
    kind: str = Field(description="`email`, `webhook`, `slack` or `apprise`.")
    description: str | None
    config: dict[str, Any] = Field(description="The settings that are not secret.")
    secrets: list[str] = Field(description="The secrets set (names only: they are write-only).")
    secrets_sealed: bool = Field(
        description="Whether the secrets are encrypted at rest (TASKYARD_SECRET_KEYS is set)."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: Channel) -> ChannelOut:
        """The JSON form of a stored channel."""
        return cls(
            **same_named(record, cls, "secrets", "secrets_sealed"),
            secrets=secret_names(record),
            secrets_sealed=record.sealed,
        )


class ChannelPage(Page[ChannelOut]):
    """A page of channels, newest first; pass ``next_cursor`` back as ``cursor`` for the next."""


class ChannelTestOut(BaseModel):
    """A delivered test message: the provider's answer and how long it took."""

    channel: str
    ok: bool
    status_code: int | None = Field(description="HTTP status, or the SMTP reply code.")
    message_id: str | None = Field(description="The provider's id for the message, if any.")
    error_class: ErrorClass | None
    error: str | None
    retry_after_s: float | None
    maybe_delivered: bool
    duration_s: float

    @classmethod
    def from_outcome(cls, channel: str, outcome: Outcome) -> ChannelTestOut:
        """The JSON form of a send's outcome."""
        return cls(channel=channel, **outcome.as_dict())
