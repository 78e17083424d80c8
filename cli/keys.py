"""``taskyard keys``: create, list and revoke producer API keys."""

from __future__ import annotations

import click

from cli.output import EMPTY, Rows, UsageProblem, note, when
from cli.text import NAME
from workers.names import NAME_RULE, is_name
from workers.scopes import SCOPE_HELP, validate_scope
from workers.store import keys as key_store
from workers.store.models import ApiKey


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


@click.group()
def keys() -> None:
    """Manage producer API keys (only their hashes are stored)."""


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
def create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a key; prints the secret once, as the last line of stdout."""
    checked = [check_scope(scope) for scope in scopes]
    issued = key_store.create_key(check_name(name), checked)
    note(
        f"Created API key {name!r} (prefix {issued.record.key_prefix}, "
        f"scopes {', '.join(issued.record.scopes)}). "
        "Store it now: it is not shown again."
    )
    click.echo(issued.secret)


@keys.command(name="list")
def list_() -> None:
    """List every key: name, prefix, scopes, created, last used, revoked."""
    empty = "No API keys yet; create one with `taskyard keys create --name NAME --scope SCOPE`."
    KEYS.print(key_store.list_keys(), empty)


def _row(r: ApiKey) -> tuple[str, ...]:
    return (r.name, r.key_prefix, ", ".join(r.scopes) or EMPTY, when(r.created_at),
            when(r.last_used_at), when(r.revoked_at))  # fmt: skip


KEYS = Rows(("name", "prefix", "scopes", "created", "last used", "revoked"), _row)


@keys.command()
@click.argument("name", type=NAME)
def revoke(name: str) -> None:
    """Revoke the key called NAME (requests with it are refused from now on)."""
    record = key_store.revoke_key(name)
    click.echo(f"API key {record.name!r} is revoked (since {when(record.revoked_at)}).")
