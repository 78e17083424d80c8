"""What the speedups (``workers/speedups/``), the lost-message sweep and the test runtime rely
on in Celery, kombu, SQLAlchemy and psycopg2 beyond their public paths: an upgrade that changes
it fails here, not in a production worker. The message format ``redis_publish`` builds is
pinned against ``send_task`` in ``tests/integration/test_publisher.py``; ``argsrepr`` against
``saferepr`` in ``tests/unit/test_argsrepr.py``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import psycopg2.extensions
import sqlalchemy as sa
from celery import Celery
from celery.events.dispatcher import EventDispatcher
from celery.worker.consumer import Consumer as CeleryConsumer
from celery.worker.consumer import events as consumer_events
from kombu import Connection
from kombu import transport as kombu_transports
from kombu.transport import redis as kombu_redis
from sqlalchemy.dialects.postgresql import psycopg2 as pg_psycopg2
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from workers import lost_messages, speedups
from workers import transport as guarded
from workers.app import app
from workers.speedups import consumer, redis_transport


def _parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def _calls(function: Callable[..., Any], name: str) -> bool:
    return name in inspect.getsource(function)


# workers/speedups/redis_transport.py


def test_kombus_redis_channel_acquires_its_short_command_clients_as_the_override_expects() -> None:
    # The override replaces conn_or_acquire(client=None) and builds clients with _create_client()
    overridden = inspect.unwrap(kombu_redis.Channel.conn_or_acquire)
    assert _parameters(overridden) == ["self", "client"]
    assert _parameters(kombu_redis.Channel._create_client) == ["self", "asynchronous"]
    assert isinstance(inspect.getattr_static(kombu_redis.Channel, "pool"), property)
    # And kombu's short commands (publish, size, acknowledge) go through it
    for method in (kombu_redis.Channel._put, kombu_redis.Channel._size, kombu_redis.Channel._purge):
        assert _calls(method, "self.conn_or_acquire()"), method.__qualname__
    # And dropping the pools (on a connection error) makes the next client a new pool's
    assert _calls(kombu_redis.Channel._disconnect_pools, "self._pool = None")


def test_kombus_transport_names_resolve_through_the_alias_table_the_speedup_points() -> None:
    url = "redis://127.0.0.1:6399/3"  # nothing connects
    assert isinstance(kombu_transports._transport_cache, dict)  # cleared on each switch
    try:
        redis_transport.uninstall()
        assert Connection(url).get_transport_cls() is guarded.Transport
        redis_transport.install()
        assert Connection(url).get_transport_cls() is redis_transport.Transport
    finally:
        speedups.install(app)  # as this process's switch says


# workers/speedups/consumer.py


def test_celerys_consumer_has_the_event_hooks_the_batching_consumer_overrides() -> None:
    for name in ("on_send_event_buffered", "_flush_events", "shutdown"):
        assert callable(getattr(CeleryConsumer, name)), name
    assert _parameters(CeleryConsumer.on_send_event_buffered) == ["self"]
    assert _parameters(CeleryConsumer._flush_events) == ["self"]
    assert issubclass(consumer.Consumer, CeleryConsumer)
    # The events bootstep wires the hook into the dispatcher it builds for each connection
    assert _calls(consumer_events.Events.start, "on_send_buffered=c.on_send_event_buffered")


def test_celerys_event_dispatcher_buffers_task_events_until_its_limit() -> None:
    # Given a dispatcher buffering task events, as the worker's consumer builds it
    calls: list[int] = []
    with Connection("memory://") as connection:
        dispatcher = EventDispatcher(
            connection,
            hostname="pin@test",
            enabled=True,
            buffer_group=["task"],
            on_send_buffered=lambda: calls.append(1),
        )
        # Then buffer_limit is an attribute the consumer may raise, read on every send
        assert dispatcher.buffer_limit == 24
        dispatcher.buffer_limit = 3
        dispatcher.send("task-received", uuid="a")
        dispatcher.send("task-started", uuid="a")
        assert calls == [1, 1]  # buffered, the hook told each time
        assert len(dispatcher._group_buffer["task"]) == 2
        dispatcher.send("task-succeeded", uuid="a")  # the limit: flushed from this thread
        assert len(dispatcher._group_buffer["task"]) == 0
        dispatcher.close()


# workers/speedups/redis_publish.py


def test_celery_builds_headers_through_as_task_v2_with_the_names_the_publisher_passes() -> None:
    parameters = _parameters(app.amqp.as_task_v2)
    for name in ("task_id", "name", "args", "kwargs", "ignore_result"):
        assert name in parameters, name
    assert isinstance(app.amqp.argsrepr_maxsize, int)
    assert isinstance(app.conf.task_repr_maxlevels, int)
    assert isinstance(app.thread_oid, str)


# workers/speedups/driver.py (copy_in.py, prepared.py)


def test_sqlalchemy_and_psycopg2_offer_what_copy_needs_to_fail_as_execute_fails() -> None:
    assert "connection_invalidated" in _parameters(DBAPIError.instance)
    assert _parameters(Dialect.is_disconnect) == ["self", "e", "connection", "cursor"]
    assert callable(psycopg2.extensions.cursor.copy_expert)


# workers/lost_messages.py (not a speedup: the sweep reads what kombu keeps in Redis)


def test_kombu_keeps_delivered_messages_in_the_hash_the_sweep_reads() -> None:
    assert kombu_redis.Channel.unacked_key == lost_messages.UNACKED_KEY
    # Each entry is [message, exchange, routing key], the message's headers under "headers"
    assert _calls(kombu_redis.QoS.append, "dumps([message._raw, EX, RK])")


# tests/support/runtime.py


def test_celery_caches_its_pools_and_backend_where_the_test_runtime_resets_them() -> None:
    # Celery has no public way to drop them short of a new app (tasks import the one app)
    fresh = Celery("pin", set_as_current=False)
    assert "_producer_pool" in vars(type(fresh.amqp))
    assert fresh._backend_cache is None
    assert hasattr(fresh._local, "__dict__")


# workers/speedups/prepared.py


def test_sqlalchemy_compiles_numbered_placeholders_that_prepare_takes_in_a_known_order() -> None:
    # Given a statement that uses one parameter twice, compiled with $1, $2... (asyncpg's style)
    table = sa.table("t", sa.column("a"), sa.column("b"))
    twice = sa.bindparam("x")
    statement = sa.update(table).where(table.c.a == twice).values(b=twice).returning(table.c.a)
    dialect = type(pg_psycopg2.dialect())(paramstyle="numeric_dollar")
    compiled: Any = statement.compile(dialect=dialect)

    # Then each parameter has one number, listed in order, its bind found by name
    assert str(compiled).count("$1") == 2
    assert "$2" not in str(compiled)
    assert compiled.positiontup == ["x"]
    assert {name: bind.key for bind, name in compiled.bind_names.items()} == {"x": "x"}
    assert compiled.params == {"x": None}
    # And the RETURNING columns, with the types whose processors SQLAlchemy applies
    assert [c.name for c in statement.exported_columns] == ["a"]
    assert _parameters(sa.types.TypeEngine.bind_processor) == ["self", "dialect"]
    assert _parameters(sa.types.TypeEngine.result_processor) == ["self", "dialect", "coltype"]
    assert pg_psycopg2.dialect.driver == "psycopg2"
    # And a connection's info is the DB-API connection's, dropped when it is replaced
    assert isinstance(inspect.getattr_static(sa.Connection, "info"), property)
