"""Shared output for every command: one-line errors, rich tables, timestamps."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

import click
from rich.console import Console
from rich.table import Table

from workers.errors import bounded

T = TypeVar("T")

PROG = "taskyard"
#: Width used when stdout is not a terminal, so piped tables are not squeezed to 80 columns.
PIPE_WIDTH = 200
EMPTY = "-"

#: Exit codes a script can rely on: one class below each (``cli.failures`` maps every platform
#: error to one of them), and Ctrl-C.
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TEMPFAIL = 75  # sysexits' EX_TEMPFAIL
EXIT_INTERRUPTED = 130


class CliError(click.ClickException):
    """A failure shown as one ``taskyard: ...`` line on stderr; the line says what to do next."""

    exit_code = EXIT_FAILED

    def show(self, file: IO[Any] | None = None) -> None:
        """Write the one line to stderr."""
        error_line(self.format_message())


class UsageProblem(CliError):
    """A bad argument or option value."""

    exit_code = EXIT_USAGE


class TryLater(CliError):
    """Not done now, because of something that passes (another run holds the lock)."""

    exit_code = EXIT_TEMPFAIL


def one_line(text: str) -> str:
    """``text`` collapsed onto a single line."""
    return " ".join(text.split())


def error_line(message: str) -> None:
    """Write ``taskyard: <message>`` as exactly one line on stderr, holding what it echoes of
    the command line to :data:`workers.errors.ECHO_LIMIT` (click quotes bad values in full)."""
    click.echo(f"{PROG}: {bounded(one_line(message))}", err=True)


def note(message: str) -> None:
    """A human-facing remark on stderr, keeping stdout for what scripts capture."""
    click.echo(message, err=True)


def console(*, stderr: bool = False) -> Console:
    """A rich console on the current stdout (or stderr), wide when piped."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else PIPE_WIDTH
    return Console(file=stream, width=width, highlight=False, markup=False, soft_wrap=False)


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    caption: str | None = None,
) -> Table:
    """A rich table with ``columns`` and string ``rows``, and a ``caption`` line below it."""
    result = Table(
        title=title, title_justify="left", caption=caption, caption_justify="left", show_lines=False
    )
    for column in columns:
        result.add_column(column, overflow="fold")
    for row in rows:
        result.add_row(*row)
    return result


def fields_table(rows: Iterable[tuple[str, str]], title: str | None = None) -> Table:
    """One record as a table of ``(field, value)`` rows."""
    return table(title, ("field", "value"), rows)


def print_record(
    fields: dict[str, Any], rows: Iterable[tuple[str, str]], title: str, as_json: bool
) -> None:
    """One record: its JSON-ready ``fields`` with ``--json``, else its ``rows`` as a field table."""
    if as_json:
        click.echo(json.dumps(fields, indent=2))
        return
    console().print(fields_table(rows, title))


@dataclass(frozen=True)
class Rows(Generic[T]):
    """How a command prints items as a table: its ``columns`` and a ``row`` each."""

    columns: Sequence[str]
    row: Callable[[T], Sequence[str]]

    def table(
        self, items: Iterable[T], title: str | None = None, caption: str | None = None
    ) -> Table:
        """The table of ``items``, even when there are none."""
        return table(title, self.columns, [self.row(item) for item in items], caption=caption)

    def print(self, items: Sequence[T], empty: str, caption: str | None = None) -> None:
        """Print ``items`` as a table captioned ``caption``; only ``empty``, on stderr, when
        there are none."""
        if not items:
            note(empty)
            return
        console().print(self.table(items, caption=caption))

    def print_newest(self, items: Sequence[T], limit: int, empty: str, noun: str) -> None:
        """Print the first ``limit`` of ``items``, fetched one over ``limit`` so that an extra one
        says there are more, which the caption then says (``noun`` names one item)."""
        more = f"the newest {plural(limit, noun)}; --limit shows more"
        self.print(items[:limit], empty, more if len(items) > limit else None)


@dataclass(frozen=True)
class Listing(Rows[T]):
    """How a list command with ``--json`` shows its items: ``Rows``, and JSON ``fields`` each."""

    fields: Callable[[T], dict[str, Any]]

    def show(self, items: Sequence[T], as_json: bool, footer: str, empty: str, hint: str) -> None:
        """Print ``items`` as a JSON array (``footer`` on stderr), else as a table captioned with
        ``footer`` and ``hint``; only ``empty``, on stderr, when there are none."""
        if as_json:
            click.echo(json.dumps([self.fields(item) for item in items], indent=2))
            note(footer)
            return
        self.print(items, empty, caption=f"{footer}{hint}.")


def masked(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def truncated(text: str | None, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis; ``-`` when empty."""
    if not text:
        return EMPTY
    flat = one_line(text)
    return flat if len(flat) <= width else f"{flat[: width - 1]}…"


def plural(count: int, noun: str) -> str:
    """``1 job``, ``2 jobs``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def when(moment: datetime | None) -> str:
    """A UTC timestamp to the second, or ``-``."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else EMPTY


def seconds(value: float | None) -> str:
    """A duration for people: ``0.4 s``, ``42 s``, ``7 min``, ``3.5 h``; ``-`` when unknown."""
    if value is None:
        return EMPTY
    if value < 10:
        return f"{value:.1f} s"
    if value < 120:
        return f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"
