"""Alembic environment: runs on the connection ``workers.store.migrate`` hands in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from workers.store.engine import get_engine
from workers.store.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    with get_engine(context.config.get_main_option("sqlalchemy.url")).begin() as owned:
        _run(owned)
