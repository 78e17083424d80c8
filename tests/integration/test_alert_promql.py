"""The promql source against a real Prometheus server scraping a gauge the test sets, on both
stores: a query the server refuses, a range query, an unreachable or loopback-refused server
are 422s naming the field when the rule is saved; a rule fires and resolves with exactly one
FIRING and one RESOLVED; a server that is down or does not answer is the rule's last error,
follows its on_error, and the other rules are evaluated all the same."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tasks.alerts import instances, rule_store
from tasks.alerts.evaluation import evaluate_due, slot_of
from tasks.notifications import store as channel_store
from tasks.notifications.channels import parse_config
from tests.support.alerts import deliver_alert_notices, subjects
from tests.support.api import Headers, assert_error, issue_keys
from tests.support.channels import channel_settings
from tests.support.prometheus import Gauge, query, scraping_gauge
from tests.support.sinks import HttpSink, free_port, http_sink
from tests.support.waiting import wait_for
from workers.store.engine import session_scope
from workers.store.models import AlertRule
from workers.store.types import utcnow

SECRET = "whsec-promql-0123456789"
GAUGE = "taskyard_test_promql_gauge"


class Server:
    """The running Prometheus, its gauge and the webhook sink the rules notify."""

    def __init__(self, gauge: Gauge, url: str, sink: HttpSink) -> None:
        self.gauge, self.url, self.sink = gauge, url, sink

    def set(self, value: float) -> None:
        """Set the gauge and wait until Prometheus has scraped the new value."""
        self.gauge.value = value
        wait_for(lambda: query(self.url, f"{GAUGE} == {value}"), timeout=30, interval=0.2,
                 what=f"Prometheus to scrape {GAUGE} = {value}")  # fmt: skip


@pytest.fixture(scope="module")
def server(runtime: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("prometheus")
    with (
        scraping_gauge(directory, GAUGE) as (gauge, url),
        http_sink(SECRET) as sink,
        channel_settings(TASKYARD_PROMETHEUS_URL=url),
    ):
        config = {"kind": "webhook", "url": sink.url + "/promql", "secret": SECRET}
        channel_store.create_channel("promql-hook", parse_config(config))
        yield Server(gauge, url, sink)


@pytest.fixture(scope="module")
def admin(server: Server) -> Headers:
    return issue_keys({"admin": ["admin"]}, prefix="promql-")["admin"]


def rule(**fields: Any) -> dict[str, Any]:
    base = {"name": "gauge-high", "source": "promql", "spec": {"query": GAUGE}, "op": ">",
            "threshold": 2, "interval_s": 10, "channels": ["promql-hook"]}  # fmt: skip
    return {**base, **fields}


def next_slot() -> datetime:
    """A slot after every one evaluated so far."""
    with session_scope() as session:
        evaluated = [r.last_slot_at for r in session.query(AlertRule) if r.last_slot_at]
    return max([slot_of(utcnow(), 10), *evaluated]) + timedelta(seconds=10)


def states(name: str) -> list[str]:
    found = rule_store.find_rule(name)
    return [i.state for i in instances.list_instances(None, 10, rule_id=found.id)]


@pytest.mark.parametrize(
    ("spec", "field", "says"),
    [
        ({"query": GAUGE + "{"}, "spec.query", "bad_data"),
        ({"query": f"{GAUGE}[1m]"}, "spec.query", "matrix"),
        ({"query": GAUGE, "url": "http://127.0.0.1:1"}, "spec.url", "could not check"),
        ({"query": GAUGE, "url": "ftp://127.0.0.1"}, "spec.url", "http://"),
        ({"query": GAUGE, "timeout_s": 0}, "spec.timeout_s", "greater than 0"),
        ({"url": "http://127.0.0.1:9090"}, "spec.query", "Field required"),
    ],
)
def test_a_bad_query_or_server_is_a_422_naming_the_field_when_saved(
    client: TestClient, admin: Headers, spec: dict[str, Any], field: str, says: str
) -> None:
    sent = client.post("/v1/alert-rules", json=rule(name="bad", spec=spec), headers=admin)
    error = assert_error(sent, 422, "invalid_alert_rule", field)
    assert says in error["message"], error


def test_a_server_on_loopback_is_refused_unless_outbound_allows_it(
    client: TestClient, admin: Headers, server: Server
) -> None:
    with channel_settings(TASKYARD_OUTBOUND_ALLOW="", TASKYARD_PROMETHEUS_URL=server.url):
        sent = client.post("/v1/alert-rules", json=rule(name="loop"), headers=admin)
    error = assert_error(sent, 422, "invalid_alert_rule", "spec.url")
    assert "loopback" in error["message"]


def test_a_promql_rule_fires_and_resolves_once_each(
    client: TestClient, admin: Headers, server: Server
) -> None:
    # Given the gauge low and a rule on it (> 2), saved after the server accepted the query
    server.set(1)
    created = client.post("/v1/alert-rules", json=rule(), headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["spec"] == {"query": GAUGE, "url": None, "timeout_s": 5.0}
    evaluate_due(next_slot())
    assert states("gauge-high") == ["inactive"]
    # When the gauge rises: FIRING once, however many slots pass
    server.set(5)
    for _ in range(3):
        evaluate_due(next_slot())
    deliver_alert_notices()
    assert subjects(server.sink) == ["[FIRING] gauge-high: 5.0 > 2.0"]
    # When it falls: RESOLVED once
    server.set(0)
    for _ in range(3):
        evaluate_due(next_slot())
    deliver_alert_notices()
    resolved = "[RESOLVED] gauge-high: 0.0 > 2.0"
    assert subjects(server.sink) == ["[FIRING] gauge-high: 5.0 > 2.0", resolved]
    assert states("gauge-high") == ["inactive"]
    # And pausing it needs no server: the unchanged query is not asked again
    found = rule_store.find_rule("gauge-high")
    with channel_settings(TASKYARD_OUTBOUND_ALLOW=""):
        paused = client.patch(f"/v1/alert-rules/{found.id}", json={"paused": True}, headers=admin)
    assert paused.status_code == 200, paused.text


def _point_at(name: str, url: str, timeout_s: float = 5.0, query: str = GAUGE) -> None:
    """Move a saved rule to ``url`` (its server went away or hangs since it was saved)."""
    with session_scope() as session:
        record = session.query(AlertRule).filter_by(name=name).one()
        record.spec = {"query": query, "url": url, "timeout_s": timeout_s}


def test_a_server_down_or_hanging_is_the_rules_error_and_the_others_go_on(
    client: TestClient, admin: Headers, server: Server
) -> None:
    # Given two rules whose server goes away (one refused, one that never answers), each
    # alerting on error, and a healthy rule firing on the real server
    server.set(5)
    for name in ("down", "hanging", "hanging-too", "healthy"):
        body = rule(name=name, on_error="alerting", channels=[])
        assert client.post("/v1/alert-rules", json=body, headers=admin).status_code == 201
    with socket.socket() as hanging:
        hanging.bind(("127.0.0.1", 0))
        hanging.listen(1)  # accepts the connection, never answers
        _point_at("down", f"http://127.0.0.1:{free_port()}")
        hanging_url = f"http://127.0.0.1:{hanging.getsockname()[1]}"
        _point_at("hanging", hanging_url, timeout_s=0.5)
        # (another query: rules with the same spec share one read, which asks once anyway)
        _point_at("hanging-too", hanging_url, timeout_s=0.5, query=f"{GAUGE} * 2")
        # When a tick evaluates them
        report = evaluate_due(next_slot())
    # Then each failing rule shows why and follows on_error, and the healthy one fired
    assert report.errors == 0
    down = rule_store.find_rule("down")
    assert "could not query" in str(down.last_error)
    # and of the two rules on the hanging server, the second evaluated did not wait again
    errors = [str(rule_store.find_rule(name).last_error) for name in ("hanging", "hanging-too")]
    assert all("did not answer within 0.5 s" in error for error in errors), errors
    assert sum("not asked again before the next tick" in error for error in errors) == 1, errors
    names = ("down", "hanging", "hanging-too", "healthy")
    assert [states(name) for name in names] == [["firing"]] * 4
    (alert,) = instances.list_instances(None, 1, rule_id=down.id)
    assert alert.last_error == down.last_error
