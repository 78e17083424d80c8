"""``/v1/templates`` on both stores: edits, render checks at save naming part and line, preview,
errors in the one shape, and `admin` for everything (what every named resource does, from
creation to cursor pages, is held in test_resources_api)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.api import Headers, assert_error
from tests.support.resources import TEMPLATES

create = TEMPLATES.create


def test_an_admin_edits_and_previews_a_template(client: TestClient, admin: Headers) -> None:
    url = f"/v1/templates/{create(client, admin).json()['id']}"

    edited = client.patch(
        url,
        json={"html": None, "text": "Hi {{ user.name }}", "default_channels": None},
        headers=admin,
    )
    assert edited.status_code == 200, edited.text
    assert (edited.json()["html"], edited.json()["default_channels"]) == (None, [])

    preview = client.post(
        f"{url}/preview", json={"data": {"user": {"name": "<Bob>"}, "count": 1}}, headers=admin
    )
    assert preview.status_code == 200, preview.text
    assert preview.json() == {"subject": "Welcome, <Bob>", "text": "Hi <Bob>", "html": None}


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


def test_previewing_an_unknown_template_is_a_404(client: TestClient, admin: Headers) -> None:
    for url in ("/v1/templates/not-a-uuid", "/v1/templates/00000000-0000-0000-0000-000000000000"):
        assert_error(
            client.post(f"{url}/preview", json={}, headers=admin), 404, "template_not_found"
        )


@pytest.mark.parametrize("who", ["reader", "writer"])
def test_every_endpoint_needs_admin(client: TestClient, keys: dict[str, Headers], who: str) -> None:
    template = create(client, keys["admin"], name=f"guarded-{who}").json()
    url = f"/v1/templates/{template['id']}"
    headers = keys[who]

    for response in (
        client.get("/v1/templates", headers=headers),
        create(client, headers, name="nope"),
        client.get(url, headers=headers),
        client.patch(url, json={"text": "x"}, headers=headers),
        client.delete(url, headers=headers),
        client.post(f"{url}/preview", json={}, headers=headers),
    ):
        assert assert_error(response, 403, "forbidden")["details"] == {"scope": "admin"}
    assert_error(client.get("/v1/templates"), 401, "unauthorized")
