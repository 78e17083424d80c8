"""Deliveries of notifications: listed a page at a time, read, replayed as a new delivery,
cancelled before they are sent. Reading needs `notifications:read`; replaying or cancelling
needs the scope to send to the delivery's channel."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import DeliveryReadKey, NotifyKey, check_notify
from api.listing import Cursor, Limit, Position, fetch_page
from api.notification_schemas import DeliveryOut, DeliveryPage
from api.refusals import refuse_idempotency_header
from api.resources import path_id
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
ReplayKeyRefused = Annotated[
    None,
    refuse_idempotency_header(
        "every replay makes a new delivery; the original's replayed_by names it"
    ),
]


def _delivery_id(delivery_id: str) -> uuid.UUID:
    return path_id(delivery_id, "delivery", DeliveryNotFound.code)


def _sendable(delivery_id: str, key: ApiKey) -> DeliveryRecord:
    """The delivery, when ``key`` may send to its channel (the rule for acting on it)."""
    record = deliveries.get(_delivery_id(delivery_id))
    check_notify(key, record.channel_name)
    return record


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

    page, next_cursor = fetch_page(fetch, cursor, limit)
    return DeliveryPage(items=[DeliveryOut.from_record(r) for r in page], next_cursor=next_cursor)


@router.get(
    "/{delivery_id}", summary="Get a delivery", responses=error_responses(401, 403, 404, 503)
)
def get_delivery(delivery_id: str, key: DeliveryReadKey) -> DeliveryOut:
    """The delivery: its status, attempts, last error and the provider's answer, its timings
    and replay links. Needs `notifications:read`."""
    return DeliveryOut.from_record(deliveries.get(_delivery_id(delivery_id)))


@router.post(
    "/{delivery_id}/replay",
    status_code=202,
    summary="Replay a delivery",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def replay(delivery_id: str, key: NotifyKey, _: ReplayKeyRefused = None) -> DeliveryOut:
    """Send a failed, dead or cancelled delivery again as a new delivery (its `replay_of`
    names the original, whose `replayed_by` names it), queued now: 202 with the new delivery.
    409 `delivery_state_conflict` for any other status, a delivery replayed already, or one
    whose channel was removed. Needs the scope to send to its channel."""
    record = _sendable(delivery_id, key)
    return DeliveryOut.from_record(notify.replay(record.id))


@router.post(
    "/{delivery_id}/cancel",
    status_code=202,
    summary="Cancel a delivery",
    responses=error_responses(401, 403, 404, 409, 503),
)
def cancel(delivery_id: str, key: NotifyKey) -> DeliveryOut:
    """Cancel a delivery waiting to be sent (`queued`, `scheduled` or `retrying`): it is
    `cancelled` at once and never sent. 409 `delivery_state_conflict` once it is being sent
    or has finished. Needs the scope to send to its channel."""
    record = _sendable(delivery_id, key)
    return DeliveryOut.from_record(deliveries.cancel(record.id))
