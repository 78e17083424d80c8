"""``taskyard jobs``: enqueue a job through the producer, read job records, cancel and replay."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from cli import options
from cli.aliases import deprecated_alias
from cli.doctor import defaults_note
from cli.failures import from_taskyard_error
from cli.jobcontrol import cancel, replay
from cli.output import CliError, Rows, UsageProblem, note, print_record, when
from cli.records import record_fields, record_rows
from cli.text import JOB_TYPE
from workers.errors import InvalidJob
from workers.priorities import MAX_PRIORITY, MIN_PRIORITY
from workers.store import jobs as job_store
from workers.store.models import Job, JobStatus
from workers.timestamps import EXAMPLE

if TYPE_CHECKING:
    from tasks.jobs.producer import JobRequest, Submission

#: The producer's field names as the options that set them, for its error messages.
_OPTION_NAMES = {
    "delay_s": "--delay", "run_at": "--run-at", "idempotency_key": "--idempotency-key",
    "unique_key": "--unique-key", "unique_for_s": "--unique-for",
}  # fmt: skip
_OPTION_NAME = re.compile(rf"\b({'|'.join(_OPTION_NAMES)})\b")


def parse_payload(text: str) -> dict[str, Any]:
    """The ``--payload`` JSON object, or a usage error naming what is wrong."""
    return options.json_object("--payload", text)


def as_usage_problem(error: InvalidJob) -> CliError:
    """The producer's refusal in the CLI's words: its field names become option names."""
    if error.details is None:
        renamed = _OPTION_NAME.sub(lambda match: _OPTION_NAMES[match[0]], error.message)
        error = InvalidJob(renamed)
    return from_taskyard_error(error)


def _dedupe_reason(request: JobRequest) -> str:
    if request.idempotency_key is not None:
        return f"the idempotency key {request.idempotency_key!r} already names it"
    if request.unique_key is not None:
        return f"it holds the unique key {request.unique_key!r} and is still open"
    return f"it holds {request.type}'s uniqueness window for this payload and is still open"


def announce(submission: Submission, request: JobRequest) -> None:
    """Say on stderr what the enqueue did; the job id goes to stdout as the last line."""
    job = submission.job
    follow = f"follow it with `taskyard jobs show {job.id}`"
    if not submission.created:
        note(
            f"Returned the existing job {job.id} ({job.type}, status {job.status}): "
            f"{_dedupe_reason(request)}, so nothing new was enqueued; {follow}."
        )
    elif job.status == JobStatus.SCHEDULED.value:
        note(
            f"Scheduled {job.type} on queue {job.queue} at priority {job.priority} to run at "
            f"{when(job.run_at)} (the dispatcher queues it then); {follow}."
        )
    else:
        note(
            f"Enqueued {job.type} on queue {job.queue} at priority {job.priority} "
            f"(status {job.status}); {follow}."
        )
    if (reminder := defaults_note()) is not None:
        note(reminder)  # the broker may be nobody's: say so rather than report success alone
    click.echo(str(job.id))


@click.group()
def jobs() -> None:
    """Enqueue jobs, read their records, cancel them and replay them."""


jobs.add_command(cancel)
jobs.add_command(replay)
jobs.add_command(deprecated_alias(replay, "retry", "taskyard jobs replay"))


@jobs.command()
@click.argument("job_type", metavar="TYPE")
@click.option(
    "--payload", default="{}", show_default=True, metavar="JSON", help="The job's JSON object."
)
@options.queue("Override the type's default queue.")
@options.priority(
    f"{MIN_PRIORITY}-{MAX_PRIORITY}, {MAX_PRIORITY} the most urgent (default: the type's)."
)
@options.delay("Run no sooner than SECONDS from now (at most a year; the dispatcher queues it).")
@options.run_at(f"Run no sooner than this time, with a time zone, e.g. {EXAMPLE} (within a year).")
@options.key(
    "--idempotency-key",
    "Enqueue at most once per KEY: repeating the same request returns the first job.",
)
@options.key(
    "--unique-key",
    "At most one open job of TYPE holds KEY (needs --unique-for unless TYPE sets one).",
)
@click.option(
    "--unique-for",
    "unique_for_s",
    type=click.IntRange(1, options.MAX_DELAY_S),
    metavar="SECONDS",
    help="How long the unique key (or, without one, the payload) stays unique at most.",
)
def enqueue(
    job_type: str,
    payload: str,
    queue: str | None,
    priority: int | None,
    delay_s: float | None,
    run_at: datetime | None,
    idempotency_key: str | None,
    unique_key: str | None,
    unique_for_s: int | None,
) -> None:
    """Enqueue a job of TYPE, e.g. diag.noop.

    Prints the job id as the last line of stdout.

    With --idempotency-key or --unique-key, a repeat returns the existing job instead of
    enqueueing another (stderr says so; stdout still ends with its id).
    """
    if delay_s is not None and run_at is not None:
        raise UsageProblem("give --delay or --run-at, not both")
    # Imported here: the producer loads the Celery app, which reads (and checks) the settings,
    # and `taskyard --help` must work without valid settings.
    from tasks.jobs import producer

    request = producer.JobRequest(
        job_type, parse_payload(payload), queue, priority, delay_s=delay_s, run_at=run_at,
        idempotency_key=idempotency_key, unique_key=unique_key, unique_for_s=unique_for_s,
    )  # fmt: skip
    try:
        submission = producer.submit(request)
    except InvalidJob as error:
        raise as_usage_problem(error) from None
    announce(submission, request)


@jobs.command()
@click.argument("job_id", metavar="ID", type=click.UUID)
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
def show(job_id: uuid.UUID, as_json: bool) -> None:
    """Show the record of job ID.

    Status, attempts, schedule, progress, cancel and time-out marks, result or error, and
    its replay links.
    """
    record = job_store.get_job(job_id)
    print_record(record_fields(record), record_rows(record), f"job {record.id}", as_json)


@jobs.command(name="list")
@click.option("--status", type=click.Choice([s.value for s in JobStatus]), help="Only this status.")
@click.option("--type", "job_type", type=JOB_TYPE, metavar="TYPE", help="Only this job type.")
@options.limit(20, most=1000)
def list_(status: str | None, job_type: str | None, limit: int) -> None:
    """List the most recent jobs, newest first."""
    records = job_store.list_jobs(job_store.JobFilter(status=status, type=job_type), limit)
    JOBS.print(records, "No jobs match.")


def _row(r: Job) -> tuple[str, ...]:
    return (
        str(r.id), r.type, r.status, r.queue, str(r.priority), str(r.attempts),
        when(r.created_at), when(r.finished_at),
    )  # fmt: skip


JOBS = Rows(("id", "type", "status", "queue", "priority", "attempts", "created", "finished"), _row)
