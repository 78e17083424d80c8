"""``/v1/schedules`` on a real store: CRUD, validation errors in the one shape, and scopes."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from schedules import store
from schedules.catalog import STATIC_ENTRIES
from tests.support.api import Headers, assert_error


@pytest.fixture(scope="module", autouse=True)
def static_catalog(runtime: dict[str, str]) -> None:
    store.sync_static(STATIC_ENTRIES)


def by_name(client: TestClient, headers: Headers, name: str) -> dict[str, Any]:
    items = client.get("/v1/schedules", headers=headers).json()["items"]
    return next(item for item in items if item["name"] == name)


def test_listing_shows_runs_and_a_human_description(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    response = client.get("/v1/schedules", headers=keys["reader"])

    assert response.status_code == 200, response.text
    purge = by_name(client, keys["reader"], "maintenance.purge")
    assert purge["human_description"] == "At 03:15 AM"
    assert purge["static"] is True
    assert purge["next_run_at"].endswith("03:15:00Z")
    assert purge["last_run_at"] is None
    assert by_name(client, keys["reader"], "maintenance.canary")["human_description"] == (
        "Every minute"
    )


def test_an_admin_creates_reads_edits_and_removes_an_entry(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    admin = keys["admin"]
    body = {"name": "weekday-report", "task": "diag.sleep", "cron": "0 9 * * 1-5",
            "timezone": "Europe/Berlin", "payload": {"ms": 5}, "priority": 7}  # fmt: skip

    created = client.post("/v1/schedules", json=body, headers=admin)
    assert created.status_code == 201, created.text
    entry = created.json()
    assert entry["human_description"] == "At 09:00 AM, Monday through Friday"
    assert (entry["kind"], entry["static"], entry["paused"]) == ("cron", False, False)
    assert entry["next_run_at"] is not None

    fetched = client.get(f"/v1/schedules/{entry['id']}", headers=keys["reader"])
    assert fetched.json() == entry

    paused = client.patch(f"/v1/schedules/{entry['id']}", json={"paused": True}, headers=admin)
    assert paused.status_code == 200, paused.text
    assert (paused.json()["paused"], paused.json()["next_run_at"]) == (True, None)

    edited = client.patch(
        f"/v1/schedules/{entry['id']}",
        json={"interval_s": 90, "paused": False, "payload": {"ms": 1}},
        headers=admin,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["human_description"] == "Every 90 seconds"
    assert (edited.json()["timezone"], edited.json()["payload"]) == ("UTC", {"ms": 1})
    assert edited.json()["next_run_at"] is not None

    removed = client.delete(f"/v1/schedules/{entry['id']}", headers=admin)
    assert removed.status_code == 204
    assert_error(client.get(f"/v1/schedules/{entry['id']}", headers=admin), 404,
                 "schedule_not_found")  # fmt: skip


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"task": "celery.backend_cleanup", "interval_s": 5}, "invalid_schedule", "unknown task"),
        ({"task": "diag.noop", "cron": "*/61 * * * *"}, "invalid_schedule", "cron"),
        ({"task": "diag.noop", "cron": "0 9 * * *", "timezone": "Europe/Atlantis"},
         "invalid_schedule", "unknown time zone"),
        ({"task": "diag.noop", "interval_s": 0}, "validation_error", "interval_s"),
        ({"task": "diag.noop"}, "invalid_schedule", "either a cron expression or an interval"),
        ({"task": "diag.noop", "cron": "* * * * *", "interval_s": 5}, "invalid_schedule",
         "not both"),
        ({"task": "diag.sleep", "interval_s": 5, "payload": {"ms": "soon"}}, "invalid_schedule",
         "payload.ms"),
        ({"task": "diag.noop", "interval_s": 5, "queue": "urgent"}, "validation_error", "queue"),
    ],
)  # fmt: skip
def test_invalid_entries_are_422_with_a_clear_message(
    client: TestClient, keys: dict[str, Headers], body: dict[str, Any], code: str, words: str
) -> None:
    response = client.post(
        "/v1/schedules", json={"name": "rejected", **body}, headers=keys["admin"]
    )

    error = assert_error(response, 422, code)
    assert words in error["message"] or words in str(error["details"])


def test_a_maintenance_task_takes_only_the_arguments_it_declares(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    admin = keys["admin"]
    body = {"name": "backup-etc", "task": "maintenance.backup", "interval_s": 3600}

    # An argument the task does not take is refused, naming it (it used to fail every fire)
    refused = client.post("/v1/schedules", json={**body, "payload": {"path": "/etc"}},
                          headers=admin)  # fmt: skip
    error = assert_error(refused, 422, "invalid_schedule")
    assert error["details"] == [
        {"field": "payload.path", "message": "Extra inputs are not permitted"}
    ]
    assert "maintenance.backup" in error["message"]
    assert "payload.path" in error["message"]
    # and so is a declared one of the wrong type (strict: no coercion)
    wrong = client.post("/v1/schedules", json={**body, "payload": {"keep": "3"}}, headers=admin)
    assert assert_error(wrong, 422, "invalid_schedule")["details"][0]["field"] == "payload.keep"

    # A declared one is kept as sent, and an edit is checked the same way
    created = client.post("/v1/schedules", json={**body, "payload": {"keep": 3}}, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["payload"] == {"keep": 3}
    url = f"/v1/schedules/{created.json()['id']}"
    patched = client.patch(url, json={"payload": {"keep": 3, "path": "/etc"}}, headers=admin)
    assert assert_error(patched, 422, "invalid_schedule")["details"][0]["field"] == "payload.path"
    moved = client.patch(url, json={"task": "maintenance.vacuum"}, headers=admin)
    assert assert_error(moved, 422, "invalid_schedule")["details"][0]["field"] == "payload.keep"
    assert client.delete(url, headers=admin).status_code == 204


def test_a_duplicate_name_is_409(client: TestClient, keys: dict[str, Headers]) -> None:
    body = {"name": "twice", "task": "diag.noop", "interval_s": 60}
    assert client.post("/v1/schedules", json=body, headers=keys["admin"]).status_code == 201

    again = client.post("/v1/schedules", json=body, headers=keys["admin"])

    assert_error(again, 409, "schedule_conflict")
    clash = client.post("/v1/schedules", json={**body, "name": "maintenance.purge"},
                        headers=keys["admin"])  # fmt: skip
    assert_error(clash, 409, "schedule_conflict")


def test_a_static_entry_only_pauses_and_resumes(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    admin = keys["admin"]
    vacuum = by_name(client, admin, "maintenance.vacuum")
    url = f"/v1/schedules/{vacuum['id']}"

    assert_error(
        client.patch(url, json={"cron": "0 1 * * *"}, headers=admin), 409, "schedule_conflict"
    )
    assert_error(client.patch(url, json={"paused": True, "priority": 1}, headers=admin), 409,
                 "schedule_conflict")  # fmt: skip
    assert_error(client.delete(url, headers=admin), 409, "schedule_conflict")
    assert client.patch(url, json={"paused": True}, headers=admin).json()["paused"] is True
    resumed = client.patch(url, json={"paused": False}, headers=admin).json()
    assert resumed["paused"] is False
    assert resumed["next_run_at"].endswith("03:45:00Z")


def test_patch_refuses_unknown_fields_and_nulls_where_a_value_is_needed(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    created = client.post("/v1/schedules", json={"name": "patchy", "task": "diag.noop",
                          "interval_s": 60}, headers=keys["admin"])  # fmt: skip
    url = f"/v1/schedules/{created.json()['id']}"

    assert_error(client.patch(url, json={"name": "renamed"}, headers=keys["admin"]), 422,
                 "validation_error")  # fmt: skip
    assert_error(client.patch(url, json={"paused": None}, headers=keys["admin"]), 422,
                 "validation_error")  # fmt: skip
    assert_error(client.patch(url, json={"cron": "nope"}, headers=keys["admin"]), 422,
                 "invalid_schedule")  # fmt: skip


def test_unknown_ids_are_404(client: TestClient, keys: dict[str, Headers]) -> None:
    admin = keys["admin"]

    assert_error(client.get("/v1/schedules/not-a-uuid", headers=admin), 404, "schedule_not_found")
    missing = "/v1/schedules/00000000-0000-4000-8000-000000000000"
    assert_error(client.get(missing, headers=admin), 404, "schedule_not_found")
    assert_error(client.patch(missing, json={"paused": True}, headers=admin), 404,
                 "schedule_not_found")  # fmt: skip
    assert_error(client.delete(missing, headers=admin), 404, "schedule_not_found")


def test_reading_needs_jobs_read_and_writing_needs_admin(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    body = {"name": "scoped", "task": "diag.noop", "interval_s": 60}
    purge = by_name(client, keys["admin"], "maintenance.purge")

    assert_error(client.get("/v1/schedules"), 401, "unauthorized")
    assert_error(client.get("/v1/schedules", headers=keys["writer"]), 403, "forbidden")
    assert client.get(f"/v1/schedules/{purge['id']}", headers=keys["reader"]).status_code == 200
    for headers in (keys["reader"], keys["writer"]):
        assert_error(client.post("/v1/schedules", json=body, headers=headers), 403, "forbidden")
        assert_error(client.patch(f"/v1/schedules/{purge['id']}", json={"paused": True},
                                  headers=headers), 403, "forbidden")  # fmt: skip
        assert_error(client.delete(f"/v1/schedules/{purge['id']}", headers=headers), 403,
                     "forbidden")  # fmt: skip
    assert by_name(client, keys["admin"], "maintenance.purge")["paused"] is False
