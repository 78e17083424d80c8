"""notification channels

One row per channel (email, webhook, slack, apprise): public settings as JSON, secrets as
text that is a Fernet token when `sealed`, else plain JSON.
"""

from __future__ import annotations

import sqlalchemy as sa

from workers.store.migrations.builders import create_named_table, drop_named_table
from workers.store.types import JsonDocument

revision = "0008_channels"
down_revision = "0007_templates"


def upgrade() -> None:
    create_named_table(
        "channels",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("config", JsonDocument, nullable=False),
        sa.Column("secret_config", sa.Text(), nullable=False),
        sa.Column("sealed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    drop_named_table("channels")
