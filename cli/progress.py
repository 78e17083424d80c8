"""Long operations: asking before a bulk change, and a progress bar while it runs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from cli.output import UsageProblem, console, note


def stdin_is_terminal() -> bool:
    """Whether someone can answer a question on stdin."""
    return sys.stdin.isatty()


def confirmed(summary: str, question: str, *, yes: bool) -> bool:
    """Whether to go ahead with a bulk change described by ``summary``.

    ``--yes`` goes ahead without asking. Without it, a terminal is asked ``question``; with no
    terminal the change is refused as a usage error, so a script never changes things by
    accident or hangs on a prompt."""
    if yes:
        note(summary)
        return True
    if not stdin_is_terminal():
        raise UsageProblem(
            f"{summary.rstrip('.')}, but stdin is not a terminal to confirm it; "
            "add --yes to go ahead"
        )
    note(summary)
    if click.confirm(question, default=False, err=True):
        return True
    note("Nothing was changed.")
    return False


@contextmanager
def progress_bar(description: str, total: int) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for ``total`` steps; yields the function that advances it."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
    )
    with bar:
        task = bar.add_task(description, total=total)

        def advance(steps: int) -> None:
            bar.advance(task, steps)

        yield advance
