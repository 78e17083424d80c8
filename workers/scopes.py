"""API key scopes: which scopes exist, and what a set of them allows (pure rules, no store).

``admin`` allows everything. ``jobs:read`` allows reading jobs and queues; ``jobs:write``
enqueueing any job type, narrowable to ``jobs:write:<glob>`` over type names (``fnmatch``,
case-sensitive), e.g. ``jobs:write:diag.*``. ``notifications:read`` allows reading deliveries;
``notifications:write`` sending notifications to any channel, narrowable the same way to
``notifications:write:<glob>`` over channel names, e.g. ``notifications:write:ops-*``.
Channels and templates themselves are ``admin``'s. ``alerts:write`` allows posting alerts to
the Alertmanager-compatible door (``POST /api/v2/alerts``), as a Prometheus server does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

ADMIN = "admin"
JOBS_READ = "jobs:read"
JOBS_WRITE = "jobs:write"
#: ``jobs:write:<glob>`` narrows writing to job types matching the glob, e.g. ``diag.*``.
JOBS_WRITE_PREFIX = JOBS_WRITE + ":"
NOTIFICATIONS_READ = "notifications:read"
NOTIFICATIONS_WRITE = "notifications:write"
#: ``notifications:write:<glob>`` narrows sending to channels matching the glob, e.g. ``ops-*``.
NOTIFICATIONS_WRITE_PREFIX = NOTIFICATIONS_WRITE + ":"
ALERTS_WRITE = "alerts:write"
FIXED_SCOPES = (
    ADMIN, JOBS_READ, JOBS_WRITE, NOTIFICATIONS_READ, NOTIFICATIONS_WRITE, ALERTS_WRITE
)  # fmt: skip
#: A job-type glob: the characters of job-type names plus fnmatch's ``* ? [ ] !``, and no
#: longer than a job-type name may be.
TYPE_GLOB = re.compile(r"[a-z0-9_.*?\[\]!-]{1,200}")
#: A channel glob: the characters of channel names (``workers.names``) plus fnmatch's
#: ``* ? [ ] !``, and no longer than a channel name may be.
CHANNEL_GLOB = re.compile(r"[A-Za-z0-9_.:@*?\[\]!-]{1,200}")
#: Each narrowable scope's prefix, and the glob its narrowing takes.
_NARROWED = ((JOBS_WRITE_PREFIX, TYPE_GLOB), (NOTIFICATIONS_WRITE_PREFIX, CHANNEL_GLOB))
SCOPE_HELP = (
    "admin, jobs:read, jobs:write, jobs:write:<type glob> such as jobs:write:diag.*, "
    "notifications:read, notifications:write, notifications:write:<channel glob> such as "
    "notifications:write:ops-*, or alerts:write"
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

#: Reading jobs and queues; enqueueing a job type; enqueueing some job type; the narrowest
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
