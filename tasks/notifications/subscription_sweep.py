"""The sweep that turns platform events into notifications, exactly once per subscription and
event (``maintenance.notify_sweep`` runs it every few seconds, under its lock).

For each enabled subscription it reads the events of its window, ``[watermark - OVERLAP,
now)``, a page at a time, and sends a notification for each one its glob matches, keyed
``<event>:<row id>`` in the scope ``subscription:<id>``: the unique idempotency index makes a
repeat (an overlapping window, a rerun after a crash between send and watermark, two
sweepers at once) return the notification already made. The watermark moves only after the
events before it were sent. The overlap re-reads rows committed late, or stamped by a host
whose clock is behind; a window never starts before the subscription's last edit (or its
creation), so an edit, or enabling it, applies from then on.

A subscription whose notifications cannot be made (a channel or template removed since) stops
where it is, with a warning, and catches up once it is fixed; the others go on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import select

from tasks.notifications import notify
from tasks.notifications.events import Event, EventKind, Position, message, read_page
from tasks.notifications.notify import NotificationRequest
from tasks.notifications.subscriptions import advance, channels_of, enabled_subscriptions
from workers.errors import (
    BrokerUnavailable,
    IdempotencyConflict,
    StoreUnavailable,
    TaskyardError,
)
from workers.store.engine import session_scope
from workers.store.models import Notification, Subscription
from workers.store.types import utcnow

log = logging.getLogger(__name__)

#: How far each window reaches back behind the watermark.
OVERLAP = timedelta(minutes=2)
#: Rows read per page.
PAGE = 500
#: Failures of the platform, not of a subscription: they fail the run instead of stalling it.
UNAVAILABLE = (StoreUnavailable, BrokerUnavailable)
#: What ``source`` a subscription's notifications carry.
SOURCE = "subscription"


def scope_of(subscription: Subscription) -> str:
    """The idempotency scope of a subscription's notifications."""
    return f"subscription:{subscription.id}"


@dataclass
class Swept:
    """What one sweep did: events matched, notifications made, repeats found already made,
    and the subscriptions that could not send (name: why)."""

    matched: int = 0
    sent: int = 0
    repeats: int = 0
    stalled: dict[str, str] = field(default_factory=dict)
    unfinished: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        """The sweep as a maintenance run's figures."""
        return {"matched": self.matched, "sent": self.sent, "repeats": self.repeats,
                "stalled": self.stalled, "unfinished": self.unfinished}  # fmt: skip


def request_for(subscription: Subscription, event: Event) -> NotificationRequest:
    """The notification ``subscription`` sends for ``event``."""
    channels = channels_of(subscription) or None
    if subscription.template_name is not None:
        return NotificationRequest(channels=channels, template=subscription.template_name,
                                   data=event.data, idempotency_key=event.key)  # fmt: skip
    subject, text = message(event)
    return NotificationRequest(channels=channels, subject=subject, text=text, data=event.data,
                               idempotency_key=event.key)  # fmt: skip


def window_start(subscription: Subscription) -> datetime:
    """Where the subscription's next window starts."""
    since = subscription.updated_at
    if subscription.scanned_until is None:
        return since
    return max(subscription.scanned_until - OVERLAP, since)


def _made(scope: str, keys: list[str]) -> set[str]:
    """Which of ``keys`` already have their notification (one indexed read per page)."""
    if not keys:
        return set()
    query = select(Notification.idempotency_key).where(
        Notification.idempotency_scope == scope, Notification.idempotency_key.in_(keys)
    )
    with session_scope() as session:
        return {key for key in session.scalars(query) if key is not None}


def _send(subscription: Subscription, event: Event, swept: Swept) -> None:
    request = request_for(subscription, event)
    try:
        sent = notify.send(request, source=SOURCE, subscription_id=subscription.id,
                           scope=scope_of(subscription))  # fmt: skip
    except IdempotencyConflict:
        # Made already for this event, before the subscription was edited.
        swept.repeats += 1
        return
    if sent.created:
        swept.sent += 1
        log.info("subscription.notified", extra={"action": "subscription.notified",
                 "subscription": subscription.name, "event": event.kind.value,
                 "key": event.key, "notification_id": str(sent.notification.id)})  # fmt: skip
    else:
        swept.repeats += 1


def sweep_one(subscription: Subscription, now: datetime, deadline: float, swept: Swept) -> None:
    """Send ``subscription``'s notifications for the events of its window, then move its
    watermark to ``now`` (or to the last full page, when ``deadline`` passes first)."""
    kind = EventKind(subscription.event)
    scope = scope_of(subscription)
    last: Position | None = None
    while True:
        page = read_page(kind, window_start(subscription), now, last, PAGE)
        matched = [e for e in page.events if fnmatchcase(e.name, subscription.match)]
        made = _made(scope, [e.key for e in matched])
        swept.matched += len(matched)
        swept.repeats += len(made)
        for event in matched:
            if event.key not in made:
                _send(subscription, event, swept)
        if page.rows < PAGE or page.last is None:
            advance(subscription.id, now)
            return
        last = page.last
        advance(subscription.id, page.last[0])
        if time.monotonic() > deadline:
            swept.unfinished.append(subscription.name)
            return


def sweep(budget_s: float = 60.0) -> Swept:
    """Serve every enabled subscription once, for up to about ``budget_s``; a subscription
    left unfinished carries on from its watermark next time."""
    now = utcnow()
    deadline = time.monotonic() + budget_s
    swept = Swept()
    for subscription in enabled_subscriptions():
        try:
            sweep_one(subscription, now, deadline, swept)
        except UNAVAILABLE:
            raise  # the run fails; the next one, 10 s on, tries again
        except TaskyardError as error:
            swept.stalled[subscription.name] = error.message
            log.warning("subscription.stalled", extra={"action": "subscription.stalled",
                        "subscription": subscription.name, "code": error.code,
                        "error": error.message})  # fmt: skip
    return swept
