"""Deliveries of notifications: listed a page at a time, read, replayed as a new delivery,
cancelled before they are sent. Reading needs `notifications:read`; replaying or cancelling
needs the scope to send to the delivery's channel."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import DeliveryReadKey, check_notify, delivery_reader, notifier
from api.listing import Cursor, Limit, Position, listed
from api.notification_schemas import DeliveryOut, DeliveryPage
from api.refusals import refuse_idempotency_header
from api.resource_routes import ResourceRoutes
from api.schemas import error_responses
from tasks.notifications import deliveries, notify
from tasks.notifications.deliveries import DeliveryFilter, DeliveryRecord
from tasks.notifications.errors import DeliveryNotFound
from tasks.notifications.states import DeliveryStatus
from workers.names import NAME_PATTERN
from workers.store.models import ApiKey
from workers.timestamps import Rfc3339

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])

ChannelFilter = Annotated[
    str | None, Query(max_length=200, pattern=NAME_PATTERN.pattern, description="A channel name.")
]
After = Annotated[Rfc3339 | None, Query(description="Created at or after this time (RFC 3339).")]
Before = Annotated[Rfc3339 | None, Query(description="Created before this time (RFC 3339).")]
_REPLAY_REFUSAL = refuse_idempotency_header(
    "every replay makes a new delivery; the original's replayed_by names it"
)


@router.get("", summary="List deliveries", responses=error_responses(401, 403, 422, 503))
def list_deliveries(
    key: DeliveryReadKey,
    status: DeliveryStatus | None = None,
    channel: ChannelFilter = None,
    notification_id: uuid.UUID | None = None,
    created_after: After = None,
    created_before: Before = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DeliveryPage:
    """Deliveries matching the filters, newest first, a page at a time. Needs
    `notifications:read`."""
    where = DeliveryFilter(
        status=status.value if status else None,
        channel=channel,
        notification_id=notification_id,
        created_after=created_after,
        created_before=created_before,
    )

    def fetch(before: Position | None, count: int) -> list[DeliveryRecord]:
        return deliveries.page(where, before, count)

    return listed(DeliveryPage, DeliveryOut.from_record, fetch, cursor, limit)


routes = ResourceRoutes(
    router, "delivery", DeliveryNotFound, DeliveryOut, read=delivery_reader, write=notifier
)
routes.add_get(
    "Get a delivery",
    """The delivery: its status, attempts, last error and the provider's answer, its timings
    and replay links. Needs `notifications:read`.""",
    deliveries.get,
)


def _sendable(delivery_id: uuid.UUID, key: ApiKey) -> DeliveryRecord:
    """The delivery, when ``key`` may send to its channel (the rule for acting on it)."""
    record = deliveries.get(delivery_id)
    check_notify(key, record.channel_name)
    return record


def _replay(delivery_id: uuid.UUID, key: ApiKey) -> DeliveryOut:
    """Send a failed, dead or cancelled delivery again as a new delivery (its `replay_of`
    names the original, whose `replayed_by` names it), queued now: 202 with the new delivery.
    409 `delivery_state_conflict` for any other status, a delivery replayed already, or one
    whose channel was removed. Needs the scope to send to its channel."""
    record = _sendable(delivery_id, key)
    return DeliveryOut.from_record(notify.replay(record.id))


def _cancel(delivery_id: uuid.UUID, key: ApiKey) -> DeliveryOut:
    """Cancel a delivery waiting to be sent (`queued`, `scheduled` or `retrying`): it is
    `cancelled` at once and never sent. 409 `delivery_state_conflict` once it is being sent
    or has finished. Needs the scope to send to its channel."""
    record = _sendable(delivery_id, key)
    return DeliveryOut.from_record(deliveries.cancel(record.id))


routes.add_action("replay", "Replay a delivery", _replay, 409, 422, refusal=_REPLAY_REFUSAL)
routes.add_action("cancel", "Cancel a delivery", _cancel, 409)
