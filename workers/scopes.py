"""API key scopes: which scopes exist, and what a set of them allows (pure rules, no store).

``admin`` allows everything. ``jobs:read`` allows reading jobs and queues; ``jobs:write``
enqueueing any job type, narrowable to ``jobs:write:<glob>`` over type names (``fnmatch``,
case-sensitive), e.g. ``jobs:write:diag.*``. ``notifications:read`` allows reading deliveries;
``notifications:write`` sending notifications to any channel, narrowable the same way to
``notifications:write:<glob>`` over channel names, e.g. ``notifications:write:ops-*``.
Channels and templates themselves are ``admin``'s. ``alerts:write`` allows posting alerts to
the Alertmanager-compatible door (``POST /api/v2/alerts``), as a Prometheus server does.

Two scopes narrow where and how urgently a key's jobs run, whatever else it holds (``admin``
included, so an operator's key can be kept off a queue too): ``jobs:queue:<queue>`` (repeatable)
limits enqueueing, replaying and cancelling to the queues named, and a key with no queue scope
keeps every queue; ``jobs:priority:<max>`` caps the public priority of what it enqueues or
replays (0-9, 9 the most urgent), and with several the highest counts. ``jobs:read:own`` reads
only the jobs its own key enqueued (the same key record, whichever of its rotated secrets).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from workers.priorities import MAX_PRIORITY, MIN_PRIORITY
from workers.queues import QueueName

ADMIN = "admin"
JOBS_READ = "jobs:read"
JOBS_WRITE = "jobs:write"
#: ``jobs:write:<glob>`` narrows writing to job types matching the glob, e.g. ``diag.*``.
JOBS_WRITE_PREFIX = JOBS_WRITE + ":"
#: Reads only the jobs enqueued with the same key.
JOBS_READ_OWN = "jobs:read:own"
#: ``jobs:queue:<queue>`` limits a key to the queues it names (no such scope: every queue).
JOBS_QUEUE_PREFIX = "jobs:queue:"
#: ``jobs:priority:<max>`` caps the public priority a key may ask for.
JOBS_PRIORITY_PREFIX = "jobs:priority:"
NOTIFICATIONS_READ = "notifications:read"
NOTIFICATIONS_WRITE = "notifications:write"
#: ``notifications:write:<glob>`` narrows sending to channels matching the glob, e.g. ``ops-*``.
NOTIFICATIONS_WRITE_PREFIX = NOTIFICATIONS_WRITE + ":"
ALERTS_WRITE = "alerts:write"
_WHOLE = (
    ADMIN, JOBS_READ, JOBS_READ_OWN, JOBS_WRITE, NOTIFICATIONS_READ, NOTIFICATIONS_WRITE,
    ALERTS_WRITE,
)  # fmt: skip
_QUEUES = tuple(JOBS_QUEUE_PREFIX + queue for queue in QueueName)
_CAPS = tuple(JOBS_PRIORITY_PREFIX + str(p) for p in range(MIN_PRIORITY, MAX_PRIORITY + 1))
FIXED_SCOPES = _WHOLE + _QUEUES + _CAPS
#: A job-type glob: the characters of job-type names plus fnmatch's ``* ? [ ] !``, and no
#: longer than a job-type name may be.
TYPE_GLOB = re.compile(r"[a-z0-9_.*?\[\]!-]{1,200}")
#: A channel glob: the characters of channel names (``workers.names``) plus fnmatch's
#: ``* ? [ ] !``, and no longer than a channel name may be.
CHANNEL_GLOB = re.compile(r"[A-Za-z0-9_.:@*?\[\]!-]{1,200}")
#: Each narrowable scope's prefix, and the glob its narrowing takes.
_NARROWED = ((JOBS_WRITE_PREFIX, TYPE_GLOB), (NOTIFICATIONS_WRITE_PREFIX, CHANNEL_GLOB))
SCOPE_HELP = (
    "admin, jobs:read, jobs:read:own, jobs:write, jobs:write:<type glob> such as "
    "jobs:write:diag.*, jobs:queue:<queue> (critical, high, default or bulk), "
    "jobs:priority:<max> (0-9), notifications:read, notifications:write, "
    "notifications:write:<channel glob> such as notifications:write:ops-*, or alerts:write"
)


def validate_scope(scope: str) -> str:
    """Return ``scope`` when it is one Taskyard knows; else ``ValueError`` naming the valid ones."""
    if scope in FIXED_SCOPES:
        return scope
    for prefix, glob in _NARROWED:
        if scope.startswith(prefix) and glob.fullmatch(scope.removeprefix(prefix)):
            return scope
    raise ValueError(f"unknown scope {scope!r}; use {SCOPE_HELP}")


@dataclass(frozen=True)
class _Kind:
    """What the scopes of one kind of thing allow: ``read`` reading it; ``write`` writing any of
    it, narrowed by ``write:<glob>`` to the names the glob matches (an empty glob grants nothing);
    ``admin`` everything."""

    read: str
    write: str

    def scope_for(self, name: str) -> str:
        """The narrowest scope that lets a key write ``name``."""
        return f"{self.write}:{name}"

    def may_read(self, scopes: Iterable[str]) -> bool:
        """Whether the scopes allow reading."""
        return any(scope in (ADMIN, self.read) for scope in scopes)

    def may_write(self, scopes: Iterable[str], name: str) -> bool:
        """Whether the scopes allow writing ``name``."""
        prefix = self.write + ":"
        for scope in scopes:
            if scope in (ADMIN, self.write):
                return True
            pattern = scope.removeprefix(prefix)
            if scope.startswith(prefix) and pattern and fnmatchcase(name, pattern):
                return True
        return False

    def may_write_some(self, scopes: Iterable[str]) -> bool:
        """Whether the scopes allow writing at least something."""
        prefix = self.write + ":"
        return any(scope in (ADMIN, self.write) or scope.startswith(prefix) for scope in scopes)


_JOBS = _Kind(JOBS_READ, JOBS_WRITE)
_NOTIFICATIONS = _Kind(NOTIFICATIONS_READ, NOTIFICATIONS_WRITE)

#: Reading every job, and queues; enqueueing a job type; enqueueing some job type; the narrowest
#: scope that lets a key enqueue a job type.
may_read, may_write, may_write_some = _JOBS.may_read, _JOBS.may_write, _JOBS.may_write_some
write_scope_for = _JOBS.scope_for
#: Reading notification deliveries; sending to a channel; sending to some channel; the
#: narrowest scope that lets a key send to a channel.
may_read_deliveries, may_notify = _NOTIFICATIONS.may_read, _NOTIFICATIONS.may_write
may_notify_some, notify_scope_for = _NOTIFICATIONS.may_write_some, _NOTIFICATIONS.scope_for


def is_admin(scopes: Iterable[str]) -> bool:
    """Whether the scopes allow everything, bulk operator actions included."""
    return ADMIN in scopes


def may_post_alerts(scopes: Iterable[str]) -> bool:
    """Whether the scopes allow posting alerts to the Alertmanager-compatible door."""
    return any(scope in (ADMIN, ALERTS_WRITE) for scope in scopes)


def may_read_own(scopes: Iterable[str]) -> bool:
    """Whether the scopes allow reading jobs, all of them or only the key's own."""
    return may_read(scopes) or JOBS_READ_OWN in scopes


def reads_own_only(scopes: Iterable[str]) -> bool:
    """Whether the scopes read only the key's own jobs (``jobs:read:own`` without more)."""
    held = tuple(scopes)
    return JOBS_READ_OWN in held and not may_read(held)


def queue_scope_for(queue: str) -> str:
    """The scope that lets a queue-limited key use ``queue``."""
    return JOBS_QUEUE_PREFIX + queue


def allowed_queues(scopes: Iterable[str]) -> frozenset[str] | None:
    """The queues the scopes limit a key to, or ``None`` for every queue (no queue scope)."""
    named = frozenset(
        s.removeprefix(JOBS_QUEUE_PREFIX) for s in scopes if s.startswith(JOBS_QUEUE_PREFIX)
    )
    return named or None


def max_priority(scopes: Iterable[str]) -> int:
    """The highest public priority the scopes allow (:data:`MAX_PRIORITY` without a cap)."""
    caps = [
        int(s.removeprefix(JOBS_PRIORITY_PREFIX))
        for s in scopes
        if s.startswith(JOBS_PRIORITY_PREFIX)
    ]
    return max(caps, default=MAX_PRIORITY)


def missing_for_job(scopes: Iterable[str], queue: str, priority: int | None = None) -> str | None:
    """The scope a key lacks to put a job on ``queue`` at ``priority`` (``None``: not checked),
    or ``None`` when it may: its queue's scope, else the priority cap it would need."""
    held = tuple(scopes)
    queues = allowed_queues(held)
    if queues is not None and queue not in queues:
        return queue_scope_for(queue)
    if priority is not None and priority > max_priority(held):
        return JOBS_PRIORITY_PREFIX + str(priority)
    return None
