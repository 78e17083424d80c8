"""alert rules, their instances and events

An alert rule (a source, a condition, timers, where its notices go), one instance per rule and
final labels with its state and timers, and one event per transition (the outbox of FIRING
and RESOLVED notices).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workers.store.migrations.builders import create_named_table, create_newest_first_index
from workers.store.types import JsonDocument, UtcDateTime, partial_where

revision = "0010_alerts"
down_revision = "0009_deliveries"

_UNSENT = "notice IS NOT NULL AND notified_at IS NULL"


def upgrade() -> None:
    create_named_table(
        "alert_rules",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("spec", JsonDocument, nullable=False),
        sa.Column("op", sa.String(length=2), nullable=False),
        sa.Column("threshold", sa.Double(), nullable=False),
        sa.Column("recovery_threshold", sa.Double(), nullable=True),
        sa.Column("for_s", sa.Integer(), nullable=False),
        sa.Column("keep_firing_for_s", sa.Integer(), nullable=False),
        sa.Column("labels", JsonDocument, nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("annotations", JsonDocument, nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=False),
        sa.Column("no_data", sa.String(length=16), nullable=False),
        sa.Column("on_error", sa.String(length=16), nullable=False),
        sa.Column("channels", JsonDocument, nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("generation", sa.Integer(), server_default="1", nullable=False),
        sa.Column("last_slot_at", UtcDateTime(), nullable=True),
        sa.Column("last_evaluated_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )

    op.create_table(
        "alert_instances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("labels", JsonDocument, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("since", UtcDateTime(), nullable=False),
        sa.Column("fired_at", UtcDateTime(), nullable=True),
        sa.Column("last_value", sa.Double(), nullable=True),
        sa.Column("last_evaluated_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["alert_rules.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule_id", "fingerprint", name="uq_alert_instances_labels"),
    )
    create_newest_first_index("alert_instances")

    op.create_table(
        "alert_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("instance_id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("source_state", sa.String(length=16), nullable=False),
        sa.Column("target_state", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=16), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("notice", sa.String(length=16), nullable=True),
        sa.Column("notified_at", UtcDateTime(), nullable=True),
        sa.Column("notification_id", sa.Uuid(), nullable=True),
        sa.Column("notice_error", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["alert_instances.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rule_id"], ["alert_rules.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.create_index("ix_alert_events_instance_at", ["instance_id", "at"], unique=False)
        batch_op.create_index("ix_alert_events_created", ["created_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_events_rule_id"), ["rule_id"], unique=False)
        batch_op.create_index(
            "ix_alert_events_unsent",
            ["created_at"],
            unique=False,
            **partial_where(_UNSENT),
        )


def downgrade() -> None:
    op.drop_table("alert_events")
    op.drop_table("alert_instances")
    op.drop_table("alert_rules")
