"""kombu's Redis transport, with one kept client per channel for its short commands.

Replaces: kombu's ``Channel.conn_or_acquire``, which builds a new ``redis.Redis`` object (on the
channel's connection pool) for every command it runs outside its consuming loop: each task
event a worker publishes, each message it reserves and each one it acknowledges. redis-py fills
a dictionary of response callbacks for every client it builds.

Buys: a share of a worker's main-process time per job (``docs/performance.md``, "Redis
transport").

Unnecessary when: kombu keeps one client per channel itself (or redis-py builds a client
without rebuilding its callbacks). It relies on kombu's private ``conn_or_acquire``,
``_create_client`` and ``_transport_cache`` (``tests/unit/test_speedups_upstream.py`` pins them).

The channel builds its client once and again only when kombu has replaced the pool (after a
connection error). The client is safe to share: every command checks a connection out of the
pool and back in. :func:`install` points kombu's ``redis`` and ``rediss`` transport names at
this transport, so every Taskyard process uses it, whatever form its Redis URL takes
(``redis+socket://`` included); :func:`uninstall` points them back at :data:`PLAIN_TRANSPORT`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis
from kombu import transport as kombu_transports

# The one place the base classes come from: the plain path's Redis transport, Taskyard's
# poison-guarded one (``workers/transport.py``), which this one extends, so the speedup keeps
# whatever the plain path guarantees.
from workers.transport import Channel as BaseChannel
from workers.transport import Transport as BaseTransport

PLAIN_TRANSPORT = "workers.transport:Transport"

#: The transport names whose URLs this transport serves.
ALIASES = ("redis", "rediss")


class Channel(BaseChannel):
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


class Transport(BaseTransport):
    """The plain Redis transport with :class:`Channel`."""

    Channel = Channel


def install() -> None:
    """Make kombu's ``redis`` and ``rediss`` names resolve to :class:`Transport`."""
    _point_aliases_at(f"{__name__}:Transport")


def uninstall() -> None:
    """Make kombu's ``redis`` and ``rediss`` names resolve to :data:`PLAIN_TRANSPORT`."""
    _point_aliases_at(PLAIN_TRANSPORT)


def _point_aliases_at(path: str) -> None:
    for alias in ALIASES:
        kombu_transports.TRANSPORT_ALIASES[alias] = path
        # kombu caches a name's class once resolved; a process switching back and forth
        # (tests do) must drop it. Nothing is cached before the first connection.
        kombu_transports._transport_cache.pop(alias, None)
