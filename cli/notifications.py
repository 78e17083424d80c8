"""``taskyard notifications send`` (one delivery per channel, printed as a table) and
``taskyard deliveries``: list, show, replay and cancel deliveries."""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING

import click

from cli import options
from cli.output import EMPTY, Rows, UsageProblem, console, note, print_record, truncated, when
from cli.records import cell, plain
from cli.text import NAME
from tasks.notifications import deliveries as delivery_store
from tasks.notifications.deliveries import DeliveryFilter, DeliveryRecord
from tasks.notifications.errors import InvalidNotification
from tasks.notifications.states import FINISHED, DeliveryStatus
from workers.priorities import MAX_PRIORITY, MIN_PRIORITY
from workers.timestamps import EXAMPLE

if TYPE_CHECKING:
    from tasks.notifications.notify import NotificationRequest, Sent

COLUMNS = ("id", "channel", "status", "attempts", "queue", "priority", "created", "due",
           "last error")  # fmt: skip
#: A delivery's fields, in the order ``deliveries show`` prints them (not its claim token).
FIELDS = (
    "id", "notification_id", "channel_name", "channel_id", "status", "attempts", "max_attempts",
    "queue", "priority", "job_id", "message_key", "digest_key", "run_at", "created_at",
    "sending_at", "sent_at", "finished_at", "duration_ms", "error_class", "last_error",
    "status_code", "provider_message_id", "maybe_delivered", "replay_of", "replayed_by",
)  # fmt: skip
#: The request's field names as the options that set them, for the refusals' messages.
OPTIONS = {
    "channels": "--channels", "template": "--template", "subject": "--subject",
    "text": "--text", "html": "--html-file", "data": "--data",
    "idempotency_key": "--idempotency-key", "delay_s": "--delay", "run_at": "--run-at",
    "digest_key": "--digest-key", "digest_window_s": "--digest-window", "queue": "--queue",
}  # fmt: skip
#: A refusal's leading field (``subject: must be one line``), and any field with an underscore
#: further on (``give delay_s or run_at``): plain words such as "text" stay as they are.
_LEADING = re.compile(rf"^({'|'.join(OPTIONS)})(?=: )")
_NAMED = re.compile(rf"\b({'|'.join(name for name in OPTIONS if '_' in name)})\b")
_GLOB = frozenset("*?[")


def _in_options(error: InvalidNotification) -> InvalidNotification:
    """The refusal in the CLI's words: the fields it names become the options that set them."""
    message = _LEADING.sub(lambda found: OPTIONS[found[1]], error.message)
    return InvalidNotification(_NAMED.sub(lambda found: OPTIONS[found[1]], message))


def parse_channels(text: str | None) -> tuple[str, ...] | str | None:
    """``--channels``: names separated by commas, or one glob (``ops-*``)."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if any(not name for name in names):
        raise UsageProblem(f"--channels {text!r} names an empty channel; use NAME[,NAME...]")
    if any(_GLOB & set(name) for name in names):
        if len(names) > 1:
            raise UsageProblem("--channels takes names separated by commas, or one glob alone")
        return names[0]
    return tuple(names)


def _due(record: DeliveryRecord) -> str:
    """When a delivery still to be sent is due; ``-`` once it is finished."""
    if DeliveryStatus(record.status) in FINISHED:
        return EMPTY
    return when(record.run_at) if record.run_at is not None else "now"


def _row(record: DeliveryRecord) -> tuple[str, ...]:
    return (
        str(record.id), record.channel_name, record.status,
        f"{record.attempts}/{record.max_attempts}", record.queue, str(record.priority),
        when(record.created_at), _due(record), truncated(record.last_error, 60),
    )  # fmt: skip


DELIVERIES = Rows(COLUMNS, _row)


def _announce(sent: Sent, request: NotificationRequest) -> None:
    """Say on stderr what the send did, and print its deliveries."""
    notification = sent.notification
    if sent.created:
        count = len(sent.deliveries)
        note(f"Recorded notification {notification.id} with {count} "
             f"deliver{'y' if count == 1 else 'ies'}.")  # fmt: skip
    else:
        note(f"Returned the existing notification {notification.id}: the idempotency key "
             f"{request.idempotency_key!r} already names it, so nothing new was sent.")  # fmt: skip
    console().print(DELIVERIES.table(sent.deliveries, f"notification {notification.id}",
                                     "Follow one with `taskyard deliveries show ID`."))  # fmt: skip


@click.group()
def notifications() -> None:
    """Send notifications to channels (each channel gets a tracked delivery)."""


@notifications.command()
@click.option(
    "--channels",
    metavar="NAMES",
    help="NAME[,NAME...] or one glob such as 'ops-*' (default: the template's channels).",
)
@click.option("--template", metavar="NAME", help="A stored template, rendered against --data.")
@click.option("--subject", metavar="TEXT", help="One line (without --template).")
@click.option("--text", metavar="TEXT", help="The body (without --template).")
@click.option("--text-file", metavar="PATH", help="The body, read from PATH.")
@click.option("--html-file", metavar="PATH", help="An HTML body, read from PATH.")
@click.option(
    "--data",
    default="{}",
    show_default=True,
    metavar="JSON",
    help="The template's variables (a JSON object).",
)
@options.key(
    "--idempotency-key", "Send at most once per KEY: repeating the request returns the first."
)
@options.priority(f"{MIN_PRIORITY}-{MAX_PRIORITY}, {MAX_PRIORITY} the most urgent.")
@options.queue("critical is never held for a digest.")
@options.delay("Send no sooner than SECONDS from now.")
@options.run_at(f"Send no sooner than this time, e.g. {EXAMPLE}.")
@options.key("--digest-key", "Notifications sharing KEY within the window go out as one message.")
@click.option(
    "--digest-window",
    "digest_window_s",
    type=click.IntRange(min=1),
    metavar="SECONDS",
    help="How long a digest gathers (with --digest-key).",
)
def send(
    channels: str | None,
    template: str | None,
    subject: str | None,
    text: str | None,
    text_file: str | None,
    html_file: str | None,
    data: str,
    idempotency_key: str | None,
    priority: int | None,
    queue: str | None,
    delay_s: float | None,
    run_at: datetime | None,
    digest_key: str | None,
    digest_window_s: int | None,
) -> None:
    """Send a notification: a --template rendered against --data, or a --subject and a
    --text (or --text-file), to --channels. Prints one row per delivery."""
    if text is not None and text_file is not None:
        raise UsageProblem("give --text or --text-file, not both")
    # Imported here: notify loads the Celery app (and so the settings); see `jobs enqueue`.
    from tasks.notifications import notify

    request = notify.NotificationRequest(
        channels=parse_channels(channels), template=template, subject=subject,
        text=text if text_file is None else options.read_text_file("--text-file", text_file),
        html=options.read_text_file("--html-file", html_file),
        data=options.json_object("--data", data),
        idempotency_key=idempotency_key, priority=priority, queue=queue, delay_s=delay_s,
        run_at=run_at, digest_key=digest_key, digest_window_s=digest_window_s,
    )  # fmt: skip
    try:
        sent = notify.send(request, source="cli")
    except InvalidNotification as error:
        raise _in_options(error) from None
    _announce(sent, request)


@click.group()
def deliveries() -> None:
    """Deliveries of notifications: list, show, replay, cancel."""


@deliveries.command(name="list")
@click.option(
    "--status", type=click.Choice([s.value for s in DeliveryStatus]), help="Only this status."
)
@click.option("--channel", type=NAME, metavar="NAME", help="Only this channel.")
@click.option(
    "--notification",
    "notification_id",
    type=click.UUID,
    metavar="ID",
    help="Only this notification's.",
)
@options.limit(20)
def list_(
    status: str | None, channel: str | None, notification_id: uuid.UUID | None, limit: int
) -> None:
    """The most recent deliveries, newest first."""
    where = DeliveryFilter(status=status, channel=channel, notification_id=notification_id)
    records = delivery_store.page(where, None, limit + 1)
    more = f"The newest {limit}; --limit shows more." if len(records) > limit else None
    DELIVERIES.print(records[:limit], "No deliveries match.", more)


@deliveries.command()
@click.argument("delivery_id", metavar="ID", type=click.UUID)
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
def show(delivery_id: uuid.UUID, as_json: bool) -> None:
    """Delivery ID in full: status, attempts, the last error and the provider's answer,
    timings, its job and its replay links."""
    record = delivery_store.get(delivery_id)
    fields = asdict(record)
    rows = [(name.replace("_", " "), cell(fields[name])) for name in FIELDS]
    print_record({name: plain(fields[name]) for name in FIELDS}, rows,
                 f"delivery {record.id}", as_json)  # fmt: skip


@deliveries.command()
@click.argument("delivery_id", metavar="ID", type=click.UUID)
def replay(delivery_id: uuid.UUID) -> None:
    """Send failed, dead or cancelled delivery ID again as a new delivery, queued now and
    linked to the original. Prints the new delivery's id as the last line of stdout."""
    from tasks.notifications import notify

    new = notify.replay(delivery_id)
    note(f"Replayed delivery {delivery_id} to {new.channel_name!r} as delivery {new.id} "
         f"(status {new.status}); follow it with `taskyard deliveries show {new.id}`.")  # fmt: skip
    click.echo(str(new.id))


@deliveries.command()
@click.argument("delivery_id", metavar="ID", type=click.UUID)
def cancel(delivery_id: uuid.UUID) -> None:
    """Cancel delivery ID while it waits to be sent (queued, scheduled or retrying)."""
    record = delivery_store.cancel(delivery_id)
    click.echo(f"Cancelled delivery {record.id} to {record.channel_name!r}: it will not be "
               f"sent. `taskyard deliveries replay {record.id}` sends it after all.")  # fmt: skip
