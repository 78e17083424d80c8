"""The start guard and attempt fencing, against the real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError

from tasks.jobs.producer import JobRequest, enqueue
from workers.store import jobs, transitions
from workers.store.engine import get_writer_engine, session_scope, writer_connection
from workers.store.models import Job, JobStatus
from workers.store.types import utcnow

STALE_S = 10.0


def _age_heartbeat(job_id: object, seconds: float) -> None:
    with session_scope() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(heartbeat_at=utcnow() - timedelta(seconds=seconds))
        )


def test_a_start_retried_with_its_token_finds_its_own_claim(runtime: dict[str, str]) -> None:
    job = enqueue(JobRequest("diag.noop", delay_s=600))  # never published: no worker races us
    with session_scope() as session:
        session.execute(update(Job).where(Job.id == job.id).values(status="queued"))

    first = transitions.claim_start(str(job.id), "w1@host", STALE_S, "token-a")
    again = transitions.claim_start(str(job.id), "w1@host", STALE_S, "token-a")
    other = transitions.claim_start(str(job.id), "w2@host", STALE_S, "token-b")

    assert first is not None
    assert again is not None
    assert again.attempt == first.attempt == 1
    assert other is None  # held, with a fresh heartbeat, by someone else
    assert jobs.get_job(job.id).attempts == 1


def test_a_presumed_dead_holder_cannot_overwrite_the_newer_attempt(
    runtime: dict[str, str],
) -> None:
    job = enqueue(JobRequest("diag.noop", delay_s=600))
    with session_scope() as session:
        session.execute(update(Job).where(Job.id == job.id).values(status="queued"))
    old = transitions.claim_start(str(job.id), "slow@host", STALE_S, "old")
    assert old is not None

    # When its heartbeat goes stale and another worker takes the job over
    _age_heartbeat(job.id, STALE_S + 5)
    new = transitions.claim_start(str(job.id), "fast@host", STALE_S, "new")
    assert new is not None
    assert new.attempt == 2
    assert transitions.succeed(new, {"by": "fast"})

    # Then the old holder's late result is refused and the record keeps the newer one
    assert not transitions.succeed(old, {"by": "slow"})
    record = jobs.get_job(job.id)
    assert record.status == JobStatus.SUCCEEDED
    assert record.result == {"by": "fast"}
    assert record.worker == "fast@host"


def test_finished_and_cancelled_jobs_never_start(runtime: dict[str, str]) -> None:
    for status in (JobStatus.SUCCEEDED, JobStatus.CANCELLED, JobStatus.RETRYING):
        job = enqueue(JobRequest("diag.noop", delay_s=600))
        with session_scope() as session:
            session.execute(update(Job).where(Job.id == job.id).values(status=status.value))

        assert transitions.claim_start(str(job.id), "w@host", STALE_S, "t") is None
        assert jobs.get_job(job.id).status == status


def test_starts_are_durable_and_outcomes_skip_the_wal_flush(runtime: dict[str, str]) -> None:
    # A start must survive a PostgreSQL crash; an outcome may be lost to one (the reaper reruns
    # the job), so it does not wait for the WAL flush.
    durable, outcome = get_writer_engine(), get_writer_engine(durable=False)
    if durable.dialect.name == "sqlite":
        assert outcome is durable
        return
    with durable.connect() as first, outcome.connect() as second:
        assert first.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
        assert second.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"


def test_a_thread_keeps_its_writer_connection_and_replaces_a_broken_one(
    runtime: dict[str, str],
) -> None:
    with writer_connection() as first:
        pass
    with writer_connection() as again:
        assert again is first
    with pytest.raises(DBAPIError), writer_connection() as broken:
        broken.exec_driver_sql("SELECT no_such_column FROM jobs")
    with writer_connection() as fresh:
        assert fresh is not first
        assert fresh.exec_driver_sql("SELECT 1").scalar() == 1


def test_a_forked_child_never_shares_the_parents_writer_connection(
    runtime: dict[str, str],
) -> None:
    # Given a parent that keeps a writer connection
    with writer_connection() as connection:
        connection.exec_driver_sql("SELECT 1")

    # When a forked child writes and exits (as pool processes do)
    pid = os.fork()
    if pid == 0:  # the child: exit without running the test runner's teardown
        code = 1
        try:
            with writer_connection() as own:
                code = 0 if own.exec_driver_sql("SELECT 1").scalar() == 1 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)

    # Then the child could write, and the parent's store still answers
    assert os.waitstatus_to_exitcode(status) == 0
    with writer_connection() as after:
        assert after.exec_driver_sql("SELECT 1").scalar() == 1
