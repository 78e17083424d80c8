"""Subscriptions: create (checked: a known event, a glob that can match, channels that
exist, a template that renders the event's data), list a page at a time, read, edit, remove.
Everything needs `admin`; subscription errors (422 invalid, 404 unknown, 409 taken) are
answered by the table in ``workers/errors.py``."""

from __future__ import annotations

from fastapi import APIRouter

from api import subscription_schemas as schemas
from api.resource_routes import ResourceRoutes
from tasks.notifications import subscriptions as store
from tasks.notifications.errors import SubscriptionNotFound

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])
subscriptions = ResourceRoutes(
    router, "subscription", SubscriptionNotFound, schemas.SubscriptionOut
)
subscriptions.add_create(
    "Create a subscription",
    """Store a subscription; it sees events from now on. 422 `invalid_subscription` naming
    the field (an unknown event, a glob that matches no job type or maintenance task, a
    channel that does not exist, a template that does not render the event's data); 409 when
    the name is taken. Needs `admin`.""",
    schemas.SubscriptionIn,
    lambda body: store.create_subscription(body.to_spec()),
)
subscriptions.add_list(
    "List subscriptions",
    "Subscriptions, newest first, a page at a time. Needs `admin`.",
    schemas.SubscriptionPage,
    store.list_subscriptions,
)
subscriptions.add_get(
    "Get a subscription", "One subscription. Needs `admin`.", store.get_subscription
)
subscriptions.add_update(
    "Edit, enable or disable a subscription",
    """Change the fields sent, checked as a whole (nothing changes on a 422). The edit
    applies to events from then on: a subscription enabled again does not send what happened
    while it was disabled. Needs `admin`.""",
    schemas.SubscriptionPatch,
    store.update_subscription,
)
subscriptions.add_delete(
    "Remove a subscription",
    "Remove a subscription; the notifications it made stay. Needs `admin`.",
    store.delete_subscription,
)
