"""The alert route tree: list a page at a time, create, read, edit, remove. Reads need
`jobs:read`, changes `admin`; 422 `invalid_alert_route` names the field, 404 unknown, 409
taken (``api/errors.py``)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api.auth import AdminKey, ReadKey
from api.listing import Cursor, Limit, fetch_page
from api.resources import non_null, path_id
from api.routing_schemas import AlertRouteIn, AlertRouteOut, AlertRoutePage, AlertRoutePatch
from api.schemas import error_responses
from tasks.alerts import route_store as store
from tasks.alerts.errors import AlertRouteNotFound

router = APIRouter(prefix="/v1/alert-routes", tags=["alerts"])
NOT_NULL = tuple(f for f in AlertRoutePatch.model_fields if f != "parent")


def _id(raw: str) -> uuid.UUID:
    return path_id(raw, "alert route", AlertRouteNotFound.code)


@router.get("", summary="List alert routes", responses=error_responses(401, 403, 422, 503))
def list_routes(key: ReadKey, cursor: Cursor = None, limit: Limit = 50) -> AlertRoutePage:
    """Routes, newest first (each names its parent and position among its siblings)."""
    page, next_cursor = fetch_page(store.list_routes, cursor, limit)
    return AlertRoutePage(
        items=[AlertRouteOut.from_record(r) for r in page], next_cursor=next_cursor
    )


@router.post("", status_code=201, summary="Create an alert route",
             responses=error_responses(401, 403, 409, 422, 503))  # fmt: skip
def create_route(body: AlertRouteIn, key: AdminKey) -> AlertRouteOut:
    """Add a route under `parent` (none: the top). 422 for matchers that cannot match, a
    channel that does not exist, a parent that would make a loop. Needs `admin`."""
    return AlertRouteOut.from_record(store.create_route(body.to_spec()))


@router.get("/{route_id}", summary="Get an alert route", responses=error_responses(401, 403, 404))
def get_route(route_id: str, key: ReadKey) -> AlertRouteOut:
    """One route."""
    return AlertRouteOut.from_record(store.get_route(_id(route_id)))


@router.patch("/{route_id}", summary="Edit an alert route",
              responses=error_responses(401, 403, 404, 422, 503))  # fmt: skip
def update_route(route_id: str, body: AlertRoutePatch, key: AdminKey) -> AlertRouteOut:
    """Change the fields sent, checked as a whole. Needs `admin`."""
    changes = non_null(body.changes(), NOT_NULL)
    return AlertRouteOut.from_record(store.update_route(_id(route_id), changes))


@router.delete("/{route_id}", status_code=204, summary="Remove an alert route",
               responses=error_responses(401, 403, 404, 503))  # fmt: skip
def delete_route(route_id: str, key: AdminKey) -> Response:
    """Remove a route, the routes below it and their groups. Needs `admin`."""
    store.delete_route(_id(route_id))
    return Response(status_code=204)
