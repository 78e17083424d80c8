"""The routes ``api.resource_routes.ResourceRoutes`` makes for a resource, on a small one kept
in a dict: what they answer, in what order they refuse, and how the OpenAPI document names
them (every stored resource of the API relies on these)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.auth import current_key, reader, writer
from api.errors import install_error_handlers
from api.listing import Position
from api.refusals import refuse_idempotency_header
from api.resource_routes import ResourceRoutes
from api.resources import Page, PatchBody, RecordOut
from workers.errors import MissingScope, NotFound
from workers.store.models import ApiKey

START = datetime(2026, 1, 1, tzinfo=UTC)


class WidgetNotFound(NotFound):
    """No widget has that id."""

    code = "widget_not_found"


@dataclasses.dataclass
class Widget:
    id: uuid.UUID
    name: str
    size: int
    created_at: datetime


class WidgetIn(BaseModel):
    name: str
    size: int = 1


class WidgetPatch(PatchBody):
    not_null = ("size",)

    size: int | None = None


class WidgetOut(RecordOut):
    id: uuid.UUID
    name: str
    size: int


class WidgetPage(Page[WidgetOut]):
    """A page of widgets."""


class Shelf:
    """The widgets' store: a dict, newest first when listed."""

    def __init__(self) -> None:
        self.widgets: dict[uuid.UUID, Widget] = {}

    def create(self, body: WidgetIn) -> Widget:
        created_at = START + timedelta(seconds=len(self.widgets))
        widget = Widget(uuid.uuid4(), body.name, body.size, created_at)
        self.widgets[widget.id] = widget
        return widget

    def list(self, before: Position | None, count: int) -> list[Widget]:
        newest = sorted(self.widgets.values(), key=lambda w: (w.created_at, w.id), reverse=True)
        return [w for w in newest if before is None or (w.created_at, w.id) < before][:count]

    def get(self, widget_id: uuid.UUID) -> Widget:
        if widget_id not in self.widgets:
            raise WidgetNotFound(f"no widget {widget_id}")
        return self.widgets[widget_id]

    def update(self, widget_id: uuid.UUID, changes: dict[str, Any]) -> Widget:
        widget = dataclasses.replace(self.get(widget_id), **changes)
        self.widgets[widget_id] = widget
        return widget

    def delete(self, widget_id: uuid.UUID) -> None:
        del self.widgets[self.get(widget_id).id]

    def polish(self, widget_id: uuid.UUID, key: ApiKey) -> WidgetOut:
        """Polish the widget: 202 with it."""
        return WidgetOut.from_record(self.get(widget_id))


@pytest.fixture
def shelf() -> Shelf:
    return Shelf()


@pytest.fixture
def app(shelf: Shelf) -> FastAPI:
    router = APIRouter(prefix="/v1/widgets")
    widgets = ResourceRoutes(router, "widget", WidgetNotFound, WidgetOut, read=reader)
    widgets.add_create("Create a widget", "Store a widget.", WidgetIn, shelf.create)
    widgets.add_list("List widgets", "Widgets, newest first.", WidgetPage, shelf.list)
    widgets.add_get("Get a widget", "One widget.", shelf.get)
    widgets.add_update("Edit a widget", "Change the fields sent.", WidgetPatch, shelf.update)
    widgets.add_delete("Remove a widget", "Remove a widget.", shelf.delete, 409)
    refusal = refuse_idempotency_header("polish twice instead")
    widgets.add_action("polish", "Polish a widget", shelf.polish, refusal=refusal)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.dependency_overrides[current_key] = lambda: ApiKey(scopes=["admin"])
    return app


@pytest.fixture
def client(app: FastAPI) -> TestClient:
    return TestClient(app)


def test_the_routes_are_named_and_documented_one_way(app: FastAPI) -> None:
    operations = {
        (method.upper(), path): operation
        for path, item in app.openapi()["paths"].items()
        for method, operation in item.items()
    }

    wanted = {
        ("POST", "/v1/widgets"): ("create_widget", "201", ["401", "403", "409", "422", "503"]),
        ("GET", "/v1/widgets"): ("list_widgets", "200", ["401", "403", "422", "503"]),
        ("GET", "/v1/widgets/{widget_id}"): ("get_widget", "200", ["401", "403", "404", "503"]),
        ("PATCH", "/v1/widgets/{widget_id}"): (
            "update_widget",
            "200",
            ["401", "403", "404", "422", "503"],
        ),
        ("DELETE", "/v1/widgets/{widget_id}"): (
            "delete_widget",
            "204",
            ["401", "403", "404", "409", "503"],
        ),
        ("POST", "/v1/widgets/{widget_id}/polish"): (
            "polish",
            "202",
            ["401", "403", "404", "422", "503"],
        ),
    }
    assert set(operations) == set(wanted)
    for route, (name, success, errors) in wanted.items():
        operation = operations[route]
        assert operation["operationId"].startswith(f"{name}_"), route
        # FastAPI adds a 422 of its own to any route with parameters
        assert {success, *errors} <= set(operation["responses"]) <= {success, *errors, "422"}
    assert operations["POST", "/v1/widgets/{widget_id}/polish"]["description"] == (
        "Polish the widget: 202 with it."
    )


def test_create_get_list_edit_and_remove(client: TestClient) -> None:
    first = client.post("/v1/widgets", json={"name": "a"})
    second = client.post("/v1/widgets", json={"name": "b", "size": 2})
    assert (first.status_code, second.status_code) == (201, 201), first.text
    widget_id = first.json()["id"]

    assert client.get(f"/v1/widgets/{widget_id}").json() == first.json()
    page = client.get("/v1/widgets", params={"limit": 1}).json()
    assert [w["name"] for w in page["items"]] == ["b"]
    rest = client.get("/v1/widgets", params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert ([w["name"] for w in rest["items"]], rest["next_cursor"]) == (["a"], None)

    edited = client.patch(f"/v1/widgets/{widget_id}", json={"size": 5})
    assert (edited.status_code, edited.json()["size"]) == (200, 5)
    assert client.delete(f"/v1/widgets/{widget_id}").status_code == 204
    gone = client.get(f"/v1/widgets/{widget_id}")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "widget_not_found")


def test_an_id_that_is_not_a_uuid_is_the_resources_404(client: TestClient) -> None:
    response = client.get("/v1/widgets/nope")

    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "widget_not_found",
        "message": "no widget with id 'nope'; widget ids are UUIDs",
        "details": None,
    }


def test_a_field_sent_as_null_is_a_422_before_the_id_is_looked_up(client: TestClient) -> None:
    response = client.patch("/v1/widgets/nope", json={"size": None})

    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"field": "body.size", "message": "must not be null"}
    ]


def test_an_action_answers_202_and_refuses_after_the_key_is_checked(
    app: FastAPI, client: TestClient
) -> None:
    widget_id = client.post("/v1/widgets", json={"name": "a"}).json()["id"]

    polished = client.post(f"/v1/widgets/{widget_id}/polish")
    assert (polished.status_code, polished.json()["id"]) == (202, widget_id)
    refused = client.post(f"/v1/widgets/{widget_id}/polish", headers={"Idempotency-Key": "k"})
    assert refused.status_code == 422
    # Given a key without the scope, the 403 comes first.
    app.dependency_overrides[current_key] = lambda: ApiKey(scopes=["jobs:read"])
    forbidden = client.post(f"/v1/widgets/{widget_id}/polish", headers={"Idempotency-Key": "k"})
    assert (forbidden.status_code, forbidden.json()["error"]["code"]) == (403, "forbidden")
    # Reads need only the read scope.
    assert client.get(f"/v1/widgets/{widget_id}").status_code == 200


def _no_big_widgets(key: ApiKey, body: WidgetIn | dict[str, Any]) -> None:
    size = body.size if isinstance(body, WidgetIn) else body.get("size", 0)
    if size > 5 and "admin" not in key.scopes:
        raise MissingScope("admin")


def _hidden_when_big(key: ApiKey, widget: Widget) -> Widget:
    if widget.size > 5 and "admin" not in key.scopes:
        raise WidgetNotFound(f"no widget {widget.id}")
    return widget


def test_a_route_may_check_its_own_key_vet_the_request_and_hide_a_record(
    shelf: Shelf,
) -> None:
    # Given widgets whose create and edit take a jobs:write key (not the resource's admin),
    # vetted so a big one needs admin, and whose get hides a big one from other keys
    router = APIRouter(prefix="/v1/widgets")
    widgets = ResourceRoutes(router, "widget", WidgetNotFound, WidgetOut, read=reader)
    widgets.add_create(
        "Create", "Store.", WidgetIn, shelf.create, write=writer, vet=_no_big_widgets
    )
    widgets.add_get("Get", "One.", shelf.get, _hidden_when_big)
    widgets.add_update(
        "Edit",
        "Change.",
        WidgetPatch,
        shelf.update,
        write=writer,
        vet=lambda key, _, changes: _no_big_widgets(key, changes),
    )
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    app.dependency_overrides[current_key] = lambda: ApiKey(scopes=["jobs:write", "jobs:read"])
    client = TestClient(app)

    small = client.post("/v1/widgets", json={"name": "a", "size": 5})
    assert small.status_code == 201, small.text
    refused = client.post("/v1/widgets", json={"name": "b", "size": 6})
    assert (refused.status_code, refused.json()["error"]["details"]) == (403, {"scope": "admin"})
    widget_id = small.json()["id"]
    grown = client.patch(f"/v1/widgets/{widget_id}", json={"size": 6})
    assert grown.status_code == 403
    assert [w.size for w in shelf.widgets.values()] == [5]  # nothing refused was stored

    # An admin may make it big; then a jobs:read key does not see it at all.
    app.dependency_overrides[current_key] = lambda: ApiKey(scopes=["admin"])
    assert client.patch(f"/v1/widgets/{widget_id}", json={"size": 6}).status_code == 200
    assert client.get(f"/v1/widgets/{widget_id}").status_code == 200
    app.dependency_overrides[current_key] = lambda: ApiKey(scopes=["jobs:read"])
    hidden = client.get(f"/v1/widgets/{widget_id}")
    assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "widget_not_found")
    # The route's own key check: a jobs:read key may not create.
    assert client.post("/v1/widgets", json={"name": "c"}).status_code == 403
