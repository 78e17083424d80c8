"""``taskyard audit``: read the audit trail, newest first (who did what to which record)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from cli import options
from cli.output import Listing, plural, truncated, when
from cli.records import cell, plain
from cli.timestamps import RFC3339
from workers.store import audit as store
from workers.store.models import AuditEntry

FIELDS = ("id", "created_at", "actor", "action", "target_kind", "target_id", "target_name",
          "before", "after", "correlation_id")  # fmt: skip
CHANGE_WIDTH = 60


def entry_fields(entry: AuditEntry) -> dict[str, Any]:
    """An audit row as JSON-ready fields."""
    return {name: plain(getattr(entry, name)) for name in FIELDS}


def _target(entry: AuditEntry) -> str:
    return " ".join(
        part for part in (entry.target_kind, entry.target_name or entry.target_id) if part
    )


def _row(entry: AuditEntry) -> tuple[str, ...]:
    change = f"{cell(entry.before)} → {cell(entry.after)}"
    return (when(entry.created_at), entry.actor, entry.action, _target(entry),
            truncated(change, CHANGE_WIDTH))  # fmt: skip


ENTRIES = Listing(("at", "actor", "action", "target", "before → after"), _row, entry_fields)


@click.command()
@click.option("--actor", help="Only this actor (an API key's name, or user@host).")
@click.option("--action", help="Only this action (schedule.paused, key.revoked, ...).")
@click.option("--target-kind", help="Only actions on this kind (schedule, key, job, ...).")
@click.option("--since", type=RFC3339, help="Only actions at or after this time.")
@options.limit(50)
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON, summaries in full.")
def audit(
    actor: str | None,
    action: str | None,
    target_kind: str | None,
    since: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """Administrative actions, newest first: who (API key or user@host), what, on which
    record, and the fields it changed (secrets never shown)."""
    entries = store.entries(limit, None, since, actor=actor, action=action,
                            target_kind=target_kind)  # fmt: skip
    footer = f"{plural(len(entries), 'action')} shown, newest first"
    hint = "; `--json` shows the changes in full, `--limit` more"
    ENTRIES.show(entries, as_json, footer, "No audited actions match.", hint)
