"""Single-job enqueues of concurrent requests share writes, and every request still hears
the truth about its own job: stored and published, or refused with none of the write kept."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Sequence
from typing import TypeVar

import pytest
from sqlalchemy import func, select

from api.submissions import CoalescedSubmissions
from tasks.jobs.producer import (
    JobRequest,
    Prepared,
    Producer,
    Rejected,
    Submission,
    prepare,
)
from tests.support.runtime import services_replaced
from workers.errors import BrokerUnavailable
from workers.priorities import redis_list_key, to_broker
from workers.redis_client import shared_redis
from workers.settings import get_settings
from workers.store import jobs
from workers.store.engine import get_engine
from workers.store.models import Job, JobStatus
from workers.store.records import JobRecord

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"
#: Longest any test here may wait for its answers: a lost answer fails, never hangs.
ANSWER_TIMEOUT_S = 20.0
T = TypeVar("T")


class CountingProducer(Producer):
    """A real producer that notes the size of every write it makes and the ids it confirms."""

    def __init__(self) -> None:
        self.confirmed: list[uuid.UUID] = []
        super().__init__(self.confirmed.extend)
        self.writes: list[int] = []

    def submit(self, batch: Sequence[Prepared]) -> list[Submission | Rejected]:
        self.writes.append(len(batch))
        return super().submit(batch)


@pytest.fixture
def producer(runtime: dict[str, str]) -> CountingProducer:
    """A counting producer, on an empty broker database."""
    shared_redis(get_settings().broker_url).flushdb()
    return CountingProducer()


def _sleeps(count: int) -> list[Prepared]:
    return [prepare(JobRequest("diag.sleep", {"ms": n})) for n in range(count)]


def _published_ids(records: Sequence[JobRecord]) -> list[str]:
    broker = shared_redis(get_settings().broker_url)
    keys = {redis_list_key(r.queue, to_broker(r.priority, "redis")) for r in records}
    return [json.loads(raw)["headers"]["id"] for key in keys for raw in broker.lrange(key, 0, -1)]


def _stored(ids: Sequence[uuid.UUID]) -> int:
    with get_engine().connect() as connection:
        return connection.execute(select(func.count()).where(Job.id.in_(ids))).scalar_one()


def _run(awaitable: Awaitable[T]) -> T:
    return asyncio.run(asyncio.wait_for(awaitable, ANSWER_TIMEOUT_S))


async def _submit_all(
    coalesced: CoalescedSubmissions, prepared: Sequence[Prepared]
) -> list[JobRecord]:
    answers = await asyncio.gather(*(coalesced.submit(p) for p in prepared))
    return [answer.job for answer in answers]


def test_concurrent_enqueues_share_writes_and_each_gets_its_own_job(
    producer: CountingProducer,
) -> None:
    # Given 20 requests arriving together, at most 8 jobs a write
    coalesced = CoalescedSubmissions(producer, max_write=8)
    prepared = _sleeps(20)

    # When they are submitted
    records = _run(_submit_all(coalesced, prepared))

    # Then three writes carried them all, each request answered with its own job
    assert producer.writes == [8, 8, 4]
    assert [r.id for r in records] == [p.new.id for p in prepared]
    assert [r.payload for r in records] == [{"ms": n} for n in range(20)]
    # And every job is stored once, published once and handed on to be confirmed
    ids = [p.new.id for p in prepared]
    assert _stored(ids) == 20
    assert sorted(_published_ids(records)) == sorted(str(i) for i in ids)
    assert sorted(producer.confirmed) == sorted(ids)
    assert {r.status for r in records} == {JobStatus.QUEUED.value}


def test_a_lone_request_is_written_at_once_and_the_next_starts_a_new_write(
    producer: CountingProducer,
) -> None:
    coalesced = CoalescedSubmissions(producer)

    async def one_after_another() -> None:
        for prepared in _sleeps(3):
            await coalesced.submit(prepared)

    _run(one_after_another())

    assert producer.writes == [1, 1, 1]


def test_a_failed_write_fails_every_request_in_it_and_keeps_none_of_its_jobs(
    producer: CountingProducer,
) -> None:
    # Given a broker that does not answer
    prepared = _sleeps(5)
    with services_replaced(TASKYARD_BROKER_URL=UNREACHABLE_BROKER):
        coalesced = CoalescedSubmissions(producer)

        async def submit_each() -> list[BaseException | object]:
            calls = (coalesced.submit(p) for p in prepared)
            return await asyncio.gather(*calls, return_exceptions=True)

        # When five requests are submitted together
        outcomes = _run(submit_each())

    # Then each of them is refused as a broker outage, and none of their jobs is stored
    assert producer.writes == [5]
    assert all(isinstance(outcome, BrokerUnavailable) for outcome in outcomes), outcomes
    assert _stored([p.new.id for p in prepared]) == 0


def test_a_request_cancelled_while_waiting_leaves_the_others_answered(
    producer: CountingProducer,
) -> None:
    coalesced = CoalescedSubmissions(producer)
    prepared = _sleeps(3)

    async def cancel_the_second() -> list[object]:
        tasks = [asyncio.create_task(coalesced.submit(p)) for p in prepared]
        await asyncio.sleep(0)  # each is waiting on the write now
        tasks[1].cancel()
        return await asyncio.gather(*tasks, return_exceptions=True)

    first, second, third = _run(cancel_the_second())

    # The cancelled request's job was in the write already: it is stored like the others
    assert isinstance(second, asyncio.CancelledError)
    assert [first.job.id, third.job.id] == [prepared[0].new.id, prepared[2].new.id]  # type: ignore[attr-defined]
    assert _stored([p.new.id for p in prepared]) == 3
    assert jobs.get_job(prepared[1].new.id).payload == {"ms": 1}
