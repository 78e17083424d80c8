"""kombu's Redis transport, with one kept client per channel for its short commands.

kombu's Redis channel builds a new ``redis.Redis`` object (on the channel's connection pool)
for every command it runs outside its consuming loop: each task event a worker publishes,
each message it reserves and each one it acknowledges. redis-py fills a dictionary of
response callbacks for every client it builds, and that makes up about a sixth of a worker's
main-process time per job. The channel here builds that client once and builds it again only
when kombu has replaced the pool (after a connection error). The client is safe to share:
every command checks a connection out of the pool and back in.

:func:`install` points kombu's ``redis`` and ``rediss`` transport names at this transport;
``workers.app`` calls it, so every Taskyard process (workers, beat, the dispatcher, the API,
Flower) uses it, whatever form its Redis URL takes (``redis+socket://`` included).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from kombu import transport as kombu_transports

from workers import transport as guarded

#: The transport names whose URLs this transport serves.
ALIASES = ("redis", "rediss")


class Channel(guarded.Channel):
    """A Redis channel that keeps the client its short commands run on."""

    _kept_client: redis.Redis | None = None

    @contextmanager
    def conn_or_acquire(self, client: redis.Redis | None = None) -> Iterator[redis.Redis]:
        """``client`` when given, else this channel's kept client on its current pool."""
        if client:
            yield client
            return
        pool = self.pool
        kept = self._kept_client
        if kept is None or kept.connection_pool is not pool:
            kept = self._kept_client = self._create_client()  # type: ignore[no-untyped-call]
        yield kept


class Transport(guarded.Transport):
    """Taskyard's guarded Redis transport with :class:`Channel`."""

    Channel = Channel


def install() -> None:
    """Make kombu's ``redis`` and ``rediss`` names resolve to :class:`Transport`."""
    path = f"{__name__}:Transport"
    for alias in ALIASES:
        kombu_transports.TRANSPORT_ALIASES[alias] = path
