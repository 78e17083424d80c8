"""Notification channels: list, create, read, edit, remove, and send a test message. Every
operation needs `admin`; secrets are accepted and never returned."""

from __future__ import annotations

import logging
import uuid

from fastapi import APIRouter, Response

from api.auth import AdminKey
from api.channel_schemas import (
    NOT_NULL,
    ChannelIn,
    ChannelOut,
    ChannelPage,
    ChannelPatch,
    ChannelTestOut,
)
from api.listing import Cursor, Limit, fetch_page
from api.resources import non_null, path_id
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


def _shown(record: Channel) -> ChannelOut:
    """The channel's JSON; the first unsealed write of the process logs why it is unsealed."""
    global _told_unsealed
    if not record.sealed and not _told_unsealed and store.secret_names(record):
        _told_unsealed = True
        log.warning(UNSEALED_NOTE, extra={"action": "channels.secrets_unsealed"})
    return ChannelOut.from_record(record)


def _channel_id(channel_id: str) -> uuid.UUID:
    return path_id(channel_id, "channel", ChannelNotFound.code)


@router.get("", summary="List channels", responses=error_responses(401, 403, 422, 503))
def list_channels(key: AdminKey, cursor: Cursor = None, limit: Limit = 50) -> ChannelPage:
    """Channels, newest first, a page at a time. Needs `admin`."""
    page, next_cursor = fetch_page(store.list_channels, cursor, limit)
    return ChannelPage(items=[ChannelOut.from_record(r) for r in page], next_cursor=next_cursor)


@router.post(
    "", status_code=201, summary="Create a channel", responses=error_responses(401, 403, 409, 422)
)
def create_channel(body: ChannelIn, key: AdminKey) -> ChannelOut:
    """Add a channel. 422 `validation_error` for bad settings, `outbound_refused` for a target
    on a private, loopback, link-local or metadata address not in TASKYARD_OUTBOUND_ALLOW;
    409 when the name is taken. Needs `admin`."""
    return _shown(store.create_channel(body.name, body.config, body.description))


@router.get("/{channel_id}", summary="Get a channel", responses=error_responses(401, 403, 404))
def get_channel(channel_id: str, key: AdminKey) -> ChannelOut:
    """One channel (its secrets by name only). Needs `admin`."""
    return ChannelOut.from_record(store.get_channel(_channel_id(channel_id)))


@router.patch(
    "/{channel_id}", summary="Edit a channel", responses=error_responses(401, 403, 404, 409, 422)
)
def update_channel(channel_id: str, body: ChannelPatch, key: AdminKey) -> ChannelOut:
    """Rename, describe, or change settings (secrets left out are kept). Needs `admin`."""
    changes = non_null(body.changes(), NOT_NULL)
    return _shown(store.update_channel(_channel_id(channel_id), changes))


@router.delete(
    "/{channel_id}",
    status_code=204,
    summary="Remove a channel",
    responses=error_responses(401, 403, 404),
)
def delete_channel(channel_id: str, key: AdminKey) -> Response:
    """Remove a channel. Needs `admin`."""
    store.delete_channel(_channel_id(channel_id))
    return Response(status_code=204)


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
    record = store.get_channel(_channel_id(channel_id))
    outcome = send(record.name, store.config_of(record), channel_test_message(record.name))
    if not outcome.ok:
        message = f"the test message to {record.name!r} was not delivered: {outcome.error}"
        raise ChannelTestFailed(f"{message}; {_next_step(outcome)}", outcome.as_dict())
    return ChannelTestOut.from_outcome(record.name, outcome)
