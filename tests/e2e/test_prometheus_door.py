"""A real Prometheus server sends its alerts to a running `taskyard api` through the
Alertmanager door, authenticated by an `alerts:write` key: its rule on a gauge the test sets
fires, and exactly one FIRING reaches a webhook sink; the gauge falls, Prometheus sends the
alert resolved, and exactly one RESOLVED follows. The evaluator ticks in this process, as
beat's `maintenance.alerts` would."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tasks.alerts import door, rule_store
from tasks.alerts.decision import Op
from tasks.alerts.evaluation import evaluate_due
from tasks.alerts.rules import RuleSpec
from tasks.alerts.sources import SourceKind
from tasks.notifications import store as channel_store
from tasks.notifications.channels import parse_config
from tests.support.alerts import deliver_alert_notices, subjects
from tests.support.api import issue_keys
from tests.support.channels import channel_settings
from tests.support.processes import BIN, running
from tests.support.prometheus import scraping_gauge
from tests.support.runtime import taskyard_runtime
from tests.support.services import RedisServer, scratch_postgres_database
from tests.support.sinks import HttpSink, free_port, http_sink
from tests.support.waiting import wait_for
from workers.store.types import utcnow

pytestmark = pytest.mark.e2e

SECRET = "whsec-prometheus-0123456789"
GAUGE = "taskyard_test_door_gauge"
RULES = {
    "groups": [{
        "name": "door",
        "rules": [{
            "alert": "GaugeHigh", "expr": f"{GAUGE} > 0", "for": "0s",
            "labels": {"severity": "critical"},
            "annotations": {"summary": "the gauge is {{ $value }}"},
        }],
    }],
}  # fmt: skip


@pytest.fixture(scope="module")
def store(
    redis_service: RedisServer, redis_db: int, postgres_admin: str
) -> Iterator[dict[str, str]]:
    redis_service.client(redis_db).flushdb()
    with scratch_postgres_database(postgres_admin) as url:
        env = {"TASKYARD_BROKER_URL": redis_service.url(redis_db), "TASKYARD_DATABASE_URL": url,
               "TASKYARD_LOG_FORMAT": "text", "TASKYARD_LOG_LEVEL": "WARNING"}  # fmt: skip
        with taskyard_runtime(env) as applied:
            yield applied


def tick(sink: HttpSink) -> list[str]:
    """One evaluator tick now and the deliveries it owes: what the sink has received."""
    evaluate_due(utcnow())
    deliver_alert_notices()
    return [subject.split(" ")[0] for subject in subjects(sink)]


def ticks_across_two_slots(sink: HttpSink) -> list[str]:
    """Tick until the door's rule has evaluated two more slots; what the sink has then."""
    start = rule_store.find_rule("prometheus").last_slot_at

    def moved_twice() -> bool:
        tick(sink)
        last = rule_store.find_rule("prometheus").last_slot_at
        return start is not None and last is not None and (last - start).total_seconds() >= 20

    wait_for(moved_twice, timeout=60, interval=1, what="two more slots of the door's rule")
    return tick(sink)


def test_a_prometheus_alert_fires_and_resolves_once_through_the_door(
    store: dict[str, str], tmp_path: Path
) -> None:
    with http_sink(SECRET) as sink, channel_settings():
        # Given a rule reading the door, sending to a webhook, and a key for Prometheus
        config = {"kind": "webhook", "url": sink.url + "/prometheus", "secret": SECRET}
        channel_store.create_channel("prometheus-hook", parse_config(config))
        rule_store.create_rule(RuleSpec(
            name="prometheus", source=SourceKind.ALERTMANAGER, op=Op.GT, threshold=0.0,
            interval_s=10, channels=("prometheus-hook",), annotations=dict(door.DOOR_ANNOTATIONS),
        ))  # fmt: skip
        key = issue_keys({"prometheus": ["alerts:write"]})["prometheus"]["Authorization"]
        # and the API running as its own process
        port = free_port()
        command = [str(BIN / "taskyard"), "api", "--port", str(port), "--workers", "1"]
        with running(command, tmp_path / "api.log", env=store):
            wait_for(lambda: _healthy(port), timeout=60, interval=0.5, what="the API to serve")
            # and Prometheus alerting on the gauge, its alertmanager the API with that key
            rules = tmp_path / "rules.yml"
            rules.write_text(yaml.safe_dump(RULES))
            alertmanager = {"static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
                            "authorization": {"credentials": key.split(" ", 1)[1]},
                            "api_version": "v2"}  # fmt: skip
            extra = {"rule_files": [str(rules)], "alerting": {"alertmanagers": [alertmanager]}}
            with scraping_gauge(tmp_path, GAUGE, extra) as (gauge, url):
                # When the gauge rises, Prometheus fires and posts the alert
                gauge.value = 1
                # Then exactly one FIRING reaches the sink, with Prometheus's annotations
                wait_for(lambda: tick(sink) == ["[FIRING]"], timeout=90, interval=1,
                         what="the FIRING notice")  # fmt: skip
                assert subjects(sink) == ["[FIRING] GaugeHigh: the gauge is 1"]
                assert ticks_across_two_slots(sink) == ["[FIRING]"]
                # When the gauge falls, Prometheus posts the alert resolved
                gauge.value = 0
                # Then exactly one RESOLVED follows
                wait_for(lambda: tick(sink) == ["[FIRING]", "[RESOLVED]"], timeout=90,
                         interval=1, what="the RESOLVED notice")  # fmt: skip
                assert ticks_across_two_slots(sink) == ["[FIRING]", "[RESOLVED]"]
                # and Prometheus had every post accepted
                sent = _own_counters(url)
                assert sent["prometheus_notifications_sent_total"] >= 2, sent
                assert sent["prometheus_notifications_errors_total"] == 0, sent
    assert "Traceback" not in (tmp_path / "api.log").read_text()


def _own_counters(url: str) -> dict[str, float]:
    """Prometheus's notification counters, summed over its alertmanagers (from its /metrics)."""
    page = httpx.get(f"{url}/metrics", timeout=10).text
    counters = {"prometheus_notifications_sent_total": 0.0,
                "prometheus_notifications_errors_total": 0.0}  # fmt: skip
    for family in text_string_to_metric_families(page):
        for sample in family.samples:
            if sample.name in counters:
                counters[sample.name] += sample.value
    return counters


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
