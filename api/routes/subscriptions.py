"""Subscriptions: create (checked: a known event, a glob that can match, channels that
exist, a template that renders the event's data), list a page at a time, read, edit, remove.
Everything needs `admin`; subscription errors (422 invalid, 404 unknown, 409 taken) are
answered by the table in ``api/errors.py``."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api.auth import AdminKey
from api.listing import Cursor, Limit, fetch_page
from api.resources import non_null, path_id
from api.schemas import error_responses
from api.subscription_schemas import (
    NOT_NULL,
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPage,
    SubscriptionPatch,
)
from tasks.notifications import subscriptions as store
from tasks.notifications.errors import SubscriptionNotFound

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])


def _subscription_id(subscription_id: str) -> uuid.UUID:
    return path_id(subscription_id, "subscription", SubscriptionNotFound.code)


@router.post(
    "",
    status_code=201,
    summary="Create a subscription",
    responses=error_responses(401, 403, 409, 422, 503),
)
def create_subscription(body: SubscriptionIn, key: AdminKey) -> SubscriptionOut:
    """Store a subscription; it sees events from now on. 422 `invalid_subscription` naming
    the field (an unknown event, a glob that matches no job type or maintenance task, a
    channel that does not exist, a template that does not render the event's data); 409 when
    the name is taken. Needs `admin`."""
    return SubscriptionOut.from_record(store.create_subscription(body.to_spec()))


@router.get("", summary="List subscriptions", responses=error_responses(401, 403, 422, 503))
def list_subscriptions(key: AdminKey, limit: Limit = 50, cursor: Cursor = None) -> SubscriptionPage:
    """Subscriptions, newest first, a page at a time. Needs `admin`."""
    page, next_cursor = fetch_page(store.list_subscriptions, cursor, limit)
    items = [SubscriptionOut.from_record(r) for r in page]
    return SubscriptionPage(items=items, next_cursor=next_cursor)


@router.get(
    "/{subscription_id}", summary="Get a subscription", responses=error_responses(401, 403, 404)
)
def get_subscription(subscription_id: str, key: AdminKey) -> SubscriptionOut:
    """One subscription. Needs `admin`."""
    return SubscriptionOut.from_record(store.get_subscription(_subscription_id(subscription_id)))


@router.patch(
    "/{subscription_id}",
    summary="Edit, enable or disable a subscription",
    responses=error_responses(401, 403, 404, 422, 503),
)
def update_subscription(
    subscription_id: str, body: SubscriptionPatch, key: AdminKey
) -> SubscriptionOut:
    """Change the fields sent, checked as a whole (nothing changes on a 422). The edit
    applies to events from then on: a subscription enabled again does not send what happened
    while it was disabled. Needs `admin`."""
    changes = non_null(body.spec_changes(), NOT_NULL)
    record = store.update_subscription(_subscription_id(subscription_id), changes)
    return SubscriptionOut.from_record(record)


@router.delete(
    "/{subscription_id}",
    status_code=204,
    summary="Remove a subscription",
    responses=error_responses(401, 403, 404, 503),
)
def delete_subscription(subscription_id: str, key: AdminKey) -> Response:
    """Remove a subscription; the notifications it made stay. Needs `admin`."""
    store.delete_subscription(_subscription_id(subscription_id))
    return Response(status_code=204)
