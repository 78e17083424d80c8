"""What several revisions build alike: the id and name columns of a row that has both, a table of
named rows (those, created and updated times, listed newest first) and the newest-first index.

A revision is history: what a builder here emits must stay what it emitted when a revision
first used it (``tests/integration/test_migrations.py`` holds every step's schema to the
models and to a downgrade). Never change a builder; add another.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from workers.store.types import UtcDateTime


def id_and_name() -> tuple[sa.Column[Any], sa.Column[Any]]:
    """``id``, a UUID (the key), and ``name``, up to 200 characters (unique where it names)."""
    return (
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
    )


def create_newest_first_index(table: str) -> None:
    """``ix_<table>_created`` on (``created_at``, ``id``): the order a page of rows is read in."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(f"ix_{table}_created", ["created_at", "id"], unique=False)


def create_named_table(table: str, *columns: sa.Column[Any]) -> None:
    """``table`` with :func:`id_and_name` (the name unique), ``columns``, ``created_at`` and
    ``updated_at``, and its newest-first index."""
    op.create_table(
        table,
        *id_and_name(),
        *columns,
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    create_newest_first_index(table)


def drop_named_table(table: str) -> None:
    """Undo :func:`create_named_table`."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_index(f"ix_{table}_created")
    op.drop_table(table)
