"""``/v1/alert-rules`` and ``/v1/alerts`` on both stores: pause and resume, 422s naming the
field, errors in the one shape, reads with `jobs:read` and changes with `admin`; alerts and
their history once a rule has been evaluated (what every named resource does, from creation
to cursor pages, is held in test_resources_api)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tasks.alerts.evaluation import evaluate_due, slot_of
from tests.support.api import Headers, assert_error
from tests.support.resources import ALERT_RULES
from workers.store.types import utcnow

create = ALERT_RULES.create


def test_a_reader_reads_a_rule_and_an_admin_pauses_and_resumes_it(
    client: TestClient, admin: Headers, keys: dict[str, Headers]
) -> None:
    rule = create(client, admin).json()
    url = f"/v1/alert-rules/{rule['id']}"

    assert client.get(url, headers=keys["reader"]).json() == rule
    paused = client.patch(url, json={"paused": True}, headers=admin)
    assert paused.json()["paused"] is True
    resumed = client.patch(url, json={"paused": False, "for_s": 30}, headers=admin)
    assert (resumed.json()["paused"], resumed.json()["for_s"]) == (False, 30)


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"recovery_threshold": 5, "op": ">"}, "invalid_alert_rule", "recovery_threshold"),
        ({"source": "sql", "spec": {"query": "UPDATE jobs SET status = 'dead'"}},
         "invalid_alert_rule", "spec.query"),
        ({"source": "sql", "spec": {"query": "SELECT 1 AS value; DROP TABLE jobs"}},
         "invalid_alert_rule", "spec.query"),
        ({"source": "sql", "spec": {"query": "SELECT :other AS value"}}, "invalid_alert_rule",
         "spec.query"),
        ({"spec": {"window_s": 1}}, "invalid_alert_rule", "spec.window_s"),
        ({"spec": {"nope": 1}}, "invalid_alert_rule", "spec.nope"),
        ({"interval_s": 15}, "invalid_alert_rule", "interval_s"),
        ({"annotations": {"summary": "{{ nope }}"}}, "invalid_alert_rule", "annotations.summary"),
        ({"annotations": {"runbook": "x"}}, "invalid_alert_rule", "annotations"),
        ({"labels": {"bad-name": "x"}}, "invalid_alert_rule", "labels"),
        ({"channels": ["no-such-channel"]}, "invalid_alert_rule", "channels"),
        # malformed before any check of meaning
        ({"op": "=>"}, "validation_error", "body.op"),
        ({"threshold": float("nan")}, "validation_error", "body.threshold"),
        ({"threshold": float("inf")}, "validation_error", "body.threshold"),
        ({"recovery_threshold": float("-inf")}, "validation_error", "body.recovery_threshold"),
        ({"no_data": "maybe"}, "validation_error", "body.no_data"),
    ],
)  # fmt: skip
def test_a_bad_rule_is_a_422_naming_the_field(
    client: TestClient, admin: Headers, fields: dict[str, Any], code: str, field: str
) -> None:
    response = client.post(
        "/v1/alert-rules",
        content=_json({**ALERT_RULES.sample, "name": "bad", **fields}),
        headers={**admin, "Content-Type": "application/json"},
    )
    assert_error(response, 422, code, field)


def test_reads_need_jobs_read_and_changes_need_admin(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    assert_error(client.get("/v1/alert-rules", headers=keys["writer"]), 403, "forbidden")
    assert_error(create(client, keys["reader"], name="nope"), 403, "forbidden")
    assert client.get("/v1/alerts", headers=keys["reader"]).status_code == 200
    assert_error(client.get("/v1/alerts"), 401, "unauthorized")


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
