"""schedules and maintenance"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workers.store.migrations.builders import id_and_name
from workers.store.types import JsonDocument, UtcDateTime

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "maintenance_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("finished_at", UtcDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("figures", JsonDocument, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("maintenance_runs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_maintenance_runs_name_started", ["name", "started_at"], unique=False
        )

    op.create_table(
        "schedules",
        *id_and_name(),
        sa.Column("task", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("cron", sa.String(length=120), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("interval_s", sa.Integer(), nullable=True),
        sa.Column("queue", sa.String(length=32), nullable=True),
        sa.Column("priority", sa.SmallInteger(), nullable=True),
        sa.Column("args", JsonDocument, nullable=False),
        sa.Column("expires_s", sa.Integer(), nullable=True),
        sa.Column("missed", sa.String(length=16), nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("static", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("last_run_at", UtcDateTime(), nullable=True),
        sa.Column("next_run_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "schedule_fires",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("schedule_id", sa.Uuid(), nullable=False),
        sa.Column("planned_at", UtcDateTime(), nullable=False),
        sa.Column("fired_at", UtcDateTime(), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=True),
        sa.Column("beat", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("schedule_id", "planned_at", name="uq_schedule_fires_slot"),
    )
    with op.batch_alter_table("schedule_fires", schema=None) as batch_op:
        batch_op.create_index("ix_schedule_fires_fired", ["fired_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("schedule_fires", schema=None) as batch_op:
        batch_op.drop_index("ix_schedule_fires_fired")

    op.drop_table("schedule_fires")
    op.drop_table("schedules")
    with op.batch_alter_table("maintenance_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_maintenance_runs_name_started")

    op.drop_table("maintenance_runs")
