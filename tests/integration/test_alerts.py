"""Alert evaluation on both stores, driven slot by slot with explicit times: a queue-depth
rule fires after for_s and resolves, with exactly one FIRING and one RESOLVED reaching a
webhook sink on loopback; a slot evaluated twice is applied once; a failing rule records its
error and follows on_error without stopping the others; edits keep or reset the state; the
read-only SQL source refuses writes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tasks.alerts import instances, notices, rule_store, sql
from tasks.alerts.decision import Op, Policy
from tasks.alerts.errors import InvalidAlertRule
from tasks.alerts.evaluation import evaluate_due, evaluate_rule, slot_of
from tasks.alerts.instances import Observed, SlotWork
from tasks.alerts.rules import RuleSpec
from tasks.alerts.sources import SourceKind
from tasks.alerts.states import AlertEvent, AlertState, transition
from tasks.jobs.catalog import DIAG_NOOP
from tasks.jobs.producer import JobRequest, enqueue
from tasks.maintenance.alerts import alerts as alerts_task_run
from tasks.notifications import store as channel_store
from tasks.notifications.channels import parse_config
from tests.support.alerts import deliver_alert_notices, subjects
from tests.support.channels import channel_settings
from tests.support.sinks import HttpSink, http_sink
from workers.app import app
from workers.store.engine import dispose_engines, get_engine, session_scope
from workers.store.models import AlertEventRow, AlertRule, Job
from workers.store.types import utcnow

SECRET = "whsec-alerts-0123456789"
N, P = AlertState.INACTIVE, AlertState.PENDING
QUEUE = "bulk"


@pytest.fixture(scope="module")
def sink(runtime: dict[str, str]) -> Iterator[HttpSink]:
    with http_sink(SECRET) as running, channel_settings():
        config = {"kind": "webhook", "url": running.url + "/alerts", "secret": SECRET}
        channel_store.create_channel("alerts-hook", parse_config(config))
        yield running


@pytest.fixture(autouse=True)
def fresh(sink: HttpSink) -> None:
    deliver_alert_notices()  # what an earlier test left owed is sent before this one
    sink.received.clear()
    _drain()


def _drain() -> None:
    with app.connection_for_write() as connection:
        app.amqp.queues[QUEUE].bind(connection.default_channel).purge()


def _fill(count: int) -> None:
    for _ in range(count):
        enqueue(JobRequest(DIAG_NOOP.name, queue=QUEUE))


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
    deliver_alert_notices()
    assert subjects(sink) == ["[FIRING] backlog: 3.0 >= 3.0"]
    # And drained, it resolves, with one RESOLVED
    _drain()
    evaluate_due(t0 + timedelta(seconds=80))
    assert _states(rule) == ["inactive"]
    deliver_alert_notices()
    deliver_alert_notices()
    assert subjects(sink) == ["[FIRING] backlog: 3.0 >= 3.0", "[RESOLVED] backlog: 0.0 >= 3.0"]
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
    deliver_alert_notices()
    assert subjects(sink) == ["[FIRING] twice: 3.0 >= 3.0"]
    rule_store.delete_rule(rule.id)
    deliver_alert_notices()
    assert subjects(sink)[-1] == "[RESOLVED] twice: 3.0 >= 3.0"  # removal resolves it


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
    deliver_alert_notices()
    assert [s.split(" ")[0] for s in subjects(sink)] == ["[FIRING]", "[RESOLVED]"]
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
    before = slot_of(utcnow(), 10) - timedelta(days=1)  # a slot before any job was made
    assert evaluate_rule(rule, before)
    assert instances.list_instances(None, 10, rule_id=rule.id) == []  # no rows: no data
    evaluate_due(_start())
    found = instances.list_instances(None, 10, rule_id=rule.id)
    assert {i.labels["queue"] for i in found} >= {QUEUE}
    assert all(i.state == "firing" for i in found)
    rule_store.delete_rule(rule.id)


def _store_sql(rule: AlertRule, query: str) -> None:
    """Put ``query`` in the rule's spec as stored, past the check at save (as a query written
    before a check was tightened would be)."""
    with session_scope() as session:
        session.execute(
            AlertRule.__table__.update()
            .where(AlertRule.id == rule.id)
            .values(spec={"query": query})
        )


def test_the_sql_source_runs_read_only_and_within_its_time(
    sink: HttpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "TIMEOUT_S", 0.5)
    rule = _rule("sneaky", source=SourceKind.SQL, spec={"query": "SELECT 1 AS value"},
                 for_s=0, channels=())  # fmt: skip
    _fill(1)
    # A write that got past the check is refused by the store itself.
    _store_sql(rule, "DELETE FROM jobs")
    slot = _start()
    evaluate_due(slot)
    refused = rule_store.get_rule(rule.id).last_error or ""
    assert "readonly" in refused.replace("-", "").replace(" ", "") or "read-only" in refused
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Job)) > 0
    # A query that runs too long is stopped.
    endless = (
        "SELECT pg_sleep(5) AS value"
        if get_engine().dialect.name == "postgresql"
        else "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        "SELECT count(*) AS value FROM c"
    )
    _store_sql(rule, endless)
    evaluate_due(slot + timedelta(seconds=10))
    stopped = rule_store.get_rule(rule.id).last_error or ""
    assert "the query failed" in stopped
    # The connections it used are back in the pool able to write.
    rule_store.update_rule(rule.id, {"paused": True})
    rule_store.delete_rule(rule.id)


def test_a_notice_sent_again_is_the_same_notification(sink: HttpSink) -> None:
    rule = _rule("once", for_s=0)
    _fill(3)
    evaluate_due(_start())
    deliver_alert_notices()
    assert len(sink.received) == 1
    first = _notified(rule)
    # A crash between the send and its mark: the outbox still owes it, and sends it again.
    with session_scope() as session:
        session.execute(
            AlertEventRow.__table__.update()
            .where(AlertEventRow.rule_id == rule.id)
            .values(notified_at=None, notification_id=None)
        )
    assert notices.flush() == 1
    deliver_alert_notices()
    assert len(sink.received) == 1  # the same notification, its delivery sent already
    assert _notified(rule) == first
    rule_store.delete_rule(rule.id)


def _notified(rule: AlertRule) -> list[uuid.UUID]:
    with session_scope() as session:
        query = select(AlertEventRow.notification_id).where(
            AlertEventRow.rule_id == rule.id, AlertEventRow.notification_id.is_not(None)
        )
        return list(session.scalars(query))


def test_two_evaluators_racing_for_a_slot_apply_it_once(sink: HttpSink) -> None:
    rule = _rule("raced", for_s=0, channels=())
    _fill(3)
    slot = _start()
    with ThreadPoolExecutor(max_workers=2) as pool:
        applied = list(pool.map(lambda _: evaluate_rule(rule, slot), range(2)))
    assert sorted(applied) == [False, True]
    assert _events(rule) == ["create", "fire"]
    rule_store.delete_rule(rule.id)


def test_maintenance_alerts_runs_one_tick_and_records_it(sink: HttpSink) -> None:
    rule = _rule("ticked", for_s=0, channels=())
    _fill(3)
    run = alerts_task_run()
    assert run.outcome.value == "succeeded"
    assert run.figures["evaluated"] >= 1
    assert run.figures["errors"] == 0
    assert _states(rule) == ["firing"]
    rule_store.delete_rule(rule.id)


def test_a_stale_reading_writes_nothing(sink: HttpSink) -> None:
    # Given an instance another evaluator made pending after this one read the rule
    rule = _rule("stale", channels=())
    _fill(3)
    t0 = _start()
    evaluate_due(t0)
    (pending,) = instances.list_instances(None, 5, rule_id=rule.id)
    later = t0 + timedelta(seconds=10)
    labels = {"queue": QUEUE}
    as_new = Observed(labels, None, None, 3.0, None)
    as_inactive = Observed(labels, pending.id, transition(N, P, AlertEvent.PEND), 3.0, None)
    # When this one applies what it read before: the instance as missing, or as inactive
    for stale in (as_new, as_inactive):
        assert (
            instances.apply_slot(SlotWork(rule.id, rule.generation, later, [stale], None)) is None
        )
    # Then nothing was written, and the slot is still there to evaluate
    assert _events(rule) == ["create", "pend"]
    assert rule_store.get_rule(rule.id).last_slot_at == t0
    rule_store.delete_rule(rule.id)


def test_a_pending_timer_outlives_a_restart_and_missed_ticks(sink: HttpSink) -> None:
    # Given a rule that went pending at t0
    rule = _rule("restarted", for_s=60, channels=())
    _fill(3)
    t0 = _start()
    evaluate_due(t0)
    # When the evaluator is gone for 50 s (no ticks), then starts afresh (new engines)
    dispose_engines()
    evaluate_due(t0 + timedelta(seconds=50))
    assert _states(rule) == ["pending"]
    # Then it fires at the first slot for_s after t0, not for_s after it came back
    evaluate_due(t0 + timedelta(seconds=60))
    (fired,) = instances.list_instances(None, 5, rule_id=rule.id)
    assert (fired.state, fired.fired_at) == ("firing", t0 + timedelta(seconds=60))
    rule_store.delete_rule(rule.id)
