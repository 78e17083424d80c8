"""The lost-message sweep tells a message lost in transit from one still waiting or held.

Each test sets up a real broker state with real published messages, then takes messages off
the lists the way a worker's BRPOP would."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import redis
from sqlalchemy import update

from tasks.jobs.producer import JobRequest, enqueue
from tests.support.jobs import emptied_broker
from workers.dispatcher import Dispatcher
from workers.lost_messages import missing_messages
from workers.priorities import DEFAULT_PRIORITY, redis_list_key, to_broker
from workers.redis_client import shared_redis
from workers.settings import get_settings
from workers.store import jobs, queued
from workers.store.engine import session_scope
from workers.store.models import Job, JobStatus
from workers.store.records import JobRecord
from workers.store.types import utcnow

LIST = redis_list_key("default", to_broker(DEFAULT_PRIORITY, "redis"))


@pytest.fixture
def broker(runtime: dict[str, str]) -> redis.Redis:
    return emptied_broker()


def _queued_job(minutes_ago: float = 0) -> JobRecord:
    job = enqueue(JobRequest("diag.noop", queue="default"))
    assert isinstance(job, JobRecord)
    if minutes_ago:
        then = utcnow() - timedelta(minutes=minutes_ago)
        with session_scope() as session:
            session.execute(
                update(Job).where(Job.id == job.id).values(created_at=then, dispatched_at=then)
            )
    return job


def _missing() -> set[uuid.UUID]:
    candidates = queued.queued_since_before(utcnow() + timedelta(seconds=1), 100)
    return {job.id for job in missing_messages(shared_redis(get_settings().broker_url),
                                               candidates)}  # fmt: skip


def _take(client: redis.Redis) -> dict:
    """What a worker's BRPOP does: take the next message off the list."""
    raw = client.rpop(LIST)
    assert raw is not None
    return json.loads(raw)


def test_a_waiting_message_is_not_missing(broker: redis.Redis) -> None:
    _queued_job(minutes_ago=5)
    assert _missing() == set()


def test_a_message_held_by_a_worker_is_not_missing(broker: redis.Redis) -> None:
    # Given a job whose message a worker took and holds unacknowledged
    _queued_job(minutes_ago=5)
    message = _take(broker)
    broker.hset("unacked", "tag-1", json.dumps([message, "default", "default"]))

    assert _missing() == set()


def test_a_message_taken_and_dropped_is_missing(broker: redis.Redis) -> None:
    # Given a job whose message a worker took and lost before holding it
    job = _queued_job(minutes_ago=5)
    _take(broker)

    assert _missing() == {job.id}


def test_a_message_is_missing_once_a_younger_one_heads_its_list(broker: redis.Redis) -> None:
    # Given an old job whose message was taken and lost, and a younger job waiting behind it
    lost = _queued_job(minutes_ago=5)
    _take(broker)
    _queued_job()

    # Then the old one is missing and the young one is not
    assert _missing() == {lost.id}


def test_a_redelivered_head_proves_nothing(broker: redis.Redis) -> None:
    # Given a lost message, and a list whose next message is a redelivery (any age)
    _queued_job(minutes_ago=5)
    _take(broker)
    young = _queued_job()
    redelivery = _take(broker)
    redelivery["headers"]["redelivered"] = True
    broker.rpush(LIST, json.dumps(redelivery))
    with session_scope() as session:
        session.execute(
            update(Job).where(Job.id == young.id).values(status=JobStatus.SUCCEEDED.value)
        )

    # Then nothing is judged missing until the list shows a message in publish order
    assert _missing() == set()


def test_the_dispatcher_publishes_a_lost_message_once(broker: redis.Redis) -> None:
    # Given a job queued ten minutes ago whose message was lost, and one started meanwhile
    lost = _queued_job(minutes_ago=10)
    _take(broker)
    started = _queued_job(minutes_ago=10)
    _take(broker)
    with session_scope() as session:
        session.execute(
            update(Job).where(Job.id == started.id).values(status=JobStatus.STARTED.value)
        )

    # When the dispatcher sweeps, twice
    first = Dispatcher().tick()
    second = Dispatcher().tick()

    # Then only the queued job is published again, and only once
    assert (first.republished, second.republished) == (1, 0)
    assert broker.llen(LIST) == 1
    assert json.loads(broker.lindex(LIST, 0))["headers"]["id"] == str(lost.id)
    record = jobs.get_job(lost.id)
    assert record.status == JobStatus.QUEUED.value
    assert record.dispatched_at is not None
    assert record.dispatched_at > utcnow() - timedelta(minutes=1)
