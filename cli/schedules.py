"""``taskyard schedules``: list beat's entries, add dynamic ones, pause, resume and remove.

Changes go to the store; the leading beat applies them on its next tick (no restart).
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import click

from cli import options
from cli.output import Rows, UsageProblem, note, when
from cli.resources import in_option_words, remove_command
from cli.text import NAME
from schedules import store
from schedules.entries import ScheduleSpec
from schedules.errors import InvalidSchedule
from schedules.slots import Timing, describe
from workers.store.models import MissedRunPolicy, Schedule

COLUMNS = ("name", "task", "when", "description", "paused", "last run", "next run", "kind")
#: The store's field names as the options that set them, for error messages.
OPTION_OF = {"interval_s": "--every", "timezone": "--tz", "cron": "--cron", "task": "--task",
             "expires_s": "--expires", "description": "--description", "name": "NAME"}  # fmt: skip


def _reported() -> AbstractContextManager[None]:
    """A refused entry in the CLI's words (its exit code, like every error's, comes from
    ``cli.failures``)."""
    return in_option_words(InvalidSchedule, OPTION_OF)


def when_text(record: Schedule) -> str:
    """``15 3 * * * (UTC)`` or ``every 30 s``."""
    if record.cron is not None:
        return f"{record.cron} ({record.timezone})"
    return f"every {record.interval_s} s"


def _row(record: Schedule) -> tuple[str, ...]:
    return (
        record.name,
        record.task,
        when_text(record),
        describe(store.timing_of(record)),
        "yes" if record.paused else "no",
        when(record.last_run_at),
        "paused" if record.paused else when(record.next_run_at),
        "static" if record.static else "dynamic",
    )


SCHEDULES = Rows(COLUMNS, _row)


@click.group()
def schedules() -> None:
    """Beat's schedule entries: list, add, pause, resume, remove (applied within a tick)."""


@schedules.command(name="list")
def list_() -> None:
    """Every entry: when it fires (and in words), paused, last and next run, static/dynamic."""
    empty = ("No schedules yet; beat syncs the static ones when it starts, or add one with "
             "`taskyard schedules add NAME --task TYPE --every SECONDS`.")  # fmt: skip
    SCHEDULES.print(store.list_schedules(), empty)


@schedules.command()
@click.argument("name")
@click.option(
    "--task", required=True, metavar="TASK", help="A job type (diag.noop) or maintenance.NAME."
)
@click.option("--cron", metavar="EXPR", help="Five-field cron expression, e.g. '15 3 * * *'.")
@click.option("--tz", "zone", metavar="ZONE", help="Time zone of --cron (default UTC).")
@click.option("--every", type=int, metavar="SECONDS", help="Fire every SECONDS instead.")
@click.option(
    "--payload", default="{}", show_default=True, metavar="JSON", help="Payload or arguments."
)
@options.queue("Queue.")
@options.priority("0-9, 9 most urgent.")
@click.option("--expires", type=int, metavar="SECONDS", help="Drop a run not started by then.")
@click.option(
    "--missed",
    type=click.Choice([p.value for p in MissedRunPolicy]),
    default=MissedRunPolicy.SKIP.value,
    show_default=True,
    help="After downtime: skip missed slots, or catch_up with one run.",
)
@click.option("--paused", is_flag=True, help="Add it paused.")
@click.option("--description", metavar="TEXT", help="What it is for.")
def add(
    name: str,
    task: str,
    cron: str | None,
    zone: str | None,
    every: int | None,
    payload: str,
    queue: str | None,
    priority: int | None,
    expires: int | None,
    missed: str,
    paused: bool,
    description: str | None,
) -> None:
    """Add entry NAME (--cron EXPR [--tz ZONE] or --every SECONDS); prints its id last."""
    if (cron is None) == (every is None):
        raise UsageProblem("give --cron EXPR or --every SECONDS (exactly one of them)")
    if every is not None and zone is not None:
        raise UsageProblem("--tz applies to --cron only")
    spec = ScheduleSpec(
        name=name,
        task=task,
        timing=Timing(cron=cron, timezone=zone or "UTC", interval_s=every),
        queue=queue,
        priority=priority,
        args=options.json_object("--payload", payload),
        expires_s=expires,
        missed=MissedRunPolicy(missed),
        paused=paused,
        description=description,
    )
    with _reported():
        record = store.create_schedule(spec)
    state = "paused" if record.paused else f"next run {when(record.next_run_at)}"
    note(f"Added schedule {record.name!r}: {describe(spec.timing)} ({when_text(record)}), {state}.")
    click.echo(str(record.id))


def _set_paused(name: str, paused: bool) -> Schedule:
    with _reported():
        record = store.find_schedule(name)
        return store.update_schedule(record.id, {"paused": paused})


@schedules.command()
@click.argument("name", type=NAME)
def pause(name: str) -> None:
    """Pause entry NAME (static ones too); it fires nothing until resumed."""
    record = _set_paused(name, True)
    click.echo(f"Schedule {record.name!r} is paused.")


@schedules.command()
@click.argument("name", type=NAME)
def resume(name: str) -> None:
    """Resume entry NAME from its next slot (slots while paused are not caught up)."""
    record = _set_paused(name, False)
    click.echo(f"Schedule {record.name!r} is resumed; next run {when(record.next_run_at)}.")


REMOVE_HELP = "Remove dynamic entry NAME and its fire history (static entries can only be paused)."
schedules.add_command(
    remove_command(
        "Schedule",
        store.find_schedule,
        store.delete_schedule,
        REMOVE_HELP,
        name_type=NAME,
        reported=_reported,
    )
)
