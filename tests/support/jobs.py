"""Reading job records back in tests, and a clean broker and store to start from."""

from __future__ import annotations

import uuid

import redis
from sqlalchemy import update

from tests.support.waiting import wait_for
from workers.redis_client import shared_redis
from workers.settings import get_settings
from workers.store import jobs
from workers.store.engine import session_scope
from workers.store.models import FINISHED_STATUSES, Job, JobStatus


def wait_finished(job_id: uuid.UUID | str, timeout: float = 30.0) -> Job:
    """The job's record once it reaches a finished status."""
    key = job_id if isinstance(job_id, uuid.UUID) else uuid.UUID(job_id)

    def finished() -> Job | None:
        record = jobs.get_job(key)
        return record if record.status in FINISHED_STATUSES else None

    try:
        return wait_for(finished, timeout=timeout, what=f"job {key} to finish")
    except AssertionError as error:
        record = jobs.get_job(key)
        raise AssertionError(
            f"{error}; it is {record.status} after {record.attempts} attempt(s), "
            f"worker {record.worker}, dispatched at {record.dispatched_at}"
        ) from None


def emptied_broker() -> redis.Redis:
    """The test's broker emptied, and every job in the store marked finished, for a clean slate."""
    client = shared_redis(get_settings().broker_url)
    client.flushdb()
    with session_scope() as session:
        session.execute(update(Job).values(status=JobStatus.SUCCEEDED.value))
    return client
