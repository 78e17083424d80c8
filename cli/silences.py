"""``taskyard silences add|list|expire``: mute the alerts some matchers pass for a while.
Changes go to the store; the next flush of the alert groups (every 10 s) honours them."""

from __future__ import annotations

import getpass
from datetime import datetime, timedelta

import click

from cli import options
from cli.output import Rows, note, truncated, when
from cli.timestamps import RFC3339
from tasks.alerts import route_store as store
from workers.store.models import SilenceRow
from workers.store.types import utcnow

UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}


def shown_matchers(matchers: list[dict[str, str]]) -> str:
    """``team="db", severity=~"crit.*"``."""
    return ", ".join(f'{m["name"]}{m["op"]}"{m["value"]}"' for m in matchers) or "-"


def _row(r: SilenceRow) -> tuple[str, ...]:
    return (str(r.id), shown_matchers(r.matchers), store.silence_state(r), when(r.starts_at),
            when(r.ends_at), r.created_by, truncated(r.comment, 40))  # fmt: skip


SILENCES = Rows(("id", "matchers", "state", "starts", "ends", "by", "comment"), _row)


def _duration(text: str) -> timedelta:
    number, unit = text[:-1], text[-1:]
    if unit not in UNITS or not number.isdigit() or int(number) == 0:
        raise click.BadParameter(f"{text!r} is not a duration like 90m, 2h or 1d")
    return timedelta(seconds=int(number) * UNITS[unit])


@click.group()
def silences() -> None:
    """Silences: mute alerts for a while (add, list, expire)."""


@silences.command()
@click.argument("matchers", nargs=-1, required=True)
@click.option("--for", "duration", metavar="DURATION", help="How long: 90m, 2h, 1d.")
@click.option("--until", "ends_at", type=RFC3339, help="Or until when.")
@click.option("--starts", "starts_at", type=RFC3339, help="From when (default now).")
@click.option("--comment", required=True, help="Why (who is on it, the ticket).")
def add(
    matchers: tuple[str, ...],
    duration: str | None,
    ends_at: datetime | None,
    starts_at: datetime | None,
    comment: str,
) -> None:
    """Mute the alerts MATCHERS pass (team=db 'host=~"db-.*"'); prints its id last."""
    if (duration is None) == (ends_at is None):
        raise click.UsageError("give one of --for DURATION or --until RFC3339")
    if ends_at is None:
        ends_at = (starts_at or utcnow()) + _duration(str(duration))
    row = store.create_silence(list(matchers), ends_at, comment, getpass.getuser(), starts_at)
    note(f"Silenced {shown_matchers(row.matchers)} until {when(row.ends_at)}.")
    click.echo(str(row.id))


@silences.command(name="list")
@click.option("--state", type=click.Choice(["pending", "active", "expired"]), help="Only these.")
@options.limit(100)
def list_silences(state: str | None, limit: int) -> None:
    """Silences, newest first."""
    empty = "No silences; add one with `taskyard silences add team=db --for 2h --comment ...`."
    SILENCES.print_newest(store.list_silences(None, limit + 1, state), limit, empty, "silence")


@silences.command()
@click.argument("silence_id", type=click.UUID)
def expire(silence_id: object) -> None:
    """End silence SILENCE_ID now."""
    row = store.expire_silence(silence_id)  # type: ignore[arg-type]
    click.echo(f"Silence {row.id} ended at {when(row.ends_at)}.")
