"""Creating, reading and listing job records (a worker's writes are in ``lifecycle``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from workers import speedups
from workers.errors import IdempotencyConflict, JobNotFound, StoreUnavailable
from workers.speedups.copy_in import copy_rows
from workers.store.engine import get_writer_engine, session_scope
from workers.store.lookup import get_or_raise, newest_page
from workers.store.models import (
    FINISHED_STATUSES,
    IdempotencyKey,
    Job,
    JobStatus,
    UniqueJob,
)
from workers.store.records import JobRecord
from workers.store.types import utcnow


@dataclass(frozen=True)
class NewJob:
    """A job record about to be inserted: ``queued``, or ``scheduled`` until ``run_at``."""

    id: uuid.UUID
    type: str
    queue: str
    priority: int
    payload: dict[str, Any]
    correlation_id: str | None = None
    api_key_id: uuid.UUID | None = None
    run_at: datetime | None = None
    max_attempts: int = 1
    concurrency_key: str | None = None
    replay_of: uuid.UUID | None = None

    @property
    def status(self) -> JobStatus:
        """``scheduled`` when it must wait for ``run_at``; else ``dispatching`` until the
        producer has published it (if the producer dies first, the dispatcher will)."""
        return JobStatus.SCHEDULED if self.run_at is not None else JobStatus.DISPATCHING

    def row(self, now: datetime) -> dict[str, Any]:
        """Column values for the insert."""
        return {
            **vars(self),
            "status": self.status.value,
            "dispatched_at": None if self.run_at is not None else now,
            "attempts": 0,
            "created_at": now,
            "timed_out": False,
        }


@dataclass(frozen=True)
class Dedupe:
    """Keys that make an enqueue return an existing job instead of creating one."""

    scope: str
    request_hash: str
    idempotency_key: str | None = None
    idempotency_until: datetime | None = None
    unique_key: str | None = None
    unique_until: datetime | None = None


@dataclass(frozen=True)
class JobFilter:
    """Filters and keyset position for listing jobs, newest first."""

    status: str | None = None
    type: str | None = None
    queue: str | None = None
    finished_after: datetime | None = None
    finished_before: datetime | None = None
    replayed: bool | None = None
    #: Only the jobs enqueued with this API key (a ``jobs:read:own`` key's reads).
    api_key_id: uuid.UUID | None = None
    before: tuple[datetime, uuid.UUID] | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE clauses these filters stand for (keyset position excluded)."""
        clauses: list[ColumnElement[bool]] = []
        for column, value in (
            (Job.status, self.status),
            (Job.type, self.type),
            (Job.queue, self.queue),
            (Job.api_key_id, self.api_key_id),
        ):
            if value is not None:
                clauses.append(column == value)
        if self.finished_after is not None:
            clauses.append(Job.finished_at >= self.finished_after)
        if self.finished_before is not None:
            clauses.append(Job.finished_at < self.finished_before)
        if self.replayed is not None:
            clauses.append(
                Job.replayed_by.is_not(None) if self.replayed else Job.replayed_by.is_(None)
            )
        return clauses


#: Built once: values go in as parameters, so each insert skips building a statement.
_INSERT = insert(Job)
JOBS_TABLE: Table = Job.__table__  # type: ignore[assignment]


def insert_job(job: NewJob) -> JobRecord:
    """Insert one job in a single autocommitted statement (the API's hot path)."""
    row = job.row(utcnow())
    _write_once(lambda connection: connection.execute(_INSERT, row))
    return JobRecord(**row)


def _write_once(write: Callable[[Connection], object]) -> None:
    """Run ``write`` on the writer engine, which does not ping before use: a connection the
    server dropped fails the first try, so one more try on a fresh one tells that from an
    outage."""
    try:
        try:
            with get_writer_engine().connect() as connection:
                write(connection)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            with get_writer_engine().connect() as connection:
                write(connection)
    except (OperationalError, InterfaceError) as error:
        raise StoreUnavailable("the job store is unreachable; try again shortly") from error


def insert_jobs(jobs: Sequence[NewJob]) -> list[JobRecord]:
    """Insert ``jobs``, all or none, and return their records: one transaction of SQLAlchemy's
    ``INSERT``, or with the speedups on PostgreSQL one autocommitted ``COPY`` (see
    :mod:`workers.speedups.copy_in`). A single job is one ``INSERT``, a round trip shorter
    than ``COPY``."""
    if len(jobs) <= 1:
        return [insert_job(job) for job in jobs]
    now = utcnow()
    rows = [job.row(now) for job in jobs]
    if get_writer_engine().dialect.name == "postgresql" and speedups.enabled():
        _write_once(lambda connection: copy_rows(connection, JOBS_TABLE, rows))
    else:
        with session_scope() as session:
            session.connection().execute(_INSERT, rows)
    return [JobRecord(**row) for row in rows]


def _existing(session: Session, new: NewJob, dedupe: Dedupe, now: datetime) -> Job | None:
    if dedupe.idempotency_key is not None:
        claimed = session.get(IdempotencyKey, (dedupe.scope, dedupe.idempotency_key))
        if claimed is not None and claimed.expires_at > now:
            if claimed.request_hash != dedupe.request_hash:
                raise IdempotencyConflict(
                    f"idempotency key {dedupe.idempotency_key!r} was used with another request",
                    {"job_id": str(claimed.job_id)},
                )
            return session.get(Job, claimed.job_id)
        if claimed is not None:
            session.delete(claimed)
    if dedupe.unique_key is not None:
        held = session.get(UniqueJob, (new.type, dedupe.unique_key))
        if held is not None and held.expires_at > now:
            holder = session.get(Job, held.job_id)
            if holder is not None and holder.status not in FINISHED_STATUSES:
                return holder
        if held is not None:
            session.delete(held)
    session.flush()
    return None


def _dedupe_rows(new: NewJob, dedupe: Dedupe) -> list[IdempotencyKey | UniqueJob]:
    rows: list[IdempotencyKey | UniqueJob] = []
    if dedupe.idempotency_key is not None and dedupe.idempotency_until is not None:
        rows.append(
            IdempotencyKey(
                scope=dedupe.scope,
                key=dedupe.idempotency_key,
                job_id=new.id,
                request_hash=dedupe.request_hash,
                expires_at=dedupe.idempotency_until,
            )
        )
    if dedupe.unique_key is not None and dedupe.unique_until is not None:
        rows.append(
            UniqueJob(
                type=new.type,
                unique_key=dedupe.unique_key,
                job_id=new.id,
                expires_at=dedupe.unique_until,
            )
        )
    return rows


def insert_deduplicated(new: NewJob, dedupe: Dedupe) -> tuple[JobRecord, bool]:
    """Insert ``new`` unless its idempotency or unique key names a live job; returns the job
    and whether it was created. Concurrent twins race on primary keys; the loser re-reads."""
    for _ in range(3):
        now = utcnow()
        try:
            with session_scope() as session:
                existing = _existing(session, new, dedupe, now)
                if existing is not None:
                    return JobRecord.of(existing), False
                row = new.row(now)
                session.add(Job(**row))
                session.flush()
                session.add_all(_dedupe_rows(new, dedupe))
            return JobRecord(**row), True
        except IntegrityError:
            continue
    raise StoreUnavailable("could not record the job after three conflicting attempts")


def delete_jobs(ids: Sequence[uuid.UUID]) -> None:
    """Remove records of jobs the broker never accepted."""
    with session_scope() as session:
        session.execute(delete(Job).where(Job.id.in_(ids)))


def get_job(job_id: uuid.UUID) -> Job:
    """The record of ``job_id``, or :class:`JobNotFound`."""
    return get_or_raise(Job, job_id, JobNotFound, "job")


def list_jobs(filters: JobFilter, limit: int) -> list[Job]:
    """Up to ``limit`` records matching ``filters``, newest first."""
    query = select(Job).where(*filters.conditions())
    return newest_page(query, Job.created_at, Job.id, filters.before, limit)


def count_jobs(filters: JobFilter) -> int:
    """How many records match ``filters`` (keyset position ignored)."""
    query = select(func.count()).select_from(Job).where(*filters.conditions())
    with session_scope() as session:
        return session.scalar(query) or 0
