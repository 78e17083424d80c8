"""Whether this process's store and broker answer: the API's ``/readyz`` and ``taskyard doctor``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kombu.exceptions import OperationalError
from redis.exceptions import RedisError
from sqlalchemy import text

from workers.app import app as celery_app
from workers.errors import BrokerUnavailable
from workers.redis_client import shared_redis
from workers.settings import get_settings
from workers.store.engine import get_engine


def check_store() -> None:
    """``SELECT 1`` on the store."""
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))


def check_broker() -> None:
    """PING Redis, or open (one retry, 2 s) an AMQP connection."""
    settings = get_settings()
    if settings.broker_family == "redis":
        shared_redis(settings.broker_url).ping()
        return
    with celery_app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)


@contextmanager
def broker_reached() -> Iterator[None]:
    """Within, a broker (or Redis) that does not answer is a :class:`BrokerUnavailable`."""
    try:
        yield
    except (RedisError, OperationalError, OSError) as error:
        raise BrokerUnavailable("the broker is unreachable; try again shortly") from error
