"""alert routes, their groups and notices, silences and inhibit rules

Revision ID: 0013_alert_routing
Revises: 0011_received_alerts
Create Date: 2026-12-07

The route tree alert notices pass through, each route's groups with their notification log
and the notices a flush owes (an outbox), silences and inhibit rules; and on each alert event
the routes that took its notice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workers.store.types import JsonDocument, UtcDateTime

revision = "0013_alert_routing"
down_revision = "0011_received_alerts"
branch_labels = None
depends_on = None

_UNSENT = "notified_at IS NULL"


def _stamps(*names: str) -> list[sa.Column[object]]:
    return [sa.Column(name, UtcDateTime(), nullable=False) for name in names]


def _documents(*names: str) -> list[sa.Column[object]]:
    return [sa.Column(name, JsonDocument, nullable=False) for name in names]


def _seconds(*names: str) -> list[sa.Column[object]]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def _index_created(table: str, *more: tuple[str, list[str]]) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(f"ix_{table}_created", ["created_at", "id"], unique=False)
        for name, columns in more:
            batch_op.create_index(name, columns, unique=False)


def upgrade() -> None:
    op.create_table(
        "alert_routes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        *_documents("matchers", "channels", "group_by"),
        *_seconds("group_wait_s", "group_interval_s", "repeat_interval_s"),
        sa.Column("send_resolved", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("continues", sa.Boolean(), server_default=sa.false(), nullable=False),
        *_stamps("created_at", "updated_at"),
        sa.ForeignKeyConstraint(["parent_id"], ["alert_routes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    _index_created("alert_routes", ("ix_alert_routes_parent_id", ["parent_id"]))
    op.create_table(
        "inhibit_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        *_documents("source_matchers", "target_matchers", "equal"),
        *_stamps("created_at", "updated_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    _index_created("inhibit_rules")
    op.create_table(
        "silences",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_documents("matchers"),
        *_stamps("starts_at", "ends_at"),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        *_stamps("created_at", "updated_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    _index_created("silences", ("ix_silences_ends", ["ends_at"]))
    op.create_table(
        "alert_groups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("route_id", sa.Uuid(), nullable=False),
        sa.Column("group_key", sa.String(length=64), nullable=False),
        *_documents("group_labels", "firing"),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("first_seen_at", UtcDateTime(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        *_stamps("created_at"),
        sa.ForeignKeyConstraint(["route_id"], ["alert_routes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("route_id", "group_key", name="uq_alert_groups_key"),
    )
    op.create_table(
        "alert_group_notices",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        *_documents("firing", "resolved"),
        sa.Column("notified_at", UtcDateTime(), nullable=True),
        sa.Column("notification_id", sa.Uuid(), nullable=True),
        sa.Column("notice_error", sa.Text(), nullable=True),
        *_stamps("created_at"),
        sa.ForeignKeyConstraint(["group_id"], ["alert_groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_id", "seq", name="uq_alert_group_notices_seq"),
    )
    with op.batch_alter_table("alert_group_notices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alert_group_notices_unsent",
            ["created_at"],
            unique=False,
            postgresql_where=sa.text(_UNSENT),
            sqlite_where=sa.text(_UNSENT),
        )
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("routes", JsonDocument, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.drop_column("routes")
    for table in ("alert_group_notices", "alert_groups", "silences", "inhibit_rules"):
        op.drop_table(table)
    op.drop_table("alert_routes")
