"""The Alertmanager door (``POST /api/v2/alerts``) on both stores: only an `alerts:write` (or
`admin`) key posts; bad bodies are 4xx in the one error shape and the API goes on serving;
received alerts become alerts of the `alertmanager` rule (made by the first post) and send
exactly one FIRING and one RESOLVED through a webhook, a re-post refreshing without a new
notice; a missing endsAt resolves after the resolve timeout; matchers narrow a rule."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cli.output import EXIT_USAGE
from tasks.alerts import rule_store
from tasks.alerts.evaluation import evaluate_due, slot_of
from tasks.notifications import store as channel_store
from tasks.notifications.channels import parse_config
from tests.support.alerts import deliver_alert_notices, subjects
from tests.support.api import Headers, assert_error, issue_keys
from tests.support.channels import channel_settings
from tests.support.cli import last_line, one_line_failure, run
from tests.support.sinks import HttpSink, http_sink
from workers.store.types import utcnow

SECRET = "whsec-door-0123456789"
SCOPES = {"sender": ["alerts:write"], "admin": ["admin"], "writer": ["jobs:write"]}
LABELS = {"alertname": "QueueBacklog", "queue": "bulk", "severity": "warning"}


@pytest.fixture(scope="module")
def sink(runtime: dict[str, str]) -> Iterator[HttpSink]:
    with http_sink(SECRET) as running, channel_settings(TASKYARD_ALERTS_RESOLVE_TIMEOUT_S="300"):
        config = {"kind": "webhook", "url": running.url + "/door", "secret": SECRET}
        channel_store.create_channel("door-hook", parse_config(config))
        yield running


@pytest.fixture(scope="module")
def keys(sink: HttpSink) -> dict[str, Headers]:
    return issue_keys(SCOPES, prefix="door-")


@pytest.fixture(autouse=True)
def fresh(sink: HttpSink) -> None:
    deliver_alert_notices()
    sink.received.clear()


def post(client: TestClient, headers: Headers, alerts: Any) -> Any:
    return client.post("/api/v2/alerts", json=alerts, headers=headers)


def alert(**fields: Any) -> dict[str, Any]:
    return {"labels": LABELS, "annotations": {"summary": "bulk holds 11000"}, **fields}


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def tick(sink: HttpSink, at: datetime) -> list[str]:
    """Evaluate the slot at ``at``, deliver its notices: what the sink has received so far."""
    evaluate_due(at)
    deliver_alert_notices()
    return [subject.split(" ")[0] for subject in subjects(sink)]


def next_slot(client: TestClient, headers: Headers) -> datetime:
    """A slot after every one evaluated so far (earlier tests ran slots ahead of now)."""
    rules = client.get("/v1/alert-rules", headers=headers).json()["items"]
    evaluated = [datetime.fromisoformat(r["last_slot_at"]) for r in rules if r["last_slot_at"]]
    return max([slot_of(utcnow(), 10), *evaluated]) + timedelta(seconds=10)


def alerts_of(client: TestClient, headers: Headers, rule: str) -> list[dict[str, Any]]:
    listed = client.get("/v1/alerts", params={"rule": rule}, headers=headers)
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


def test_only_an_alerts_write_or_admin_key_posts(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    assert_error(client.post("/api/v2/alerts", json=[]), 401, "unauthorized")
    refused = assert_error(post(client, keys["writer"], []), 403, "forbidden")
    assert refused["details"] == {"scope": "alerts:write"}
    assert post(client, keys["sender"], []).status_code == 200
    assert post(client, keys["admin"], []).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"labels": LABELS}, "body"),
        ([{}], "body.0.labels"),
        ([{"labels": {}}], "body.0.labels"),
        ([alert(), {"labels": {"bad-name": "x"}}], "body.1.labels"),
        ([alert(startsAt="2026-12-07T10:00:00")], "body.0.startsAt"),
        ([alert(startsAt="2026-12-07T10:00:00Z", endsAt="2026-12-07T09:00:00Z")], "body.0.endsAt"),
        ([alert(labels={"alertname": "a\u0000b"})], "body.0.labels"),
        ([alert(fingerprint="abc")], "body.0.fingerprint"),
        ([alert()] * 1_001, "body"),
    ],
)
def test_a_bad_post_is_a_422_naming_the_field_and_the_api_goes_on(
    client: TestClient, keys: dict[str, Headers], body: Any, field: str
) -> None:
    refused = assert_error(post(client, keys["sender"], body), 422, "validation_error")
    assert refused["details"][0]["field"].startswith(field), refused
    assert client.get("/healthz").status_code == 200


def test_a_body_that_is_not_json_is_a_415(client: TestClient, keys: dict[str, Headers]) -> None:
    headers = {**keys["sender"], "Content-Type": "text/plain"}
    sent = client.post("/api/v2/alerts", content=b"[]", headers=headers)
    assert_error(sent, 415, "unsupported_media_type")


def test_a_received_alert_fires_once_refreshes_quietly_and_resolves_once(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink
) -> None:
    admin = keys["admin"]
    # Given a firing alert posted as Prometheus posts it: the door makes the rule `alertmanager`
    now = utcnow() - timedelta(seconds=30)
    firing = [alert(startsAt=iso(now), endsAt=iso(now + timedelta(minutes=4)))]
    sent = post(client, keys["sender"], firing)
    assert sent.status_code == 200, sent.text
    rules = client.get("/v1/alert-rules", headers=admin).json()["items"]
    (door_rule,) = [r for r in rules if r["source"] == "alertmanager"]
    assert (door_rule["name"], door_rule["channels"]) == ("alertmanager", [])
    # and an operator gives it a channel
    patched = client.patch(
        f"/v1/alert-rules/{door_rule['id']}", json={"channels": ["door-hook"]}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    # When the evaluator's slots pass
    t0 = next_slot(client, admin)
    # Then one FIRING, with the annotations received
    assert tick(sink, t0) == ["[FIRING]"]
    assert subjects(sink) == ["[FIRING] QueueBacklog: bulk holds 11000"]
    (instance,) = alerts_of(client, admin, "alertmanager")
    assert (instance["state"], instance["labels"]) == ("firing", LABELS)
    # When Prometheus re-posts it (a refresh), nothing new is sent
    assert post(client, keys["sender"], [alert(startsAt=iso(now))]).status_code == 200
    assert tick(sink, t0 + timedelta(seconds=10)) == ["[FIRING]"]
    # When it is posted resolved (endsAt in the past)
    resolved = [alert(startsAt=iso(now), endsAt=iso(utcnow() - timedelta(seconds=1)))]
    assert post(client, keys["sender"], resolved).status_code == 200
    # Then one RESOLVED, and no more on later slots or repeated resolved posts
    assert tick(sink, t0 + timedelta(seconds=20)) == ["[FIRING]", "[RESOLVED]"]
    assert post(client, keys["sender"], resolved).status_code == 200
    assert tick(sink, t0 + timedelta(seconds=30)) == ["[FIRING]", "[RESOLVED]"]
    (instance,) = alerts_of(client, admin, "alertmanager")
    assert instance["state"] == "inactive"


def test_an_alert_not_posted_again_resolves_after_the_resolve_timeout(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink
) -> None:
    # Given an alert posted without endsAt (the resolve timeout is 300 s in this module)
    labels = {"alertname": "Quiet", "job": "sender"}
    posted_at = utcnow()
    assert post(client, keys["sender"], [{"labels": labels}]).status_code == 200
    assert tick(sink, next_slot(client, keys["admin"])) == ["[FIRING]"]
    # When no post refreshes it: still firing inside the timeout, resolved past it
    assert tick(sink, slot_of(posted_at + timedelta(seconds=250), 10)) == ["[FIRING]"]
    resolved = tick(sink, slot_of(posted_at + timedelta(seconds=310), 10))
    assert resolved == ["[FIRING]", "[RESOLVED]"]


def test_a_rule_reading_the_door_with_matchers_takes_only_matching_alerts(
    client: TestClient, keys: dict[str, Headers], sink: HttpSink
) -> None:
    admin = keys["admin"]
    # Given a rule for the critical alerts only
    rule = {
        "name": "door-critical", "source": "alertmanager", "op": ">", "threshold": 0,
        "spec": {"matchers": {"severity": "critical"}}, "interval_s": 10,
    }  # fmt: skip
    assert client.post("/v1/alert-rules", json=rule, headers=admin).status_code == 201
    # When a warning and a critical alert are posted and evaluated
    until = iso(utcnow() + timedelta(hours=1))
    posted = [{"labels": {"alertname": "A", "severity": "warning"}, "endsAt": until},
              {"labels": {"alertname": "B", "severity": "critical"}, "endsAt": until}]  # fmt: skip
    assert post(client, keys["sender"], posted).status_code == 200
    evaluate_due(next_slot(client, admin))
    # Then only the critical one is its alert, while the door's own rule has both
    assert [a["labels"]["alertname"] for a in alerts_of(client, admin, "door-critical")] == ["B"]
    names = {a["labels"]["alertname"] for a in alerts_of(client, admin, "alertmanager")}
    assert {"A", "B"} <= names


def test_the_cli_adds_a_rule_reading_the_door_and_a_key_for_prometheus(
    keys: dict[str, Headers],
) -> None:
    matchers = '{"matchers": {"team": "ops"}}'
    added = run("alerts", "rules", "add", "door-cli", "--source", "alertmanager", "--op", ">",
                "--threshold", "0", "--every", "10", "--spec", matchers)  # fmt: skip
    record = rule_store.get_rule(uuid.UUID(last_line(added)))
    assert (record.source, record.spec) == ("alertmanager", {"matchers": {"team": "ops"}})
    created = run("keys", "create", "--name", "prometheus-cli", "--scope", "alerts:write")
    assert created.exit_code == 0, created.output
    assert last_line(created).startswith("tyk_")
    bad_scope = run("keys", "create", "--name", "x", "--scope", "alerts:read")
    refused = one_line_failure(bad_scope, EXIT_USAGE)
    assert "alerts:write" in refused
