"""redis-py clients from Taskyard's Redis URLs (including Celery's ``redis+socket`` form)."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, urlsplit

import redis

_clients: dict[tuple[int, str], redis.Redis] = {}


def redis_from_url(url: str) -> redis.Redis:
    """A new client for ``url``: ``redis://``, ``rediss://`` or ``redis+socket:///path?virtual_host=N``."""
    parts = urlsplit(url)
    if parts.scheme == "redis+socket":
        db = int(parse_qs(parts.query).get("virtual_host", ["0"])[0] or 0)
        return redis.Redis(unix_socket_path=parts.path, db=db, socket_timeout=5)
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def shared_redis(url: str) -> redis.Redis:
    """This process's client for ``url`` (a forked child builds its own)."""
    key = (os.getpid(), url)
    client = _clients.get(key)
    if client is None:
        client = _clients[key] = redis_from_url(url)
    return client
