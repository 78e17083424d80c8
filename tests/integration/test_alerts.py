"""Alert evaluation on both stores, driven slot by slot with explicit times: a queue-depth
rule fires after for_s and resolves, with exactly one FIRING and one RESOLVED reaching a
webhook sink on loopback; a slot evaluated twice is applied once; a failing rule records its
error and follows on_error without stopping the others; edits keep or reset the state; the
read-only SQL source refuses writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tasks.alerts import instances, notices, rule_store
from tasks.alerts.decision import Op, Policy
from tasks.alerts.errors import InvalidAlertRule
from tasks.alerts.evaluation import evaluate_due, evaluate_rule, slot_of
from tasks.alerts.notices import SCOPE
from tasks.alerts.rules import RuleSpec
from tasks.alerts.sources import SourceKind
from tasks.jobs.catalog import DIAG_NOOP
from tasks.jobs.producer import JobRequest, enqueue
from tasks.notifications import store as channel_store
from tasks.notifications.catalog import DeliverPayload
from tasks.notifications.channels import parse_config
from tasks.notifications.sending import deliver
from tests.support.channels import channel_settings
from tests.support.sinks import HttpSink, http_sink
from workers.app import app
from workers.store.engine import session_scope
from workers.store.models import AlertEventRow, AlertRule, Delivery, Notification
from workers.store.types import utcnow

SECRET = "whsec-alerts-0123456789"
QUEUE = "bulk"


@pytest.fixture(scope="module")
def sink(runtime: dict[str, str]) -> Iterator[HttpSink]:
    with http_sink(SECRET) as running, channel_settings():
        config = {"kind": "webhook", "url": running.url + "/alerts", "secret": SECRET}
        channel_store.create_channel("alerts-hook", parse_config(config))
        yield running


@pytest.fixture(autouse=True)
def fresh(sink: HttpSink) -> None:
    sink.received.clear()
    _drain()


def _drain() -> None:
    with app.connection_for_write() as connection:
        app.amqp.queues[QUEUE].bind(connection.default_channel).purge()


def _fill(count: int) -> None:
    for _ in range(count):
        enqueue(JobRequest(DIAG_NOOP.name, queue=QUEUE))


def _deliver_alert_notices() -> None:
    """Carry every alert notice's deliveries as their jobs would (each run sends once)."""
    query = (
        select(Delivery.id)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Notification.idempotency_scope == SCOPE)
    )
    with session_scope() as session:
        ids = list(session.scalars(query))
    for delivery_id in ids:
        deliver(DeliverPayload(delivery_id=str(delivery_id)))


def _subjects(sink: HttpSink) -> list[str]:
    return [json.loads(r.body)["subject"] for r in sink.received]


def _rule(name: str, **fields: object) -> AlertRule:
    base: dict[str, object] = {
        "name": name, "source": SourceKind.QUEUE_DEPTH, "op": Op.GE, "threshold": 3.0,
        "spec": {"queue": QUEUE}, "for_s": 60, "interval_s": 10, "channels": ("alerts-hook",),
    }  # fmt: skip
    return rule_store.create_rule(RuleSpec(**{**base, **fields}))  # type: ignore[arg-type]


def _states(rule: AlertRule) -> list[str]:
    return [i.state for i in instances.list_instances(None, 50, rule_id=rule.id)]


def _events(rule: AlertRule) -> list[str]:
    with session_scope() as session:
        query = select(AlertEventRow.event).where(AlertEventRow.rule_id == rule.id)
        return list(session.scalars(query.order_by(AlertEventRow.created_at)))


def _start() -> datetime:
    return slot_of(utcnow(), 10) + timedelta(seconds=10)


def test_a_queue_depth_rule_fires_after_for_s_and_resolves_with_one_notice_each(
    sink: HttpSink,
) -> None:
    # Given a rule on the queue's depth (>= 3 for 60 s), and the queue filled
    rule = _rule("backlog")
    t0 = _start()
    _fill(3)
    # When the slots pass: pending at once, firing only once 60 s have passed
    evaluate_due(t0)
    assert _states(rule) == ["pending"]
    evaluate_due(t0 + timedelta(seconds=30))
    assert _states(rule) == ["pending"]
    evaluate_due(t0 + timedelta(seconds=60))
    assert _states(rule) == ["firing"]
    evaluate_due(t0 + timedelta(seconds=65))  # the same slot again: nothing new
    evaluate_due(t0 + timedelta(seconds=70))
    _deliver_alert_notices()
    assert _subjects(sink) == ["[FIRING] backlog: 3.0 >= 3.0"]
    # And drained, it resolves, with one RESOLVED
    _drain()
    evaluate_due(t0 + timedelta(seconds=80))
    assert _states(rule) == ["inactive"]
    _deliver_alert_notices()
    _deliver_alert_notices()
    assert _subjects(sink) == ["[FIRING] backlog: 3.0 >= 3.0", "[RESOLVED] backlog: 0.0 >= 3.0"]
    assert _events(rule) == ["create", "pend", "fire", "resolve"]
    text = json.loads(sink.received[0].body)["text"]
    assert "queue=bulk" in text
    assert "severity: warning" in text
    rule_store.delete_rule(rule.id)


def test_a_slot_evaluated_twice_is_applied_once(sink: HttpSink) -> None:
    rule = _rule("twice", for_s=0)
    _fill(3)
    slot = _start()
    assert evaluate_rule(rule, slot) is True
    assert evaluate_rule(rule, slot) is False  # a second worker, or a second beat's tick
    assert evaluate_rule(rule, slot - timedelta(seconds=10)) is False  # never an older slot
    assert _events(rule) == ["create", "fire"]
    notices.flush()
    _deliver_alert_notices()
    assert _subjects(sink) == ["[FIRING] twice: 3.0 >= 3.0"]
    rule_store.delete_rule(rule.id)
    _deliver_alert_notices()
    assert _subjects(sink)[-1] == "[RESOLVED] twice: 3.0 >= 3.0"  # removal resolves it


def test_a_flap_inside_keep_firing_for_sends_nothing_new(sink: HttpSink) -> None:
    rule = _rule("flappy", for_s=0, keep_firing_for_s=60)
    t0 = _start()
    _fill(3)
    evaluate_due(t0)
    _drain()
    evaluate_due(t0 + timedelta(seconds=10))
    assert _states(rule) == ["recovering"]
    _fill(3)
    evaluate_due(t0 + timedelta(seconds=20))
    assert _states(rule) == ["firing"]
    _drain()
    for seconds in (30, 60, 80):
        evaluate_due(t0 + timedelta(seconds=seconds))
    assert _states(rule) == ["recovering"]
    evaluate_due(t0 + timedelta(seconds=90))
    assert _states(rule) == ["inactive"]
    _deliver_alert_notices()
    assert [s.split(" ")[0] for s in _subjects(sink)] == ["[FIRING]", "[RESOLVED]"]
    assert _events(rule) == ["create", "fire", "recover", "refire", "recover", "resolve"]
    rule_store.delete_rule(rule.id)


def test_a_failing_rule_records_its_error_and_the_others_go_on(sink: HttpSink) -> None:
    broken = _rule("broken", source=SourceKind.SQL, spec={"query": "SELECT 1 AS value"},
                   on_error=Policy.ALERTING, for_s=0, channels=())  # fmt: skip
    # The table is dropped from under it: the query now fails at evaluation time.
    with session_scope() as session:
        session.execute(
            AlertRule.__table__.update()
            .where(AlertRule.id == broken.id)
            .values(spec={"query": "SELECT x AS value FROM no_such_table"})
        )
    healthy = _rule("healthy", for_s=0)
    _fill(3)
    report = evaluate_due(_start())
    assert report.evaluated == 2
    assert report.errors == 0
    (instance,) = instances.list_instances(None, 5, rule_id=broken.id)
    assert instance.state == "firing"
    assert instance.last_error is not None
    assert "no_such_table" in instance.last_error
    assert rule_store.get_rule(broken.id).last_error == instance.last_error
    assert _states(healthy) == ["firing"]
    for rule in (broken, healthy):
        rule_store.delete_rule(rule.id)


def test_editing_annotations_keeps_the_state_and_changing_the_labels_resets_it(
    sink: HttpSink,
) -> None:
    rule = _rule("edited", for_s=120)
    t0 = _start()
    _fill(3)
    evaluate_due(t0)
    rule_store.update_rule(rule.id, {"annotations": {"summary": "deep {{ value }}"},
                                     "interval_s": 20})  # fmt: skip
    (kept,) = instances.list_instances(None, 5, rule_id=rule.id)
    assert (kept.state, kept.since) == ("pending", t0)  # the timer runs from the first slot
    rule_store.update_rule(rule.id, {"labels": {"team": "ops"}})
    assert _states(rule) == ["inactive"]
    assert _events(rule)[-1] == "reset"
    rule_store.delete_rule(rule.id)


def test_sql_rules_read_only_with_labels_from_columns(sink: HttpSink) -> None:
    with pytest.raises(InvalidAlertRule) as refused:
        _rule("writer", source=SourceKind.SQL, spec={"query": "DELETE FROM jobs"})
    assert refused.value.details == [
        {"field": "spec.query", "message": "must be a SELECT, not DELETE"}
    ]
    with pytest.raises(InvalidAlertRule):
        _rule("two", source=SourceKind.SQL, spec={"query": "SELECT 1 AS value; SELECT 2"})
    with pytest.raises(InvalidAlertRule) as nan:
        _rule("nan", threshold=float("nan"))
    assert nan.value.details[0]["field"] == "threshold"
    query = "SELECT queue, COUNT(*) AS value FROM jobs WHERE created_at <= :slot_at GROUP BY queue"
    rule = _rule("by-queue", source=SourceKind.SQL, spec={"query": query}, op=Op.GT,
                 threshold=0.0, for_s=0, channels=())  # fmt: skip
    _fill(1)
    evaluate_due(_start())
    found = instances.list_instances(None, 10, rule_id=rule.id)
    assert {i.labels["queue"] for i in found} >= {QUEUE}
    assert all(i.state == "firing" for i in found)
    rule_store.delete_rule(rule.id)
