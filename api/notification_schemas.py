"""Request and response bodies of ``/v1/notifications`` and ``/v1/deliveries``, and the
record-to-JSON mapping."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.resources import Page, RecordOut, same_named
from api.schemas import (
    delay_field,
    idempotency_key_field,
    key_field,
    priority_field,
    run_at_field,
)
from tasks.notifications.deliveries import DeliveryRecord
from tasks.notifications.notify import (
    MAX_BODY,
    MAX_CHANNELS,
    MAX_DIGEST_WINDOW_S,
    MAX_SUBJECT,
    NotificationRequest,
    Sent,
)
from tasks.notifications.states import DeliveryStatus
from workers.names import NAME_PATTERN
from workers.queues import QueueName
from workers.timestamps import Rfc3339

_CHANNELS = (
    'Channel names (a list), or one glob over the names (`"ops-*"`); absent: the template\'s '
    "default channels. One delivery is made per channel."
)


class NotificationIn(BaseModel):
    """A notification to send: a stored `template` rendered against `data` at send time, or a
    literal `subject` and `text` (and optional `html`)."""

    model_config = ConfigDict(extra="forbid")

    channels: list[str] | str | None = Field(
        default=None, max_length=MAX_CHANNELS, description=_CHANNELS, examples=[["ops-mail"]]
    )
    template: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=NAME_PATTERN.pattern
    )
    subject: str | None = Field(default=None, max_length=MAX_SUBJECT, description="One line.")
    text: str | None = Field(default=None, max_length=MAX_BODY)
    html: str | None = Field(default=None, max_length=MAX_BODY)
    data: dict[str, Any] = Field(
        default_factory=dict, description="The template's variables (a JSON object)."
    )
    idempotency_key: str | None = idempotency_key_field("notification")
    priority: int | None = priority_field()
    queue: QueueName | None = Field(
        default=None, description="`critical` is never held for a digest."
    )
    delay_s: float | None = delay_field("Send")
    run_at: Rfc3339 | None = run_at_field("Send")
    digest_key: str | None = key_field(
        "Notifications sharing the key within the window go out as one message."
    )
    digest_window_s: int | None = Field(
        default=None, ge=1, le=MAX_DIGEST_WINDOW_S, strict=True, description="With digest_key."
    )

    def to_request(self, idempotency_key: str | None) -> NotificationRequest:
        """The request :func:`tasks.notifications.notify.send` takes (``idempotency_key``
        from the body or the header). Every field passes on by name."""
        values = dict(self)
        if isinstance(self.channels, list):
            values["channels"] = tuple(self.channels)
        values["queue"] = self.queue.value if self.queue is not None else None
        values["idempotency_key"] = idempotency_key
        return NotificationRequest(**values)


class NotificationOut(RecordOut):
    """A notification as recorded."""

    id: uuid.UUID
    template: str | None = Field(description="The template it renders; none for a literal one.")
    subject: str | None = Field(description="A literal message's subject.")
    queue: str
    priority: int
    idempotency_key: str | None = Field(description="The key it was sent with, if any.")
    digest_key: str | None
    source: str = Field(description="Who made it: `api`, `cli`, a subscription, ...")
    created_at: datetime


class DeliveryOut(RecordOut):
    """One notification (or a digest of several) through one channel."""

    id: uuid.UUID
    notification_id: uuid.UUID
    channel: str = Field(description="The channel's name (kept when the channel is removed).")
    channel_id: uuid.UUID | None = Field(description="`null` once the channel is removed.")
    status: DeliveryStatus
    job_id: uuid.UUID = Field(description="The internal `notify.deliver` job carrying it.")
    queue: str
    priority: int
    attempts: int
    max_attempts: int
    message_key: str = Field(
        description="The key the receiver sees (webhook `Idempotency-Key`, email `Message-ID`)."
    )
    digest_key: str | None
    error_class: str | None = Field(
        description="Why it did not go out (yet): `retryable`, `permanent`, `outcome_unknown`, "
        "`unsendable`, ..."
    )
    last_error: str | None
    status_code: int | None = Field(description="The last HTTP status or SMTP reply code.")
    provider_message_id: str | None
    maybe_delivered: bool = Field(
        description="The outcome of a send is unknown (the connection dropped after the "
        "request went out), or some recipients got it."
    )
    run_at: datetime | None = Field(description="When a scheduled or retrying one is due.")
    created_at: datetime
    sending_at: datetime | None = Field(description="When the last send was claimed.")
    sent_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None = Field(description="How long the last send took.")
    replay_of: uuid.UUID | None = Field(description="The delivery this one replays.")
    replayed_by: uuid.UUID | None = Field(description="The delivery that replayed this one.")

    @classmethod
    def from_record(cls, record: DeliveryRecord) -> DeliveryOut:
        """The JSON form of a delivery (its claim token stays inside)."""
        return cls(**same_named(record, cls, "channel"), channel=record.channel_name)


class NotificationSent(BaseModel):
    """A notification and its deliveries, one per channel (a digest's is shared)."""

    notification: NotificationOut
    deliveries: list[DeliveryOut]

    @classmethod
    def from_sent(cls, sent: Sent) -> NotificationSent:
        """The JSON form of what :func:`tasks.notifications.notify.send` made or found."""
        return cls(
            notification=NotificationOut.from_record(sent.notification),
            deliveries=[DeliveryOut.from_record(record) for record in sent.deliveries],
        )


class DeliveryPage(Page[DeliveryOut]):
    """A page of deliveries, newest first; pass ``next_cursor`` back as ``cursor`` for the next."""
