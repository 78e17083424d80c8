"""FIRING and RESOLVED notices: the events that owe one are an outbox, sent through
:func:`tasks.notifications.notify.send` with the key ``alert:<instance id>:<event id>``, so a
notice sent twice (a crash between the send and its mark, two evaluators flushing at once)
is one notification. The subject and text are the rule's annotations rendered against the
event; a render that fails at send time still sends, with the failure in the text."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from tasks.alerts import instances, routing
from tasks.alerts.received import annotations_for
from tasks.alerts.rules import notice_data, spec_of
from tasks.alerts.sources import SourceKind
from tasks.notifications import notify
from tasks.notifications.errors import InvalidNotification, RenderError
from tasks.notifications.notify import NotificationRequest
from tasks.notifications.rendering import Rendered, Sources, render
from workers.errors import IdempotencyConflict, TaskyardError
from workers.store.engine import session_scope
from workers.store.models import AlertEventRow, AlertInstance, AlertRule
from workers.store.types import utcnow

log = logging.getLogger(__name__)

#: Whose idempotency keys alert notices are (``notify.send``'s scope).
SCOPE = "alerts"
SOURCE = "alert"
#: Notices one flush sends at most; the rest wait for the next tick.
BATCH = 200


def idempotency_key(instance_id: uuid.UUID, event_id: uuid.UUID) -> str:
    """The key a notice is sent with: one notification per event."""
    return f"alert:{instance_id}:{event_id}"


@dataclass(frozen=True)
class Owed:
    """An event that owes a notice, with what its message is made of."""

    event: AlertEventRow
    instance: AlertInstance
    rule: AlertRule


def _load(event_id: uuid.UUID) -> Owed | None:
    with session_scope() as session:
        event = session.get(AlertEventRow, event_id)
        if event is None or event.notified_at is not None:
            return None
        instance = session.get(AlertInstance, event.instance_id)
        rule = session.get(AlertRule, event.rule_id)
        if instance is None or rule is None:
            return None
        return Owed(event, instance, rule)


def message(owed: Owed) -> Rendered:
    """The notice's subject and text."""
    spec = spec_of(owed.rule)
    labels = dict(owed.instance.labels)
    door = spec.source is SourceKind.ALERTMANAGER
    received = annotations_for(labels, spec.labels) if door else None
    data = notice_data(spec, labels, owed.event.value, owed.event.target_state, received)
    notice = owed.event.notice
    try:
        rendered = render(
            Sources(spec.annotations["summary"], spec.annotations["description"]), data
        )
        summary, description = rendered.subject, rendered.text
    except RenderError as error:
        summary, description = spec.name, f"(the annotations did not render: {error.reason})"
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"
    facts = [
        f"rule: {spec.name}",
        f"severity: {spec.severity.value}",
        f"labels: {shown}",
        f"value: {owed.event.value}",
        f"condition: {spec.op.value} {spec.threshold:g}",
        f"at: {owed.event.at.isoformat()}",
    ]
    text = "\n".join([description, "", *facts]) if description.strip() else "\n".join(facts)
    return Rendered(subject=f"[{notice}] {summary}"[:998], text=text, html=None)


def send_one(event_id: uuid.UUID, conf: routing.Config | None = None) -> bool:
    """Send the notice event ``event_id`` owes and mark it; whether it is settled now (sent,
    taken by the groups of the routes its alert ends at, or given up: a channel removed
    since). A store or broker outage leaves it for later."""
    owed = _load(event_id)
    if owed is None:
        return True
    conf = conf or routing.config(utcnow())
    labels = routing.alert_labels(owed.rule.name, owed.rule.severity, owed.instance.labels)
    routes = routing.routed(labels, conf)
    if routes:
        instances.settle_notice(event_id, None, None, routes)
        return True
    channels = tuple(owed.rule.channels)
    if not channels:
        instances.settle_notice(event_id, None, None)
        return True
    rendered = message(owed)
    request = NotificationRequest(
        channels=channels,
        subject=rendered.subject,
        text=rendered.text,
        idempotency_key=idempotency_key(owed.instance.id, event_id),
    )
    extra = {"event_id": str(event_id), "rule": owed.rule.name, "notice": owed.event.notice}
    try:
        sent = notify.send(request, source=SOURCE, scope=SCOPE)
    except IdempotencyConflict:  # sent before with other words (the rule edited since)
        instances.settle_notice(event_id, None, None)
        return True
    except InvalidNotification as error:
        instances.settle_notice(event_id, None, error.message)
        log.warning(
            "alert notice not sent: %s",
            error.message,
            extra={"action": "alert.notice_refused", **extra},
        )
        return True
    except TaskyardError as error:
        log.warning(
            "alert notice deferred: %s",
            error.message,
            extra={"action": "alert.notice_deferred", **extra},
        )
        return False
    instances.settle_notice(event_id, sent.notification.id, None)
    log.info(
        "alert notice %s",
        owed.event.notice,
        extra={"action": "alert.notified", "notification_id": str(sent.notification.id), **extra},
    )
    return True


def flush(rule_id: uuid.UUID | None = None, limit: int = BATCH) -> int:
    """Send the notices owed (of one rule), oldest first; how many were settled."""
    settled = 0
    conf = routing.config(utcnow())
    for event_id in instances.unsent(limit, rule_id):
        if not send_one(event_id, conf):
            break  # an outage: the next tick tries again
        settled += 1
    return settled
