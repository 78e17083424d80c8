"""The audit trail: one row per administrative action, written by the store function that
makes the change, in its transaction, so a change that fails leaves no row and a row never
describes a change that did not happen.

Who acted comes from :data:`actor`, set once per request by the API (the key's name,
``api/auth.py``); a process that sets none (the CLI, a script) acts as ``user@host``. The
correlation id is the request's (:mod:`workers.observability.context`). The job hot path
(enqueue, execution) writes no audit rows: only operators' actions do. A change kept outside
the store (a queue's pause, in Redis) writes its row with :func:`write`.
"""

from __future__ import annotations

import getpass
import socket
import uuid
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from workers.observability import context
from workers.store import lookup  # lookup imports this module: use it by attribute
from workers.store.engine import session_scope
from workers.store.models import AuditEntry

#: The name the current request acts under (an API key's name); ``None``: this process's user.
actor: ContextVar[str | None] = ContextVar("audit_actor", default=None)
#: Columns no summary shows: bookkeeping every row has, not what an operator changed.
_BOOKKEEPING = frozenset({"id", "created_at", "updated_at"})


@dataclass(frozen=True)
class Target:
    """What an action was done to: a kind (``schedule``, ``key``, ``job``, ...) and its id
    and/or name."""

    kind: str
    id: uuid.UUID | str | None = None
    name: str | None = None


@cache
def os_actor() -> str:
    """``user@host``: who acts when no API key does."""
    return f"{getpass.getuser()}@{socket.gethostname()}"


def current_actor() -> str:
    """Who is acting: the request's key name, else :func:`os_actor`."""
    return actor.get() or os_actor()


def summary(row: Any) -> dict[str, Any]:
    """``row``'s columns, without bookkeeping and without any column marked
    :data:`~workers.store.models.SECRET` (a row whose columns say too much, like a job's
    payload, is summarised by its caller instead)."""
    columns = row.__table__.columns
    return {
        c.key: getattr(row, c.key)
        for c in columns
        if c.key not in _BOOKKEEPING and not c.info.get("secret")
    }


def _jsonable(fields: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if fields is None:
        return None
    jsonable: dict[str, Any] = to_jsonable_python(dict(fields))
    return jsonable


def _changed(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    if before is None or after is None:
        return before, after
    keys = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    return {k: v for k, v in before.items() if k in keys}, {
        k: v for k, v in after.items() if k in keys
    }


def record(
    session: Session,
    action: str,
    target: Target,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add one audit row to ``session`` (the change's own transaction): ``action`` in the log
    vocabulary (``schedule.created``, ``key.revoked``) on ``target``, with summaries of it
    ``before`` and ``after`` (JSON-ready values; never a secret). When both are given only the
    fields that differ are kept."""
    kept_before, kept_after = _changed(_jsonable(before), _jsonable(after))
    entry = AuditEntry(
        actor=current_actor()[:200],
        action=action,
        target_kind=target.kind,
        target_id=None if target.id is None else str(target.id),
        target_name=target.name,
        before=kept_before,
        after=kept_after,
        correlation_id=context.correlation_id.get(),
    )
    session.add(entry)
    return entry


def write(
    action: str,
    target: Target,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """One audit row in a transaction of its own, for an administrative change that is not
    made in the store (a queue's pause lives in Redis): call it once the change took effect,
    and only when it changed something, e.g.
    ``write("queue.paused", Target("queue", name="bulk"), {"paused": False}, {"paused": True})``.
    A change made in the store calls :func:`record` in its own transaction instead."""
    with session_scope() as session:
        record(session, action, target, before, after)


def entries(
    limit: int,
    before: tuple[datetime, uuid.UUID] | None = None,
    since: datetime | None = None,
    **equal: str | None,
) -> list[AuditEntry]:
    """Up to ``limit`` rows after the position ``before``, newest first: those at or after
    ``since`` whose columns named in ``equal`` (``actor``, ``action``, ``target_kind``) hold
    the values given (``None``: any)."""
    query: Select[tuple[AuditEntry]] = select(AuditEntry)
    for name, value in equal.items():
        if value is not None:
            query = query.where(getattr(AuditEntry, name) == value)
    if since is not None:
        query = query.where(AuditEntry.created_at >= since)
    return lookup.newest_page(query, AuditEntry.created_at, AuditEntry.id, before, limit)  # type: ignore[arg-type]
