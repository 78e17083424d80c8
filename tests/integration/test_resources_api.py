"""The contract every admin-managed, named resource of the API keeps (templates, subscriptions,
alert rules, alert routes, inhibit rules: ``tests/support/resources.py``), on both stores:
created with a 201 and read back as sent with the API's defaults filled in, one per name
(409), removed with a 204 and then a 404, unknown ids a 404, listed newest first a cursor page
at a time, created only by `admin`. What only one resource does is tested in its own module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.api import Headers, assert_error
from tests.support.channels import webhook_channels
from tests.support.resources import RESOURCES, Resource
from tests.support.sinks import HttpSink

each_resource = pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.kind)


@pytest.fixture(scope="module", autouse=True)
def channels(sink: HttpSink) -> Iterator[None]:
    with webhook_channels(sink, "ops"):  # the sample subscription sends to it
        yield


@each_resource
def test_an_admin_creates_reads_and_removes_one(
    client: TestClient, admin: Headers, resource: Resource
) -> None:
    created = resource.create(client, admin)
    assert created.status_code == 201, created.text
    item = created.json()
    expected = {**resource.sample, **resource.filled}
    assert {k: item[k] for k in expected} == expected
    url = f"{resource.path}/{item['id']}"
    assert client.get(url, headers=admin).json() == item

    assert_error(resource.create(client, admin), 409, f"{resource.kind}_conflict")
    assert client.delete(url, headers=admin).status_code == 204
    assert_error(client.get(url, headers=admin), 404, f"{resource.kind}_not_found")


@each_resource
@pytest.mark.parametrize("item_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_id_is_a_404(
    client: TestClient, admin: Headers, resource: Resource, item_id: str
) -> None:
    url = f"{resource.path}/{item_id}"

    for response in (client.get(url, headers=admin), client.delete(url, headers=admin)):
        assert_error(response, 404, f"{resource.kind}_not_found")


@each_resource
def test_pages_follow_the_cursor_newest_first(
    client: TestClient, admin: Headers, resource: Resource
) -> None:
    names = [f"paged-{i}" for i in range(5)]
    for name in names:
        assert resource.create(client, admin, name=name).status_code == 201
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(resource.path, params=params, headers=admin).json()
        assert len(page["items"]) <= 2
        seen += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert [n for n in seen if n.startswith("paged-")] == list(reversed(names))
    assert len(seen) == len(set(seen))
    bad = client.get(resource.path, params={"cursor": "nonsense"}, headers=admin)
    assert_error(bad, 422, "validation_error")


@each_resource
@pytest.mark.parametrize("who", ["reader", "writer"])
def test_only_an_admin_creates_one(
    client: TestClient, keys: dict[str, Headers], resource: Resource, who: str
) -> None:
    assert_error(resource.create(client, keys[who], name="nope"), 403, "forbidden")
    assert_error(resource.create(client, {}, name="nope"), 401, "unauthorized")
