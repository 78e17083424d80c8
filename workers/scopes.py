"""API key scopes: which scopes exist, and what a set of them allows (pure rules, no store).

``admin`` allows everything; ``jobs:read`` reading jobs and queues; ``jobs:write`` enqueueing
any job type, narrowable to ``jobs:write:<glob>`` (``fnmatch``, case-sensitive), e.g.
``jobs:write:diag.*``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fnmatch import fnmatchcase

ADMIN = "admin"
JOBS_READ = "jobs:read"
JOBS_WRITE = "jobs:write"
#: ``jobs:write:<glob>`` narrows writing to job types matching the glob, e.g. ``diag.*``.
JOBS_WRITE_PREFIX = JOBS_WRITE + ":"
FIXED_SCOPES = (ADMIN, JOBS_READ, JOBS_WRITE)
#: A job-type glob: the characters of job-type names plus fnmatch's ``* ? [ ] !``, and no
#: longer than a job-type name may be.
TYPE_GLOB = re.compile(r"[a-z0-9_.*?\[\]!-]{1,200}")
SCOPE_HELP = "admin, jobs:read, jobs:write, or jobs:write:<type glob> such as jobs:write:diag.*"


def validate_scope(scope: str) -> str:
    """Return ``scope`` when it is one Taskyard knows; else ``ValueError`` naming the valid ones."""
    if scope in FIXED_SCOPES:
        return scope
    if scope.startswith(JOBS_WRITE_PREFIX) and TYPE_GLOB.fullmatch(
        scope.removeprefix(JOBS_WRITE_PREFIX)
    ):
        return scope
    raise ValueError(f"unknown scope {scope!r}; use {SCOPE_HELP}")


def write_scope_for(job_type: str) -> str:
    """The narrowest scope that lets a key enqueue ``job_type``."""
    return JOBS_WRITE_PREFIX + job_type


def is_admin(scopes: Iterable[str]) -> bool:
    """Whether the scopes allow everything, bulk operator actions included."""
    return ADMIN in scopes


def may_read(scopes: Iterable[str]) -> bool:
    """Whether the scopes allow reading jobs and queues."""
    return any(scope in (ADMIN, JOBS_READ) for scope in scopes)


def may_write(scopes: Iterable[str], job_type: str) -> bool:
    """Whether the scopes allow enqueueing ``job_type`` (an empty glob grants nothing)."""
    for scope in scopes:
        if scope in (ADMIN, JOBS_WRITE):
            return True
        pattern = scope.removeprefix(JOBS_WRITE_PREFIX)
        if scope.startswith(JOBS_WRITE_PREFIX) and pattern and fnmatchcase(job_type, pattern):
            return True
    return False


def may_write_some(scopes: Iterable[str]) -> bool:
    """Whether the scopes allow enqueueing at least some job type."""
    return any(
        scope in (ADMIN, JOBS_WRITE) or scope.startswith(JOBS_WRITE_PREFIX) for scope in scopes
    )
