"""RFC 3339 timestamps on the command line: always with a time zone, stored as UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import click

EXAMPLE = "2026-01-01T09:00:00Z"


def parse_rfc3339(text: str) -> datetime:
    """``text`` as an aware UTC datetime; ``ValueError`` saying what to write instead."""
    try:
        moment = datetime.fromisoformat(text.strip().upper())
    except ValueError:
        raise ValueError(
            f"{text!r} is not an RFC 3339 date-time; write one such as {EXAMPLE}"
        ) from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; add Z or an offset, e.g. {EXAMPLE}")
    return moment.astimezone(UTC)


class Rfc3339(click.ParamType[datetime]):
    """A click parameter holding an RFC 3339 date-time with a time zone."""

    name = "rfc3339"

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        """How ``--help`` shows the value."""
        return "RFC3339"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        """The aware UTC datetime, or a usage error (exit code 2)."""
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value
        try:
            return parse_rfc3339(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


RFC3339 = Rfc3339()
