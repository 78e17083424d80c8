"""The CLI's execution-guarantee commands (delays, keys, cancel, retry, the dead-letter set) on a
real store (SQLite, then PostgreSQL), broker, worker and dispatcher."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import update

from tasks.jobs.producer import JobRequest, enqueue
from tests.support.cli import last_line, one_line_failure, run
from tests.support.dispatcher import running_dispatcher
from tests.support.jobs import wait_finished
from tests.support.waiting import wait_for
from tests.support.worker import embedded_worker
from workers.errors import JobNotFound
from workers.store import jobs
from workers.store.engine import session_scope
from workers.store.models import Job, JobStatus
from workers.store.types import utcnow

FAILING = {"message": "disk on fire", "transient": True}


def is_gone(job_id: uuid.UUID) -> bool:
    try:
        jobs.get_job(job_id)
    except JobNotFound:
        return True
    return False


@dataclass(frozen=True)
class DeadLetters:
    """Dead ``diag.fail`` jobs by queue, all dead before ``until``."""

    by_queue: dict[str, list[uuid.UUID]]
    until: str


@pytest.fixture(scope="module")
def worker(runtime: dict[str, str]) -> Iterator[None]:
    with embedded_worker(concurrency=4), running_dispatcher():
        yield


@pytest.fixture(scope="module")
def dead(worker: None) -> DeadLetters:
    """Transient failures that exhaust their retries, spread over queues so tests stay apart."""
    counts = {"high": 3, "bulk": 2, "default": 1, "critical": 1}
    by_queue = {
        queue: [enqueue(JobRequest("diag.fail", FAILING, queue=queue)).id for _ in range(count)]
        for queue, count in counts.items()
    }
    for ids in by_queue.values():
        for job_id in ids:
            assert wait_finished(job_id).status == JobStatus.DEAD
    until = (utcnow() + timedelta(milliseconds=1)).isoformat()
    return DeadLetters(by_queue, until)


def test_a_delayed_job_is_scheduled_then_runs(worker: None) -> None:
    # When an operator enqueues a job one second ahead
    result = run("jobs", "enqueue", "diag.noop", "--delay", "1")

    # Then it waits in the store, and the dispatcher releases it once due
    job_id = last_line(result)
    assert "Scheduled diag.noop" in result.stderr
    scheduled = jobs.get_job(uuid.UUID(job_id))
    assert scheduled.status == JobStatus.SCHEDULED
    assert scheduled.run_at is not None
    record = wait_finished(job_id)
    assert record.status == JobStatus.SUCCEEDED
    assert record.started_at is not None
    assert record.started_at >= scheduled.run_at


def test_run_at_is_shown_and_the_job_can_be_cancelled_before_it_runs(worker: None) -> None:
    run_at = (utcnow() + timedelta(hours=1)).replace(microsecond=0)
    job_id = last_line(run("jobs", "enqueue", "diag.noop", "--run-at", run_at.isoformat()))
    shown = run("jobs", "show", job_id)
    assert run_at.strftime("%Y-%m-%d %H:%M:%S UTC") in shown.stdout
    assert "scheduled" in shown.stdout

    result = run("jobs", "cancel", job_id)

    assert result.exit_code == 0, result.output
    assert "at once" in result.stdout
    record = jobs.get_job(uuid.UUID(job_id))
    assert record.status == JobStatus.CANCELLED
    assert record.started_at is None
    assert record.cancel_requested_at is not None


def test_a_repeated_idempotency_key_returns_the_same_job(worker: None) -> None:
    key = f"order-{uuid.uuid4()}"
    args = ("jobs", "enqueue", "diag.sleep", "--payload", '{"ms": 1}', "--idempotency-key", key)

    first, second = run(*args), run(*args)

    assert last_line(second) == last_line(first)
    assert "existing job" not in first.stderr
    assert "Returned the existing job" in second.stderr
    assert key in second.stderr
    other = run("jobs", "enqueue", "diag.sleep", "--payload", '{"ms": 2}', "--idempotency-key", key)
    assert "--idempotency-key" in one_line_failure(other, 1)
    assert other.stdout == ""


def test_a_unique_key_holds_while_the_job_is_open(worker: None) -> None:
    args = ("jobs", "enqueue", "diag.noop", "--delay", "60", "--unique-key", "report-7",
            "--unique-for", "60")  # fmt: skip

    first, second = run(*args), run(*args)

    assert last_line(second) == last_line(first)
    assert "unique key 'report-7'" in second.stderr
    run("jobs", "cancel", last_line(first))


def test_a_finished_job_cannot_be_cancelled(worker: None) -> None:
    job_id = last_line(run("jobs", "enqueue", "diag.noop"))
    wait_finished(job_id)

    line = one_line_failure(run("jobs", "cancel", job_id), 1)

    assert "already finished (succeeded)" in line


def test_a_running_job_is_asked_to_stop(worker: None) -> None:
    job_id = last_line(run("jobs", "enqueue", "diag.steps", "--payload",
                           '{"steps": 200, "step_ms": 25}'))  # fmt: skip
    wait_for(lambda: jobs.get_job(uuid.UUID(job_id)).status == JobStatus.STARTED, timeout=10)

    result = run("jobs", "cancel", job_id)

    assert result.exit_code == 0, result.output
    assert "Asked running job" in result.stdout
    assert wait_finished(job_id, timeout=20).status == JobStatus.CANCELLED


def test_jobs_show_displays_progress_and_attempts(worker: None) -> None:
    job_id = last_line(run("jobs", "enqueue", "diag.steps", "--payload",
                           '{"steps": 4, "step_ms": 5}'))  # fmt: skip
    wait_finished(job_id)

    shown = run("jobs", "show", job_id)
    record = json.loads(run("jobs", "show", job_id, "--json").stdout)

    assert shown.exit_code == 0, shown.output
    for expected in ("100%", "step 4/4", "1/1", "timed out"):
        assert expected in shown.stdout
    assert record["progress"] == 100
    assert record["max_attempts"] == 1
    assert record["timed_out"] is False
    assert record["cancel_requested_at"] is None


def test_dead_letters_list_shows_dead_jobs_in_a_table(dead: DeadLetters) -> None:
    result = run("dead-letters", "list", "--type", "diag.fail", "--until", dead.until)

    assert result.exit_code == 0, result.output
    for column in ("id", "died at", "attempts", "error type", "replayed by"):
        assert column in result.stdout
    for job_id in (i for ids in dead.by_queue.values() for i in ids):
        row = next(line for line in result.stdout.splitlines() if str(job_id) in line)
        assert "TransientDiagFailure" in row
        assert "disk on fire" in row
        assert "4/4" in row
    assert "of 7 dead jobs" in result.stdout
    listed = json.loads(run("dead-letters", "list", "--queue", "high", "--until", dead.until,
                            "--json").stdout)  # fmt: skip
    assert {r["id"] for r in listed} == {str(i) for i in dead.by_queue["high"]}
    future = (utcnow() + timedelta(hours=1)).isoformat()
    assert "No dead jobs match" in run("dead-letters", "list", "--since", future).stderr
    aliased = run("dlq", "list", "--type", "diag.fail", "--until", dead.until)
    assert aliased.stdout == result.stdout, "the deprecated dlq group runs the same command"


def test_dead_letters_replay_replays_each_dead_job_once(dead: DeadLetters) -> None:
    # When the operator replays the dead jobs of the high queue
    args = ("dead-letters", "replay", "--queue", "high", "--until", dead.until, "--yes")
    result = run(*args)

    # Then each became a new job linked to it, and the summary says how many
    assert result.exit_code == 0, result.output
    assert "3 dead jobs (queue high" in result.stderr
    assert "Replayed 3 dead jobs" in result.stdout
    for original in dead.by_queue["high"]:
        replay_id = jobs.get_job(original).replayed_by
        assert replay_id is not None
        assert jobs.get_job(replay_id).replay_of == original

    # And a second replay finds nothing left to do
    again = run(*args)
    assert again.exit_code == 0, again.output
    assert "nothing to do" in again.stderr
    assert again.stdout == ""


def test_dead_letters_replay_without_a_terminal_or_yes_refuses(dead: DeadLetters) -> None:
    result = run("dead-letters", "replay", "--queue", "default", "--until", dead.until)

    line = one_line_failure(result, 2)
    assert "1 dead job (queue default" in line
    assert "--yes" in line
    assert jobs.get_job(dead.by_queue["default"][0]).replayed_by is None


def test_dead_letters_replay_asks_on_a_terminal_and_a_no_changes_nothing(
    dead: DeadLetters, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cli.progress.stdin_is_terminal", lambda: True)

    result = run("dead-letters", "replay", "--queue", "default", "--until", dead.until, stdin="n\n")

    assert result.exit_code == 0, result.output
    assert "Replay them?" in result.stderr
    assert "Nothing was changed" in result.stderr
    assert jobs.get_job(dead.by_queue["default"][0]).replayed_by is None


def test_dead_jobs_that_cannot_be_replayed_are_listed_and_fail_the_command(
    runtime: dict[str, str],
) -> None:
    # Given a dead job whose type is no longer registered
    gone = jobs.NewJob(uuid.uuid4(), "gone.away", "default", 5, {})
    jobs.insert_jobs([gone])
    with session_scope() as session:
        dead = {"status": JobStatus.DEAD.value, "finished_at": utcnow()}
        session.execute(update(Job).where(Job.id == gone.id).values(**dead))

    # When the operator replays it
    result = run("dead-letters", "replay", "--type", "gone.away", "--yes")

    # Then the command fails after saying which job could not be replayed, and why
    assert result.exit_code == 1, result.output
    assert "Replayed 0 dead jobs" in result.stdout
    row = next(line for line in result.stdout.splitlines() if str(gone.id) in line)
    assert "gone.away" in row
    failures = [line for line in result.stderr.splitlines() if line.startswith("taskyard: ")]
    assert failures == [result.stderr.splitlines()[-1]]
    assert "1 dead job could not be replayed" in failures[0]
    assert jobs.get_job(gone.id).replayed_by is None


def test_dead_letters_purge_deletes_only_matching_dead_jobs(dead: DeadLetters) -> None:
    # Given a finished job on the bulk queue that is not dead
    alive = last_line(run("jobs", "enqueue", "diag.noop", "--queue", "bulk"))
    wait_finished(alive)
    assert "--yes" in one_line_failure(run("dead-letters", "purge", "--queue", "bulk"), 2)

    # When the operator purges the bulk queue's dead jobs
    result = run("dead-letters", "purge", "--queue", "bulk", "--type", "diag.fail", "--yes")

    # Then exactly those are gone
    assert result.exit_code == 0, result.output
    assert "Deleted 2 dead jobs" in result.stdout
    assert all(is_gone(job_id) for job_id in dead.by_queue["bulk"])
    assert jobs.get_job(uuid.UUID(alive)).status == JobStatus.SUCCEEDED
    assert jobs.get_job(dead.by_queue["default"][0]).status == JobStatus.DEAD
    assert "nothing to delete" in run("dead-letters", "purge", "--queue", "bulk", "--yes").stderr


def test_jobs_replay_enqueues_a_dead_job_again(dead: DeadLetters) -> None:
    original = dead.by_queue["critical"][0]

    result = run("jobs", "replay", str(original))

    new_id = uuid.UUID(last_line(result))
    assert str(new_id) in result.stderr
    assert jobs.get_job(new_id).replay_of == original
    assert jobs.get_job(original).replayed_by == new_id
    shown = run("jobs", "show", str(original), "--json")
    assert json.loads(shown.stdout)["replayed_by"] == str(new_id)


def test_the_deprecated_jobs_retry_still_replays(dead: DeadLetters) -> None:
    original = dead.by_queue["critical"][0]

    result = run("jobs", "retry", str(original))

    new_id = uuid.UUID(last_line(result))
    assert f"Replayed dead job {original}" in result.stderr
    assert jobs.get_job(new_id).replay_of == original


def test_only_dead_failed_or_cancelled_jobs_can_be_replayed(worker: None) -> None:
    job_id = last_line(run("jobs", "enqueue", "diag.noop"))
    wait_finished(job_id)

    line = one_line_failure(run("jobs", "replay", job_id), 1)

    assert "only dead, failed or cancelled jobs can be replayed" in line
    assert f"job {job_id} has succeeded;" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--run-at", "2026-01-01T09:00:00"], "has no time zone"),
        (["--run-at", "tomorrow"], "not an RFC 3339 date-time"),
        (["--delay", "5", "--run-at", "2026-01-01T09:00:00Z"], "--delay or --run-at, not both"),
        (["--delay", "-1"], "--delay"),
        (["--unique-key", "k"], "--unique-key needs --unique-for"),
        (["--idempotency-key", ""], "1 to 200 characters"),
    ],
)
def test_bad_guarantee_options_are_usage_errors(
    runtime: dict[str, str], args: list[str], expected: str
) -> None:
    result = run("jobs", "enqueue", "diag.noop", *args)

    assert expected in one_line_failure(result, 2)
    assert result.stdout == ""
