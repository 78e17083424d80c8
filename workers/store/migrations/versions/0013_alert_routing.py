"""alert routes, their groups and notices, silences and inhibit rules

The route tree alert notices pass through, each route's groups with their notification log
and the notices a flush owes (an outbox), silences and inhibit rules; and on each alert event
the routes that took its notice.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

from workers.store.migrations.builders import (
    create_named_table,
    create_newest_first_index,
    drop_named_table,
)
from workers.store.types import JsonDocument, UtcDateTime, partial_where

revision = "0013_alert_routing"
down_revision = "0011_received_alerts"


def _required(kind: Any, *names: str) -> list[sa.Column[Any]]:
    return [sa.Column(name, kind, nullable=False) for name in names]


def _outbox(*columns: sa.Column[Any]) -> list[sa.Column[Any]]:
    """The columns of a row sent once: its key, what it holds, then when and how it was sent."""
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        *columns,
        sa.Column("notified_at", UtcDateTime(), nullable=True),
        sa.Column("notification_id", sa.Uuid(), nullable=True),
        sa.Column("notice_error", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    ]


def _child(parent: str, column: str, *unique: str, name: str) -> list[SchemaItem]:
    """A row's key, its parent row (deleted with it) and what is unique among its siblings."""
    return [
        sa.ForeignKeyConstraint([column], [f"{parent}.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(column, *unique, name=name),
    ]


def upgrade() -> None:
    create_named_table(
        "alert_routes",
        sa.Column(
            "parent_id",
            sa.Uuid(),
            sa.ForeignKey("alert_routes.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        *_required(JsonDocument, "matchers", "channels", "group_by"),
        *_required(sa.Integer(), "group_wait_s", "group_interval_s", "repeat_interval_s"),
        sa.Column("send_resolved", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("continues", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    with op.batch_alter_table("alert_routes", schema=None) as batch_op:
        batch_op.create_index("ix_alert_routes_parent_id", ["parent_id"], unique=False)
    create_named_table(
        "inhibit_rules", *_required(JsonDocument, "source_matchers", "target_matchers", "equal")
    )
    op.create_table(
        "silences",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("matchers", JsonDocument, nullable=False),
        *_required(UtcDateTime(), "starts_at", "ends_at"),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        *_required(UtcDateTime(), "created_at", "updated_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    create_newest_first_index("silences")
    with op.batch_alter_table("silences", schema=None) as batch_op:
        batch_op.create_index("ix_silences_ends", ["ends_at"], unique=False)
    op.create_table(
        "alert_groups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("route_id", sa.Uuid(), nullable=False),
        sa.Column("group_key", sa.String(length=64), nullable=False),
        *_required(JsonDocument, "group_labels", "firing"),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("first_seen_at", UtcDateTime(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        *_child("alert_routes", "route_id", "group_key", name="uq_alert_groups_key"),
    )
    op.create_table(
        "alert_group_notices",
        *_outbox(
            sa.Column("group_id", sa.Uuid(), nullable=False),
            sa.Column("seq", sa.Integer(), nullable=False),
            *_required(JsonDocument, "firing", "resolved"),
        ),
        *_child("alert_groups", "group_id", "seq", name="uq_alert_group_notices_seq"),
    )
    with op.batch_alter_table("alert_group_notices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alert_group_notices_unsent",
            ["created_at"],
            unique=False,
            **partial_where("notified_at IS NULL"),
        )
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("routes", JsonDocument, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.drop_column("routes")
    for table in ("alert_group_notices", "alert_groups"):
        op.drop_table(table)
    with op.batch_alter_table("silences", schema=None) as batch_op:
        batch_op.drop_index("ix_silences_ends")
        batch_op.drop_index("ix_silences_created")
    op.drop_table("silences")
    drop_named_table("inhibit_rules")
    with op.batch_alter_table("alert_routes", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_routes_parent_id")
    drop_named_table("alert_routes")
