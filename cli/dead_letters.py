"""``taskyard dead-letters`` (``dlq``, a deprecated alias): jobs dead after their last attempt."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click

from cli import options
from cli.aliases import deprecated_alias
from cli.output import (
    EMPTY,
    CliError,
    Listing,
    UsageProblem,
    console,
    note,
    plural,
    table,
    truncated,
    when,
)
from cli.poison import poison
from cli.progress import confirmed, progress_bar
from cli.records import attempts, cell, record_fields
from cli.text import JOB_TYPE
from cli.timestamps import RFC3339
from workers.store import control
from workers.store import jobs as job_store
from workers.store.jobs import JobFilter
from workers.store.models import Job, JobStatus

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_LIMIT = 50
PURGE_BATCH = 500
ERROR_WIDTH = 60
COLUMNS = ("id", "type", "queue", "died at", "attempts", "error type", "error", "replayed by")

_FILTER_OPTIONS = (
    click.option(
        "--type", "job_type", type=JOB_TYPE, metavar="TYPE", help="Only dead jobs of this type."
    ),
    options.queue("Only this queue."),
    click.option("--since", type=RFC3339, help="Only jobs that died at or after this time."),
    click.option("--until", type=RFC3339, help="Only jobs that died before this time."),
)


def dead_letter_filters(command: F) -> F:
    """Add the --type, --queue, --since and --until options to ``command``."""
    for option in reversed(_FILTER_OPTIONS):
        command = option(command)
    return command


def dead_filter(
    job_type: str | None, queue: str | None, since: datetime | None, until: datetime | None
) -> JobFilter:
    """The store filter for dead jobs matching the options."""
    if since is not None and until is not None and since >= until:
        raise UsageProblem(f"--since ({when(since)}) must be before --until ({when(until)})")
    return JobFilter(status=JobStatus.DEAD.value, type=job_type, queue=queue,
                     finished_after=since, finished_before=until)  # fmt: skip


def described(filters: JobFilter) -> str:
    """The filters in words, e.g. `` (type diag.fail, queue bulk)``; empty when there are none."""
    parts = [
        f"type {filters.type}" if filters.type else "",
        f"queue {filters.queue}" if filters.queue else "",
        f"died since {when(filters.finished_after)}" if filters.finished_after else "",
        f"died before {when(filters.finished_before)}" if filters.finished_before else "",
    ]
    shown = ", ".join(part for part in parts if part)
    return f" ({shown})" if shown else ""


def short_name(error_type: str | None) -> str:
    """An exception's class name without its module (``jobs show`` has the full name)."""
    return error_type.rpartition(".")[2] if error_type else EMPTY


def count_dead(filters: JobFilter, *, replayed: bool | None = None) -> int:
    """How many dead jobs match ``filters`` (only those replayed or not, when given)."""
    return job_store.count_jobs(
        dataclasses.replace(filters, status=JobStatus.DEAD.value, replayed=replayed)
    )


@click.group(name="dead-letters")
def dead_letters() -> None:
    """The dead-letter set: jobs that died after their last attempt. List, replay or purge them.

    Queue entries no worker could run are not jobs: see `taskyard poison`.
    """


@dead_letters.command(name="list")
@dead_letter_filters
@options.limit(DEFAULT_LIMIT, most=1000)
@click.option("--json", "as_json", is_flag=True, help="Print the records as a JSON array.")
def list_(job_type: str | None, queue: str | None, since: datetime | None,
          until: datetime | None, limit: int, as_json: bool) -> None:  # fmt: skip
    """List dead jobs, newest first.

    Shows each one's last error and the job that replayed it, if any.
    """
    filters = dead_filter(job_type, queue, since, until)
    records = job_store.list_jobs(filters, limit)
    total, waiting = count_dead(filters), count_dead(filters, replayed=False)
    footer = (
        f"{len(records)} of {plural(total, 'dead job')}{described(filters)} shown; "
        f"{waiting} not replayed yet"
    )
    hint = "; `taskyard dead-letters replay` replays them" if waiting else ""
    empty = f"No dead jobs match{described(filters)}."
    DEAD_JOBS.show(records, as_json, footer, empty, hint)


def _row(r: Job) -> tuple[str, ...]:
    return (
        str(r.id), r.type, r.queue, when(r.finished_at), attempts(r), short_name(r.error_type),
        truncated(r.error_message, ERROR_WIDTH), cell(r.replayed_by),
    )  # fmt: skip


DEAD_JOBS = Listing(COLUMNS, _row, record_fields)


@dead_letters.command()
@dead_letter_filters
@click.option("--limit", type=click.IntRange(min=1), help="Replay at most N, oldest deaths first.")
@click.option("--yes", "-y", is_flag=True, help="Go ahead without asking.")
def replay(job_type: str | None, queue: str | None, since: datetime | None,
           until: datetime | None, limit: int | None, yes: bool) -> None:  # fmt: skip
    """Enqueue dead jobs again, as new jobs.

    Takes the dead jobs not replayed yet, oldest death first; each new job links to its
    original (replay_of). Counts them and asks first, unless --yes.
    """
    # Imported here: control loads the Celery app (and so the settings); see `jobs enqueue`.
    from tasks.jobs.control import replay_dead_letters

    filters = dead_filter(job_type, queue, since, until)
    waiting = count_dead(filters, replayed=False)
    todo = waiting if limit is None else min(limit, waiting)
    if todo == 0:
        note(f"No dead jobs waiting for a replay match{described(filters)}; nothing to do.")
        return
    oldest = f", the oldest {todo} of {waiting}" if todo < waiting else ""
    summary = (
        f"{plural(todo, 'dead job')}{described(filters)} will be replayed as new jobs{oldest}."
    )
    if not confirmed(summary, "Replay them?", yes=yes):
        return
    with progress_bar("Replaying dead jobs", todo) as advance:
        report = replay_dead_letters(filters, todo, on_progress=advance)
    click.echo(
        f"Replayed {plural(len(report.replayed), 'dead job')} as new jobs; "
        "`taskyard jobs list` shows them."
    )
    if report.errors:
        rows = [(str(job_id), message) for job_id, message in report.errors.items()]
        console().print(table("not replayed", ("id", "error"), rows))
        raise CliError(
            f"{plural(len(report.errors), 'dead job')} could not be replayed (listed above); "
            "fix what the errors name, then run `taskyard dead-letters replay` again"
        )


@dead_letters.command()
@dead_letter_filters
@click.option("--yes", "-y", is_flag=True, help="Go ahead without asking.")
def purge(job_type: str | None, queue: str | None, since: datetime | None,
          until: datetime | None, yes: bool) -> None:  # fmt: skip
    """Delete dead jobs' records for good.

    Deletes every matching dead job, replayed ones too, 500 at a time. Counts them and asks
    first, unless --yes.
    """
    filters = dead_filter(job_type, queue, since, until)
    total = count_dead(filters)
    if total == 0:
        note(f"No dead jobs match{described(filters)}; nothing to delete.")
        return
    replayed = total - count_dead(filters, replayed=False)
    summary = (
        f"{plural(total, 'dead job')}{described(filters)} will be deleted for good "
        f"({replayed} of them already replayed)."
    )
    if not confirmed(summary, "Delete them?", yes=yes):
        return
    deleted = 0
    with progress_bar("Deleting dead jobs", total) as advance:
        while deleted < total:
            batch = control.purge_batch(filters, min(PURGE_BATCH, total - deleted))
            if batch == 0:
                break
            deleted += batch
            advance(batch)
    click.echo(f"Deleted {plural(deleted, 'dead job')} from the store.")


#: The group's name before it took the API's: ``dlq``, with ``dlq poison`` for ``poison``.
dlq = deprecated_alias(dead_letters, "dlq", "taskyard dead-letters")
dlq.commands = {
    **dead_letters.commands,
    "poison": deprecated_alias(poison, "poison", "taskyard poison"),
}
