"""Subscriptions: create (checked: a known event, a glob that can match, channels that
exist, a template that renders the event's data), list a page at a time, read, edit, remove.
Everything needs `admin`; subscription errors (422 invalid, 404 unknown, 409 taken) are
answered by the table in ``workers/errors.py``."""

from __future__ import annotations

from fastapi import APIRouter

from api.resource_routes import ResourceRoutes
from api.subscription_schemas import (
    SubscriptionIn,
    SubscriptionOut,
    SubscriptionPage,
    SubscriptionPatch,
)
from tasks.notifications import subscriptions as store
from tasks.notifications.errors import SubscriptionNotFound

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])
subscriptions = ResourceRoutes(router, "subscription", SubscriptionNotFound, SubscriptionOut)
subscriptions.add_create(
    SubscriptionIn,
    lambda body: store.create_subscription(body.to_spec()),
    "Create a subscription",
    """Store a subscription; it sees events from now on. 422 `invalid_subscription` naming
    the field (an unknown event, a glob that matches no job type or maintenance task, a
    channel that does not exist, a template that does not render the event's data); 409 when
    the name is taken. Needs `admin`.""",
)
subscriptions.add_list(
    SubscriptionPage,
    store.list_subscriptions,
    "List subscriptions",
    "Subscriptions, newest first, a page at a time. Needs `admin`.",
)
subscriptions.add_get(
    store.get_subscription, "Get a subscription", "One subscription. Needs `admin`."
)
subscriptions.add_update(
    SubscriptionPatch,
    store.update_subscription,
    "Edit, enable or disable a subscription",
    """Change the fields sent, checked as a whole (nothing changes on a 422). The edit
    applies to events from then on: a subscription enabled again does not send what happened
    while it was disabled. Needs `admin`.""",
)
subscriptions.add_delete(
    store.delete_subscription,
    "Remove a subscription",
    "Remove a subscription; the notifications it made stay. Needs `admin`.",
)
