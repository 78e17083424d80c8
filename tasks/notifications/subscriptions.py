"""Subscriptions: "tell me when a billing job dies" as data. A subscription names an event
(:class:`tasks.notifications.events.EventKind`), a glob over what the event is about (job
types, maintenance task names or schedule names), the channels it goes to (names, or one
glob over the names, as a notification takes them) and, optionally, a template; without one,
the event's built-in message is sent. Created, listed a page at a time, read, edited and
removed here; every write is checked by :func:`check_subscription` first. The sweep that
turns events into notifications is :mod:`tasks.notifications.subscription_sweep`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import or_, select, update

from tasks.jobs.catalog import CATALOG
from tasks.maintenance.catalog import NAMES as MAINTENANCE_NAMES
from tasks.notifications import events
from tasks.notifications.errors import (
    InvalidNotification,
    InvalidSubscription,
    RenderError,
    SubscriptionConflict,
    SubscriptionNotFound,
    TemplateNotFound,
)
from tasks.notifications.events import EventKind
from tasks.notifications.notify import NotificationRequest, resolve_channels
from tasks.notifications.template_store import find_template, render_for_send
from workers.names import NAME_RULE, is_name
from workers.storable import Unstorable, check_text
from workers.store.engine import session_scope
from workers.store.lookup import NamedRows, name_taken
from workers.store.models import Subscription
from workers.store.types import utcnow

#: The fields an edit may change (``name`` is the subscription's identity).
EDITABLE = frozenset({"event", "match", "channels", "template", "enabled"})
MAX_MATCH = 200
_GLOB = frozenset("*?[")

Channels = tuple[str, ...] | str


def is_glob(text: str) -> bool:
    """Whether ``text`` is a glob rather than a name (names hold none of ``*?[``)."""
    return not _GLOB.isdisjoint(text)


@dataclass(frozen=True)
class SubscriptionSpec:
    """A subscription's definition: ``channels`` is a tuple of names or one glob over the
    names (empty: the template's default channels)."""

    name: str
    event: str
    match: str = "*"
    channels: Channels = ()
    template: str | None = None
    enabled: bool = True

    def columns(self) -> dict[str, Any]:
        """The subscription as ``subscriptions`` column values (a glob is stored alone in the
        list: no name can be mistaken for one)."""
        channels = [self.channels] if isinstance(self.channels, str) else list(self.channels)
        return {"name": self.name, "event": self.event, "match": self.match,
                "channels": channels, "template_name": self.template,
                "enabled": self.enabled}  # fmt: skip


def channels_of(record: Subscription) -> Channels:
    """A stored subscription's channels as given: names, or the one glob."""
    stored = list(record.channels)
    if len(stored) == 1 and is_glob(stored[0]):
        return str(stored[0])
    return tuple(stored)


def spec_of(record: Subscription) -> SubscriptionSpec:
    """The stored subscription's definition."""
    return SubscriptionSpec(record.name, record.event, record.match, channels_of(record),
                            record.template_name, record.enabled)  # fmt: skip


def invalid(field_name: str, message: str) -> InvalidSubscription:
    """An :class:`InvalidSubscription` about one field."""
    return InvalidSubscription(
        f"{field_name}: {message}", [{"field": field_name, "message": message}]
    )


def _matchable(kind: EventKind) -> list[str] | None:
    """What ``match`` may name for ``kind`` (``None``: anything, as schedules come and go)."""
    if kind.family == "job":
        return sorted(t.name for t in CATALOG if t.internal is None)
    if kind.family == "maintenance":
        return list(MAINTENANCE_NAMES)
    return None


def _check_match(kind: EventKind, match: str) -> None:
    if not match or len(match) > MAX_MATCH or not match.isprintable():
        raise invalid("match", f"a glob of 1-{MAX_MATCH} printable characters")
    known = _matchable(kind)
    if known is not None and not any(fnmatchcase(name, match) for name in known):
        shown = ", ".join(known)
        raise invalid("match", f"{match!r} matches none of the {kind.matches}: {shown}")


def _check_channels(spec: SubscriptionSpec) -> None:
    channels = spec.channels if spec.channels else None
    try:
        resolve_channels(NotificationRequest(channels=channels, template=spec.template))
    except InvalidNotification as error:
        message = error.message.removeprefix("channels: ").removeprefix("template: ")
        raise invalid("channels", message) from None


def _check_template(kind: EventKind, name: str) -> None:
    try:
        render_for_send(find_template(name), events.sample(kind))
    except TemplateNotFound:
        raise invalid("template", f"no template named {name!r}") from None
    except RenderError as error:
        raise invalid("template", f"does not render {kind.value} data: {error.reason}") from None


def check_subscription(spec: SubscriptionSpec) -> SubscriptionSpec:
    """``spec`` checked: a name, a known event, a glob that can match, channels that exist (or
    a glob that matches some now), and a template that renders the event's data."""
    if not is_name(spec.name):
        raise invalid("name", f"{spec.name[:200]!r} is not a usable name; {NAME_RULE}")
    try:
        kind = EventKind(spec.event)
    except ValueError:
        known = ", ".join(k.value for k in EventKind)
        raise invalid("event", f"unknown event {spec.event[:200]!r}; use one of {known}") from None
    try:
        check_text("match", spec.match, MAX_MATCH)
    except Unstorable as error:
        raise invalid("match", error.message) from None
    _check_match(kind, spec.match)
    if spec.template is not None:
        if not is_name(spec.template):
            raise invalid("template", f"{spec.template[:200]!r} is not a template name")
        _check_template(kind, spec.template)
    elif not spec.channels:
        raise invalid("channels", "name channels (or a template with default channels)")
    _check_channels(spec)
    return spec


# -- the store -------------------------------------------------------------------------------


SUBSCRIPTIONS = NamedRows(
    Subscription,
    SubscriptionNotFound,
    "subscription",
    name_taken(SubscriptionConflict, "a subscription"),
    EDITABLE,
)
#: A page of subscriptions, newest first; one by id; one by name (:class:`SubscriptionNotFound`).
list_subscriptions, get_subscription = SUBSCRIPTIONS.page, SUBSCRIPTIONS.get
find_subscription = SUBSCRIPTIONS.find


def create_subscription(spec: SubscriptionSpec) -> Subscription:
    """Store a new subscription (checked); it sees events from now on."""
    return SUBSCRIPTIONS.add(Subscription(**check_subscription(spec).columns()))


def update_subscription(subscription_id: uuid.UUID, changes: Mapping[str, Any]) -> Subscription:
    """Apply ``changes`` (fields of :data:`EDITABLE`; ``template`` ``None`` goes back to the
    built-in message), checked as a whole before anything is written. Enabling a disabled
    subscription starts it at now: what happened while it was off is not sent."""
    SUBSCRIPTIONS.check_editable(changes)
    with session_scope() as session:
        record = SUBSCRIPTIONS.row(session, subscription_id, lock=True)
        was_enabled = record.enabled
        new = check_subscription(replace(spec_of(record), **changes))
        for name, value in new.columns().items():
            setattr(record, name, value)
        if new.enabled and not was_enabled:
            record.scanned_until = utcnow()
    return record


def delete_subscription(subscription_id: uuid.UUID) -> None:
    """Remove a subscription (its notifications stay, no longer linked to it)."""
    with session_scope() as session:
        record = SUBSCRIPTIONS.row(session, subscription_id)
        session.delete(record)


def enabled_subscriptions() -> list[Subscription]:
    """The subscriptions the sweep serves, oldest first."""
    query = select(Subscription).where(Subscription.enabled.is_(True))
    with session_scope() as session:
        return list(session.scalars(query.order_by(Subscription.created_at, Subscription.id)))


def advance(subscription_id: uuid.UUID, until: datetime) -> None:
    """Note that events before ``until`` were turned into notifications (never moving the
    watermark back, nor touching ``updated_at``, which says when an operator edited it)."""
    statement = (
        update(Subscription)
        .where(
            Subscription.id == subscription_id,
            or_(Subscription.scanned_until.is_(None), Subscription.scanned_until < until),
        )
        .values(scanned_until=until, updated_at=Subscription.updated_at)
    )
    with session_scope() as session:
        session.execute(statement)
