"""Published jobs are confirmed ``queued`` in the background, and none is forgotten."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from tasks.jobs.producer import JobRequest, Producer, enqueue_many
from tests.support.waiting import wait_for
from workers.store import transitions
from workers.store.confirmations import BackgroundConfirmations
from workers.store.engine import session_scope
from workers.store.models import Job, JobStatus
from workers.store.records import JobRecord


def _published(count: int, confirmations: BackgroundConfirmations) -> list[uuid.UUID]:
    producer = Producer(confirmations.add)
    records = enqueue_many([JobRequest("diag.noop")] * count, producer=producer)
    return [r.id for r in records if isinstance(r, JobRecord)]


def _statuses(ids: Sequence[uuid.UUID]) -> set[str]:
    """The statuses of ``ids``, read in one query (not one per job: a poll must stay cheap on
    a loaded machine, or the wait measures the poll)."""
    with session_scope() as session:
        return set(session.scalars(select(Job.status).where(Job.id.in_(ids)).distinct()))


def test_published_jobs_are_confirmed_soon(runtime: dict[str, str]) -> None:
    confirmations = BackgroundConfirmations()
    ids = _published(1500, confirmations)

    wait_for(lambda: _statuses(ids) == {JobStatus.QUEUED.value}, timeout=30, what="confirmed")
    confirmations.close()


def test_close_writes_what_is_pending(runtime: dict[str, str]) -> None:
    confirmations = BackgroundConfirmations()
    ids = _published(10, confirmations)
    confirmations.close()

    assert _statuses(ids) == {JobStatus.QUEUED.value}


def test_a_refused_write_keeps_the_ids_for_the_next_try(
    runtime: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a store that refuses the first confirmation
    real = transitions.confirm_queued
    refusals = []

    def refuse_once(ids: Sequence[uuid.UUID]) -> None:
        if not refusals:
            refusals.append(len(ids))
            raise OperationalError("UPDATE", {}, Exception("server closed the connection"))
        real(ids)

    monkeypatch.setattr(transitions, "confirm_queued", refuse_once)
    confirmations = BackgroundConfirmations()

    # When jobs are published
    ids = _published(20, confirmations)

    # Then they are confirmed all the same, on the next try
    wait_for(lambda: _statuses(ids) == {JobStatus.QUEUED.value}, timeout=30, what="confirmed")
    assert refusals == [20]
    confirmations.close()
