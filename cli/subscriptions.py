"""``taskyard subscriptions``: tell channels about platform events without code. Add a
subscription (an event, a glob over what it is about, channels and an optional template),
list, show, enable, disable and remove them. ``maintenance.notify_sweep`` sends what they ask
for; ``taskyard deliveries list`` shows how it went."""

from __future__ import annotations

import click

from cli.output import Rows, note, when
from cli.resources import in_option_words, list_command, remove_command, show_command
from tasks.notifications import subscriptions as store
from tasks.notifications.errors import InvalidSubscription
from tasks.notifications.events import EventKind
from tasks.notifications.subscriptions import SubscriptionSpec, channels_of
from workers.store.models import Subscription

COLUMNS = ("name", "event", "match", "channels", "template", "enabled", "scanned until")
#: The help of ``list`` and ``remove``, and what ``list`` says when there are none.
LIST_HELP = "Subscriptions, newest first."
REMOVE_HELP = "Remove subscription NAME (the notifications it made stay)."
NONE_YET = ("No subscriptions yet; add one with "
            "`taskyard subscriptions add NAME --event job.dead --channel NAME`.")  # fmt: skip
#: The store's field names as the options of ``add`` that set them, for error messages.
OPTIONS = {"name": "NAME", "event": "--event", "match": "--match", "channels": "--channel",
           "template": "--template"}  # fmt: skip


def _channels(record: Subscription) -> str:
    channels = channels_of(record)
    if isinstance(channels, str):
        return channels
    return ", ".join(channels) or "(the template's)"


def _row(record: Subscription) -> tuple[str, ...]:
    return (record.name, record.event, record.match, _channels(record),
            record.template_name or "(built in)", "yes" if record.enabled else "no",
            when(record.scanned_until))  # fmt: skip


SUBSCRIPTIONS = Rows(COLUMNS, _row)


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
    with in_option_words(InvalidSubscription, OPTIONS):
        record = store.create_subscription(spec)
    state = "disabled" if disabled else "sent by maintenance.notify_sweep within seconds"
    note(f"Added subscription {record.name!r} on {record.event} ({state}).")
    click.echo(str(record.id))


def _fields(record: Subscription) -> list[tuple[str, str]]:
    return list(zip(COLUMNS, _row(record), strict=True))


def _point_to_deliveries(record: Subscription) -> None:
    note(f"What it sent: `taskyard deliveries list` (notifications of source subscription, "
         f"scope subscription:{record.id}).")  # fmt: skip


def _switch(name: str, enabled: bool) -> None:
    record = store.find_subscription(name)
    if record.enabled == enabled:
        click.echo(f"Subscription {name!r} is {'enabled' if enabled else 'disabled'} already.")
        return
    with in_option_words(InvalidSubscription, OPTIONS):
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


subscriptions.add_command(
    list_command(SUBSCRIPTIONS, "subscription", store.list_subscriptions, LIST_HELP, NONE_YET)
)
subscriptions.add_command(
    show_command(store.find_subscription, _fields, "Subscription NAME.", then=_point_to_deliveries)
)
subscriptions.add_command(
    remove_command("Subscription", store.find_subscription, store.delete_subscription, REMOVE_HELP)
)
