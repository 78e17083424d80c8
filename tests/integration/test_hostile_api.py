"""Hostile requests on a real store (SQLite, then PostgreSQL): extreme timestamps, NUL and
other characters no store takes, huge numbers and deep nesting get a 4xx in the one error
shape from every endpoint that takes a time, a text or a number; never a 500, and nothing is
stored that could not be read back. ``test_hostile_cli.py`` does the same for the CLI."""

from __future__ import annotations

import importlib
import json
import pkgutil
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import api.routes
from api.app import create_app
from tests.support.hostile import (
    ARGUMENT_TEXT,
    BAD_TEXT,
    CURSORS,
    DOCUMENTS,
    HUGE_NUMBERS,
    TIMESTAMPS,
    UNREPRESENTABLE,
    cursor,
    nested,
    some_of,
)
from workers.store.keys import create_key

Headers = dict[str, str]


@pytest.fixture(scope="module")
def admin(runtime: dict[str, str]) -> Headers:
    secret = create_key(f"hostile-{uuid.uuid4().hex[:8]}", ["admin"]).secret
    return {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def client(runtime: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def send(client: TestClient, headers: Headers, method: str, url: str, **kwargs: Any) -> Response:
    """A request whose JSON body is encoded as Python does (NaN, ``\\ud800`` escapes kept)."""
    body = kwargs.pop("body", None)
    content = None if body is None else json.dumps(body)
    response: Response = client.request(method, url, headers=headers, content=content, **kwargs)
    return response


def assert_refused(response: Response, field: str | None = None) -> dict[str, Any]:
    """A 4xx in the one error shape (a 422 naming ``field`` when given)."""
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    if field is not None:
        assert response.status_code == 422, response.text
        assert field in json.dumps(body["error"]["details"]), body
    return dict(body["error"])


@pytest.mark.parametrize("stamp", UNREPRESENTABLE)
@pytest.mark.parametrize("name", ["since", "until"])
def test_dead_letter_filters_refuse_times_the_store_cannot_hold(
    client: TestClient, admin: Headers, name: str, stamp: str
) -> None:
    listed = send(client, admin, "GET", "/v1/dead-letters", params={name: stamp})
    replayed = send(client, admin, "POST", "/v1/dead-letters/replay", body={name: stamp})

    assert_refused(listed, f"query.{name}")
    assert_refused(replayed, f"body.{name}")


@pytest.mark.parametrize("stamp", [*UNREPRESENTABLE, "9999-12-31T00:00:00Z", "2026-01-01T00:00"])
@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/dead-letters"])
def test_a_crafted_cursor_with_an_extreme_time_is_refused(
    client: TestClient, admin: Headers, path: str, stamp: str
) -> None:
    response = send(client, admin, "GET", path, params={"cursor": cursor(stamp)})

    error = assert_refused(response, "query.cursor")
    assert "pass next_cursor back unchanged" in error["message"]


def test_a_run_at_the_store_cannot_hold_is_refused(client: TestClient, admin: Headers) -> None:
    body = {"type": "diag.noop", "run_at": "0001-01-01T00:00:00+23:59"}

    assert_refused(send(client, admin, "POST", "/v1/jobs", body=body), "body.run_at")


@pytest.mark.parametrize("text", ["9" * 5000, "[" * 50_000 + "]" * 50_000], ids=["digits", "deep"])
@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/schedules"])
def test_json_no_parser_reads_is_a_422(
    client: TestClient, admin: Headers, path: str, text: str
) -> None:
    content = (
        f'{{"type": "diag.noop", "name": "x", "task": "diag.noop", "payload": {{"a": {text}}}}}'
    )

    response = client.post(path, content=content, headers=admin)

    assert_refused(response)
    assert response.status_code == 422, response.text


SCHEDULE = {"name": "hostile", "task": "maintenance.purge", "interval_s": 60}
BAD_SCHEDULES = [
    ("NUL in description", {"description": "a\x00b"}, "description"),
    ("surrogate in description", {"description": "\ud800"}, "description"),
    ("NaN in payload", {"payload": {"x": float("nan")}}, "payload.x"),
    ("Infinity in payload", {"payload": {"x": [float("inf")]}}, "payload.x.0"),
    ("65-bit integer in payload", {"payload": {"x": 2**64}}, "payload.x"),
    ("deep payload", {"payload": nested(100)}, "payload"),
    ("NUL in payload key", {"payload": {"a\x00": 1}}, "payload"),
    ("long time zone", {"cron": "0 3 * * *", "interval_s": None,
                        "timezone": "Europe" + "/" * 60 + "Berlin"}, "timezone"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"), [c[1:] for c in BAD_SCHEDULES], ids=[c[0] for c in BAD_SCHEDULES]
)
def test_a_schedule_the_store_cannot_hold_is_refused_on_create_and_edit(
    client: TestClient, admin: Headers, change: dict[str, Any], field: str
) -> None:
    name = f"hostile-{uuid.uuid4().hex[:8]}"
    created = send(
        client, admin, "POST", "/v1/schedules", body={**SCHEDULE, **change, "name": name}
    )
    assert_refused(created, field)

    fine = send(client, admin, "POST", "/v1/schedules", body={**SCHEDULE, "name": name})
    assert fine.status_code == 201, fine.text
    edited = send(client, admin, "PATCH", f"/v1/schedules/{fine.json()['id']}", body=change)
    assert_refused(edited, field)
    # nothing unreadable was stored
    assert send(client, admin, "GET", "/v1/schedules").status_code == 200


#: An id no row has.
UNKNOWN_ID = "6b1f3a2e-0c4d-4e8f-9a7b-5d2c1e0f9a83"


def _every_operation() -> list[tuple[str, str]]:
    """(method, path) of every endpoint in every module of ``api.routes``, path parameters
    filled with a UUID (a fixed one, so every pytest-xdist worker collects the same ids): a new
    route is walked without being listed here."""
    operations: list[tuple[str, str]] = []
    for found in pkgutil.iter_modules(api.routes.__path__, "api.routes."):
        router = importlib.import_module(found.name).router
        for route in router.routes:
            assert isinstance(route, APIRoute), route
            path = route.path_format
            for name in route.param_convertors:
                path = path.replace(f"{{{name}}}", UNKNOWN_ID)
            operations.extend((method, path) for method in sorted(route.methods or ()))
    return operations


OPERATIONS = _every_operation()


def test_every_endpoint_is_walked() -> None:
    gets = {path for method, path in OPERATIONS if method == "GET"}
    assert {"/v1/jobs", "/v1/dead-letters", "/v1/queues", "/v1/schedules", "/healthz"} <= gets
    assert ("POST", "/v1/jobs") in OPERATIONS


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[" ".join(o) for o in OPERATIONS])
def test_every_endpoint_refuses_a_query_parameter_it_does_not_read(
    client: TestClient, admin: Headers, method: str, path: str
) -> None:
    # Given a typo of a filter (or any parameter the endpoint does not read)
    body: dict[str, Any] | None = None if method in ("GET", "DELETE") else {}
    response = send(client, admin, method, path, params={"stauts": "dead"}, body=body)

    # Then nothing runs unfiltered: a 422 names it (before any lookup, so ids need not exist)
    error = assert_refused(response, "query.stauts")
    assert "stauts" in error["message"], error


def test_an_unknown_query_parameter_is_named_with_the_accepted_ones(
    client: TestClient, admin: Headers
) -> None:
    response = send(client, admin, "GET", "/v1/jobs", params={"stauts": "dead", "limit": 1})

    error = assert_refused(response, "query.stauts")
    assert error["message"] == (
        "GET /v1/jobs takes no query parameter 'stauts'; "
        "it accepts cursor, limit, queue, status, type"
    )
    assert error["details"] == [
        {"field": "query.stauts",
         "message": "unknown parameter; accepted: cursor, limit, queue, status, type"}
    ]  # fmt: skip
    assert send(client, admin, "GET", "/v1/jobs", params={"status": "dead"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "query"),
    [("/v1/jobs", "status=dead&status=failed"), ("/v1/dead-letters", "limit=1&limit=500"),
     ("/v1/dead-letters", "since=2020-01-01T00:00:00Z&since=2021-01-01T00:00:00Z")],
)  # fmt: skip
def test_a_parameter_given_twice_where_one_value_is_taken_is_refused(
    client: TestClient, admin: Headers, path: str, query: str
) -> None:
    # Given a filter repeated (today the last one silently wins)
    response = send(client, admin, "GET", f"{path}?{query}")

    # Then neither is picked for the caller: a 422 says to send it once
    name = query.split("=")[0]
    error = assert_refused(response, f"query.{name}")
    assert error["details"] == [
        {"field": f"query.{name}", "message": "given 2 times; it takes one value"}
    ]


BODY_ENDPOINTS = ["/v1/jobs", "/v1/jobs/batch", "/v1/dead-letters/replay", "/v1/schedules"]
DUPLICATED = {
    "/v1/jobs": '{"type": "diag.noop", "type": "diag.sleep"}',
    "/v1/jobs/batch": '{"jobs": [{"type": "diag.noop", "payload": {"ms": 1, "ms": 2}}]}',
    "/v1/dead-letters/replay": '{"type": "diag.noop", "limit": 1, "type": "diag.sleep"}',
    "/v1/schedules": '{"name": "dup", "task": "diag.noop", "interval_s": 60, "interval_s": 5}',
}


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
def test_json_naming_a_key_twice_is_refused_not_read_as_its_last_value(
    client: TestClient, admin: Headers, path: str
) -> None:
    # Given a body whose objects name a key twice (a proxy may read the first, json the last)
    response = client.post(path, content=DUPLICATED[path], headers=admin)

    # Then neither value is picked: a 422 names the key
    error = assert_refused(response, "body")
    assert "appears twice" in error["message"], error


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"]
)
def test_a_body_sent_as_anything_but_json_is_a_415(
    client: TestClient, admin: Headers, path: str, content_type: str | None
) -> None:
    headers = {"Authorization": admin["Authorization"]}
    if content_type is not None:
        headers["Content-Type"] = content_type

    response = client.post(path, content=b'{"type": "diag.noop"}', headers=headers)

    error = assert_refused(response)
    assert response.status_code == 415, response.text
    assert error["code"] == "unsupported_media_type"
    assert "application/json" in error["message"]


@pytest.mark.parametrize("path", BODY_ENDPOINTS)
@pytest.mark.parametrize("content", ["", "null", "[]", '[{"type": "diag.noop"}]', '"x"', "1"])
def test_a_body_that_is_not_an_object_is_a_422(
    client: TestClient, admin: Headers, path: str, content: str
) -> None:
    assert_refused(client.post(path, content=content, headers=admin), "body")


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": "Bearer " + "x" * 100_000}, {"Authorization": "x" * 100_000},
     {"Authorization": "Bearer a\tb"}, {"Authorization": b"Bearer \xe9"}],
    ids=["long bearer", "long scheme", "tab", "latin-1"],
)  # fmt: skip
def test_an_absurd_authorization_header_is_a_401(
    client: TestClient, headers: dict[str, Any]
) -> None:
    response = client.get("/v1/jobs", headers=headers)

    assert_refused(response)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "job_id", ["abc", "x" * 10_000, "%00", "%ff", "00000000-0000-0000-0000-00000000000g"]
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/jobs/{}"), ("POST", "/v1/jobs/{}/cancel"), ("POST", "/v1/jobs/{}/retry"),
     ("GET", "/v1/schedules/{}"), ("PATCH", "/v1/schedules/{}"), ("DELETE", "/v1/schedules/{}")],
)  # fmt: skip
def test_an_id_that_is_no_uuid_is_a_404_quoting_it_in_part(
    client: TestClient, admin: Headers, method: str, path: str, job_id: str
) -> None:
    body = {"paused": True} if method == "PATCH" else None
    response = send(client, admin, method, path.format(job_id), body=body)

    assert_refused(response)
    assert response.status_code == 404, response.text
    assert len(response.text) < 1000


def _or_fine(hostile: st.SearchStrategy[Any], *fine: Any) -> st.SearchStrategy[Any]:
    """``hostile`` values, or (as often) acceptable ones, so one bad field at a time reaches
    the checks behind the request model (the producer's, the schedule's)."""
    return st.one_of(hostile, st.sampled_from(fine))


JOB_TYPES = _or_fine(BAD_TEXT, "diag.noop", "diag.limited", "diag.flaky")
JOB_BODIES = st.builds(
    lambda job_type, rest: {"type": job_type, **rest},
    JOB_TYPES,
    some_of(payload=DOCUMENTS, run_at=_or_fine(TIMESTAMPS, "2020-01-01T00:00:00Z"),
              delay_s=_or_fine(HUGE_NUMBERS, 0, 0.5), priority=_or_fine(HUGE_NUMBERS, 0, 9),
              idempotency_key=_or_fine(BAD_TEXT, "k"), unique_key=_or_fine(BAD_TEXT, "u"),
              unique_for_s=_or_fine(HUGE_NUMBERS, 1)),
)  # fmt: skip
SCHEDULE_FIELDS = some_of(
    cron=_or_fine(BAD_TEXT, "0 3 * * *"), timezone=_or_fine(BAD_TEXT, "UTC"),
    interval_s=_or_fine(HUGE_NUMBERS, 60), payload=DOCUMENTS,
    priority=_or_fine(HUGE_NUMBERS, 5), expires_s=_or_fine(HUGE_NUMBERS, 30),
    description=_or_fine(BAD_TEXT, "nightly"),
)  # fmt: skip
SCHEDULE_BODIES = st.builds(
    lambda name, task, rest: {"name": name, "task": task, "interval_s": 60, **rest},
    st.one_of(st.uuids().map("h-{}".format), BAD_TEXT),
    _or_fine(BAD_TEXT, "diag.noop", "maintenance.purge"),
    SCHEDULE_FIELDS,
)
QUERY_TIMES = TIMESTAMPS.filter(
    lambda text: text.isascii() or not any("\ud800" <= char <= "\udfff" for char in text)
)  # a URL carries UTF-8 only
#: One request to every endpoint that takes a time, a text or a number: (method, path, kwargs).
REQUESTS = st.one_of(
    st.tuples(st.just("GET"), st.just("/v1/jobs"), some_of(
        params=some_of(cursor=CURSORS, type=ARGUMENT_TEXT, limit=HUGE_NUMBERS.map(str)))),
    st.tuples(st.just("GET"), st.just("/v1/dead-letters"), some_of(
        params=some_of(since=QUERY_TIMES, until=QUERY_TIMES, cursor=CURSORS,
                         type=ARGUMENT_TEXT, limit=HUGE_NUMBERS.map(str)))),
    st.tuples(st.just("POST"), st.just("/v1/dead-letters/replay"), st.builds(dict, body=some_of(
        since=TIMESTAMPS, until=TIMESTAMPS, type=BAD_TEXT, limit=HUGE_NUMBERS))),
    st.tuples(st.just("POST"), st.just("/v1/jobs"), st.builds(dict, body=JOB_BODIES)),
    st.tuples(st.just("POST"), st.just("/v1/jobs/batch"), st.builds(
        dict, body=st.builds(dict, jobs=st.lists(JOB_BODIES, min_size=1, max_size=3)))),
    st.tuples(st.just("POST"), st.just("/v1/schedules"), st.builds(dict, body=SCHEDULE_BODIES)),
    st.tuples(st.just("PATCH"), st.just("/v1/schedules/{id}"), st.builds(
        dict, body=SCHEDULE_FIELDS)),
)  # fmt: skip
API_EXAMPLES = 300
HOSTILE = settings(
    max_examples=API_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="module")
def editable(client: TestClient, admin: Headers) -> str:
    """The id of a dynamic schedule entry for the property's edits."""
    body = {**SCHEDULE, "name": f"editable-{uuid.uuid4().hex[:8]}"}
    created = send(client, admin, "POST", "/v1/schedules", body=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_no_hostile_request_gets_a_server_error_or_stores_what_cannot_be_read(
    client: TestClient, admin: Headers, editable: str
) -> None:
    @HOSTILE
    @given(REQUESTS)
    def check(request: tuple[str, str, dict[str, Any]]) -> None:
        method, path, kwargs = request
        response = send(client, admin, method, path.format(id=editable), **kwargs)
        where = f"{method} {path} {kwargs!r:.300}"
        assert response.status_code < 500, f"{where}: {response.text}"
        if response.status_code >= 400:
            assert_refused(response)
        elif path == "/v1/jobs" and method == "POST":
            read = send(client, admin, "GET", f"/v1/jobs/{response.json()['id']}")
            assert read.status_code == 200, f"{where}: stored but unreadable: {read.text}"
        elif path.startswith("/v1/schedules"):
            read = send(client, admin, "GET", "/v1/schedules")
            assert read.status_code == 200, f"{where}: stored but unreadable: {read.text}"

    check()
