"""kombu's Redis transport, guarded so that one entry that is not a message cannot stop a reader.

kombu's Redis channel pops an entry off a queue's list (``BRPOP``) and decodes it as its JSON
envelope with no guard (kombu 5.7, ``Channel._brpop_read``): text that is not JSON raised out
of the worker's event loop, and Celery stopped the worker ("Unrecoverable error:
JSONDecodeError"); JSON without ``properties`` or a ``delivery_tag`` failed building the
message, and the consumer dropped its connection and lost the entry. The same holds for an
entry published on a fanout exchange (task events, which Flower reads; broadcast commands,
which workers read), once it decodes.

This channel checks each entry before kombu delivers it. One that is not a kombu envelope is
set aside with :func:`workers.poison.set_aside` (kept, counted, logged) and the channel reads
on. kombu offers no hook between the pop and the decode, so ``_brpop_read`` is kombu's own
read with the decode replaced; ``tests/unit/test_poison.py`` pins the kombu it mirrors.

This is a correctness guard, not a speed bypass: :func:`install` points kombu's ``redis`` and
``rediss`` names here, and a faster channel must subclass :class:`Channel` to keep it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from queue import Empty
from typing import Any

import redis
from kombu import transport as kombu_transports
from kombu.exceptions import KombuError
from kombu.transport import redis as kombu_redis
from kombu.utils import encoding, json

from workers import poison

# kombu's own JSON and text helpers (untyped upstream), so entries decode as kombu decodes them.
loads: Callable[[str], Any] = json.loads
dumps: Callable[[Any], str] = json.dumps
bytes_to_str: Callable[[bytes | str], str] = encoding.bytes_to_str

#: The transport names whose URLs this transport serves.
ALIASES = ("redis", "rediss")
#: What decoding an entry raises when it is not JSON kombu can read. JSONDecodeError is a
#: ValueError; a RecursionError comes from nesting deeper than the interpreter's limit, which
#: would otherwise leave the read loop and stop the worker.
UNDECODABLE = (ValueError, TypeError, KombuError, RecursionError)
#: Body encodings kombu's virtual channel decodes (``Channel.codecs``, or none).
BODY_ENCODINGS = (None, "utf-8", "base64")


def envelope_problem(entry: object) -> str | None:
    """Why ``entry`` (a decoded list entry) is not a kombu message envelope; ``None`` if it is."""
    if not isinstance(entry, dict):
        return "not a kombu message envelope (a JSON object)"
    properties = entry.get("properties")
    if not isinstance(properties, dict):
        return "the envelope has no properties"
    if not isinstance(properties.get("delivery_tag"), str):
        return "the envelope has no delivery_tag"
    info = properties.get("delivery_info")
    if not (isinstance(info, dict) and isinstance(info.get("exchange"), str)
            and isinstance(info.get("routing_key"), str)):  # fmt: skip
        return "the envelope has no delivery_info (exchange, routing_key)"
    if not isinstance(entry.get("headers", {}), dict | None):
        return "the envelope's headers are not an object"
    for field in ("content-type", "content-encoding"):
        if not isinstance(entry.get(field), str | None):
            return f"the envelope's {field} is not text"
    return _body_problem(entry.get("body"), properties.get("body_encoding"))


def _body_problem(body: object, encoding: object) -> str | None:
    if not isinstance(body, str | None):
        return "the envelope's body is not text"
    if encoding not in BODY_ENCODINGS:
        return f"unknown body encoding {str(encoding)[:40]!r}"
    if body and encoding == "base64":
        try:
            base64.b64decode(body)  # as kombu's base64 codec decodes it
        except (binascii.Error, ValueError):
            return "the body is not valid base64"
    return None


def decoded_entry(raw: bytes | str) -> tuple[dict[str, Any] | None, str | None]:
    """``raw`` decoded as kombu decodes a list entry, or ``None`` with the reason it cannot be."""
    try:
        entry = loads(bytes_to_str(raw))
    except UNDECODABLE as error:
        return None, f"not JSON ({type(error).__name__})"
    problem = envelope_problem(entry)
    return (None, problem) if problem else (entry, None)


def fanout_exchange(channel: bytes | str) -> str:
    """The exchange a pub/sub channel name belongs to (``/0.celeryev/task.multi``: ``celeryev``),
    read as kombu reads it."""
    name = bytes_to_str(channel)
    if name.startswith("/"):
        name = name.partition(".")[2]
    return name.split("/", 1)[0]


class QoS(kombu_redis.QoS):
    """kombu's Redis acknowledgement emulation, surviving an ``unacked`` entry it cannot read."""

    def restore_by_tag(self, tag: Any, client: Any = None, leftmost: bool = False) -> None:
        """Put a delivered message back on its queue; set aside an entry that is not one (kombu
        raised on it, so a worker stopped at start and again at every restart)."""
        try:
            super().restore_by_tag(tag, client=client, leftmost=leftmost)  # type: ignore[no-untyped-call]
        except (ValueError, TypeError) as error:  # the entry did not decode as kombu's triple
            reason = f"unacked entry is not a kombu message ({type(error).__name__})"
            # redis-py's own client on the channel's pool, as kombu's restore builds one.
            conn: redis.Redis = client or redis.Redis(connection_pool=self.channel.pool)
            raw: bytes | None = conn.hget(self.unacked_key, tag)  # type: ignore[assignment]
            if raw is not None:
                poison.set_aside("unacked", raw, reason)
            with conn.pipeline() as pipe:
                pipe.zrem(self.unacked_index_key, tag)
                pipe.hdel(self.unacked_key, tag)
                pipe.execute()


class Channel(kombu_redis.Channel):
    """A Redis channel that sets aside, rather than chokes on, an entry that is not a message."""

    QoS = QoS

    def _brpop_read(self, **options: Any) -> bool:
        # kombu's _brpop_read, with the entry decoded by decoded_entry: a poison entry is set
        # aside and the read counts as done (kombu sends the next BRPOP as usual).
        try:
            try:
                reply = self.client.parse_response(self.client.connection, "BRPOP", **options)
            except self.connection_errors:
                self.client.connection.disconnect()  # the next poll reconnects
                raise
            if not reply:
                raise Empty()
            key, raw = reply
            queue = bytes_to_str(key).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(queue)
            entry, problem = decoded_entry(raw)
            if entry is None:
                poison.set_aside(queue, raw, problem or "not a message")
                return True
            self.connection._deliver(entry, queue)
            return True
        finally:
            self._in_poll = None  # type: ignore[assignment]
            self._flush_brpop_reauth()  # type: ignore[no-untyped-call]

    def _handle_message(self, client: Any, response: Any) -> dict[str, Any]:
        """A pub/sub reply as kombu reads it; an entry that is not JSON is set aside and its
        data emptied, so kombu skips it (kombu alone skips it with a warning, uncounted)."""
        payload: dict[str, Any] = super()._handle_message(client, response)  # type: ignore[no-untyped-call]
        data = payload["data"]
        if not (data and bytes_to_str(payload["type"]).endswith("message")):
            return payload
        try:
            loads(bytes_to_str(data))
        except UNDECODABLE as error:
            poison.set_aside(fanout_exchange(payload["channel"]), data,
                             f"not JSON ({type(error).__name__})")  # fmt: skip
            payload["data"] = None
        return payload

    def _deliver_fanout_message(self, message: Any, exchange: str) -> bool:
        """Deliver a decoded fanout entry, or set it aside when it is not a kombu envelope."""
        problem = envelope_problem(message)
        if problem is not None:
            poison.set_aside(exchange, dumps(message), problem)
            return False
        return bool(super()._deliver_fanout_message(message, exchange))  # type: ignore[no-untyped-call]


class Transport(kombu_redis.Transport):
    """kombu's Redis transport with :class:`Channel`."""

    Channel = Channel


def install() -> None:
    """Make kombu's ``redis`` and ``rediss`` names resolve to :class:`Transport`."""
    path = f"{__name__}:Transport"
    for alias in ALIASES:
        kombu_transports.TRANSPORT_ALIASES[alias] = path
