"""``/v1/alert-routes``, ``/v1/inhibit-rules`` and ``/v1/silences`` on both stores, and the
``taskyard alerts routes``, ``alerts inhibit-rules`` and ``silences`` commands: what they
store, the 422s that name the field (matchers that can match nothing, a channel that does not
exist, a route below itself, a silence that ends before it starts), reads with `jobs:read`
and changes with `admin`, and the alerts list saying what mutes an alert."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cli.output import EXIT_FAILED, EXIT_USAGE
from tasks.alerts import route_store
from tasks.alerts.evaluation import evaluate_due, slot_of
from tasks.notifications import store as channel_store
from tasks.notifications.channels import parse_config
from tests.support.api import Headers, assert_error, issue_keys
from tests.support.channels import channel_settings
from tests.support.cli import last_line, one_line_failure, run
from workers.store.types import utcnow

SCOPES = {"admin": ["admin"], "reader": ["jobs:read"]}


@pytest.fixture(scope="module")
def keys(runtime: dict[str, str]) -> Iterator[dict[str, Headers]]:
    with channel_settings():
        config = {"kind": "webhook", "url": "http://127.0.0.1:9/x", "secret": "s" * 24}
        channel_store.create_channel("pager", parse_config(config))
        yield issue_keys(SCOPES, prefix="routing-")


def _later(hours: int = 1) -> str:
    return (utcnow() + timedelta(hours=hours)).isoformat()


def test_routes_are_created_nested_read_edited_and_removed(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    admin, reader = keys["admin"], keys["reader"]
    top = {"name": "db", "matchers": ["team=db"], "channels": ["pager"], "continue": True}
    created = client.post("/v1/alert-routes", json=top, headers=admin)
    assert created.status_code == 201, created.text
    route = created.json()
    assert route["matchers"] == [{"name": "team", "op": "=", "value": "db"}]
    assert (route["continue"], route["parent"], route["group_by"]) == (True, None, ["alertname"])
    child = {"name": "db-crit", "parent": "db", "matchers": ['severity=~"crit.*"']}
    assert client.post("/v1/alert-routes", json=child, headers=admin).json()["parent"] == "db"
    assert client.get(f"/v1/alert-routes/{route['id']}", headers=reader).json() == route
    edited = client.patch(
        f"/v1/alert-routes/{route['id']}", json={"group_by": ["..."]}, headers=admin
    )
    assert edited.json()["group_by"] == ["..."]
    # a route may not sit below its own child
    loop = client.patch(
        f"/v1/alert-routes/{route['id']}", json={"parent": "db-crit"}, headers=admin
    )
    assert_error(loop, 422, "invalid_alert_route", "parent")
    assert client.post("/v1/alert-routes", json=top, headers=admin).status_code == 409
    assert (
        client.post("/v1/alert-routes", json={**top, "name": "x"}, headers=reader).status_code
        == 403
    )
    assert client.delete(f"/v1/alert-routes/{route['id']}", headers=admin).status_code == 204
    assert client.get("/v1/alert-routes", headers=reader).json()["items"] == []  # the child too


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"matchers": ["team=db", "team=web"]}, "matchers"),
        ({"matchers": ['team=~"("']}, "matchers[0]"),
        ({"channels": ["nope"]}, "channels"),
        ({"parent": "nope"}, "parent"),
        ({"group_by": ["...", "team"]}, "group_by"),
        ({"group_interval_s": 600, "repeat_interval_s": 60}, "repeat_interval_s"),
        ({"group_wait_s": -1}, "group_wait_s"),
    ],
)
def test_a_route_that_cannot_work_is_a_422_naming_the_field(
    client: TestClient, keys: dict[str, Headers], body: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/alert-routes", json={"name": "bad", **body}, headers=keys["admin"])
    assert_error(response, 422, "invalid_alert_route", field)


def test_silences_are_made_listed_and_expired_and_show_on_the_alerts_they_mute(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    admin, reader = keys["admin"], keys["reader"]
    body = {"matchers": ["alertname=always"], "ends_at": _later(), "comment": "maintenance"}
    created = client.post("/v1/silences", json=body, headers=admin)
    assert created.status_code == 201, created.text
    silence = created.json()
    assert (silence["state"], silence["created_by"]) == ("active", "routing-admin")
    rule = {"name": "always", "source": "sql", "spec": {"query": "SELECT 1 AS value"},
            "op": ">", "threshold": 0, "interval_s": 10}  # fmt: skip
    assert client.post("/v1/alert-rules", json=rule, headers=admin).status_code == 201
    evaluate_due(slot_of(utcnow(), 10) + timedelta(seconds=10))
    alerts = client.get("/v1/alerts", headers=reader).json()["items"]
    assert [(a["rule"], a["silenced_by"]) for a in alerts] == [("always", [silence["id"]])]
    listed = client.get("/v1/silences?state=active", headers=reader).json()["items"]
    assert [s["id"] for s in listed] == [silence["id"]]
    expired = client.post(f"/v1/silences/{silence['id']}/expire", headers=admin)
    assert expired.json()["state"] == "expired"
    assert client.get("/v1/silences?state=active", headers=reader).json()["items"] == []
    assert client.get("/v1/alerts", headers=reader).json()["items"][0]["silenced_by"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"matchers": [], "ends_at": _later(), "comment": "c"}, "matchers"),
        ({"matchers": ["a=1", "a!=1"], "ends_at": _later(), "comment": "c"}, "matchers"),
        ({"matchers": ["a=1"], "ends_at": _later(-1), "comment": "c"}, "ends_at"),
        (
            {"matchers": ["a=1"], "starts_at": _later(3), "ends_at": _later(2), "comment": "c"},
            "ends_at",
        ),
        ({"matchers": ["a=1"], "ends_at": _later(), "comment": "  "}, "comment"),
    ],
)
def test_a_silence_that_cannot_work_is_a_422_naming_the_field(
    client: TestClient, keys: dict[str, Headers], body: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/silences", json=body, headers=keys["admin"])
    assert_error(response, 422, "invalid_silence", field)


def test_inhibit_rules_are_stored_and_refuse_an_empty_side(
    client: TestClient, keys: dict[str, Headers]
) -> None:
    body = {"name": "crit-mutes-warn", "source_matchers": ["severity=critical"],
            "target_matchers": ["severity=warning"], "equal": ["team"]}  # fmt: skip
    created = client.post("/v1/inhibit-rules", json=body, headers=keys["admin"])
    assert created.status_code == 201, created.text
    assert created.json()["equal"] == ["team"]
    empty = client.post("/v1/inhibit-rules", json={**body, "name": "e", "target_matchers": []},
                        headers=keys["admin"])  # fmt: skip
    assert_error(empty, 422, "invalid_alert_route", "target_matchers")
    rule_id = created.json()["id"]
    assert client.delete(f"/v1/inhibit-rules/{rule_id}", headers=keys["admin"]).status_code == 204
    assert client.get(f"/v1/inhibit-rules/{rule_id}", headers=keys["reader"]).status_code == 404


def test_the_cli_adds_lists_and_removes_routes_inhibit_rules_and_silences(
    keys: dict[str, Headers],
) -> None:
    added = run("alerts", "routes", "add", "web", "--match", "team=web", "--channel", "pager",
                "--group-by", "team", "--group-wait", "0")  # fmt: skip
    assert route_store.get_route(uuid.UUID(last_line(added))).group_wait_s == 0
    assert 'team="web"' in run("alerts", "routes", "list").stdout
    assert "pager" in run("alerts", "routes", "show", "web").stdout
    bad = run("alerts", "routes", "add", "bad", "--match", "a=1", "--match", "a=2")
    assert "can never match" in one_line_failure(bad, EXIT_USAGE)
    assert run("alerts", "routes", "remove", "web").exit_code == 0
    missing = one_line_failure(run("alerts", "routes", "show", "web"), EXIT_FAILED)
    assert "taskyard alerts routes list" in missing

    inhibit = run("alerts", "inhibit-rules", "add", "i1", "--source", "severity=critical",
                  "--target", "severity=warning", "--equal", "team")  # fmt: skip
    assert inhibit.exit_code == 0, inhibit.output
    assert "i1" in run("alerts", "inhibit-rules", "list").stdout
    assert run("alerts", "inhibit-rules", "remove", "i1").exit_code == 0

    silenced = run("silences", "add", "team=db", "--for", "2h", "--comment", "upgrade")
    silence_id = last_line(silenced)
    assert "active" in run("silences", "list").stdout
    assert run("silences", "expire", silence_id).exit_code == 0
    assert route_store.silence_state(route_store.get_silence(uuid.UUID(silence_id))) == "expired"
    both = one_line_failure(run("silences", "add", "team=db", "--comment", "c"), EXIT_USAGE)
    assert "--for" in both
