"""audit trail

One row per administrative action, written in the transaction of the change: actor, action,
target, a before/after summary without secrets, and the request's correlation id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from workers.store.migrations.builders import create_newest_first_index
from workers.store.types import JsonDocument, UtcDateTime

revision = "0016_audit"
down_revision = "0014_key_expiry_rotation_limits"


def upgrade() -> None:
    # (name, length, nullable) of the text columns: who, what, and on what
    text = [("actor", 200, False), ("action", 100, False), ("target_kind", 50, False),
            ("target_id", 200, True), ("target_name", 200, True)]  # fmt: skip
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        *[sa.Column(name, sa.String(length=n), nullable=null) for name, n, null in text],
        *[sa.Column(name, JsonDocument, nullable=True) for name in ("before", "after")],
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    create_newest_first_index("audit_entries")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entries_actor", ["actor"], unique=False)
        batch_op.create_index("ix_audit_entries_action", ["action"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        for index in ("action", "actor", "created"):
            batch_op.drop_index(f"ix_audit_entries_{index}")
    op.drop_table("audit_entries")
