"""``taskyard poison``: broker entries set aside because no worker could run them (not jobs:
no record, no replay; the dead-letter set is ``taskyard dead-letters``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
import redis

from cli import options
from cli.output import CliError, Listing, note, plural, truncated, when
from cli.progress import confirmed
from cli.text import QUEUE
from workers import poison as store
from workers.poison import PoisonEntry

DEFAULT_LIMIT = 50
PREVIEW_WIDTH = 60
REASON_WIDTH = 60
COLUMNS = ("set aside at", "queue", "reason", "size", "raw (start)")

_QUEUE_OPTION = click.option(
    "--queue",
    type=QUEUE,
    metavar="QUEUE",
    help="Only this queue: critical, high, default, bulk, celeryev, unacked or other.",
)


REDIS_DOWN = (
    "Redis is unreachable (TASKYARD_REDIS_URL, else TASKYARD_BROKER_URL), where poison messages "
    "are kept; start Redis or fix the URL"
)


@contextmanager
def redis_reached() -> Iterator[None]:
    """Turn an unreachable Redis into one line."""
    try:
        yield
    except redis.RedisError as error:
        raise CliError(f"{REDIS_DOWN} ({type(error).__name__})") from None


def text_of(raw: bytes) -> str:
    """Raw bytes as text: UTF-8, with undecodable bytes shown as ``\\xNN``."""
    return raw.decode("utf-8", "backslashreplace")


def entry_fields(entry: PoisonEntry) -> dict[str, object]:
    """An entry as a JSON object for ``--json`` (the raw bytes as text)."""
    return {
        "at": entry.at.isoformat(), "queue": entry.queue, "reason": entry.reason,
        "size": entry.size, "truncated": entry.truncated, "raw": text_of(entry.raw),
    }  # fmt: skip


def _size(entry: PoisonEntry) -> str:
    return f"{entry.size} B{' (cut)' if entry.truncated else ''}"


@click.group()
def poison() -> None:
    """Poison messages: queue entries no worker could run (not a message, not Taskyard's).

    Workers set them aside instead of stopping on them; they are never run. Inspect them,
    fix the producer that sent them, then purge them.
    """


@poison.command(name="list")
@_QUEUE_OPTION
@options.limit(DEFAULT_LIMIT, most=1000)
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON, raw bytes in full.")
def list_(queue: str | None, limit: int, as_json: bool) -> None:
    """List poison messages, newest first."""
    with redis_reached():
        entries = store.list_poison(queue, limit)
        total = store.count_poison(queue)
    where = f" on {queue}" if queue else ""
    footer = f"{len(entries)} of {plural(total, 'poison message')}{where} shown"
    hint = "; `--json` shows the raw bytes, `taskyard poison purge` deletes them"
    empty = f"No poison messages{where}."
    POISON.show(entries, as_json, footer, empty, hint)


def _row(e: PoisonEntry) -> tuple[str, ...]:
    reason, raw = truncated(e.reason, REASON_WIDTH), truncated(text_of(e.raw), PREVIEW_WIDTH)
    return (when(e.at), e.queue, reason, _size(e), raw)


POISON = Listing(COLUMNS, _row, entry_fields)


@poison.command()
@_QUEUE_OPTION
@click.option("--yes", "-y", is_flag=True, help="Go ahead without asking.")
def purge(queue: str | None, yes: bool) -> None:
    """Delete poison messages for good. Counts them and asks first, unless --yes."""
    where = f" on {queue}" if queue else ""
    with redis_reached():
        total = store.count_poison(queue)
    if total == 0:
        note(f"No poison messages{where}; nothing to delete.")
        return
    summary = f"{plural(total, 'poison message')}{where} will be deleted for good."
    if not confirmed(summary, "Delete them?", yes=yes):
        return
    with redis_reached():
        deleted = store.purge_poison(queue)
    click.echo(f"Deleted {plural(deleted, 'poison message')}.")
