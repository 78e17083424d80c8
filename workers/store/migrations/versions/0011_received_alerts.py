"""alerts received through the Alertmanager-compatible door

Revision ID: 0011_received_alerts
Revises: 0010_alerts
Create Date: 2026-12-07

One row per set of labels a Prometheus server posted to ``POST /api/v2/alerts``, with the
times of its last post; rules with the ``alertmanager`` source read them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workers.store.types import JsonDocument, UtcDateTime

revision = "0011_received_alerts"
down_revision = "0010_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "received_alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("labels", JsonDocument, nullable=False),
        sa.Column("annotations", JsonDocument, nullable=False),
        sa.Column("starts_at", UtcDateTime(), nullable=False),
        sa.Column("ends_at", UtcDateTime(), nullable=False),
        sa.Column("generator_url", sa.Text(), nullable=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint"),
    )
    with op.batch_alter_table("received_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_received_alerts_ends_at", ["ends_at"], unique=False)


def downgrade() -> None:
    op.drop_table("received_alerts")
