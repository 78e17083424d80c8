"""``taskyard subscriptions``: tell channels about platform events without code. Add a
subscription (an event, a glob over what it is about, channels and an optional template),
list, show, enable, disable and remove them. ``maintenance.notify_sweep`` sends what they ask
for; ``taskyard deliveries list`` shows how it went."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import click

from cli.output import console, note, plural, table, when
from tasks.notifications import subscriptions as store
from tasks.notifications.errors import InvalidSubscription
from tasks.notifications.events import EventKind
from tasks.notifications.subscriptions import SubscriptionSpec, channels_of
from workers.store.models import Subscription

COLUMNS = ("name", "event", "match", "channels", "template", "enabled", "scanned until")
#: The store's field names as the options of ``add`` that set them, for error messages.
OPTIONS = {"name": "NAME", "event": "--event", "match": "--match", "channels": "--channel",
           "template": "--template"}  # fmt: skip
_FIELD = re.compile(r"^(\w+)(?=: )")


@contextmanager
def _reported() -> Iterator[None]:
    """A refused subscription in the CLI's words: the field becomes the option that sets it."""
    try:
        yield
    except InvalidSubscription as error:
        found = _FIELD.search(error.message)
        if found is None or found[1] not in OPTIONS:
            raise
        message = f"{OPTIONS[found[1]]}{error.message[found.end() :]}"
        raise InvalidSubscription(message, error.details) from None


def _channels(record: Subscription) -> str:
    channels = channels_of(record)
    if isinstance(channels, str):
        return channels
    return ", ".join(channels) or "(the template's)"


def _row(record: Subscription) -> tuple[str, ...]:
    return (record.name, record.event, record.match, _channels(record),
            record.template_name or "(built in)", "yes" if record.enabled else "no",
            when(record.scanned_until))  # fmt: skip


@click.group()
def subscriptions() -> None:
    """Subscriptions: notify channels of job, maintenance and schedule events."""


@subscriptions.command()
@click.argument("name")
@click.option(
    "--event",
    required=True,
    type=click.Choice([kind.value for kind in EventKind]),
    help="What to tell.",
)
@click.option(
    "--match",
    default="*",
    show_default=True,
    metavar="GLOB",
    help="Job types, maintenance task names or schedule names it applies to.",
)
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="NAME",
    help="A channel (repeat it), or one glob over the names ('ops-*').",
)
@click.option("--template", metavar="NAME", help="Render this template (default: built in).")
@click.option("--disabled", is_flag=True, help="Add it switched off.")
def add(
    name: str,
    event: str,
    match: str,
    channels: tuple[str, ...],
    template: str | None,
    disabled: bool,
) -> None:
    """Add subscription NAME; it sees events from now on. Prints its id last."""
    given: tuple[str, ...] | str = channels
    if len(channels) == 1 and store.is_glob(channels[0]):
        given = channels[0]
    spec = SubscriptionSpec(name, event, match, given, template, enabled=not disabled)
    with _reported():
        record = store.create_subscription(spec)
    state = "disabled" if disabled else "sent by maintenance.notify_sweep within seconds"
    note(f"Added subscription {record.name!r} on {record.event} ({state}).")
    click.echo(str(record.id))


@subscriptions.command(name="list")
@click.option("--limit", type=click.IntRange(1, 500), default=100, show_default=True)
def list_(limit: int) -> None:
    """Subscriptions, newest first."""
    records = store.list_subscriptions(None, limit + 1)
    if not records:
        note("No subscriptions yet; add one with "
             "`taskyard subscriptions add NAME --event job.dead --channel NAME`.")  # fmt: skip
        return
    more = None
    if len(records) > limit:
        more = f"the newest {plural(limit, 'subscription')}; --limit shows more"
    console().print(table(None, COLUMNS, [_row(r) for r in records[:limit]], caption=more))


@subscriptions.command()
@click.argument("name")
def show(name: str) -> None:
    """Subscription NAME."""
    record = store.find_subscription(name)
    fields = [
        ("id", str(record.id)),
        *zip(COLUMNS, _row(record), strict=True),
        ("created", when(record.created_at)),
        ("updated", when(record.updated_at)),
    ]
    console().print(table(None, ("field", "value"), fields))
    note(f"What it sent: `taskyard deliveries list` (notifications of source subscription, "
         f"scope subscription:{record.id}).")  # fmt: skip


def _switch(name: str, enabled: bool) -> None:
    record = store.find_subscription(name)
    if record.enabled == enabled:
        click.echo(f"Subscription {name!r} is {'enabled' if enabled else 'disabled'} already.")
        return
    with _reported():
        store.update_subscription(record.id, {"enabled": enabled})
    if enabled:
        click.echo(f"Subscription {name!r} is enabled; it sees events from now on.")
    else:
        click.echo(f"Subscription {name!r} is disabled; it sends nothing until enabled.")


@subscriptions.command()
@click.argument("name")
def enable(name: str) -> None:
    """Switch subscription NAME on (what happened while it was off is not sent)."""
    _switch(name, True)


@subscriptions.command()
@click.argument("name")
def disable(name: str) -> None:
    """Switch subscription NAME off."""
    _switch(name, False)


@subscriptions.command()
@click.argument("name")
def remove(name: str) -> None:
    """Remove subscription NAME (the notifications it made stay)."""
    store.delete_subscription(store.find_subscription(name).id)
    click.echo(f"Subscription {name!r} is removed.")
