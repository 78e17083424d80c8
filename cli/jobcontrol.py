"""``taskyard jobs cancel`` and ``taskyard jobs replay``: an operator's hand on one job."""

from __future__ import annotations

import uuid

import click

from cli.output import CliError, note
from workers.errors import JobStateConflict
from workers.store import jobs as job_store
from workers.store.models import FINISHED_STATUSES, REPLAYABLE_STATUSES, Job, JobStatus


def _already_finished(job: Job) -> CliError:
    return CliError(
        f"job {job.id} already finished ({job.status}), so there is nothing to cancel; "
        f"see `taskyard jobs show {job.id}`"
    )


def _not_replayable(job: Job) -> CliError:
    if job.status in FINISHED_STATUSES:
        then = f"enqueue a new one with `taskyard jobs enqueue {job.type}`"
    else:
        then = f"wait for it to finish, or cancel it with `taskyard jobs cancel {job.id}`"
    return CliError(
        f"job {job.id} {JobStatus(job.status).in_words}; only dead, failed or cancelled jobs "
        "can be replayed, "
        f"so {then}"
    )


@click.command()
@click.argument("job_id", metavar="ID", type=click.UUID)
def cancel(job_id: uuid.UUID) -> None:
    """Cancel job ID, or ask it to stop if running.

    A job that has not started is cancelled at once and never runs; a running job is asked
    to stop (terminable types are signalled) and is recorded cancelled when it does.
    """
    # Imported here: control loads the Celery app (and so the settings); see `jobs enqueue`.
    from tasks.jobs.control import cancel_job

    try:
        outcome = cancel_job(job_id)
    except JobStateConflict:
        raise _already_finished(job_store.get_job(job_id)) from None
    job = outcome.job
    if outcome.final:
        click.echo(
            f"Cancelled job {job.id} ({job.type}) at once: it had not started and never will."
        )
        return
    click.echo(
        f"Asked running job {job.id} ({job.type}) to stop; it is recorded cancelled when it "
        f"stops. Follow it with `taskyard jobs show {job.id}`."
    )


@click.command()
@click.argument("job_id", metavar="ID", type=click.UUID)
def replay(job_id: uuid.UUID) -> None:
    """Run job ID again as a new job.

    Only dead, failed or cancelled jobs can be replayed; the new job links to the original
    (replay_of). Prints the new job's id as the last line of stdout.
    """
    from tasks.jobs.control import replay_job

    original = job_store.get_job(job_id)
    if original.status not in REPLAYABLE_STATUSES:
        raise _not_replayable(original)
    try:
        new = replay_job(job_id)
    except JobStateConflict:
        raise _not_replayable(job_store.get_job(job_id)) from None
    if original.replayed_by is not None:
        note(f"Job {original.id} had already been replayed as {original.replayed_by}.")
    note(
        f"Replayed {original.status} job {original.id} ({original.type}) as job {new.id} on "
        f"queue {new.queue} (status {new.status}); follow it with "
        f"`taskyard jobs show {new.id}`."
    )
    click.echo(str(new.id))
