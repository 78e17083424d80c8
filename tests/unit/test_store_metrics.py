"""Store metrics: every pool's connections, open and in use, return to where they were
(an invalidated connection is not counted twice), and commits are timed, failures not."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from workers.store.engine import build_engine, session_scope


def _connections(state: str) -> float:
    return REGISTRY.get_sample_value("taskyard_store_connections", {"state": state}) or 0.0


def _commits(kind: str) -> float:
    labels = {"kind": kind}
    return REGISTRY.get_sample_value("taskyard_store_commit_seconds_count", labels) or 0.0


def test_connections_open_and_in_use_are_counted_once_each(tmp_path: Path) -> None:
    # Given a fresh engine
    engine = build_engine(f"sqlite:///{tmp_path / 'store.db'}")
    opened, in_use = _connections("open"), _connections("in_use")

    # When a connection is checked out, it is open and in use
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        assert (_connections("open"), _connections("in_use")) == (opened + 1, in_use + 1)
    # and checked in, it stays open for the next checkout
    assert (_connections("open"), _connections("in_use")) == (opened + 1, in_use)

    # When one is invalidated while checked out, then it is closed and in use no more
    with engine.connect() as connection:
        connection.invalidate()
    assert (_connections("open"), _connections("in_use")) == (opened, in_use)

    # and a disposed engine leaves nothing counted
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    engine.dispose()
    assert (_connections("open"), _connections("in_use")) == (opened, in_use)


def test_a_session_commit_is_timed_and_a_failed_one_is_not(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    before = _commits("transaction")

    with session_scope(url) as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    with pytest.raises(RuntimeError, match="rolled back"):
        _insert_then_fail(url)

    assert _commits("transaction") == before + 1


def _insert_then_fail(url: str) -> None:
    with session_scope(url) as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        raise RuntimeError("rolled back")
