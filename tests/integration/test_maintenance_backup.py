"""Backups of a real store (SQLite, then PostgreSQL): they restore with the same rows, rotate,
and a copy that fails verification is deleted."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from tasks.maintenance import backup as backup_module
from tasks.maintenance.backup import backup, pg_tool
from tasks.maintenance.runs import RunOutcome
from tests.support.services import scratch_postgres_database
from workers.settings import get_settings
from workers.store.engine import session_scope
from workers.store.keys import create_key
from workers.store.models import Base, Job, JobStatus
from workers.store.types import utcnow

TABLES = [table.name for table in Base.metadata.sorted_tables] + ["alembic_version"]


@pytest.fixture
def backup_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A fresh TASKYARD_BACKUP_DIR for this test, keeping 2 backups."""
    monkeypatch.setenv("TASKYARD_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.setenv("TASKYARD_BACKUP_KEEP", "2")
    get_settings.cache_clear()
    yield tmp_path / "backups"
    monkeypatch.undo()
    get_settings.cache_clear()


def row_counts(url: str) -> dict[str, int]:
    """Rows per table of the store at ``url``."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {name: int(connection.scalar(select(func.count()).select_from(text(name))) or 0)
                    for name in TABLES}  # fmt: skip
    finally:
        engine.dispose()


@contextmanager
def restored(request: pytest.FixtureRequest, dump: Path) -> Iterator[str]:
    """The URL of a new database holding ``dump``."""
    if dump.suffix == ".sqlite3":
        yield f"sqlite:///{dump}"
        return
    with scratch_postgres_database(request.getfixturevalue("postgres_admin")) as url:
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        subprocess.run([pg_tool("pg_restore"), "--no-owner", f"--dbname={dsn}", str(dump)],
                       check=True, capture_output=True, timeout=60)  # fmt: skip
        yield url


def test_a_backup_restores_with_the_same_row_counts(
    runtime: dict[str, str], backup_dir: Path, request: pytest.FixtureRequest
) -> None:
    # Given a store with jobs and a key
    create_key(f"backup-{uuid.uuid4().hex[:6]}", ["admin"])
    with session_scope() as session:
        session.add_all(Job(id=uuid.uuid4(), type="diag.noop", queue="bulk", priority=1,
                            status=JobStatus.SUCCEEDED.value, payload={"n": n}, attempts=1,
                            created_at=utcnow(), finished_at=utcnow(), max_attempts=1,
                            timed_out=False) for n in range(25))  # fmt: skip

    # When it is backed up
    result = backup()

    # Then the verified copy restores into a new database with the same rows
    assert result.outcome is RunOutcome.SUCCEEDED, result.error
    dump = Path(result.figures["file"])
    assert dump.parent == backup_dir.resolve()
    assert result.figures["verified"] is True
    assert result.figures["bytes"] == dump.stat().st_size > 0
    expected = row_counts(get_settings().database_url)
    assert expected["jobs"] >= 25
    with restored(request, dump) as copy:
        assert row_counts(copy) == expected


def test_rotation_keeps_the_newest_backups(runtime: dict[str, str], backup_dir: Path) -> None:
    runs = [backup() for _ in range(3)]

    # (and each backup is one self-contained file: no -wal, -shm or .partial left over)
    assert [r.outcome for r in runs] == [RunOutcome.SUCCEEDED] * 3
    assert [(r.figures["rotated"], r.figures["kept"]) for r in runs] == [(0, 1), (0, 2), (1, 2)]
    assert sorted(backup_dir.iterdir()) == sorted(Path(r.figures["file"]) for r in runs[1:])


def test_a_copy_that_fails_verification_is_deleted_and_fails_the_run(
    runtime: dict[str, str], backup_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a store whose copy comes out corrupt
    def corrupt(url: object, target: Path) -> None:
        target.write_bytes(b"\x00garbage" * 1000)

    monkeypatch.setattr(backup_module, "copy_sqlite", corrupt)
    monkeypatch.setattr(backup_module, "dump_postgres", corrupt)

    # When a backup runs
    result = backup()

    # Then the run failed saying why, and no file (final or partial) is left behind
    assert result.outcome is RunOutcome.FAILED
    assert "integrity_check" in (result.error or "") or "pg_restore failed" in (result.error or "")
    assert list(backup_dir.iterdir()) == []
