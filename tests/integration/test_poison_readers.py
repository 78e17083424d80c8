"""The other readers of the broker and the store survive one bad entry: a worker restoring
kombu's unacked messages, the lost-message sweep, the dispatcher, beat and an event receiver
(Flower)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import redis
from sqlalchemy import update

from schedules import store as schedule_store
from schedules.entries import ScheduleSpec
from schedules.scheduler import TaskyardScheduler
from schedules.slots import Timing
from tasks.jobs.producer import JobRequest, enqueue
from tests.support.events import SUCCESS_EVENTS, task_events
from tests.support.jobs import emptied_broker
from tests.support.poison import kept, run_noop
from tests.support.worker import embedded_worker
from workers import poison
from workers.app import app
from workers.dispatcher import Dispatcher
from workers.lost_messages import UNACKED_INDEX_KEY, UNACKED_KEY, missing_messages
from workers.observability.metrics import multiprocess_registry
from workers.priorities import redis_list_key, to_broker
from workers.store import jobs, queued
from workers.store.engine import session_scope
from workers.store.models import Job, JobStatus, Schedule
from workers.store.transitions import UNPUBLISHABLE
from workers.store.types import utcnow


@pytest.fixture
def broker(runtime: dict[str, str]) -> redis.Redis:
    """The module's broker, emptied, with no poison kept and no job left unfinished."""
    return emptied_broker()


def bad_records(reader: str) -> float:
    """``taskyard_bad_records_total{reader}`` as this process tree exports it."""
    sample = multiprocess_registry().get_sample_value(
        "taskyard_bad_records_total", {"reader": reader}
    )
    return sample or 0.0


def _garbage_unacked(client: redis.Redis, tag: str = "bad-tag") -> None:
    client.hset(UNACKED_KEY, tag, "this is not json")
    client.zadd(UNACKED_INDEX_KEY, {tag: 0})  # long past the visibility timeout


def test_a_worker_starts_and_runs_jobs_past_an_unacked_entry_kombu_cannot_read(
    broker: redis.Redis,
) -> None:
    # Given an entry in kombu's unacked hash that is not a message (kombu's restore raised on
    # it, so a worker stopped at start, and at every restart after)
    _garbage_unacked(broker)

    # When a worker starts, then it runs the next job
    with embedded_worker(["default"]):
        run_noop("default")

    # And the entry was set aside, not left to fail every restore
    assert [e.raw for e in kept("unacked")] == [b"this is not json"]
    assert not broker.hexists(UNACKED_KEY, "bad-tag")
    poison.purge_poison()


def test_the_lost_message_sweep_reads_past_entries_that_are_not_messages(
    broker: redis.Redis,
) -> None:
    # Given a queued job, an old one, whose list head and unacked hash hold entries that are
    # not messages (text, a list, headers that are text, a publish time that is no number or
    # past any float)
    job = enqueue(JobRequest("diag.noop", queue="default"))
    head = redis_list_key(job.queue, to_broker(job.priority, "redis"))  # the list it waits in
    broker.delete(head)
    for raw in ("not json", "[1, 2]", '{"headers": "x"}',
                json.dumps({"headers": {"taskyard_published_at": "soon"}}),
                json.dumps({"headers": {"taskyard_published_at": 10**400}})):  # fmt: skip
        broker.lpush(head, raw)
    _garbage_unacked(broker)
    candidates = queued.queued_since_before(utcnow() + timedelta(seconds=1), 10)

    # When the sweep looks, then it does not fail, and (no proof either way) keeps the job
    assert missing_messages(broker, candidates) == []
    assert job.id in {c.id for c in candidates}
    # And the unacked entry no kombu could restore was set aside
    assert [e.raw for e in kept("unacked")] == [b"this is not json"]
    poison.purge_poison()


def _due_job(**record: object) -> uuid.UUID:
    job = enqueue(JobRequest("diag.noop", queue="default", delay_s=60))
    with session_scope() as session:
        session.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(run_at=utcnow() - timedelta(seconds=1), **record)
        )
    return job.id


def test_the_dispatcher_fails_a_record_it_cannot_publish_and_publishes_the_rest(
    broker: redis.Redis,
) -> None:
    # Given three due jobs: one with a priority no producer writes, one with no queue, one fine
    before = bad_records("dispatcher")
    bad_priority, bad_queue, good = _due_job(priority=42), _due_job(queue="nowhere"), _due_job()

    # When the dispatcher ticks, then it does not fail, and publishes the good one
    report = Dispatcher().tick()
    assert report.dispatched == 3
    assert jobs.get_job(good).status == JobStatus.QUEUED

    # And the bad ones are failed with the reason, and counted
    for job_id, reason in ((bad_priority, "priority 42"), (bad_queue, "'nowhere'")):
        record = jobs.get_job(job_id)
        assert record.status == JobStatus.FAILED
        assert record.error_type == UNPUBLISHABLE
        assert reason in (record.error_message or "")
    assert bad_records("dispatcher") - before == 2


def test_beat_skips_a_stored_entry_it_cannot_use_and_fires_the_others(
    broker: redis.Redis,
) -> None:
    # Given two due entries, one of which has arguments that are not an object
    interval = Timing(interval_s=3600)
    names = [f"bad-{uuid.uuid4().hex[:6]}", f"good-{uuid.uuid4().hex[:6]}"]
    entries = [
        schedule_store.create_schedule(ScheduleSpec(name, "maintenance.vacuum", interval))
        for name in names
    ]
    past = utcnow() - timedelta(seconds=5)
    with session_scope() as session:
        session.execute(update(Schedule).where(Schedule.id.in_([e.id for e in entries]))
                        .values(next_run_at=past))  # fmt: skip
        session.execute(update(Schedule).where(Schedule.id == entries[0].id).values(args=[1, 2]))
    before = bad_records("beat")
    beat = TaskyardScheduler(app)
    beat.include_static = False
    try:
        # When beat ticks, then it does not fail
        beat.tick()
    finally:
        beat.close()

    # And the good entry fired, the bad one was skipped and counted
    fired = {e.name: [f.job_id for f in schedule_store.list_fires(e.id)] for e in entries}
    assert fired[names[1]] != [None]
    assert len(fired[names[1]]) == 1
    assert fired[names[0]] == []
    assert bad_records("beat") - before == 1
    for entry in entries:
        schedule_store.delete_schedule(entry.id)


def test_an_event_receiver_sets_aside_an_event_that_is_not_a_message(
    broker: redis.Redis,
) -> None:
    # Given a listener on the workers' task events, as Flower listens
    with task_events() as events, embedded_worker(["default"]):
        # When entries that are no kombu envelope (JSON, and not) are published on the stream
        db = broker.connection_pool.connection_kwargs.get("db", 0)
        broker.publish(f"/{db}.celeryev/task.bogus", json.dumps({"type": "task-bogus"}))
        broker.publish(f"/{db}.celeryev/task.bogus", "this is not json")
        job = enqueue(JobRequest("diag.noop", queue="default"))

        # Then the listener still receives the next job's events
        assert events.wait_for([str(job.id)]) == {str(job.id): SUCCESS_EVENTS}

    # And both were set aside under the event stream
    raws = sorted(e.raw for e in kept("celeryev"))
    assert raws == [b"this is not json", b'{"type": "task-bogus"}']
    poison.purge_poison()
