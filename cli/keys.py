"""``taskyard keys``: create, list, rotate and revoke producer API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import click

from cli.output import EMPTY, Rows, UsageProblem, note, when
from cli.text import DURATION, NAME
from workers.limits import parse_rate_limit
from workers.names import NAME_RULE, is_name
from workers.scopes import SCOPE_HELP, validate_scope
from workers.store import keys as key_store
from workers.store.models import ApiKey
from workers.store.types import utcnow


def check_scope(scope: str) -> str:
    """Return ``scope`` when it is one Taskyard knows, else raise a usage error."""
    try:
        return validate_scope(scope)
    except ValueError as error:
        raise UsageProblem(str(error)) from None


def check_name(name: str) -> str:
    """Return ``name`` when it is a usable key name, else raise a usage error."""
    if not is_name(name):
        raise UsageProblem(f"invalid key name {name!r}; {NAME_RULE}")
    return name


def check_rate_limit(text: str | None) -> str | None:
    """Return ``text`` when it is one rate such as ``100/second``, else raise a usage error."""
    if text is None:
        return None
    try:
        parse_rate_limit(text)
    except ValueError as error:
        raise UsageProblem(f"--rate-limit: {error}") from None
    return text


def _shown_once(record: ApiKey, secret: str, done: str) -> None:
    note(f"{done} (prefix {record.key_prefix}). Store it now: it is not shown again.")
    click.echo(secret)


@click.group()
def keys() -> None:
    """Manage producer API keys (only their hashes are stored); `new-data-key` and
    `rotate-data` handle the other keys, those sealing data at rest (TASKYARD_SECRET_KEYS)."""


@keys.command()
@click.option(
    "--name", required=True, metavar="NAME", help="A unique name, e.g. the calling service."
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    metavar="SCOPE",
    help=f"Repeat for several: {SCOPE_HELP}.",
)
@click.option(
    "--expires-in", type=DURATION, metavar="SPAN", help="Refuse the key after SPAN, e.g. 30d."
)
@click.option(
    "--rate-limit",
    metavar="RATE",
    help="Requests (a batch: its jobs) this key may make, e.g. 100/second; "
    "default TASKYARD_API_RATE_LIMIT.",
)
def create(
    name: str, scopes: tuple[str, ...], expires_in: timedelta | None, rate_limit: str | None
) -> None:
    """Create a key; prints the secret once, as the last line of stdout."""
    checked = [check_scope(scope) for scope in scopes]
    expires_at = utcnow() + expires_in if expires_in is not None else None
    issued = key_store.create_key(
        check_name(name), checked, expires_at, check_rate_limit(rate_limit)
    )
    record = issued.record
    ends = f", expires {when(expires_at)}" if expires_at else ""
    done = f"Created API key {name!r} (scopes {', '.join(record.scopes)}{ends})"
    _shown_once(record, issued.secret, done)


@keys.command()
@click.argument("name", type=NAME)
@click.option(
    "--grace",
    type=DURATION,
    default="24h",
    show_default=True,
    metavar="SPAN",
    help="How long the current secret keeps working beside the new one (0s: not at all).",
)
def rotate(name: str, grace: timedelta) -> None:
    """Give key NAME a new secret (printed once, last line of stdout); the old one works until
    the grace period ends. Jobs, scopes and limits stay with the key."""
    issued = key_store.rotate_key(name, grace)
    old = issued.record.previous_key_prefix
    done = f"Rotated API key {name!r}: {old} works until {when(issued.record.previous_expires_at)}"
    _shown_once(issued.record, issued.secret, done)


@dataclass(frozen=True)
class _Secret:
    """One usable secret of a key: its current one, or the one its last rotation replaced."""

    key: ApiKey
    current: bool


@keys.command(name="list")
def list_() -> None:
    """List every key and the secret its last rotation replaced: name, prefix, state, scopes,
    rate limit, created, expires, last used and the last client address."""
    empty = "No API keys yet; create one with `taskyard keys create --name NAME --scope SCOPE`."
    secrets = [
        _Secret(key, current)
        for key in key_store.list_keys()
        for current in (True, False)
        if current or key.previous_key_prefix is not None
    ]
    SECRETS.print(secrets, empty)


def _state(key: ApiKey, current: bool) -> str:
    now = utcnow()
    ends = key.expires_at if current else key.previous_expires_at
    if key.revoked_at is not None:
        return f"revoked {when(key.revoked_at)}"
    if ends is not None and ends <= now:
        return "expired" if current else "rotated out"
    return "live" if current else "grace"


def _row(s: _Secret) -> tuple[str, ...]:
    k = s.key
    prefix = k.key_prefix if s.current else k.previous_key_prefix or EMPTY
    expires = k.expires_at if s.current else k.previous_expires_at
    used = k.last_used_at if s.current else k.previous_last_used_at
    return (k.name, prefix, _state(k, s.current), ", ".join(k.scopes) or EMPTY,
            k.rate_limit or "default", when(k.created_at), when(expires), when(used),
            k.last_client or EMPTY)  # fmt: skip


SECRETS = Rows(
    ("name", "prefix", "state", "scopes", "rate limit", "created", "expires", "last used",
     "last client"),
    _row,
)  # fmt: skip


@keys.command()
@click.argument("name", type=NAME)
def revoke(name: str) -> None:
    """Revoke the key called NAME, every secret of it (refused by every API process within a
    second)."""
    record = key_store.revoke_key(name)
    click.echo(f"API key {record.name!r} is revoked (since {when(record.revoked_at)}).")
