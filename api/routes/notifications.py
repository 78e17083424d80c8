"""Sending a notification: one delivery per channel, each carried through the queues by an
internal job. Needs `notifications:write`, or `notifications:write:<glob>` matching every
channel the notification goes to."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Response

from api.auth import NotifyKey
from api.idempotency import DEDUPLICATED_HEADER, IdempotencyHeader, deduplicated, idempotency_key
from api.notification_schemas import NotificationIn, NotificationSent
from api.schemas import error_responses
from tasks.notifications import notify
from workers.scopes import may_notify

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])

_DEDUPLICATED = deduplicated(
    NotificationSent, "The idempotency key named this notification already: it is returned."
)


@router.post(
    "",
    status_code=202,
    summary="Send a notification",
    responses={**_DEDUPLICATED, **error_responses(401, 403, 409, 413, 422, 503)},
)
def send_notification(
    body: NotificationIn,
    key: NotifyKey,
    response: Response,
    idempotency_header: IdempotencyHeader = None,
) -> NotificationSent:
    """Record the notification with one delivery per channel and queue them (`scheduled`
    instead when delayed or held for a digest): 202. 403 `forbidden` naming the scope when the
    key may not send to one of the channels; 422 `invalid_notification` for a channel, glob
    or template that names nothing, or a malformed message.

    With an idempotency key (per API key) named before, the same request gets that
    notification back with 200 and `Taskyard-Deduplicated: true`; another request is a 409
    `idempotency_conflict`.
    """
    request = body.to_request(idempotency_key(body.idempotency_key, idempotency_header))
    sent = notify.send(
        request, source="api", api_key_id=key.id, may_use=partial(may_notify, key.scopes)
    )
    if not sent.created:
        response.status_code = 200
        response.headers[DEDUPLICATED_HEADER] = "true"
    return NotificationSent.from_sent(sent)
