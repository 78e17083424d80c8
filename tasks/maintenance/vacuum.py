"""``maintenance.vacuum``: reclaim space and refresh planner statistics in the store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from tasks.maintenance.runs import RunResult, maintenance_task, run_maintenance
from workers.store.engine import get_engine

NAME = "vacuum"
LOCK_TTL_S = 3600
TIME_LIMIT_S = 7200


def _size_bytes(connection: Connection) -> int:
    if connection.dialect.name == "postgresql":
        return int(connection.scalar(text("SELECT pg_database_size(current_database())")) or 0)
    pages = connection.scalar(text("PRAGMA page_count")) or 0
    return int(pages) * int(connection.scalar(text("PRAGMA page_size")) or 0)


def vacuum_store(figures: dict[str, Any]) -> None:
    """``VACUUM (ANALYZE)`` on PostgreSQL; ``VACUUM`` then ``PRAGMA optimize`` on SQLite.

    Both run outside a transaction, which VACUUM requires; ``figures`` get the store's size
    before and after."""
    engine = get_engine()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        figures["dialect"] = connection.dialect.name
        figures["bytes_before"] = _size_bytes(connection)
        if connection.dialect.name == "postgresql":
            connection.execute(text("VACUUM (ANALYZE)"))
        else:
            connection.execute(text("VACUUM"))
            connection.execute(text("PRAGMA optimize"))
        figures["bytes_after"] = _size_bytes(connection)


def vacuum() -> RunResult:
    """Run and record one vacuum of the store."""
    return run_maintenance(NAME, vacuum_store, lock_ttl_s=LOCK_TTL_S)


@maintenance_task(NAME, TIME_LIMIT_S)
def vacuum_task() -> dict[str, Any]:
    """VACUUM and ANALYZE the store; idempotent; no retry (the next scheduled run is the retry)."""
    return vacuum().reported()
