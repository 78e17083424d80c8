"""Maintenance tasks: registration, backup naming and rotation, credentials kept off argv."""

from __future__ import annotations

import inspect
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from cli.maintenance import flatten, summary
from tasks.maintenance import backup
from tasks.maintenance.catalog import MAINTENANCE, NAMES, MaintenanceTask, runner
from tasks.maintenance.runs import describe, maintenance_task
from workers.app import app
from workers.celery_config import TASK_MODULES
from workers.errors import TaskyardError
from workers.queues import route_task

PG_URL = make_url("postgresql+psycopg2://ops:s3cr%40t@db.internal:5433/taskyard?sslmode=require")
SQLITE_URL = make_url("sqlite:////srv/var/taskyard.db")


@pytest.mark.parametrize("name", NAMES)
def test_every_task_is_registered_routed_to_default_and_never_retried(name: str) -> None:
    app.loader.import_default_modules()  # what a worker does at start
    task = app.tasks[f"maintenance.{name}"]

    assert route_task(task.name, (), {}, {}) == {"queue": "default"}
    assert task.max_retries == 0
    assert task.acks_late is False  # a long run is not redelivered after the visibility timeout
    doc = " ".join((task.__doc__ or "").split())
    assert "idempotent" in doc or "safe to repeat" in doc
    assert "retry" in doc


def test_the_app_loads_every_registered_task_and_nothing_else() -> None:
    assert "tasks.maintenance.tasks" in TASK_MODULES  # the family, named once as a string
    app.loader.import_default_modules()

    registered = {name for name in app.tasks if name.startswith("maintenance.")}
    assert registered == {task.task for task in MAINTENANCE}
    assert [runner(task.name).__module__ for task in MAINTENANCE] == [t.module for t in MAINTENANCE]


def test_a_task_without_a_row_in_the_registry_cannot_be_registered() -> None:
    with pytest.raises(LookupError, match=r"maintenance\.defrag has no row"):
        maintenance_task("defrag", 60)


@pytest.mark.parametrize("task", MAINTENANCE, ids=lambda task: task.name)
def test_declared_arguments_are_exactly_what_the_task_takes(task: MaintenanceTask) -> None:
    declared = set(task.arguments.model_fields)

    assert set(inspect.signature(app.tasks[task.task].run).parameters) == declared
    assert set(inspect.signature(runner(task.name)).parameters) == declared
    assert task.arguments.model_config.get("extra") == "forbid"
    assert task.arguments.model_config.get("strict") is True


def test_libpq_gets_the_credentials_from_the_environment() -> None:
    env = backup.libpq_environment(PG_URL)

    assert env == {
        "PGHOST": "db.internal",
        "PGPORT": "5433",
        "PGUSER": "ops",
        "PGPASSWORD": "s3cr@t",
        "PGDATABASE": "taskyard",
        "PGSSLMODE": "require",
    }


def test_pg_dump_never_sees_the_password_on_its_command_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []

    def fake_run(command: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
        calls.append((command, options["env"]))
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(backup, "pg_tool", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(backup.subprocess, "run", fake_run)

    backup.dump_postgres(PG_URL, tmp_path / "x.dump")

    command, env = calls[0]
    assert command[:2] == ["/usr/bin/pg_dump", "--format=custom"]
    assert not any("s3cr" in part or "db.internal" in part for part in command)
    assert env["PGPASSWORD"] == "s3cr@t"


def test_a_tool_failure_is_reported_without_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(command: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, 1, "", "auth failed for s3cr@t\n")

    monkeypatch.setattr(backup, "pg_tool", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(backup.subprocess, "run", failing)

    with pytest.raises(backup.BackupFailed) as raised:
        backup.dump_postgres(PG_URL, Path("x.dump"))

    assert "s3cr@t" not in str(raised.value)
    assert "pg_dump failed: auth failed for ***" in str(raised.value)


def test_rotation_keeps_the_newest_of_this_store_only(tmp_path: Path) -> None:
    ours = [tmp_path / f"taskyard-2026010{d}T000000.000000Z.sqlite3" for d in range(1, 5)]
    others = [tmp_path / "other-20260101T000000.000000Z.sqlite3", tmp_path / "taskyard.notes",
              tmp_path / "taskyard-20260101T000000.000000Z.dump"]  # fmt: skip
    for path in ours + others:
        path.write_bytes(b"x")

    deleted = backup.rotate(tmp_path, SQLITE_URL, keep=2)

    assert deleted == ours[:2]
    assert sorted(tmp_path.iterdir()) == sorted(ours[2:] + others)


def test_backup_names_follow_the_database() -> None:
    assert backup.backup_name(PG_URL) == "taskyard"
    assert backup.backup_name(make_url("sqlite:////tmp/x/my store.db")) == "my_store"


def test_a_corrupt_sqlite_copy_fails_verification(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"not a database" * 100)

    with pytest.raises(backup.BackupFailed, match=r"integrity_check of bad\.sqlite3 failed"):
        backup.verify_sqlite(bad)


def test_figures_flatten_for_tables() -> None:
    figures = {"a": 1, "nested": {"b": None, "c": 2.5}, "reason": "x"}

    assert flatten(figures) == [("a", "1"), ("nested.b", "-"), ("nested.c", "2.5"), ("reason", "x")]
    assert summary(figures) == "a=1, nested.b=-, nested.c=2.5"


def test_errors_are_described_on_one_line() -> None:
    assert describe(ValueError("bad\nthing")) == "bad thing (ValueError)"
    assert describe(TaskyardError("already clear")) == "already clear"
    assert describe(KeyError()) == "KeyError"
