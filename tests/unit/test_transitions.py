"""The job's transition table: the state diagram in docs/architecture.md draws exactly it,
and the status sets the code uses are derived from it."""

from __future__ import annotations

import re

from sqlalchemy import Table

from tests.support.diagrams import assert_draws_exactly
from workers.states import Actor
from workers.store.models import (
    FINISHED_STATUSES,
    REPLAYABLE_STATUSES,
    TRANSITIONS,
    Job,
    JobEvent,
    JobStatus,
)


def test_the_diagram_draws_exactly_the_transition_table() -> None:
    assert_draws_exactly("## A job's life", TRANSITIONS, FINISHED_STATUSES)


def test_the_table_lists_each_move_once_and_uses_every_event() -> None:
    rows = [(t.source, t.target, t.event, t.actor) for t in TRANSITIONS]

    assert len(rows) == len(set(rows))
    assert {t.event for t in TRANSITIONS} == set(JobEvent)


def test_every_status_is_reachable_and_every_open_one_can_finish() -> None:
    reached = {t.target for t in TRANSITIONS}
    assert reached == set(JobStatus)
    for status in set(JobStatus) - FINISHED_STATUSES:
        finishing = [t for t in TRANSITIONS if t.source is status and t.target in FINISHED_STATUSES]
        assert finishing, f"{status} has no move to a final status"


def test_the_status_sets_follow_from_the_table() -> None:
    s = JobStatus
    assert {s.SUCCEEDED, s.FAILED, s.DEAD, s.CANCELLED} == FINISHED_STATUSES
    assert {s.FAILED, s.DEAD, s.CANCELLED} == REPLAYABLE_STATUSES
    assert JobStatus.sources(JobEvent.START) == {s.QUEUED, s.DISPATCHING}
    assert JobStatus.sources(JobEvent.CLAIM) == {s.SCHEDULED, s.RETRYING}
    assert JobStatus.sources(JobEvent.CANCEL, Actor.OPERATOR) == {
        s.SCHEDULED,
        s.DISPATCHING,
        s.QUEUED,
        s.RETRYING,
    }


def test_who_may_make_a_move() -> None:
    assert JobStatus.STARTED.may_become(JobStatus.DEAD, Actor.REAPER)
    assert JobStatus.STARTED.may_become(JobStatus.CANCELLED, Actor.WORKER)
    assert not JobStatus.STARTED.may_become(JobStatus.CANCELLED, Actor.OPERATOR)
    assert not JobStatus.QUEUED.may_become(JobStatus.SUCCEEDED, Actor.WORKER)
    assert not JobStatus.DEAD.may_become(JobStatus.RETRYING, Actor.OPERATOR)


def test_the_partial_indexes_cover_the_statuses_their_queries_leave() -> None:
    # The dispatcher's and the reaper's scans use these indexes only if the conditions agree.
    table: Table = Job.__table__  # type: ignore[assignment]
    where = {
        str(index.name): set(
            re.findall(r"'(\w+)'", str(index.dialect_options["postgresql"]["where"]))
        )
        for index in table.indexes
    }

    assert where["ix_jobs_due"] == JobStatus.sources(JobEvent.CLAIM)
    assert where["ix_jobs_dispatching"] == JobStatus.sources(JobEvent.RECLAIM)
    assert where["ix_jobs_heartbeat"] == JobStatus.sources(JobEvent.REAP)
