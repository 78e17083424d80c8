"""Reading job records back in tests."""

from __future__ import annotations

import uuid

from tests.support.waiting import wait_for
from workers.store import jobs
from workers.store.models import FINISHED_STATUSES, Job


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
