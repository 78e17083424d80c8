"""One SQLAlchemy engine per process: a forked child never reuses its parent's connections."""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from workers.errors import StoreUnavailable
from workers.observability import tracing
from workers.observability.metrics import STORE_COMMIT, STORE_CONNECTIONS, child
from workers.settings import get_settings

_engines: dict[str, Engine] = {}


class _Held(threading.local):
    """One thread's kept writer connections (see :func:`writer_connection`)."""

    def __init__(self) -> None:
        self.connections: dict[str, Connection] = {}
        _holders.add(self)

    def release(self) -> None:
        """Give every kept connection back to its pool."""
        connections, self.connections = self.connections, {}
        for connection in connections.values():
            with suppress(Exception):
                connection.close()


_holders: weakref.WeakSet[_Held] = weakref.WeakSet()
_held = _Held()


def _release_before_fork() -> None:
    # A connection kept across a fork would be shared with the child, and the child's garbage
    # collector would terminate it under the parent. Pool processes fork from the worker's
    # main process, between its own writes.
    for holder in list(_holders):
        holder.release()


def _forget_after_fork() -> None:
    # The parent's pooled sockets must not be used (or closed) by the child.
    for engine in _engines.values():
        engine.dispose(close=False)
    _engines.clear()


os.register_at_fork(before=_release_before_fork, after_in_child=_forget_after_fork)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _count_connections(engine: Engine) -> None:
    """Keep ``taskyard_store_connections`` (open, in use) as this engine's pool changes.

    Each connection's record carries what it was counted as, so a check-in after a failed
    checkout, or a close after an invalidation, never counts twice."""
    gauges = {state: STORE_CONNECTIONS.labels(state) for state in ("open", "in_use")}

    def count(state: str) -> Callable[..., None]:
        def on_event(_dbapi: Any, record: Any, *_: Any) -> None:
            if not record.info.get(f"taskyard.{state}"):
                record.info[f"taskyard.{state}"] = True
                gauges[state].inc()

        return on_event

    def uncount(state: str) -> Callable[..., None]:
        def on_event(_dbapi: Any, record: Any, *_: Any) -> None:
            if record is not None and record.info.pop(f"taskyard.{state}", False):
                gauges[state].dec()

        return on_event

    event.listen(engine, "connect", count("open"))
    event.listen(engine, "close", uncount("open"))
    event.listen(engine, "detach", uncount("open"))
    event.listen(engine, "checkout", count("in_use"))
    event.listen(engine, "checkin", uncount("in_use"))


def build_engine(url: str, *, writer: bool = False, durable: bool = True) -> Engine:
    """A new engine for ``url`` with the pool and pragmas Taskyard expects.

    A ``writer`` engine is for the hot path of single-statement writes (a worker's record
    writes, the dispatcher): autocommit, and no ping before each checkout, since every caller
    retries a write on a dropped connection (:mod:`workers.store.resilience`). A writer that
    is not ``durable`` commits without waiting for PostgreSQL's WAL flush
    (``synchronous_commit=off``): see :func:`get_writer_engine`."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 15, "check_same_thread": False},
            **({"isolation_level": "AUTOCOMMIT"} if writer else {}),
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        _count_connections(engine)
        tracing.trace_statements(engine)
        return engine
    engine = create_engine(
        url,
        pool_pre_ping=not writer,
        pool_size=10,
        max_overflow=20,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": 5,
            "application_name": "taskyard",
            **({} if durable else {"options": "-c synchronous_commit=off"}),
        },
        **({"isolation_level": "AUTOCOMMIT"} if writer else {}),
    )
    _count_connections(engine)
    tracing.trace_statements(engine)
    return engine


def get_engine(url: str | None = None) -> Engine:
    """This process's engine for ``url`` (the settings' database by default)."""
    url = url or get_settings().database_url
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = build_engine(url)
    return engine


def get_writer_engine(*, durable: bool = True) -> Engine:
    """This process's autocommit engine for single-statement writes on the hot path.

    ``durable=False`` is for writes the state machine can afford to lose in a PostgreSQL crash
    (an attempt's outcome, heartbeats, progress). Such a commit returns before its WAL record
    reaches the disk, so a server crash can undo the last few hundred milliseconds of them.
    The job then looks ``started`` by a silent worker, and the reaper runs it again: an
    at-least-once outcome, never a lost job. Starts (but those of a job type fenced by a
    durable claim of its own: ``JobType.durable_start``) and everything a producer writes stay
    durable. SQLite already commits without a full sync (WAL, ``synchronous=NORMAL``)."""
    url = get_settings().database_url
    durable = durable or url.startswith("sqlite")
    key = f"{'writer' if durable else 'outcome-writer'}:{url}"
    engine = _engines.get(key)
    if engine is None:
        engine = _engines[key] = build_engine(url, writer=True, durable=durable)
    return engine


@contextmanager
def writer_connection(*, durable: bool = True) -> Iterator[Connection]:
    """This thread's kept connection on the writer engine (see :func:`get_writer_engine`).

    A worker writes twice per job and its heartbeat thread every few seconds: keeping the
    connection spares the pool's checkout and return on every write (``docs/performance.md``).
    A connection that raised is closed, and the next write opens a fresh one."""
    engine = get_writer_engine(durable=durable)
    # A connection of an engine since replaced (the settings changed) is not reused: see below.
    key = "durable" if durable else "outcome"
    connection = _held.connections.get(key)
    if connection is not None and (connection.closed or connection.engine is not engine):
        _held.connections.pop(key)
        with suppress(Exception):
            connection.close()
        connection = None
    if connection is None:
        connection = _held.connections[key] = engine.connect()
    began = time.perf_counter()
    try:
        yield connection
    except BaseException:
        _held.connections.pop(key, None)
        with suppress(Exception):
            connection.close()
        raise
    child(STORE_COMMIT, "autocommit").observe(time.perf_counter() - began)


def dispose_engines() -> None:
    """Close every pooled connection (tests and shutdown)."""
    _release_before_fork()
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success, rolls back on error, and maps outages to 503s."""
    factory = sessionmaker(get_engine(url), expire_on_commit=False)
    try:
        with factory.begin() as session:
            yield session
            committing = time.perf_counter()
        STORE_COMMIT.labels("transaction").observe(time.perf_counter() - committing)
    except DBAPIError as error:
        if error.connection_invalidated or _is_outage(error):
            raise StoreUnavailable("the job store is unreachable; try again shortly") from error
        raise


def _is_outage(error: DBAPIError) -> bool:
    return isinstance(error, OperationalError | InterfaceError)
