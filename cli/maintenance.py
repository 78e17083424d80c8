"""``taskyard maintenance``: run a maintenance task by hand and read the record of runs."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from cli import options
from cli.output import EMPTY, CliError, TryLater, console, table, when
from tasks.maintenance.catalog import NAMES

if TYPE_CHECKING:
    from tasks.maintenance.runs import RunResult

SUMMARY_WIDTH = 90


def flatten(figures: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """``figures`` as (name, value) pairs, nested objects joined with dots."""
    pairs: list[tuple[str, str]] = []
    for key, value in figures.items():
        if isinstance(value, dict):
            pairs.extend(flatten(value, f"{prefix}{key}."))
        else:
            pairs.append((f"{prefix}{key}", EMPTY if value is None else str(value)))
    return pairs


def summary(figures: dict[str, Any]) -> str:
    """The figures on one short line: ``a=1, b=2, …``."""
    text = ", ".join(f"{k}={v}" for k, v in flatten(figures) if k not in {"reason", "file"})
    return text if len(text) <= SUMMARY_WIDTH else f"{text[: SUMMARY_WIDTH - 1]}…"


def _duration(result: RunResult) -> str:
    return EMPTY if result.duration_s is None else f"{result.duration_s:.2f} s"


def _outcome_error(result: RunResult) -> CliError | None:
    name = result.name
    history = f"`taskyard maintenance runs --name {name}` shows past runs"
    if result.outcome == "failed":
        again = f"`taskyard maintenance run {name}`"
        return CliError(f"maintenance {name} failed: {result.error}; fix that, then run {again} "
                        f"again ({history})")  # fmt: skip
    if result.outcome == "skipped":
        reason = result.figures.get("reason")
        return TryLater(f"maintenance {name} was skipped: {reason}; wait for that run to "
                          f"finish and try again ({history})")  # fmt: skip
    return None


@click.group()
def maintenance() -> None:
    """Run maintenance tasks by hand and list their recorded runs.

    Beat runs them on schedule; a run by hand is the same plain function, takes the same
    lock (so it never overlaps a scheduled run) and is recorded the same way.
    """


@maintenance.command()
@click.argument("name", type=click.Choice(NAMES))
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
def run(name: str, as_json: bool) -> None:
    """Run one maintenance task in this process and show its outcome and figures.

    Exit status: 0 succeeded, 1 failed (stderr says what to do), 75 skipped because another
    run holds the task's lock.
    """
    # Loaded only now: the tasks load the Celery app, which reads (and checks) the settings,
    # and `taskyard --help` must work without valid settings.
    from tasks.maintenance.runs import run_by_hand

    with console(stderr=True).status(f"Running maintenance task {name}…"):
        result = run_by_hand(name)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, default=str))
    else:
        out = console()
        out.print(f"maintenance {name} {result.outcome.value} in {_duration(result)}")
        out.print(table(None, ("figure", "value"), flatten(result.figures)))
    problem = _outcome_error(result)
    if problem is not None:
        raise problem


@maintenance.command()
@click.option("--name", type=click.Choice(NAMES), help="Only runs of this task.")
@options.limit(20, most=1000)
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON lines.")
def runs(name: str | None, limit: int, as_json: bool) -> None:
    """List recent maintenance runs, newest first."""
    from tasks.maintenance.runs import recent_runs

    found = recent_runs(name, limit)
    if as_json:
        for result in found:
            click.echo(json.dumps(result.as_dict(), default=str))
        return
    rows = [
        (when(r.started_at), r.name, r.outcome.value, _duration(r), summary(r.figures),
         r.error or str(r.figures.get("reason") or EMPTY))
        for r in found
    ]  # fmt: skip
    columns = ("started", "task", "outcome", "took", "figures", "error or reason")
    console().print(table("maintenance runs", columns, rows))
