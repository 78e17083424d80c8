"""Finding job messages the Redis transport lost in transit, so they can be published again.

kombu's Redis transport takes a message off its list with BRPOP and only then copies it to the
``unacked`` hash, from which a dead worker's messages come back after the visibility timeout.
A worker killed between the two (or while Redis's reply still sits in its socket) takes the
message with it: the store says ``queued`` and nothing in Redis will ever deliver it.

A queued job's message is found missing when it is in no worker's ``unacked`` hash and its
list has moved past it. Lists are first in, first out: kombu pushes on the left and pops on
the right, and only restored (redelivered) messages are pushed back on the right. So once the
next message to be consumed that is not a redelivery was published after the job, the job's
message has left the list. A message wrongly judged missing is published twice, which costs
nothing: the start guard lets only one copy run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from workers import poison
from workers.messages import PUBLISHED_AT_HEADER
from workers.priorities import redis_list_key, to_broker
from workers.store.queued import QueuedJob

#: Clock skew tolerated between producers: a list head must be this much younger than a job.
CLOCK_MARGIN_S = 2.0
#: Messages read from a list's consuming end to find one that is not a redelivery.
HEAD_WINDOW = 50
#: kombu's default name for the hash of delivered, unacknowledged messages.
UNACKED_KEY = "unacked"
#: kombu's default name for the sorted set of delivery times of the ``unacked`` entries.
UNACKED_INDEX_KEY = "unacked_index"


@dataclass(frozen=True)
class _ListHead:
    """What the consuming end of one list shows."""

    empty: bool
    ids: frozenset[str]
    published_at: float | None

    def moved_past(self, job: QueuedJob) -> bool:
        if str(job.id) in self.ids:
            return False
        if self.empty:
            return True
        if self.published_at is None:
            return False  # only redeliveries or foreign messages in view: no proof either way
        return self.published_at > job.queued_at.timestamp() + CLOCK_MARGIN_S


def _decode(raw: bytes | str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:  # includes bytes that are not UTF-8
        return None


def _headers(message: Any) -> dict[str, Any]:
    """A message's headers; none for an entry that is not a kombu message (the worker that pops
    it sets it aside, see workers/transport.py)."""
    headers = message.get("headers") if isinstance(message, dict) else None
    return headers if isinstance(headers, dict) else {}


def _stamp(value: Any) -> float | None:
    try:
        stamp = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer of 400 digits
        return None
    return stamp if math.isfinite(stamp) else None


def _read_head(entries: Sequence[bytes], length: int) -> _ListHead:
    ids: set[str] = set()
    published_at = None
    for raw in reversed(entries):  # LRANGE lists left to right; BRPOP takes from the right
        headers = _headers(_decode(raw))
        if "id" in headers:
            ids.add(str(headers["id"]))
        stamp = _stamp(headers.get(PUBLISHED_AT_HEADER))
        if published_at is None and not headers.get("redelivered") and stamp is not None:
            published_at = stamp
    return _ListHead(empty=length == 0, ids=frozenset(ids), published_at=published_at)


def _held_ids(client: redis.Redis, unacked_key: str) -> set[str]:
    """Ids of the messages delivered to workers and not yet acknowledged. An entry that is not
    kombu's ``[message, exchange, routing key]`` is set aside: kombu could never restore it."""
    held = set()
    foreign: dict[bytes, bytes] = {}
    for tag, value in client.hscan_iter(unacked_key, count=500):
        entry = _decode(value)
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], dict)):
            foreign[tag] = value
            continue
        headers = _headers(entry[0])
        if "id" in headers:
            held.add(str(headers["id"]))
    for tag, value in foreign.items():
        poison.set_aside(UNACKED_KEY, value, "unacked entry is not a kombu message",
                         reader="dispatcher")  # fmt: skip
        pipe = client.pipeline(transaction=True)
        pipe.hdel(unacked_key, tag)  # type: ignore[arg-type]  # redis-py takes bytes
        pipe.zrem(UNACKED_INDEX_KEY, tag)
        pipe.execute()
    return held


def missing_messages(
    client: redis.Redis, candidates: Iterable[QueuedJob], unacked_key: str = UNACKED_KEY
) -> list[QueuedJob]:
    """The candidates whose message is neither waiting in its list nor held by a worker."""
    candidates = list(candidates)
    if not candidates:
        return []
    keys = sorted({redis_list_key(job.queue, to_broker(job.priority, "redis"))
                   for job in candidates})  # fmt: skip
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.llen(key)
        pipe.lrange(key, -HEAD_WINDOW, -1)
    replies = pipe.execute()
    heads = {key: _read_head(replies[2 * i + 1], replies[2 * i]) for i, key in enumerate(keys)}
    held = _held_ids(client, unacked_key)
    return [
        job for job in candidates
        if str(job.id) not in held
        and heads[redis_list_key(job.queue, to_broker(job.priority, "redis"))].moved_past(job)
    ]  # fmt: skip
