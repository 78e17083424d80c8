"""notification templates"""

from __future__ import annotations

import sqlalchemy as sa

from workers.store.migrations.builders import create_named_table, drop_named_table
from workers.store.types import JsonDocument

revision = "0007_templates"
down_revision = "0006"


def upgrade() -> None:
    create_named_table(
        "templates",
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("sample_data", JsonDocument, nullable=False),
        sa.Column("default_channels", JsonDocument, nullable=False),
    )


def downgrade() -> None:
    drop_named_table("templates")
