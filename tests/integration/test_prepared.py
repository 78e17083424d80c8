"""The worker's two writes on every job, run as server-side prepared statements (the speedup),
write and return what SQLAlchemy's ``Connection.execute`` does, and survive a dropped
connection (PostgreSQL only: elsewhere the speedup is not used)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text, update

from tasks.jobs.producer import JobRequest, enqueue
from tests.support.runtime import services_replaced
from tests.support.services import drop_store_connections, scratch_postgres_database
from workers.store import jobs, transitions
from workers.store.engine import get_engine, writer_connection
from workers.store.models import Job
from workers.store.resilience import persistently
from workers.store.types import utcnow

#: Columns a claim and a success write, bar the ones that differ between any two jobs.
WRITTEN = ("status", "attempts", "worker", "progress", "result", "error_type", "error_message",
           "error_traceback")  # fmt: skip


@pytest.fixture(scope="module")
def database_url(postgres_admin: str) -> Iterator[str]:
    """PostgreSQL only (overrides the store matrix): prepared statements are PostgreSQL's."""
    with scratch_postgres_database(postgres_admin) as url:
        yield url


def _job(cancel_requested: bool) -> uuid.UUID:
    record = enqueue(JobRequest("diag.limited", {"tenant": "t-1"}, queue="high"))
    if cancel_requested:
        with get_engine().begin() as connection:
            connection.execute(
                update(Job).where(Job.id == record.id).values(cancel_requested_at=utcnow())
            )
    return record.id


def _run(job_id: uuid.UUID, speedups: str, result: Any) -> tuple[transitions.Claim, bool]:
    with services_replaced(TASKYARD_SPEEDUPS=speedups):
        token = uuid.uuid4().hex
        claim = transitions.claim_start(str(job_id), "w@host", 30.0, token)
        assert claim is not None
        again = transitions.claim_start(str(job_id), "w@host", 30.0, token)  # the retried claim
        assert again == claim
        return claim, transitions.succeed(claim, result)


def _prepared(speedups: str) -> set[str]:
    """The statements prepared on the kept writer connections after a job ran with the switch
    at ``speedups`` (switching opens fresh connections)."""
    query = text("SELECT name FROM pg_prepared_statements")
    with services_replaced(TASKYARD_SPEEDUPS=speedups):
        _run_quietly(_job(False))
        names: set[str] = set()
        for durable in (True, False):
            with writer_connection(durable=durable) as connection:
                names.update(connection.execute(query).scalars())
    return names


def _written(job_id: uuid.UUID) -> dict[str, Any]:
    record = jobs.get_job(job_id)
    return {column: getattr(record, column) for column in WRITTEN}


@pytest.mark.parametrize("result", [{"ok": True, "text": "zoë"}, None, [1, 2.5]], ids=str)
@pytest.mark.parametrize("cancel_requested", [False, True])
def test_prepared_writes_store_and_return_what_sqlalchemy_does(
    runtime: dict[str, str], result: Any, cancel_requested: bool
) -> None:
    # Given two alike jobs, one claimed and finished through prepared statements, one not
    prepared_id, plain_id = _job(cancel_requested), _job(cancel_requested)
    prepared_claim, prepared_done = _run(prepared_id, "on", result)
    plain_claim, plain_done = _run(plain_id, "off", result)

    # Then the first went through statements its connections prepared, the second not
    assert _prepared("on") == {"taskyard_claim_start", "taskyard_succeed"}
    assert _prepared("off") == set()
    # And both claims read the same, to the time zone of the times they return
    assert prepared_done
    assert plain_done
    assert prepared_claim.due_at is not None
    assert plain_claim.due_at is not None
    assert prepared_claim.due_at.utcoffset() == plain_claim.due_at.utcoffset()
    same = {"job_id": plain_claim.job_id, "due_at": plain_claim.due_at}
    assert transitions.Claim(**{**vars(prepared_claim), **same}) == plain_claim
    assert prepared_claim.cancel_requested is cancel_requested
    assert prepared_claim.concurrency_key == "t-1"
    # And both records hold the same, a JSON null result included
    assert _written(prepared_id) == _written(plain_id)
    with get_engine().connect() as connection:
        kinds = connection.execute(
            text("SELECT jsonb_typeof(result) FROM jobs WHERE id IN (:a, :b)"),
            {"a": prepared_id, "b": plain_id},
        ).scalars()
        assert len(set(kinds)) == 1


def test_a_fenced_out_success_changes_nothing_when_prepared(runtime: dict[str, str]) -> None:
    # Given a job claimed through a prepared statement
    job_id = _job(False)
    with services_replaced(TASKYARD_SPEEDUPS="on"):
        claim = transitions.claim_start(str(job_id), "w@host", 30.0, uuid.uuid4().hex)
        assert claim is not None
        # When a write names an attempt that is not the job's, it changes no row
        stale = transitions.Claim(**{**vars(claim), "attempt": claim.attempt + 1})
        assert transitions.succeed(stale, {"late": True}) is False
    assert jobs.get_job(job_id).status == "started"


def test_prepared_writes_survive_a_connection_the_server_dropped(runtime: dict[str, str]) -> None:
    with services_replaced(TASKYARD_SPEEDUPS="on"):
        # Given the kept writer connections have prepared their statements
        _run_quietly(_job(False))
        job_id = _job(False)
        # And PostgreSQL then terminates them
        drop_store_connections()

        # When the next job is claimed and finished, the writes are retried on fresh
        # connections, which prepare the statements again
        claim = persistently(transitions.claim_start, str(job_id), "w@h", 30.0, "token-1")
        assert claim is not None
        assert persistently(transitions.succeed, claim, {"after": "drop"})
    assert jobs.get_job(job_id).result == {"after": "drop"}


def _run_quietly(job_id: uuid.UUID) -> None:
    claim = transitions.claim_start(str(job_id), "w@host", 30.0, uuid.uuid4().hex)
    assert claim is not None
    assert transitions.succeed(claim, {"ok": True})
