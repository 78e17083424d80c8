"""Shared fixtures: one Redis per run, a claimed Redis database and a fresh store per module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.support.postgres import can_start_cluster, scratch_cluster
from tests.support.rabbitmq import require_rabbitmq, scratch_vhost
from tests.support.runtime import taskyard_runtime
from tests.support.services import (
    RedisServer,
    postgres_admin_url,
    redis_server,
    scratch_postgres_database,
)
from tests.support.sinks import SINK_SECRET, HttpSink, http_sink

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def redis_service() -> Iterator[RedisServer]:
    """The machine's Redis when running, else an embedded one for the whole run."""
    with redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_or_none() -> Iterator[str | None]:
    """A PostgreSQL admin URL: the configured or running one, else a private cluster if the
    server binaries are installed, else ``None``."""
    url = postgres_admin_url()
    if url is not None or not can_start_cluster():
        yield url
        return
    with scratch_cluster() as cluster:
        yield cluster.admin_url


@pytest.fixture(scope="session")
def postgres_admin(postgres_or_none: str | None) -> str:
    """An admin URL of a PostgreSQL; skips locally, fails in CI, when there is none."""
    if postgres_or_none is None:
        message = "no PostgreSQL reachable (set TASKYARD_TEST_DATABASE_URL or start one)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return postgres_or_none


@pytest.fixture(scope="module")
def redis_db(redis_service: RedisServer) -> Iterator[int]:
    """A Redis database index that belongs to this test module alone."""
    with redis_service.claim_db() as db:
        yield db


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A fresh, empty store database for this module: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('store') / 'taskyard.db'}"
        return
    admin = request.getfixturevalue("postgres_admin")
    with scratch_postgres_database(admin) as url:
        yield url


@pytest.fixture(scope="module")
def preferred_database_url(
    postgres_or_none: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """For tests that run once: a scratch PostgreSQL database when one is reachable, else SQLite."""
    admin = postgres_or_none
    if admin is None:
        if IN_CI:
            pytest.fail("no PostgreSQL reachable in CI")
        yield f"sqlite:///{tmp_path_factory.mktemp('store') / 'taskyard.db'}"
        return
    with scratch_postgres_database(admin) as url:
        yield url


@pytest.fixture(scope="module")
def runtime(
    redis_service: RedisServer, redis_db: int, database_url: str
) -> Iterator[dict[str, str]]:
    """This process's Taskyard pointed at the module's own Redis database and store."""
    redis_service.client(redis_db).flushdb()  # nothing left over from the other store's run
    env = {
        "TASKYARD_BROKER_URL": redis_service.url(redis_db),
        "TASKYARD_DATABASE_URL": database_url,
        "TASKYARD_LOG_FORMAT": "text",
        "TASKYARD_LOG_LEVEL": "WARNING",
    }
    with taskyard_runtime(env) as applied:
        yield applied


@pytest.fixture(scope="module", params=["sqlite+redis", "postgresql+redis", "postgresql+rabbitmq"])
def core_runtime(
    request: pytest.FixtureRequest,
    redis_service: RedisServer,
    redis_db: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The broker matrix for the core suite: each store on Redis, and PostgreSQL on RabbitMQ.
    Yields the broker family. RabbitMQ is skipped locally and required in CI."""
    store, broker = request.param.split("+")
    redis_service.client(redis_db).flushdb()  # nothing left over from the previous combination
    with ExitStack() as stack:
        if store == "sqlite":
            database = f"sqlite:///{tmp_path_factory.mktemp('store') / 'taskyard.db'}"
        else:
            admin = request.getfixturevalue("postgres_admin")
            database = stack.enter_context(scratch_postgres_database(admin))
        broker_url = redis_service.url(redis_db)
        if broker == "rabbitmq":
            require_rabbitmq()
            broker_url = stack.enter_context(scratch_vhost())
        env = {
            "TASKYARD_BROKER_URL": broker_url,
            "TASKYARD_REDIS_URL": redis_service.url(redis_db),
            "TASKYARD_DATABASE_URL": database,
            "TASKYARD_LOG_FORMAT": "text",
            "TASKYARD_LOG_LEVEL": "WARNING",
        }
        stack.enter_context(taskyard_runtime(env))
        yield "amqp" if broker == "rabbitmq" else "redis"


@pytest.fixture(scope="session")
def project_root() -> Path:
    """The repository root (where the Procfile and compose file live)."""
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sink(runtime: dict[str, str]) -> Iterator[HttpSink]:
    """An HTTP sink on loopback for this module's webhook channels; it checks signatures with
    ``SINK_SECRET``."""
    with http_sink(SINK_SECRET) as running:
        yield running
