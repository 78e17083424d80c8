"""Alert test helpers: a rule on an SQL signal, the notices' deliveries carried as their jobs
would carry them, and what a webhook sink received."""

from __future__ import annotations

import json

from sqlalchemy import select

from tasks.alerts import rule_store
from tasks.alerts.decision import Op
from tasks.alerts.notices import SCOPE
from tasks.alerts.rules import RuleSpec
from tasks.alerts.sources import SourceKind
from tasks.notifications.catalog import DeliverPayload
from tasks.notifications.sending import deliver
from tests.support.sinks import HttpSink
from workers.store.engine import session_scope
from workers.store.models import Delivery, Notification


def deliver_alert_notices() -> None:
    """Carry every alert notice's deliveries as their jobs would (each run sends once)."""
    query = (
        select(Delivery.id)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Notification.idempotency_scope == SCOPE)
    )
    with session_scope() as session:
        ids = list(session.scalars(query))
    for delivery_id in ids:
        deliver(DeliverPayload(delivery_id=str(delivery_id)))


def subjects(sink: HttpSink) -> list[str]:
    """The subjects of the webhook messages ``sink`` received, in order."""
    return [json.loads(r.body)["subject"] for r in sink.received]


def sql_rule(name: str, query: str, channels: tuple[str, ...] = (), interval_s: int = 10) -> None:
    """A rule firing while ``query``'s value is above 0, evaluated every ``interval_s``."""
    rule_store.create_rule(
        RuleSpec(
            name=name,
            source=SourceKind.SQL,
            op=Op.GT,
            threshold=0.0,
            spec={"query": query},
            interval_s=interval_s,
            channels=channels,
        )
    )
