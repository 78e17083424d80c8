"""Subscriptions on both stores, with a real worker, dispatcher and HTTP sink: one notification
per subscription and event, whatever the worker restarts and however often (or at once) the
sweep runs; job.failed, maintenance.failed and schedule.missed; a disabled subscription sends
nothing; a job's payload never reaches a message."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from tasks.jobs.producer import JobRequest, enqueue
from tasks.maintenance.notify_sweep import notify_sweep
from tasks.maintenance.runs import RunOutcome, run_maintenance
from tasks.notifications import events, store
from tasks.notifications.channels import parse_config
from tasks.notifications.events import EventKind
from tasks.notifications.subscription_sweep import sweep
from tasks.notifications.subscriptions import (
    SubscriptionSpec,
    create_subscription,
    update_subscription,
)
from tasks.notifications.template_store import create_template
from tasks.notifications.templates import TemplateSpec
from tests.support.channels import webhook_channels
from tests.support.dispatcher import running_dispatcher
from tests.support.sinks import SINK_SECRET, HttpSink
from tests.support.waiting import wait_for
from tests.support.worker import embedded_worker
from workers.store.engine import dispose_engines, session_scope
from workers.store.models import (
    Delivery,
    Job,
    Notification,
    Schedule,
    ScheduleFire,
    Subscription,
)
from workers.store.types import utcnow


@pytest.fixture(scope="module", autouse=True)
def settings(sink: HttpSink) -> Iterator[None]:
    with webhook_channels(sink, "hook", TASKYARD_NOTIFY_TIMEOUT_S="2"):
        yield


@pytest.fixture(scope="module")
def running(settings: None) -> Iterator[None]:
    """A dispatcher and a worker, shared by the tests that do not restart their own. The
    pool threads of a stopped embedded worker live on, each keeping its writer connection
    (``writer_connection``), so the engines start afresh rather than run out of connections."""
    dispose_engines()
    with running_dispatcher(), embedded_worker():
        yield


@pytest.fixture(autouse=True)
def fresh(sink: HttpSink) -> None:
    with session_scope() as session:
        session.execute(delete(Subscription))  # each test hears only its own
    sink.reset()


def _subscribe(name: str, event: str, match: str, **fields: object) -> Subscription:
    return create_subscription(SubscriptionSpec(name, event, match, ("hook",), **fields))  # type: ignore[arg-type]


def _made(subscription: Subscription) -> list[Notification]:
    scope = f"subscription:{subscription.id}"
    with session_scope() as session:
        query = select(Notification).where(Notification.idempotency_scope == scope)
        return list(session.scalars(query))


def _statuses(job_ids: list[uuid.UUID]) -> list[str]:
    with session_scope() as session:
        return [str(session.get(Job, job_id).status) for job_id in job_ids]  # type: ignore[union-attr]


def _all_sent(notifications: list[Notification]) -> bool:
    ids = [n.id for n in notifications]
    with session_scope() as session:
        query = select(Delivery.status).where(Delivery.notification_id.in_(ids))
        statuses = list(session.scalars(query))
    return len(statuses) == len(ids) and set(statuses) == {"sent"}


def _fail(count: int, *, transient: bool) -> list[uuid.UUID]:
    payload = {"message": "the ledger is locked", "transient": transient}
    return [enqueue(JobRequest("diag.fail", payload)).id for _ in range(count)]


def _concurrent_sweeps(count: int) -> None:
    threads = [threading.Thread(target=sweep) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)


def test_each_dead_job_notifies_once_across_a_worker_restart_and_repeated_sweeps(
    sink: HttpSink,
) -> None:
    # Given a subscription on dead diag.* jobs, to a webhook
    subscription = _subscribe("diag-dead", "job.dead", "diag.*")
    with running_dispatcher():
        # When jobs retry and die under one worker, which stops half-way
        with embedded_worker():
            first = _fail(3, transient=True)
            wait_for(lambda: "dead" in _statuses(first), what="a first job dead")
            sweep()
        second = _fail(3, transient=True)
        sweep()
        # and a new worker finishes them, while the sweep runs again, twice at once, and as
        # the maintenance task
        with embedded_worker():
            jobs = first + second
            wait_for(lambda: set(_statuses(jobs)) == {"dead"}, timeout=60, what="all dead")
            _concurrent_sweeps(2)
            assert notify_sweep().outcome is RunOutcome.SUCCEEDED
            sweep()
            made = _made(subscription)
            wait_for(lambda: _all_sent(made), timeout=30, what="every delivery sent")

    # Then each dead job made one notification, and the sink got one message for each
    assert sorted(n.idempotency_key or "" for n in made) == sorted(f"job.dead:{j}" for j in jobs)
    assert {n.source for n in made} == {"subscription"}
    assert {n.subscription_id for n in made} == {subscription.id}
    bodies = [json.loads(received.body) for received in sink.received]
    assert len(bodies) == len(jobs)
    assert {body["data"]["job"]["id"] for body in bodies} == {str(j) for j in jobs}
    body = bodies[0]
    job = body["data"]["job"]
    assert body["subject"] == f"job diag.fail {job['id']} is dead"
    assert "TransientDiagFailure: the ledger is locked" in body["text"]
    assert "attempts: 4 of 4" in body["text"]
    assert "transient" not in body["text"]
    assert "payload" not in json.dumps(body)
    assert not sink.refused


def test_job_failed_fires_for_a_job_that_fails_at_once_and_not_for_job_dead(
    sink: HttpSink, running: None
) -> None:
    failed = _subscribe("diag-failed", "job.failed", "diag.fail")
    dead = _subscribe("diag-dead-too", "job.dead", "diag.*")
    (job_id,) = _fail(1, transient=False)
    wait_for(lambda: _statuses([job_id]) == ["failed"], what="the job failed")
    sweep()
    wait_for(lambda: _all_sent(_made(failed)), what="sent")

    (made,) = _made(failed)
    assert made.idempotency_key == f"job.failed:{job_id}"
    assert _made(dead) == []
    (received,) = sink.received
    assert json.loads(received.body)["subject"] == f"job diag.fail {job_id} has failed"


def test_a_disabled_subscription_sends_nothing_and_enabling_it_does_not_send_the_past(
    sink: HttpSink, running: None
) -> None:
    subscription = _subscribe("quiet", "job.dead", "diag.fail", enabled=False)
    jobs = _fail(2, transient=True)
    wait_for(lambda: set(_statuses(jobs)) == {"dead"}, timeout=60, what="all dead")
    sweep()
    update_subscription(subscription.id, {"enabled": True})
    sweep()

    assert _made(subscription) == []
    assert sink.received == []


def test_a_templated_subscription_renders_the_event_and_never_the_payload(
    sink: HttpSink, running: None
) -> None:
    create_template(
        TemplateSpec(
            "job-done",
            "{{ job.type }} done after {{ job.attempts }}",
            "{{ event }} {{ job.id }} in {{ job.queue }}",
            sample_data=events.sample(EventKind.JOB_SUCCEEDED),
        )
    )
    subscription = _subscribe("limited-done", "job.succeeded", "diag.limited",
                              template="job-done")  # fmt: skip
    job_id = enqueue(JobRequest("diag.limited", {"tenant": "tenant-s3cr3t"})).id
    wait_for(lambda: _statuses([job_id]) == ["succeeded"], what="the job succeeded")
    sweep()
    wait_for(lambda: _all_sent(_made(subscription)), what="sent")

    (received,) = sink.received
    body = json.loads(received.body)
    assert body["subject"] == "diag.limited done after 1"
    assert body["text"] == f"job.succeeded {job_id} in default"
    assert b"s3cr3t" not in received.body


def test_a_failed_maintenance_run_notifies_with_the_built_in_message(running: None) -> None:
    subscription = _subscribe("upkeep", "maintenance.failed", "vac*")

    def broken(figures: dict[str, object]) -> None:
        raise RuntimeError("disk full")

    run = run_maintenance("vacuum", broken, lock_ttl_s=10)
    assert run.outcome is RunOutcome.FAILED
    sweep()
    sweep()

    (made,) = _made(subscription)
    wait_for(lambda: _all_sent([made]), what="sent")
    assert made.idempotency_key == f"maintenance.failed:{run.id}"
    assert made.subject == "maintenance vacuum failed"
    assert "disk full (RuntimeError)" in (made.text or "")


def _backdate(subscription: Subscription, by: timedelta) -> None:
    with session_scope() as session:
        session.execute(
            update(Subscription)
            .where(Subscription.id == subscription.id)
            .values(created_at=utcnow() - by, updated_at=utcnow() - by)
        )


def test_a_catch_up_fire_and_a_slot_claimed_without_a_run_are_missed_schedules(
    running: None,
) -> None:
    subscription = _subscribe("missed", "schedule.missed", "report-*")
    _backdate(subscription, timedelta(minutes=5))
    now = utcnow()
    with session_scope() as session:
        schedule = Schedule(name="report-nightly", task="diag.noop", kind="interval",
                            interval_s=60, args={}, paused=False, static=False)  # fmt: skip
        other = Schedule(name="cleanup", task="diag.noop", kind="interval", interval_s=60,
                         args={}, paused=False, static=False)  # fmt: skip
        session.add_all([schedule, other])
        session.flush()
        fires = [
            # on time: no event
            ScheduleFire(schedule_id=schedule.id, planned_at=now - timedelta(seconds=1),
                         fired_at=now, job_id="on-time"),
            # a catch-up run, ten minutes after its slot
            ScheduleFire(schedule_id=schedule.id, planned_at=now - timedelta(minutes=12),
                         fired_at=now - timedelta(minutes=2), job_id="caught-up"),
            # claimed a minute ago, never enqueued
            ScheduleFire(schedule_id=schedule.id, planned_at=now - timedelta(minutes=1),
                         fired_at=now - timedelta(minutes=1), job_id=None),
            # late too, but another schedule's
            ScheduleFire(schedule_id=other.id, planned_at=now - timedelta(minutes=30),
                         fired_at=now - timedelta(minutes=1), job_id="other"),
        ]  # fmt: skip
        session.add_all(fires)
        session.flush()
        expected = {f"schedule.missed:{fires[1].id}", f"schedule.missed:{fires[2].id}"}

    sweep()

    made = _made(subscription)
    wait_for(lambda: _all_sent(made), what="sent")
    assert {n.idempotency_key for n in made} == expected
    subjects = sorted(n.subject or "" for n in made)
    assert all(s.startswith("schedule report-nightly missed its slot at ") for s in subjects)


def _finished_job(status: str) -> uuid.UUID:
    """A job record as a worker leaves it (no worker needed to read it as an event)."""
    job_id = uuid.uuid4()
    now = utcnow()
    with session_scope() as session:
        session.add(Job(id=job_id, type="diag.fail", queue="default", priority=5, status=status,
                        payload={"message": "m"}, attempts=1, max_attempts=1, created_at=now,
                        finished_at=now, timed_out=False, error_type="DiagFailure",
                        error_message="m"))  # fmt: skip
    return job_id


def test_a_subscription_whose_channel_went_stalls_and_catches_up_once_it_is_back(
    sink: HttpSink, running: None
) -> None:
    # Given a subscription to a channel that is then removed
    config = parse_config({"kind": "webhook", "url": sink.url + "/later", "secret": SINK_SECRET})
    channel = store.create_channel("later", config)
    subscription = create_subscription(
        SubscriptionSpec("stalls", "job.failed", "diag.fail", ("later",))
    )
    store.delete_channel(channel.id)
    job_id = _finished_job("failed")

    # When the sweep runs, it stalls that subscription and sends nothing
    swept = sweep()
    assert "channel" in swept.stalled["stalls"]
    assert _made(subscription) == []

    # Then, with the channel back, the next sweep sends what was held back
    store.create_channel("later", config)
    assert sweep().stalled == {}
    (made,) = _made(subscription)
    assert made.idempotency_key == f"job.failed:{job_id}"
    wait_for(lambda: _all_sent([made]), what="sent")
