"""Request and response bodies of ``/v1/alert-routes``, ``/v1/inhibit-rules`` and
``/v1/silences``. The checks that name a field (matchers that can match something, channels
that exist, an end after the start) are ``tasks.alerts.route_store``'s, so the API and the
CLI refuse the same input with the same words."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from api.resources import Page, PatchBody, RecordOut
from tasks.alerts.route_store import InhibitSpec, RouteSpec, parent_name, silence_state
from workers.names import NAME_PATTERN
from workers.store.models import AlertRoute, SilenceRow
from workers.timestamps import Rfc3339

_MATCHERS = (
    'Label matchers, each `"name=value"` text (also `!=`, `=~` regex, `!~`) or '
    '`{"name", "op", "value"}`; an alert passes when it passes them all. Alerts carry their '
    "rule's labels plus `alertname` (the rule's name) and `severity`."
)
_GROUP_BY = 'Labels whose values make one group; `["..."]`: every label (a group per alert).'
_NAME = Field(min_length=1, max_length=200, pattern=NAME_PATTERN.pattern)


class AlertRouteIn(BaseModel):
    """A route of the alert route tree."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = _NAME
    parent: str | None = Field(default=None, description="The parent route's name; none: top.")
    position: StrictInt = Field(default=0, description="Siblings are tried in this order.")
    matchers: list[Any] = Field(default_factory=list, description=_MATCHERS)
    channels: list[str] = Field(default_factory=list, description="Channels its groups notify.")
    group_by: list[str] = Field(default_factory=lambda: ["alertname"], description=_GROUP_BY)
    group_wait_s: StrictInt = Field(default=30, description="A new group waits this long.")
    group_interval_s: StrictInt = Field(default=300, description="Between a group's changes.")
    repeat_interval_s: StrictInt = Field(default=14_400, description="Unchanged: sent again.")
    send_resolved: StrictBool = True
    continues: StrictBool = Field(
        default=False, alias="continue", description="Try the next siblings too."
    )

    def to_spec(self) -> RouteSpec:
        """The route this body describes (validated further by the store)."""
        return RouteSpec(**self.model_dump())


class AlertRoutePatch(PatchBody):
    """Fields to change; absent ones stay (`parent: null` moves it to the top)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    not_null = ("position", "matchers", "channels", "group_by", "group_wait_s",
                "group_interval_s", "repeat_interval_s", "send_resolved", "continues")  # fmt: skip

    parent: str | None = None
    position: StrictInt | None = None
    matchers: list[Any] | None = None
    channels: list[str] | None = None
    group_by: list[str] | None = None
    group_wait_s: StrictInt | None = None
    group_interval_s: StrictInt | None = None
    repeat_interval_s: StrictInt | None = None
    send_resolved: StrictBool | None = None
    continues: StrictBool | None = Field(default=None, alias="continue")


class AlertRouteOut(RecordOut):
    """A stored route."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    id: uuid.UUID
    name: str
    parent: str | None
    position: int
    matchers: list[dict[str, str]]
    channels: list[str]
    group_by: list[str]
    group_wait_s: int
    group_interval_s: int
    repeat_interval_s: int
    send_resolved: bool
    continues: bool = Field(alias="continue")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, row: AlertRoute) -> Self:
        """The JSON form of a stored route, with its parent's name."""
        return cls.with_computed(row, parent=parent_name(row))


class AlertRoutePage(Page[AlertRouteOut]):
    """A page of routes, newest first."""


class InhibitRuleIn(BaseModel):
    """An inhibit rule."""

    model_config = ConfigDict(extra="forbid")

    name: str = _NAME
    source_matchers: list[Any] = Field(description="Firing alerts that mute. " + _MATCHERS)
    target_matchers: list[Any] = Field(description="Alerts they mute.")
    equal: list[str] = Field(default_factory=list, description="Labels both must share.")

    def to_spec(self) -> InhibitSpec:
        """The rule this body describes (validated further by the store)."""
        return InhibitSpec(**self.model_dump())


class InhibitRulePatch(PatchBody):
    """Fields to change; absent ones stay."""

    not_null = ("source_matchers", "target_matchers", "equal")
    source_matchers: list[Any] | None = None
    target_matchers: list[Any] | None = None
    equal: list[str] | None = None


class InhibitRuleOut(RecordOut):
    """A stored inhibit rule."""

    id: uuid.UUID
    name: str
    source_matchers: list[dict[str, str]]
    target_matchers: list[dict[str, str]]
    equal: list[str]
    created_at: datetime
    updated_at: datetime


class InhibitRulePage(Page[InhibitRuleOut]):
    """A page of inhibit rules, newest first."""


class SilenceIn(BaseModel):
    """A silence: what it mutes, from when until when, and why."""

    model_config = ConfigDict(extra="forbid")

    matchers: list[Any] = Field(description=_MATCHERS)
    starts_at: Rfc3339 | None = Field(default=None, description="Default: now.")
    ends_at: Rfc3339
    comment: str = Field(min_length=1, max_length=2_000)


class SilenceOut(RecordOut):
    """A silence, with its state now (`pending`, `active`, `expired`)."""

    id: uuid.UUID
    matchers: list[dict[str, str]]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str = Field(description="The API key (or CLI operator) that made it.")
    state: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, row: SilenceRow) -> Self:
        """The JSON form of a silence, with its state now."""
        return cls.with_computed(row, state=silence_state(row))


class SilencePage(Page[SilenceOut]):
    """A page of silences, newest first."""
