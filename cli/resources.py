"""The commands every kind of named record in the store shares (channels, templates,
subscriptions, alert rules, schedules; silences and routes next): ``list`` its newest page,
``show NAME``, ``remove NAME``, and a refusal worded in the options that set its fields."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from typing import Protocol, TypeVar

import click

from cli import options
from cli.output import Rows, console, fields_table, when
from workers.errors import TaskyardError

#: Where a refusal's field says which line of it is wrong (``text, line 2: ...``).
_LINE = re.compile(r", line \d+$")


class Stored(Protocol):
    """A record kept by name: its id, and when it was created and last changed."""

    @property
    def id(self) -> uuid.UUID:
        """The record's id."""
        ...

    @property
    def created_at(self) -> datetime:
        """When it was created."""
        ...

    @property
    def updated_at(self) -> datetime:
        """When it last changed."""
        ...


R = TypeVar("R", bound=Stored)


@contextmanager
def in_option_words(
    refusal: type[TaskyardError], option_of: Mapping[str, str], nested: Collection[str] = ()
) -> Iterator[None]:
    """A ``refusal`` (``field: message``) in the CLI's words: the field becomes the option that
    sets it, a field inside one of ``nested`` keeps its path after it (``--spec spec.query``),
    and a field no option sets passes unchanged. Its exit code comes from ``cli.failures``."""
    try:
        yield
    except refusal as error:
        field, _, rest = error.message.partition(": ")
        line = _LINE.search(field)
        name = field[: line.start()] if line else field
        head = name.partition(".")[0] if name.partition(".")[0] in nested else name
        if head not in option_of or not rest:
            raise
        where = option_of[head] if head == name else f"{option_of[head]} {name}"
        suffix = line[0] if line else ""
        raise type(error)(f"{where}{suffix}: {rest}", error.details) from None


def list_command(
    rows: Rows[R], noun: str, page: Callable[[None, int], Sequence[R]], help_text: str, empty: str
) -> click.Command:
    """``list [--limit N]``: the newest records ``page`` reads, as ``rows``, captioned when there
    are more (``noun`` names one); ``empty`` (on stderr) when there are none."""

    @click.command(name="list", help=help_text)
    @options.limit(100)
    def list_(limit: int) -> None:
        rows.print_newest(page(None, limit + 1), limit, empty, noun)

    return list_


def show_command(
    find: Callable[[str], R],
    fields: Callable[[R], Iterable[tuple[str, str]]],
    help_text: str,
    *,
    then: Callable[[R], None] | None = None,
    name_type: click.ParamType[str] | None = None,
) -> click.Command:
    """``show NAME``: the record ``find`` names as a field table (its id, its ``fields``, when
    it was created and updated), then whatever ``then`` prints of it."""

    @click.command(name="show", help=help_text)
    @click.argument("name", type=name_type)
    def show(name: str) -> None:
        record = find(name)
        console().print(fields_table([
            ("id", str(record.id)), *fields(record),
            ("created", when(record.created_at)), ("updated", when(record.updated_at)),
        ]))  # fmt: skip
        if then is not None:
            then(record)

    return show


def remove_command(
    what: str,
    find: Callable[[str], R],
    delete: Callable[[uuid.UUID], object],
    help_text: str,
    *,
    name_type: click.ParamType[str] | None = None,
    reported: Callable[[], AbstractContextManager[None]] = nullcontext,
) -> click.Command:
    """``remove NAME``: delete the record ``find`` names, then say ``<what> 'NAME' is removed.``
    (``reported`` words a refusal, e.g. of a static schedule)."""

    @click.command(name="remove", help=help_text)
    @click.argument("name", type=name_type)
    def remove(name: str) -> None:
        with reported():
            delete(find(name).id)
        click.echo(f"{what} {name!r} is removed.")

    return remove
