"""``taskyard db``: the job store's schema."""

from __future__ import annotations

import click

from cli.output import masked
from tasks.alerts import shipped
from workers.settings import get_settings
from workers.store import migrate


@click.group()
def db() -> None:
    """Manage the job store (PostgreSQL, or SQLite when embedded)."""


@db.command()
def upgrade() -> None:
    """Apply every pending migration to TASKYARD_DATABASE_URL, then make the shipped
    self-monitoring alert rules that are missing (safe to run again)."""
    url = get_settings().database_url
    before = migrate.current_revision(url)
    migrate.upgrade(url)
    after = migrate.current_revision(url)
    where = masked(url)
    if before == after:
        click.echo(f"The job store at {where} is already at revision {after} (head).")
    else:
        click.echo(f"Upgraded the job store at {where} from {before or 'empty'} to {after} (head).")
    made = shipped.install()
    if made:
        click.echo(f"Made the shipped alert rules {', '.join(made)} (pause any you do not want).")
