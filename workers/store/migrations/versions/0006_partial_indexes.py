"""partial indexes off the hot path

Every status change rewrites a job's row, and PostgreSQL then adds an entry to every index
the new row belongs to. The due, heartbeat and replay indexes only ever serve rows in one
state, so they become partial: a job passing through dispatching, queued, started and
succeeded no longer feeds them. Claims left in `dispatching` get an index of their own.
"""

from __future__ import annotations

from alembic import op

from workers.store.types import partial_where

revision = "0006"
down_revision = "0005"

PARTIAL = {
    "ix_jobs_due": (["run_at"], "status IN ('scheduled', 'retrying')"),
    "ix_jobs_dispatching": (["dispatched_at"], "status = 'dispatching'"),
    "ix_jobs_heartbeat": (["heartbeat_at"], "status = 'started'"),
    "ix_jobs_replay_of": (["replay_of"], "replay_of IS NOT NULL"),
}
FULL = {
    "ix_jobs_due": ["status", "run_at"],
    "ix_jobs_heartbeat": ["status", "heartbeat_at"],
    "ix_jobs_replay_of": ["replay_of"],
}


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        for name in FULL:
            batch_op.drop_index(name)
        for name, (columns, condition) in PARTIAL.items():
            batch_op.create_index(name, columns, unique=False, **partial_where(condition))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        for name in PARTIAL:
            batch_op.drop_index(name)
        for name, columns in FULL.items():
            batch_op.create_index(name, columns, unique=False)
