"""A batch insert (``COPY`` on PostgreSQL, a multi-row ``INSERT`` on SQLite) stores exactly
what single inserts store, awkward values included, and survives a dropped connection."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tests.support.services import drop_store_connections
from workers.store import jobs
from workers.store.engine import get_engine, get_writer_engine
from workers.store.jobs import NewJob
from workers.store.models import Job

#: Text CSV must quote or escape, JSON must keep, and an empty string that is not NULL.
AWKWARD = [
    {},
    {"quote": 'say "hi"', "comma": "a,b", "lines": "one\ntwo\r\nthree", "tab": "a\tb"},
    {"backslash": "C:\\temp\\new", "nested": {"list": [1, 2.5, None, True, "x"]}},
    {"unicode": "zoë ☃ 漢字 🎉", "empty": "", "null": None},
    {"looks_like_null": "\\N", "csv_null": "", "quoted_empty": '""'},
]
COLUMNS = ("id", "type", "queue", "priority", "status", "payload", "correlation_id",
           "api_key_id", "run_at", "max_attempts", "concurrency_key", "attempts",
           "timed_out", "dispatched_at")  # fmt: skip
ALL_COLUMNS = [column.key for column in Job.__table__.columns]


def _new(payload: dict[str, Any], n: int) -> NewJob:
    return NewJob(
        id=uuid.uuid4(),
        type="diag.noop",
        queue=("default", "bulk")[n % 2],
        priority=n % 10,
        payload=payload,
        correlation_id=("", None, f"cid-{n}")[n % 3],
        run_at=datetime.now(UTC) + timedelta(hours=1) if n % 2 else None,
        max_attempts=n + 1,
        concurrency_key='tenant,"a"' if n % 2 else None,
    )


def _stored(job_id: uuid.UUID) -> dict[str, Any]:
    record = jobs.get_job(job_id)
    return {column: getattr(record, column) for column in COLUMNS if column != "id"}


def test_a_batch_stores_what_single_inserts_store(runtime: dict[str, str]) -> None:
    # Given the same awkward jobs inserted one by one and as one batch
    singles = [_new(payload, n) for n, payload in enumerate(AWKWARD)]
    batch = [NewJob(**{**vars(job), "id": uuid.uuid4()}) for job in singles]
    for job in singles:
        jobs.insert_job(job)
    returned = jobs.insert_jobs(batch)

    # Then every stored column agrees, apart from the insert time of dispatched_at
    for single, batched, record in zip(singles, batch, returned, strict=True):
        want, got = _stored(single.id), _stored(batched.id)
        # And the records returned are what was stored, every column (unset ones None)
        assert record.id == batched.id
        assert {column: getattr(record, column) for column in ALL_COLUMNS} == {
            column: getattr(jobs.get_job(batched.id), column) for column in ALL_COLUMNS
        }
        assert (want.pop("dispatched_at") is None) == (got.pop("dispatched_at") is None)
        assert got == want
        assert got["payload"] == batched.payload


def test_a_batch_is_stored_whole_or_not_at_all(runtime: dict[str, str]) -> None:
    # Given a batch whose last row breaks a constraint (a duplicate id)
    first = _new({"n": 1}, 1)
    duplicate = NewJob(**{**vars(_new({"n": 2}, 2)), "id": first.id})

    # When it is inserted, it fails, and none of its rows is stored
    with pytest.raises(IntegrityError):
        jobs.insert_jobs([first, duplicate])
    with get_engine().connect() as connection:
        count = connection.execute(select(func.count()).where(Job.id == first.id)).scalar()
    assert count == 0


def test_a_batch_survives_a_connection_the_server_dropped(runtime: dict[str, str]) -> None:
    # Given the writer engine holds a pooled connection that PostgreSQL then terminates
    if get_writer_engine().dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no server to drop a connection")
    jobs.insert_jobs([_new({}, 0)])
    drop_store_connections()

    # When a batch is inserted, it goes in on a fresh connection
    batch = [_new({"after": "drop"}, n) for n in range(3)]
    jobs.insert_jobs(batch)

    # Then every row is stored
    assert [jobs.get_job(job.id).payload for job in batch] == [{"after": "drop"}] * 3
