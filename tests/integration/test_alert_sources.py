"""The platform-signal sources added for self-monitoring (workers alive per profile, canary
latency, job duration p95), the evaluator's chunks and offsets, the shipped rules, and the
retention of alert events, on both stores with real workers where the signal needs them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from tasks.alerts import TICK_S, evaluation, instances, rule_store, shipped
from tasks.alerts.decision import Op
from tasks.alerts.evaluation import evaluate_due, evaluate_rule, offset_of, slot_of
from tasks.alerts.rules import RuleSpec
from tasks.alerts.sources import SourceKind, p95, read
from tasks.jobs.catalog import DIAG_NOOP
from tasks.maintenance.alerts import alerts
from tasks.maintenance.canary import send_canaries
from tasks.maintenance.purge import purge_records
from tests.support.waiting import wait_for
from tests.support.worker import embedded_worker
from workers.store.engine import session_scope
from workers.store.models import AlertEventRow, AlertInstance, AlertRule, Job, JobStatus
from workers.store.types import utcnow


@pytest.fixture(autouse=True)
def clean(runtime: dict[str, str]) -> Iterator[None]:
    yield
    for rule in rule_store.list_rules(None, 200):
        rule_store.delete_rule(rule.id)


def _rule(name: str, source: SourceKind, **fields: object) -> AlertRule:
    base: dict[str, object] = {"name": name, "source": source, "op": Op.LT, "threshold": 1.0,
                               "interval_s": TICK_S}  # fmt: skip
    return rule_store.create_rule(RuleSpec(**{**base, **fields}))  # type: ignore[arg-type]


def _alerts(rule: AlertRule) -> dict[str, tuple[str, float | None]]:
    found = instances.list_instances(None, 50, rule_id=rule.id)
    return {",".join(sorted(r.labels.values())): (r.state, r.last_value) for r in found}


def _slot() -> datetime:
    return slot_of(utcnow(), TICK_S)


def test_workers_alive_counts_the_nodes_that_answer_per_profile() -> None:
    # Given a rule expecting the bulk and ghost profiles, and a bulk worker running
    rule = _rule("workers", SourceKind.WORKERS_ALIVE, spec={"profiles": ["bulk", "ghost"]})
    slot = _slot()
    with embedded_worker(["bulk"], hostname="bulk@alerts-test"):
        evaluate_rule(rule, slot)
    # Then the profile without a worker fires, the one with a worker does not
    assert _alerts(rule) == {"bulk": ("inactive", 1.0), "ghost": ("firing", 0.0)}
    # And once the bulk worker stopped, it fires too
    evaluate_rule(rule_store.get_rule(rule.id), slot + timedelta(seconds=TICK_S))
    assert _alerts(rule) == {"bulk": ("firing", 0.0), "ghost": ("firing", 0.0)}


def test_canary_latency_reads_the_canaries_and_counts_a_waiting_one_as_late() -> None:
    # Given a round of canaries that the workers ran
    with embedded_worker():
        send_canaries({})
        wait_for(lambda: _unfinished_canaries() == 0, what="the canaries to finish")
    now = utcnow()
    rows = dict(
        (labels["queue"], value) for labels, value in read(SourceKind.CANARY_LATENCY, {}, now)
    )
    assert set(rows) == {"critical", "high", "default", "bulk"}
    assert all(0 < value < 30 for value in rows.values())
    # When a new round waits with no worker, read two minutes later
    send_canaries({})
    late = read(SourceKind.CANARY_LATENCY, {"queue": "bulk"}, now + timedelta(seconds=120))
    # Then the waiting canary's age is the latency
    assert len(late) == 1
    assert late[0][0] == {"queue": "bulk"}
    assert late[0][1] >= 119


def _unfinished_canaries() -> int:
    query = select(func.count()).where(Job.type == DIAG_NOOP.name, Job.finished_at.is_(None))
    with session_scope() as session:
        return int(session.scalar(query) or 0)


def test_job_duration_p95_per_type_over_the_window() -> None:
    # Given 100 finished jobs of 1..100 s, and one outside the window
    slot = _slot()
    with session_scope() as session:
        for n in range(1, 102):
            finished = slot - timedelta(seconds=30 if n <= 100 else 5_000)
            session.add(Job(id=uuid.uuid4(), type="bench.p95", queue="bulk", priority=5,
                            status=JobStatus.SUCCEEDED.value, payload={},
                            created_at=finished - timedelta(seconds=n + 1),
                            started_at=finished - timedelta(seconds=n if n <= 100 else 10_000),
                            finished_at=finished))  # fmt: skip
    spec = {"job_type": "bench.p95", "window_s": 600}
    # Then the 95th percentile is 95 s (the old, long job is outside the window)
    assert read(SourceKind.JOB_DURATION_P95, spec, slot) == [({"job_type": "bench.p95"}, 95.0)]
    assert read(SourceKind.JOB_DURATION_P95, {**spec, "min_finished": 101}, slot) == []
    assert p95([1.0]) == 1.0
    assert p95([float(n) for n in range(1, 21)]) == 19.0


def test_rules_of_one_interval_fall_due_on_different_ticks() -> None:
    ids = [uuid.uuid4() for _ in range(60)]
    offsets = {offset_of(rule_id, 60) for rule_id in ids}
    assert offsets <= {0, 10, 20, 30, 40, 50}
    assert len(offsets) > 1
    assert {offset_of(rule_id, TICK_S) for rule_id in ids} == {0}
    at = datetime(2026, 1, 1, 12, 0, 45, tzinfo=UTC)
    assert slot_of(at, 60, 20) == datetime(2026, 1, 1, 12, 0, 20, tzinfo=UTC)
    assert slot_of(at, 60, 50) == datetime(2026, 1, 1, 11, 59, 50, tzinfo=UTC)


def test_a_slot_that_moves_nothing_writes_only_its_claim() -> None:
    # Given a rule whose instance exists and reads the same value slot after slot
    rule = _rule("steady", SourceKind.QUEUE_DEPTH, spec={"queue": "bulk"}, op=Op.GT)
    t0 = _slot() + timedelta(seconds=TICK_S)
    evaluate_due(t0)
    with session_scope() as session:
        before = session.scalars(
            select(AlertInstance).where(AlertInstance.rule_id == rule.id)
        ).one()
    # When the next slot is evaluated
    evaluate_due(t0 + timedelta(seconds=TICK_S))
    # Then the rule's claim moved on and the instance was not written
    with session_scope() as session:
        after = session.scalars(select(AlertInstance).where(AlertInstance.rule_id == rule.id)).one()
    assert rule_store.get_rule(rule.id).last_slot_at == t0 + timedelta(seconds=TICK_S)
    assert after.last_evaluated_at == before.last_evaluated_at
    record = instances.list_instances(None, 5, rule_id=rule.id)[0]
    assert record.last_evaluated_at == rule_store.get_rule(rule.id).last_evaluated_at


def test_a_tick_spreads_its_chunks_over_the_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given five rules due and chunks of two
    monkeypatch.setattr(evaluation, "CHUNK", 2)
    rules = [_rule(f"chunked-{n}", SourceKind.DEAD_JOBS, op=Op.GT, threshold=0.0) for n in range(5)]
    # When a tick runs with a worker on the maintenance queue
    with embedded_worker(["default"]):
        run = alerts()
        slots = wait_for(lambda: _all_applied(rules), what="every chunk to be evaluated")
    # Then it evaluated one chunk itself, sent two, and every rule applied its slot once
    assert (run.figures["due"], run.figures["chunks_sent"], run.figures["rules"]) == (5, 2, 2)
    assert len(slots) == 1
    with session_scope() as session:
        events = session.scalar(select(func.count()).select_from(AlertEventRow))
    assert events == 5  # one create each, nothing twice


def _all_applied(rules: list[AlertRule]) -> set[datetime] | None:
    slots = [rule_store.get_rule(rule.id).last_slot_at for rule in rules]
    return None if None in slots else {slot for slot in slots if slot is not None}


def test_shipped_rules_are_made_once_and_an_operators_pause_stays() -> None:
    made = shipped.install()
    assert made == [spec.name for spec in shipped.SHIPPED]
    rule_store.set_paused(rule_store.find_rule("taskyard-canary-late").id, True)
    assert shipped.install() == []
    assert rule_store.find_rule("taskyard-canary-late").paused is True
    report = evaluate_due(utcnow())
    assert report.errors == 0
    assert report.evaluated == len(made) - 1


def test_alert_events_past_retention_are_purged_unless_their_notice_is_owed() -> None:
    # Given a rule whose events are 100 days old, one of them owing a notice
    rule = _rule("old", SourceKind.DEAD_JOBS, op=Op.GE, threshold=0.0, for_s=0)
    evaluate_due(_slot())
    old = utcnow() - timedelta(days=100)
    with session_scope() as session:
        session.execute(update(AlertEventRow).values(created_at=old, notified_at=old))
        owed = session.scalars(select(AlertEventRow.id).where(AlertEventRow.event == "fire")).one()
        session.execute(
            update(AlertEventRow).where(AlertEventRow.id == owed).values(notified_at=None)
        )
    # When the purge runs (alert events kept 90 days by default)
    figures: dict[str, int] = {}
    purge_records(figures)
    # Then the settled one went and the owed one stayed
    assert figures["alert_events"] == 1
    with session_scope() as session:
        kept = list(
            session.scalars(select(AlertEventRow.event).where(AlertEventRow.rule_id == rule.id))
        )
    assert kept == ["fire"]
