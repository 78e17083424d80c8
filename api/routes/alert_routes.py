"""The alert route tree: list a page at a time, create, read, edit, remove. Reads need
`jobs:read`, changes `admin`; 422 `invalid_alert_route` names the field, 404 unknown, 409
taken (the table in ``workers/errors.py``)."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import reader
from api.resource_routes import ResourceRoutes
from api.routing_schemas import AlertRouteIn, AlertRouteOut, AlertRoutePage, AlertRoutePatch
from tasks.alerts import route_store as store
from tasks.alerts.errors import AlertRouteNotFound

router = APIRouter(prefix="/v1/alert-routes", tags=["alerts"])
routes = ResourceRoutes(
    router, "route", AlertRouteNotFound, AlertRouteOut, reader, noun="alert route"
)
routes.add_create(
    "Create an alert route",
    """Add a route under `parent` (none: the top). 422 `invalid_alert_route` for matchers that
    cannot match, a channel that does not exist, a parent that would make a loop. Needs
    `admin`.""",
    AlertRouteIn,
    lambda body: store.create_route(body.to_spec()),
)
routes.add_list(
    "List alert routes",
    "Routes, newest first (each names its parent and its position among its siblings).",
    AlertRoutePage,
    store.list_routes,
)
routes.add_get("Get an alert route", "One route.", store.get_route)
routes.add_update(
    "Edit an alert route",
    "Change the fields sent, checked as a whole (`parent: null` moves it to the top). Needs "
    "`admin`.",
    AlertRoutePatch,
    store.update_route,
)
routes.add_delete(
    "Remove an alert route",
    "Remove a route, the routes below it and their groups. Needs `admin`.",
    store.delete_route,
)
