"""Poison messages: broker entries no Taskyard process can run, kept aside instead of lost.

A broker is shared infrastructure, so anything can land on a queue: text that is not JSON,
JSON that is not a kombu envelope, or a well-formed message that is not one of Taskyard's jobs
(no task header, an unknown task, a foreign task id, a refused content type). A reader that
meets one sets it aside here, counts it in ``taskyard_poison_messages_total{queue}``, logs it
once (``worker.poison_message``) and carries on with the next message.

Poison entries are kept in the Redis at ``TASKYARD_REDIS_URL`` (every deployment has one,
whatever the broker), one list per queue, ``taskyard:poison:<queue>``, newest first. Each
entry records when, where and why, and the raw bytes up to :data:`RAW_LIMIT`. A list keeps
the newest :data:`KEEP_PER_QUEUE` entries, so a flood cannot fill Redis.
``taskyard poison list`` and ``taskyard poison purge`` read and clear them.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from workers.observability import metrics
from workers.queues import QUEUE_ORDER
from workers.redis_client import shared_redis
from workers.settings import get_settings

log = logging.getLogger(__name__)

KEY_PREFIX = "taskyard:poison:"
#: Raw bytes kept per entry; the entry records the full size and whether it was cut.
RAW_LIMIT = 64 * 1024
#: Entries kept per queue, newest first.
KEEP_PER_QUEUE = 1000
#: Characters of the reason kept (it may quote the message).
REASON_LIMIT = 300
#: Characters of the queue name kept (a foreign message names its own routing key).
QUEUE_LIMIT = 200
#: Raw bytes shown in the log line when an entry could not be kept.
LOG_PREVIEW = 1024
#: Metric label for a queue name that is none of Taskyard's (bounded label values).
OTHER_QUEUE = "other"
#: Where entries are set aside from besides the four queues: fanout streams, kombu's unacked.
EXTRA_QUEUES = ("celeryev", "celery.pidbox", "reply.celery.pidbox", "unacked")


@dataclass(frozen=True)
class PoisonEntry:
    """One entry set aside: when, from which queue, why, and its raw bytes (maybe cut)."""

    at: datetime
    queue: str
    reason: str
    size: int
    raw: bytes

    @property
    def truncated(self) -> bool:
        """Whether only the first :data:`RAW_LIMIT` bytes were kept."""
        return self.size > len(self.raw)

    def to_json(self) -> str:
        """The entry as stored in its Redis list."""
        return json.dumps({
            "at": self.at.isoformat(), "queue": self.queue, "reason": self.reason,
            "size": self.size, "raw_base64": base64.b64encode(self.raw).decode("ascii"),
        })  # fmt: skip

    @classmethod
    def from_json(cls, text: bytes | str) -> PoisonEntry:
        """An entry read back from its list (an unreadable one is shown as such, not hidden)."""
        try:
            fields: dict[str, Any] = json.loads(text)
            return cls(datetime.fromisoformat(fields["at"]), str(fields["queue"]),
                       str(fields["reason"]), int(fields["size"]),
                       base64.b64decode(fields["raw_base64"]))  # fmt: skip
        except (ValueError, KeyError, TypeError):
            raw = text if isinstance(text, bytes) else text.encode()
            epoch = datetime.fromtimestamp(0, UTC)
            return cls(epoch, "?", "unreadable poison entry", len(raw), raw)


def as_bytes(raw: bytes | str) -> bytes:
    """``raw`` as bytes (text is encoded as UTF-8)."""
    return raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape")


def metric_queue(queue: str) -> str:
    """``queue`` as a metric label: one of Taskyard's queues or streams, else ``other``."""
    known = {q.value for q in QUEUE_ORDER} | set(EXTRA_QUEUES)
    return queue if queue in known else OTHER_QUEUE


def poison_key(queue: str) -> str:
    """The Redis list holding ``queue``'s poison entries."""
    return f"{KEY_PREFIX}{queue}"


def _client() -> redis.Redis:
    return shared_redis(get_settings().locks_url)


def set_aside(queue: str, raw: bytes | str, reason: str, reader: str = "worker") -> bool:
    """Keep ``raw`` (from ``queue``) aside, count it and log it once; ``False`` when Redis
    refused to keep it (the log line then carries a preview of the bytes instead)."""
    data, reason, queue = as_bytes(raw), reason[:REASON_LIMIT], queue[:QUEUE_LIMIT]
    label = metric_queue(queue)
    key = poison_key(label)
    entry = PoisonEntry(datetime.now(UTC), queue, reason, len(data), data[:RAW_LIMIT])
    metrics.POISON_MESSAGES.labels(label).inc()
    extra: dict[str, Any] = {"action": "worker.poison_message", "queue": queue,
                             "reason": reason, "size": entry.size, "reader": reader}  # fmt: skip
    try:
        pipe = _client().pipeline(transaction=True)
        pipe.lpush(key, entry.to_json())
        pipe.ltrim(key, 0, KEEP_PER_QUEUE - 1)
        pipe.execute()
    except redis.RedisError as error:
        preview = data[:LOG_PREVIEW].decode("utf-8", "backslashreplace")
        log.error("poison message on %s (%s) could not be kept (%s); its first bytes: %s",
                  queue, reason, error, preview, extra={**extra, "kept": False})  # fmt: skip
        return False
    log.warning("poison message on %s set aside in %s: %s", queue, key, reason,
                extra={**extra, "kept": True, "key": key})  # fmt: skip
    return True


def _keys(client: redis.Redis, queue: str | None) -> list[str]:
    if queue is not None:
        return [poison_key(queue)]
    return sorted(k.decode() for k in client.scan_iter(match=f"{KEY_PREFIX}*", count=500))


def count_poison(queue: str | None = None) -> int:
    """How many poison entries are kept (for ``queue`` only, when given)."""
    client = _client()
    pipe = client.pipeline(transaction=False)
    for key in _keys(client, queue):
        pipe.llen(key)
    return sum(int(length) for length in pipe.execute())


def list_poison(queue: str | None = None, limit: int = 50) -> list[PoisonEntry]:
    """The newest ``limit`` poison entries (of ``queue`` only, when given), newest first."""
    client = _client()
    pipe = client.pipeline(transaction=False)
    for key in _keys(client, queue):
        pipe.lrange(key, 0, limit - 1)
    entries = [PoisonEntry.from_json(text) for texts in pipe.execute() for text in texts]
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]


def purge_poison(queue: str | None = None) -> int:
    """Delete the kept poison entries (of ``queue`` only, when given); how many were deleted."""
    client = _client()
    deleted = 0
    for key in _keys(client, queue):
        pipe = client.pipeline(transaction=True)
        pipe.llen(key)
        pipe.delete(key)
        deleted += int(pipe.execute()[0])
    return deleted
