"""execution guarantees"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workers.store.types import UtcDateTime

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "unique_jobs",
        sa.Column("type", sa.String(length=200), nullable=False),
        sa.Column("unique_key", sa.String(length=200), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("type", "unique_key"),
    )
    with op.batch_alter_table("unique_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unique_jobs_expires_at"), ["expires_at"], unique=False)

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("run_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("dispatched_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("progress", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("progress_message", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("cancel_requested_at", UtcDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("timed_out", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("replay_of", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("replayed_by", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("concurrency_key", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("max_attempts", sa.SmallInteger(), server_default="1", nullable=False)
        )
        batch_op.create_index("ix_jobs_due", ["status", "run_at"], unique=False)
        batch_op.create_index("ix_jobs_heartbeat", ["status", "heartbeat_at"], unique=False)
        batch_op.create_foreign_key(
            "fk_jobs_replay_of", "jobs", ["replay_of"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_constraint("fk_jobs_replay_of", type_="foreignkey")
        batch_op.drop_index("ix_jobs_heartbeat")
        batch_op.drop_index("ix_jobs_due")
        batch_op.drop_column("max_attempts")
        batch_op.drop_column("concurrency_key")
        batch_op.drop_column("replayed_by")
        batch_op.drop_column("replay_of")
        batch_op.drop_column("timed_out")
        batch_op.drop_column("cancel_requested_at")
        batch_op.drop_column("progress_message")
        batch_op.drop_column("progress")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("dispatched_at")
        batch_op.drop_column("run_at")

    with op.batch_alter_table("unique_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unique_jobs_expires_at"))

    op.drop_table("unique_jobs")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_expires_at"))

    op.drop_table("idempotency_keys")
