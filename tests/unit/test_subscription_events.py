"""The events subscriptions hear, without a store: the built-in message says what happened
and never carries a payload or a result; a missed schedule is told from a fire's times."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tasks.notifications.events import (
    EventKind,
    fire_event,
    job_event,
    message,
    missed_reason,
    run_event,
    sample,
)
from tasks.notifications.subscriptions import SubscriptionSpec, channels_of, is_glob
from workers.store.models import Job, MaintenanceRun, Schedule, ScheduleFire, Subscription

NOW = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


def _job(status: str, **fields: object) -> Job:
    values = {"id": uuid.UUID(int=1234), "type": "billing.charge", "queue": "high",
              "status": status, "attempts": 4, "max_attempts": 4,
              "error_type": "TimeoutError", "error_message": "the gateway did not answer",
              "finished_at": NOW, "payload": {"card": "4242-secret"},
              "result": {"token": "tok-secret"}, "correlation_id": "c-1", **fields}  # fmt: skip
    return Job(**values)


def test_a_dead_job_says_type_id_attempts_error_and_time_but_never_its_payload() -> None:
    event = job_event(EventKind.JOB_DEAD, _job("dead"))

    subject, text = message(event)

    assert event.key == f"job.dead:{uuid.UUID(int=1234)}"
    assert subject == f"job billing.charge {uuid.UUID(int=1234)} is dead"
    assert "attempts: 4 of 4" in text
    assert "error: TimeoutError: the gateway did not answer" in text
    assert "finished: 2026-12-07T05:00:00Z" in text
    shown = json.dumps(event.data) + subject + text
    assert "secret" not in shown


def test_a_succeeded_job_has_no_error_and_a_long_error_is_cut() -> None:
    done = job_event(EventKind.JOB_SUCCEEDED, _job("succeeded", error_type=None,
                                                  error_message=None))  # fmt: skip
    failed = job_event(EventKind.JOB_FAILED, _job("failed", error_message="x" * 5000))

    assert message(done)[0].endswith("has succeeded")
    assert "error: -" in message(done)[1]
    assert len(failed.data["job"]["error_message"]) == 1000


def test_a_failed_maintenance_run_names_the_task_and_its_error() -> None:
    run = MaintenanceRun(id=uuid.UUID(int=7), name="purge", started_at=NOW - timedelta(1),
                         finished_at=NOW, outcome="failed", error="disk full")  # fmt: skip

    subject, text = message(run_event(run))

    assert subject == "maintenance purge failed"
    assert "maintenance.purge" in text
    assert "error: disk full" in text


@pytest.mark.parametrize(
    ("late_s", "job_id", "age_s", "missed"),
    [
        (1, "job-1", 0, False),  # on time
        (59, "job-1", 0, False),  # late, within the 60 s grace
        (600, "job-1", 0, True),  # a catch-up run for missed slots
        (1, None, 10, False),  # not linked yet: the producer may still be at it
        (1, None, 31, True),  # claimed, never enqueued
    ],
)
def test_a_fire_is_a_missed_slot_when_it_is_late_past_grace_or_never_ran(
    late_s: int, job_id: str | None, age_s: int, missed: bool
) -> None:
    fired = NOW - timedelta(seconds=age_s)
    fire = ScheduleFire(id=uuid.UUID(int=9), planned_at=fired - timedelta(seconds=late_s),
                        fired_at=fired, job_id=job_id)  # fmt: skip

    reason = missed_reason(fire, NOW)

    assert (reason is not None) is missed
    if reason is not None:
        schedule = Schedule(name="nightly", task="diag.noop")
        subject, _ = message(fire_event(fire, schedule, reason))
        assert subject.startswith("schedule nightly missed its slot at ")


@pytest.mark.parametrize("kind", list(EventKind))
def test_every_event_has_sample_data_and_a_built_in_message(kind: EventKind) -> None:
    data = sample(kind)
    assert data["event"] == kind.value
    json.dumps(data)  # a template renders JSON data


def test_a_glob_of_channels_is_stored_alone_and_read_back_as_a_glob() -> None:
    names = SubscriptionSpec("s", "job.dead", channels=("ops", "pager")).columns()["channels"]
    glob = SubscriptionSpec("s", "job.dead", channels="ops-*").columns()["channels"]

    assert channels_of(Subscription(channels=names)) == ("ops", "pager")
    assert channels_of(Subscription(channels=glob)) == "ops-*"
    assert is_glob("ops-[ab]")
    assert not is_glob("ops.b@x")
