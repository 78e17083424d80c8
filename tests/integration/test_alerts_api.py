"""``/v1/alert-rules`` and ``/v1/alerts`` on both stores: CRUD, pause and resume, 422s naming
the field, cursor pages, errors in the one shape, reads with `jobs:read` and changes with
`admin`; alerts and their history once a rule has been evaluated."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tasks.alerts.evaluation import evaluate_due, slot_of
from tests.support.api import Headers, assert_error, issue_keys
from workers.store.types import utcnow

SCOPES = {"admin": ["admin"], "reader": ["jobs:read"], "writer": ["jobs:write"]}
RULE = {
    "name": "dead-growing",
    "source": "dead_jobs",
    "spec": {"window_s": 3600},
    "op": ">=",
    "threshold": 0,
    "interval_s": 10,
    "labels": {"team": "ops"},
    "annotations": {"summary": "{{ value }} dead jobs"},
}


@pytest.fixture(scope="module")
def keys(runtime: dict[str, str]) -> dict[str, Headers]:
    return issue_keys(SCOPES, prefix="alerts-")


@pytest.fixture(scope="module")
def admin(keys: dict[str, Headers]) -> Headers:
    return keys["admin"]


def create(client: TestClient, headers: Headers, **fields: Any) -> Any:
    return client.post("/v1/alert-rules", json={**RULE, **fields}, headers=headers)


def test_an_admin_creates_reads_pauses_edits_and_removes_a_rule(
    client: TestClient, admin: Headers, keys: dict[str, Headers]
) -> None:
    created = create(client, admin)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["spec"] == {"window_s": 3600, "job_type": None}
    assert rule["annotations"]["summary"] == "{{ value }} dead jobs"
    assert (rule["no_data"], rule["on_error"], rule["severity"]) == ("ok", "keep_last", "warning")

    assert client.get(f"/v1/alert-rules/{rule['id']}", headers=keys["reader"]).json() == rule
    paused = client.patch(f"/v1/alert-rules/{rule['id']}", json={"paused": True}, headers=admin)
    assert paused.json()["paused"] is True
    resumed = client.patch(
        f"/v1/alert-rules/{rule['id']}", json={"paused": False, "for_s": 30}, headers=admin
    )
    assert (resumed.json()["paused"], resumed.json()["for_s"]) == (False, 30)

    assert_error(create(client, admin), 409, "alert_rule_conflict")
    removed = client.delete(f"/v1/alert-rules/{rule['id']}", headers=admin)
    assert removed.status_code == 204
    missing = client.get(f"/v1/alert-rules/{rule['id']}", headers=admin)
    assert_error(missing, 404, "alert_rule_not_found")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"recovery_threshold": 5, "op": ">"}, "recovery_threshold"),
        ({"source": "sql", "spec": {"query": "UPDATE jobs SET status = 'dead'"}}, "spec.query"),
        ({"source": "sql", "spec": {"query": "SELECT 1 AS value; DROP TABLE jobs"}}, "spec.query"),
        ({"source": "sql", "spec": {"query": "SELECT :other AS value"}}, "spec.query"),
        ({"spec": {"window_s": 1}}, "spec.window_s"),
        ({"spec": {"nope": 1}}, "spec.nope"),
        ({"interval_s": 15}, "interval_s"),
        ({"annotations": {"summary": "{{ nope }}"}}, "annotations.summary"),
        ({"annotations": {"runbook": "x"}}, "annotations"),
        ({"labels": {"bad-name": "x"}}, "labels"),
        ({"channels": ["no-such-channel"]}, "channels"),
    ],
)
def test_a_bad_rule_is_a_422_naming_the_field(
    client: TestClient, admin: Headers, fields: dict[str, Any], field: str
) -> None:
    response = client.post(
        "/v1/alert-rules",
        content=_json({**RULE, "name": "bad", **fields}),
        headers={**admin, "Content-Type": "application/json"},
    )
    assert_error(response, 422, "invalid_alert_rule", field)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"op": "=>"}, "body.op"),
        ({"threshold": float("nan")}, "body.threshold"),
        ({"threshold": float("inf")}, "body.threshold"),
        ({"recovery_threshold": float("-inf")}, "body.recovery_threshold"),
        ({"no_data": "maybe"}, "body.no_data"),
    ],
)
def test_a_malformed_field_is_a_422_naming_it(
    client: TestClient, admin: Headers, fields: dict[str, Any], field: str
) -> None:
    response = client.post(
        "/v1/alert-rules",
        content=_json({**RULE, "name": "malformed", **fields}),
        headers={**admin, "Content-Type": "application/json"},
    )
    assert_error(response, 422, "validation_error", field)


def test_reads_need_jobs_read_and_changes_need_admin(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    assert_error(client.get("/v1/alert-rules", headers=keys["writer"]), 403, "forbidden")
    assert_error(create(client, keys["reader"], name="nope"), 403, "forbidden")
    assert client.get("/v1/alerts", headers=keys["reader"]).status_code == 200
    assert_error(client.get("/v1/alerts"), 401, "unauthorized")


def test_rules_come_a_page_at_a_time(client: TestClient, admin: Headers) -> None:
    for index in range(3):
        assert create(client, admin, name=f"paged-{index}").status_code == 201
    first = client.get("/v1/alert-rules?limit=2", headers=admin).json()
    assert [r["name"] for r in first["items"]] == ["paged-2", "paged-1"]
    rest = client.get(f"/v1/alert-rules?limit=2&cursor={first['next_cursor']}", headers=admin)
    assert rest.json()["items"][0]["name"] == "paged-0"


def test_alerts_show_state_since_value_and_history(client: TestClient, admin: Headers) -> None:
    rule = create(client, admin, name="always").json()
    slot = slot_of(utcnow(), 10)
    evaluate_due(slot)
    alerts = client.get("/v1/alerts?rule=always", headers=admin).json()["items"]
    (alert,) = alerts
    assert (alert["state"], alert["labels"], alert["last_value"]) == ("firing", {"team": "ops"}, 0)
    assert alert["since"].startswith(slot.isoformat()[:19])
    firing = client.get("/v1/alerts?state=firing", headers=admin).json()["items"]
    assert alert["id"] in [a["id"] for a in firing]
    history = client.get("/v1/alerts/history?rule=always", headers=admin).json()["items"]
    assert [e["event"] for e in history] == ["fire", "create"]
    assert history[0]["notice"] == "FIRING"
    assert_error(client.get("/v1/alerts?rule=nobody", headers=admin), 404, "alert_rule_not_found")
    client.delete(f"/v1/alert-rules/{rule['id']}", headers=admin)


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document)  # NaN and Infinity written as JavaScript does
