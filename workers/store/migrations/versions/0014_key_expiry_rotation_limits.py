"""API key expiry, rotation, last client address and rate limit

Revision ID: 0014_key_expiry_rotation_limits
Revises: 0010_alerts
Create Date: 2026-12-07

A key may expire, carry its own rate limit, and keep the secret its last rotation replaced
(its hash, prefix, grace end and last use) so both work until the grace ends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workers.store.types import UtcDateTime

revision = "0014_key_expiry_rotation_limits"
down_revision = "0010_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_client", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("expires_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("rate_limit", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("previous_key_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("previous_key_prefix", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("previous_expires_at", UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column("previous_last_used_at", UtcDateTime(), nullable=True))
        batch_op.create_index("ix_api_keys_previous_key_hash", ["previous_key_hash"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_api_keys_previous_key_hash")
        for column in ("previous_last_used_at", "previous_expires_at", "previous_key_prefix",
                       "previous_key_hash", "rate_limit", "expires_at", "last_client"):  # fmt: skip
            batch_op.drop_column(column)
