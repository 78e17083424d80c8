"""Notification channels: list, create, read, edit, remove, and send a test message. Every
operation needs `admin`; secrets are accepted and never returned."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from api.auth import AdminKey
from api.channel_schemas import (
    ChannelIn,
    ChannelOut,
    ChannelPage,
    ChannelPatch,
    ChannelTestOut,
)
from api.resource_routes import ResourceRoutes
from api.schemas import error_responses
from tasks.notifications import store
from tasks.notifications.errors import ChannelNotFound, ChannelTestFailed
from tasks.notifications.message import channel_test_message
from tasks.notifications.outcomes import ErrorClass, Outcome
from tasks.notifications.sealing import UNSEALED_NOTE
from tasks.notifications.senders import send
from workers.store.models import Channel

router = APIRouter(prefix="/v1/channels", tags=["channels"])
log = logging.getLogger(__name__)
_told_unsealed = False


def _noted(record: Channel) -> Channel:
    """``record``; the first unsealed write of the process logs why it is unsealed."""
    global _told_unsealed
    if not record.sealed and not _told_unsealed and store.secret_names(record):
        _told_unsealed = True
        log.warning(UNSEALED_NOTE, extra={"action": "channels.secrets_unsealed"})
    return record


channels = ResourceRoutes(router, "channel", ChannelNotFound, ChannelOut)
channels.add_create(
    "Create a channel",
    """Add a channel. 422 `validation_error` for bad settings, `outbound_refused` for a target
    on a private, loopback, link-local or metadata address not in TASKYARD_OUTBOUND_ALLOW;
    409 when the name is taken. Needs `admin`.""",
    ChannelIn,
    lambda body: _noted(store.create_channel(body.name, body.config, body.description)),
)
channels.add_list(
    "List channels",
    "Channels, newest first, a page at a time. Needs `admin`.",
    ChannelPage,
    store.list_channels,
)
channels.add_get(
    "Get a channel", "One channel (its secrets by name only). Needs `admin`.", store.get_channel
)
channels.add_update(
    "Edit a channel",
    "Rename, describe, or change settings (secrets left out are kept). Needs `admin`.",
    ChannelPatch,
    lambda channel_id, changes: _noted(store.update_channel(channel_id, changes)),
    409,
)
channels.add_delete("Remove a channel", "Remove a channel. Needs `admin`.", store.delete_channel)


def _next_step(outcome: Outcome) -> str:
    if outcome.error_class is ErrorClass.RETRYABLE:
        return "the receiver may recover: check that it is up, then test again"
    return "fix the channel's settings (PATCH) or the receiver, then test again"


@router.post(
    "/{channel_id}/test",
    summary="Send a test message",
    responses=error_responses(401, 403, 404, 502, 503),
)
def test_channel(channel_id: str, key: AdminKey) -> ChannelTestOut:
    """Send a test message through the channel now and answer with the outcome: 200 when it
    was delivered; 502 `channel_test_failed` when not, with the outcome in `details`
    (`error_class` says whether trying again may help). Needs `admin`."""
    record = store.get_channel(channels.id(channel_id))
    outcome = send(record.name, store.config_of(record), channel_test_message(record.name))
    if not outcome.ok:
        message = f"the test message to {record.name!r} was not delivered: {outcome.error}"
        raise ChannelTestFailed(f"{message}; {_next_step(outcome)}", outcome.as_dict())
    return ChannelTestOut.from_outcome(record.name, outcome)
