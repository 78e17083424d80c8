"""The audit trail: who did what to which record, newest first. Needs `admin`; read-only
(rows are written by the changes themselves and removed only by retention)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field

from api.auth import AdminKey
from api.listing import Cursor, Limit, Position, listed
from api.resources import Page, RecordOut
from api.schemas import error_responses
from workers.store import audit
from workers.store.models import AuditEntry
from workers.timestamps import Rfc3339

router = APIRouter(prefix="/v1/audit", tags=["audit"])

_Text = Annotated[str | None, Query(max_length=200)]


class AuditEntryOut(RecordOut):
    """One administrative action."""

    id: uuid.UUID
    actor: str = Field(description="The API key's name, or `user@host` for the CLI.")
    action: str = Field(description="What was done, in the log vocabulary: `schedule.paused`.")
    target_kind: str = Field(description="What it was done to: `schedule`, `key`, `job`, ...")
    target_id: str | None
    target_name: str | None
    before: dict[str, Any] | None = Field(description="The changed fields before (no secrets).")
    after: dict[str, Any] | None = Field(description="The changed fields after (no secrets).")
    correlation_id: str | None
    created_at: datetime


class AuditPage(Page[AuditEntryOut]):
    """A page of the audit trail, newest first."""


@router.get("", summary="Read the audit trail", responses=error_responses(401, 403, 422, 503))
def list_audit(
    key: AdminKey,
    actor: _Text = None,
    action: _Text = None,
    target_kind: _Text = None,
    since: Annotated[Rfc3339 | None, Query(description="At or after this time (RFC 3339).")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> AuditPage:
    """Administrative actions matching the filters, newest first. Needs `admin`."""

    def fetch(before: Position | None, count: int) -> list[AuditEntry]:
        return audit.entries(count, before, since, actor=actor, action=action,
                             target_kind=target_kind)  # fmt: skip

    return listed(AuditPage, AuditEntryOut.from_record, fetch, cursor, limit)
