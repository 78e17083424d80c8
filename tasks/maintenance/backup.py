"""``maintenance.backup``: a verified copy of the store, last N kept.

Files are ``<database>-<UTC time>.dump`` (PostgreSQL) or ``<file stem>-<UTC time>.sqlite3``
in ``TASKYARD_BACKUP_DIR`` (default ``<TASKYARD_VAR_DIR>/backups``).

PostgreSQL: ``pg_dump --format=custom`` with the credentials in libpq's environment (never on
the command line or in a log line), checked with ``pg_restore --list``. SQLite: the online
backup API, checked with ``PRAGMA integrity_check``. A backup is written under a ``.partial``
name and renamed only once verified; a copy that fails verification is deleted and fails the
run, and rotation (keeping ``TASKYARD_BACKUP_KEEP``) only runs after a good one.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url

from tasks.maintenance.runs import RunResult, maintenance_task, run_maintenance
from workers.errors import TaskyardError
from workers.settings import get_settings
from workers.store.types import utcnow

NAME = "backup"
LOCK_TTL_S = 3600
TIME_LIMIT_S = 4 * 3600
SUFFIXES = {"postgresql": ".dump", "sqlite": ".sqlite3"}
STAMP = "%Y%m%dT%H%M%S.%fZ"
_STAMP_PATTERN = r"-\d{8}T\d{6}\.\d{6}Z"
#: libpq environment variables for URL query parameters a DSN may carry.
_LIBPQ_QUERY_ENV = {"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
                    "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
                    "connect_timeout": "PGCONNECT_TIMEOUT", "host": "PGHOST",
                    "port": "PGPORT", "application_name": "PGAPPNAME"}  # fmt: skip


class BackupFailed(TaskyardError):
    """A backup could not be written or did not verify."""

    code = "backup_failed"


def _major(path: str) -> int:
    version = Path(path).parent.parent.name
    return int(version.split(".")[0]) if version.split(".")[0].isdigit() else 0


def pg_tool(name: str) -> str:
    """``pg_dump``/``pg_restore`` from PATH, else the newest ``/usr/lib/postgresql/*/bin``."""
    installed = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_major)
    found = shutil.which(name) or (installed[-1] if installed else None)
    if found is None:
        raise BackupFailed(f"{name} was not found on PATH or in /usr/lib/postgresql/*/bin; "
                           "install the PostgreSQL client matching the server")  # fmt: skip
    return found


def libpq_environment(url: URL) -> dict[str, str]:
    """The environment that points libpq at ``url``: PGHOST, PGUSER, PGPASSWORD..."""
    env = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    for parameter, variable in _LIBPQ_QUERY_ENV.items():
        value = url.query.get(parameter)
        if value is not None:
            env[variable] = value if isinstance(value, str) else value[-1]
    return {name: str(value) for name, value in env.items() if value}


def _run_pg(command: list[str], url: URL) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **libpq_environment(url)}
    result = subprocess.run(command, env=env, capture_output=True, text=True,
                            timeout=TIME_LIMIT_S, check=False)  # fmt: skip
    if result.returncode != 0:
        detail = " ".join(result.stderr.split())[-500:] or f"exit status {result.returncode}"
        if url.password:
            detail = detail.replace(url.password, "***")
        tool = Path(command[0]).name
        raise BackupFailed(f"{tool} failed: {detail}")
    return result


def dump_postgres(url: URL, target: Path) -> None:
    """``pg_dump --format=custom`` of ``url``'s database into ``target``."""
    _run_pg([pg_tool("pg_dump"), "--format=custom", "--no-password", f"--file={target}"], url)


def verify_postgres(url: URL, target: Path) -> None:
    """``pg_restore --list`` reads the whole table of contents, or the dump is bad."""
    listing = _run_pg([pg_tool("pg_restore"), "--list", str(target)], url)
    if "TABLE DATA" not in listing.stdout:
        raise BackupFailed(f"pg_restore --list found no table data in {target.name}")


def sqlite_path(url: URL) -> Path:
    """The database file of a ``sqlite:///`` URL."""
    if not url.database or url.database == ":memory:":
        raise BackupFailed("an in-memory SQLite store cannot be backed up; use a file")
    return Path(url.database)


def copy_sqlite(url: URL, target: Path) -> None:
    """Copy the SQLite store with the online backup API (consistent while others write)."""
    source = sqlite3.connect(sqlite_path(url), timeout=15)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        # One self-contained file: the copy inherits WAL mode, which would leave -wal/-shm files.
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()
        source.close()


def verify_sqlite(target: Path) -> None:
    """``PRAGMA integrity_check`` answers ``ok``, or the copy is bad."""
    copy = sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True)
    try:
        verdict = [str(row[0]) for row in copy.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as error:
        verdict = [str(error)]
    finally:
        copy.close()
    if verdict != ["ok"]:
        raise BackupFailed(f"integrity_check of {target.name} failed: {'; '.join(verdict)[:300]}")


def backup_name(url: URL) -> str:
    """What this store's backups are called before their time stamp: the database's name
    (the file's stem on SQLite), so stores sharing a directory never rotate each other's."""
    stem = Path(url.database or "").stem if url.get_backend_name() == "sqlite" else url.database
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem or "taskyard")


def existing_backups(directory: Path, url: URL) -> list[Path]:
    """This store's finished backups in ``directory``, oldest first (names sort by time)."""
    name, suffix = backup_name(url), SUFFIXES[url.get_backend_name()]
    pattern = re.compile(re.escape(name) + _STAMP_PATTERN + re.escape(suffix))
    return sorted(p for p in directory.glob(f"{name}-*{suffix}") if pattern.fullmatch(p.name))


def rotate(directory: Path, url: URL, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups of this store; returns the ones deleted."""
    doomed = existing_backups(directory, url)[:-keep]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def write_backup(url: URL, directory: Path) -> Path:
    """Write, verify and publish one backup of ``url`` in ``directory``; returns its path."""
    dialect = url.get_backend_name()
    stamp = utcnow().strftime(STAMP)
    final = directory / f"{backup_name(url)}-{stamp}{SUFFIXES[dialect]}"
    partial = final.with_name(f".{final.name}.partial")
    try:
        if dialect == "postgresql":
            dump_postgres(url, partial)
            verify_postgres(url, partial)
        else:
            copy_sqlite(url, partial)
            verify_sqlite(partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(final)
    return final


def backup_store(figures: dict[str, Any], keep: int | None = None) -> None:
    """Back up the store to ``TASKYARD_BACKUP_DIR``, verify it, keep the newest ``keep``."""
    settings = get_settings()
    if keep is not None and keep < 1:
        raise BackupFailed(f"keep must be at least 1, not {keep}")
    url = make_url(settings.database_url)
    if url.get_backend_name() not in SUFFIXES:
        raise BackupFailed(f"cannot back up a {url.get_backend_name()} store")
    directory = settings.backup_path.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob(f".{backup_name(url)}-*.partial"):  # left by a killed run
        stale.unlink(missing_ok=True)
    path = write_backup(url, directory)
    figures.update(file=str(path), bytes=path.stat().st_size, verified=True)
    figures["rotated"] = len(rotate(directory, url, keep or settings.backup_keep))
    figures["kept"] = len(existing_backups(directory, url))


def backup(keep: int | None = None) -> RunResult:
    """Run and record one backup (``keep`` defaults to ``TASKYARD_BACKUP_KEEP``)."""
    return run_maintenance(NAME, lambda figures: backup_store(figures, keep), lock_ttl_s=LOCK_TTL_S)


@maintenance_task(NAME, TIME_LIMIT_S)
def backup_task(keep: int | None = None) -> dict[str, Any]:
    """Back up the store, verified and rotated; idempotent; no retry (the next run is the retry)."""
    return backup(keep).reported()
