"""``/v1/templates`` on both stores: CRUD, render checks at save naming part and line, preview,
cursor pages, errors in the one shape, and `admin` for everything."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.api import Headers, assert_error, issue_keys

SCOPES = {"admin": ["admin"], "reader": ["jobs:read"], "writer": ["jobs:write"]}
WELCOME = {
    "name": "welcome",
    "subject": "Welcome, {{ user.name }}",
    "text": "Hello {{ user.name }},\nyou have {{ count }} new items.",
    "html": "<p>Hello {{ user.name }}</p>",
    "sample_data": {"user": {"name": "Ada"}, "count": 2},
    "default_channels": ["ops-mail", "ops-slack"],
}


@pytest.fixture(scope="module")
def keys(runtime: dict[str, str]) -> dict[str, Headers]:
    return issue_keys(SCOPES, prefix="tmpl-")


@pytest.fixture(scope="module")
def admin(keys: dict[str, Headers]) -> Headers:
    return keys["admin"]


def create(client: TestClient, headers: Headers, **fields: Any) -> Any:
    return client.post("/v1/templates", json={**WELCOME, **fields}, headers=headers)


def test_an_admin_creates_reads_edits_previews_and_removes_a_template(
    client: TestClient, admin: Headers
) -> None:
    created = create(client, admin)
    assert created.status_code == 201, created.text
    template = created.json()
    assert {k: template[k] for k in WELCOME} == WELCOME

    fetched = client.get(f"/v1/templates/{template['id']}", headers=admin)
    assert fetched.json() == template

    edited = client.patch(
        f"/v1/templates/{template['id']}",
        json={"html": None, "text": "Hi {{ user.name }}", "default_channels": None},
        headers=admin,
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["html"], edited.json()["default_channels"]) == (None, [])

    preview = client.post(
        f"/v1/templates/{template['id']}/preview",
        json={"data": {"user": {"name": "<Bob>"}, "count": 1}},
        headers=admin,
    )
    assert preview.status_code == 200, preview.text
    assert preview.json() == {"subject": "Welcome, <Bob>", "text": "Hi <Bob>", "html": None}

    removed = client.delete(f"/v1/templates/{template['id']}", headers=admin)
    assert removed.status_code == 204
    assert_error(
        client.get(f"/v1/templates/{template['id']}", headers=admin), 404, "template_not_found"
    )


def test_preview_without_data_uses_the_sample_data_and_escapes_html(
    client: TestClient, admin: Headers
) -> None:
    body = {"name": "escaping", "sample_data": {"user": {"name": "<i>Ada</i>"}, "count": 1}}
    template = create(client, admin, **body).json()

    preview = client.post(f"/v1/templates/{template['id']}/preview", json={}, headers=admin)

    assert preview.json()["html"] == "<p>Hello &lt;i&gt;Ada&lt;/i&gt;</p>"
    assert preview.json()["subject"] == "Welcome, <i>Ada</i>"


@pytest.mark.parametrize(
    ("fields", "part", "line", "words"),
    [
        ({"text": "line one\n{{ missing }}"}, "text", 2, "'missing' is undefined"),
        ({"subject": "{% if %}"}, "subject", 1, "syntax error"),
        ({"html": "<p>\n\n{{ ''.__class__.__mro__ }}</p>"}, "html", 3, "refused by the sandbox"),
        ({"sample_data": {"user": {}}}, "subject", 1, "has no attribute 'name'"),
    ],
)
def test_a_template_that_does_not_render_against_its_sample_data_is_refused(
    client: TestClient,
    admin: Headers,
    fields: dict[str, Any],
    part: str,
    line: int,
    words: str,
) -> None:
    response = create(client, admin, name="broken", **fields)

    error = assert_error(response, 422, "invalid_template")
    assert error["message"].startswith(f"{part}, line {line}: ")
    assert words in error["message"]
    assert error["details"][0]["field"] == part
    assert error["details"][0]["line"] == line
    listed = client.get("/v1/templates", params={"limit": 500}, headers=admin).json()["items"]
    assert all(item["name"] != "broken" for item in listed)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"text": "nul \x00 here"}, "text"),
        ({"sample_data": {"k": "nul \x00"}}, "sample_data"),
        ({"default_channels": ["not a name"]}, "default_channels"),
    ],
)
def test_unstorable_input_is_refused_naming_the_field(
    client: TestClient, admin: Headers, fields: dict[str, Any], field: str
) -> None:
    error = assert_error(
        create(client, admin, name="unstorable", **fields), 422, "invalid_template"
    )

    assert error["details"][0]["field"] == field


def test_request_validation_refuses_bad_names_and_unknown_fields(
    client: TestClient, admin: Headers
) -> None:
    assert_error(create(client, admin, name="has space"), 422, "validation_error")
    assert_error(create(client, admin, name="x", extra=1), 422, "validation_error")
    assert_error(create(client, admin, name="x", text="x" * 100_001), 422, "validation_error")


def test_a_taken_name_is_a_conflict(client: TestClient, admin: Headers) -> None:
    assert create(client, admin, name="taken").status_code == 201

    assert_error(create(client, admin, name="taken"), 409, "template_conflict")


def test_an_edit_that_does_not_render_changes_nothing(client: TestClient, admin: Headers) -> None:
    template = create(client, admin, name="kept").json()

    response = client.patch(
        f"/v1/templates/{template['id']}", json={"sample_data": {}}, headers=admin
    )

    assert_error(response, 422, "invalid_template")
    after = client.get(f"/v1/templates/{template['id']}", headers=admin).json()
    assert after == template
    assert_error(
        client.patch(f"/v1/templates/{template['id']}", json={"text": None}, headers=admin),
        422,
        "validation_error",
    )


def test_preview_with_data_that_does_not_render_is_a_422(
    client: TestClient, admin: Headers
) -> None:
    template = create(client, admin, name="preview-fails").json()
    url = f"/v1/templates/{template['id']}/preview"

    error = assert_error(
        client.post(url, json={"data": {}}, headers=admin), 422, "invalid_template"
    )

    assert error["message"].startswith("subject, line 1: 'user' is undefined")
    assert_error(client.post(url, json={"data": [1]}, headers=admin), 422, "validation_error")


def test_unknown_ids_are_404s(client: TestClient, admin: Headers) -> None:
    for url in ("/v1/templates/not-a-uuid", "/v1/templates/00000000-0000-0000-0000-000000000000"):
        assert_error(client.get(url, headers=admin), 404, "template_not_found")
        assert_error(client.delete(url, headers=admin), 404, "template_not_found")
        assert_error(
            client.post(f"{url}/preview", json={}, headers=admin), 404, "template_not_found"
        )


def test_pages_follow_the_cursor_newest_first(client: TestClient, admin: Headers) -> None:
    names = [f"paged-{i}" for i in range(5)]
    for name in names:
        assert create(client, admin, name=name).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/templates", params=params, headers=admin).json()
        assert len(page["items"]) <= 2
        seen += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert [n for n in seen if n.startswith("paged-")] == list(reversed(names))
    assert len(seen) == len(set(seen))
    bad = client.get("/v1/templates", params={"cursor": "nonsense"}, headers=admin)
    assert_error(bad, 422, "validation_error")


@pytest.mark.parametrize("who", ["reader", "writer"])
def test_every_endpoint_needs_admin(client: TestClient, keys: dict[str, Headers], who: str) -> None:
    template = create(client, keys["admin"], name=f"guarded-{who}").json()
    url = f"/v1/templates/{template['id']}"
    headers = keys[who]

    for response in (
        client.get("/v1/templates", headers=headers),
        client.post("/v1/templates", json={**WELCOME, "name": "nope"}, headers=headers),
        client.get(url, headers=headers),
        client.patch(url, json={"text": "x"}, headers=headers),
        client.delete(url, headers=headers),
        client.post(f"{url}/preview", json={}, headers=headers),
    ):
        assert assert_error(response, 403, "forbidden")["details"] == {"scope": "admin"}
    assert_error(client.get("/v1/templates"), 401, "unauthorized")
