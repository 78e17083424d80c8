"""Migrations reach head, match the models exactly, and go down and up again, each revision's
downgrade restoring exactly the schema before it."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from workers.store.engine import get_engine
from workers.store.migrate import alembic_config, current_revision, upgrade


def _run(url: str, action: str, *args: str) -> None:
    config = alembic_config(url)
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, *args)


def test_models_and_migrations_agree_and_round_trip(database_url: str) -> None:
    upgrade(database_url)
    _run(database_url, "check")  # raises if autogenerate finds any difference

    _run(database_url, "downgrade", "base")
    assert current_revision(database_url) is None

    upgrade(database_url)
    assert current_revision(database_url) is not None
    _run(database_url, "check")


def _schema(url: str) -> dict[str, Any]:
    """Every table's columns (in order), key, unique constraints, foreign keys and indexes
    (with the condition of a partial one)."""
    with get_engine(url).connect() as connection:
        found = inspect(connection)
        return {
            table: (
                [(c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                 for c in found.get_columns(table)],
                found.get_pk_constraint(table)["constrained_columns"],
                sorted(str(u) for u in found.get_unique_constraints(table)),
                sorted(str(f) for f in found.get_foreign_keys(table)),
                sorted(
                    str((i["name"], i["column_names"], bool(i["unique"]),
                         {key: str(value) for key, value in i.get("dialect_options", {}).items()}))
                    for i in found.get_indexes(table)
                ),
            )
            for table in found.get_table_names()
            if table != "alembic_version"
        }  # fmt: skip


def test_each_downgrade_restores_exactly_the_schema_before_its_upgrade(database_url: str) -> None:
    # Given the store at base, when each revision is applied and then undone, then the schema
    # is the one before it: the shared builders of workers.store.migrations undo what they do.
    scripts = ScriptDirectory.from_config(alembic_config(database_url))
    revisions = [script.revision for script in reversed(list(scripts.walk_revisions()))]
    _run(database_url, "downgrade", "base")
    for revision in revisions:
        before = _schema(database_url)
        upgrade(database_url, revision)
        assert _schema(database_url) != before, f"{revision} changed nothing"
        _run(database_url, "downgrade", "-1")
        assert _schema(database_url) == before, f"{revision}'s downgrade left a difference"
        upgrade(database_url, revision)


def test_upgrade_is_idempotent(database_url: str) -> None:
    upgrade(database_url)
    before = current_revision(database_url)

    upgrade(database_url)

    assert current_revision(database_url) == before


@pytest.fixture(autouse=True)
def _fresh_engines() -> None:
    from workers.store.engine import dispose_engines

    dispose_engines()
