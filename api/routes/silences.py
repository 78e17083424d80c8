"""Silences: mute the alerts some matchers pass for a while. Reads need `jobs:read`,
creating and expiring `admin`; a silence is expired, never deleted, so who muted what
stays on record."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from api.auth import AdminKey, ReadKey, reader
from api.listing import Cursor, Limit, Position, listed
from api.resource_routes import ResourceRoutes
from api.routing_schemas import SilenceIn, SilenceOut, SilencePage
from api.schemas import error_responses
from tasks.alerts import route_store as store
from tasks.alerts.errors import SilenceNotFound
from workers.store.models import SilenceRow

router = APIRouter(prefix="/v1/silences", tags=["alerts"])
silences = ResourceRoutes(router, "silence", SilenceNotFound, SilenceOut, reader)


@router.get("", summary="List silences", responses=error_responses(401, 403, 422, 503))
def list_silences(
    key: ReadKey,
    state: Literal["pending", "active", "expired"] | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> SilencePage:
    """Silences, newest first (of one state)."""

    def fetch(before: Position | None, count: int) -> list[SilenceRow]:
        return store.list_silences(before, count, state)

    return listed(SilencePage, SilenceOut.from_record, fetch, cursor, limit)


@router.post("", status_code=201, summary="Create a silence",
             responses=error_responses(401, 403, 422, 503))  # fmt: skip
def create_silence(body: SilenceIn, key: AdminKey) -> SilenceOut:
    """Mute the alerts `matchers` pass from `starts_at` (default now) until `ends_at`.
    422 `invalid_silence` for matchers that match nothing (or everything: none given), an
    end before the start or in the past, an empty comment. Needs `admin`."""
    row = store.create_silence(body.matchers, body.ends_at, body.comment, key.name, body.starts_at)
    return SilenceOut.from_record(row)


silences.add_get("Get a silence", "One silence.", store.get_silence)


@router.post("/{silence_id}/expire", summary="Expire a silence",
             responses=error_responses(401, 403, 404, 503))  # fmt: skip
def expire_silence(silence_id: str, key: AdminKey) -> SilenceOut:
    """End the silence now; the alerts it muted are notified on the next flush if they
    still fire. Needs `admin`."""
    return SilenceOut.from_record(store.expire_silence(silences.id(silence_id)))
