"""Migrations reach head, match the models exactly, and go down and up again."""

from __future__ import annotations

import pytest
from alembic import command

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


def test_upgrade_is_idempotent(database_url: str) -> None:
    upgrade(database_url)
    before = current_revision(database_url)

    upgrade(database_url)

    assert current_revision(database_url) == before


@pytest.fixture(autouse=True)
def _fresh_engines() -> None:
    from workers.store.engine import dispose_engines

    dispose_engines()
