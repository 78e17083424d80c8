"""Free text on the command line that reaches the store (a filter such as ``--type``): checked
by the store's own rule, so a NUL or an overlong value is a usage error, not a traceback."""

from __future__ import annotations

import re
from datetime import timedelta

import click

from workers.storable import Unstorable, check_text


class StoreText(click.ParamType[str]):
    """A click parameter holding text of at most ``max_length`` characters, without NUL."""

    name = "text"

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> str:
        """The text, or a usage error (exit code 2)."""
        text = str(value)
        try:
            check_text("value", text, self.max_length)
        except Unstorable as error:
            self.fail(error.message, param, ctx)
        return text


#: A job type given as a filter (``--type``): the store's type column holds 200 characters.
JOB_TYPE = StoreText(200)
#: The name of an API key or a schedule entry given to look one up: the store's name columns
#: hold 200 characters (``workers.names`` has the rule a new name follows).
NAME = StoreText(200)
#: A queue's name as poison entries are kept under it (any stream, not only Taskyard's four):
#: AMQP caps a queue's name at 255 characters, and Redis keys must be valid UTF-8 here.
QUEUE = StoreText(255)


class Duration(click.ParamType[timedelta]):
    """A span such as ``45s``, ``90m``, ``24h`` or ``30d`` (a positive whole number and a unit)."""

    name = "duration"
    _UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    _SPAN = re.compile(r"([0-9]{1,6})([smhd])")

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> timedelta:
        """The span, or a usage error (exit code 2)."""
        if isinstance(value, timedelta):
            return value
        match = self._SPAN.fullmatch(str(value).strip())
        if match is None:
            hint = "give one such as 45s, 90m, 24h or 30d"
            self.fail(f"{value!r} is not a duration; {hint}", param, ctx)
        return timedelta(seconds=int(match[1]) * self._UNITS[match[2]])


#: A span of time given on the command line (``--expires-in 30d``, ``--grace 24h``).
DURATION = Duration()
