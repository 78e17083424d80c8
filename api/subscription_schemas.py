"""Request and response bodies of ``/v1/subscriptions``, and the record-to-JSON mapping."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from api.resources import Page, PatchBody, RecordOut, same_named
from tasks.notifications.events import EventKind
from tasks.notifications.notify import MAX_CHANNELS
from tasks.notifications.subscriptions import MAX_MATCH, SubscriptionSpec, channels_of
from workers.names import NAME_PATTERN
from workers.store.models import Subscription

_EVENT = "What to tell: " + ", ".join(f"`{kind.value}`" for kind in EventKind) + "."
_MATCH = (
    "A glob over job types (job events), maintenance task names (`maintenance.failed`, e.g. "
    "`purge`) or schedule names (`schedule.missed`)."
)
_CHANNELS = (
    "Channel names, or one glob over the names (`ops-*`); empty: the template's default channels."
)
_TEMPLATE = "A template rendered against the event's data; absent: the built-in message."
_Name = Annotated[str, Field(min_length=1, max_length=200)]
Channels = Annotated[list[_Name], Field(max_length=MAX_CHANNELS)] | _Name


def _channels(value: Channels) -> tuple[str, ...] | str:
    return value if isinstance(value, str) else tuple(value)


class SubscriptionIn(BaseModel):
    """A subscription: an event, a glob over what it is about, where to tell, and how."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN.pattern)
    event: str = Field(max_length=64, description=_EVENT)
    match: str = Field(default="*", min_length=1, max_length=MAX_MATCH, description=_MATCH)
    channels: Channels = Field(default_factory=list, description=_CHANNELS)
    template: str | None = Field(default=None, max_length=200, description=_TEMPLATE)
    enabled: bool = Field(default=True, strict=True, description="Off: it sends nothing.")

    def to_spec(self) -> SubscriptionSpec:
        """The subscription this body describes (checked further by the store)."""
        return SubscriptionSpec(self.name, self.event, self.match, _channels(self.channels),
                                self.template, self.enabled)  # fmt: skip


class SubscriptionPatch(PatchBody):
    """Fields to change; absent ones stay. `template: null` goes back to the built-in message.
    An edit (enabling included) applies to events from then on."""

    not_null = ("event", "match", "channels", "enabled")
    event: str | None = Field(default=None, max_length=64)
    match: str | None = Field(default=None, min_length=1, max_length=MAX_MATCH)
    channels: Channels | None = None
    template: str | None = Field(default=None, max_length=200)
    enabled: bool | None = Field(default=None, strict=True)

    def changes(self) -> dict[str, Any]:
        """The fields sent, as :class:`SubscriptionSpec` takes them."""
        changes = super().changes()
        if isinstance(changes.get("channels"), list):
            changes["channels"] = tuple(changes["channels"])
        return changes


class SubscriptionOut(RecordOut):
    """A stored subscription; `scanned_until` is how far its events were turned into
    notifications."""

    id: uuid.UUID
    name: str
    event: str
    match: str
    channels: Channels
    template: str | None
    enabled: bool
    scanned_until: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, record: Subscription) -> SubscriptionOut:
        """The JSON form of a stored subscription."""
        channels = channels_of(record)
        return cls(
            **same_named(record, cls, "channels", "template"),
            channels=channels if isinstance(channels, str) else list(channels),
            template=record.template_name,
        )


class SubscriptionPage(Page[SubscriptionOut]):
    """A page of subscriptions, newest first; pass ``next_cursor`` back as ``cursor``."""
