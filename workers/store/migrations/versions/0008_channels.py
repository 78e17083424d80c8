"""notification channels

Revision ID: 0008_channels
Revises: 0007_templates
Create Date: 2026-12-07

One row per channel (email, webhook, slack, apprise): public settings as JSON, secrets as
text that is a Fernet token when `sealed`, else plain JSON.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workers.store.types import JsonDocument, UtcDateTime

revision = "0008_channels"
down_revision = "0007_templates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("config", JsonDocument, nullable=False),
        sa.Column("secret_config", sa.Text(), nullable=False),
        sa.Column("sealed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.create_index("ix_channels_created", ["created_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_index("ix_channels_created")
    op.drop_table("channels")
