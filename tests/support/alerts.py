"""Alert notices in tests: carried to their channels as the deliveries' jobs would carry them."""

from __future__ import annotations

from sqlalchemy import select

from tasks.alerts.notices import SCOPE
from tasks.notifications.catalog import DeliverPayload
from tasks.notifications.sending import deliver
from workers.store.engine import session_scope
from workers.store.models import Delivery, Notification


def deliver_alert_notices() -> None:
    """Run every alert notice's delivery once (a delivery already settled sends nothing)."""
    query = (
        select(Delivery.id)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Notification.idempotency_scope == SCOPE)
    )
    with session_scope() as session:
        ids = list(session.scalars(query))
    for delivery_id in ids:
        deliver(DeliverPayload(delivery_id=str(delivery_id)))
