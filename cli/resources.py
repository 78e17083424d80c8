"""What the commands over named records in the store share (channels, templates, subscriptions,
alert rules, schedules): a refusal in the CLI's words, and ``remove NAME``. Their lists and
single records print through :class:`cli.output.Rows` and :func:`cli.output.fields_table`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Protocol

import click

from workers.errors import TaskyardError

#: Where a refusal's field says which line of it is wrong (``text, line 2: ...``).
_LINE = re.compile(r", line \d+$")


class Named(Protocol):
    """A record found by its name."""

    @property
    def id(self) -> uuid.UUID:
        """The record's id."""
        ...


@contextmanager
def in_option_words(
    refusal: type[TaskyardError], options: Mapping[str, str], nested: Collection[str] = ()
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
        if head not in options or not rest:
            raise
        where = options[head] if head == name else f"{options[head]} {name}"
        suffix = line[0] if line else ""
        raise type(error)(f"{where}{suffix}: {rest}", error.details) from None


def remove_command(
    what: str,
    find: Callable[[str], Named],
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
