"""API key expiry, rotation, last client address and rate limit

A key may expire, carry its own rate limit, and keep the secret its last rotation replaced
(its hash, prefix, grace end and last use) so both work until the grace ends.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workers.store.types import UtcDateTime

revision = "0014_key_expiry_rotation_limits"
down_revision = "0013_alert_routing"
branch_labels = None
depends_on = None


#: The columns this revision adds to ``api_keys``, in order.
NEW_COLUMNS = (
    ("last_client", sa.String(length=64)),
    ("expires_at", UtcDateTime()),
    ("rate_limit", sa.String(length=64)),
    ("previous_key_hash", sa.String(length=64)),
    ("previous_key_prefix", sa.String(length=16)),
    ("previous_expires_at", UtcDateTime()),
    ("previous_last_used_at", UtcDateTime()),
)
PREVIOUS_HASH_INDEX = "ix_api_keys_previous_key_hash"


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as keys:
        for name, kind in NEW_COLUMNS:
            keys.add_column(sa.Column(name, kind, nullable=True))
        keys.create_index(PREVIOUS_HASH_INDEX, ["previous_key_hash"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as keys:
        keys.drop_index(PREVIOUS_HASH_INDEX)
        for name, _ in reversed(NEW_COLUMNS):
            keys.drop_column(name)
