"""notifications, deliveries, digests and subscriptions

A notification (what to say), one delivery per channel (the record claimed before a send),
the notifications a digest delivery folds in, and subscriptions that turn platform events
into notifications.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workers.store.migrations.builders import create_named_table, drop_named_table
from workers.store.types import JsonDocument, UtcDateTime, partial_where

revision = "0009_deliveries"
down_revision = "0008_channels"

_OPEN_DIGEST = "digest_key IS NOT NULL AND status = 'scheduled' AND sending_at IS NULL"


def upgrade() -> None:
    create_named_table(
        "subscriptions",
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("match", sa.String(length=200), nullable=False),
        sa.Column("channels", JsonDocument, nullable=False),
        sa.Column("template_name", sa.String(length=200), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("scanned_until", UtcDateTime(), nullable=True),
    )

    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("template_name", sa.String(length=200), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("data", JsonDocument, nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("idempotency_scope", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("digest_key", sa.String(length=200), nullable=True),
        sa.Column("digest_window_s", sa.Integer(), nullable=True),
        sa.Column("api_key_id", sa.Uuid(), nullable=True),
        sa.Column("subscription_id", sa.Uuid(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_created", ["created_at", "id"], unique=False)
        batch_op.create_index(
            "ux_notifications_idempotency",
            ["idempotency_scope", "idempotency_key"],
            unique=True,
            **partial_where("idempotency_key IS NOT NULL"),
        )

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=True),
        sa.Column("channel_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.SmallInteger(), nullable=False),
        sa.Column("message_key", sa.String(length=64), nullable=False),
        sa.Column("digest_key", sa.String(length=200), nullable=True),
        sa.Column("run_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sending_at", UtcDateTime(), nullable=True),
        sa.Column("sent_at", UtcDateTime(), nullable=True),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("error_class", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("provider_message_id", sa.String(length=255), nullable=True),
        sa.Column("maybe_delivered", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("replay_of", sa.Uuid(), nullable=True),
        sa.Column("replayed_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["replay_of"], ["deliveries.id"], name="fk_deliveries_replay_of", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_channel_created", ["channel_name", "created_at"], unique=False
        )
        batch_op.create_index("ix_deliveries_created", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_deliveries_finished", ["finished_at"], unique=False)
        batch_op.create_index("ix_deliveries_job", ["job_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_deliveries_notification_id"), ["notification_id"], unique=False
        )
        batch_op.create_index(
            "ux_deliveries_open_digest",
            ["digest_key", "channel_name"],
            unique=True,
            **partial_where(_OPEN_DIGEST),
        )
        batch_op.create_index(
            "ix_deliveries_status_created", ["status", "created_at"], unique=False
        )

    op.create_table(
        "digest_members",
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("notification_id", sa.Uuid(), nullable=False),
        sa.Column("added_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["notification_id"], ["notifications.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("delivery_id", "notification_id"),
    )
    with op.batch_alter_table("digest_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_digest_members_notification_id"), ["notification_id"], unique=False
        )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_jobs_failed_finished",
            ["finished_at"],
            unique=False,
            **partial_where("status IN ('failed', 'dead')"),
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_failed_finished")
    with op.batch_alter_table("digest_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_digest_members_notification_id"))

    op.drop_table("digest_members")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_status_created")
        batch_op.drop_index(
            "ux_deliveries_open_digest",
            **partial_where(_OPEN_DIGEST),
        )
        batch_op.drop_index(batch_op.f("ix_deliveries_notification_id"))
        batch_op.drop_index("ix_deliveries_job")
        batch_op.drop_index("ix_deliveries_finished")
        batch_op.drop_index("ix_deliveries_created")
        batch_op.drop_index("ix_deliveries_channel_created")

    op.drop_table("deliveries")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_notifications_idempotency",
            **partial_where("idempotency_key IS NOT NULL"),
        )
        batch_op.drop_index("ix_notifications_created")

    op.drop_table("notifications")
    drop_named_table("subscriptions")
