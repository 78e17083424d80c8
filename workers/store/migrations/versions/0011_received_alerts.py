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
#: The times of an alert: when it starts and ends, and when it was last and first posted.
_TIMES = ("starts_at", "ends_at", "received_at", "created_at")


def upgrade() -> None:
    op.create_table(
        "received_alerts",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False, unique=True),
        sa.Column("labels", JsonDocument, nullable=False),
        sa.Column("annotations", JsonDocument, nullable=False),
        sa.Column("generator_url", sa.Text(), nullable=True),
        *(sa.Column(name, UtcDateTime(), nullable=False) for name in _TIMES),
    )
    op.create_index("ix_received_alerts_ends_at", "received_alerts", ["ends_at"])


def downgrade() -> None:
    op.drop_index("ix_received_alerts_ends_at", table_name="received_alerts")
    op.drop_table("received_alerts")
