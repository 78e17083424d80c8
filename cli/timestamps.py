"""RFC 3339 timestamps on the command line: a click type over the one parser in ``workers``."""

from __future__ import annotations

from datetime import datetime

import click

from workers.timestamps import parse_rfc3339


class Rfc3339(click.ParamType[datetime]):
    """A click parameter holding an RFC 3339 date-time with a time zone, as UTC."""

    name = "rfc3339"

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        """How ``--help`` shows the value."""
        return "RFC3339"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        """The aware UTC datetime, or a usage error (exit code 2)."""
        try:
            return parse_rfc3339(value if isinstance(value, datetime) else str(value).strip())
        except ValueError as error:
            self.fail(str(error), param, ctx)


RFC3339 = Rfc3339()
