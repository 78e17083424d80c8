"""The real Redis and PostgreSQL a test run uses: the machine's when running, else its own."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import redis
from sqlalchemy import text

from workers.embedded_redis import EmbeddedRedis, start_embedded_redis
from workers.store.engine import get_engine

DEFAULT_PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
#: Database indexes test modules may claim (index 0 holds the claims).
CLAIMABLE_DBS = range(1, 16)
CLAIM_TTL_S = 1800


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class RedisServer:
    """A Redis for this test run: ``base`` builds URLs; ``embedded`` is ours to stop."""

    tcp: tuple[str, int] | None
    embedded: EmbeddedRedis | None

    def url(self, db: int) -> str:
        """Broker/result URL of database ``db``."""
        if self.embedded is not None:
            return self.embedded.url(db)
        assert self.tcp is not None
        return f"redis://{self.tcp[0]}:{self.tcp[1]}/{db}"

    def client(self, db: int) -> redis.Redis:
        """A redis-py client on database ``db``."""
        if self.embedded is not None:
            return self.embedded.client(db)
        assert self.tcp is not None
        return redis.Redis(host=self.tcp[0], port=self.tcp[1], db=db)

    @contextmanager
    def claim_db(self) -> Iterator[int]:
        """An empty database index no other test module (or concurrent run) is using."""
        claims = self.client(0)
        token = f"{os.getpid()}:{uuid.uuid4().hex}"
        for db in CLAIMABLE_DBS:
            if claims.set(f"taskyard-test:claim:{db}", token, nx=True, ex=CLAIM_TTL_S):
                break
        else:
            raise RuntimeError("every test Redis database is claimed; is another run stuck?")
        client = self.client(db)
        client.flushdb()
        try:
            yield db
        finally:
            client.flushdb()
            client.close()
            if claims.get(f"taskyard-test:claim:{db}") == token.encode():
                claims.delete(f"taskyard-test:claim:{db}")
            claims.close()


@contextmanager
def redis_server() -> Iterator[RedisServer]:
    """The machine's Redis at 127.0.0.1:6379 when it answers, else an embedded one."""
    if port_open("127.0.0.1", 6379):
        yield RedisServer(tcp=("127.0.0.1", 6379), embedded=None)
        return
    with tempfile.TemporaryDirectory(prefix="taskyard-redis-") as directory:
        server = start_embedded_redis(Path(directory), appendonly=False)
        try:
            yield RedisServer(tcp=None, embedded=server)
        finally:
            server.stop()


def postgres_admin_url() -> str | None:
    """The PostgreSQL to create test databases on, or ``None`` when none is reachable."""
    url = os.environ.get("TASKYARD_TEST_DATABASE_URL")
    if url:
        return url
    return DEFAULT_PG if port_open("127.0.0.1", 5432) else None


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


def _admin_execute(admin_url: str, sql: str) -> None:
    connection = psycopg2.connect(_dsn(admin_url))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


@contextmanager
def scratch_postgres_database(admin_url: str, prefix: str = "taskyard_test") -> Iterator[str]:
    """A new, empty PostgreSQL database named ``prefix_*``, dropped afterwards; yields its
    SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    _admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def drop_store_connections() -> None:
    """Have PostgreSQL terminate every other connection to the store's database, as a server
    restart or a network cut would drop the ones a process keeps."""
    with get_engine().connect() as admin:
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        admin.commit()
