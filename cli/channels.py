"""``taskyard channels``: add, list, show, test and remove notification channels; rekey their
secrets after a key rotation. Secrets come from an option, its environment variable or a
hidden prompt, and are never printed (a generated webhook secret is shown once)."""

from __future__ import annotations

import secrets as tokens
from collections.abc import Callable
from typing import Any, TypeVar

import click
import redis

from cli.aliases import deprecated_alias
from cli.datakeys import new_data_key, rotate_data
from cli.output import (
    EMPTY,
    CliError,
    Rows,
    UsageProblem,
    note,
    plural,
    when,
)
from cli.progress import stdin_is_terminal
from cli.resources import remove_command, show_command
from tasks.notifications import store
from tasks.notifications.channels import ChannelKind, parse_config
from tasks.notifications.errors import ChannelTestFailed
from tasks.notifications.guards import BreakerState, breaker_status, endpoint_for, reset_breaker
from tasks.notifications.message import channel_test_message
from tasks.notifications.outcomes import ErrorClass
from tasks.notifications.sealing import UNSEALED_NOTE
from tasks.notifications.senders import send
from workers.store.models import Channel

REDIS_DOWN = (
    "Redis is unreachable (TASKYARD_REDIS_URL, else TASKYARD_BROKER_URL), where breakers are "
    "kept; start Redis or fix the URL"
)
COLUMNS = ("name", "kind", "target", "secrets", "description", "created")
SHOW_HELP = "Channel NAME in full, but for its secrets (named, never shown)."
SECRET_ENV = {"secret": "TASKYARD_CHANNEL_SECRET", "password": "TASKYARD_CHANNEL_PASSWORD",
              "url": "TASKYARD_CHANNEL_URL"}  # fmt: skip
F = TypeVar("F", bound=Callable[..., Any])
SECURITY = ("starttls", "tls", "none")
#: The options of `add` each kind takes; another kind's option is refused, not ignored.
KIND_OPTIONS = {
    ChannelKind.EMAIL: {"host", "port", "security", "username", "password", "sender",
                        "recipients"},
    ChannelKind.WEBHOOK: {"url", "secret"},
    ChannelKind.SLACK: {"url"},
    ChannelKind.APPRISE: {"url"},
}  # fmt: skip
#: The options of `add` every kind takes.
COMMON_OPTIONS = {"rate_limit", "idempotent"}
OPTION_NAMES = {"sender": "--from", "recipients": "--to", "rate_limit": "--rate-limit"}


def _target(record: Channel) -> str:
    config = record.config
    if record.kind == ChannelKind.EMAIL:
        return f"{config['host']}:{config['port']} to {', '.join(config['recipients'])}"
    if record.kind == ChannelKind.WEBHOOK:
        return str(config["url"])
    return f"{record.kind} URL (secret)"


def _secrets(record: Channel) -> str:
    names = store.secret_names(record)
    if not names:
        return EMPTY
    return f"{', '.join(names)} ({'sealed' if record.sealed else 'plain'})"


def _row(record: Channel) -> tuple[str, ...]:
    return (record.name, record.kind, _target(record), _secrets(record),
            record.description or EMPTY, when(record.created_at))  # fmt: skip


CHANNELS = Rows(COLUMNS, _row)


def _breaker(record: Channel) -> str:
    endpoint = endpoint_for(store.config_of(record))
    try:
        status = breaker_status(endpoint)
    except redis.RedisError:
        return f"unknown: Redis is unreachable ({endpoint})"
    if status.state is BreakerState.OPEN:
        return (f"open, one trial send in {status.wait_s:.0f} s ({endpoint}); "
                f"`taskyard channels reset {record.name}` closes it")  # fmt: skip
    if status.state is BreakerState.HALF_OPEN:
        return f"half-open, a trial send is out ({endpoint})"
    failures = f", {plural(status.failures, 'failure')} in a row" if status.failures else ""
    return f"closed{failures} ({endpoint})"


@click.group()
def channels() -> None:
    """Notification channels: email (SMTP), signed webhooks, Slack, and Apprise URLs."""


def _secret_option(name: str, help_text: str) -> Callable[[F], F]:
    """``--name``, which may come from its environment variable so it stays off the command
    line (and out of shell history)."""
    return click.option(
        f"--{name}", envvar=SECRET_ENV[name], show_envvar=True, metavar=name.upper(), help=help_text
    )


def _hidden(value: str | None, option: str, what: str) -> str:
    if value:
        return value
    if not stdin_is_terminal():
        env = SECRET_ENV[option.removeprefix("--")]
        raise UsageProblem(f"give {option} or set {env} (no terminal to ask for the {what})")
    answer: str = click.prompt(what.capitalize(), hide_input=True, err=True)
    return answer


def _document(kind: str, given: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The settings for ``kind`` from the options, and a webhook secret generated to show."""
    common = {name: given.pop(name) for name in COMMON_OPTIONS}
    document, generated = _kind_document(kind, given)
    if common["rate_limit"] is not None:
        document["rate_limit"] = common["rate_limit"]
    if common["idempotent"]:
        document["idempotent"] = True
    return document, generated


def _kind_document(kind: str, given: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    takes = KIND_OPTIONS[ChannelKind(kind)]
    stray = sorted(k for k, v in given.items() if v not in (None, ()) and k not in takes)
    if stray:
        options = ", ".join(OPTION_NAMES.get(name, f"--{name}") for name in stray)
        raise UsageProblem(f"{options} do(es) not apply to --kind {kind}")
    generated = None
    if kind == ChannelKind.EMAIL:
        document = {k: given[k] for k in ("host", "port", "security", "username", "sender")
                    if given[k] is not None}  # fmt: skip
        document["recipients"] = list(given["recipients"])
        if given["username"] is not None:
            document["password"] = _hidden(given["password"], "--password", "SMTP password")
        return {"kind": kind, **document}, None
    if kind == ChannelKind.WEBHOOK:
        if given["url"] is None:
            raise UsageProblem("a webhook needs --url URL")
        secret = given["secret"]
        if secret is None:
            secret = generated = tokens.token_urlsafe(32)
        return {"kind": kind, "url": given["url"], "secret": secret}, generated
    what = "Slack incoming-webhook URL" if kind == ChannelKind.SLACK else "Apprise URL"
    return {"kind": kind, "url": _hidden(given["url"], "--url", what)}, None


@channels.command()
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice([k.value for k in ChannelKind]))
@_secret_option("url", "webhook: where to POST; slack, apprise: the (secret) URL, else prompted.")
@_secret_option("secret", "webhook: the signing secret (default: generated and shown once).")
@click.option("--host", metavar="HOST", help="email: the SMTP server.")
@click.option("--port", type=click.IntRange(1, 65_535), help="email: [default: 587].")
@click.option("--security", type=click.Choice(SECURITY), help="email: [default: starttls].")
@click.option("--username", metavar="USER", help="email: log in as USER.")
@_secret_option("password", "email: the login's password (else prompted).")
@click.option("--from", "sender", metavar="ADDRESS", help="email: the From address.")
@click.option("--to", "recipients", multiple=True, metavar="ADDRESS", help="email: repeatable.")
@click.option(
    "--rate-limit",
    metavar="RATE",
    help="Sends allowed across all workers, e.g. 20/second or 100/minute.",
)
@click.option(
    "--idempotent",
    is_flag=True,
    default=False,
    help="The receiver drops a repeated Idempotency-Key (webhook) or Message-ID "
    "(email): a send whose outcome is unknown may be sent again.",
)
@click.option("--description", metavar="TEXT", help="What the channel is for.")
def add(name: str, kind: str, description: str | None, **given: Any) -> None:  # fmt: skip
    """Add channel NAME of --kind; checks its target, prints its id last."""
    document, generated = _document(kind, given)
    record = store.create_channel(name, parse_config(document), description)
    note(f"Added {record.kind} channel {record.name!r}; try it with "
         f"`taskyard channels test {record.name}`.")  # fmt: skip
    if not record.sealed and store.secret_names(record):
        note(f"Note: {UNSEALED_NOTE}.")
    if generated is not None:
        note("Its signing secret follows the id; give it to the receiver now: "
             "it is not shown again.")  # fmt: skip
    click.echo(str(record.id))
    if generated is not None:
        click.echo(generated)


@channels.command(name="list")
def list_() -> None:
    """Every channel: kind, target (secret URLs hidden), secrets held, description."""
    empty = "No channels yet; add one with `taskyard channels add NAME --kind webhook --url URL`."
    CHANNELS.print(store.all_channels(), empty)


def _fields(record: Channel) -> list[tuple[str, str]]:
    rows = [("name", record.name), ("kind", record.kind),
            ("description", record.description or EMPTY)]  # fmt: skip
    for key, value in record.config.items():
        shown = ", ".join(value) if isinstance(value, list) else str(value)
        rows.append((key, shown if value is not None else EMPTY))
    return [*rows, ("secrets", _secrets(record)), ("breaker", _breaker(record))]


channels.add_command(show_command(store.find_channel, _fields, SHOW_HELP))


@channels.command()
@click.argument("name")
def test(name: str) -> None:
    """Send a test message through channel NAME now; exit 1 when it is not delivered."""
    record = store.find_channel(name)
    outcome = send(record.name, store.config_of(record), channel_test_message(record.name))
    if not outcome.ok:
        again = (
            "check the receiver is up, then test again"
            if outcome.error_class is ErrorClass.RETRYABLE
            else f"fix the channel (`taskyard channels show {name}`) or the receiver"
        )
        raise ChannelTestFailed(f"test message to {name!r} not delivered: {outcome.error}; {again}")
    answer = f"answer {outcome.status_code}, " if outcome.status_code is not None else ""
    click.echo(f"Test message delivered through {name!r} ({answer}{outcome.duration_s:.2f} s).")


channels.add_command(
    remove_command("Channel", store.find_channel, store.delete_channel, "Remove channel NAME.")
)


@channels.command()
@click.argument("name")
def reset(name: str) -> None:
    """Close channel NAME's circuit breaker now; it is its endpoint's, so every channel sending
    there sends again."""
    record = store.find_channel(name)
    endpoint = endpoint_for(store.config_of(record))
    try:
        was_open = reset_breaker(endpoint)
    except redis.RedisError as error:
        raise CliError(f"{REDIS_DOWN} ({type(error).__name__})") from None
    if was_open:
        click.echo(f"Closed the breaker of {endpoint} (channel {name!r}); sends go again.")
    else:
        click.echo(f"The breaker of {endpoint} (channel {name!r}) was closed, with no failures.")


# The data keys seal job payloads too: one rotation, under `taskyard keys`.
channels.add_command(deprecated_alias(rotate_data, "rekey", "taskyard keys rotate-data"))
channels.add_command(deprecated_alias(new_data_key, "new-key", "taskyard keys new-data-key"))
